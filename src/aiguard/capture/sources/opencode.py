"""OpenCode (sst/opencode, now anomalyco/opencode): its SQLite store, the older JSON storage tree.

OpenCode keeps its data in `$XDG_DATA_HOME/opencode` (default `~/.local/share/opencode`
on every platform: xdg-basedir's rule, packages/core/src/global.ts). Current versions
write one SQLite database there, `opencode.db` (`opencode-<channel>.db` for builds of
another release channel; src/storage/db.ts), in WAL mode, with tables
(src/session/session.sql.ts):

* `message(id, session_id, time_created, time_updated, data)`: `data` is the message as
  JSON without its ids; an assistant message has `role` "assistant", `providerID`,
  `modelID`, `path: {cwd, root}` and `time: {created, completed}` (ms).
* `part(id, message_id, session_id, time_created, time_updated, data)`: a tool call is
  `{"type": "tool", "tool", "callID", "state": {"status", "input", "output", "time":
  {start, end}}}` (src/session/message-v2.ts); OpenCode updates the row in place as the
  call goes from pending to running to completed (or error).

Code reaches files through the tools `write` (`filePath`, `content`), `edit`
(`filePath`, `newString`), `multiedit` (`filePath`, `edits[].newString`),
`apply_patch`/`patch` (`patchText`, an apply_patch patch) and `bash` (`command`, the
forms sources/_shell_writes knows); a call counts once its status is "completed". The
model is the message's `modelID`, the working directory its `path.cwd` (relative paths
are made absolute against it).

Before the database, OpenCode wrote one JSON file per record under `storage/`
(`storage/message/<session id>/<message id>.json`, `storage/part/<message id>/<part
id>.json`, the same objects with their ids; src/storage/storage.ts), rewritten whole as a
part changes. A version with the database copies that tree into it at its first start
(src/storage/json-migration.ts), so the tree is read only where no `opencode.db` is
beside it. Its files open with a bare `{` (pretty-printed), so `ingest PATH` cannot tell
them from other JSON: they are read from OpenCode's own folder (the daemon, `ingest`).

The database is opened read-only while OpenCode writes it (sources/_cursor_store's
`connect`: `mode=ro`, no copy), only rows changed since the last read are fetched
(`time_updated`), and a database busy past the timeout is skipped with a line and read
again on its next change. OpenCode has plugins (`{plugin,plugins}/*.{ts,js}` in its config
folder, hooks such as `tool.execute.after`), but their module format changed between
versions (named plugin functions, later `export default {id, server}`) and no OpenCode was
at hand to check one against, so aiguard writes none: OpenCode is read through its store,
which holds the same tool input with the model, and which the daemon follows as it is written. Facts from OpenCode's source, not from a real
database: tests/fixtures/assistant-logs/opencode/SOURCES.md.
"""

from __future__ import annotations

import os
import re
import sqlite3
from fnmatch import fnmatch
from pathlib import Path
from typing import Iterator

from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    Unreadable,
    absolute,
    column_json,
    listed,
    read_whole,
    seen_mark,
)

NAME = "opencode"
LABEL = "OpenCode"
STORES = ("opencode.db", "opencode-*.db")  # read by read_store (SQLite, opened read-only), not as lines
LOG_NAMES = (*STORES, "prt_*.json")  # the database, and the older storage tree's part files
REWRITTEN = True  # a legacy part file is rewritten whole as the call progresses
HOOK_REPLY = None
MAX_VALUE = 8 << 20  # a message or part larger than this is skipped with its size
MAX_ROWS = 200_000  # parts read in one pass (the rest on the next change)
SHELL_TOOLS = ("bash",)
PATCH_TOOLS = ("apply_patch", "patch")


def _data() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "opencode"


