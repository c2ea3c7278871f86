"""Gemini CLI: chat recordings under ~/.gemini/tmp/<project>/chats, and AfterTool hooks.

Current recordings are JSONL, appended: a metadata line (`sessionId`, `projectHash`,
...), message lines `{"id", "timestamp", "type": "user"|"gemini"|..., "content"}` and
control lines (`$set`, `$rewindTo`). `gemini` messages carry `model` and `toolCalls`;
a message is appended again, same `id`, when its tool calls are updated, so a tool
call is reported once (by message and call id, kept in `state`). Legacy recordings
are one pretty-printed `session-*.json` object with `messages`, rewritten whole on every
change (the daemon reads it whole each time; `state` keeps what was reported too). Code
reaches files through `write_file` (`content`) and `replace` (`new_string`), and what
`run_shell_command` writes into files (the forms sources/_shell_writes knows). The
recordings hold no working directory. Facts: shared/research/assistant-logs.md §4.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator


from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    files_under,
    jsonl_objects,
    last_model,
    listed,
    loads,
    named,
    parse_time,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "gemini-cli"
LABEL = "Gemini CLI"
LOG_NAMES = ("*.jsonl", "session-*.json")  # current recordings, and legacy ones rewritten whole
REWRITTEN = False
HOOK_REPLY = None
WRITING_TOOLS = {"write_file": "content", "replace": "new_string"}
SHELL_TOOL = "run_shell_command"
MESSAGE_TYPES = {"user", "gemini", "info", "error", "warning"}


def folders() -> Folders:
    home = Path(os.environ.get("GEMINI_CLI_HOME") or Path.home()).expanduser() / ".gemini"
    return Folders([home], [home / "tmp"])


def wiring() -> Wiring:
    """AfterTool of write_file and replace, the tools parse_hook reads; timeout in ms; the
    settings file may hold comments."""
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"matcher": "|".join(WRITING_TOOLS), "hooks": [{"name": "aiguard", "type": "command",
                                                            "command": hook_command(NAME), "timeout": 30000}]}
    return json_wiring([JsonHook(NAME, home / "settings.json", "AfterTool", entry,
                                 {"hooks": {"AfterTool": [entry]}}, comments=True)], home)


def log_files(root: Path) -> Iterator[Path]:
    # <project>/chats/session-*.json[l], and sub-agent chats one folder deeper
    return files_under(root, "*.json*", where=lambda p: p.suffix in (".jsonl", ".json")
                       and "chats" in p.relative_to(root).parts[:-1])


def sniff(first_line: bytes) -> bool:
    """The metadata line, or (a recording without it) a message line of Gemini's shape."""
    if b'"projectHash"' in first_line and b'"startTime"' in first_line:
        return True
    try:
        record = loads(first_line)
    except ValueError:
        return False
    return (isinstance(record, dict) and record.get("type") in MESSAGE_TYPES
            and {"id", "timestamp", "content"} <= record.keys()
            and not {"message", "uuid", "parentUuid", "sessionId", "payload"} & record.keys())


def tool_texts(name: object, args: object,
               writing_tools: dict[str, str] = WRITING_TOOLS) -> list[tuple[str | None, str]]:
    """(file, text) a tool call wrote: a writing tool's `file_path` and its text argument (the
    tool's key in `writing_tools`), or what `run_shell_command` writes into files (relative to
    its `directory`). Qwen Code, a fork, has the same tools under a few more names."""
    if name == SHELL_TOOL and isinstance(args, dict):  # files it writes (see _shell_writes)
        directory = args.get("directory") if isinstance(args.get("directory"), str) else None
        return [(absolute(file, directory), text) for file, text in shell_writes(args.get("command"))]
    key = writing_tools.get(name) if isinstance(name, str) else None
    if key is None or not isinstance(args, dict):
        return []
    text, file = args.get(key), args.get("file_path")
    if not isinstance(text, str) or not text.strip():
        return []
    return [(file if isinstance(file, str) else None, text)]


def _message_outputs(message: dict, seen: set[str] | None, ident: object = None) -> Iterator[Output]:
    """A `gemini` message's writes; with `seen`, each tool call once (keyed by `ident`, else
    the message's id)."""
    if message.get("type") != "gemini":
        return
    model = named(message.get("model"))
    for index, call in enumerate(listed(message.get("toolCalls"))):
        if not isinstance(call, dict):
            continue
        if call.get("status") not in (None, "success"):
            continue  # an error or a cancelled call wrote nothing
        if seen is not None:
            key = f"{message.get('id') if ident is None else ident}/{call.get('id', index)}"
            if key in seen:
                continue  # the same message appended again with its tool calls updated
        texts = tool_texts(call.get("name"), call.get("args"))
        if texts and seen is not None:
            seen.add(key)
        when = parse_time(call.get("timestamp")) or parse_time(message.get("timestamp"))
        for file, text in texts:
            yield Output(NAME, model, text, file, None, when, "assistant-log")


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state` keeps the tool calls already reported (a message is re-appended when updated, a
    legacy recording rewritten whole)."""
    state = {} if state is None else state
    seen = set(state.get("seen", []))
    if Path(path).suffix == ".json":  # legacy: one object, rewritten whole
        try:
            record = loads(data)
        except ValueError:
            yield Skip(f"{path}:1", "not JSON")
            return
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            yield Skip(f"{path}:1", "no messages")
            return
        found = [output for position, message in enumerate(messages) if isinstance(message, dict)
                 for output in _message_outputs(message, seen, message.get("id") or f"#{position}")]
        state["seen"] = sorted(seen)
        yield from found
        return
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        _where, record = item
        if record.get("type") == "gemini":
            found = list(_message_outputs(record, seen))
            state["seen"] = sorted(seen)  # a list: the daemon saves state as JSON
            yield from found
    state["seen"] = sorted(seen)


def model_from_transcript(path: str | None, record_type: str = "gemini") -> str:
    """The model of the last record of `record_type` (a `gemini` message) of a JSONL recording
    (its tail), or "unknown"."""
    return last_model(path, lambda record: record.get("model") if record.get("type") == record_type else None)


def transcript_hook_outputs(tool: str, payload: dict, event: str,
                            texts: Callable[[object, object], list[tuple[str | None, str]]],
                            record_type: str = "gemini", timed: bool = False) -> list[Output]:
    """Outputs of an after-tool hook payload of Gemini CLI's shape (Qwen Code's too): `event`,
    `tool_name` and `tool_input` read by `texts`, `cwd`, and the model from the tail of
    `transcript_path` (its last record of `record_type`); with `timed`, the payload's
    `timestamp` is when."""
    if payload.get("hook_event_name") != event:
        return []
    found = texts(payload.get("tool_name"), payload.get("tool_input"))
    if not found:
        return []
    model = model_from_transcript(payload.get("transcript_path"), record_type)
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    when = parse_time(payload.get("timestamp")) if timed else None
    return [Output(tool, model, text, absolute(file, cwd), cwd, when, "assistant-hook") for file, text in found]


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from an AfterTool payload; the model comes from `transcript_path`'s tail."""
    return transcript_hook_outputs(NAME, payload, "AfterTool", tool_texts)
