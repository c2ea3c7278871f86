"""Accuracy and hook time on one large change: pastes into big existing files (issue 12).

What a new user tried: functions recorded from an assistant, pasted (verbatim,
re-indented, reformatted, renamed, in part, interleaved with human lines) into the
existing files of a repository, and committed in one commit together with new human
files. The pastes land in big files whose other lines are unchanged context, so the
matcher's scope (which lines it tokenises) and its per-commit budget both count.

* "AI" code: functions of networkx, "existing repository" and new human files: docutils
  (both pinned by the test extra: the same bytes on every machine);
* a base commit of the `--existing` largest docutils modules; the change inserts
  `--per-kind` pastes of each kind at top-level boundaries of those files and adds
  `--new-files` other docutils modules as new human files;
* recorded with `aiguard record --jsonl`, compacted, and committed with the real hooks
  (`aiguard install`) in a temporary repository and AIGUARD_HOME; no daemon;
* scored from `aiguard log --json` (the line record the hook wrote): per kind, the share of
  the paste's non-blank AI lines attributed; false positives: attributed non-blank human
  lines (the new files, and the human lines of interleaved pastes) over all of them.

    python benchmarks/large_commit.py [--per-kind 50] [--existing 60] [--new-files 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402
import corpus as corpus_mod  # noqa: E402
from aiguard.core.fingerprint import HASH, tokenize  # noqa: E402
import transforms as tf  # noqa: E402

KINDS = ("verbatim", "reindent", "reformat", "rename", "partial10", "interleave")


def functions(package: str, rng: random.Random, count: int) -> list[str]:
    """Distinct functions of 8-60 lines from an installed package, seeded choice."""
    found = []
    for name in sorted(corpus_mod.pinned_files((package,))):
        for path in corpus_mod.pinned_files((package,))[name]:
            found.extend(s.text for s in corpus_mod.extract(path, name) if 8 <= s.lines <= 60)
    seen, unique = set(), []
    for text in found:
        key = " ".join(text.split())
        if key not in seen and len(tokenize(text, HASH).tokens) >= 60:  # as benchmarks/accuracy.py picks
            seen.add(key)
            unique.append(text)
    rng.shuffle(unique)
    return unique[:count]


def human_modules(package: str) -> list[Path]:
    files = [Path(p) for ps in corpus_mod.pinned_files((package,)).values() for p in ps]
    return sorted(files, key=lambda p: (-p.stat().st_size, str(p)))


def transform(kind: str, text: str, rng: random.Random, singles: list[str]) -> tuple[str, set[int]] | None:
    """The pasted text and the 0-based indices of its human (inserted) lines."""
    if kind == "verbatim":
        return text, set()
    if kind == "reindent":
        out = tf.reindent_spaces(text, rng)
    elif kind == "reformat":
        out = tf.reformat(text, rng)
    elif kind == "rename":
        out = tf.rename(text, rng)
    elif kind == "partial10":
        out = tf.partial(10)(text, rng)
    else:  # interleave: a human line after every 3 AI lines, benchmarks/accuracy.py's transform
        return accuracy.interleave(text, _Singles(rng, singles))
    if out is None or (kind != "partial10" and out == text):
        return None
    return out, set()


class _Singles:
    """What accuracy.interleave asks of its human lines: one at a time."""

    def __init__(self, rng: random.Random, lines: list[str]):
        self.rng, self.lines = rng, lines

    def single(self) -> str:
        return self.rng.choice(self.lines).strip()


def top_level_boundaries(lines: list[str]) -> list[int]:
    """0-based line indices where a top-level def/class starts after a blank line (a paste fits there)."""
    text = "".join(lines)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    starts = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            if first > 0 and not lines[first - 1].strip():
                starts.append(first)
    return starts


def run(cmd: list[str], cwd: Path, env: dict, input: bytes | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, input=input, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed: {done.stderr.decode(errors='replace')}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=50)
    parser.add_argument("--existing", type=int, default=60)
    parser.add_argument("--new-files", type=int, default=40)
    parser.add_argument("--stdlib-new", type=int, default=40,
                        help="also add this many of the stdlib's largest modules as new human files "
                             "(the size of the change; they follow the running Python's stdlib)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "large_commit.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)

    ai = functions("networkx", rng, args.per_kind * len(KINDS) * 2)
    modules = human_modules("docutils")
    existing, new = modules[:args.existing], modules[args.existing:args.existing + args.new_files]
    singles = [line for p in new for line in p.read_text(encoding="utf-8").splitlines()
               if line.strip() and len(line.strip()) > 12 and '"""' not in line and "'''" not in line
               and line.count("(") == line.count(")") and not line.rstrip().endswith((":", "\\"))
               and not line.strip().startswith("#")]

    pastes: list[tuple[str, str, str, set[int]]] = []  # kind, recorded text, pasted text, human lines
    pool = iter(ai)
    for kind in KINDS:
        made = 0
        while made < args.per_kind:
            text = next(pool)
            got = transform(kind, text, rng, singles)
            if got is None:
                continue
            pastes.append((kind, text, *got))
            made += 1

    work = Path(tempfile.mkdtemp(prefix="aiguard-large-"))
    env = {**os.environ, "HOME": str(work / "home"), "AIGUARD_HOME": str(work / "aiguard"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "GIT_AUTHOR_NAME": "b",
           "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
           "AIGUARD_NO_HOOK_SERVER": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    (work / "home").mkdir()
    repo = work / "repo"
    repo.mkdir()
    aiguard = [sys.executable, "-m", "aiguard"]
    run(["git", "init", "-q", "-b", "main"], repo, env)
    originals = {}
    for path in existing:
        rel = "pkg/" + str(path.relative_to(corpus_mod.pinned_root("docutils")))
        originals[rel] = path.read_text(encoding="utf-8").splitlines(keepends=True)
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("".join(originals[rel]), encoding="utf-8")
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "base"], repo, env, )
    run([*aiguard, "install"], repo, env)

    jsonl = "".join(json.dumps({"tool": "claude-code", "model": "m", "text": text}) + "\n" for _, text, _, _ in pastes)
    (work / "records.jsonl").write_text(jsonl)
    run([*aiguard, "record", "--jsonl", str(work / "records.jsonl")], repo, env)
    run([*aiguard, "ledger", "compact"], repo, env)

    # Spread the pastes over the existing files, at top-level boundaries, a seeded choice.
    targets = sorted(originals)
    where: dict[str, list[tuple[int, int]]] = {rel: [] for rel in targets}  # rel -> [(line, paste index)]
    for n in range(len(pastes)):
        for _ in range(20):
            rel = rng.choice(targets)
            spots = [s for s in top_level_boundaries(originals[rel]) if s not in {w for w, _ in where[rel]}]
            if spots:
                where[rel].append((rng.choice(spots), n))
                break
    ai_lines: dict[str, dict[int, int]] = {}  # rel -> {new line number: paste index} (non-blank AI lines)
    human_lines: dict[str, set[int]] = {}  # rel -> non-blank human lines added by the change
    for rel, spots in where.items():
        lines = originals[rel]
        out: list[str] = []
        cursor = 0
        ai_lines[rel], human_lines[rel] = {}, set()
        for spot, n in sorted(spots):
            out.extend(lines[cursor:spot])
            cursor = spot
            _kind, _text, pasted, human = pastes[n]
            body = pasted if pasted.endswith("\n") else pasted + "\n"
            for i, line in enumerate(body.splitlines(keepends=True)):
                number = len(out) + 1
                out.append(line)
                if line.strip():
                    (human_lines[rel].add(number) if i in human else ai_lines[rel].__setitem__(number, n))
            out.extend(["\n", "\n"])
        out.extend(lines[cursor:])
        (repo / rel).write_text("".join(out), encoding="utf-8")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    stdlib_files = sorted((p for p in stdlib.glob("*.py") if not p.name.startswith(("_", "test"))),
                          key=lambda p: (-p.stat().st_size, p.name))[:args.stdlib_new]
    for path in [*new, *stdlib_files]:
        base = stdlib if path in stdlib_files else Path(corpus_mod.pinned_root("docutils"))
        rel = "new/" + ("stdlib/" if path in stdlib_files else "") + str(path.relative_to(base))
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8")
        (repo / rel).write_text(text, encoding="utf-8")
        human_lines[rel] = {i + 1 for i, line in enumerate(text.splitlines()) if line.strip()}
    run(["git", "add", "-A"], repo, env)
    added_bytes = sum(len(x) for x in run(["git", "diff", "--cached", "-U0", "--no-color"], repo, env).stdout
                      .split(b"\n") if x.startswith(b"+") and not x.startswith(b"+++"))
    started = time.perf_counter()
    commit = run(["git", "commit", "-q", "-m", "Large change"], repo, env)
    commit_seconds = time.perf_counter() - started
    entry = json.loads(run([*aiguard, "log", "--json", "-n", "1"], repo, env).stdout)[0]
    got = {f["path"]: {n for r in f["ranges"] for n in range(r["start"], r["end"] + 1)} for f in entry["files"]}

    per_kind = {kind: [0, 0] for kind in KINDS}
    per_paste: dict[int, list] = {}
    for rel, owned in ai_lines.items():
        for number, n in owned.items():
            hit = number in got.get(rel, set())
            per_kind[pastes[n][0]][0] += 1
            per_kind[pastes[n][0]][1] += hit
            item = per_paste.setdefault(n, [pastes[n][0], rel, number, 0, 0])
            item[2] = min(item[2], number)
            item[3] += 1
            item[4] += hit
    misses = sorted((item for item in per_paste.values() if item[4] < item[3]), key=lambda i: i[4] / i[3])
    # Human lines: the new files' (a false positive there is one), and apart from them the human
    # lines inside interleaved pastes (gap filling may give those to the paste, by design).
    new_total = sum(len(v) for rel, v in human_lines.items() if rel.startswith("new/"))
    new_hit = sum(len(v & got.get(rel, set())) for rel, v in human_lines.items() if rel.startswith("new/"))
    inside_total = sum(len(v) for rel, v in human_lines.items() if not rel.startswith("new/"))
    inside_hit = sum(len(v & got.get(rel, set())) for rel, v in human_lines.items() if not rel.startswith("new/"))
    result = {
        "args": vars(args), "added_bytes": added_bytes, "commit_seconds": round(commit_seconds, 2),
        "trailers": [line for line in run(["git", "log", "-1", "--format=%(trailers:only,unfold)"], repo, env)
                     .stdout.decode().splitlines() if line],
        "hook_stderr": commit.stderr.decode(errors="replace").strip().splitlines()[:5],
        "recall": {kind: round(hit / total, 4) if total else None for kind, (total, hit) in per_kind.items()},
        "ai_lines": {kind: total for kind, (total, _hit) in per_kind.items()},
        "new_file_human_lines": new_total, "human_fp": round(new_hit / new_total, 5) if new_total else None,
        "interleaved_human_lines": inside_total,
        "interleaved_human_attributed": round(inside_hit / inside_total, 4) if inside_total else None,
        "worst_pastes": [dict(zip(("kind", "path", "first_line", "ai_lines", "found"), m)) for m in misses[:15]],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
