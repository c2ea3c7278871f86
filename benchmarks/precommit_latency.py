"""What a `git commit -q -m` costs with aiguard's direct hooks and through the pre-commit framework.

Setups, each its own repository, committed to in turn (one commit each per round, so
machine noise spreads over all of them):

* `none`: no hooks at all (git's own cost);
* `direct`: `aiguard install` (prepare-commit-msg, commit-msg, post-commit, post-rewrite);
* `framework`: the ids the README lists (aiguard, aiguard-commit-msg, aiguard-post-commit)
  from a snapshot of this working tree used as the hook repository, installed with
  `pre-commit install --hook-type prepare-commit-msg --hook-type commit-msg --hook-type post-commit`;
* `framework@REV` (with --compare-manifest REV): the same three ids with the
  .pre-commit-hooks.yaml of an older revision (e.g. before a change to it);
* `framework-2`: only aiguard and aiguard-commit-msg (no line record), two hook types;
* `noop-3` / `noop-2`: `repo: local` hooks with `entry: "true"` (language system) at the
  same three / two stages: what the framework itself costs, whatever the hook.

Each commit adds one new 3-line file. Reported per setup: median and 90th percentile
wall time of `git commit` and the lines it printed (stdout and stderr) with `-q`.
Everything runs with HOME, AIGUARD_HOME, GIT_CONFIG_GLOBAL and PRE_COMMIT_HOME in a
temporary folder and the null keyring backend; building pre-commit's venv for the hook
repository (needs the package index) happens before timing.

    python benchmarks/precommit_latency.py [--commits 30] [--compare-manifest REV] [--out benchmarks/results/precommit_latency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

NOOP = """  - repo: local
    hooks:
{hooks}"""
NOOP_HOOK = """      - id: noop-{stage}
        name: no-op ({stage})
        entry: "true"
        language: system
        stages: [{stage}]
        always_run: true
        pass_filenames: false
