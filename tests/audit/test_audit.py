"""Audit views and exports on a real repository: log, export (jsonl, agent-trace),
blame, stats and report agree; line records survive amend, rebase, cherry-pick and
squash merges."""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import MERGE_INTERVALS, Repo, aiguard, unfiled_records

# Invented for the tests: a second snippet, "copied from a web chat".
CHAT_SNIPPET = '''\
def parse_duration(text):
    """Parse strings like '1h30m' or '45s' into a number of seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0, ""
    for char in text.strip():
        if char.isdigit():
            number += char
        elif char in units and number:
            total += int(number) * units[char]
            number = ""
        else:
            raise ValueError(f"bad duration: {text!r}")
    return total
'''

HUMAN = "def add(a, b):\n    return a + b\n\n\nprint(add(2, 3))\n"
GIT_AI_NOTE = """\
gitai.py
  s_1a2b3c4d5e6f70::t_0011223344556a 2-4
  h_99887766554433 1
---
{"schema_version":"authorship/3.0.0","base_commit_sha":"x","prompts":{},
 "sessions":{"s_1a2b3c4d5e6f70":{"agent_id":{"tool":"cursor","id":"c1","model":"gpt-5"},"human_author":"T"}},
 "humans":{"h_99887766554433":{"author":"Test User <test@example.com>"}}}
"""


def record(text: str, tool: str, model: str, source: str = "manual") -> None:
    aiguard("record", "--tool", tool, "--model", model, "--source", source, input=text.encode())


def commit(repo: Repo, files: dict[str, str], message: str, *extra, env=None) -> str:
    for name, text in files.items():
        repo.write(name, text)
        repo.git("add", name)
    repo.git("commit", "-q", "-m", message, *extra, env=env)
    return repo.out("rev-parse", "HEAD").strip()


def lines_of(text: str, needle: str) -> tuple[int, int]:
    """1-based first and last line of `needle` (a block of whole lines) inside `text`."""
    start = text.index(needle)
    first = text[:start].count("\n") + 1
    return first, first + needle.rstrip("\n").count("\n")


@pytest.fixture
def history(repo: Repo):
    """aiguard-stamped, clipboard, human, foreign (co-author, aider, git-ai note) commits."""
    shas = {}
    shas["base"] = commit(repo, {"README": "project\n"}, "Start")
    record(MERGE_INTERVALS, "claude-code", "claude-sonnet-4-5")
    lib = "import os\n\n\n" + MERGE_INTERVALS + "\n\nVERSION = 3\n"
    shas["claude"] = commit(repo, {"lib.py": lib}, "Add interval merging")
    record(CHAT_SNIPPET, "chatgpt", "unknown", "clipboard")
    util = "# helpers\n" + CHAT_SNIPPET
    shas["chat"] = commit(repo, {"util.py": util}, "Add duration parsing")
    shas["human"] = commit(repo, {"human.py": HUMAN}, "Add adder")
    shas["coauthor"] = commit(repo, {"co.py": "x = compute()\ny = x * 2\n"},
                              "Tweak\n\nCo-authored-by: Claude Opus 4.5 <noreply@anthropic.com>",
                              env={"AIGUARD_DISABLE": "1"})
    shas["aider"] = commit(repo, {"aid.py": "z = 1\n"}, "aider edit", "--author", "Test User (aider) <test@example.com>")
    shas["gitai"] = commit(repo, {"gitai.py": "a = 1\nb = 2\nc = 3\nd = 4\n"}, "git-ai tracked")
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m", GIT_AI_NOTE, shas["gitai"])
    return repo, shas, {"lib.py": lib, "util.py": util}


def log_json(repo: Repo, *args) -> list[dict]:
    return json.loads(aiguard("log", "--json", *args, cwd=repo.path).stdout)


