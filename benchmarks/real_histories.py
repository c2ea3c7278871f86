"""aiguard's audit views over real public histories: speed beside `git log`, and checks that
the views agree (issue 19).

The histories are not in this repository: give the folder that holds fetched copies (bare
or not) of git/git, Aider-AI/aider, anthropics/claude-code-action, steveyegge/beads,
git-ai-project/git-ai and entireio/cli, named `owner+name/repo` (or `owner+name`), and any
subset will do. Each is cloned into a scratch folder (`git clone --shared --no-checkout`,
with its notes), so nothing is written to the copies. Then, over all of HEAD, once each:

* floors: `git log` with log's format (messages only) and with `--numstat -M` (the diff pass);
* `aiguard export --format jsonl` (with the diff) and `aiguard export --no-diff`, in commits/s,
  and the other fast-path views (`log --json --no-diff`, `stats --no-diff`, `export --no-diff
  --format parquet`), each with the CPU seconds (user + system) of it and its git processes;
* `aiguard stats --json`.

Checks (a failed one is printed and makes the exit status 1):

* the fast path gives the same record as the diff path for every commit, `added` aside,
  and `added` is null only where no AI-Lines trailer or git-ai note counts it;
* stats adds up what export says: commits, AI-derived commits, AI lines, added lines;
  authors' added lines sum to the total; by_tool is not empty when AI-derived commits exist;
  every AI-derived commit's tools are counted in by_tool;
* no commit has more AI lines than added lines (git-ai notes are clipped to the commit's lines);
* commits with an `@anthropic.com` co-author (`git log -i --grep`) against export's
  commits naming claude-code by trailer (printed side by side, not a check: the grep also
  finds the address anywhere in a message, aiguard only in the final trailer block).

    python benchmarks/real_histories.py MIRRORS [--only git+git,Aider-AI+aider]
                                        [--out benchmarks/results/real_histories.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOS = ["git+git", "Aider-AI+aider", "anthropics+claude-code-action", "steveyegge+beads",
         "git-ai-project+git-ai", "entireio+cli"]
FORMAT = "%x00%x00aiguard-log%x00%H%x00%P%x00%an <%ae>%x00%aI%x00%cn <%ce>%x00%aN <%aE>%x00%B%x00"
AIGUARD = [sys.executable, "-m", "aiguard"]


def git(*args: str, cwd: Path) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True).stdout


class Failed(Exception):
    pass


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    if done.returncode:
        raise Failed(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1])
    return time.perf_counter() - start, done.stdout


def cpu_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def clone(source: Path, scratch: Path) -> Path:
    target = scratch / source.parent.name if source.name == "repo" else scratch / source.name
    git("clone", "-q", "--shared", "--no-checkout", str(source), str(target), cwd=scratch)
    git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*", cwd=target)
    git("config", "mailmap.blob", "HEAD:.mailmap", cwd=target)  # no work tree: the .mailmap of HEAD
    return target


def records(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def check(problems: list[str], ok: bool, what: str) -> None:
    if not ok:
        problems.append(what)


def measure(repo: Path, env: dict) -> dict:
    commits = int(git("rev-list", "--count", "HEAD", cwd=repo))
    row: dict = {"commits": commits, "problems": []}
    for name, cmd in (
        ("git_log", ["git", "log", "--no-color", f"--format={FORMAT}", "-z", "HEAD", "--"]),
        ("git_log_numstat", ["git", "log", "--no-color", f"--format={FORMAT}", "-z", "--numstat", "-M", "--text",
                             "--diff-algorithm=myers", "--ignore-submodules=none", "HEAD", "--"]),
    ):
        cpu = cpu_of_children()
        try:
            seconds, _ = timed(cmd, repo, env)
            row[name] = {"seconds": round(seconds, 3), "commits_per_s": round(commits / seconds),
                         "cpu_seconds": round(cpu_of_children() - cpu, 3)}
        except Failed as exc:  # a fetched copy may lack its largest blobs: no diff of them
            row[name] = {"failed": str(exc)}
    outputs = {}
    scratch = repo.parent / f"{repo.name}-out"  # in the scratch folder, removed with it
    scratch.mkdir(exist_ok=True)
    for name, cmd in (("export", ["export", "--format", "jsonl"]), ("export_no_diff", ["export", "--no-diff"]),
                      ("log_json_no_diff", ["log", "--json", "--no-diff"]), ("stats_no_diff", ["stats", "--no-diff"]),
                      ("parquet_no_diff", ["export", "--no-diff", "--format", "parquet", "-o",
                                           str(scratch / f"{repo.name}.parquet")])):
        cpu = cpu_of_children()
        try:
            seconds, outputs[name] = timed([*AIGUARD, *cmd, "--no-ledger"], repo, env)
        except Failed as exc:
            row[name] = {"failed": str(exc)}
            continue
        row[name] = {"seconds": round(seconds, 3), "commits_per_s": round(commits / seconds),
                     "cpu_seconds": round(cpu_of_children() - cpu, 3)}
    fast = records(outputs["export_no_diff"])
    ai = [e for e in fast if e["assisted_by"] or e["ai_lines"]]
    if "log_json_no_diff" in outputs:
        check(row["problems"], json.loads(outputs["log_json_no_diff"]) == fast,
              "log --json --no-diff != export --no-diff")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        pq = None
    if pq is not None and "parquet_no_diff" in outputs:
        table = pq.read_table(scratch / f"{repo.name}.parquet").to_pydict()
        ai_shas = {sha for sha, by, n in zip(table["commit"], table["assisted_by"], table["ai_lines"]) if by or n}
        ranges = sum(1 for start in table["start_line"] if start is not None)
        check(row["problems"], list(dict.fromkeys(table["commit"])) == [e["commit"] for e in fast],
              "parquet: other commits than export")
        check(row["problems"], ai_shas == {e["commit"] for e in ai}, "parquet: other AI-derived commits")
        check(row["problems"], ranges == sum(len(f["ranges"]) for e in fast for f in e["files"]),
              "parquet: other line ranges")
        row["parquet_rows"] = len(table["commit"])
    tools: dict[str, int] = {}
    for e in ai:
        for tool in dict.fromkeys(v.split(":", 1)[0] for v in e["assisted_by"]):
            tools[tool] = tools.get(tool, 0) + 1
    row.update({"ai_commits": len(ai), "problems": row.get("problems", []),
                "fast_by_tool": sorted(tools.items(), key=lambda kv: -kv[1])[:6],
                "fast_ai_lines": sum(e["ai_lines"] for e in fast),
                "fast_lines_unknown": sum(1 for e in ai if not e["files"] and not e["ai_lines"])})
    if "export" not in outputs:
        return row  # the diff path failed (above): nothing to compare the fast path with
    seconds, out = timed([*AIGUARD, "stats", "--json", "--no-ledger"], repo, env)
    row["stats_seconds"] = round(seconds, 3)
    stats = json.loads(out)
    full = records(outputs["export"])

    problems: list[str] = row["problems"]
    git_ai = set(git("notes", "--ref", "refs/notes/ai", "list", cwd=repo).decode().split()[1::2]) \
        if git("for-each-ref", "refs/notes/ai", cwd=repo).strip() else set()
    check(problems, [e["commit"] for e in full] == [e["commit"] for e in fast], "fast path: other commits")
    same = unknown = 0
    for slow, quick in zip(full, fast):
        if quick == slow:
            same += 1
        elif quick == {**slow, "added": None} and slow["commit"] not in git_ai and not slow["stamped"]:
            unknown += 1
        else:
            problems.append(f"fast path differs on {slow['commit']}")
    row["fast_path"] = {"identical": same, "added_null": unknown}
    ai = [e for e in full if e["assisted_by"] or e["ai_lines"]]
    check(problems, stats["commits"] == len(full), "stats commits != export")
    check(problems, stats["ai_commits"] == len(ai), "stats ai_commits != export")
    check(problems, stats["ai_lines"] == sum(e["ai_lines"] for e in full), "stats ai_lines != export")
    check(problems, stats["added"] == sum(e["added"] for e in full), "stats added != export")
    check(problems, sum(r["added"] for r in stats["by_author"]) == stats["added"], "by_author added != added")
    check(problems, bool(stats["by_tool"]) or not ai, "by_tool empty with AI-derived commits")
    tools = {r["key"]: r["commits"] for r in stats["by_tool"]}
    for e in ai:
        for value in e["assisted_by"]:
            check(problems, value.split(":", 1)[0] in tools, f"{e['commit']}: {value} not in by_tool")
    over = [e["commit"] for e in full if e["ai_lines"] > e["added"] and not e["stamped"]]
    check(problems, not over, f"{len(over)} commits with more AI lines than added lines")
    grep = git("log", "-i", "--grep=@anthropic.com", "--format=%H", "HEAD", cwd=repo).decode().split()
    claude = [e for e in full if any(v.startswith("claude-code:") for v in e["assisted_by"])]
    row.update({
        "ai_commits": len(ai), "commit_share": stats["commit_share"], "lines_unknown": stats["lines_unknown"],
        "ai_lines": stats["ai_lines"], "added": stats["added"], "share": stats["share"],
        "by_tool": [(r["key"], r["commits"], r["ai_lines"]) for r in stats["by_tool"][:6]],
        "authors": len(stats["by_author"]), "authors_as_written": len({e["author"] for e in full}),
        "grep_anthropic": len(grep), "claude_code_commits": len(claude), "problems": problems[:20],
    })
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirrors", type=Path, help="the folder holding owner+name[/repo] copies")
    parser.add_argument("--only", default="", help="comma-separated owner+name subset")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "real_histories.json")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", "AIGUARD_DISABLE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE")
    wanted = [r for r in REPOS if not args.only or r in args.only.split(",")]
    results: dict = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "repos": {}}
    failed = False
    with tempfile.TemporaryDirectory(prefix="aiguard-real-") as tmp:
        for name in wanted:
            source = next((p for p in (args.mirrors / name / "repo", args.mirrors / name) if p.exists()), None)
            if source is None:
                print(f"{name}: not in {args.mirrors}, skipped")
                continue
            row = measure(clone(source, Path(tmp)), env)
            results["repos"][name] = row
            failed |= bool(row["problems"])
            speed = {k: (row[k].get("commits_per_s"), row[k].get("cpu_seconds")) if "failed" not in row[k]
                     else row[k]["failed"] for k in ("git_log", "git_log_numstat", "export", "export_no_diff",
                                                     "log_json_no_diff", "stats_no_diff", "parquet_no_diff")}
            print(f"{name}: {row['commits']} commits; commits/s {speed}; AI-derived {row['ai_commits']} "
                  f"({row.get('lines_unknown', '?')} lines unknown), AI lines {row.get('ai_lines', '?')}/"
                  f"{row.get('added', '?')}; problems: {row['problems'] or 'none'}", flush=True)
    results["machine"]["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
