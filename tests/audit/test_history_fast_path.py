"""`export --no-diff` / `log --no-diff` (the fast path for training-data filters): the same
records as with the diff, except `added`, which is null where only the diff counts it."""

from __future__ import annotations

import json

from conftest import Repo, aiguard
from test_audit import history  # noqa: F401  (the fixture: stamped, foreign, git-ai and human commits)

from aiguard.audit import history as audit_history
from aiguard.audit import views


def export(repo: Repo, *args) -> list[dict]:
    out = aiguard("export", "--format", "jsonl", "--no-ledger", *args, cwd=repo.path).stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def test_no_diff_gives_the_same_records_but_added_where_unknown(history):  # noqa: F811
    repo, shas, _texts = history
    repo.git("mv", "lib.py", "moved.py")
    repo.git("commit", "-q", "-m", "Move lib.py", env={"AIGUARD_DISABLE": "1"})
    repo.git("checkout", "-q", "-b", "side", shas["human"])
    repo.write("side.txt", "side\n")
    repo.git("add", "side.txt")
    repo.git("commit", "-q", "-m", "side", env={"AIGUARD_DISABLE": "1"})
    repo.git("checkout", "-q", "-")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge side", "side", env={"AIGUARD_DISABLE": "1"})

    full, fast = export(repo), export(repo, "--no-diff")
    assert [e["commit"] for e in fast] == [e["commit"] for e in full]
    git_ai = set(repo.out("notes", "--ref", "refs/notes/ai", "list").split()[1::2])
    unknown = set()
    for slow, quick in zip(full, fast):
        message = repo.out("log", "-1", "--format=%B", slow["commit"])
        parents = repo.out("log", "-1", "--format=%P", slow["commit"]).split()
        counted = "AI-Lines:" in message or slow["commit"] in git_ai or len(parents) > 1
        if counted:
            assert quick == slow
        else:
            assert quick["added"] is None and quick == {**slow, "added": None}
            unknown.add(slow["commit"])
    # the ones made without the hook: the co-author commit, the move and the side branch's
    assert shas["coauthor"] in unknown and len(unknown) == 3
    by_sha = {e["commit"]: e for e in fast}
    assert by_sha[shas["gitai"]]["added"] == 4 and by_sha[shas["gitai"]]["ai_lines"] == 3  # diffed for the clip
    merge = next(e for e in fast if e["commit"] == repo.out("rev-parse", "HEAD").strip())
    assert merge["added"] == 0  # git log diffs no merge: as with --numstat

    text = aiguard("log", "--no-diff", "--no-ledger", cwd=repo.path).stdout.decode()
    assert "/?" in text
    assert json.loads(aiguard("log", "--json", "--no-diff", "--no-ledger", cwd=repo.path).stdout) == fast


def test_first_parent_merges_keep_their_diff_in_the_fast_path(history):  # noqa: F811
    repo, shas, _texts = history
    full = {e.commit: e for e in audit_history.entries(["--first-parent", "HEAD"], str(repo.path), False)}
    fast = {e.commit: e for e in audit_history.entries(["--first-parent", "HEAD"], str(repo.path), False, diff=False)}
    assert fast[shas["gitai"]] == full[shas["gitai"]]._replace(added_by_path={})


def test_the_direct_jsonl_line_is_json_dumps(history):  # noqa: F811
    repo, _shas, _texts = history
    repo.git("commit", "-q", "--allow-empty", "-m", 'Quote " backslash \\ tab \t and \x1b escape',
             "--author", 'Ünï "Cödé" <u@example.com>', env={"AIGUARD_DISABLE": "1"})
    for diff in (True, False):
        for e in audit_history.entries(["HEAD"], str(repo.path), False, diff=diff):
            assert views.jsonl_line(e) == json.dumps(e.to_json(), ensure_ascii=False)


