"""Goose (block/goose): its SQLite sessions database, `sessions/sessions.db` in its data folder.

Where (crates/goose/src/config/paths.rs, session/session_manager.rs): `Paths::data_dir()`
joined with `sessions/sessions.db`; the data folder is `$GOOSE_PATH_ROOT/data` when that
variable is an absolute path, else the `etcetera` app folder of "Block"/"goose":
`$XDG_DATA_HOME/goose` (default ~/.local/share/goose) on Linux,
`~/Library/Application Support/Block/goose` on macOS (the path the source's comment names)
and `%APPDATA%\\Block\\goose\\data` on Windows (etcetera's rule; neither checked on a machine).

Schema (session_manager.rs `create`, session/migrations.rs up to version 13):
`sessions(id, name, working_dir, created_at, …, provider_name, model_config_json, …)`,
where `model_config_json` (version 6 on) is the session's `ModelConfig` (`model_name`, …;
src/model.rs), and `messages(id INTEGER PRIMARY KEY AUTOINCREMENT, session_id, role,
content_json, created_timestamp, …)`: `content_json` is the message's content list, each
item tagged by `type` (conversation/message/content_types.rs); a tool call is
`{"type": "toolRequest", "id", "toolCall": {"status": "success", "value": {"name",
"arguments"}}}` (tool_types.rs, tool_result_serde.rs), its name prefixed with its
extension (`developer__text_editor`).

Code reaches files through the developer extension's tools: `text_editor` (goose-mcp:
`command` write with `file_text`, str_replace and insert with `new_str`, and `path`),
the built-in developer's `write` (`path`, `content`) and `edit` (`path`, `before`,
`after`: the `after` counts), and `shell` (`command`, the forms sources/_shell_writes
knows). A call is recorded when the model makes it (as for Qwen Code), even if the tool
then fails. The model is the session's `model_config_json.model_name` ("unknown" in
databases older than version 6), the working directory its `working_dir` (relative paths
are made absolute against it), the time `created_timestamp` (seconds).

The database is opened read-only while Goose writes it (sqlx's default WAL; sources/
_cursor_store's `connect`), and only messages after the last one read are fetched (their
`id` only grows; a conversation Goose replaces whole comes back under new ids, and the
ledger keeps one copy). A database busy past the timeout is skipped with a line and read on
its next change. Older Goose wrote `sessions/<id>.jsonl`; Goose copies those into the
database when it creates it (`import_legacy`), so they are not read. Goose has no hooks
aiguard can wire. Facts from Goose's source, not from a real database:
tests/fixtures/assistant-logs/goose/SOURCES.md.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Iterator

from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import Folders, Output, Skip, absolute, column_json

NAME = "goose"
LABEL = "Goose"
STORES = ("sessions.db",)  # read by read_store (SQLite, opened read-only), not as lines
LOG_NAMES = STORES
REWRITTEN = False
HOOK_REPLY = None
MAX_VALUE = 8 << 20  # a message larger than this is skipped with its size
MAX_ROWS = 100_000  # messages read in one pass (the rest on the next change)


def _data_dirs() -> list[Path]:
    root = os.environ.get("GOOSE_PATH_ROOT")
    if root and os.path.isabs(root):
        return [Path(root) / "data"]
    home = Path.home()
    if sys.platform == "win32":
        return [Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "Block" / "goose" / "data"]
    xdg = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "goose"
    if sys.platform == "darwin":
        return [home / "Library" / "Application Support" / "Block" / "goose", xdg]
    return [xdg]


def folders() -> Folders:
    """No settings aiguard writes (no hooks); the `sessions` folder of Goose's data folder
    (GOOSE_PATH_ROOT/data when set, else ~/.local/share/goose on Linux)."""
    return Folders([], [folder / "sessions" for folder in _data_dirs()])


def wiring() -> None:
    return None  # no hooks to wire


def log_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    elif (root / "sessions.db").is_file():
        yield root / "sessions.db"


def sniff(first_line: bytes) -> bool:
    return False  # the database is known by its name


def parse_log(path: Path, data: bytes, state: dict) -> Iterator[Output | Skip]:
    return iter(())  # only the database is read (read_store)


def _texts(name: object, arguments: object) -> list[tuple[str | None, str]]:
    """(file, text) a developer tool call writes."""
    if not isinstance(name, str) or not isinstance(arguments, dict):
        return []
    tool = name.rsplit("__", 1)[-1]  # "developer__text_editor": the extension, then the tool
    if tool == "shell":
        return shell_writes(arguments.get("command"))
    if tool == "text_editor":
        command = arguments.get("command")
        text = arguments.get("file_text") if command == "write" else \
            arguments.get("new_str") if command in ("str_replace", "insert") else None
    elif tool == "write":
        text = arguments.get("content")
    elif tool == "edit":
        text = arguments.get("after")
    else:
        return []
    file = arguments.get("path") if isinstance(arguments.get("path"), str) else None
    return [(file, text)] if isinstance(text, str) and text.strip() else []


def _sessions(db: sqlite3.Connection) -> dict[str, tuple[str, str | None]]:
    """Each session's (model, working directory); the model column exists from version 6."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    config = "model_config_json" if "model_config_json" in columns else "NULL"
    sessions = {}
    for session_id, cwd, raw in db.execute(f"SELECT id, working_dir, CASE WHEN length({config}) <= 65536 "
                                           f"THEN {config} END FROM sessions"):
        model = column_json(raw)
        name = model.get("model_name") if isinstance(model, dict) else None
        sessions[session_id] = (name if isinstance(name, str) and name else "unknown",
                                cwd if isinstance(cwd, str) and cwd else None)
    return sessions


def read_store(path: Path, state: dict) -> Iterator[Output | Skip]:
    """The tool calls in a sessions.db after the message `state["last"]` (the last id read)."""
    from aiguard.capture.sources._cursor_store import connect

    db = connect(path)
    last = state.get("last", 0)
    try:
        sessions = _sessions(db)
        rows = db.execute("SELECT id, session_id, created_timestamp, length(content_json), CASE WHEN "
                          "length(content_json) <= ? THEN content_json END FROM messages "
                          "WHERE id > ? AND role = 'assistant' ORDER BY id LIMIT ?",
                          (MAX_VALUE, last, MAX_ROWS)).fetchall()
        for message_id, session_id, created, size, raw in rows:
            last = max(last, message_id) if isinstance(message_id, int) else last
            where = f"{path}: message {message_id}"
            if raw is None:
                yield Skip(where, f"a message of {size} bytes, over the {MAX_VALUE >> 20} MiB limit; skipped")
                continue
            content = column_json(raw)
            if not isinstance(content, list):
                yield Skip(where, "content is not a JSON list")
                continue
            model, cwd = sessions.get(session_id, ("unknown", None))
            when = float(created) if isinstance(created, (int, float)) and not isinstance(created, bool) else None
            if when is not None and when > 1e11:
                when /= 1000  # milliseconds, should a version write them
            for item in content:
                call = item.get("toolCall") if isinstance(item, dict) and item.get("type") == "toolRequest" else None
                if not isinstance(call, dict) or call.get("status") != "success":
                    continue  # text, thinking, a call the model got wrong
                value = call.get("value")
                if not isinstance(value, dict):
                    continue
                for file, text in _texts(value.get("name"), value.get("arguments")):
                    yield Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-log")
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "no such table" in message:
            return  # not (yet) Goose's database
        busy = "locked" in message or "busy" in message
        yield Skip(str(path), "the database is busy; read again on its next change" if busy
                   else f"cannot read the database ({message})")
    finally:
        db.close()
        state["last"] = last
