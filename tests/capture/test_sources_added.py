"""Qwen Code, Kimi CLI, Roo Code, Kilo Code, Kiro, Firebender, Cursor's state.vscdb, VS Code
Copilot chatSessions, and files written through an agent's shell tool.

The Copilot chat session is a real one (tests/fixtures/assistant-logs/copilot/SOURCES.md);
every other fixture used here is built from the assistant's source or docs (each folder's
SOURCES.md says which). Expected values are read from the fixtures themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from aiguard.capture.sources import log_roots
from conftest import FIXTURES, aiguard

from aiguard.capture.sources import (_cursor_store, claude_code, cline, codex, copilot, cursor, firebender,
                                     gemini_cli, kilo_code, kimi_cli, kiro, log_roots, qwen_code, registry, roo_code,
                                     sniff)
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import Output, Skip

LOGS = FIXTURES / "assistant-logs"
QWEN = LOGS / "qwen-code" / "session-5c3f7a1e.jsonl"
KIMI_SHARE = LOGS / "kimi-cli" / "share"
KIMI = next(KIMI_SHARE.rglob("context.jsonl"))
SHELL = LOGS / "shell-writes"
CURSOR_ROWS = LOGS / "cursor" / "state-vscdb-rows.json"


def items(module, path: Path, data: bytes | None = None, state: dict | None = None) -> list:
    return list(module.parse_log(path, path.read_bytes() if data is None else data, {} if state is None else state))


def outputs(module, path: Path, data: bytes | None = None) -> list[Output]:
    return [o for o in items(module, path, data) if isinstance(o, Output)]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def payload(name: str) -> dict:
    return json.loads((LOGS / name).read_text())


# --- Qwen Code ---------------------------------------------------------------------------------

def test_qwen_code_session_write_edit_and_shell_heredoc():
    calls = [(record, part["functionCall"]) for record in lines(QWEN) if record["type"] == "assistant"
             for part in record["message"]["parts"] if "functionCall" in part]
    write, edit, shell = (call["args"] for _, call in calls[:3])
    found = outputs(qwen_code, QWEN)
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("qwen-code", "qwen3-coder-plus", write["file_path"], write["content"]),
        ("qwen-code", "qwen3-coder-plus", edit["file_path"], edit["new_string"]),
        # the here-document's body, into NOTES.md relative to the record's cwd
        ("qwen-code", "qwen3-coder-plus", "/home/dev/shop/NOTES.md",
         "\n".join(shell["command"].splitlines()[1:-1]) + "\n")]
    assert {(o.cwd, o.source) for o in found} == {("/home/dev/shop", "assistant-log")}
    first, second = (datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
                     for record in (calls[0][0], calls[1][0]))
    assert [o.time for o in found] == [first, second, second]


def test_qwen_code_hook_takes_the_model_from_the_transcript(tmp_path):
    transcript = tmp_path / "chats" / "s.jsonl"
    transcript.parent.mkdir()
    shutil.copy(QWEN, transcript)
    hook = payload("qwen-code/hook-post-tool-use.json") | {"transcript_path": str(transcript)}
    [out] = qwen_code.parse_hook(hook)
    assert (out.tool, out.model, out.file, out.text, out.source) == (
        "qwen-code", "qwen3-coder-plus", "/home/dev/shop/src/tax.py", hook["tool_input"]["content"], "assistant-hook")
    assert qwen_code.parse_hook(hook | {"hook_event_name": "PreToolUse"}) == []
    assert qwen_code.parse_hook(hook | {"tool_name": "read_file"}) == []
    assert qwen_code.parse_hook(hook | {"transcript_path": None})[0].model == "unknown"


def test_qwen_code_roots_and_files(monkeypatch, tmp_path):
    assert log_roots(qwen_code) == [Path.home() / ".qwen" / "projects"]
    monkeypatch.setenv("QWEN_RUNTIME_DIR", str(tmp_path / "runtime"))
    [root] = log_roots(qwen_code)
    chats = root / "-home-dev-shop" / "chats"
    chats.mkdir(parents=True)
    shutil.copy(QWEN, chats / "s.jsonl")
    (root / "-home-dev-shop" / "other.jsonl").write_text("{}\n")
    assert list(qwen_code.log_files(root)) == [chats / "s.jsonl"]


# --- Kimi CLI ----------------------------------------------------------------------------------

def kimi_calls() -> list[dict]:
    return [(call["function"]["name"], json.loads(call["function"]["arguments"]))
            for record in lines(KIMI) if record.get("role") == "assistant" for call in record.get("tool_calls", [])]


def test_kimi_cli_context_writefile_strreplace_and_shell():
    (_, write), (_, replace), (_, shell), _read = kimi_calls()
    work = json.loads((KIMI_SHARE / "kimi.json").read_text())["work_dirs"][1]["path"]
    assert hashlib.md5(work.encode()).hexdigest() == KIMI.parent.parent.name
    found = outputs(kimi_cli, KIMI)
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("kimi-cli", "unknown", write["path"], write["content"]),
        ("kimi-cli", "unknown", f"{work}/{replace['path']}", replace["edit"][0]["new"]),
        ("kimi-cli", "unknown", f"{work}/{replace['path']}", replace["edit"][1]["new"]),
        ("kimi-cli", "unknown", f"{work}/requirements.txt", "inventory==0.1\n")]
    assert {o.cwd for o in found} == {work} and shell["command"].startswith("printf")


def test_kimi_cli_roots_honour_the_share_dir_and_find_rotated_contexts(monkeypatch, tmp_path):
    assert log_roots(kimi_cli) == [Path.home() / ".kimi" / "sessions"]
    monkeypatch.setenv("KIMI_SHARE_DIR", str(tmp_path / "share"))
    shutil.copytree(KIMI_SHARE, tmp_path / "share")
    [root] = log_roots(kimi_cli)
    session = next(root.rglob("context.jsonl")).parent
    (session / "context_1.jsonl").write_bytes(KIMI.read_bytes())
    (session / "wire.jsonl").write_text('{"type": "metadata"}\n')
    assert list(kimi_cli.log_files(root)) == [session / "context.jsonl", session / "context_1.jsonl"]


def test_kimi_cli_hook_post_tool_use():
    hook = payload("kimi-cli/hook-post-tool-use.json")
    [out] = kimi_cli.parse_hook(hook)
    assert (out.tool, out.model, out.file, out.text, out.cwd) == (
        "kimi-cli", "unknown", "/home/dev/shop/src/shipping.py", hook["tool_input"]["content"], "/home/dev/shop")
    assert kimi_cli.parse_hook(hook | {"hook_event_name": "PostToolUseFailure"}) == []
    assert kimi_cli.parse_hook(hook | {"tool_input": "not an object"}) == []


# --- Kiro and Firebender (hooks only) ----------------------------------------------------------

def test_kiro_hooks_fs_write_create_and_str_replace():
    create = payload("kiro/hook-post-tool-use-create.json")
    replace = payload("kiro/hook-post-tool-use-str-replace.json")
    assert [(o.tool, o.model, o.file, o.text) for o in kiro.parse_hook(create) + kiro.parse_hook(replace)] == [
        ("kiro", "unknown", "/home/dev/shop/src/coupons.py", create["tool_input"]["file_text"]),
        ("kiro", "unknown", "/home/dev/shop/src/coupons.py", replace["tool_input"]["new_str"])]
    assert kiro.parse_hook(create | {"hook_event_name": "PostToolUse"}) == []  # Kiro's events are camelCase
    assert kiro.parse_hook(create | {"tool_name": "fs_read"}) == []
    assert log_roots(kiro) == [] and not sniff(kiro, b'{"hook_event_name": "postToolUse"}')


def test_firebender_hook_write_with_model_and_repo_dir():
    hook = payload("firebender/hook-post-tool-use.json")
    [out] = firebender.parse_hook(hook)
    assert (out.tool, out.model, out.file, out.text, out.cwd) == (
        "firebender", "claude-sonnet-4-5", "/home/dev/app/" + hook["tool_input"]["file_path"],
        hook["tool_input"]["content"], "/home/dev/app")
    no_dir = {k: v for k, v in hook.items() if k != "repo_working_dir"}
    assert firebender.parse_hook(no_dir)[0].cwd == "/home/dev/app"  # workspace_roots
    assert firebender.parse_hook(hook | {"model": ""})[0].model == "unknown"
    assert firebender.parse_hook(hook | {"hook_event_name": "preToolUse"}) == []


# --- Roo Code and Kilo Code --------------------------------------------------------------------

def test_roo_and_kilo_histories_are_their_own_tools():
    roo = LOGS / "roo-code" / "apply-diff-task" / "api_conversation_history.json"
    kilo = LOGS / "kilo-code" / "cart-task" / "api_conversation_history.json"
    as_cline = outputs(cline, roo)
    assert [o._replace(tool="roo-code") for o in as_cline] == outputs(roo_code, roo) and len(as_cline) == 2
    history = json.loads(kilo.read_text())
    write, replace = (block["input"] for message in history for block in message["content"]
                      if block.get("type") == "tool_use")
    assert [(o.tool, o.model, o.file, o.text, o.time) for o in outputs(kilo_code, kilo)] == [
        ("kilo-code", "unknown", "/home/dev/shop/src/cart_total.py", write["content"], history[1]["ts"] / 1000),
        ("kilo-code", "unknown", "/home/dev/shop/src/cart_total.py", replace["replace"], history[3]["ts"] / 1000)]
    # By content a Roo (or Kilo) history is Roo Code's, never Cline's; Kilo's is known by its folder.
    assert roo_code.sniff(roo.read_bytes()) and not cline.sniff(roo.read_bytes())
    assert roo_code.sniff(kilo.read_bytes()) and not kilo_code.sniff(kilo.read_bytes())


def test_roo_and_kilo_roots_are_their_extensions(isolated_user):
    code = isolated_user / ".config" / "Code" / "User" / "globalStorage"
    assert code / "rooveterinaryinc.roo-cline" / "tasks" in log_roots(roo_code)
    assert code / "kilocode.kilo-code" / "tasks" in log_roots(kilo_code)
    assert code / "saoudrizwan.claude-dev" / "tasks" in log_roots(cline)


def test_new_fixtures_are_claimed_by_their_own_source_only():
    def first_line(path: Path) -> bytes:
        with path.open("rb") as fh:
            return fh.readline()

    roo = LOGS / "roo-code" / "apply-diff-task" / "api_conversation_history.json"
    logs = {QWEN: "qwen-code", KIMI: "kimi-cli", roo: "roo-code",
            LOGS / "copilot" / "copilot_session_simple.jsonl": "copilot",
            **{path: "claude-code" for path in (LOGS / "claude-code").glob("*.jsonl")},
            **{path: "cline" for path in (LOGS / "cline").glob("*/api_conversation_history.json")}}
    for path, name in logs.items():
        assert [n for n, module in registry().items() if sniff(module, first_line(path))] == [name], path
    for path in [*LOGS.glob("*/hook-*.json"), KIMI_SHARE / "kimi.json"]:
        assert [n for n, module in registry().items() if sniff(module, first_line(path))] == [], path


# --- VS Code Copilot chatSessions --------------------------------------------------------------

def copilot_edits(session: dict) -> list[tuple[str, str, str]]:
    return [(request["modelId"].removeprefix("copilot/"), part["uri"]["fsPath"], edit["text"])
            for request in session["requests"] for part in request["response"] if part.get("kind") == "textEditGroup"
            for group in part["edits"] for edit in group]


def test_copilot_chat_session_json_and_journal_real_session():
    path = LOGS / "copilot" / "copilot_session_simple.json"
    expected = copilot_edits(json.loads(path.read_text()))
    assert len(expected) == 1
    for log in (path, path.with_suffix(".jsonl")):
        found = outputs(copilot, log)
        assert [(o.model, o.file, o.text) for o in found] == expected, log
        assert {(o.tool, o.source) for o in found} == {("copilot", "assistant-log")} and found[0].time > 1.7e9


def test_copilot_journal_appended_requests_and_responses(tmp_path):
    session = json.loads((LOGS / "copilot" / "copilot_session_simple.json").read_text())
    first = {**session, "requests": session["requests"][:1]}
    journal = tmp_path / "0b4f8c1e-1111-2222-3333-444455556666.jsonl"
    lines_ = [{"kind": 0, "v": first},
              {"kind": 2, "k": ["requests"], "v": [{**session["requests"][1], "response": []}]},
              {"kind": 2, "k": ["requests", 1, "response"], "v": session["requests"][1]["response"]},
              {"kind": 1, "k": ["requests", 1, "response"], "v": session["requests"][1]["response"]},  # again
              {"kind": 1, "k": ["customTitle"], "v": "x"},
              {"kind": 2, "k": ["requests", "one", "response"], "v": []}]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines_)
    journal.write_bytes(data)
    state: dict = {}
    found = items(copilot, journal, data, state)
    outs = [o for o in found if isinstance(o, Output)]
    assert [(o.model, o.file, o.text) for o in outs] == copilot_edits(session)  # once, with request 1's model
    assert [s.reason for s in found if isinstance(s, Skip)] == ["a request path without its index"]
    json.dumps(state)  # the daemon keeps it as JSON
    assert [o for o in items(copilot, journal, data, state) if isinstance(o, Output)] == []  # read again: nothing new


def test_copilot_event_log_with_a_line_starting_like_a_journal_stays_an_event_log(tmp_path):
    """A line that only starts like a journal's kind-0 snapshot (found by tests/test_fuzz) does not
    turn an event log into a journal: its events are still read."""
    log = LOGS / "copilot" / "copilot_cli_session_events.jsonl"
    lines_ = log.read_bytes().split(b"\n")
    before = [o.text for o in outputs(copilot, log)]
    assert before
    hostile = b"\n".join([lines_[0], b'{"kind":0,', *lines_[1:]])
    assert [o.text for o in outputs(copilot, tmp_path / "events.jsonl", hostile)] == before


def test_copilot_roots_and_files_include_chat_sessions(isolated_user):
    storage = isolated_user / ".config" / "Code" / "User" / "workspaceStorage"
    assert storage in log_roots(copilot)
    sessions = storage / "abc123" / "chatSessions"
    sessions.mkdir(parents=True)
    (sessions / "0b4f8c1e-1111-2222-3333-444455556666.json").write_text("{}")
    (storage / "abc123" / "workspace.json").write_text("{}")
    assert list(copilot.log_files(storage)) == [sessions / "0b4f8c1e-1111-2222-3333-444455556666.json"]
    assert [s.reason for s in items(copilot, sessions / "0b4f8c1e-1111-2222-3333-444455556666.json")] == [
        "no requests (not a chat session)"]


# --- Cursor's state.vscdb ----------------------------------------------------------------------

def make_vscdb(path: Path, rows: dict | None = None) -> sqlite3.Connection:
    """A state.vscdb as Cursor writes it (WAL), its connection left open like the running app's."""
    rows = json.loads(CURSOR_ROWS.read_text())["rows"] if rows is None else rows
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    db.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    db.executemany("INSERT INTO cursorDiskKV VALUES (?, ?)",
                   [(key, value if isinstance(value, str) else json.dumps(value)) for key, value in rows.items()])
    db.commit()
    return db