def test_log_json_contract_and_evidence(history):
    repo, shas, texts = history
    entries = log_json(repo)
    by_sha = {e["commit"]: e for e in entries}
    assert [e["commit"] for e in entries] == repo.out("rev-list", "HEAD").split()  # newest first, all of them
    for e in entries:
        assert set(e) >= {"commit", "author", "date", "stamped", "assisted_by", "ai_lines", "added", "evidence", "files"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", e["date"])
        assert e["author"] == "Test User <test@example.com>" or "(aider)" in e["author"]

    claude = by_sha[shas["claude"]]
    first, last = lines_of(texts["lib.py"], MERGE_INTERVALS)
    assert claude["stamped"] is True and claude["evidence"] == "aiguard"
    assert claude["assisted_by"] == ["claude-code:claude-sonnet-4-5"]
    assert claude["ai_lines"] == last - first + 1
    assert claude["added"] == texts["lib.py"].count("\n")
    assert claude["files"] == [{"path": "lib.py", "ranges": [
        {"start": first, "end": last, "tool": "claude-code", "model": "claude-sonnet-4-5"}]}]

    chat = by_sha[shas["chat"]]
    first, last = lines_of(texts["util.py"], CHAT_SNIPPET)
    assert chat["assisted_by"] == ["chatgpt:unknown"] and chat["evidence"] == "aiguard"
    assert chat["files"][0]["ranges"][0]["start"] == first and chat["files"][0]["ranges"][-1]["end"] == last

    human = by_sha[shas["human"]]
    assert human == {**human, "stamped": True, "assisted_by": [], "ai_lines": 0, "evidence": "none", "files": []}
    assert human["added"] == HUMAN.count("\n")

    co = by_sha[shas["coauthor"]]
    assert co["stamped"] is False and co["evidence"] == "foreign"
    assert co["assisted_by"] == ["claude-code:claude-opus-4-5"] and co["files"] == []

    aider = by_sha[shas["aider"]]
    assert aider["stamped"] is True and aider["evidence"] == "foreign" and aider["assisted_by"] == ["aider:unknown"]

    gitai = by_sha[shas["gitai"]]
    assert gitai["evidence"] == "foreign" and gitai["assisted_by"] == ["cursor:gpt-5"]
    assert gitai["files"] == [{"path": "gitai.py", "ranges": [{"start": 2, "end": 4, "tool": "cursor", "model": "gpt-5"}]}]
    assert gitai["ai_lines"] == 3

    base = by_sha[shas["base"]]
    assert base["evidence"] == "none" and base["assisted_by"] == []


def test_range_and_text_log(history):
    repo, shas, _ = history
    entries = log_json(repo, f"{shas['claude']}..{shas['human']}")
    assert [e["commit"] for e in entries] == [shas["human"], shas["chat"]]
    text = aiguard("log", cwd=repo.path).stdout.decode()
    assert shas["claude"][:12] in text and "claude-code:claude-sonnet-4-5" in text
    bad = aiguard("log", "no-such-branch", cwd=repo.path, check=False)
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1


def test_export_formats_agree_with_log(history):
    repo, shas, _ = history
    entries = log_json(repo)
    lines = aiguard("export", "--format", "jsonl", cwd=repo.path).stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == entries

    traces = [json.loads(line) for line in
              aiguard("export", "--format", "agent-trace", cwd=repo.path).stdout.decode().splitlines()]
    ai_entries = [e for e in entries if e["assisted_by"] or e["ai_lines"]]
    assert [t["vcs"]["revision"] for t in traces] == [e["commit"] for e in ai_entries]
    for trace, entry in zip(traces, ai_entries):
        assert trace["version"] == "0.1.0" and trace["vcs"]["type"] == "git"
        assert re.fullmatch(r"[0-9a-f-]{36}", trace["id"])
        spans = sorted((f["path"], r["start_line"], r["end_line"]) for f in trace["files"]
                       for c in f["conversations"] for r in c["ranges"])
        expected = sorted((f["path"], r["start"], r["end"]) for f in entry["files"] for r in f["ranges"])
        assert spans == expected
        for f in trace["files"]:
            for c in f["conversations"]:
                assert c["contributor"]["type"] == "ai"
    claude = next(t for t in traces if t["vcs"]["revision"] == shas["claude"])
    assert claude["files"][0]["conversations"][0]["contributor"]["model_id"] == "anthropic/claude-sonnet-4-5"


def test_blame_agrees_with_log(history):
    repo, shas, texts = history
    entries = {e["commit"]: e for e in log_json(repo)}
    for path in ("lib.py", "util.py", "human.py", "gitai.py"):
        rows = json.loads(aiguard("blame", "--json", path, cwd=repo.path).stdout)
        assert [r["line"] for r in rows] == list(range(1, len(rows) + 1))
        for row in rows:
            entry = entries[row["commit"]]
            inside = [r for f in entry["files"] if f["path"] == row["path"] for r in f["ranges"]
                      if r["start"] <= row["orig_line"] <= r["end"]]
            if inside:
                assert row["assisted_by"] == f"{inside[0]['tool']}:{inside[0]['model']}" and row["level"] == "line"
            else:
                assert row["assisted_by"] is None
    text = aiguard("blame", "lib.py", cwd=repo.path).stdout.decode().splitlines()
    first, last = lines_of(texts["lib.py"], MERGE_INTERVALS)
    assert "claude-code:claude-sonnet-4-5" in text[first - 1] and "claude-code" not in text[0]
    co = aiguard("blame", "co.py", cwd=repo.path).stdout.decode()
    assert "claude-code:claude-opus-4-5?" in co  # only the commit is known to be AI-assisted


def test_stats_and_report_add_up(history, tmp_path):
    repo, shas, _ = history
    entries = log_json(repo)
    result = json.loads(aiguard("stats", "--json", cwd=repo.path).stdout)
    assert result["commits"] == len(entries)
    assert result["ai_lines"] == sum(e["ai_lines"] for e in entries)
    assert result["added"] == sum(e["added"] for e in entries)
    assert result["ai_commits"] == sum(1 for e in entries if e["assisted_by"] or e["ai_lines"])
    by_model = {row["key"]: row["ai_lines"] for row in result["by_model"]}
    ranges = {}
    for e in entries:
        for f in e["files"]:
            for r in f["ranges"]:
                key = f"{r['tool']}:{r['model']}"
                ranges[key] = ranges.get(key, 0) + r["end"] - r["start"] + 1
    assert {k: v for k, v in by_model.items() if v} == ranges
    assert sum(row["ai_lines"] for row in result["by_month"]) == result["ai_lines"]
    assert sum(row["added"] for row in result["by_author"]) == result["added"]

    out = tmp_path / "report.html"
    done = aiguard("report", "--html", str(out), cwd=repo.path)
    assert f"{result['commits']} commits" in done.stdout.decode()
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for sha in (shas["claude"], shas["chat"], shas["gitai"]):
        assert sha[:12] in html
    assert "claude-code:claude-sonnet-4-5" in html and "chatgpt:unknown" in html
    assert "<script" not in html and not re.search(r"(src|href)=['\"]https?:", html)  # self-contained
    assert f"{result['ai_lines']:,} of {result['added']:,}" in html


def test_no_plaintext_in_notes(history):
    repo, shas, _ = history
    notes = repo.out("log", "-p", "refs/notes/aiguard")
    assert "merge_intervals" not in notes and "parse_duration" not in notes


# --- history edits ------------------------------------------------------------------------------

def fresh_ledger(monkeypatch, tmp_path, name: str) -> None:
    """Another machine: an empty ledger and keys of its own."""
    monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / name))


