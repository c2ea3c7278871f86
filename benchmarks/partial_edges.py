"""Partial pastes into an existing file: the paste's own first and last lines, and lines typed next to it.

`accuracy.py` puts each paste between human lines in a new file, every line added, so a
paste's first line is never the first line of a hunk. Here the same partial-paste cases
(`accuracy.py`'s corpus, ledger and transforms) land in an existing file: the human
context lines around them are unchanged, and only the paste is added ("paste alone"),
or the paste with one human line typed directly above and one directly below it, in
the same hunk, indented like the paste ("typed lines"). Reported: the share of the
paste's non-blank lines attributed, and how many typed lines were given to the paste.
A rule that claims a hunk's first or last tokens for the chain next to them gains the
first; the second is what it costs (benchmarks/README.md, "Hunk edges").

    python benchmarks/partial_edges.py [--snippets 2000] [--cases 200] [--seed 1] [--out ...]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

KINDS = ("partial10", "partial5")


def _indent(line: str) -> str:
    match = re.match(r"[ \t]*", line)
    return match.group() if match else ""


def measure(setup: accuracy.PySetup, kind: str, typed: bool, seed: int) -> dict:
    human = accuracy.HumanLines(setup.context_files, random.Random(f"ctx-{seed}"))
    ai_total = ai_hit = typed_total = typed_hit = 0
    for _rid, text in setup.cases[kind]:
        assert text is not None
        before, after = human.window(), human.window()
        body = (text if text.endswith("\n") else text + "\n").splitlines(keepends=True)
        first = next(line for line in body if line.strip())
        last = next(line for line in reversed(body) if line.strip())
        top = [_indent(first) + human.single() + "\n"] if typed else []
        bottom = [_indent(last) + human.single() + "\n"] if typed else []
        lines = before + top + body + bottom + after
        start = len(before) + 1  # first added line
        paste = start + len(top)
        added = range(start, paste + len(body) + len(bottom))
        got = setup.index.attribute("".join(lines), added, "case.py")
        ai = accuracy.nonblank(lines, range(paste, paste + len(body)))
        own = accuracy.nonblank(lines, [start] * len(top) + [paste + len(body)] * len(bottom))
        ai_total += len(ai)
        ai_hit += len(ai & got.keys())
        typed_total += len(own)
        typed_hit += len(own & got.keys())
    return {"ai_lines": ai_total, "ai_line_recall": round(ai_hit / ai_total, 4) if ai_total else None,
            "typed_lines": typed_total, "typed_lines_attributed": typed_hit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=int, default=2000, help="ledger records")
    parser.add_argument("--cases", type=int, default=200, help="cases per paste kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "partial_edges.json"))
    args = parser.parse_args()
    setup_args = argparse.Namespace(seed=args.seed, human_functions=6000, snippets=args.snippets, cases=args.cases,
                                    hunks=0, common_code="shipped")
    setup = accuracy.python_setup(setup_args, lambda message: print(message, file=sys.stderr))
    result: dict = {"args": vars(args), "ledger_records": len(setup.index.tokens)}
    for kind in KINDS:
        for typed in (False, True):
            got = measure(setup, kind, typed, args.seed)
            result[f"{kind} {'typed lines' if typed else 'paste alone'}"] = got
            typed_note = f", typed lines attributed {got['typed_lines_attributed']} of {got['typed_lines']}" if typed else ""
            print(f"{kind}, {'typed lines' if typed else 'paste alone'}: AI lines {100 * got['ai_line_recall']:.1f} %"
                  f"{typed_note}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
