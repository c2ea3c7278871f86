"""Tool and model names keep to one charset, and the text views never pass control
characters through (issue 15): a newline in a model name made every commit with that
output unstampable, and escapes in names or commit fields (OSC 8 links, ESC[2J) reached
the terminal raw.

Real CLI, real git, real ledger; the transcript is the Claude Code fixture with its
model field made hostile.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from aiguard.core import names
from conftest import FIXTURES, MERGE_INTERVALS, aiguard

CLAUDE = FIXTURES / "assistant-logs" / "claude-code" / "claude-code-with-thinking.jsonl"
HOSTILE = "x\u001b[2Jy"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CODE = ("def clamp(value, low, high):\n    if value < low:\n        return low\n"
        "    if value > high:\n        return high\n    return value\n\n\n"
        "def scale(values, factor):\n    return [clamp(v * factor, 0, 255) for v in values]\n")


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# The charset ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["claude-code", "gpt-5.1-codex", "anthropic/claude-sonnet-4", "m@corp+1", "a_b"])
def test_valid_names(name):
    assert names.problem(name, "tool") is None and names.problem(name, "model") is None


@pytest.mark.parametrize("name", ["", "a\nb", "a b", "x\x1b[2Jy", "tab\there", "\u202egnp", "a" * 101, "é"])
def test_invalid_names(name):
    assert names.problem(name, "model") is not None
    clean = names.sanitise(name)
    assert names.problem(clean, "model") is None


def test_a_colon_only_in_models():
    assert names.problem("llama3:8b", "model") is None
    assert '":"' in names.problem("a:b", "tool")
    assert names.assisted_value("claude\ncode:m\x1b1\n") == "claude-code:m-1"


def test_visible_escapes_controls_and_bidi():
    assert names.visible("a\x1b[2Jb\r\n\x07\x9b\u202ec\td") == "a\\x1b[2Jb\\x0d\\x0a\\x07\\x9b\\u202ec\td"
    assert names.visible("one\ntwo", newlines=True) == "one\ntwo"
    assert names.visible("plain é text") == "plain é text"


# Where records enter ------------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("--model", "gpt-5\nAIGuard-Stamp: v1"), ("--tool", "chat\x1b[2Jgpt"),
                                           ("--tool", "chat:gpt"), ("--model", "m" * 101)])
def test_record_refuses_a_name_outside_the_charset(option, value):
    args = {"--tool": "chatgpt", "--model": "gpt-5", option: value}
    done = aiguard("record", "--tool", args["--tool"], "--model", args["--model"], input=CODE.encode(), check=False)
    line = one_line_error(done)
    assert line.startswith(f"aiguard: {option}: the ")
    assert ("allowed: A-Z a-z 0-9" in line) != ("at most 100" in line)
    assert "\x1b" not in line
    assert not (Path(os.environ["AIGUARD_HOME"]) / "ledger.sqlite3").exists()  # refused before anything is written


def test_record_jsonl_refuses_the_line(tmp_path):
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text(json.dumps({"tool": "chatgpt", "model": "a\nb", "text": CODE}) + "\n"
                     + json.dumps({"tool": "chatgpt", "model": "gpt-5", "text": MERGE_INTERVALS}) + "\n")
    done = aiguard("record", "--jsonl", str(jsonl), check=False)
    assert done.returncode == 2
    assert f"{jsonl}:1: the model name" in done.stderr.decode() and b"recorded 1" in done.stdout


def _hostile_transcript(tmp_path):
    transcript = tmp_path / "t.jsonl"
    text = CLAUDE.read_text()
    assert '"claude-sonnet-4-5-20250929"' in text
    transcript.write_text(text.replace('"claude-sonnet-4-5-20250929"', json.dumps(HOSTILE)))
    return transcript


def test_agent_hook_sanitises_the_model_and_the_commit_is_stamped_without_escapes(repo, tmp_path):
    transcript = _hostile_transcript(tmp_path)
    payload = {"session_id": "s", "transcript_path": str(transcript), "cwd": str(repo.path),
               "hook_event_name": "PostToolUse", "tool_name": "Write",
               "tool_input": {"file_path": str(repo.path / "pixels.py"), "content": CODE},
               "tool_response": {"filePath": str(repo.path / "pixels.py"), "success": True}}
    done = aiguard("agent-hook", "claude-code", input=json.dumps(payload).encode())
    assert done.returncode == 0 and done.stdout == b""
    said = done.stderr.decode()
    assert "\x1b" not in said
    assert said.count("\n") == 1 and 'model name "x\\x1b[2Jy"' in said and "taken as claude-code:x-2Jy" in said
    repo.write("pixels.py", CODE)
    repo.git("add", "pixels.py")
    repo.git("commit", "-q", "-m", "pixels")
    message = repo.raw_message()
    assert b"\x1b" not in message
    assert dict(repo.trailers())["Assisted-by"] == "claude-code:x-2Jy"


def test_ingest_sanitises_the_model(tmp_path):
    transcript = _hostile_transcript(tmp_path)
    home = Path(os.environ["AIGUARD_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("retention-days = 100000\n")  # the fixture is old
    done = aiguard("ingest", str(transcript))
    assert b"\x1b" not in done.stderr + done.stdout
    assert "taken as claude-code:x-2Jy" in done.stderr.decode()
    assert done.stderr.decode().count("taken as") == 1  # once per log and name, not per output


def test_a_ledger_from_before_the_charset_still_stamps(repo):
    """A name with a newline already in the ledger: the hook writes it sanitised, and stamps."""
    aiguard("record", "--tool", "chatgpt", "--model", "gpt-5", input=CODE.encode())
    ledger = os.path.join(os.environ["AIGUARD_HOME"], "ledger.sqlite3")
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("UPDATE records SET model = ?", ("gpt\n5\x1b[2J",)).rowcount == 1
    repo.write("pixels.py", CODE)
    repo.git("add", "pixels.py")
    done = repo.git("commit", "-q", "-m", "pixels")
    assert b"not stamped" not in done.stderr
    message = repo.raw_message()
    assert b"\x1b" not in message and b"AIGuard-Stamp: " in message
    assert dict(repo.trailers())["Assisted-by"] == "chatgpt:gpt-5-2J"
    verify = aiguard("verify", "HEAD", "--format", "json", cwd=repo.path, check=False)
    assert json.loads(verify.stdout)["ok"] is True, verify.stdout


# The text views ------------------------------------------------------------------------------

def test_views_escape_control_characters_in_commit_fields(repo):
    repo.write("a.py", "print('hello')\n")
    repo.git("add", "a.py")
    subject = f"Fix \x1b[2J{OSC8} \u202ebidi"
    repo.git("commit", "-q", "-m", f"{subject}\n\nCo-authored-by: Claude <noreply@anthropic.com>\n",
             env={"GIT_AUTHOR_NAME": "Eve \x1b[2J", "GIT_AUTHOR_EMAIL": "eve@example.com"})
    log = aiguard("log", cwd=repo.path).stdout.decode()
    assert "\x1b" not in log and "\u202e" not in log
    assert "Fix \\x1b[2J\\x1b]8;;https://evil.example/" in log
    stats = aiguard("stats", cwd=repo.path).stdout.decode()
    assert "\x1b" not in stats and "Eve \\x1b[2J" in stats
    verify = aiguard("verify", "HEAD", cwd=repo.path, check=False).stdout.decode()
    assert "\x1b" not in verify and "Fix \\x1b[2J" in verify
    github = aiguard("verify", "HEAD", "--format", "github", "--no-summary", cwd=repo.path, check=False)
    assert b"\x1b" not in github.stdout
    blame = aiguard("blame", "a.py", cwd=repo.path).stdout.decode()
    assert "\x1b" not in blame


def test_html_report_drops_control_characters(repo, tmp_path):
    repo.write("a.py", "print('hello')\n")
    repo.git("add", "a.py")
    repo.git("commit", "-q", "-m", f"Fix {OSC8}\n\nCo-authored-by: Claude <noreply@anthropic.com>\n",
             env={"GIT_AUTHOR_NAME": "Eve \x1b[2J", "GIT_AUTHOR_EMAIL": "eve@example.com"})
    out = tmp_path / "r.html"
    aiguard("report", "--html", str(out), cwd=repo.path)
    html = out.read_text()
    assert "\x1b" not in html and "Eve \\x1b[2J" in html
