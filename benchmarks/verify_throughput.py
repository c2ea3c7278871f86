"""How fast `aiguard verify` reads a long commit range, beside the git commands under it.

Builds a deterministic repository with `git fast-import`: a root commit holding
--files small files, then N commits (default 100,000), each touching 1-3 files
(a few lines replaced or inserted, now and then a new file), with realistic
subjects and bodies from a fixed seed. Every other commit carries an
aiguard-looking trailer group copied from one fixed commit (Assisted-by,
AI-Lines, AIGuard-Stamp), so trailer parsing and binding checks do real work
(and find every copied stamp invalid); the rest have no stamp (missing-stamp).

Then it times, over `<root>..HEAD` (exactly N commits), median of --runs:

* `git log --format=%H%x00%B` (messages only, the floor for any trailer check);
* `git log -p` with verify's own format and aiguard.git.patches.DIFF_FLAGS (what verify reads);
* in-process: `iter_commits` alone (git log -p plus parsing), and
  `aiguard.audit.verify.verify` + the JSON report (no interpreter start);
* the CLI: `aiguard verify <root>..HEAD --format json` (its peak RSS too).

AIGUARD_KEY is set to a fixed key so the MAC path runs as in CI. Everything runs
with HOME, AIGUARD_HOME and GIT_CONFIG_GLOBAL in a temporary folder.

    python benchmarks/verify_throughput.py [--commits 100000] [--runs 3]
                                           [--out benchmarks/results/verify_throughput.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
AIGUARD = str(Path(PY).parent / "aiguard") if (Path(PY).parent / "aiguard").exists() else (shutil.which("aiguard") or "aiguard")
KEY = "aiguard-key-v1:" + "5a" * 32
SEED = 20261126

# A trailer group as the hook writes it, copied from one commit onto every other commit.
COPIED_GROUP = (
    "Assisted-by: claude-code:claude-sonnet-4-5-20250929\n"
    "AI-Lines: 12/40\n"
    "AIGuard-Stamp: v1 3f9a6c21 1 8d2f6a0b7c4e91d35a6f0e2b9c8d7a61 0b1c2d3e4f5a69788796a5b4c3d2e1f0\n"
)
VERBS = ["Fix", "Add", "Refactor", "Update", "Remove", "Rename", "Speed up", "Document", "Simplify", "Handle"]
THINGS = ["retry logic", "config loader", "cache eviction", "date parsing", "error messages", "CLI flags",
          "log rotation", "token refresh", "path handling", "unicode names", "timeouts", "batch size",
          "connection pool", "test fixtures", "schema migration", "rate limiter"]
PLACES = ["in the scheduler", "for empty input", "on Windows", "in the exporter", "when offline",
          "for large files", "in the web handler", "after a restart", "", "", ""]
BODY = ["The old code assumed the list was sorted, which it is not after a merge.",
        "This keeps the behaviour the same for existing callers.",
        "Reported by a user running with a read-only home folder.",
        "Measured about 20% faster on the benchmark set.",
        "No functional change intended.",
        "Follow-up to the review comments on the previous change.",
        "See the design notes for why this is done here and not in the caller."]
AUTHORS = [("Ada Lovelace", "ada@example.org"), ("Grace Hopper", "grace@example.org"),
           ("Linus Pauling", "linus@example.org"), ("Barbara Liskov", "barbara@example.org"),
           ("Ken Thompson", "ken@example.org")]
WORDS = ["alpha", "beta", "gamma", "delta", "count", "total", "index", "value", "limit", "offset", "name", "path"]


def log(text: str) -> None:
    print(text, flush=True)


def bench_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "AIGUARD_", "GITHUB_", "PRE_COMMIT_")) and k != "PYTHONDONTWRITEBYTECODE"}
    home = tmp / "userhome"
    home.mkdir(parents=True, exist_ok=True)
    (tmp / "gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.org\n"
                                   "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    env.update({
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        "AIGUARD_HOME": str(tmp / "aiguard-home"),
        "HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "AIGUARD_KEY": KEY,
    })
    return env


def line(rng: random.Random, n: int) -> str:
    a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
    return f"    {a}_{n} = compute_{b}({c}, {rng.randrange(1000)})\n"


def message(rng: random.Random, i: int, copied: bool) -> str:
    subject = f"{rng.choice(VERBS)} {rng.choice(THINGS)} {rng.choice(PLACES)}".strip()
    parts = [subject]
    if rng.random() < 0.6:
        parts.append(" ".join(rng.sample(BODY, rng.randint(1, 3))))
    if rng.random() < 0.15:
        parts.append(f"Refs: #{rng.randint(100, 9999)}")
    if copied:  # into the final trailer block, as the hook places it
        sep = "\n" if parts[-1].startswith("Refs: ") else "\n\n"
        return "\n\n".join(parts) + sep + COPIED_GROUP
    return "\n\n".join(parts) + "\n"


def data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build(repo: Path, commits: int, files: int, env: dict) -> dict:
    """The repository, via one fast-import stream. Deterministic for a given --commits and --files."""
    rng = random.Random(SEED)
    subprocess.run(["git", "init", "-q", str(repo)], env=env, check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=env,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin
    contents: dict[str, list[str]] = {}
    paths: list[str] = []
    serial = 0

    def new_file() -> str:
        nonlocal serial
        serial += 1
        path = f"src/pkg{serial % 40:02d}/module_{serial:06d}.py"
        contents[path] = [f"def function_{serial}(alpha, beta):\n"] + [line(rng, k) for k in range(rng.randint(12, 30))]
        paths.append(path)
        return path

    ts = 1_700_000_000
    started = time.perf_counter()
    root = [b"commit refs/heads/main\nmark :1\n",
            b"author Bench <bench@example.org> %d +0000\ncommitter Bench <bench@example.org> %d +0000\n" % (ts, ts),
            data(b"Initial import\n")]
    for _ in range(files):
        path = new_file()
        root.append(b"M 100644 inline " + path.encode() + b"\n" + data("".join(contents[path]).encode()))
    out.write(b"".join(root))
    stamped = 0
    for i in range(commits):
        ts += rng.randint(60, 4000)
        name, email = rng.choice(AUTHORS)
        copied = i % 2 == 0
        stamped += copied
        chunks = [b"commit refs/heads/main\n",
                  f"author {name} <{email}> {ts} +0000\ncommitter {name} <{email}> {ts} +0000\n".encode(),
                  data(message(rng, i, copied).encode())]
        touched = set()
        for _ in range(rng.randint(1, 3)):
            path = new_file() if rng.random() < 0.08 else rng.choice(paths)
            if path in touched:
                continue
            touched.add(path)
            body = contents[path]
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(1, len(body) + 1)
                if rng.random() < 0.5 and at < len(body):
                    body[at] = line(rng, at)
                else:
                    body.insert(at, line(rng, at))
            if len(body) > 60:
                del body[1:len(body) - 40]
            chunks.append(b"M 100644 inline " + path.encode() + b"\n" + data("".join(body).encode()))
        out.write(b"".join(chunks))
    out.write(b"done\n")
    out.close()
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed: {err.decode()[-2000:]}")
    elapsed = time.perf_counter() - started
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=repo, env=env, check=True)
    pack = sum(p.stat().st_size for p in (repo / ".git" / "objects").rglob("*") if p.is_file())
    return {"seconds": round(elapsed, 1), "files_in_root": files, "files_at_end": len(paths),
            "commits_with_copied_group": stamped, "objects_bytes": pack}


def timed_run(args: list[str], env: dict, cwd: Path) -> tuple[float, int, int]:
    """Wall seconds, stdout bytes and the child's peak RSS (KiB) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    size = 0
    assert proc.stdout is not None
    while True:
        chunk = proc.stdout.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args} exited {proc.returncode}: {err.decode()[-2000:]}")
    return elapsed, size, usage.ru_maxrss


