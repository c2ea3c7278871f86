"""Gemini CLI, Cursor and Copilot sources on real logs (tests/fixtures/assistant-logs, see SOURCES.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiguard.capture.sources import log_roots
from conftest import FIXTURES

from aiguard.capture.sources import copilot, cursor, gemini_cli, registry
from aiguard.capture.sources.common import Output, Skip, complete_lines

LOGS = FIXTURES / "assistant-logs"
GEMINI = LOGS / "gemini-cli"
COPILOT = LOGS / "copilot"
CURSOR = LOGS / "cursor"


def outputs(module, path: Path) -> list[Output]:
    return [o for o in module.parse_log(path, path.read_bytes(), {}) if isinstance(o, Output)]


def test_registry_has_the_new_sources():
    assert {"gemini-cli", "copilot", "cursor", "claude-code", "codex", "cline", "windsurf", "aider", "qwen-code",
            "kimi-cli", "roo-code", "kilo-code", "kiro", "firebender", "opencode", "goose", "amp", "droid",
            "continue"} == set(registry())


# --- Gemini CLI -------------------------------------------------------------------------------

def test_gemini_replace_calls_with_model_file_and_time():
    found = outputs(gemini_cli, GEMINI / "gitai-gemini-session-simple.jsonl")
    # Two `replace` calls (the first one failed to match and was retried); read_file is not output.
    text = "console.log('hello world');\nconsole.log('hello bob');"
    assert [(o.tool, o.model, o.file, o.text, o.source) for o in found] == [
        ("gemini-cli", "gemini-2.5-flash", "/Users/svarlamov/projects/testing-git/index.ts", text, "assistant-log")] * 2
    assert all(o.cwd is None for o in found)  # the recording holds no working directory
    assert [o.time for o in found] == [pytest.approx(1765045557.128), pytest.approx(1765045641.837)]


def test_gemini_shell_calls_and_legacy_chats_without_tools_give_nothing_and_no_skips():
    for name in ("agentsessions-jsonl_v040.jsonl", "agentsessions-legacy-small.json", "agenthistory-real-session-01.json"):
        items = list(gemini_cli.parse_log(GEMINI / name, (GEMINI / name).read_bytes(), {}))
        assert items == [], name


def test_gemini_legacy_json_with_a_write_file(tmp_path):
    record = json.loads((GEMINI / "agentsessions-legacy-small.json").read_text())
    record["messages"][1]["toolCalls"] = [
        {"id": "w1", "name": "write_file", "args": {"file_path": "/w/a.py", "content": "a = 1\n"}, "status": "success"},
        {"id": "w2", "name": "write_file", "args": {"file_path": "/w/b.py", "content": "b = 1\n"}, "status": "error"}]
    log = tmp_path / "session-2026-01-16T18-34-3739ef95.json"
    log.write_text(json.dumps(record, indent=2))
    [out] = outputs(gemini_cli, log)
    assert (out.model, out.file, out.text) == ("gemini-3-flash-preview", "/w/a.py", "a = 1\n")
    log.write_text(log.read_text()[:-20])  # caught mid-rewrite
    assert [s.reason for s in gemini_cli.parse_log(log, log.read_bytes(), {})] == ["not JSON"]


def test_gemini_reappended_message_is_reported_once(tmp_path):
    lines = (GEMINI / "agentsessions-jsonl_v040.jsonl").read_text().splitlines()
    message = {"id": "g-3", "timestamp": "2026-04-29T21:40:00Z", "type": "gemini", "content": "",
               "model": "gemini-3-flash-preview",
               "toolCalls": [{"id": "wf", "name": "write_file", "args": {"file_path": "/w/x.py", "content": "x = 1\n"}}]}
    updated = dict(message, toolCalls=[dict(message["toolCalls"][0], status="success"),
                                       {"id": "rp", "name": "replace",
                                        "args": {"file_path": "/w/x.py", "old_string": "x", "new_string": "y"}}])
    log = tmp_path / "s.jsonl"
    log.write_text("\n".join(lines + [json.dumps(message), json.dumps(updated)]) + "\n")
    assert [(o.file, o.text) for o in outputs(gemini_cli, log)] == [("/w/x.py", "x = 1\n"), ("/w/x.py", "y")]


def test_gemini_parses_appended_chunks_with_its_state():
    path = GEMINI / "gitai-gemini-session-simple.jsonl"
    assert chunked(gemini_cli, path) == outputs(gemini_cli, path) != []


def test_gemini_hook_after_tool_takes_the_model_from_the_transcript(tmp_path):
    transcript = tmp_path / "session.jsonl"
    transcript.write_bytes((GEMINI / "agentsessions-jsonl_v040.jsonl").read_bytes())
    payload = {"session_id": "s", "transcript_path": str(transcript), "cwd": "/w", "hook_event_name": "AfterTool",
               "timestamp": "2026-04-29T21:40:00Z", "tool_name": "write_file",
               "tool_input": {"file_path": "src/x.py", "content": "x = 1\n"}}
    [out] = gemini_cli.parse_hook(payload)
    assert (out.tool, out.model, out.file, out.cwd, out.text, out.source) == (
        "gemini-cli", "gemini-3-flash-preview", "/w/src/x.py", "/w", "x = 1\n", "assistant-hook")
    assert gemini_cli.parse_hook(dict(payload, hook_event_name="BeforeTool")) == []
    assert gemini_cli.parse_hook(dict(payload, tool_name="run_shell_command", tool_input={"command": "ls"})) == []
    assert gemini_cli.parse_hook(dict(payload, transcript_path=None))[0].model == "unknown"


def test_gemini_log_files_under_chats(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path))
    [root] = log_roots(gemini_cli)
    assert root == tmp_path / ".gemini" / "tmp"
    chats = root / "abc123" / "chats"
    (chats / "parent").mkdir(parents=True)
    for name in ("chats/session-1.jsonl", "chats/session-0.json", "chats/parent/sub.jsonl", "logs.json"):
        (root / "abc123" / name).write_text("{}\n")
    assert [p.relative_to(root).as_posix() for p in gemini_cli.log_files(root)] == [
        "abc123/chats/parent/sub.jsonl", "abc123/chats/session-0.json", "abc123/chats/session-1.jsonl"]


# --- Cursor -----------------------------------------------------------------------------------

def test_cursor_transcript_write():
    [out] = outputs(cursor, CURSOR / "cursor-agent-transcript-simple.jsonl")
    raw = [json.loads(line) for line in (CURSOR / "cursor-agent-transcript-simple.jsonl").read_text().splitlines()]
    [write] = [b["input"] for r in raw for b in r.get("message", {}).get("content", [])
               if b.get("type") == "tool_use" and b["name"] == "Write"]
    assert (out.tool, out.model, out.file, out.text, out.cwd, out.time, out.source) == (
        "cursor", "unknown", "/Users/aidancunniffe/Desktop/testing-gitflows-git-ai/hbo-shows-1990s.txt",
        write["contents"], None, None, "assistant-log")
    assert out.text.startswith("HBO shows that aired during the 1990s")


def test_cursor_parses_appended_chunks():
    path = CURSOR / "cursor-agent-transcript-simple.jsonl"
    assert chunked(cursor, path) == outputs(cursor, path) != []


def test_cursor_after_file_edit_hook():
    payload = {"conversation_id": "c", "generation_id": "g", "hook_event_name": "afterFileEdit",
               "file_path": "/w/a.py", "workspace_roots": ["/w"],
               "edits": [{"old_string": "a", "new_string": "b = 2\n"}, {"old_string": "c", "new_string": ""}]}
    [out] = cursor.parse_hook(payload)
    assert (out.model, out.file, out.cwd, out.text, out.source) == ("unknown", "/w/a.py", "/w", "b = 2\n",
                                                                     "assistant-hook")
    assert cursor.parse_hook(dict(payload, hook_event_name="beforeReadFile")) == []
    assert cursor.parse_hook({"hook_event_name": "afterFileEdit", "edits": 5}) == []


def test_cursor_log_files_are_agent_transcripts(tmp_path, monkeypatch):
    monkeypatch.setenv("CURSOR_CONFIG_DIR", str(tmp_path))
    root, store = log_roots(cursor)
    assert store == Path.home() / ".config" / "Cursor" / "User" / "globalStorage" / "state.vscdb"
    project = root / "Users-me-repo"
    for name in ("agent-transcripts/c1.jsonl", "agent-tools/t.txt", "other/x.jsonl"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("\n")
    assert list(cursor.log_files(root)) == [project / "agent-transcripts" / "c1.jsonl"]


# --- Copilot ----------------------------------------------------------------------------------

def test_copilot_cli_create_with_model_change_and_git_context():
    [out] = outputs(copilot, COPILOT / "copilot_cli_session_events.jsonl")
    assert (out.tool, out.model, out.file, out.text, out.cwd, out.source) == (
        "copilot", "gpt-4.1", "/Users/test/project/hello.py", "print('hello world')\n", "/Users/test/project",
        "assistant-log")
    assert out.time == pytest.approx(1778545272.1)


def test_copilot_vscode_transcript_apply_patch():
    [out] = outputs(copilot, COPILOT / "copilot_vscode_event_stream.jsonl")
    # read_file is not output; the transcript names no model and no working directory.
    assert (out.model, out.file, out.text, out.cwd) == ("unknown", "/Users/test/project/src/main.ts",
                                                        "// Entry point\n", None)


def test_copilot_parses_appended_chunks_with_its_state():
    for name in ("copilot_cli_session_events.jsonl", "copilot_vscode_event_stream.jsonl"):
        path = COPILOT / name
        assert chunked(copilot, path) == outputs(copilot, path) != []


def test_copilot_hook_is_not_read():
    assert copilot.parse_hook({"hook_event_name": "PostToolUse", "tool_name": "create_file",
                               "tool_input": {"filePath": "/w/a", "content": "x"}}) == []


def test_copilot_log_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    cli, vscode, empty_window = log_roots(copilot)
    assert cli == tmp_path / ".copilot" / "session-state"
    assert empty_window == tmp_path / ".config" / "Code" / "User" / "globalStorage" / "emptyWindowChatSessions"
    for path in (cli / "s1" / "events.jsonl", cli / "old.jsonl",
                 vscode / "h1" / "GitHub.copilot-chat" / "transcripts" / "t.jsonl",
                 vscode / "h1" / "chatSessions" / "c.jsonl"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n")
    assert list(copilot.log_files(cli)) == [cli / "old.jsonl", cli / "s1" / "events.jsonl"]
    assert list(copilot.log_files(vscode)) == [vscode / "h1" / "GitHub.copilot-chat" / "transcripts" / "t.jsonl",
                                                vscode / "h1" / "chatSessions" / "c.jsonl"]


# --- shared -----------------------------------------------------------------------------------

def chunked(module, path: Path) -> list[Output]:
    """A tailer feeds new complete lines only, cutting wherever the file happened to end."""
    data = path.read_bytes()
    state: dict = {}
    pieces = []
    offset = 0
    for cut in range(1, len(data) + 1, 97):
        chunk = complete_lines(data[offset:cut])
        pieces += [o for o in module.parse_log(path, chunk, state) if isinstance(o, Output)]
        json.dumps(state)  # the daemon keeps state as JSON
        offset += len(chunk)
    pieces += [o for o in module.parse_log(path, complete_lines(data[offset:] + b"\n"), state)
               if isinstance(o, Output)]
    return pieces


@pytest.mark.parametrize("module, path", [
    (gemini_cli, GEMINI / "gitai-gemini-session-simple.jsonl"),
    (cursor, CURSOR / "cursor-agent-transcript-simple.jsonl"),
    (copilot, COPILOT / "copilot_cli_session_events.jsonl"),
])
def test_malformed_and_partial_lines_are_skipped_with_reasons(module, path, tmp_path):
    log = tmp_path / "s.jsonl"
    log.write_bytes(b"not json at all\n" + b"\x00\xff garbage\n[1, 2]\n" + path.read_bytes() + b'{"type":"gem')
    items = list(module.parse_log(log, log.read_bytes(), {}))
    assert [s.reason for s in items if isinstance(s, Skip)] == ["not JSON", "not JSON", "not a JSON object",
                                                                "partial last line"]
    assert len([i for i in items if isinstance(i, Output)]) == len(outputs(module, path)) > 0


OWNERS = {"gemini-cli": GEMINI, "copilot": COPILOT, "cursor": CURSOR, "claude-code": LOGS / "claude-code",
          "codex": LOGS / "codex"}
# Known to no source by their first line: whole-file JSON (first line "{"; found in their assistants' folders).
UNCLAIMED = {"agentsessions-legacy-small.json", "agenthistory-real-session-01.json", "copilot_session_simple.json",
             "state-vscdb-rows.json"}


@pytest.mark.parametrize("path", sorted(p for d in OWNERS.values() for p in d.glob("*.json*")), ids=lambda p: p.name)
def test_new_sniffs_claim_exactly_their_own_logs_and_ingest_picks_the_owner(path):
    from aiguard.capture.ingest import _source_for

    first = path.open("rb").readline(65536)
    owner = next(name for name, folder in OWNERS.items() if path.parent == folder)
    claimed = {module.NAME for module in (gemini_cli, copilot, cursor) if module.sniff(first)}
    chosen = _source_for(path, registry())
    if path.name in UNCLAIMED:
        assert not claimed
        # ingest reads a pretty-printed document's opening too: Gemini's sessions and Copilot's chat
        # session are their owners'; Cursor's state.vscdb rows (a dump, not a log) stay no one's
        assert (chosen.NAME if chosen else None) == (None if path.name == "state-vscdb-rows.json" else owner)
        return
    assert claimed == ({owner} & {"gemini-cli", "copilot", "cursor"})
    assert chosen is not None and chosen.NAME == owner
