"""Windsurf (Codeium Cascade): post_write_code hooks, and the transcripts its hooks can have written.

Cascade's own conversation store (~/.codeium/windsurf/cascade/*.pb) is encrypted
protobuf and is not read. What can be read:

* Cascade hooks (~/.codeium/windsurf/hooks.json, or .windsurf/hooks.json in a
  workspace): `post_write_code` gets `{"agent_action_name", "trajectory_id",
  "execution_id", "timestamp", "tool_info": {"file_path", "edits": [{"old_string",
  "new_string"}]}}` on stdin (Windsurf's docs); `model_name` (and `tool_info.cwd`)
  are there in newer versions per third-party code, so the model is "unknown"
  without them. Hooks answer through their exit code: nothing to print.
* Transcripts: with a `post_cascade_response_with_transcript` hook configured,
  Windsurf writes ~/.windsurf/transcripts/<trajectory_id>.jsonl, one step a line,
  `{"type": T, "status", T: {...}}`. `code_action` steps carry `path` (a file://
  URI), `original_content`, `new_content` and `acknowledgement_type`; the lines of
  `new_content` that `original_content` does not have are what the model wrote.
  Rejected and unfinished steps are skipped. Transcripts name no model: "unknown".

Facts (documentation and third-party code; no real transcript was available):
shared/research/assistant-logs.md §9.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterator


from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    jsonl_files,
    jsonl_objects,
    loads,
    local_path,
    named,
    parse_time,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "windsurf"
LABEL = "Windsurf"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None
STEP = re.compile(rb'"type":"([a-z_]+)"')


def folders() -> Folders:
    """Hooks in ~/.codeium/windsurf (Cascade's settings), transcripts in ~/.windsurf; Windsurf
    has no environment override for either."""
    home = Path.home()
    return Folders([home / ".codeium" / "windsurf"], [home / ".windsurf" / "transcripts"])


def wiring() -> Wiring:
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"command": hook_command(NAME), "show_output": False}
    return json_wiring([JsonHook(NAME, home / "hooks.json", "post_write_code", entry,
                                 {"hooks": {"post_write_code": [entry]}})], home)


def log_files(root: Path) -> Iterator[Path]:
    return jsonl_files(root)


def sniff(first_line: bytes) -> bool:
    """A step line: `type` names a key of the same line that holds the step, next to `status`."""
    try:
        record = loads(first_line)
    except ValueError:  # a long first line read only in part
        kind = STEP.search(first_line)
        return kind is not None and b'"status":"' in first_line and b'"' + kind.group(1) + b'":{' in first_line
    return (isinstance(record, dict) and isinstance(record.get("type"), str) and "status" in record
            and isinstance(record.get(record["type"]), dict))


def added_lines(original: str, new: str) -> list[str]:
    """The runs of lines of `new` that are not in `original` (inserted or replacing others)."""
    old_lines, new_lines = original.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    runs = ["".join(new_lines[j1:j2]) for tag, _i1, _i2, j1, j2 in matcher.get_opcodes()
            if tag in ("insert", "replace")]
    return [run for run in runs if run.strip()]


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """Every step stands alone (no model, no times to carry): no state."""
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        where, record = item
        if record.get("type") != "code_action":
            continue  # user input, planner responses, reads, commands
        action = record.get("code_action")
        if not isinstance(action, dict):
            yield Skip(where, "code_action step without its action")
            continue
        if record.get("status") not in (None, "done") or action.get("acknowledgement_type") == \
                "ACKNOWLEDGEMENT_TYPE_REJECT":
            continue  # not applied
        new, original = action.get("new_content"), action.get("original_content")
        if not isinstance(new, str):
            yield Skip(where, "code_action without new_content")
            continue
        file = local_path(action.get("path"))
        cwd = os.path.dirname(file) if file and os.path.isabs(file) else None
        for text in added_lines(original if isinstance(original, str) else "", new):
            yield Output(NAME, "unknown", text, file, cwd, None, "assistant-log")


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a `post_write_code` payload (`tool_info.edits[].new_string`)."""
    if payload.get("agent_action_name") != "post_write_code":
        return []
    info = payload.get("tool_info")
    if not isinstance(info, dict) or not isinstance(info.get("edits"), list):
        return []
    cwd = info.get("cwd") if isinstance(info.get("cwd"), str) and info.get("cwd") else None
    file = absolute(local_path(info.get("file_path")), cwd)
    if cwd is None and file and os.path.isabs(file):
        cwd = os.path.dirname(file)  # its repository is the file's
    model = named(payload.get("model_name"))
    when = parse_time(payload.get("timestamp"))
    return [Output(NAME, model, edit["new_string"], file, cwd, when, "assistant-hook")
            for edit in info["edits"]
            if isinstance(edit, dict) and isinstance(edit.get("new_string"), str) and edit["new_string"].strip()]
