"""The commit hook's imports, for two installs of aiguard side by side.

Runs `python -S -X importtime -c "import <the hook's modules>"` (and the same without
-X importtime) for two Pythons with aiguard installed (not editable: an editable install's
finder lives in site, which -S leaves out), alternating A and B `--runs` times, with each
one's site-packages on PYTHONPATH and PYTHONDONTWRITEBYTECODE removed (warm .pyc files).
Prints, per install: the sum of -X importtime's self times (median and min), the process's
wall time (median, min) and CPU time (user + system, median) without -X importtime, the
number of modules, and the cumulative time of a few modules. On a loaded machine the
minimums and the CPU time move least.

    python benchmarks/hook_imports_ab.py PYTHON_A PYTHON_B [--runs 61]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

# What a stamping commit's prepare-commit-msg imports (tests/hook/test_hook_imports.py).
HOOK_MODULES = ("aiguard.main", "aiguard.hook.run", "aiguard.hook.stamp", "aiguard.git.objects", "aiguard.git.carry",
                "aiguard.core.names", "aiguard.core.stamp_format", "aiguard.git.changes", "aiguard.store.keys",
                "aiguard.store.ledger", "aiguard.store.session")
SHOWN = ("collections", "functools", "_sqlite3", "sqlite3", "datetime", "aiguard.core.tuples", "aiguard.store.fpindex",
         "aiguard.store.ledger")


def _env(python: str) -> dict[str, str]:
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, PYTHONPATH=purelib)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _one(python: str, env: dict[str, str], importtime: bool) -> tuple[float, float, dict[str, tuple[int, int]]]:
    """(wall ms, CPU ms, {module: (self us, cumulative us)}) of one interpreter."""
    args = [python, "-S", *(["-X", "importtime"] if importtime else []), "-c", "import " + ", ".join(HOOK_MODULES)]
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    if status != 0:
        raise SystemExit(f"{python}: the import failed:\n{err}")
    modules = {}
    for line in err.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, cumulative, name = line[len("import time:"):].split("|")
            modules[name.strip()] = (int(own), int(cumulative))
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("python_a")
    parser.add_argument("python_b")
    parser.add_argument("--runs", type=int, default=61)
    args = parser.parse_args()
    pythons = (args.python_a, args.python_b)
    envs = {python: _env(python) for python in pythons}
    for python in pythons:  # warm the .pyc files and the page cache
        _one(python, envs[python], True)
        _one(python, envs[python], False)
    traced: dict[str, list[dict[str, tuple[int, int]]]] = {python: [] for python in pythons}
    plain: dict[str, list[tuple[float, float]]] = {python: [] for python in pythons}
    for _ in range(args.runs):
        for python in pythons:
            traced[python].append(_one(python, envs[python], True)[2])
            wall, cpu, _ = _one(python, envs[python], False)
            plain[python].append((wall, cpu))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.runs} runs each")
    for label, python in zip("AB", pythons):
        sums = [sum(own for own, _ in modules.values()) / 1000 for modules in traced[python]]
        walls, cpus = [w for w, _ in plain[python]], [c for _, c in plain[python]]
        print(f"{label} = {python}: importtime self-sum median {statistics.median(sums):.2f} (min {min(sums):.2f}) ms;"
              f" process wall median {statistics.median(walls):.2f} (min {min(walls):.2f}) ms,"
              f" CPU median {statistics.median(cpus):.2f} ms; {len(traced[python][0])} modules")
        for name in SHOWN:
            values = [modules[name][1] / 1000 for modules in traced[python] if name in modules]
            if values:
                print(f"    {name}: cumulative median {statistics.median(values):.3f} ms")


if __name__ == "__main__":
    main()
