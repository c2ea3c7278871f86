"""Recorded functions pasted into large existing files, each committed whole (issue 12).

accuracy.py pastes one function between 6 + 6 human lines; here the human code around
a paste is a whole large file, as when a paste lands in a big module that is then
committed as new (or a vendored file is committed with AI code inside it).

* Ledger: `--snippets` "ai" functions of the corpus (corpus.py), recorded with the
  shipped common-code filter into accuracy.py's in-memory index.
* Hosts: held-out "human" files of `--min-kb` to `--max-kb`, at most `--hosts`.
* Pastes: `--pastes` recorded functions (8-60 lines, >= 60 tokens) per host, verbatim,
  each before a seeded top-level statement of the host. With `--related`, only records
  that share raw k-grams with the host (two or more): the host holds pieces of them
  elsewhere, which is where one chain per record over the whole file lost pastes.
* Each host with its pastes is attributed as a new file (every line added).

Reported: AI-line recall (non-blank pasted lines attributed to any record, and to
the pasted one), and human lines flagged (non-blank host lines attributed), both
overall and on the lines that are not verbatim lines of ledger records ("disjoint":
a host line that occurs stripped in a record is a copy, not a false positive).

    python benchmarks/large_change.py [--snippets 20000] [--hosts 40] [--pastes 5] [--seed 1]
                                      [--min-kb 40] [--max-kb 160] [--stdlib-only] [--related] [--out FILE]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402
import corpus as corpus_mod  # noqa: E402
from aiguard.core.attribution import DF_CAP  # noqa: E402
from aiguard.core.fingerprint import PARAMS, RAW, Hasher, tokenize  # noqa: E402


def sharing(index: accuracy.Index, text: str) -> dict[int, int]:
    """Records with raw k-grams in the text (not common ones), and how many."""
    tokens = tokenize(text, "hash").tokens
    hashes = index.hasher.kgram_hashes(index.hasher.token_digests(tokens, RAW), PARAMS[RAW].k)
    counts: dict[int, int] = {}
    for hits in index.lookup(RAW, list(set(hashes.values()))).values():
        if len({r for r, _ in hits}) <= DF_CAP:
            for r, _ in hits:
                counts[r] = counts.get(r, 0) + 1
    return counts


def hosts(corpus: corpus_mod.Corpus, count: int, min_kb: int, max_kb: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for path in corpus.human_files:
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        if min_kb * 1024 <= size <= max_kb * 1024:
            try:
                text = Path(path).read_text(encoding="utf-8")
                ast.parse(text)
            except (UnicodeDecodeError, SyntaxError, ValueError):
                continue
            out.append((path, text))
    rng.shuffle(out)
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=int, default=20000)
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--pastes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-kb", type=int, default=40)
    parser.add_argument("--max-kb", type=int, default=160)
    parser.add_argument("--human-functions", type=int, default=6000)
    parser.add_argument("--stdlib-only", action="store_true")
    parser.add_argument("--related", action="store_true", help="paste records that share code with the host")
    parser.add_argument("--out", default=str(HERE / "results" / "large_change.json"))
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    corpus = corpus_mod.build(args.seed, args.human_functions, stdlib_only=args.stdlib_only)
    hasher = Hasher(accuracy.KEY)
    index = accuracy.Index(hasher, accuracy.common_hashes("shipped", corpus, hasher, log))
    pasteable = []
    for s in corpus.ai:
        if len(index.tokens) >= args.snippets:
            break
        rid = index.add(s.text, "snippet.py", f"{s.package}:{os.path.basename(s.path)}:{s.line}")
        if rid is not None and 8 <= s.lines <= 60 and accuracy.token_count(s.text) >= 60:
            pasteable.append(rid)
    log(f"ledger: {len(index.tokens)} records, {len(pasteable)} pasteable")
    ledger_lines = {line.strip() for text in index.texts.values() for line in text.splitlines()
                    if line.strip()}

    rng = random.Random(f"large-{args.seed}")
    totals = dict.fromkeys(("ai", "ai_hit", "ai_right", "human", "human_hit", "disjoint", "disjoint_hit"), 0)
    per_host = []
    seconds = 0.0
    for path, host in hosts(corpus, args.hosts, args.min_kb, args.max_kb, rng):
        lines = host.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        starts = sorted({node.lineno - 1 for node in ast.parse(host).body if node.lineno > 1})
        if len(starts) < args.pastes:
            continue  # too few top-level statements to place the pastes
        choices = pasteable
        if args.related:
            shared = sharing(index, host)
            choices = [r for r in pasteable if shared.get(r, 0) >= 2]
            if not choices:
                continue
        count = min(args.pastes, len(choices))
        cuts = sorted(rng.sample(starts, count))
        records = rng.sample(choices, count)
        out: list[str] = []
        ai: dict[int, int] = {}  # line -> pasted record
        previous = 0
        for cut, rid in zip(cuts, records):
            out += lines[previous:cut]
            for piece in index.texts[rid].splitlines(keepends=True):
                out.append(piece)
                if piece.strip():
                    ai[len(out)] = rid
            previous = cut
        out += lines[previous:]
        text = "".join(out)
        t = time.perf_counter()
        got = index.attribute(text, range(1, len(out) + 1), "host.py")
        seconds += time.perf_counter() - t
        human = [n for n in range(1, len(out) + 1) if n not in ai and out[n - 1].strip()]
        disjoint = [n for n in human if out[n - 1].strip() not in ledger_lines]
        row = {"file": path, "lines": len(out), "ai": len(ai), "ai_hit": sum(1 for n in ai if n in got),
               "ai_right": sum(1 for n, r in ai.items() if got.get(n) == r),
               "human": len(human), "human_hit": sum(1 for n in human if n in got),
               "disjoint": len(disjoint), "disjoint_hit": sum(1 for n in disjoint if n in got)}
        row["flagged_sample"] = [(n, out[n - 1].rstrip()[:80]) for n in disjoint if n in got][:5]
        for key in totals:
            totals[key] += row[key]
        per_host.append(row)

    def pct(a: int, b: int) -> float | None:
        return round(100 * a / b, 3) if b else None

    summary = {
        "hosts": len(per_host), "ledger_records": len(index.tokens),
        "ai_line_recall_pct": pct(totals["ai_hit"], totals["ai"]),
        "right_record_pct": pct(totals["ai_right"], totals["ai"]),
        "human_line_fp_pct": pct(totals["human_hit"], totals["human"]),
        "disjoint_human_line_fp_pct": pct(totals["disjoint_hit"], totals["disjoint"]),
        **totals, "ms_per_host": round(1000 * seconds / max(1, len(per_host)), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    result = {"args": vars(args), "summary": summary, "hosts": per_host,
              "aiguard_commit": os.popen(f"git -C {HERE.parent} rev-parse --short HEAD 2>/dev/null").read().strip()}
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