def note(repo: Repo, rev: str = "HEAD") -> dict:
    return json.loads(aiguard("notes", "show", rev, cwd=repo.path).stdout)


def ai_ranges(repo: Repo, rev: str = "HEAD") -> list[tuple[str, int, int, str]]:
    entry = json.loads(aiguard("log", "--json", "--no-ledger", "-1", rev, cwd=repo.path).stdout)[0]
    return [(f["path"], r["start"], r["end"], f"{r['tool']}:{r['model']}") for f in entry["files"] for r in f["ranges"]]


PREFIX = "# one\n# two\n# three\n"
BASE_LIB = "header = 1\nsecond = 2\nthird = 3\nfourth = 4\nfifth = 5\n"


@pytest.fixture
def ai_branch(repo: Repo):
    commit(repo, {"lib.py": BASE_LIB}, "Start")
    repo.git("checkout", "-q", "-b", "feature")
    record(MERGE_INTERVALS, "claude-code", "claude-sonnet-4-5")
    text = BASE_LIB + "\n\n" + MERGE_INTERVALS
    commit(repo, {"lib.py": text}, "AI change")
    first, last = lines_of(text, MERGE_INTERVALS)
    assert ai_ranges(repo) == [("lib.py", first, last, "claude-code:claude-sonnet-4-5")]
    repo.git("checkout", "-q", "main")
    commit(repo, {"lib.py": PREFIX + BASE_LIB}, "Main moves on")
    return repo, (first, last)


