"""Other tools' marks (pure): identities by e-mail, disclosure trailers, git-ai notes."""

from __future__ import annotations

import pytest

from aiguard.audit import foreign


@pytest.mark.parametrize("message, expected", [
    (b"Fix\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n", ["claude-code:claude-opus-4-5"]),
    (b"Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\n", ["claude-code:unknown"]),
    (b"Fix\n\nCo-authored-by: aider (anthropic/claude-sonnet-4-20250514) <aider@aider.chat>\n",
     ["aider:anthropic/claude-sonnet-4-20250514"]),
    (b"Fix\n\nCo-authored-by: Codex <noreply@openai.com>\n", ["codex:unknown"]),
    (b"Fix\n\nCo-authored-by: Copilot <223556219+Copilot@users.noreply.github.com>\n", ["copilot:unknown"]),
    (b"Fix\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>\nMade-with: Cursor\n", ["cursor:unknown"]),
    (b"Fix\n\nAssisted-by: gemini-cli:gemini-2.5-pro\n", ["gemini-cli:gemini-2.5-pro"]),
    (b"Fix\n\nGenerated-by: Claude Code (claude-sonnet-4-6)\n", ["claude-code:claude-sonnet-4-6"]),
    (b"Fix\n\nAssisted-By: ChatGPT gpt-4o\n", ["chatgpt:gpt-4o"]),
    (b"Fix\n\nEntire-Checkpoint: 01K9TQ8ZP7X3F5M2WVJ4CNRB6D\n", ["entire:unknown"]),
    # People, and marks that are not in the final trailer block, are not tools.
    (b"Fix\n\nCo-authored-by: Claude Monet <claude@monet.fr>\n", []),
    (b"Fix\n\nCo-authored-by: Cursor <cursor@example.com>\n", []),
    (b"Fix\n\nCo-authored-by: Codex <noreply@openai.com>\n\nA body paragraph after it.\n", []),
    (b"Fix\n\nCo-authored-by: X <1234+claude[bot]@users.noreply.github.com>\n", ["claude-code:unknown"]),
    (b"Fix\n\nCo-authored-by: X <abc+claude[bot]@users.noreply.github.com>\n", []),
])
def test_marks_from_trailers(message, expected):
    assert foreign.marks(message) == expected


def test_marks_from_author_and_committer():
    assert foreign.marks(b"x\n", "Jane (aider) <jane@example.com>") == ["aider:unknown"]
    assert foreign.marks(b"x\n", "Jane <jane@example.com>", "Jane (aider) <jane@example.com>") == ["aider:unknown"]
    assert foreign.marks(b"x\n", "Copilot <198982749+Copilot@users.noreply.github.com>") == ["copilot:unknown"]
    assert foreign.marks(b"x\n", "Jane <jane@example.com>") == []
    # the model from aider's co-author trailer wins over the bare author suffix
    both = b"x\n\nCo-authored-by: aider (gpt-5) <noreply@aider.chat>\n"
    assert foreign.marks(both, "Jane (aider) <j@e>") == ["aider:gpt-5"]


NOTE = b"""src/a.py
  s_1a2b3c4d5e6f70::t_0011223344556a 1-4,9-10,12
  h_99887766554433 5-8
"docs/with space.md"
  s_0000000000000a::t_0000000000000b 3
---
{"schema_version":"authorship/3.0.0","base_commit_sha":"abc","prompts":{},
 "sessions":{"s_1a2b3c4d5e6f70":{"agent_id":{"tool":"claude","id":"x","model":"claude-sonnet-4-5"}},
             "s_0000000000000a":{"agent_id":{"tool":"windsurf","id":"y","model":"swe-1"}}}}
"""


def test_git_ai_note():
    note = foreign.parse_git_ai(NOTE)
    assert note is not None
    assert note.files["src/a.py"] == [(1, 4, "claude-code", "claude-sonnet-4-5"), (9, 10, "claude-code", "claude-sonnet-4-5"),
                                      (12, 12, "claude-code", "claude-sonnet-4-5")]
    assert note.files["docs/with space.md"] == [(3, 3, "windsurf", "swe-1")]
    assert note.assisted_by == ["claude-code:claude-sonnet-4-5", "windsurf:swe-1"]


@pytest.mark.parametrize("data", [b"", b"just text", b"a\n---\nnot json", b'x\n---\n{"schema_version": "other"}',
                                  b"\xff\xfe\x00garbage"])
def test_git_ai_note_garbage(data):
    assert foreign.parse_git_ai(data) is None