def test_the_training_api_takes_the_fast_path(history):  # noqa: F811
    from aiguard.training import Repository

    repo, shas, _texts = history
    full = {e.commit: e for e in Repository(repo.path).commits()}
    fast = Repository(repo.path, diff=False)
    for e in fast.commits():
        assert e._replace(added=full[e.commit].added, added_by_path={}) == full[e.commit]._replace(added_by_path={})
    assert fast.is_ai_commit(shas["coauthor"]) and fast.commit(shas["coauthor"]).added is None
    assert Repository(repo.path, diff=False).commit(shas["gitai"]).added == 4


def test_the_cheap_gate_lets_through_every_real_mark():
    """history._entry skips the trailer and mark readers when the substring gate says a
    message has nothing: every real-world message with a mark (the fixtures) and aiguard's own
    keys, in any case, must pass it."""
    from pathlib import Path

    from aiguard.audit import foreign

    fixtures = json.loads((Path(__file__).parents[1] / "fixtures" / "real-marks" / "messages.json").read_text("utf-8"))
    texts = [m["message"] for m in fixtures] + [
        "x\n\nASSISTED-BY: codex:gpt-5\n", "x\n\nai-lines: 3/4\n", "x\n\nAIGuard-Stamp: v1 abc\n",
        "x\n\n\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)\n",
        "x\n\nCo-Developed-By: Cursor <cursoragent@cursor.com>\n", "x\n\nMade-with: Cursor\n",
        "x\n\nEntire-Checkpoint: abc\n", "x\n\nAmp-Thread: https://ampcode.com/threads/T-1\n",
        "x\n\nGenerated-by: Claude Opus 4.6\n"]
    for text in texts:
        message = text.encode()
        if foreign.evidence(message) or b"ai-lines" in message.lower() or b"aiguard-stamp" in message.lower():
            low = message.lower()
            assert audit_history._has_own_keys(low) or foreign.may_have_marks(low), text


def test_log_json_is_json_dumps_of_the_records(history):  # noqa: F811
    import io

    repo, _shas, _texts = history
    repo.git("commit", "-q", "--allow-empty", "-m", 'Quote " and \\ and \x1b', "--author", 'Ünï "C" <u@example.com>',
             env={"AIGUARD_DISABLE": "1"})
    for diff in (True, False):
        records = list(audit_history.entries(["HEAD"], str(repo.path), False, diff=diff))
        assert any(e.files for e in records) and any(not e.ai_derived for e in records)
        out = io.StringIO()
        views.log_json(records, out)
        assert out.getvalue() == json.dumps([e.to_json() for e in records], ensure_ascii=False, indent=1) + "\n"
    empty = io.StringIO()
    views.log_json([], empty)
    assert empty.getvalue() == "[]\n"


def test_stats_no_diff_gives_the_commit_level_shares(history):  # noqa: F811
    repo, _shas, _texts = history
    full = json.loads(aiguard("stats", "--json", "--no-ledger", cwd=repo.path).stdout)
    fast = json.loads(aiguard("stats", "--json", "--no-ledger", "--no-diff", cwd=repo.path).stdout)
    for key in ("commits", "ai_commits", "commit_share", "lines_unknown", "first", "last"):
        assert fast[key] == full[key], key
    assert full["ai_commits"] >= 4 and fast["lines"] == "commit-level" and "lines" not in full
    assert fast["added"] is None and fast["share"] is None and fast["by_path"] == [] and full["by_path"]
    for table in ("by_tool", "by_model", "by_author", "by_month"):
        counts = {r["key"]: (r.get("commits", r.get("ai_commits")), r["lines_unknown"]) for r in fast[table]}
        assert counts == {r["key"]: (r.get("commits", r.get("ai_commits")), r["lines_unknown"]) for r in full[table]}
        assert all(r.get("line_share") is None and r.get("added") is None and r.get("share") is None
                   for r in fast[table])
    text = aiguard("stats", "--no-ledger", "--no-diff", cwd=repo.path).stdout.decode()
    assert f"{fast['ai_commits']} AI-derived" in text and "added lines not counted" in text