def test_rebase_keeps_line_ranges_without_the_ledger(ai_branch, monkeypatch, tmp_path):
    repo, (first, last) = ai_branch
    fresh_ledger(monkeypatch, tmp_path, "other-machine")
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main")
    shift = PREFIX.count("\n")
    assert ai_ranges(repo) == [("lib.py", first + shift, last + shift, "claude-code:claude-sonnet-4-5")]
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "claude-code:claude-sonnet-4-5"
    assert trailers["AI-Lines"].startswith(f"{last - first + 1}/")
    assert aiguard("verify", "main..HEAD", cwd=repo.path, check=False).returncode == 0


def test_cherry_pick_keeps_line_ranges(ai_branch, monkeypatch, tmp_path):
    repo, (first, last) = ai_branch
    fresh_ledger(monkeypatch, tmp_path, "other-machine")
    repo.git("cherry-pick", "feature")
    shift = PREFIX.count("\n")
    assert ai_ranges(repo) == [("lib.py", first + shift, last + shift, "claude-code:claude-sonnet-4-5")]
    assert ("Assisted-by", "claude-code:claude-sonnet-4-5") in repo.trailers()


def test_amend_keeps_line_ranges_and_drops_removed_lines(ai_branch, monkeypatch, tmp_path):
    repo, (first, last) = ai_branch
    repo.git("checkout", "-q", "feature")
    fresh_ledger(monkeypatch, tmp_path, "other-machine")
    text = (repo.path / "lib.py").read_text().splitlines(keepends=True)
    del text[last - 1]  # the AI block's last line goes
    repo.write("lib.py", "".join(text))
    repo.git("commit", "-q", "-a", "--amend", "-m", "AI change, trimmed")
    assert ai_ranges(repo) == [("lib.py", first, last - 1, "claude-code:claude-sonnet-4-5")]
    assert dict(repo.trailers())["AI-Lines"].startswith(f"{last - first}/")


@pytest.mark.parametrize("how", ["commit -a", "commit PATH", "linked worktree", "GIT_INDEX_FILE elsewhere"])
def test_line_record_is_filed_however_the_commit_is_made(repo: Repo, tmp_path, how):
    """post-commit finds the pending record through GIT_DIR / GIT_INDEX_FILE, or asks git."""
    commit(repo, {"README": "x\n", "lib.py": "VERSION = 1\n"}, "Start")
    record(MERGE_INTERVALS, "claude-code", "claude-sonnet-4-5")
    lib = "VERSION = 1\n\n\n" + MERGE_INTERVALS
    where, env = repo, None
    if how == "linked worktree":
        repo.git("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
        where = Repo(tmp_path / "wt")
    where.write("lib.py", lib)
    if how == "commit -a":
        where.git("commit", "-q", "-a", "-m", "AI change")
    elif how == "commit PATH":
        where.git("commit", "-q", "-m", "AI change", "lib.py")
    elif how == "GIT_INDEX_FILE elsewhere":
        index = tmp_path / "other-index"
        env = {"GIT_INDEX_FILE": str(index)}
        where.git("read-tree", "HEAD", env=env)
        where.git("add", "lib.py", env=env)
        where.git("commit", "-q", "-m", "AI change", env=env)
    else:
        where.git("add", "lib.py")
        where.git("commit", "-q", "-m", "AI change")
    first = 4
    assert ai_ranges(where) == [("lib.py", first, first + MERGE_INTERVALS.count("\n") - 1,
                                 "claude-code:claude-sonnet-4-5")]
    git_dir = where.out("rev-parse", "--absolute-git-dir").strip()
    assert not (tmp_path / "aiguard-pending").exists()
    assert unfiled_records(git_dir) == []  # filed and emptied
    where.write("README", "y\n")
    where.git("commit", "-q", "-a", "-m", "Human", env=env)  # its stamp sweeps the consumed record
    assert not os.path.exists(git_dir + "/aiguard-pending")


def test_rebase_apply_backend_carries_notes(ai_branch):
    repo, (first, last) = ai_branch
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "--apply", "main")  # git am: no commit hooks, only post-rewrite
    shift = PREFIX.count("\n")
    assert ai_ranges(repo) == [("lib.py", first + shift, last + shift, "claude-code:claude-sonnet-4-5")]


