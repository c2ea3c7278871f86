"""Qwen Code (QwenLM/qwen-code, a Gemini CLI fork): chat records under ~/.qwen/projects, and PostToolUse hooks.

Each session is `<runtime dir>/projects/<sanitised cwd>/chats/<session id>.jsonl`
(runtime dir: `QWEN_RUNTIME_DIR`, else `~/.qwen`), appended one record a line:
`{uuid, parentUuid, sessionId, timestamp, type: "user"|"assistant"|"tool_result"|"system",
cwd, version, message: {role, parts: [...]}, model?}` (qwen-code
`packages/core/src/services/chatRecordingService.ts`, `ChatRecord`). Assistant records
carry `model` and Gemini-style `functionCall` parts `{id, name, args}`; code reaches
files through `write_file` (`file_path`, `content`) and `edit` (`file_path`,
`new_string`; `replace` in older builds), and through `run_shell_command` (the forms
sources/_shell_writes knows). A call is recorded when the model made it: a call that
then failed (its `tool_result` says so) only matters if the same text is committed.

Hooks (qwen-code `docs/users/features/hooks.md`) are Claude Code's shape in
`~/.qwen/settings.json`: a `PostToolUse` payload has `session_id`, `transcript_path`,
`cwd`, `hook_event_name`, `tool_name` (the runtime id, `write_file`), `tool_input`,
`tool_response`; the model comes from the transcript's tail. Built from Qwen Code's
source and docs, not from a real log (tests/fixtures/assistant-logs/qwen-code/SOURCES.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources import gemini_cli
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    files_under,
    jsonl_objects,
    listed,
    loads,
    parse_time,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "qwen-code"
LABEL = "Qwen Code"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None
WRITING_TOOLS = {**gemini_cli.WRITING_TOOLS, "edit": "new_string"}  # `edit`: Gemini's `replace` renamed
RECORD_TYPES = {"user", "assistant", "tool_result", "system"}


def runtime_dir() -> Path:
    """Qwen Code's runtime folder (its sessions live under it): QWEN_RUNTIME_DIR, else ~/.qwen."""
    return Path(os.environ.get("QWEN_RUNTIME_DIR") or Path.home() / ".qwen").expanduser()


def folders() -> Folders:
    """Settings (and hooks) in ~/.qwen; sessions under the runtime folder (QWEN_RUNTIME_DIR)."""
    return Folders([Path.home() / ".qwen"], [runtime_dir() / "projects"])


def wiring() -> Wiring:
    """Claude Code's hook shape in ~/.qwen/settings.json (comments allowed): PostToolUse of the
    tools parse_hook reads."""
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"matcher": "write_file|edit|run_shell_command",
             "hooks": [{"type": "command", "command": hook_command(NAME), "name": "aiguard"}]}
    return json_wiring([JsonHook(NAME, home / "settings.json", "PostToolUse", entry,
                                 {"hooks": {"PostToolUse": [entry]}}, comments=True)], home)


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, where=lambda p: p.parent.name == "chats")


def sniff(first_line: bytes) -> bool:
    """A chat record: Claude Code's tree fields (uuid, parentUuid) with Gemini's `parts` or a
    system record's `subtype`, and none of Claude Code's own fields."""
    try:
        record = loads(first_line)
    except ValueError:
        return False
    if not isinstance(record, dict) or record.get("type") not in RECORD_TYPES:
        return False
    if not {"uuid", "parentUuid", "sessionId", "timestamp"} <= record.keys():
        return False
    if {"userType", "isSidechain", "leafUuid"} & record.keys() and "parts" not in first_line.decode("utf-8", "replace"):
        return False
    message = record.get("message")
    return (isinstance(message, dict) and isinstance(message.get("parts"), list)) or "subtype" in record \
        or "systemPayload" in record


def _texts(name: object, args: object) -> list[tuple[str | None, str]]:
    """Gemini CLI's tools (Qwen Code is its fork), their arguments possibly a JSON string."""
    if isinstance(args, str):
        try:
            args = loads(args)
        except ValueError:
            return []
    return gemini_cli.tool_texts(name, args, WRITING_TOOLS) if isinstance(args, dict) else []


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """Every assistant record names its model and cwd: no state."""
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        where, record = item
        if record.get("type") != "assistant":
            continue
        message = record.get("message")
        if not isinstance(message, dict):
            continue  # an assistant record with usage only
        named = record.get("model")
        model = named if isinstance(named, str) and named else "unknown"
        cwd = record.get("cwd") if isinstance(record.get("cwd"), str) else None
        when = parse_time(record.get("timestamp"))
        for part in listed(message.get("parts")):
            call = part.get("functionCall") if isinstance(part, dict) else None
            if not isinstance(call, dict):
                continue
            for file, text in _texts(call.get("name"), call.get("args")):
                yield Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-log")


def model_from_transcript(path: str | None) -> str:
    """The model of the last assistant record of a session (its tail), or "unknown"."""
    return gemini_cli.model_from_transcript(path, "assistant")


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse payload (other events carry no written text), dated by it."""
    return gemini_cli.transcript_hook_outputs(NAME, payload, "PostToolUse", _texts, "assistant", timed=True)
