"""Factory Droid (the `droid` CLI): session transcripts under ~/.factory/sessions, and PostToolUse hooks.

Sessions are JSONL, appended: `<sessions>/<project slug>/<session id>.jsonl` opens with
`{"type": "session_start", "id", "title", "sessionTitle", "owner", "version", "cwd"}`,
then `{"type": "message", "id", "timestamp", "message": {"role", "content": [...]}}`
lines with Anthropic-style `tool_use` blocks (and `todo_state` lines, ignored). The
model is not in the lines: it is `model` in the session's `<session id>.settings.json`
beside it. Code reaches files through `Create` (`file_path`, `content`), `Edit`
(`file_path`, `old_str`, `new_str`), `MultiEdit` (`file_path`, `changes[].new_str`),
`ApplyPatch` (a "*** Begin Patch" patch as `input`) and what `Execute` (`command`)
writes into files (the forms sources/_shell_writes knows). Hooks are Claude Code's
shape (docs.factory.ai/reference/hooks-reference): `hooks.PostToolUse` in
`~/.factory/settings.json` (JSONC), a payload with `session_id`, `transcript_path`,
`cwd`, `hook_event_name`, `tool_name`, `tool_input`, `tool_response` (camelCase
spellings are read too); exit 0 with nothing on stdout goes on. FACTORY_HOME_OVERRIDE
replaces the home folder `.factory` is in. Built from Droid's docs, its tool schemas
and third-party readers, not from a real session (tests/fixtures/assistant-logs/droid/SOURCES.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    Unreadable,
    absolute,
    jsonl_files,
    jsonl_objects,
    listed,
    loads,
    parse_time,
    read_whole,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Done, Wiring

NAME = "droid"
LABEL = "Factory Droid"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None
WRITING_TOOLS = ("Create", "Edit", "MultiEdit", "ApplyPatch", "Execute")
SHELL_TOOLS = ("Execute", "Bash")


def folders() -> Folders:
    """`~/.factory` (under FACTORY_HOME_OVERRIDE when set) for settings and hooks; its
    `sessions` folder for transcripts."""
    base = os.environ.get("FACTORY_HOME_OVERRIDE")
    home = (Path(base).expanduser() if base else Path.home()) / ".factory"
    return Folders([home], [home / "sessions"])


def log_files(root: Path) -> Iterator[Path]:
    return jsonl_files(root)


def sniff(first_line: bytes) -> bool:
    """A session's opening session_start line (Droid's own fields: sessionTitle, owner)."""
    compact = first_line.replace(b" ", b"")
    return b'"type":"session_start"' in compact and b'"sessionTitle"' in compact


def _texts(name: object, tool_input: object) -> list[tuple[str | None, str]]:
    """(file, text) pairs a code-writing tool call wrote (Droid's `new_str` names, and
    Claude Code's `new_string` ones should a version use them)."""
    if isinstance(tool_input, str) and name == "ApplyPatch":
        tool_input = {"input": tool_input}
    if not isinstance(tool_input, dict) or not isinstance(name, str):
        return []
    if name in SHELL_TOOLS:
        return shell_writes(tool_input.get("command"))
    if name == "ApplyPatch":
        patch = next((v for v in tool_input.values() if isinstance(v, str) and "*** Begin Patch" in v), None)
        return [(file, text) for file, text in patch_texts(patch[patch.index("*** Begin Patch"):])] if patch else []
    file = tool_input.get("file_path") if isinstance(tool_input.get("file_path"), str) else None
    if name in ("Create", "Write"):
        texts = [tool_input.get("content")]
    elif name == "Edit":
        texts = [tool_input.get("new_str", tool_input.get("new_string"))]
    elif name == "MultiEdit":
        changes = listed(tool_input.get("changes")) or listed(tool_input.get("edits"))
        texts = [change.get("new_str", change.get("new_string")) for change in changes if isinstance(change, dict)]
    else:
        return []
    return [(file, text) for text in texts if isinstance(text, str) and text.strip()]


def session_model(transcript: str | os.PathLike[str] | None) -> str:
    """The model in a session's `<id>.settings.json` beside its transcript, or "unknown"."""
    if not transcript:
        return "unknown"
    path = Path(transcript)
    try:
        settings = loads(read_whole(path.with_name(path.name.removesuffix(".jsonl") + ".settings.json"), 1 << 20))
    except (Unreadable, ValueError):
        return "unknown"
    model = settings.get("model") if isinstance(settings, dict) else None
    return model.strip() if isinstance(model, str) and model.strip() else "unknown"


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state["cwd"]` keeps the session_start line's working directory for later reads."""
    state = {} if state is None else state
    model = None
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        where, record = item
        if record.get("type") == "session_start":
            if isinstance(record.get("cwd"), str):
                state["cwd"] = record["cwd"]
            continue
        if record.get("type") != "message":
            continue
        message = record.get("message")
        if not isinstance(message, dict):
            yield Skip(where, "message line without a message")
            continue
        if message.get("role") != "assistant":
            continue
        cwd = state.get("cwd") if isinstance(state.get("cwd"), str) else None
        for block in listed(message.get("content")):
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            for file, text in _texts(block.get("name"), block.get("input")):
                model = model or session_model(path)
                yield Output(NAME, model, text, absolute(file, cwd), cwd, parse_time(record.get("timestamp")),
                             "assistant-log")


def _field(payload: dict, *names: str) -> object:
    return next((payload[n] for n in names if payload.get(n) is not None), None)


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse payload (other events carry no written text)."""
    if _field(payload, "hook_event_name", "hookEventName") not in (None, "PostToolUse"):
        return []
    texts = _texts(_field(payload, "tool_name", "toolName"), _field(payload, "tool_input", "toolInput"))
    if not texts:
        return []
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    named = payload.get("model")
    transcript = _field(payload, "transcript_path", "transcriptPath")
    model = named.strip() if isinstance(named, str) and named.strip() else \
        session_model(transcript if isinstance(transcript, str) else None)
    return [Output(NAME, model, text, absolute(file, cwd), cwd, None, "assistant-hook") for file, text in texts]


def wiring() -> Wiring:
    """A PostToolUse hook in `~/.factory/settings.json` (JSONC). Newer Droids read
    `~/.factory/hooks.json` instead when it exists: then integrate says to move the entry."""
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"matcher": "|".join(WRITING_TOOLS), "hooks": [{"type": "command", "command": hook_command(NAME),
                                                             "timeout": 30}]}
    wired = json_wiring([JsonHook(NAME, home / "settings.json", "PostToolUse", entry,
                                  {"hooks": {"PostToolUse": [entry]}}, comments=True)], home)
    return wired._replace(apply=lambda: _noting_hooks_json(wired.apply(), home / "hooks.json"))


def _noting_hooks_json(done: Done, hooks_json: Path) -> Done:
    if not hooks_json.exists():
        return done
    note = f"Droid reads {hooks_json} instead of settings.json's hooks when it exists: move aiguard's entry there"
    return done._replace(text=f"{done.text} ({note})", note=note)