def test_squash_merge_names_every_tool(repo: Repo, monkeypatch, tmp_path):
    commit(repo, {"README": "x\n"}, "Start")
    repo.git("checkout", "-q", "-b", "feature")
    record(MERGE_INTERVALS, "claude-code", "claude-sonnet-4-5")
    commit(repo, {"a.py": MERGE_INTERVALS}, "Claude's part")
    record(CHAT_SNIPPET, "codex", "gpt-5-codex")
    commit(repo, {"b.py": CHAT_SNIPPET}, "Codex's part")
    commit(repo, {"c.py": HUMAN}, "Mine")
    repo.git("checkout", "-q", "main")
    fresh_ledger(monkeypatch, tmp_path, "maintainer")  # whoever merges never saw the output
    repo.git("merge", "--squash", "-q", "feature")
    repo.git("commit", "-q", "-m", "Feature, squashed")
    assisted = [v for k, v in repo.trailers() if k == "Assisted-by"]
    assert sorted(assisted) == ["claude-code:claude-sonnet-4-5", "codex:gpt-5-codex"]
    ai = MERGE_INTERVALS.count("\n") + CHAT_SNIPPET.count("\n")
    assert dict(repo.trailers())["AI-Lines"] == f"{ai}/{ai + HUMAN.count(chr(10))}"
    assert sorted(ai_ranges(repo)) == [("a.py", 1, MERGE_INTERVALS.count("\n"), "claude-code:claude-sonnet-4-5"),
                                       ("b.py", 1, CHAT_SNIPPET.count("\n"), "codex:gpt-5-codex")]


def test_notes_push_and_fetch(ai_branch, tmp_path, make_repo):
    repo, _ = ai_branch
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "feature", "main")
    assert "pushed" in aiguard("notes", "push", cwd=repo.path).stdout.decode()
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(remote), str(clone))
    other = Repo(clone)
    assert "no aiguard line record" in aiguard("notes", "show", "origin/feature", cwd=clone, check=False).stderr.decode()
    assert "fetched" in aiguard("notes", "fetch", cwd=clone).stdout.decode()
    assert note(other, "origin/feature")["ai"] == MERGE_INTERVALS.count("\n")
    assert "merged" in aiguard("notes", "fetch", cwd=clone).stdout.decode()  # again: a no-op merge


def test_fresh_clone_falls_back_to_the_ledger(ai_branch, tmp_path):
    """No notes fetched: the stamped commit's lines are found again against the ledger."""
    repo, (first, last) = ai_branch
    clone = tmp_path / "clone2"
    repo.git("clone", "-q", "--branch", "feature", str(repo.path), str(clone))
    entry = json.loads(aiguard("log", "--json", "-1", cwd=clone).stdout)[0]
    assert entry["files"] == [{"path": "lib.py", "ranges": [
        {"start": first, "end": last, "tool": "claude-code", "model": "claude-sonnet-4-5"}]}]
    bare = json.loads(aiguard("log", "--json", "--no-ledger", "-1", cwd=clone).stdout)[0]
    assert bare["files"] == [] and bare["assisted_by"] == ["claude-code:claude-sonnet-4-5"]


