"""Real-world marks (issue 19): commit messages from public histories -> TOOL:MODEL values and their level.

The messages are in tests/fixtures/real-marks/messages.json (subject and trailer block only; see
SOURCES.md there). The expectations below were written by hand from each message, not from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiguard.audit import foreign
from aiguard.training import commit_verdict
from conftest import aiguard

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "real-marks" / "messages.json").read_text("utf-8"))
BY_ID = {m["id"]: m for m in FIXTURES}

# id -> (every value evidence() gives, the strongest level or None, what marks() gives)
EXPECTED = {
    "beads-amp-1": (["amp:unknown"], "trailer", ["amp:unknown"]),
    "beads-amp-2": (["amp:unknown"], "trailer", ["amp:unknown"]),  # `CI Bot <ci@beads.test>` is no assistant
    "beads-opus-4-5": (["claude-code:claude-opus-4-5"], "trailer", ["claude-code:claude-opus-4-5"]),
    "beads-opus-4-6": (["claude-code:claude-opus-4-6"], "trailer", ["claude-code:claude-opus-4-6"]),
    "beads-opus-4-6-1m": (["claude-code:claude-opus-4-6"], "trailer", ["claude-code:claude-opus-4-6"]),
    "beads-opus-4-7-1m": (["claude-code:claude-opus-4-7"], "trailer", ["claude-code:claude-opus-4-7"]),
    "beads-sonnet-4-6": (["claude-code:claude-sonnet-4-6"], "trailer", ["claude-code:claude-sonnet-4-6"]),
    "beads-sonnet-4-5": (["claude-code:claude-sonnet-4-5"], "trailer", ["claude-code:claude-sonnet-4-5"]),
    "beads-claude": (["claude-code:unknown"], "trailer", ["claude-code:unknown"]),
    "beads-phrase-other-trailers": (["claude-code:unknown"], "phrase", []),
    "beads-phrase-only-1": (["claude-code:unknown"], "phrase", []),
    "beads-phrase-only-2": (["claude-code:unknown"], "phrase", []),
    "beads-claude-phrase-trailer": (["claude-code:unknown"], "trailer", ["claude-code:unknown"]),
    "beads-copilot": (["copilot:unknown", "cursor:unknown"], "trailer", ["copilot:unknown", "cursor:unknown"]),
    "beads-factory-droid": (["factory-droid:unknown"], "trailer", ["factory-droid:unknown"]),
    "beads-human-co-author": ([], None, []),
    "beads-dependabot": ([], None, []),
    "beads-claude-author": (["claude-code:claude-opus-4-6"], "trailer", ["claude-code:claude-opus-4-6"]),
    "aider-author": (["aider:unknown"], "identity", ["aider:unknown"]),
    "aider-gemini": (["aider:gemini/gemini-2.5-pro"], "trailer", ["aider:gemini/gemini-2.5-pro"]),
    "aider-gpt-5-2-codex": (["aider:gpt-5.2-codex"], "trailer", ["aider:gpt-5.2-codex"]),
    "aider-vertex": (["aider:vertex_ai/gemini-2.5-pro-exp-03-25"], "trailer", ["aider:vertex_ai/gemini-2.5-pro-exp-03-25"]),
    "aider-gpt-5": (["aider:gpt-5"], "trailer", ["aider:gpt-5"]),
    "git-assisted-by-person": ([], None, []),
    "git-assisted-by-claude-opus-4-6": (["claude:claude-opus-4-6"], "trailer", ["claude:claude-opus-4-6"]),
    "git-assisted-by-opus-4-7": (["claude:claude-opus-4-7"], "trailer", ["claude:claude-opus-4-7"]),
}

_RANK = {"trailer": 0, "identity": 1, "phrase": 2}


def test_every_fixture_has_an_expectation():
    assert sorted(BY_ID) == sorted(EXPECTED)
    for m in FIXTURES:
        assert m["repo"] and m["commit"] and m["message"].strip(), m["id"]


@pytest.mark.parametrize("ident", sorted(EXPECTED))
def test_real_message(ident):
    m = BY_ID[ident]
    values, level, strong = EXPECTED[ident]
    message = m["message"].encode("utf-8")
    found = foreign.evidence(message, m["author"], m["committer"])
    assert [f.value for f in found] == values
    assert min((f.level for f in found), key=_RANK.__getitem__, default=None) == level
    assert foreign.marks(message, m["author"], m["committer"]) == strong
    verdict = commit_verdict(message, m["author"], m["committer"])
    assert verdict.ai_derived is bool(values)
    assert verdict.evidence == ("foreign" if values else "none")
    assert verdict.evidence_level == level
    assert verdict.assisted_by == values


# Identities confirmed in public repositories (SOURCES.md, "Identities"), as co-author and as author.
@pytest.mark.parametrize("who, tool", [
    ("Amp <amp@ampcode.com>", "amp"),
    ("Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>", "devin"),
    ("devin-ai-integration[bot] <158243242+devin-ai-integration[bot]@users.noreply.github.com>", "devin"),
    ("Droid <droid@factory.ai>", "factory-droid"),
    ("factory-droid[bot] <138933559+factory-droid[bot]@users.noreply.github.com>", "factory-droid"),
    ("google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>", "jules"),
    ("Copilot <198982749+Copilot@users.noreply.github.com>", "copilot"),
    ("copilot-swe-agent[bot] <198982749+copilot-swe-agent[bot]@users.noreply.github.com>", "copilot"),
    ("Copilot <copilot-swe-agent[bot]@users.noreply.github.com>", "copilot"),
])
def test_agent_identities(who, tool):
    trailer = f"Fix\n\nCo-authored-by: {who}\n".encode()
    assert foreign.evidence(trailer) == [foreign.Mark(f"{tool}:unknown", "trailer")]
    assert foreign.evidence(b"Fix\n", who) == [foreign.Mark(f"{tool}:unknown", "identity")]
    # the same display name with someone else's address is not the agent
    name = who.split(" <")[0]
    assert foreign.marks(f"Fix\n\nCo-authored-by: {name} <someone@example.com>\n".encode(), f"{name} <a@example.com>") == []


@pytest.mark.parametrize("value, expected", [
    # people are not tools: a person's address and no tool or model in the name
    ("Junio C Hamano <gitster@pobox.com>", []),
    ("Claude Monet <claude@monet.fr>", []),
    # ...but an assistant's address, a model or a tool's name is
    ("Claude Opus 4.6 <noreply@anthropic.com>", ["claude-code:claude-opus-4-6"]),
    ("Claude Sonnet 4.5 <me@example.com>", ["claude:claude-sonnet-4-5"]),
    ("Cursor <me@example.com>", ["cursor:unknown"]),
    # model names -> the assistants' own ids; a bare model gets its family's tool
    ("Claude Opus 4.6", ["claude:claude-opus-4-6"]),
    ("Claude Opus 4.6 (1M context)", ["claude:claude-opus-4-6"]),
    ("Opus 4.7", ["claude:claude-opus-4-7"]),
    ("Claude 3.5 Sonnet", ["claude:claude-3-5-sonnet"]),
    ("GPT-5 Codex", ["codex:gpt-5-codex"]),
    ("GPT-5.1-Codex-Max", ["codex:gpt-5.1-codex-max"]),
    ("GPT-4.1 mini", ["openai:gpt-4.1-mini"]),
    ("o3", ["openai:o3"]),
    ("Gemini 2.5 Pro", ["gemini:gemini-2.5-pro"]),
    # a tool and a model
    ("Claude Code (claude-sonnet-4-6)", ["claude-code:claude-sonnet-4-6"]),
    ("Cursor (Claude Sonnet 4.5)", ["cursor:claude-sonnet-4-5"]),
    ("GitHub Copilot GPT-5", ["copilot:gpt-5"]),
    ("Claude Code Opus 4.5", ["claude-code:claude-opus-4-5"]),
    ("ChatGPT gpt-4o", ["chatgpt:gpt-4o"]),
    ("gemini-cli:gemini-2.5-pro", ["gemini-cli:gemini-2.5-pro"]),
    ("Windsurf (some note)", ["windsurf:unknown"]),
])
def test_assisted_by_values(value, expected):
    assert foreign.marks(f"Fix\n\nAssisted-by: {value}\n".encode()) == expected


@pytest.mark.parametrize("name, model", [
    ("Claude Opus 4.6 (1M context)", "claude-opus-4-6"),
    ("Claude Sonnet 4.5", "claude-sonnet-4-5"),
    ("Claude Haiku 4.5", "claude-haiku-4-5"),
    ("Claude", "unknown"),
    ("Claude Code", "unknown"),
])
def test_claude_code_co_author_models(name, model):
    assert foreign.marks(f"Fix\n\nCo-Authored-By: {name} <noreply@anthropic.com>\n".encode()) == [f"claude-code:{model}"]


@pytest.mark.parametrize("body, expected", [
    ("\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)", "claude-code:unknown"),
    ("Generated with Claude Code", "claude-code:unknown"),
    ("**Generated with [Devin](https://devin.ai)**", "devin:unknown"),
    ("\U0001f916 Generated with [Amp](https://ampcode.com)", "amp:unknown"),
    # a sentence about a tool, and a tool not in the table, are not marks
    ("This PR was not generated with Claude Code.", None),
    ("We generated with Claude Code the first draft and rewrote it", None),
    ("\U0001f916 Generated with [Nori](https://nori.ai)", None),
])
def test_body_phrases_are_a_weaker_level(body, expected):
    message = f"Fix\n\n{body}\n".encode()
    assert foreign.evidence(message) == ([foreign.Mark(expected, "phrase")] if expected else [])
    assert foreign.marks(message) == []  # the trailer/identity reading (verify, h8) does not count them


def test_amp_thread_trailer():
    message = b"Fix\n\nAmp-Thread-ID: https://ampcode.com/threads/T-0f3a\nCo-authored-by: Amp <amp@ampcode.com>\n"
    assert foreign.evidence(message) == [foreign.Mark("amp:unknown", "trailer")]
    assert foreign.marks(b"Fix\n\nAmp-Thread-ID: https://example.com/x\n") == []


def test_long_values_stay_cheap():
    # a hand-written value of many words is searched for a model in its first words only
    found = foreign.marks(b"Fix\n\nAssisted-by: " + b"word " * 100_000 + b"Claude Opus 4.6\n")
    assert len(found) == 1 and found[0].endswith(":unknown") and "claude-opus-4-6" not in found[0]
    assert foreign.marks(b"Fix\n\nAssisted-by: Cursor Claude Opus 4.6 " + b"x " * 100_000 + b"\n") == \
        ["cursor:claude-opus-4-6"]


def test_log_export_stats_carry_the_level(make_repo, tmp_path):
    r = make_repo()
    for i, message in enumerate([
        "human work",
        "phrase only\n\n\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)\n",
        "trailer\n\nCo-Authored-By: Claude Opus 4.6 (1M context) <noreply@anthropic.com>\n",
        "person\n\nAssisted-by: Junio C Hamano <gitster@pobox.com>\n",
    ]):
        r.write(f"f{i}.txt", "x\n" * (i + 1))
        r.git("add", "-A")
        r.git("commit", "-q", "-m", message)
    log = json.loads(aiguard("log", "--json", cwd=r.path).stdout)
    rows = [(e["evidence"], e["evidence_level"], e["assisted_by"]) for e in log]
    assert rows == [("none", None, []),
                    ("foreign", "trailer", ["claude-code:claude-opus-4-6"]),
                    ("foreign", "phrase", ["claude-code:unknown"]),
                    ("none", None, [])]
    text = aiguard("log", cwd=r.path).stdout.decode("utf-8")
    assert "foreign (phrase): claude-code:unknown" in text and "foreign (trailer): claude-code:claude-opus-4-6" in text
    exported = [json.loads(line) for line in aiguard("export", "--format", "jsonl", cwd=r.path).stdout.splitlines()]
    assert [(e["commit"], e["evidence_level"]) for e in exported] == [(e["commit"], e["evidence_level"]) for e in log]
    trace = aiguard("export", "--format", "agent-trace", cwd=r.path).stdout.splitlines()
    assert len(trace) == 2
    stats = json.loads(aiguard("stats", "--json", cwd=r.path).stdout)
    assert (stats["commits"], stats["ai_commits"], stats["ai_lines"]) == (4, 2, 0)  # commit-level marks only
    aiguard("report", "--html", str(tmp_path / "report.html"), cwd=r.path)
    assert "claude-code" in (tmp_path / "report.html").read_text("utf-8")


def test_git_ai_note_levels(make_repo):
    r = make_repo()
    r.write("a.py", "x = 1\ny = 2\n")
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "no agents in its note")
    r.git("notes", "--ref=ai", "add", "-m", '---\n{"schema_version": "authorship/3", "sessions": {}}')
    r.write("b.py", "z = 3\n")
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "a cursor session\n\n\U0001f916 Generated with Claude Code\n")
    r.git("notes", "--ref=ai", "add", "-m", 'b.py\n  s1 1\n---\n{"schema_version": "authorship/3", '
                                             '"sessions": {"s1": {"agent_id": {"tool": "cursor", "model": "gpt-5"}}}}')
    log = json.loads(aiguard("log", "--json", cwd=r.path).stdout)
    assert [(e["evidence"], e["evidence_level"], e["assisted_by"], e["ai_lines"]) for e in log] == [
        ("foreign", "note", ["claude-code:unknown", "cursor:gpt-5"], 1),
        ("none", None, [], 0)]
