"""Claude Code: JSONL transcripts under ~/.claude/projects, and PostToolUse hooks.

Transcript lines carry `cwd`, `timestamp` and, on assistant lines, `message.model`
and `tool_use` blocks; the code-writing tools are Write (`content`), Edit
(`new_string`), MultiEdit (`edits[].new_string`) and NotebookEdit (`new_source`); what
a Bash call writes into files is read too, for the forms sources/_shell_writes knows.
Hook payloads carry the same tool input plus `transcript_path`, whose tail gives
the model (the payload has none). Facts: shared/research/assistant-logs.md §1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    jsonl_files,
    jsonl_objects,
    last_model,
    listed,
    parse_time,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "claude-code"
LABEL = "Claude Code"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None
WRITING_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit", "Bash"}  # Bash: files it writes (see _shell_writes)
SNAPSHOT = b'"file-history-snapshot"'  # the record type 2.x transcripts open with
MATCHER = "|".join(sorted(WRITING_TOOLS, key=["Write", "Edit", "MultiEdit", "NotebookEdit", "Bash"].index))


def folders() -> Folders:
    """CLAUDE_CONFIG_DIR (a comma-separated list: every entry is a configuration folder),
    else ~/.claude and the newer ~/.config/claude."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        homes = [Path(p).expanduser() for p in configured.split(",") if p.strip()]
    else:
        home = Path.home()
        homes = [home / ".claude", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "claude"]
    return Folders(homes, [folder / "projects" for folder in homes])


def wiring() -> Wiring:
    """A PostToolUse hook in settings.json of each configuration folder that exists (the first
    folder when none does yet), so every folder whose transcripts are read is wired too."""
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    homes = folders().settings
    targets = [folder for folder in homes if folder.is_dir()] or homes[:1]
    entry = {"matcher": MATCHER, "hooks": [{"type": "command", "command": hook_command(NAME), "timeout": 30}]}
    specs = [JsonHook(NAME, folder / "settings.json", "PostToolUse", entry, {"hooks": {"PostToolUse": [entry]}})
             for folder in targets]
    return json_wiring(specs, targets[0])


def log_files(root: Path) -> Iterator[Path]:
    return jsonl_files(root)


def sniff(record: bytes) -> bool:
    """A conversation line (parentUuid), a summary (leafUuid) or the `file-history-snapshot`
    record 2.x transcripts open with; a bare "sessionId" is not enough: Gemini CLI and Copilot
    logs have one too; Qwen Code's records have a parentUuid too (with Gemini-style parts).
    (Other opening records, `permission-mode` and the like, are too plain to tell: ingest
    looks on to the next records.)"""
    from aiguard.capture.sources import qwen_code

    if SNAPSHOT in record and b'"snapshot"' in record and b'"messageId"' in record:
        return True
    return (b'"parentUuid"' in record or b'"leafUuid"' in record) and not qwen_code.sniff(record)


def _texts(name: str, tool_input: dict) -> list[tuple[str | None, str]]:
    """(file, text) pairs a code-writing tool call wrote."""
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    if name == "Write":
        texts = [tool_input.get("content")]
    elif name == "Edit":
        texts = [tool_input.get("new_string")]
    elif name == "MultiEdit":
        texts = [edit.get("new_string") for edit in listed(tool_input.get("edits")) if isinstance(edit, dict)]
    elif name == "NotebookEdit":
        texts = [tool_input.get("new_source")]
    elif name == "Bash":
        return [(file, text) for file, text in shell_writes(tool_input.get("command"))
                if f"{os.sep}.claude{os.sep}" not in (file or "")]
    else:
        return []
    if isinstance(path, str) and f"{os.sep}.claude{os.sep}" in path:
        return []  # the assistant's own plans and notes, not code
    return [(path if isinstance(path, str) else None, text) for text in texts if isinstance(text, str) and text.strip()]


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """Every line stands alone here (each assistant line names its model and cwd): no state."""
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        where, record = item
        if record.get("type") != "assistant":
            continue  # user lines, summaries, snapshots, system records: no model output
        message = record.get("message")
        if not isinstance(message, dict):
            yield Skip(where, "assistant line without a message")
            continue
        model = message.get("model")
        if not isinstance(model, str) or not model or model == "<synthetic>":
            continue
        for block in listed(message.get("content")):
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            tool_input = block.get("input")
            if block.get("name") in WRITING_TOOLS and isinstance(tool_input, dict):
                for file, text in _texts(block["name"], tool_input):
                    cwd = record.get("cwd") if isinstance(record.get("cwd"), str) else None
                    yield Output(NAME, model, text, absolute(file, cwd), cwd, parse_time(record.get("timestamp")),
                                 "assistant-log")


def model_from_transcript(path: str | None) -> str:
    """The model of the last assistant line of a transcript (its tail), or "unknown"."""
    return last_model(path, lambda record: record["message"].get("model")
                      if isinstance(record.get("message"), dict) else None)


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse payload (other events carry no written text).

    Continue's cn runs the hooks of ~/.claude/settings.json too, with CONTINUE_PROJECT_DIR
    set: those payloads are cn's, not Claude Code's (sources/continue_dev reads cn)."""
    if payload.get("hook_event_name") not in (None, "PostToolUse") or os.environ.get("CONTINUE_PROJECT_DIR"):
        return []
    name = payload.get("tool_name")
    tool_input = payload.get("tool_input")
    if not isinstance(name, str) or name not in WRITING_TOOLS or not isinstance(tool_input, dict):
        return []
    texts = _texts(name, tool_input)
    if not texts:
        return []
    model = model_from_transcript(payload.get("transcript_path"))
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    return [Output(NAME, model, text, absolute(file, cwd), cwd, None, "assistant-hook") for file, text in texts]
