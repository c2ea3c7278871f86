"""Matching speed in MB/s of added text: the C accelerator against the pure-Python reference.

Matching is `attribution.attribute_text` with every line added (tokenise, hash, look up,
chain, project), a fresh `Hasher` and a freshly opened ledger per file, as in a commit
hook. Inputs: hook_latency.py's 1,000-line `change.py` (FILE), and real code, each file
matched as one added file: the standard library's largest modules up to --mb megabytes
(much of it is in the ledger, which records stdlib functions, so the chain and gap
accounting works hard), and /usr/include's largest C headers up to --mb megabytes (in no
Python ledger: mostly tokenising, hashing and look-ups).
Each mode (accelerated, AIGUARD_PURE_PYTHON=1) runs in its own process, alternating, and
the medians over --rounds are reported, both wall time and CPU time (process_time: less
disturbed by other load on a shared machine). The two modes' attributions are compared.

    python benchmarks/matcher_speed.py HOME FILE [--mb 1.0] [--rounds 5] [--runs 5]
        [--before SRC] [--no-pure] [--no-lines]

--before SRC adds a third mode, "before": the accelerated code of another version, a copy
of its src/ (with the extension built in it) put first on PYTHONPATH, so an optimisation
is measured against the code it replaces in the same run; --no-pure leaves the slow
reference out (its attributions are then compared between the other modes only).
--no-lines adds a mode "no line hashes": the accelerated code without the records' line
hashes (attribute_text's record_lines left out, as for a ledger made before them), to
measure what the line evidence costs (its attributions differ by design; not compared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path


def stdlib_texts(mb: float) -> list[tuple[str, str]]:
    """(name, text) of stdlib modules, largest first, up to mb megabytes in all (each < 1 MiB)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted((p for p in root.glob("*.py") if p.stat().st_size < 1024 * 1024),
                   key=lambda p: (-p.stat().st_size, p.name))
    out, total = [], 0
    for path in files:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        out.append((path.name, text))
        total += len(path.read_bytes())
        if total >= mb * 1e6:
            break
    return out


def c_headers(mb: float) -> list[tuple[str, str]]:
    """(name, text) of /usr/include's headers, largest first, up to mb megabytes: real code
    that no Python ledger holds (few hits: the per-byte costs alone)."""
    files = sorted((p for p in Path("/usr/include").rglob("*.h") if p.is_file() and p.stat().st_size < 1024 * 1024),
                   key=lambda p: (-p.stat().st_size, str(p)))
    out, total = [], 0
    for path in files:
        data = path.read_bytes()
        out.append((str(path), data.decode("utf-8", "surrogateescape")))
        total += len(data)
        if total >= mb * 1e6:
            break
    return out


def child(home: str, file: str, mb: float, runs: int) -> None:
    """One mode's measurement (the mode comes from AIGUARD_PURE_PYTHON): JSON on stdout."""
    os.environ["AIGUARD_HOME"] = home
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    from aiguard.store import keys
    from aiguard.core.attribution import attribute_text
    from aiguard.core.fingerprint import ACCELERATED, Hasher
    from aiguard.store.ledger import Ledger

    key = keys.load(create=False).ledger_key
    no_lines = os.environ.get("AIGUARD_BENCH_NO_LINES") == "1"
    inputs = {"change": [(file, Path(file).read_text(encoding="utf-8"))], "stdlib": stdlib_texts(mb),
              "headers": c_headers(mb)}
    out: dict = {"accelerated": ACCELERATED}
    for name, texts in inputs.items():
        size = sum(len(t.encode("utf-8", "surrogateescape")) for _, t in texts)
        walls, cpus, results = [], [], None
        for _ in range(runs + 1):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            results = []
            for path, text in texts:
                ledger = Ledger.open_readonly()
                added = range(1, text.count("\n") + 2)
                lines = {} if no_lines or not hasattr(ledger, "record_lines") else {"record_lines": ledger.record_lines}
                results.append(sorted(attribute_text(text, added, Hasher(key), ledger.lookup,
                                                     ledger.record_tokens, path, **lines).items()))
                ledger.close()
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
        out[name] = {"bytes": size, "files": len(texts), "wall_s": statistics.median(walls[1:]),
                     "cpu_s": statistics.median(cpus[1:]), "lines": sum(len(r) for r in results),
                     "results": results}
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", help="an AIGUARD_HOME holding a ledger (hook_latency.py --keep)")
    parser.add_argument("file", help="a file to match, every line added (hook_latency.py's change.py)")
    parser.add_argument("--mb", type=float, default=1.0, help="megabytes of stdlib code to match")
    parser.add_argument("--rounds", type=int, default=5, help="processes per mode, alternating")
    parser.add_argument("--runs", type=int, default=5, help="runs per process (the first dropped)")
    parser.add_argument("--before", metavar="SRC", help="a copy of an older src/ to measure as a third mode")
    parser.add_argument("--no-pure", action="store_true", help="leave out the pure-Python mode")
    parser.add_argument("--no-lines", action="store_true", help="add a mode without the records' line hashes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.home, args.file, args.mb, args.runs)
        return
    env = {k: v for k, v in os.environ.items() if k not in ("AIGUARD_PURE_PYTHON", "PYTHONDONTWRITEBYTECODE")}
    modes = {"accelerated": env}
    if args.before:
        modes["before"] = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [args.before, env.get("PYTHONPATH")]))}
    if args.no_lines:
        modes["no line hashes"] = {**env, "AIGUARD_BENCH_NO_LINES": "1"}
    if not args.no_pure:
        modes["pure"] = {**env, "AIGUARD_PURE_PYTHON": "1"}
    compared = [mode for mode in modes if mode != "no line hashes"]
    reference = "pure" if "pure" in modes else compared[-1]
    samples: dict = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode, mode_env in modes.items():
            done = subprocess.run([sys.executable, __file__, args.home, args.file, "--mb", str(args.mb),
                                   "--runs", str(args.runs), "--child"], env=mode_env, capture_output=True,
                                  text=True, check=True)
            samples[mode].append(json.loads(done.stdout))
    if not all(samples[mode][0]["accelerated"] for mode in modes if mode != "pure"):
        raise SystemExit("the accelerator is not built here (or in --before): nothing to compare")
    load = open("/proc/loadavg").read().split()[:3]
    print(f"load average at the end: {' '.join(load)}; {args.rounds} processes per mode, "
          f"{args.runs} runs each (first dropped), medians\n")
    print("| input | mode | MB | wall ms | MB/s (wall) | CPU ms | MB/s (CPU) | lines attributed |")
    print("|---|---|---|---|---|---|---|---|")
    labels = {"change": "change.py (1,000 lines)", "stdlib": "stdlib modules", "headers": "C headers"}
    for name in labels:
        for mode in modes:
            runs = [s[name] for s in samples[mode]]
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            size = runs[0]["bytes"]
            label = labels[name] if name == "change" else f"{labels[name]} ({runs[0]['files']} files)"
            print(f"| {label} | {mode} | {size / 1e6:.3f} | {1000 * wall:.1f} | {size / wall / 1e6:.2f} "
                  f"| {1000 * cpu:.1f} | {size / cpu / 1e6:.2f} | {runs[0]['lines']} |")
        same = all(s[name]["results"] == samples[reference][0][name]["results"] for m in compared for s in samples[m])
        print(f"| {name}: attributions identical in {', '.join(compared)} | {same} | | | | | | |")


if __name__ == "__main__":
    main()
