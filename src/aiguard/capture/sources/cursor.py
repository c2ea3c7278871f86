"""Cursor: agent transcripts under ~/.cursor/projects/<slug>/agent-transcripts, and afterFileEdit hooks.

Transcript lines are `{"role": "user"|"assistant", "message": {"content": [...]}}`
with `tool_use` blocks; the one code-writing tool seen in a real transcript is
`Write` (`path`, `contents`). The transcripts hold no model, no timestamps and no
working directory (the folder slug is lossy and not used), so outputs have model
"unknown". The global SQLite `state.vscdb` (composer conversations, with their models)
is read by sources/_cursor_store. Facts: shared/research/assistant-logs.md §8.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources.common import Folders, Output, Skip, files_under, jsonl_objects, listed, named

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "cursor"
LABEL = "Cursor"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None


STORES = ("state.vscdb",)  # read by sources/_cursor_store (SQLite, opened read-only), not as lines


def _user_dir() -> Path:
    """Cursor's VS Code user folder (its state.vscdb databases are under it)."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Cursor" / "User"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "Cursor" / "User"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "Cursor" / "User"


def folders() -> Folders:
    """CURSOR_CONFIG_DIR (else ~/.cursor) for hooks and agent transcripts; the global
    state.vscdb in Cursor's VS Code user folder for composer conversations."""
    home = Path(os.environ.get("CURSOR_CONFIG_DIR") or Path.home() / ".cursor").expanduser()
    return Folders([home], [home / "projects", _user_dir() / "globalStorage" / "state.vscdb"])


def wiring() -> Wiring:
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"command": hook_command(NAME)}
    return json_wiring([JsonHook(NAME, home / "hooks.json", "afterFileEdit", entry,
                                 {"version": 1, "hooks": {"afterFileEdit": [entry]}})], home)


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, where=lambda p: p.parent.name == "agent-transcripts")


def read_store(path: Path, state: dict) -> Iterator[Output | Skip]:
    """The composer conversations' tool calls in a state.vscdb (see sources/_cursor_store)."""
    from aiguard.capture.sources._cursor_store import read_store

    return read_store(path, state, NAME)


def sniff(first_line: bytes) -> bool:
    return first_line.lstrip().startswith(b'{"role":"') and b'"message":{"content":' in first_line


def _texts(name: object, tool_input: object) -> list[tuple[str | None, str]]:
    if name != "Write" or not isinstance(tool_input, dict):
        return []
    text, file = tool_input.get("contents"), tool_input.get("path")
    if not isinstance(text, str) or not text.strip():
        return []
    return [(file if isinstance(file, str) else None, text)]


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """Every line stands alone (there is no model or cwd to carry): no state."""
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        where, record = item
        if record.get("role") != "assistant":
            continue  # user lines, turn_ended
        message = record.get("message")
        if not isinstance(message, dict):
            yield Skip(where, "assistant line without a message")
            continue
        for block in listed(message.get("content")):
            if isinstance(block, dict) and block.get("type") == "tool_use":
                for file, text in _texts(block.get("name"), block.get("input")):
                    yield Output(NAME, "unknown", text, file, None, None, "assistant-log")


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from an `afterFileEdit` payload (`file_path`, `edits[].new_string`).

    The field list is from third-party code (research §8c), not Cursor's docs; other
    events (the newer pre/postToolUse) are not read."""
    if payload.get("hook_event_name") != "afterFileEdit":
        return []
    file, edits = payload.get("file_path"), payload.get("edits")
    if not isinstance(file, str) or not isinstance(edits, list):
        return []
    roots = payload.get("workspace_roots")
    cwd = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else None
    model = named(payload.get("model"))
    if not os.path.isabs(file) and cwd:
        file = os.path.join(cwd, file)
    return [Output(NAME, model, edit["new_string"], file, cwd, None, "assistant-hook")
            for edit in edits
            if isinstance(edit, dict) and isinstance(edit.get("new_string"), str) and edit["new_string"].strip()]