def folders() -> Folders:
    """No settings aiguard writes (no hooks); in the data folder `$XDG_DATA_HOME/opencode`
    (default ~/.local/share/opencode): the database `opencode.db`, other channels'
    `opencode-*.db` that exist, and the older `storage` tree. The databases are roots of
    their own, so that the daemon watches the data folder itself, not all of it (its
    `snapshot/` holds git repositories)."""
    data = _data()
    channels = sorted(p for p in data.glob("opencode-*.db") if p.is_file()) if data.is_dir() else []
    return Folders([], [data / "opencode.db", *channels, data / "storage"])


def wiring() -> None:
    return None  # aiguard reads OpenCode's store; it writes no plugin


def _databases(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if any(fnmatch(p.name, name) for name in STORES) and p.is_file())


def log_files(root: Path) -> Iterator[Path]:
    """A database itself; under the older `storage` tree, its part files, unless a database
    is beside it (OpenCode has copied the tree into it)."""
    if root.is_file():
        yield root
    elif root.is_dir() and root.name == "storage" and not _databases(root.parent):
        yield from sorted((root / "part").glob("*/prt_*.json"))
    elif root.is_dir() and root.name != "storage":  # a data folder given by hand
        databases = _databases(root)
        yield from databases
        if not databases:
            yield from sorted((root / "storage" / "part").glob("*/prt_*.json"))


# A file of the older storage tree, as its head reads (OpenCode writes them pretty-printed, so
# sniffing sees the head as one record; its ids come first): a part (`"id": "prt_…"` and its
# message's `"messageID"`) or a message (`"id": "msg_…"` and its `"sessionID"`). Messages hold no
# tool output; they are claimed so that `aiguard ingest STORAGE_FOLDER` does not call each of them
# an unknown log. Only the first STORAGE_HEAD bytes are looked at: no scan of a hostile file.
_STORAGE_ID = re.compile(rb'"id"\s*:\s*"(prt|msg)_')
STORAGE_HEAD = 4096


def sniff(first_line: bytes) -> bool:
    """A part or message file of the older storage tree (the database is known by its name)."""
    head = first_line[:STORAGE_HEAD]
    found = _STORAGE_ID.search(head) if head.lstrip().startswith(b"{") else None
    if found is None:
        return False
    return (b'"messageID"' if found.group(1) == b"prt" else b'"sessionID"') in head


# --- what a tool call wrote ----------------------------------------------------------------

def _texts(part: dict) -> list[tuple[str | None, str]]:
    """(file, text) of a completed code-writing tool call (a part of type "tool")."""
    state = part.get("state")
    if part.get("type") != "tool" or not isinstance(state, dict) or state.get("status") != "completed":
        return []
    tool, given = part.get("tool"), state.get("input")
    if not isinstance(given, dict):
        return []
    file = given.get("filePath") if isinstance(given.get("filePath"), str) else None
    if tool == "write":
        texts = [given.get("content")]
    elif tool == "edit":
        texts = [given.get("newString")]
    elif tool == "multiedit":
        texts = [edit.get("newString") for edit in listed(given.get("edits")) if isinstance(edit, dict)]
    elif tool in PATCH_TOOLS:
        patch = given.get("patchText")
        return list(patch_texts(patch)) if isinstance(patch, str) else []
    elif tool in SHELL_TOOLS:
        return shell_writes(given.get("command"))
    else:
        return []
    return [(file, text) for text in texts if isinstance(text, str) and text.strip()]


def _message_facts(message: object) -> tuple[str, str | None, float | None]:
    """(model, cwd, time in seconds) of an assistant message's data."""
    if not isinstance(message, dict):
        return "unknown", None, None
    model = message.get("modelID")
    where = message.get("path")
    cwd = where.get("cwd") if isinstance(where, dict) and isinstance(where.get("cwd"), str) else None
    times = message.get("time")
    created = times.get("created") if isinstance(times, dict) else None
    when = created / 1000 if isinstance(created, (int, float)) and not isinstance(created, bool) else None
    return (model if isinstance(model, str) and model else "unknown"), cwd, when