def summarise(samples: list[float], commits: int) -> dict:
    median = statistics.median(samples)
    return {"median_s": round(median, 3), "min_s": round(min(samples), 3), "max_s": round(max(samples), 3),
            "runs": len(samples), "commits_per_s": round(commits / median)}


def measure(repo: Path, env: dict, commits: int, runs: int) -> dict:
    from aiguard.git import patches, runner
    from aiguard.audit import verify as verifier

    root = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=repo, env=env,
                          capture_output=True, check=True).stdout.decode().split()[0]
    spec = f"{root}..HEAD"
    results: dict = {"range": spec}
    fmt = "--format=%x00%x00aiguard-commit%x00%H%x00%P%x00%an <%ae>%x00%aI%x00%B%x00"
    commands = {
        "git_log_messages": ["git", "log", "--format=%H%x00%B", spec, "--"],
        "git_log_patch": ["git", *runner.GIT[1:], "log", "--no-color", fmt, "-p", "--diff-merges=first-parent",
                          *patches.DIFF_FLAGS, spec, "--"],
        "cli_verify_json": [AIGUARD, "verify", spec, "--format", "json"],
    }
    for name, args in commands.items():
        samples, sizes, rss = [], [], []
        for _ in range(runs):
            seconds, size, peak = timed_run(args, env, repo)
            samples.append(seconds)
            sizes.append(size)
            rss.append(peak)
        results[name] = {**summarise(samples, commits), "stdout_bytes": sizes[-1], "peak_rss_kib": max(rss)}
        log(f"{name:>20}: {results[name]['median_s']:8.2f} s  {results[name]['commits_per_s']:>8,} commits/s  "
            f"(stdout {sizes[-1] / 1e6:.1f} MB, peak RSS {max(rss) / 1024:.0f} MiB)")

    # In-process, in this interpreter, with the benchmark's environment.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        label, rev_args, base = verifier.resolve_range(spec, cwd=str(repo))
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            count = sum(1 for _ in verifier.iter_commits(rev_args, no_merges=False, cwd=str(repo)))
            samples.append(time.perf_counter() - started)
        assert count == commits, count
        results["inprocess_iter_commits"] = summarise(samples, commits)
        log(f"{'inprocess_iter_commits':>20}: {results['inprocess_iter_commits']['median_s']:8.2f} s  "
            f"{results['inprocess_iter_commits']['commits_per_s']:>8,} commits/s")
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            rules = verifier.load_policy(base, cwd=str(repo))
            report = verifier.verify(label, rev_args, rules, cwd=str(repo))
            text = json.dumps(report.to_json(), indent=2)
            samples.append(time.perf_counter() - started)
            del report
        results["inprocess_verify_json"] = {**summarise(samples, commits), "json_bytes": len(text)}
        log(f"{'inprocess_verify_json':>20}: {results['inprocess_verify_json']['median_s']:8.2f} s  "
            f"{results['inprocess_verify_json']['commits_per_s']:>8,} commits/s")
        parsed = json.loads(text)
        rules_seen: dict[str, int] = {}
        for f in parsed["findings"]:
            rules_seen[f["rule"]] = rules_seen.get(f["rule"], 0) + 1
        results["report"] = {"checked": parsed["checked"], "ok": parsed["ok"],
                             "signature": parsed.get("signature"), "findings_by_rule": rules_seen}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return results


