"""Kimi CLI (MoonshotAI/kimi-cli): session contexts under ~/.kimi/sessions, and PostToolUse hooks.

Each session is `<share dir>/sessions/<md5 of the work dir>/<session id>/context.jsonl`
(share dir: `KIMI_SHARE_DIR`, else `~/.kimi`), appended one kosong message a line:
`{"role": "user"|"assistant"|"tool", "content": str | [parts], "tool_calls": [{"type":
"function", "id", "function": {"name", "arguments" (a JSON string)}}]}`, and control
lines `{"role": "_checkpoint", "id"}`, `{"role": "_usage", "token_count"}`,
`{"role": "_system_prompt", ...}` (kimi-cli `soul/context.py`, `wiki/context-management.md`).
Compaction and reverts move the old file to `context_<n>.jsonl`; those are read too
(the ledger drops what was recorded twice). Code reaches files through `WriteFile`
(`path`, `content`, `mode` overwrite|append), `StrReplaceFile` (`path`, `edit` one or a
list of `{old, new}`) and `Shell` (`command`, the forms sources/_shell_writes knows).

The context names no model (kimi-cli keeps none per session), so outputs have model
"unknown"; the working directory is the work dir in `<share dir>/kimi.json` whose md5
names the folder. Hooks (`[[hooks]]` in `<share dir>/config.toml`, kimi-cli
`hooks/events.py`): a `PostToolUse` payload has `session_id`, `cwd`, `tool_name`,
`tool_input`, `tool_output`, `tool_call_id`, and no model either. Built from kimi-cli's
source, not from a real log (tests/fixtures/assistant-logs/kimi-cli/SOURCES.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    Unreadable,
    absolute,
    files_under,
    hook_outputs,
    jsonl_objects,
    listed,
    loads,
    read_whole,
    tool_arguments,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "kimi-cli"
LABEL = "Kimi CLI"
REWRITTEN = False
HOOK_REPLY = None
LOG_NAMES = ("context*.jsonl",)  # not the session's wire.jsonl (the same turns as UI events)
CONTROL_ROLES = (b'{"role":"_checkpoint"', b'{"role":"_system_prompt"', b'{"role":"_usage"',
                 b'{"role": "_checkpoint"', b'{"role": "_system_prompt"', b'{"role": "_usage"')


def share_dir() -> Path:
    """Kimi CLI's data folder: KIMI_SHARE_DIR, else ~/.kimi."""
    return Path(os.environ.get("KIMI_SHARE_DIR") or Path.home() / ".kimi").expanduser()


def folders() -> Folders:
    """KIMI_SHARE_DIR (else ~/.kimi): config.toml with its hooks, and the sessions."""
    share = share_dir()
    return Folders([share], [share / "sessions"])


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, "context*.jsonl",
                       where=lambda p: p.stem == "context" or p.stem.removeprefix("context_").isdigit())


def sniff(first_line: bytes) -> bool:
    """A context opens with one of kimi-cli's control records (a checkpoint or the system prompt)."""
    return first_line.lstrip().startswith(CONTROL_ROLES)


def _texts(name: object, arguments: object) -> list[tuple[str | None, str]]:
    arguments = tool_arguments(arguments)
    file = arguments.get("path") if isinstance(arguments.get("path"), str) else None
    if name == "WriteFile":
        texts = [arguments.get("content")]
    elif name == "StrReplaceFile":
        edits = arguments.get("edit")
        texts = [edit.get("new") for edit in (edits if isinstance(edits, list) else [edits]) if isinstance(edit, dict)]
    elif name == "Shell":
        return shell_writes(arguments.get("command"))
    else:
        return []
    return [(file, text) for text in texts if isinstance(text, str) and text.strip()]


def work_dir(path: Path) -> str | None:
    """The work dir of a session folder: the `kimi.json` entry whose md5 names its parent folder."""
    session = Path(path).parent
    sessions = session.parent.parent
    try:
        index = loads(read_whole(sessions.parent / "kimi.json", 16 << 20))
    except (Unreadable, ValueError):
        return None
    for entry in listed(index.get("work_dirs") if isinstance(index, dict) else None):
        folder = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(folder, str) and hashlib.md5(folder.encode()).hexdigest() == session.parent.name:
            return folder
    return None


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state` keeps the session's work dir (looked up once per file)."""
    state = {} if state is None else state
    if "cwd" not in state:
        state["cwd"] = work_dir(path)
    cwd = state["cwd"]
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        _where, record = item
        if record.get("role") != "assistant":
            continue
        for call in listed(record.get("tool_calls")):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            for file, text in _texts(function.get("name"), function.get("arguments")):
                yield Output(NAME, "unknown", text, absolute(file, cwd), cwd, None, "assistant-log")


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse payload (other events carry no written text; no model named)."""
    return hook_outputs(NAME, payload, "PostToolUse", _texts)


# -- wiring: a marked [[hooks]] block appended to config.toml ------------------------------------

MATCHER = "WriteFile|StrReplaceFile|Shell"  # the tools parse_hook reads


def wiring() -> Wiring:
    from aiguard.capture.wiring import TomlHook, hook_command, toml_wiring

    share = folders().settings[0]
    body = ('event = "PostToolUse"\n'
            f'matcher = "{MATCHER}"\n'
            f"command = {json.dumps(hook_command(NAME))}\n"
            "timeout = 30\n")
    return toml_wiring(TomlHook(NAME, LABEL, share / "config.toml", "[[hooks]]", body, MATCHER), share)