def _marked(part: dict, message: object, key: str) -> Iterator[tuple[str, Output]]:
    """(mark, output) for what a tool call wrote; the mark tells a call's text read again."""
    model, cwd, when = _message_facts(message)
    state = part.get("state")
    times = state.get("time") if isinstance(state, dict) else None
    end = times.get("end") if isinstance(times, dict) else None
    if isinstance(end, (int, float)) and not isinstance(end, bool):
        when = end / 1000
    for file, text in _texts(part):
        mark = seen_mark(key, file, text)
        yield mark, Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-log")


# --- the database --------------------------------------------------------------------------

def read_store(path: Path, state: dict) -> Iterator[Output | Skip]:
    """The completed code-writing tool calls in an opencode.db changed since `state["since"]`
    (the newest `time_updated` read; `state["seen"]` marks what was reported at that time)."""
    from aiguard.capture.sources._cursor_store import connect

    db = connect(path)
    since = state.get("since", 0)
    seen = set(state.get("seen", []))
    newest, at_newest = since, set[str]()  # the parts at the newest time are read again next time
    messages: dict[object, object] = {}
    try:
        rows = db.execute("SELECT id, message_id, time_updated, length(data), CASE WHEN length(data) <= ? "
                          "THEN data END FROM part WHERE time_updated >= ? ORDER BY time_updated, id LIMIT ?",
                          (MAX_VALUE, since, MAX_ROWS)).fetchall()
        for part_id, message_id, updated, size, raw in rows:
            if isinstance(updated, int) and updated > newest:
                newest, at_newest = updated, set[str]()
            where = f"{path}: part {part_id}"
            if raw is None:
                yield Skip(where, f"a part of {size} bytes, over the {MAX_VALUE >> 20} MiB limit; skipped")
                continue
            part = column_json(raw)
            if not isinstance(part, dict):
                yield Skip(where, "not a JSON object")
                continue
            if part.get("type") != "tool":
                continue
            if message_id not in messages:
                messages[message_id] = _message(db, message_id)
            for mark, output in _marked(part, messages[message_id], str(part_id)):
                at_newest.add(mark)
                if mark not in seen:
                    seen.add(mark)
                    yield output
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "no such table" in message:
            return  # a database without sessions yet
        busy = "locked" in message or "busy" in message
        yield Skip(str(path), "the database is busy; read again on its next change" if busy
                   else f"cannot read the database ({message})")
    finally:
        db.close()
        state["since"] = newest
        state["seen"] = sorted(at_newest)


def _message(db: sqlite3.Connection, message_id: object) -> object:
    row = db.execute("SELECT CASE WHEN length(data) <= ? THEN data END FROM message WHERE id = ?",
                     (MAX_VALUE, message_id)).fetchone()
    return column_json(row[0]) if row else None


# --- the older storage tree ----------------------------------------------------------------

def parse_log(path: Path, data: bytes, state: dict) -> Iterator[Output | Skip]:
    """A part file of the older storage tree (`storage/part/<message id>/<part id>.json`),
    read whole; its message is `storage/message/*/<message id>.json` beside it."""
    part = column_json(data)
    if not isinstance(part, dict):
        yield Skip(str(path), "not a JSON object")
        return
    if part.get("type") != "tool":
        return
    message_id = Path(path).parent.name
    storage = Path(path).parent.parent.parent
    message = None
    for candidate in sorted((storage / "message").glob(f"*/{message_id}.json"))[:1]:
        try:
            message = column_json(read_whole(candidate, MAX_VALUE))
        except Unreadable as exc:
            yield Skip(str(candidate), f"{exc}; the model is unknown")
    seen = set(state.get("seen", []))
    for mark, output in _marked(part, message, Path(path).stem):
        if mark not in seen:
            seen.add(mark)
            yield output
    state["seen"] = sorted(seen)