"""
STAGES_3 = ("prepare-commit-msg", "commit-msg", "post-commit")


def bench_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "AIGUARD_", "PRE_COMMIT")) and k != "PYTHONDONTWRITEBYTECODE"}
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
               AIGUARD_HOME=str(home / "aiguard-state"), PRE_COMMIT_HOME=str(tmp / "pre-commit-home"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
               PYTHONPYCACHEPREFIX=str(tmp / "pycache"),  # byte-code as an install has it, out of the tree
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CACHE_HOME=str(home / ".cache"), AIGUARD_NO_HOOK_SERVER="1")
    return env


def run(args, env, cwd=None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return done


def hook_repo(tmp: Path, env, manifest_rev: str | None = None) -> tuple[Path, str]:
    """This working tree (what git would track) committed into a repository of its own;
    with manifest_rev, with .pre-commit-hooks.yaml as it was at that revision."""
    dest = tmp / ("hook-repo" if manifest_rev is None else f"hook-repo-{manifest_rev}")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], env, cwd=ROOT)
    for name in sorted(set(listed.stdout.decode().split("\0")) - {""}):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    if manifest_rev is not None:
        manifest = run(["git", "show", f"{manifest_rev}:.pre-commit-hooks.yaml"], env, cwd=ROOT).stdout
        (dest / ".pre-commit-hooks.yaml").write_bytes(manifest)
    run(["git", "init", "-q"], env, cwd=dest)
    run(["git", "add", "-A"], env, cwd=dest)
    run(["git", "commit", "-q", "--no-verify", "-m", "snapshot"], env, cwd=dest)
    return dest, run(["git", "rev-parse", "HEAD"], env, cwd=dest).stdout.decode().strip()


def aiguard_config(hooks: tuple[Path, str]) -> str:
    path, sha = hooks
    return f"repos:\n  - repo: {path}\n    rev: {sha}\n    hooks:\n      - id: aiguard\n      - id: aiguard-commit-msg\n"


def setups(hooks: tuple[Path, str], compare: dict[str, tuple[Path, str]]) -> dict[str, tuple]:
    """name -> (.pre-commit-config.yaml or None for no framework, hook types to install)."""
    aiguard = aiguard_config(hooks)
    older = {f"framework@{rev}": (aiguard_config(repo) + "      - id: aiguard-post-commit\n", STAGES_3)
             for rev, repo in compare.items()}
    return {
        "none": (None, ()),
        "direct": (None, ()),
        "framework": (aiguard + "      - id: aiguard-post-commit\n", STAGES_3),
        **older,
        "framework-2": (aiguard, STAGES_3[:2]),
        "noop-3": ("repos:\n" + NOOP.format(hooks="".join(NOOP_HOOK.format(stage=s) for s in STAGES_3)), STAGES_3),
        "noop-2": ("repos:\n" + NOOP.format(hooks="".join(NOOP_HOOK.format(stage=s) for s in STAGES_3[:2])),
                   STAGES_3[:2]),
    }


def prepare(tmp: Path, name: str, config: str | None, types: tuple[str, ...], env) -> Path:
    repo = tmp / name
    repo.mkdir()
    run(["git", "init", "-q"], env, cwd=repo)
    if name == "direct":
        run([PY, "-m", "aiguard", "install"], env, cwd=repo)
    if config is not None:
        (repo / ".pre-commit-config.yaml").write_text(config)
        run([PY, "-m", "pre_commit", "install", *(f"--hook-type={t}" for t in types)], env, cwd=repo)
        run([PY, "-m", "pre_commit", "install-hooks"], env, cwd=repo)  # builds the hook venv (untimed)
    (repo / "base.txt").write_text("base\n")
    run(["git", "add", "-A"], env, cwd=repo)
    run(["git", "commit", "-q", "-m", "base"], env, cwd=repo)
    return repo


def commit(repo: Path, n: int, env) -> tuple[float, int]:
    (repo / f"f{n}.txt").write_text(f"line one {n}\nline two\nline three\n")
    run(["git", "add", f"f{n}.txt"], env, cwd=repo)
    started = time.perf_counter()
    done = run(["git", "commit", "-q", "-m", f"Commit {n}"], env, cwd=repo)
    elapsed = time.perf_counter() - started
    return elapsed, len((done.stdout + done.stderr).decode(errors="replace").splitlines())


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    pre_commit = subprocess.run([PY, "-m", "pre_commit", "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "pre_commit": pre_commit,
            "git": git, "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=30, help="timed commits per setup")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compare-manifest", metavar="REV", action="append", default=[],
                        help="also time the three ids with .pre-commit-hooks.yaml as it was at REV")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "precommit_latency.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiguard-precommit-bench-") as name:
        tmp = Path(name)
        env = bench_env(tmp)
        started = time.monotonic()
        plan = setups(hook_repo(tmp, env), {rev: hook_repo(tmp, env, rev) for rev in args.compare_manifest})
        repos = {key: prepare(tmp, key, config, types, env) for key, (config, types) in plan.items()}
        print(f"set up in {time.monotonic() - started:.1f}s (pre-commit's venv included)", file=sys.stderr)
        samples: dict[str, list[float]] = {key: [] for key in repos}
        printed: dict[str, set[int]] = {key: set() for key in repos}
        for n in range(args.warmup + args.commits):
            for key, repo in repos.items():
                elapsed, lines = commit(repo, n, env)
                if n >= args.warmup:
                    samples[key].append(elapsed)
                    printed[key].add(lines)
        results = {"machine": machine(), "commits": args.commits, "setups": {}}
        for key, times in samples.items():
            times.sort()
            results["setups"][key] = {
                "median_ms": round(statistics.median(times) * 1000, 1),
                "p90_ms": round(times[int(0.9 * (len(times) - 1))] * 1000, 1),
                "lines_printed": sorted(printed[key]),
            }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"| setup | median ms | p90 ms | lines printed by `git commit -q` |\n|---|---|---|---|")
    for key, row in results["setups"].items():
        print(f"| {key} | {row['median_ms']} | {row['p90_ms']} | {', '.join(map(str, row['lines_printed']))} |")
    print(json.dumps(results["machine"]))


if __name__ == "__main__":
    main()