def test_cursor_state_vscdb_completed_tool_calls_while_cursor_has_it_open(tmp_path):
    rows = json.loads(CURSOR_ROWS.read_text())["rows"]
    composer = next(key for key in rows if key.startswith("composerData:")).split(":")[1]
    edit = json.loads(rows[f"bubbleId:{composer}:b2"]["toolFormerData"]["rawArgs"])
    replace = json.loads(rows[f"bubbleId:{composer}:b3"]["toolFormerData"]["params"])
    path = tmp_path / "state.vscdb"
    app = make_vscdb(path)
    app.execute("BEGIN IMMEDIATE")  # Cursor in the middle of a write: reading neither waits nor fails
    app.execute("INSERT INTO cursorDiskKV VALUES ('bubbleId:x:y', '{}')")
    before = path.read_bytes()
    state: dict = {}
    found = list(cursor.read_store(path, state))
    outs = [o for o in found if isinstance(o, Output)]
    assert [(o.tool, o.model, o.file, o.text) for o in outs] == [
        ("cursor", "claude-4.5-sonnet", edit["target_file"], edit["code_edit"]),
        ("cursor", "claude-4.5-sonnet", replace["file_path"], replace["new_string"])]  # b4 failed: not recorded
    assert outs[0].time == rows[f"bubbleId:{composer}:b2"]["createdAt"] / 1000
    assert [s.reason for s in found if isinstance(s, Skip)] == ["not a JSON object"]  # the broken row
    assert path.read_bytes() == before and not (tmp_path / "state.vscdb.aiguard").exists()
    app.rollback()
    json.dumps(state)
    assert [o for o in cursor.read_store(path, state) if isinstance(o, Output)] == []  # nothing new
    app.close()