def machine() -> dict:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    return {"nproc": os.cpu_count(), "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
            "python": platform.python_version(), "git": sh("git --version"),
            "date": sh("date -u +%Y-%m-%dT%H:%MZ"), "aiguard_commit": sh(f"git -C {HERE.parent} rev-parse --short HEAD"),
            "loadavg_start": open("/proc/loadavg").read().strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000, help="files in the root commit")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "verify_throughput.json"))
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="build (or reuse) the repository in DIR and keep it")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "commits": args.commits, "runs": args.runs}
    tmp = Path(tempfile.mkdtemp(prefix="aiguard-verify-bench-"))
    try:
        env = bench_env(tmp)
        repo = Path(args.keep).resolve() if args.keep else tmp / "repo"
        results["build"] = built_repo(repo, args.commits, args.files, env)
        log(f"build: {results['build']}")
        started = time.perf_counter()
        results["timings"] = measure(repo, env, args.commits, args.runs)
        results["measure_seconds"] = round(time.perf_counter() - started, 1)
        results["machine"]["loadavg_end"] = open("/proc/loadavg").read().strip()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(results, args.out)


def built_repo(repo: Path, commits: int, files: int, env: dict) -> dict:
    """Build the repository in `repo`, or reuse the one an earlier run (--keep) left there
    with the same --commits and --files; returns the build's facts."""
    marker, facts = repo / ".git" / "bench-commits", repo / ".git" / "bench-build.json"
    if marker.exists() and facts.exists() and marker.read_text().strip() == f"{commits} {files}":
        log(f"reusing {repo}")
        return json.loads(facts.read_text())
    if repo.exists():
        shutil.rmtree(repo)
    log(f"building {commits:,} commits with git fast-import in {repo} ...")
    built = build(repo, commits, files, env)
    marker.write_text(f"{commits} {files}\n")
    facts.write_text(json.dumps(built))
    return built


def write_results(results: dict, out: str | Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
