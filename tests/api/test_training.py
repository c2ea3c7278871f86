"""The training-data API (aiguard.training) agrees with `aiguard log --json`."""

from __future__ import annotations

import json

import pytest

from aiguard.training import ExportIndex, Repository, commit_verdict
from conftest import aiguard
from test_audit import history  # noqa: F401  (the fixture)

STAMP = "AIGuard-Stamp: v1 0011aabb 1 " + "0" * 32 + " " + "1" * 32


@pytest.mark.parametrize("message, ai, evidence, assisted", [
    (f"Fix\n\nAssisted-by: claude-code:m\nAI-Lines: 3/9\n{STAMP}\n", True, "aiguard", ["claude-code:m"]),
    (f"Fix\n\nAI-Lines: 0/9\n{STAMP.replace(' 1 ', ' 0 ')}\n", False, "none", []),
    # git's rules: a trailer-looking line in the body does not count
    ("Fix\n\nAssisted-by: claude-code:m\n\nMore body text.\n", False, "none", []),
    ("Fix\n\nCo-authored-by: Codex <noreply@openai.com>\nSigned-off-by: A <a@b>\n", True, "foreign", ["codex:unknown"]),
    ("Plain message\n", False, "none", []),
])
def test_commit_verdict(message, ai, evidence, assisted):
    verdict = commit_verdict(message)
    assert (verdict.ai_derived, verdict.evidence, verdict.assisted_by) == (ai, evidence, assisted)
    assert commit_verdict(message.encode()) == verdict


def test_repository_and_export_index_agree_with_log(history, tmp_path):  # noqa: F811
    repo, shas, _ = history
    entries = json.loads(aiguard("log", "--json", cwd=repo.path).stdout)
    api = Repository(repo.path)
    assert [e.commit for e in api.commits()] == [e["commit"] for e in entries]
    export = tmp_path / "proj.jsonl"
    aiguard("export", "--format", "jsonl", "-o", str(export), cwd=repo.path)
    index = ExportIndex.load(str(tmp_path / "*.jsonl"))
    for e in entries:
        ai = bool(e["assisted_by"] or e["ai_lines"])
        assert api.is_ai_commit(e["commit"]) is ai
        assert index.is_ai_commit(e["commit"]) is ai
        assert index.is_ai_commit(e["commit"], repo="proj") is ai
        assert index.is_ai_commit(e["commit"][:12]) is ai
        for f in e["files"]:
            for r in f["ranges"]:
                name = f"{r['tool']}:{r['model']}"
                for line in (r["start"], r["end"]):
                    assert api.line(e["commit"], f["path"], line) == name
                    assert index.line(e["commit"], f["path"], line) == name
                assert index.lines_overlap(e["commit"], f["path"], r["end"], r["end"] + 50) == [name]
    assert index.is_ai_commit("0" * 40) is None
    assert api.line(shas["human"], "human.py", 1) is None
    assert api.ai_lines(shas["claude"]) == {"lib.py": [(r["start"], r["end"], f"{r['tool']}:{r['model']}")
                                                      for e in entries if e["commit"] == shas["claude"]
                                                      for f in e["files"] for r in f["ranges"]]}


def test_export_index_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"commit": "a"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        ExportIndex.load(str(bad))
