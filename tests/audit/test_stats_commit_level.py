"""stats: commit-level evidence shows in the numbers (commits and commit shares per tool and
model beside the lines, "lines unknown" counted), and authors are merged by identity."""

from __future__ import annotations

import json

from conftest import Repo, aiguard


def commit(repo: Repo, name: str, message: str, author: str | None = None) -> None:
    repo.write(name, "a = 1\nb = 2\n")
    repo.git("add", name)
    repo.git("commit", "-q", "-m", message, *(["--author", author] if author else []),
             env={"AIGUARD_DISABLE": "1"})


def stats(repo: Repo) -> dict:
    return json.loads(aiguard("stats", "--json", "--no-ledger", cwd=repo.path).stdout)


def test_commit_level_marks_count_per_tool_and_model(make_repo):
    repo = make_repo()
    for i in range(3):
        commit(repo, f"c{i}.py", f"c{i}\n\nCo-authored-by: Claude Opus 4.6 <noreply@anthropic.com>")
    commit(repo, "a.py", "aider edit", author="Ann Example (aider) <ann@example.com>")
    commit(repo, "h.py", "by hand", author="Ann Example <ann@example.com>")
    result = stats(repo)
    assert (result["commits"], result["ai_commits"], result["lines_unknown"], result["ai_lines"]) == (5, 4, 4, 0)
    assert result["commit_share"] == 0.8
    tools = {row["key"]: row for row in result["by_tool"]}
    assert set(tools) == {"claude-code", "aider"}  # never empty when marks exist
    assert (tools["claude-code"]["commits"], tools["claude-code"]["commit_share"],
            tools["claude-code"]["lines_unknown"], tools["claude-code"]["ai_lines"]) == (3, 0.6, 3, 0)
    models = {row["key"]: row for row in result["by_model"]}
    assert models["claude-code:claude-opus-4-6"]["commits"] == 3 and models["aider:unknown"]["commits"] == 1
    # "Ann Example (aider)" is Ann: one row, her two commits' added lines, one AI-derived
    authors = {row["key"]: row for row in result["by_author"]}
    assert authors["Ann Example <ann@example.com>"]["added"] == 4
    assert authors["Ann Example <ann@example.com>"]["ai_commits"] == 1
    assert not any("(aider)" in key for key in authors)
    text = aiguard("stats", "--no-ledger", cwd=repo.path).stdout.decode()
    assert "4 AI-derived (80.0%, 4 with lines unknown)" in text and "claude-code" in text


def test_authors_follow_the_mailmap(make_repo):
    repo = make_repo()
    commit(repo, "a.py", "one", author="Bob Old <bob@old.example>")
    commit(repo, "b.py", "two\n\nCo-authored-by: Codex <noreply@openai.com>", author="Bob New <bob@new.example>")
    repo.write(".mailmap", "Bob New <bob@new.example> <bob@old.example>\n")
    repo.git("add", ".mailmap")
    repo.git("commit", "-q", "-m", "mailmap", "--author", "Bob New <bob@new.example>", env={"AIGUARD_DISABLE": "1"})
    authors = {row["key"]: row for row in stats(repo)["by_author"]}
    assert set(authors) == {"Bob New <bob@new.example>"}
    assert (authors["Bob New <bob@new.example>"]["ai_commits"], authors["Bob New <bob@new.example>"]["added"]) == (1, 5)
    # the records keep the author as written
    log = json.loads(aiguard("log", "--json", "--no-ledger", cwd=repo.path).stdout)
    assert log[-1]["author"] == "Bob Old <bob@old.example>"
