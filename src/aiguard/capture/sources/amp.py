"""Amp (Sourcegraph's ampcode, CLI and editor clients): thread files under ~/.local/share/amp/threads.

Each thread is one pretty-printed JSON object `T-<uuid>.json`, rewritten whole as it
grows: `{"v", "id", "created", "env": {"initial": {"trees": [{"uri": "file:///…"}]}},
"messages": [...], ...}`. Messages are Anthropic-style (`role`, `content` blocks of
`text`, `thinking`, `tool_use` {`id`, `name`, `input`, `complete`}, `tool_result`); an
assistant message names its model in `usage.model` (and `usage.timestamp`). Code
reaches files through `create_file` (`path`, `content`), `edit_file` (`path`,
`old_str`, `new_str`), `apply_patch` (a "*** Begin Patch" patch) and what `Bash`
(`cmd`) writes into files (the forms sources/_shell_writes knows). A tool_use still
being streamed (`complete: false`) waits for the next rewrite. The working directory
is the thread's first tree. Amp's only hook mechanism is an experimental TypeScript
plugin API (`~/.config/amp/plugins/`, enabled with `PLUGINS=all`), which aiguard does
not write: Amp is read through its threads. Formats: real threads published by
git-ai (tests/fixtures/amp-threads), plyght/amp-acp's thread types, ampcode.com/manual
(tests/fixtures/assistant-logs/amp/SOURCES.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    files_under,
    json_document,
    listed,
    local_path,
    parse_time,
    seen_mark,
)

NAME = "amp"
LABEL = "Amp"
LOG_NAMES = ("T-*.json",)
REWRITTEN = True
HOOK_REPLY = None
TEXT_KEYS = {"create_file": "content", "edit_file": "new_str", "Write": "content", "Edit": "new_str"}
SHELL_TOOLS = ("Bash", "shell_command")


def folders() -> Folders:
    """Threads in `$XDG_DATA_HOME/amp/threads` (default ~/.local/share; on Windows under
    %LOCALAPPDATA%, not verified); configuration in `$XDG_CONFIG_HOME/amp`."""
    home = Path.home()
    if sys.platform == "win32":
        data = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        config = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return Folders([config / "amp"], [data / "amp" / "threads"])


def wiring() -> None:
    return None  # no hooks aiguard writes (the plugin API is experimental)


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, LOG_NAMES[0], recursive=False)


def sniff(head: bytes) -> bool:
    """A thread's opening: its `T-` id and thread fields (Amp pretty-prints the file, so a
    first line alone, `{`, does not tell; the thread folder does)."""
    compact = head.replace(b" ", b"").replace(b"\n", b"")
    return compact.startswith(b'{"v":') and b'"id":"T-' in compact


def _texts(name: object, tool_input: object) -> list[tuple[str | None, str]]:
    """(file, text) pairs a code-writing tool call wrote."""
    if not isinstance(tool_input, dict) or not isinstance(name, str):
        return []
    if name in SHELL_TOOLS:
        return shell_writes(tool_input.get("cmd") or tool_input.get("command"))
    if name == "apply_patch":
        patch = next((v for v in tool_input.values() if isinstance(v, str) and "*** Begin Patch" in v), None)
        return [(file, text) for file, text in patch_texts(patch[patch.index("*** Begin Patch"):])] if patch else []
    key = TEXT_KEYS.get(name)
    text = tool_input.get(key) if key else None
    file = tool_input.get("path") if isinstance(tool_input.get("path"), str) else None
    return [(file, text)] if isinstance(text, str) and text.strip() else []


def _thread_model(thread: dict) -> str | None:
    """The model the thread last used, for a message without its own `usage.model`."""
    debug = thread.get("~debug")
    usage = debug.get("lastInferenceUsage") if isinstance(debug, dict) else None
    if isinstance(usage, dict) and isinstance(usage.get("model"), str) and usage["model"]:
        return usage["model"]
    env = thread.get("env")
    initial = env.get("initial") if isinstance(env, dict) else None
    for tag in listed(initial.get("tags") if isinstance(initial, dict) else None):
        if isinstance(tag, str) and tag.startswith("model:") and tag[6:]:
            return tag[6:]
    return None


def _working_directory(thread: dict) -> str | None:
    env = thread.get("env")
    initial = env.get("initial") if isinstance(env, dict) else None
    trees = listed(initial.get("trees") if isinstance(initial, dict) else None)
    uri = trees[0].get("uri") if trees and isinstance(trees[0], dict) else None
    return local_path(uri)


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """The whole thread each time; `state["seen"]` holds the calls already reported."""
    state = {} if state is None else state
    thread = json_document(path, data)
    if isinstance(thread, Skip):
        yield thread
        return
    if not isinstance(thread, dict) or not isinstance(thread.get("messages"), list):
        yield Skip(f"{path}:1", "not an Amp thread (no messages)")
        return
    seen = set(state.get("seen", []))
    cwd = _working_directory(thread)
    fallback = _thread_model(thread) or "unknown"
    for index, message in enumerate(thread["messages"]):
        if not isinstance(message, dict):
            yield Skip(f"{path}:message {index + 1}", "not a message object")
            continue
        if message.get("role") != "assistant":
            continue
        usage: dict = message["usage"] if isinstance(message.get("usage"), dict) else {}
        named = usage.get("model")
        model = named if isinstance(named, str) and named else fallback
        when = parse_time(usage.get("timestamp"))
        for block in listed(message.get("content")):
            if not isinstance(block, dict) or block.get("type") != "tool_use" or block.get("complete") is False:
                continue
            for file, text in _texts(block.get("name"), block.get("input")):
                file = absolute(file, cwd)
                key = seen_mark(block.get("id"), file, text)
                if key in seen:
                    continue
                seen.add(key)
                yield Output(NAME, model, text, file, cwd, when, "assistant-log")
    state["seen"] = sorted(seen)  # a list: the daemon saves state as JSON
