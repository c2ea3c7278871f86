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


# Messages for the fast path's gate: each word the cheap test looks for, in several cases and
# places, and near-misses that hold none of them (issue 19: the gate became one regex search
# plus one substring scan instead of nine substring scans, with the same answers).
GATE_MARKED = [
    "x\n\nAssisted-by: codex:gpt-5\n", "x\n\nASSISTED-BY: claude\n", "assisted-by: x", "x\n\nAI-Lines: 3/4\n",
    "ai-lines", "x\n\nAIGuard-Stamp: v1 abc\n", "x\n\nCo-authored-by: A <a@example.com>\n",
    "x\n\nCO-AUTHORED-BY: Claude <noreply@anthropic.com>", "x\n\nCo-Developed-By: Cursor <cursoragent@cursor.com>\n",
    "x\n\n\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)\n", "GENERATED", "regenerated docs",
    "x\n\nMade-with: Cursor\n", "x\n\nEntire-Checkpoint: abc\n", "x\n\nAmp-Thread: https://ampcode.com/threads/T-1\n",
    "x\n\nAmp-Thread-ID: T-1\n", "x\n\nGenerated-by: Claude Opus 4.6\n", "---assisted-by", "co-co-authored-by",
    "Signed-off-by: A <a@example.com>\nAssisted-by: x", "not a trailer but mentions ai-lines mid-line",
    "tail ends with made-with", "amp-threads are read", "xentire-checkpointx",
]
GATE_UNMARKED = [
    "", "x", "-", "--", "-by", "Signed-off-by: A <a@example.com>\nReviewed-by: B <b@example.com>\n",
    "assisted by a friend", "assistedby", "assisted\u2013by", "assisted-\nby", "assisted--by", "co-authored by",
    "co-authored-b", "ai-line", "ai lines", "aiguard stamp", "aiguard-stam", "made-wit", "made with",
    "entire-checkpoin", "amp-threa", "generate", "gener-ated", "g-enerated", "Helped-by: C <c@example.com>",
    "ASS\u0130STED-BY: x",  # a dotted capital I is not an ASCII letter: no lower-case `i` in bytes
    "Co-Authored-\u0412y", "a\x00co-authored\x00-by",
    # one letter off at the front, where the regex looks behind
    "xssisted-by", "bi-lines", "i-lines", "biguard-stamp", "do-authored-by", "o-developed-by", "nade-with",
    "fntire-checkpoint", "imp-thread",
]


def test_the_one_pass_gate_answers_as_the_substring_test():
    """`_plain_entries` lets a message on to the mark readers when it holds one of the keys as a
    substring, ASCII case ignored: the regex-and-substring gate says the same for every message."""
    search, plain = audit_history._GATE

    def gate(text: str) -> bool:
        low = text.encode().lower()
        return search(low) is not None or any(word in low for word in plain)

    keys = ("assisted-by", "ai-lines", "aiguard-stamp", "co-authored-by", "co-developed-by", "generated", "made-with",
            "entire-checkpoint", "amp-thread")
    for text in GATE_MARKED:
        assert gate(text), text
        assert any(key in text.encode().lower().decode("utf-8", "replace") for key in keys), text
    for text in GATE_UNMARKED:
        assert not gate(text), text
        assert not any(key.encode() in text.encode().lower() for key in keys), text
    # and over the real-world fixtures, both ways
    from pathlib import Path

    fixtures = json.loads((Path(__file__).parents[1] / "fixtures" / "real-marks" / "messages.json").read_text("utf-8"))
    for text in [m["message"] for m in fixtures]:
        assert gate(text) == any(key.encode() in text.encode().lower() for key in keys), text


def test_the_fast_path_classifies_each_kind_of_mark_as_the_diff_path(repo: Repo):
    """One commit per kind of mark (trailers, identities, body phrase, aiguard's own keys) and
    near-misses that carry none: `--no-diff` gives each the record the diff path gives."""
    env = {"AIGUARD_DISABLE": "1"}
    repo.write("a.txt", "a\n")
    repo.git("add", "a.txt")
    repo.git("commit", "-q", "-m", "Start", env=env)
    expected = {}  # subject -> (evidence, evidence_level)
    for i, (text, author, want) in enumerate([
        ("Co-authored-by: Claude <noreply@anthropic.com>", None, ("foreign", "trailer")),
        ("Co-developed-by: Cursor <cursoragent@cursor.com>", None, ("foreign", "trailer")),
        ("Assisted-by: Claude Opus 4.6", None, ("foreign", "trailer")),
        ("Generated-by: codex:gpt-5", None, ("foreign", "trailer")),
        ("Made-with: Cursor", None, ("foreign", "trailer")),
        ("Entire-Checkpoint: 0123abcd", None, ("foreign", "trailer")),
        ("Amp-Thread: https://ampcode.com/threads/T-1", None, ("foreign", "trailer")),
        ("\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)", None, ("foreign", "phrase")),
        ("plain body", "Amp <amp@ampcode.com>", ("foreign", "identity")),
        ("AI-Lines: 3/4", None, ("aiguard", None)),
        ("Signed-off-by: A <a@example.com>\nReviewed-by: B <b@example.com>", None, ("none", None)),
        ("assisted by a friend, co-authored by hand", None, ("none", None)),
        ("Co-authored-by: Junio C Hamano <gitster@pobox.com>", None, ("none", None)),
        ("regenerated the docs; made-with love", None, ("none", None)),
    ]):
        subject = f"change {i}"
        repo.write(f"f{i}.txt", f"{i}\n")
        repo.git("add", f"f{i}.txt")
        repo.git("commit", "-q", "-m", f"{subject}\n\n{text}", *(["--author", author] if author else []), env=env)
        expected[subject] = want
    full = {e.commit: e for e in audit_history.entries(["HEAD"], str(repo.path), False)}
    fast = list(audit_history.entries(["HEAD"], str(repo.path), False, diff=False))
    assert [e.commit for e in fast] == list(full)
    for e in fast:
        slow = full[e.commit]
        assert e._replace(added=slow.added, added_by_path=slow.added_by_path) == slow, e.subject
        if e.subject in expected:
            assert (e.evidence, e.evidence_level) == expected[e.subject], e.subject