def test_cursor_state_vscdb_hostile(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo" / "state.vscdb"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(_cursor_store.Unreadable, match="not a regular file"):
        list(cursor.read_store(fifo, {}))
    junk = tmp_path / "junk" / "state.vscdb"
    junk.parent.mkdir()
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(_cursor_store.Unreadable, match="cannot open as SQLite read-only"):
        list(cursor.read_store(junk, {}))
    empty = tmp_path / "empty" / "state.vscdb"
    empty.parent.mkdir()
    sqlite3.connect(empty).execute("CREATE TABLE ItemTable (key TEXT, value BLOB)").connection.close()
    assert list(cursor.read_store(empty, {})) == []  # no conversations table: nothing, no error
    big = tmp_path / "big" / "state.vscdb"
    big.parent.mkdir()
    make_vscdb(big).close()
    monkeypatch.setattr(_cursor_store, "MAX_VALUE", 300)
    found = list(cursor.read_store(big, {}))
    assert any(isinstance(s, Skip) and "over the 0 MiB limit" in s.reason for s in found)
    wrong = tmp_path / "wrong" / "state.vscdb"
    wrong.parent.mkdir()
    make_vscdb(wrong, {"bubbleId:c:b": {"type": 2, "toolFormerData": {"name": "edit_file", "rawArgs": ["x"]}},
                       "bubbleId:c:d": {"type": 2, "toolFormerData": "edit_file"},
                       "bubbleId:c:e": {"type": 2, "toolFormerData": {"name": "edit_file",
                                                                      "rawArgs": "{\"code_edit\": 5}"}}}
               ).close()
    assert list(cursor.read_store(wrong, {})) == []


# --- files written through the shell -----------------------------------------------------------

HEREDOC_TEXT = ("import re\n\n\ndef slugify(title: str) -> str:\n"
                "    slug = re.sub(r\"[^a-z0-9]+\", \"-\", title.lower())\n    return slug.strip(\"-\")\n")


def test_shell_write_forms():
    assert shell_writes("cat > a.py <<'EOF'\nx = 1\nEOF") == [("a.py", "x = 1\n")]
    assert shell_writes("cd src && cat <<EOF >> b.txt\nhello\nEOF\necho ok") == [("b.txt", "hello\n")]
    assert shell_writes("tee -a c.md <<-END\n\tone\n\ttwo\nEND") == [("c.md", "one\ntwo\n")]
    assert shell_writes("printf 'a\\n\\tb %% c\\n' > d") == [("d", "a\n\tb % c\n")]
    assert shell_writes("echo hello world > e; echo -n x >> f") == [("e", "hello world\n"), ("f", "x")]
    assert shell_writes("sed -i '/^import/a import sys' g.py") == [("g.py", "import sys\n")]
    assert shell_writes("sed -i 's|old|new_value|g' h.py") == [("h.py", "new_value\n")]
    # not knowable from the command: nothing
    for command in ("printf '%s\\n' \"$x\" > f", "sed -i 's/\\(a\\)/\\1b/' f", "sed -i 's/a/b/' f g",
                    "python - <<EOF\nopen('f', 'w').write('x')\nEOF", "cat > f <<EOF\nno end tag",
                    "echo 'unbalanced > f", "ls > listing.txt", None, 42, ""):
        assert shell_writes(command) == [], command


def test_shell_writes_in_claude_code_codex_gemini_and_copilot_transcripts():
    slug, changelog, test, sed = (SHELL / "claude-code-bash.jsonl", "## 0.2.0\n- slugify() for titles\n",
                                  "def test_slugify():\n    assert slugify(\"Hello World\") == \"hello-world\"\n",
                                  "return slug.strip(\"-\")[:80]\n")
    assert [(o.tool, o.model, o.file, o.text) for o in outputs(claude_code, slug)] == [
        ("claude-code", "claude-sonnet-4-5-20250929", "/home/dev/blog/src/slugify.py", HEREDOC_TEXT),
        ("claude-code", "claude-sonnet-4-5-20250929", "/home/dev/blog/CHANGELOG.md", changelog),
        ("claude-code", "claude-sonnet-4-5-20250929", "/home/dev/blog/tests/test_slug.py", test),
        ("claude-code", "claude-sonnet-4-5-20250929", "/home/dev/blog/src/slugify.py", sed)]
    found = outputs(codex, SHELL / "codex-shell.jsonl")
    assert [(o.tool, o.model, o.file) for o in found] == [("codex", "gpt-5-codex", "/home/dev/blog/src/slugify.py"),
                                                         ("codex", "gpt-5-codex", "/home/dev/blog/src/titles.py")]
    assert found[0].text == HEREDOC_TEXT and found[1].text.startswith("from src.slugify import slugify\n")
    assert [(o.tool, o.model, o.file, o.text) for o in outputs(gemini_cli, SHELL / "gemini-cli-shell.jsonl")] == [
        ("gemini-cli", "gemini-2.5-pro", "/home/dev/blog/src/slugify.py", HEREDOC_TEXT)]  # the failed call: not
    assert [(o.tool, o.model, o.file, o.text) for o in outputs(copilot, SHELL / "copilot-bash.jsonl")] == [
        ("copilot", "gpt-4.1", "/home/dev/blog/src/slugify.py", HEREDOC_TEXT),
        ("copilot", "gpt-4.1", "/home/dev/blog/tests/test_slug.py", test)]


def test_shell_writes_in_hook_payloads():
    command = (SHELL / "claude-code-bash.jsonl").read_text()
    heredoc = json.loads(command.splitlines()[1])["message"]["content"][0]["input"]["command"]
    claude = {"hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_input": {"command": heredoc}, "cwd": "/r"}
    assert [(o.file, o.text) for o in claude_code.parse_hook(claude)] == [("/r/src/slugify.py", HEREDOC_TEXT)]
    assert [(o.file, o.text) for o in codex.parse_hook(claude | {"tool_name": "Bash"})] == [
        ("/r/src/slugify.py", HEREDOC_TEXT)]
    gemini = {"hook_event_name": "AfterTool", "tool_name": "run_shell_command", "tool_input": {"command": heredoc},
              "cwd": "/r"}
    assert [(o.file, o.text) for o in gemini_cli.parse_hook(gemini)] == [("/r/src/slugify.py", HEREDOC_TEXT)]
    assert [(o.file, o.text) for o in kiro.parse_hook({"hook_event_name": "postToolUse", "cwd": "/r",
                                                        "tool_name": "execute_bash",
                                                        "tool_input": {"command": heredoc}})] == [
        ("/r/src/slugify.py", HEREDOC_TEXT)]


# --- hostile input: skipped with a reason ------------------------------------------------------

@pytest.mark.parametrize("module, good", [(qwen_code, QWEN), (kimi_cli, KIMI)])
def test_truncated_and_wrongly_typed_lines_are_skipped(module, good, tmp_path):
    log = tmp_path / good.name
    hostile = [b"not json\n", b"[1, 2]\n",
               b'{"type": "assistant", "message": {"parts": {"functionCall": 1}}, "model": 7, "uuid": "x"}\n',
               b'{"type": "assistant", "message": {"parts": [{"functionCall": {"name": "write_file", '
               b'"args": [1]}}]}}\n',
               b'{"role": "assistant", "tool_calls": "WriteFile"}\n',
               b'{"role": "assistant", "tool_calls": [{"function": {"name": "WriteFile", "arguments": "{bad"}}]}\n',
               b'{"role": "assistant", "tool_calls": [{"function": {"name": "StrReplaceFile", '
               b'"arguments": "{\\"edit\\": 5}"}}]}\n']
    log.write_bytes(b"".join(hostile) + good.read_bytes() + b'{"type": "assistant", "mess')
    found = items(module, log)
    assert [s.reason for s in found if isinstance(s, Skip)] == ["not JSON", "not a JSON object", "partial last line"]
    assert [o.text for o in found if isinstance(o, Output)] == [o.text for o in outputs(module, good)]


def test_ingest_skips_an_over_long_line_and_reads_the_rest(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("QWEN_RUNTIME_DIR", str(tmp_path / "qwen"))
    chats = tmp_path / "qwen" / "projects" / "p" / "chats"
    chats.mkdir(parents=True)
    session = chats / "s.jsonl"
    text = QWEN.read_text().replace("/home/dev/shop", str(repo.path))
    head, rest = text.split("\n", 1)
    session.write_text(head + "\n" + '{"pad": "' + "x" * (9 << 20) + '"}\n' + rest)
    done = aiguard("ingest", str(session))
    assert b"recorded 3," in done.stdout
    assert b"over the 8 MiB limit; skipped" in done.stderr


# --- end to end: recorded through the real CLI, then a real commit is stamped ------------------

def commit(repo, name: str, text: str) -> dict:
    repo.write(name, text)
    repo.git("add", name)
    repo.git("commit", "-q", "-m", name)
    trailers = dict(repo.trailers())
    if "Assisted-by" not in trailers:  # say what the ledger held, for a failure to be read
        trailers["Assisted-by"] = ("none; ledger: " + aiguard("ledger", "stats", "--json").stdout.decode()
                                   + "; attribute: " + aiguard("attribute", "HEAD", "--json", cwd=repo.path,
                                                               check=False).stdout.decode())
    return trailers


def test_ingest_qwen_kimi_roo_kilo_then_commits_are_stamped(repo, tmp_path, monkeypatch):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    qwen = tmp_path / "qwen.jsonl"
    records = lines(QWEN)
    for record in records:
        record["timestamp"] = now
    qwen.write_text("".join(json.dumps(r) + "\n" for r in records).replace("/home/dev/shop", str(repo.path)))
    assert b"recorded 3," in aiguard("ingest", str(qwen)).stdout
    write = outputs(qwen_code, qwen)[0]
    assert commit(repo, "src/pricing.py", write.text)["Assisted-by"] == "qwen-code:qwen3-coder-plus"

    share = tmp_path / "share"
    shutil.copytree(KIMI_SHARE, share)
    index = json.loads((share / "kimi.json").read_text())
    index["work_dirs"][1]["path"] = str(repo.path)
    (share / "kimi.json").write_text(json.dumps(index))
    old = next((share / "sessions").iterdir())
    old.rename(old.with_name(hashlib.md5(str(repo.path).encode()).hexdigest()))
    monkeypatch.setenv("KIMI_SHARE_DIR", str(share))
    context = next(share.rglob("context.jsonl"))
    context.write_text(context.read_text().replace("/home/dev/shop", str(repo.path)))
    # the printf line is 3 tokens: too short to recognise, said and skipped
    assert b"recorded 3, 0 already known, 0 older than the retention period, 1 skipped" in aiguard(
        "ingest", str(share / "sessions")).stdout
    inventory = outputs(kimi_cli, context)[0].text
    assert commit(repo, "src/inventory.py", inventory)["Assisted-by"] == "kimi-cli:unknown"

    for module, fixture in ((roo_code, LOGS / "roo-code" / "apply-diff-task"),
                            (kilo_code, LOGS / "kilo-code" / "cart-task")):
        history = json.loads((fixture / "api_conversation_history.json").read_text())
        for message in history:
            message["ts"] = int(time.time() * 1000)
        extension = module.EXTENSION
        task = Path.home() / ".config" / "Code" / "User" / "globalStorage" / extension / "tasks" / "1"
        task.mkdir(parents=True)
        (task / "api_conversation_history.json").write_text(
            json.dumps(history, separators=(",", ":")).replace("/home/dev/shop", str(repo.path)))
    done = aiguard("ingest")  # every known location: Roo's and Kilo's folders are their own tools
    assert done.returncode == 0
    kilo = outputs(kilo_code, next((Path.home() / ".config").rglob("kilocode.kilo-code/tasks/1/*.json")))[0]
    assert commit(repo, "src/cart_total.py", kilo.text)["Assisted-by"] == "kilo-code:unknown"
    # Roo's edits here are too short to be recognised in a commit; the ledger has them under its name.
    stats = json.loads(aiguard("ledger", "stats", "--json").stdout)
    assert "roo-code" in json.dumps(stats) and "cline" not in json.dumps(stats)


def test_ingest_cursor_vscdb_and_copilot_chat_session_then_commits_are_stamped(repo, tmp_path):
    vscdb = Path.home() / ".config" / "Cursor" / "User" / "globalStorage" / "state.vscdb"
    vscdb.parent.mkdir(parents=True)
    rows = json.loads(CURSOR_ROWS.read_text())["rows"]
    for value in rows.values():
        if isinstance(value, dict) and "createdAt" in value:
            value["createdAt"] = int(time.time() * 1000)
    app = make_vscdb(vscdb, rows)
    session = json.loads((LOGS / "copilot" / "copilot_session_simple.json").read_text())
    for request in session["requests"]:
        request["timestamp"] = int(time.time() * 1000)
    chat = Path.home() / ".config" / "Code" / "User" / "workspaceStorage" / "h1" / "chatSessions" / \
        f"{session['sessionId']}.json"
    chat.parent.mkdir(parents=True)
    chat.write_text(json.dumps(session, indent=2))
    done = aiguard("ingest")
    assert done.returncode == 0, done.stderr
    assert f"{vscdb}: bubbleId:other:x: not a JSON object".encode() in done.stderr
    app.close()
    retry = json.loads(next(v for v in rows.values() if isinstance(v, dict) and v.get("bubbleId") == "b2")
                       ["toolFormerData"]["rawArgs"])["code_edit"]
    assert commit(repo, "src/retry.py", retry)["Assisted-by"] == "cursor:claude-4.5-sonnet"
    # The real session's one edit is two short lines: whether winnowing keeps a fingerprint of
    # it depends on the random ledger key (it failed a CI run), so the ledger is what is checked.
    [(_, _, edit)] = copilot_edits(session)
    assert edit.strip()
    stats = json.dumps(json.loads(aiguard("ledger", "stats", "--json").stdout))
    assert "copilot" in stats and "claude-sonnet-4" in stats


def test_ingest_shell_writes_then_commit_is_stamped(repo, tmp_path):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    transcript = tmp_path / "session.jsonl"
    records = lines(SHELL / "claude-code-bash.jsonl")
    for record in records:
        record["timestamp"] = now
    transcript.write_text("".join(json.dumps(r) + "\n" for r in records).replace("/home/dev/blog", str(repo.path)))
    # the CHANGELOG lines and the sed replacement are too short to recognise: said and skipped
    assert b"recorded 2, 0 already known, 0 older than the retention period, 2 skipped" in aiguard(
        "ingest", str(transcript)).stdout
    trailers = commit(repo, "src/slugify.py", HEREDOC_TEXT)
    assert trailers["Assisted-by"] == "claude-code:claude-sonnet-4-5-20250929"
    assert trailers["AI-Lines"] == f"{len(HEREDOC_TEXT.splitlines())}/{len(HEREDOC_TEXT.splitlines())}"


@pytest.mark.parametrize("tool, fixture, text_of", [
    ("qwen-code", "qwen-code/hook-post-tool-use.json", lambda p: p["tool_input"]["content"]),
    ("kimi-cli", "kimi-cli/hook-post-tool-use.json", lambda p: p["tool_input"]["content"]),
    ("kiro", "kiro/hook-post-tool-use-create.json", lambda p: p["tool_input"]["file_text"]),
    ("firebender", "firebender/hook-post-tool-use.json", lambda p: p["tool_input"]["content"]),
])
def test_agent_hook_then_commit_is_stamped(repo, tool, fixture, text_of):
    hook = payload(fixture)
    for key in ("cwd", "repo_working_dir"):
        if key in hook:
            hook[key] = str(repo.path)
    hook.pop("transcript_path", None)
    done = aiguard("agent-hook", tool, input=json.dumps(hook).encode())
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    model = "claude-sonnet-4-5" if tool == "firebender" else "unknown"
    assert commit(repo, "src/hooked.py", text_of(hook))["Assisted-by"] == f"{tool}:{model}"


def test_agent_hook_of_new_assistants_survives_garbage():
    for tool in ("qwen-code", "kimi-cli", "kiro", "firebender"):
        for garbage in (b"not json", b"[]", b'{"tool_input": 5, "hook_event_name": "postToolUse"}', b"\xff\x00"):
            done = aiguard("agent-hook", tool, input=garbage)
            assert done.returncode == 0, (tool, garbage)


def test_integrate_qwen_code_writes_its_settings_and_undoes(isolated_user):
    settings = isolated_user / ".qwen" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  // mine\n  "model": {"name": "qwen3-coder-plus"}\n}\n')
    before = settings.read_text()
    assert b"added" in aiguard("integrate", "qwen-code").stdout
    text = settings.read_text()
    assert "agent-hook qwen-code" in text and "// mine" in text and '"PostToolUse"' in text
    aiguard("integrate", "qwen-code", "--undo")
    assert settings.read_text() == before
    said = aiguard("integrate", "kiro").stdout.decode()
    assert said.startswith("kiro: to wire by hand, add ") and "agent-hook kiro" in said


def test_integrate_kimi_cli_appends_a_hooks_block_and_undoes(isolated_user, monkeypatch, tmp_path):
    import tomllib

    share = tmp_path / "kimi-share"
    share.mkdir()
    monkeypatch.setenv("KIMI_SHARE_DIR", str(share))
    config = share / "config.toml"
    config.write_text('default_model = "kimi-k2"  # mine\n\n[models.kimi-k2]\nprovider = "moonshot"\n')
    before = config.read_text()
    assert b"added a PostToolUse hook" in aiguard("integrate", "kimi-cli").stdout
    [hook] = tomllib.loads(config.read_text())["hooks"]
    assert hook["event"] == "PostToolUse" and hook["command"].endswith("agent-hook kimi-cli")
    assert config.read_text().startswith(before)
    assert b"already there" in aiguard("integrate", "kimi-cli").stdout
    aiguard("integrate", "kimi-cli", "--undo")
    assert config.read_text() == before
    config.write_text("[[hooks]\nbroken")
    done = aiguard("integrate", "kimi-cli", check=False)
    assert done.returncode == 2 and b"is not valid TOML" in done.stderr


def test_doctor_lists_the_new_assistants(isolated_user, tmp_path):
    out = aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()
    for name in ("qwen-code", "kimi-cli", "roo-code", "kilo-code"):
        assert f"assistant {name}: no logs found (" in out, name
    for name in ("kiro", "firebender"):
        assert f"assistant {name}: hooks only (it keeps no log aiguard can read)" in out, name
    assert "qwen-code hook: not wired" in out and "kimi-cli hook: not wired" in out


# --- the daemon's tailer -----------------------------------------------------------------------

def test_tailer_reads_new_logs_the_way_each_is_written(isolated_user):
    from aiguard.daemon.tailer import Tailer

    tailer = Tailer(registry())
    # Qwen Code: appended lines, read from where the last read stopped
    chats = log_roots(qwen_code)[0] / "-home-dev-shop" / "chats"
    chats.mkdir(parents=True)
    session = chats / "s.jsonl"
    *head, rest = QWEN.read_bytes().split(b"\n", 3)  # the first three records, then the rest
    session.write_bytes(b"\n".join(head) + b"\n")
    assert [o.file for o in tailer.read(session)] == ["/home/dev/shop/src/pricing.py"]
    with session.open("ab") as fh:
        fh.write(rest)
    assert [o.file for o in tailer.read(session)] == ["/home/dev/shop/src/pricing.py", "/home/dev/shop/NOTES.md"]
    assert tailer.source_for(chats.parent / "notes.txt") is None
    # Copilot chatSessions/<uuid>.json: rewritten whole, each edit reported once
    chat = log_roots(copilot)[1] / "h1" / "chatSessions" / "29299837-0260-4fa8-8073-f02755e9dbcc.json"
    chat.parent.mkdir(parents=True)
    chat.write_bytes((LOGS / "copilot" / "copilot_session_simple.json").read_bytes())
    assert tailer.source_for(chat) is copilot and tailer.source_for(chat.parent.parent / "workspace.json") is None
    assert [o.model for o in tailer.read(chat)] == ["claude-sonnet-4"]
    chat.write_bytes(chat.read_bytes() + b"\n")  # saved again, nothing new in it
    assert tailer.read(chat) == []
    # Cursor's state.vscdb: read through SQLite, again only when it (or its WAL) changed
    vscdb = log_roots(cursor)[1]
    vscdb.parent.mkdir(parents=True)
    app = make_vscdb(vscdb)
    assert tailer.source_for(vscdb) is cursor
    assert len(tailer.read(vscdb)) == 2
    assert tailer.read(vscdb) == []
    bubble = {"type": 2, "toolFormerData": {"name": "write", "status": "completed",
                                            "rawArgs": json.dumps({"file_path": "src/new.py", "contents": "N = 1\n"})}}
    app.execute("INSERT INTO cursorDiskKV VALUES (?, ?)", ("bubbleId:c9:b9", json.dumps(bubble)))
    app.commit()  # into the WAL, as Cursor writes
    assert [(o.file, o.text, o.model) for o in tailer.read(vscdb)] == [("src/new.py", "N = 1\n", "unknown")]
    app.close()
