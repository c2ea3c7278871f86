"""What aiguard's commit hook adds to `git commit`, against ledgers of growing size.

For each ledger size N (records of the "ai" corpus set, see corpus.py):

* builds the ledger with `aiguard record --jsonl` (incrementally: the N=10k
  ledger is the 1k one plus 9k more records, each size copied aside), timing it;
* commits the same 1,000-line added-lines change (a new Python file made of
  held-out "human" functions with a few recorded snippets pasted in) from the
  same parent, in a repository with `aiguard install` and in one without hooks,
  alternating, `--runs` times each; between runs `git reset --soft PARENT`
  puts HEAD back while the index keeps the change staged;
* times `python -m aiguard stamp MSGFILE` run directly (prepare-commit-msg
  stage, no git around it) on a 1-line change and on the 1,000-line change,
  `aiguard attribute --staged` (CLI wall time), and the in-process matching
  time of `aiguard.store.session.attribute_change(None)` (interpreter start and
  imports excluded);
* reports the ledger's size on disk.

Baseline: `python -c pass`. Everything runs with AIGUARD_HOME, HOME and
GIT_CONFIG_GLOBAL in a temporary folder and the null keyring backend.

    python benchmarks/hook_latency.py [--sizes 1000,10000,100000] [--runs 15]
                                      [--out benchmarks/results/hook_latency.json]
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus as corpus_mod  # noqa: E402

PY = sys.executable
# The console script next to this interpreter (not a pyenv shim: shims add ~100 ms of bash).
AIGUARD = str(Path(PY).parent / "aiguard") if (Path(PY).parent / "aiguard").exists() else (shutil.which("aiguard") or "aiguard")
DIFF_LINES = 1000
PASTES = 6  # recorded snippets pasted into the 1,000-line change
API_BUILD_THRESHOLD_S = 15 * 60  # predicted CLI build time above which the API is used


def bench_env(tmp: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("GIT_", "AIGUARD_")) or name == "PYTHONDONTWRITEBYTECODE":
            del env[name]
    env.update({
        # Byte-code caches as an installed package has them, kept out of the source tree.
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        "AIGUARD_HOME": str(home),
        "HOME": str(tmp / "userhome"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(tmp / "userhome" / ".config"),
    })
    return env


def run(args, env, cwd=None, input=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=cwd, input=input, capture_output=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return done


def timed(args, env, cwd=None, check=True) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = run(args, env, cwd=cwd, check=check)
    return (time.perf_counter() - started) * 1000, done


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {"median_ms": round(statistics.median(ordered), 1), "p25_ms": round(q[0], 1),
            "p75_ms": round(q[2], 1), "min_ms": round(ordered[0], 1), "runs": len(ordered)}


def ledger_bytes(home: Path) -> int:
    """All of the ledger's files: SQLite (with its WAL) and the fingerprint index file."""
    return sum(p.stat().st_size for p in home.glob("ledger.*"))


def index_bytes(home: Path) -> int:
    path = home / "ledger.fpindex"
    return path.stat().st_size if path.exists() else 0


def recordable(snippets, need: int) -> list:
    """The first `need` snippets the ledger will take (it skips those with no fingerprint)."""
    from aiguard.core.fingerprint import Hasher, fingerprint_text, tokenize

    hasher = Hasher(b"\0" * 32)
    out = []
    for s in snippets:
        count = len(tokenize(s.text, "hash").tokens)
        if count >= 20 or (count >= 12 and fingerprint_text(s.text, hasher, "snippet.py")[0]):
            out.append(s)
            if len(out) == need:
                break
    return out


