"""Cursor's `state.vscdb` (SQLite): the agent's tool calls in the `cursorDiskKV` table.

`<Cursor user dir>/globalStorage/state.vscdb` has a table `cursorDiskKV(key, value)`:
`composerData:<composer id>` holds a conversation (`modelConfig.modelName`, ...) and
`bubbleId:<composer id>:<bubble id>` one message (`type` 2 for the model,
`modelInfo.modelName`, `toolFormerData: {name, rawArgs | params (JSON strings), status,
result}`). Code reaches files through `edit_file` (`target_file`, `code_edit`),
`search_replace` (`file_path`, `new_string`), `write` (`file_path`, `contents`) and
the shell (`run_terminal_cmd` `command`, the forms sources/_shell_writes knows); a call
counts once its status is `completed`. Field names are from third-party
reverse-engineering notes (shared/research/assistant-logs.md §8), not from Cursor's
documentation or a real database: tests/fixtures/assistant-logs/cursor/SOURCES.md.

Cursor writes the database while it runs (WAL). It is opened read-only through an SQLite
URI (`mode=ro`; when that cannot open it, `immutable=1`, which reads the main file as it
is), never copied, and read in bounded pieces: only the two key families, values over
MAX_VALUE skipped with their size, and at most MAX_ROWS rows a pass.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from aiguard.capture.sources.common import Output, Skip, Unreadable, column_json, seen_mark
from aiguard.capture.sources._shell_writes import shell_writes

MAX_VALUE = 8 << 20  # one conversation or message larger than this is skipped
MAX_ROWS = 200_000
EDIT_TOOLS = {"edit_file": ("target_file", "code_edit"), "edit_file_v2": ("target_file", "code_edit"),
              "search_replace": ("file_path", "new_string"), "write": ("file_path", "contents")}
SHELL_TOOLS = ("run_terminal_cmd", "run_terminal_command")


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection to a regular SQLite file; Unreadable when it cannot be opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise Unreadable(f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise Unreadable("not a regular file")
    uri = "file:" + quote(str(Path(path).resolve()))
    errors = []
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(f"{uri}?{options}", uri=True, timeout=2)
            db.execute("PRAGMA query_only = 1")
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return db
        except sqlite3.Error as exc:
            errors.append(str(exc))
    raise Unreadable(f"cannot open as SQLite read-only ({errors[-1]})")


def _arguments(tool: dict) -> dict:
    for key in ("rawArgs", "params"):
        value = tool.get(key)
        value = column_json(value) if isinstance(value, (str, bytes)) else value
        if isinstance(value, dict):
            return value
    return {}


def tool_texts(tool: object) -> list[tuple[str | None, str]]:
    """(file, text) a completed code-writing tool call of a bubble wrote."""
    if not isinstance(tool, dict) or tool.get("status") not in ("completed", None):
        return []
    name, arguments = tool.get("name"), _arguments(tool)
    if name in SHELL_TOOLS:
        return shell_writes(arguments.get("command"))
    spec = EDIT_TOOLS.get(name) if isinstance(name, str) else None
    if spec is None:
        return []
    file = arguments.get(spec[0]) or arguments.get("path") or arguments.get("relative_workspace_path")
    text = arguments.get(spec[1])
    if not isinstance(text, str) and name == "write":
        text = arguments.get("content")
    if not isinstance(text, str) or not text.strip():
        return []
    return [(file if isinstance(file, str) else None, text)]


def _model(*names: object) -> str:
    for name in names:
        if isinstance(name, str) and name and name != "default":
            return name
    return "unknown"


def read_store(path: Path, state: dict, tool: str) -> Iterator[Output | Skip]:
    """`tool`'s (cursor's) outputs in a state.vscdb not reported before (`state["seen"]`, a list for JSON)."""
    db = connect(path)
    seen = set(state.get("seen", []))
    try:
        models: dict[str, str] = {}
        rows = db.execute("SELECT key, length(value), CASE WHEN length(value) <= ? THEN value END FROM cursorDiskKV "
                          "WHERE key LIKE 'composerData:%' OR key LIKE 'bubbleId:%' "
                          "ORDER BY key LIKE 'bubbleId:%', key LIMIT ?", (MAX_VALUE, MAX_ROWS))
        for key, size, raw in rows:
            where = f"{path}: {key}"
            if raw is None:
                yield Skip(where, f"a value of {size} bytes, over the {MAX_VALUE >> 20} MiB limit; skipped")
                continue
            value = column_json(raw)
            if not isinstance(value, dict):
                yield Skip(where, "not a JSON object")
                continue
            if key.startswith("composerData:"):
                config = value.get("modelConfig")
                models[key.split(":", 1)[1]] = _model(config.get("modelName") if isinstance(config, dict) else None)
                continue
            if value.get("type") != 2:
                continue  # the user's messages
            composer = key.split(":")[1] if key.count(":") >= 2 else ""
            info = value.get("modelInfo")
            model = _model(info.get("modelName") if isinstance(info, dict) else None, models.get(composer))
            created = value.get("createdAt")
            when = created / 1000 if isinstance(created, (int, float)) and not isinstance(created, bool) else None
            for file, text in tool_texts(value.get("toolFormerData")):
                mark = seen_mark(key, file, text)
                if mark not in seen:
                    seen.add(mark)
                    yield Output(tool, model, text, file, None, when, "assistant-log")
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "no such table" in message:
            return  # a state.vscdb without conversations (a fresh install, a workspace's)
        yield Skip(str(path), f"cannot read the database ({message})")
    finally:
        db.close()
        state["seen"] = sorted(seen)
