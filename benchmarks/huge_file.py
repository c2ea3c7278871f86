"""One huge new file of added text through the matcher: time and peak memory (issue 12).

Issue 12 asks for no cut-off below the 64 MiB budget and "a few seconds at most". A change
of many files is matched by one process per core (git/changes._shares); one huge file is
one process's work, and its token lists are what its memory holds. This measures that case.

* "AI" code: `--pastes` functions of networkx (8-60 lines, >= 60 tokens, as large_commit.py
  picks them), recorded with `aiguard record --jsonl` into a temporary AIGUARD_HOME under a
  ledger key derived from `--seed` (so a run repeats), then compacted;
* the file: `.py` modules of the stdlib and of this venv's site-packages (networkx and
  aiguard left out), read in path order and joined until `--mb` MB, again from the first if
  they run out; the pastes go in at module boundaries, seeded. Generated in a temporary
  git repository, staged as one new file, never committed to aiguard;
* measured: `aiguard attribute --json` on the staged change (or, with `--hook`, `git
  commit` through `aiguard install`'s hooks, no hook server), as a child process: wall
  time, and its CPU and peak RSS from os.wait4 (with `--hook`, the largest of git's and
  its hooks'). `--runs` repeats it; the work folder can be kept (`--keep`) and reused
  (`--work`) so that two builds of aiguard are measured on the same bytes;
* `--ranges-out FILE` writes the attributed ranges (path, start, end, tool, model,
  source) as JSON lines, to compare two builds (or AIGUARD_PURE_PYTHON=1) exactly.

    python benchmarks/huge_file.py [--mb 60] [--pastes 100] [--seed 1] [--runs 1] [--hook]
                                   [--python PY] [--work DIR] [--keep] [--ranges-out FILE] [--out FILE]

`--python` runs aiguard with another interpreter (another checkout's venv) on the same work
folder. PYTHONDONTWRITEBYTECODE is dropped from the child's environment, as in the other
benchmarks: an installed package has its `.pyc` files.
"""

from __future__ import annotations

import argparse
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

import large_commit  # noqa: E402  (functions(), SEEDED_KEYS)

FILE = "huge/generated.py"


def human_modules() -> list[Path]:
    """The stdlib's and site-packages' .py files in path order, networkx and aiguard left out."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = set(path.relative_to(root).parts)
            if parts & {"site-packages", "networkx", "aiguard", "test", "tests"}:
                continue
            found.append(path)
    return found


def build_text(mb: float, pastes: list[str], rng: random.Random) -> tuple[str, int]:
    """The huge file's text and the number of modules in it."""
    target = int(mb * 1_000_000)
    modules: list[str] = []
    size = 0
    sources = human_modules()
    while size < target:
        for path in sources:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if "\0" in text or not text.strip():
                continue
            if not text.endswith("\n"):
                text += "\n"
            modules.append(text)
            size += len(text)
            if size >= target:
                break
    # Each paste before a seeded module, with a blank line either side.
    where = sorted(rng.sample(range(1, len(modules)), len(pastes)))
    pieces: list[str] = []
    previous = 0
    for at, paste in zip(where, pastes):
        pieces.extend(modules[previous:at])
        pieces.append("\n" + (paste if paste.endswith("\n") else paste + "\n") + "\n")
        previous = at
    pieces.extend(modules[previous:])
    return "".join(pieces), len(modules)