def make_change(corpus, pasted) -> tuple[str, int]:
    """A 1,000-line Python file: human functions with the pasted snippets spread through it."""
    ai_lines = [s.text.splitlines(keepends=True) for s in pasted]
    budget = DIFF_LINES - sum(len(x) + 1 for x in ai_lines)
    human = []
    used = 0
    for s in corpus.human:
        if not 3 <= s.lines <= 60:
            continue
        chunk = s.text.splitlines(keepends=True) + ["\n"]
        if used + len(chunk) > budget:
            chunk = chunk[:budget - used]
        human.append(chunk)
        used += len(chunk)
        if used >= budget:
            break
    step = max(1, len(human) // (len(ai_lines) + 1))
    blocks = []  # (is_ai, lines)
    for i, chunk in enumerate(human):
        blocks.append((False, chunk))
        if (i + 1) % step == 0 and ai_lines and (i + 1) // step <= len(pasted):
            blocks.append((True, ai_lines.pop(0)))
            blocks.append((False, ["\n"]))
    for rest in ai_lines:
        blocks.append((True, rest))
        blocks.append((False, ["\n"]))
    lines = [(is_ai, line) for is_ai, block in blocks for line in block]
    text = "".join(line for _, line in lines)
    assert text.count("\n") == DIFF_LINES, text.count("\n")
    ai_numbers = {n for n, (is_ai, _line) in enumerate(lines, 1) if is_ai}
    return text, ai_numbers


def init_repo(path: Path, env) -> str:
    path.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main", str(path)], env)
    (path / "README.md").write_text("benchmark repository\n")
    run(["git", "add", "README.md"], env, cwd=path)
    run(["git", "commit", "-q", "-m", "initial"], env, cwd=path)
    return run(["git", "rev-parse", "HEAD"], env, cwd=path).stdout.decode().strip()


def write_jsonl(path: Path, snippets) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for n, s in enumerate(snippets):
            fh.write(json.dumps({"tool": "bench", "model": f"model-{n % 3}", "text": s.text,
                                 "file": "snippet.py", "source": "manual"}) + "\n")


def record_api(env: dict, snippets) -> None:
    """Record in this process with aiguard.store.ledger.Ledger.add (the fallback for big ledgers)."""
    saved = {k: os.environ.get(k) for k in ("AIGUARD_HOME", "HOME", "PYTHON_KEYRING_BACKEND")}
    os.environ.update({k: env[k] for k in saved})
    try:
        from aiguard.store import keys
        from aiguard.core.fingerprint import Hasher
        from aiguard.store.ledger import Entry, Ledger

        keyset = keys.load(create=True)
        with Ledger.open() as ledger:
            ledger.add((Entry("bench", f"model-{n % 3}", s.text, "manual", "snippet.py")
                        for n, s in enumerate(snippets)), Hasher(keyset.ledger_key), keyset.ledger_key,
                       keyset.ledger_id)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_ledgers(tmp: Path, sizes: list[int], snippets, log) -> list[dict]:
    """Record incrementally into one home; copy it aside at each size."""
    work = tmp / "home-build"
    env = bench_env(tmp, work)
    done = 0
    total_s = 0.0
    builds = []
    rate = None
    for size in sizes:
        batch = snippets[done:size]
        jsonl = tmp / f"records-{done}-{size}.jsonl"
        write_jsonl(jsonl, batch)
        method = "cli"
        if rate is not None and len(batch) / rate > API_BUILD_THRESHOLD_S:
            method = "api"
        log(f"recording {len(batch)} records ({done} -> {size}) with the {method}...")
        started = time.perf_counter()
        if method == "cli":
            out = run([AIGUARD, "record", "--jsonl", str(jsonl)], env)
            message = out.stdout.decode().strip()
        else:
            record_api(env, batch)
            message = "recorded via Ledger.add"
        seconds = time.perf_counter() - started
        total_s += seconds
        rate = len(batch) / seconds
        jsonl.unlink()
        # What the daemon does once recording is idle: every fingerprint into the index file.
        compact_s = None
        if _has_command(env, "compact"):
            started = time.perf_counter()
            log("  " + run([AIGUARD, "ledger", "compact"], env).stdout.decode().strip())
            compact_s = round(time.perf_counter() - started, 2)
        home = tmp / f"home-{size}"
        shutil.copytree(work, home)
        stats = json.loads(run([AIGUARD, "ledger", "stats", "--json"], bench_env(tmp, home)).stdout) \
            if _has_json_stats(env) else {}
        builds.append({
            "size": size, "method": method, "batch": len(batch), "batch_seconds": round(seconds, 1),
            "records_per_second": round(rate, 1), "cumulative_seconds": round(total_s, 1),
            "records": stats.get("records"), "fingerprints": stats.get("fingerprints"),
            "ledger_bytes": ledger_bytes(home), "index_bytes": index_bytes(home),
            "compact_seconds": compact_s, "cli_message": message, "home": str(home),
        })
        log(f"  {message}; {seconds:.1f} s ({rate:.0f} records/s), ledger {ledger_bytes(home) / 1e6:.1f} MB")
        done = size
    return builds


_COMMANDS: dict[str, bool] = {}


def _has_command(env, name: str) -> bool:
    """Whether this aiguard's `ledger` group has the command (older ones had no compact)."""
    if name not in _COMMANDS:
        _COMMANDS[name] = run([AIGUARD, "ledger", name, "--help"], env, check=False).returncode == 0
    return _COMMANDS[name]


_JSON_STATS: bool | None = None


def _has_json_stats(env) -> bool:
    global _JSON_STATS
    if _JSON_STATS is None:
        _JSON_STATS = b"--json" in run([AIGUARD, "ledger", "stats", "--help"], env).stdout
    return _JSON_STATS


MATCH_SNIPPET = r"""
import json, statistics, sys, time
from aiguard.store import keys
from aiguard.core.attribution import attribute_text
from aiguard.store.session import attribute_change as attribute
from aiguard.core.fingerprint import Hasher
from aiguard.store.ledger import Ledger
times = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    result = attribute(None)
    times.append((time.perf_counter() - t) * 1000)
# Matching alone (what issue 7's "matching 1,000 lines" means): the staged file's text is
# tokenised, hashed, looked up and chained, with a fresh Hasher each run (no warm token
# cache) and the ledger opened once, as the hook opens it once per commit.
text = open("change.py").read()
lines = range(1, text.count(chr(10)) + 1)
key = keys.load(create=False).ledger_key
match = []
for _ in range(int(sys.argv[1])):
    ledger = Ledger.open_readonly()
    t = time.perf_counter()
    found = attribute_text(text, lines, Hasher(key), ledger.lookup, ledger.record_tokens, "change.py")
    match.append((time.perf_counter() - t) * 1000)
    ledger.close()
print(json.dumps({"times": times, "ai": result.ai, "added": result.added, "match": match,
                  "match_lines": len(lines), "match_found": len(found)}))
"""


def measure_size(tmp: Path, build: dict, runs: int, log, pasted_lines: set[int]) -> dict:
    home = Path(build["home"])
    env = bench_env(tmp, home)
    hooked, plain, tiny = tmp / "repo-hooked", tmp / "repo-plain", tmp / "repo-tiny"
    parents = {repo: run(["git", "rev-parse", "HEAD"], env, cwd=repo).stdout.decode().strip()
               for repo in (hooked, plain)}

    def commit_pairs() -> tuple[list[float], list[float], str]:
        with_hooks, without = [], []
        trailers = ""
        for i in range(runs + 1):  # the first pair warms caches and is dropped
            for repo, samples in ((hooked, with_hooks), (plain, without)) if i % 2 == 0 else \
                    ((plain, without), (hooked, with_hooks)):
                ms, _ = timed(["git", "commit", "-q", "-m", f"bench run {i}"], env, cwd=repo)
                if i:
                    samples.append(ms)
                if repo == hooked:
                    trailers = run(["git", "log", "-1", "--format=%(trailers)"], env, cwd=repo).stdout.decode()
                run(["git", "reset", "-q", "--soft", parents[repo]], env, cwd=repo)
        return with_hooks, without, trailers

    with_hooks, without, trailers = commit_pairs()
    # The same with the daemon's warm hook server running (aiguard.hook.server).
    server = subprocess.Popen([PY, "-m", "aiguard", "hook-server"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    sock = home / "hook.sock"
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.05)
    served_with, served_without, served_trailers = commit_pairs() if sock.exists() else ([], [], "")
    server.terminate()
    server.wait(timeout=10)

    # Per-hook wall time, from git's trace2 (separate runs, not in the samples above).
    hook_ms: dict[str, list[float]] = {}
    trace = tmp / "trace2.txt"
    for i in range(min(runs, 7)):
        trace.unlink(missing_ok=True)
        run(["git", "commit", "-q", "-m", f"traced run {i}"], {**env, "GIT_TRACE2_EVENT": str(trace)}, cwd=hooked)
        run(["git", "reset", "-q", "--soft", parents[hooked]], env, cwd=hooked)
        starts = {}
        for line in trace.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "child_start" and event.get("child_class") == "hook":
                starts[event["child_id"]] = event.get("hook_name")
            elif event.get("event") == "child_exit" and event.get("child_id") in starts:
                name = starts.pop(event["child_id"])
                hook_ms.setdefault(name, []).append(event["t_rel"] * 1000)

    def stamp_times(repo: Path) -> list[float]:
        out = []
        msg = tmp / "MSG"
        for i in range(runs + 1):
            msg.write_text("bench message\n")
            ms, _ = timed([PY, "-m", "aiguard", "stamp", str(msg), "message"], {**env, "GIT_EDITOR": ":"}, cwd=repo)
            if i:
                out.append(ms)
        return out

    stamp_tiny = stamp_times(tiny)
    stamp_big = stamp_times(hooked)
    attribute_cli = []
    for i in range(runs + 1):
        ms, done = timed([AIGUARD, "attribute", "--staged"], env, cwd=hooked)
        if i:
            attribute_cli.append(ms)
    attribute_summary = done.stdout.decode().strip().splitlines()[-3:]
    attributed = set()
    for f in json.loads(run([AIGUARD, "attribute", "--staged", "--json"], env, cwd=hooked).stdout)["files"]:
        for r in f["ranges"]:
            attributed.update(range(r["start"], r["end"] + 1))
    inproc = json.loads(run([PY, "-c", MATCH_SNIPPET, str(runs + 1)], env, cwd=hooked).stdout)
    match_ms = inproc["times"][1:]
    result = {
        "ledger_records": build["records"] or build["size"],
        "ledger_bytes": build["ledger_bytes"],
        "index_bytes": build.get("index_bytes"),
        "commit_with_hooks": summary(with_hooks),
        "commit_without_hooks": summary(without),
        "hook_added_ms": round(statistics.median(with_hooks) - statistics.median(without), 1),
        "commit_with_hooks_and_server": summary(served_with) if served_with else None,
        "hook_added_ms_with_server": round(statistics.median(served_with) - statistics.median(served_without), 1)
        if served_with else None,
        "server_trailers_same": served_trailers.split("AIGuard-Stamp")[0] == trailers.split("AIGuard-Stamp")[0],
        "per_hook": {name: summary(v) for name, v in hook_ms.items()},
        "stamp_tiny_change": summary(stamp_tiny),
        "stamp_1000_line_change": summary(stamp_big),
        "attribute_staged_cli": summary(attribute_cli),
        "attribute_inprocess": summary(match_ms),
        "matching_only": summary(inproc["match"][1:]),
        "matching_lines_per_second": round(inproc["match_lines"] / statistics.median(inproc["match"][1:]) * 1000),
        "attribute_inprocess_first_call_ms": round(inproc["times"][0], 1),
        "ai_lines_found": f"{inproc['ai']}/{inproc['added']}",
        "attributed_pasted_lines": len(attributed & pasted_lines),
        "attributed_other_lines": len(attributed - pasted_lines),
        "commit_trailers": trailers.strip().splitlines(),
        "attribute_output_tail": attribute_summary,
    }
    hooks_text = ", ".join(f"{k} {v['median_ms']} ms" for k, v in result["per_hook"].items())
    log(f"  N={build['size']}: commit +hooks {result['commit_with_hooks']['median_ms']} ms, "
        f"no hooks {result['commit_without_hooks']['median_ms']} ms, added {result['hook_added_ms']} ms "
        f"(with the hook server {result['hook_added_ms_with_server']} ms); "
        f"stamp tiny {result['stamp_tiny_change']['median_ms']} ms, stamp 1k {result['stamp_1000_line_change']['median_ms']} ms; "
        f"hooks {hooks_text}; "
        f"attribute CLI {result['attribute_staged_cli']['median_ms']} ms, in-process {result['attribute_inprocess']['median_ms']} ms; "
        f"AI-Lines {result['ai_lines_found']} ({result['attributed_pasted_lines']}/{len(pasted_lines)} "
        f"pasted lines, {result['attributed_other_lines']} other lines)")
    return result


def machine() -> dict:
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    except OSError:
        pass
    return {"aiguard_commit": sh(f"git -C {HERE.parent} rev-parse --short HEAD"),
            "aiguard_src_dirty": bool(sh(f"git -C {HERE.parent} status --porcelain -- src")),
            "nproc": sh("nproc"), "cpu": cpu, "mem_total": sh("free -h | awk '/Mem:/{print $2}'"),
            "python": platform.python_version(), "git": sh("git --version"), "date": sh("date -u +%Y-%m-%dT%H:%MZ"),
            "loadavg_start": sh("cat /proc/loadavg")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--human-functions", type=int, default=3000,
                        help="size of the held-out set (small: the 100k ledger needs most of the corpus)")
    parser.add_argument("--out", default=str(HERE / "results" / "hook_latency.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    def log(msg: str) -> None:
        print(msg, flush=True)

    corpus = corpus_mod.build(args.seed, args.human_functions)
    snippets = recordable(corpus.ai, sizes[-1])
    if len(snippets) < sizes[-1]:
        raise SystemExit(f"the ai corpus has only {len(snippets)} recordable snippets; largest size is {sizes[-1]}")
    pasted = [s for s in snippets[:sizes[0]] if 10 <= s.lines <= 30][:PASTES]
    change, pasted_lines = make_change(corpus, pasted)

    tmp = Path(tempfile.mkdtemp(prefix="aiguard-bench-"))
    results = {"machine": machine(), "runs": args.runs, "corpus": corpus.stats, "diff_lines": DIFF_LINES,
               "pasted_snippets": len(pasted), "pasted_lines": len(pasted_lines), "sizes": {}}
    try:
        (tmp / "userhome").mkdir()
        (tmp / "gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n"
                                       "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
        env0 = bench_env(tmp, tmp / "home-build")
        for name in ("repo-hooked", "repo-plain", "repo-tiny"):
            init_repo(tmp / name, env0)
        for name in ("repo-hooked", "repo-plain"):
            (tmp / name / "change.py").write_text(change)
            run(["git", "add", "change.py"], env0, cwd=tmp / name)
        (tmp / "repo-tiny" / "tiny.py").write_text("x = 1\n")
        run(["git", "add", "tiny.py"], env0, cwd=tmp / "repo-tiny")

        base = [timed([PY, "-c", "pass"], env0)[0] for _ in range(args.runs + 1)][1:]
        base_s = [timed([PY, "-S", "-c", "pass"], env0)[0] for _ in range(args.runs + 1)][1:]
        imp = [timed([PY, "-c", "import aiguard.hook.stamp, aiguard.git.changes, aiguard.store.ledger, aiguard.store.keys"],
                     env0)[0] for _ in range(args.runs + 1)][1:]
        results["python_c_pass"] = summary(base)
        results["python_S_c_pass"] = summary(base_s)
        results["python_import_hook_modules"] = summary(imp)
        log(f"python -c pass: {results['python_c_pass']['median_ms']} ms; -S: {results['python_S_c_pass']['median_ms']} ms; "
            f"import of the hook's modules: {results['python_import_hook_modules']['median_ms']} ms")

        builds = build_ledgers(tmp, sizes, snippets, log)
        results["builds"] = [{k: v for k, v in b.items() if k != "home"} for b in builds]
        install = run([AIGUARD, "install"], bench_env(tmp, Path(builds[0]["home"])), cwd=tmp / "repo-hooked")
        results["install"] = install.stdout.decode().strip().splitlines()
        for build in builds:
            log(f"measuring N={build['size']} ({args.runs} runs)...")
            results["sizes"][str(build["size"])] = measure_size(tmp, build, args.runs, log, pasted_lines)
        results["machine"]["loadavg_end"] = open("/proc/loadavg").read().strip()
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    print_table(results)


def print_table(results: dict) -> None:
    print()
    print(f"python -c pass: {results['python_c_pass']['median_ms']} ms (median of {results['runs']})")
    print("| ledger records | ledger on disk | build (cumulative) | git commit, no hooks | git commit, aiguard hooks "
          "| added by hooks | added, with the hook server | `python -m aiguard stamp`, 1-line change "
          "| same, 1,000-line change | `aiguard attribute --staged` | attribute() in-process | matching only "
          "| AI-Lines found |")
    print("|" + "---|" * 13)
    for b in results["builds"]:
        r = results["sizes"][str(b["size"])]
        index = f" (index file {r['index_bytes'] / 1e6:.1f} MB)" if r.get("index_bytes") else ""
        print(f"| {r['ledger_records']:,} | {r['ledger_bytes'] / 1e6:.1f} MB{index} | {b['cumulative_seconds']} s ({b['method']}) "
              f"| {r['commit_without_hooks']['median_ms']} ms | {r['commit_with_hooks']['median_ms']} ms "
              f"| {r['hook_added_ms']} ms | {r.get('hook_added_ms_with_server')} ms | {r['stamp_tiny_change']['median_ms']} ms "
              f"| {r['stamp_1000_line_change']['median_ms']} ms | {r['attribute_staged_cli']['median_ms']} ms "
              f"| {r['attribute_inprocess']['median_ms']} ms "
              f"| {r['matching_only']['median_ms']} ms ({r['matching_lines_per_second']:,} lines/s) | {r['ai_lines_found']} |")


if __name__ == "__main__":
    main()
