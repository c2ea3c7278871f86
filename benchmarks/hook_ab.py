"""What the commit hook adds, for two installs of aiguard side by side on one ledger and change.

On a shared machine two separate hook_latency.py runs minutes apart are not comparable
(the load moves). This script takes one kept hook_latency.py folder (`--keep`: its ledger
and its staged 1,000-line change.py) and two Pythons with aiguard installed (say one
built with the C accelerator and one without, or two versions), installs each one's hooks
in its own copy of the repository, and then commits in rounds: no hooks, install A,
install B, in a rotating order, `--runs` times, each commit reset with `git reset --soft`.
Medians and quartiles of the time added to `git commit -q -m` are printed, beside
`python -c pass` (install A's Python) measured in the same rounds, with and without each install's hook
server (`aiguard hook-server`, as the daemon runs it). Each install has its own copy of
the ledger folder (a hook server serves the hooks of its AIGUARD_HOME). Besides wall time,
the CPU time of the commit and its hooks (user + system of the reaped child processes) is
reported: other load on the machine moves it much less. A served commit's matching runs
in the server's child, which this CPU time does not see.

    python benchmarks/hook_ab.py KEPT_DIR PYTHON_A PYTHON_B [--runs 21] [--size 99800] [--flow plain|redo]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hook_latency import bench_env, run, timed  # noqa: E402


# Either layout (aiguard.core.fingerprint since the packages, aiguard.fingerprint before), so an
# older install can be install A.
_ACCELERATED = """
try:
    import aiguard.core.fingerprint as F
except ImportError:
    import aiguard.fingerprint as F
print(getattr(F, 'ACCELERATED', False))
"""


def quartiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=4)
    return f"{statistics.median(samples):.1f} ({q[0]:.1f}–{q[2]:.1f})"


def start_server(python: str, env: dict, home: Path) -> subprocess.Popen:
    sock = home / "hook.sock"
    server = subprocess.Popen([python, "-m", "aiguard", "hook-server"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.05)
    if not sock.exists():
        server.terminate()
        raise SystemExit(f"{python}: the hook server did not start")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kept", help="a folder hook_latency.py --keep left")
    parser.add_argument("python_a")
    parser.add_argument("python_b")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--size", default="99800", help="which kept ledger (home-SIZE)")
    parser.add_argument("--flow", choices=("plain", "redo"), default="plain",
                        help="plain: every commit is a new one (the reflog of the rounds before is expired after "
                             "each reset); redo: each commit remakes one that `git reset --soft` undid, whose line "
                             "record the hook carries (the reflog keeps the resets)")
    args = parser.parse_args()
    kept = Path(args.kept).resolve()
    home = kept / f"home-{args.size}"
    env = bench_env(kept, home)
    pythons = {"A": args.python_a, "B": args.python_b}
    repos = {"plain": kept / "repo-plain"}
    homes = {"plain": home}
    for name, python in pythons.items():
        repo, homes[name] = kept / f"repo-ab-{name}", kept / f"home-ab-{name}"
        for path, source in ((repo, kept / "repo-plain"), (homes[name], home)):
            if path.exists():
                shutil.rmtree(path)
            shutil.copytree(source, path)
        aiguard = str(Path(python).parent / "aiguard")
        run([aiguard, "install"], bench_env(kept, homes[name]), cwd=repo)
        repos[name] = repo
    envs = {name: bench_env(kept, path) for name, path in homes.items()}
    parents = {name: run(["git", "rev-parse", "HEAD"], env, cwd=repo).stdout.decode().strip()
               for name, repo in repos.items()}
    accelerated = {name: run([python, "-c", _ACCELERATED],
                             env).stdout.decode().strip() for name, python in pythons.items()}

    def children_cpu_ms() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return 1000 * (usage.ru_utime + usage.ru_stime)

    def rounds() -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        samples: dict[str, list[float]] = {name: [] for name in (*repos, "python -c pass")}
        cpu: dict[str, list[float]] = {name: [] for name in samples}
        order = [*repos, "python -c pass"]
        for i in range(args.runs + 1):  # the first round warms caches and is dropped
            for name in order[i % len(order):] + order[:i % len(order)]:
                before = children_cpu_ms()
                if name == "python -c pass":
                    ms, _ = timed([pythons["A"], "-c", "pass"], env)
                else:
                    ms, _ = timed(["git", "commit", "-q", "-m", f"ab run {i}"], envs[name], cwd=repos[name])
                used = children_cpu_ms() - before
                if name != "python -c pass":
                    run(["git", "reset", "-q", "--soft", parents[name]], envs[name], cwd=repos[name])
                    if args.flow == "plain":
                        run(["git", "reflog", "expire", "--expire=now", "--all"], envs[name], cwd=repos[name])
                if i:
                    samples[name].append(ms)
                    cpu[name].append(used)
        return samples, cpu

    results = {"hooks": rounds()}
    for name, python in pythons.items():
        server = start_server(python, envs[name], homes[name])
        try:
            results[f"hook server {name}"] = rounds()
        finally:
            server.terminate()
            server.wait(timeout=10)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"A = {pythons['A']} (accelerated: {accelerated['A']}), B = {pythons['B']} (accelerated: "
          f"{accelerated['B']}); ledger {home.name}; {args.flow} commits; {args.runs} rounds each; load average at the end "
          f"{' '.join(load)}\n")
    print("| setting | measure | `python -c pass` | `git commit`, no hooks | added by A's hooks | added by B's hooks |")
    print("|---|---|---|---|---|---|")
    for setting, (samples, cpu) in results.items():
        for measure, table in (("wall", samples), ("CPU", cpu)):
            if measure == "CPU" and setting != "hooks":
                continue  # served commits match in the server's child: not ours to count
            plain = statistics.median(table["plain"])
            added = {name: [ms - plain for ms in table[name]] for name in pythons}
            label = setting if setting == "hooks" else f"{setting[-1]}'s hook server running"
            cells = {name: quartiles(added[name]) if setting in ("hooks", f"hook server {name}") else "–"
                     for name in pythons}  # a server serves only its own install's hooks
            print(f"| {label} | {measure} | {quartiles(table['python -c pass'])} | {quartiles(table['plain'])} "
                  f"| {cells['A']} | {cells['B']} |")
    print("\nms, median (p25–p75); 'added' is each commit minus the median commit without hooks.")


if __name__ == "__main__":
    main()