def bench_env(work: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GIT_", "AIGUARD_")) and name != "PYTHONDONTWRITEBYTECODE"}
    env.update({"HOME": str(work / "home"), "AIGUARD_HOME": str(work / "aiguard"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": str(work / "gitconfig"), "AIGUARD_NO_HOOK_SERVER": "1",
                "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
                "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"})
    for name in ("AIGUARD_PURE_PYTHON", "AIGUARD_PROCESSES"):  # passed on when set for the run
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def prepare(work: Path, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    pastes = large_commit.functions("networkx", rng, args.pastes)
    text, modules = build_text(args.mb, pastes, rng)
    env = bench_env(work)
    (work / "home").mkdir(parents=True)
    (work / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    repo = work / "repo"
    repo.mkdir()
    aiguard = [args.python, "-m", "aiguard"]
    large_commit.run(["git", "init", "-q"], repo, env)
    (repo / "README").write_text("base\n")
    large_commit.run(["git", "add", "-A"], repo, env)
    large_commit.run(["git", "commit", "-q", "-m", "base"], repo, env)
    large_commit.run([args.python, "-c", large_commit.SEEDED_KEYS, str(args.seed)], repo, env)
    jsonl = "".join(json.dumps({"tool": "claude-code", "model": "m", "text": p}) + "\n" for p in pastes)
    (work / "records.jsonl").write_text(jsonl)
    large_commit.run([*aiguard, "record", "--jsonl", str(work / "records.jsonl")], repo, env)
    large_commit.run([*aiguard, "ledger", "compact"], repo, env)
    (repo / FILE).parent.mkdir(parents=True)
    (repo / FILE).write_text(text, encoding="utf-8")
    large_commit.run(["git", "add", "-A"], repo, env)
    (work / "built.json").write_text(json.dumps({
        "mb": args.mb, "pastes": len(pastes), "seed": args.seed, "bytes": len(text.encode("utf-8")),
        "lines": text.count("\n"), "modules": modules}))


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[dict, bytes]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a child, and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{cmd} failed ({child.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "user_s": round(usage.ru_utime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}, stdout


def ranges_of(files: list[dict]) -> list[dict]:
    return [{"path": f["path"], **r} for f in files for r in f["ranges"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=60.0, help="size of the added file in MB (10**6 bytes)")
    parser.add_argument("--pastes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hook", action="store_true", help="time `git commit` through the hooks, not `attribute`")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs aiguard")
    parser.add_argument("--work", help="a work folder: built there when missing, reused when present")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--ranges-out", help="write the attributed ranges here (JSON lines)")
    parser.add_argument("--out", default=str(HERE / "results" / "huge_file.json"))
    args = parser.parse_args()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="aiguard-huge-"))
    if not (work / "built.json").exists():
        started = time.perf_counter()
        prepare(work, args)
        print(f"built {work} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    built = json.loads((work / "built.json").read_text())
    env = bench_env(work)
    repo = work / "repo"
    aiguard = [args.python, "-m", "aiguard"]
    if args.hook:
        large_commit.run([*aiguard, "install"], repo, env)
    runs = []
    ranges: list[dict] = []
    for _ in range(args.runs):
        if args.hook:
            numbers, _out = measure(["git", "commit", "-q", "-m", "huge"], repo, env)
            try:
                entry = json.loads(large_commit.run([*aiguard, "log", "--json", "-n", "1"], repo, env).stdout)[0]
            finally:  # the change staged again for the next run, as a plain (not a redo) commit
                large_commit.run(["git", "reset", "-q", "--soft", "HEAD~1"], repo, env)
                large_commit.run(["git", "reflog", "expire", "--expire=now", "--all"], repo, env)
            files, ai = entry["files"], entry["ai_lines"]
        else:
            numbers, out = measure([*aiguard, "attribute", "--json"], repo, env)
            result = json.loads(out)
            files, ai = result["files"], result["ai"]
        numbers["ai_lines"] = ai
        runs.append(numbers)
        ranges = ranges_of(files)
        print(json.dumps(numbers), file=sys.stderr)
    if args.hook:
        large_commit.run([*aiguard, "uninstall"], repo, env)
    if args.ranges_out:
        Path(args.ranges_out).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in ranges))
    result = {"args": vars(args), "built": built, "runs": runs, "ranges": len(ranges),
              "load": os.getloadavg(), "python": args.python,
              "aiguard_commit": subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                                               capture_output=True, text=True).stdout.strip()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("built", "runs", "ranges", "load")}, indent=2))
    if not args.work and not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    elif not args.work:
        print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
