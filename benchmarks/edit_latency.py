"""A one-line edit in a 1 KB file against the same edit in a 1 MB file (issue 12, point 1).

Ledger: a real one (SQLite and the index file, in a temporary AIGUARD_HOME with the
null keyring), `--snippets` functions of the benchmark corpus recorded with
Ledger.add and compacted, as the idle daemon leaves it.

Files: real stdlib code. The 1 KB file is the start of textwrap.py; the 1 MB file is
stdlib modules one after another. In each, one line of code is added at the start,
in the middle and at the end (three cases), and so that the file holds matches too,
a recorded function is pasted in its middle (not added: it is context).

Timed: `attribution.attribute_text` for that one added line, with a fresh Hasher
each run as in a commit hook, against the open ledger (warmed by one run), hunk-scoped
(the default) and with `whole_file=True` (what it did before). Median of `--runs`.
Both give the same lines; the script checks it.

    python benchmarks/edit_latency.py [--snippets 10000] [--runs 21] [--out benchmarks/results/edit_latency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ["argparse.py", "inspect.py", "typing.py", "tarfile.py", "pydoc.py", "doctest.py", "_pyio.py",
           "difflib.py", "textwrap.py", "ast.py", "shlex.py", "string.py", "subprocess.py", "zipfile.py"]
EDIT = "    result = compute_the_thing(arguments, *rest, flag=True)\n"


def files(paste: str) -> dict[str, str]:
    small = (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    cut = small.index("\n", 1000) + 1  # whole lines, about 1 KB
    small = small[:cut]
    big = ""
    while len(big) < 1_000_000:
        for name in MODULES:
            big += (STDLIB / name).read_text(encoding="utf-8")
    big = big[:big.index("\n", 1_000_000) + 1]
    out = {}
    for label, text in (("1 KB", small), ("1 MB", big)):
        lines = text.splitlines(keepends=True)
        middle = len(lines) // 2
        out[label] = "".join(lines[:middle] + [paste] + lines[middle:])
    return out


def edited(text: str, where: str) -> tuple[str, int]:
    """The text with EDIT added at the start, middle or end; the added line (1-based)."""
    lines = text.splitlines(keepends=True)
    at = {"start": 0, "middle": len(lines) // 3, "end": len(lines)}[where]
    return "".join(lines[:at] + [EDIT] + lines[at:]), at + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=int, default=10000, help="ledger records")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", default=str(HERE / "results" / "edit_latency.json"))
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="aiguard-edit-latency-")
    os.environ["AIGUARD_HOME"] = home
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    import corpus as corpus_mod
    from aiguard.store import keys
    from aiguard.core.attribution import attribute_text
    from aiguard.core.fingerprint import Hasher
    from aiguard.store.ledger import Entry, Ledger

    corpus = corpus_mod.build(1, 2000, stdlib_only=True)
    snippets = corpus.ai[:args.snippets]
    keyset = keys.load(create=True)
    started = time.perf_counter()
    with Ledger.open() as ledger:
        ledger.add((Entry("bench", "model", s.text, "manual", "snippet.py") for s in snippets),
                   Hasher(keyset.ledger_key), keyset.ledger_key, keyset.ledger_id)
        ledger.compact()
    print(f"ledger: {len(snippets)} records in {time.perf_counter() - started:.1f} s ({home})", file=sys.stderr)
    paste = next(s.text for s in snippets if 15 <= s.lines <= 30)

    results = {"snippets": len(snippets), "runs": args.runs, "cases": []}
    ledger = Ledger.open_readonly()
    for label, text in files(paste).items():
        for where in ("start", "middle", "end"):
            case, line = edited(text, where)
            row = {"file": label, "bytes": len(case.encode()), "lines": case.count("\n"), "edit": where}
            outputs = {}
            for mode, whole in (("hunk", False), ("whole_file", True)):
                times = []
                for _ in range(args.runs + 1):
                    hasher = Hasher(keyset.ledger_key)
                    t = time.perf_counter()
                    outputs[mode] = attribute_text(case, [line], hasher, ledger.lookup, ledger.record_tokens,
                                                   "edit.py", whole_file=whole)
                    times.append(time.perf_counter() - t)
                row[f"{mode}_ms"] = round(1000 * statistics.median(times[1:]), 2)
            if outputs["hunk"] != outputs["whole_file"]:
                raise SystemExit(f"{label} {where}: hunk-scoped and whole-file results differ")
            row["attributed"] = len(outputs["hunk"])
            results["cases"].append(row)
            print(f"{label:5} {where:6} {row['lines']:6} lines: hunk {row['hunk_ms']:7.2f} ms, "
                  f"whole file {row['whole_file_ms']:8.2f} ms", flush=True)
    ledger.close()
    shutil.rmtree(home, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results["aiguard_commit"] = os.popen(f"git -C {HERE.parent} rev-parse --short HEAD 2>/dev/null").read().strip()
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