def test_hosting_squash_merge_falls_back_to_the_body(repo: Repo):
    """GitHub's squash merge puts the commits' trailer groups in the body."""
    body = ("Feature (#12)\n\n* part one\n\nAssisted-by: codex:gpt-5-codex\nAI-Lines: 4/10\n"
            "AIGuard-Stamp: v1 0011aabb 1 " + "0" * 32 + " " + "1" * 32 + "\n\n* part two\n\n"
            "AI-Lines: 0/3\nAIGuard-Stamp: v1 0011aabb 0 " + "2" * 32 + " " + "3" * 32 + "\n\nSigned-off-by: X <x@y>\n")
    commit(repo, {"f.py": "a\n"}, body, env={"AIGUARD_DISABLE": "1"})
    entry = log_json(repo, "-1")[0]
    assert entry["stamped"] is False and entry["evidence"] == "aiguard"
    assert entry["assisted_by"] == ["codex:gpt-5-codex"] and entry["ai_lines"] == 4


def test_post_commit_is_quiet_and_cheap_for_human_commits(repo: Repo):
    """No AI lines: no note, no pending folder left behind."""
    commit(repo, {"h.py": HUMAN}, "Human")
    assert repo.git("notes", "--ref", "refs/notes/aiguard", "list", check=False).stdout == b""
    assert not (repo.path / ".git" / "aiguard-pending").exists()


def test_ai_commit_leaves_no_pending_state(repo: Repo):
    record(MERGE_INTERVALS, "claude-code", "m")
    commit(repo, {"a.py": MERGE_INTERVALS}, "AI")
    assert unfiled_records(repo.path / ".git") == []  # filed, and emptied by the hook (no rm process)
    assert note(repo)["ai"] == MERGE_INTERVALS.count("\n")
    commit(repo, {"h.py": HUMAN}, "Human")  # the next stamp sweeps what post-commit consumed
    assert not (repo.path / ".git" / "aiguard-pending").exists()


def test_hosting_squash_merge_lines_from_the_ledger(repo: Repo):
    """A squash made on the server has no note; the ledger that saw the output finds its lines."""
    record(MERGE_INTERVALS, "claude-code", "claude-sonnet-4-5")
    n = MERGE_INTERVALS.count("\n")
    body = (f"Feature (#7)\n\n* add merging\n\nAssisted-by: claude-code:claude-sonnet-4-5\nAI-Lines: {n}/{n}\n"
            "AIGuard-Stamp: v1 0011aabb 1 " + "0" * 32 + " " + "1" * 32 + "\n\nCo-authored-by: Jane <j@example.com>\n")
    commit(repo, {"m.py": MERGE_INTERVALS}, body, env={"AIGUARD_DISABLE": "1"})
    entry = log_json(repo, "-1")[0]
    assert entry["stamped"] is False and entry["ai_lines"] == n
    assert entry["files"] == [{"path": "m.py", "ranges": [
        {"start": 1, "end": n, "tool": "claude-code", "model": "claude-sonnet-4-5"}]}]


def test_a_repository_without_commits_has_an_empty_history(make_repo, tmp_path):
    empty = make_repo()
    assert json.loads(aiguard("log", "--json", cwd=empty.path).stdout) == []
    assert aiguard("export", "--format", "jsonl", cwd=empty.path).stdout == b""
    assert json.loads(aiguard("stats", "--json", cwd=empty.path).stdout)["commits"] == 0
    out = tmp_path / "r.html"
    aiguard("report", "--html", str(out), cwd=empty.path)
    assert "No commits." in out.read_text()
    bad = aiguard("log", "--json", "HEAD~3", cwd=empty.path, check=False)
    assert bad.returncode == 2 and bad.stderr.decode().startswith("aiguard: git log failed")
