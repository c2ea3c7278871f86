"""How fast `aiguard log` and `aiguard export` read a long history, beside raw `git log`.

Reuses verify_throughput.py's deterministic repository (git fast-import, N commits,
half of them carrying an aiguard trailer group), and adds a line-record note under
refs/notes/aiguard to every 10th commit (also through fast-import), so the bulk
notes read does real work. Then, over all of HEAD, median of --runs:

* `git log --format=%H%x00%B` (messages only) and `git log --numstat` (what log reads);
* the CLI: `aiguard log --json`, `aiguard export --format jsonl`,
  `aiguard export --format agent-trace`, `aiguard stats --json` (peak RSS too).

The ledger fallback is off (`--no-ledger`): there is no ledger in the benchmark home.

    python benchmarks/log_throughput.py [--commits 100000] [--runs 3] [--keep DIR]
                                        [--out benchmarks/results/log_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from verify_throughput import (  # noqa: E402
    AIGUARD, bench_env, built_repo, log, machine, summarise, timed_run, write_results,
)

NOTE_EVERY = 10


def add_notes(repo: Path, env: dict) -> int:
    shas = subprocess.run(["git", "rev-list", "HEAD"], cwd=repo, env=env, capture_output=True,
                          check=True).stdout.decode().split()
    chosen = shas[::NOTE_EVERY]
    stream = [b"commit refs/notes/aiguard\ncommitter Bench <bench@example.org> 0 +0000\ndata 5\nnotes\n"]
    for i, sha in enumerate(chosen):
        note = json.dumps({"aiguard": 1, "added": 40, "ai": 12,
                           "by": [{"tool": "claude-code", "model": "claude-sonnet-4-5-20250929", "source": "assistant-hook"}],
                           "files": [{"path": f"src/module_{i % 50}.py", "ranges": [[3, 8, 0], [20, 25, 0]]}]},
                          separators=(",", ":")).encode() + b"\n"
        stream.append(b"N inline %s\ndata %d\n%s\n" % (sha.encode(), len(note), note))
    stream.append(b"done\n")
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=env, input=b"".join(stream), check=True)
    return len(chosen)


def measure(repo: Path, env: dict, commits: int, runs: int) -> dict:
    commands = {
        "git log --format=%H%x00%B": ["git", "log", "--format=%H%x00%B", "HEAD"],
        "git log --numstat (what log reads)": ["git", "log", "-z", "--numstat", "--no-renames", "--text",
                                               "--format=%H%x00%P%x00%an <%ae>%x00%aI%x00%cn <%ce>%x00%B%x00", "HEAD"],
        "aiguard log --json": [AIGUARD, "log", "--json", "--no-ledger"],
        "aiguard export --format jsonl": [AIGUARD, "export", "--format", "jsonl", "--no-ledger"],
        "aiguard export --format agent-trace": [AIGUARD, "export", "--format", "agent-trace", "--no-ledger"],
        "aiguard stats --json": [AIGUARD, "stats", "--json", "--no-ledger"],
    }
    out = {}
    for name, args in commands.items():
        samples, size, rss = [], 0, 0
        for _ in range(runs):
            elapsed, size, rss = timed_run(args, env, repo)
            samples.append(elapsed)
        out[name] = {**summarise(samples, commits), "output_mb": round(size / 1e6, 1), "peak_rss_mib": round(rss / 1024)}
        log(f"{name}: {out[name]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "log_throughput.json"))
    parser.add_argument("--keep", metavar="DIR", default=None, help="build (or reuse) the repository in DIR")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "commits": args.commits, "runs": args.runs}
    tmp = Path(tempfile.mkdtemp(prefix="aiguard-log-bench-"))
    try:
        env = bench_env(tmp)
        repo = Path(args.keep).resolve() if args.keep else tmp / "repo"
        results["build"] = built_repo(repo, args.commits, args.files, env)
        if subprocess.run(["git", "show-ref", "-q", "--verify", "refs/notes/aiguard"], cwd=repo, env=env).returncode:
            results["notes"] = add_notes(repo, env)
        started = time.perf_counter()
        results["timings"] = measure(repo, env, args.commits + 1, args.runs)  # + the root commit
        results["measure_seconds"] = round(time.perf_counter() - started, 1)
        results["machine"]["loadavg_end"] = open("/proc/loadavg").read().strip()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
