"""OpenAI Codex: rollout JSONL under $CODEX_HOME/sessions, and PostToolUse hooks.

Every line is `{"timestamp", "type", "payload"}`. The model is on `turn_context`
lines, the working directory on `session_meta` and `turn_context`. Code reaches
files through apply_patch, seen as a custom tool call (`input` is the patch), a
JSON function call (`arguments` holds `input` or `patch`), a shell call running
`apply_patch`, and, in newer builds, `patch_apply_end` events listing the applied
changes; files written by other shell commands (`shell`, `exec_command`) are read for
the forms sources/_shell_writes knows. Facts: shared/research/assistant-logs.md §2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    absolute,
    jsonl_files,
    keyed_records,
    loads,
    parse_time,
)
from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "codex"
LABEL = "Codex"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None


def folders() -> Folders:
    home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()
    return Folders([home], [home / "sessions", home / "archived_sessions"])


def log_files(root: Path) -> Iterator[Path]:
    return jsonl_files(root)


def sniff(first_line: bytes) -> bool:
    return b'"session_meta"' in first_line or (b'"payload"' in first_line and b'"timestamp"' in first_line)


def _diff_text(change: dict) -> str | None:
    if change.get("type") == "add" and isinstance(change.get("content"), str):
        return change["content"]
    diff = change.get("unified_diff")
    if change.get("type") == "update" and isinstance(diff, str):
        added = [l[1:] for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
        return "\n".join(added) + "\n" if any(a.strip() for a in added) else None
    return None


def _patch_of_call(payload: dict) -> str | None:
    kind, name = payload.get("type"), str(payload.get("name") or "")
    if kind == "custom_tool_call" and name.endswith("apply_patch"):
        return payload.get("input") if isinstance(payload.get("input"), str) else None
    if kind == "function_call":
        try:
            arguments = loads(payload.get("arguments") or "{}")
        except (TypeError, ValueError):
            return None
        if not isinstance(arguments, dict):
            return None
        if name.endswith("apply_patch"):
            patch = arguments.get("input") or arguments.get("patch")
            return patch if isinstance(patch, str) else None
        command = arguments.get("command")
        if name.endswith("shell") and isinstance(command, list) and command[:1] == ["apply_patch"] and len(command) > 1:
            return command[1] if isinstance(command[1], str) else None
    return None


SHELL_TOOLS = ("shell", "exec_command", "local_shell", "container.exec")


def shell_command(payload: dict) -> tuple[str, str | None] | None:
    """(script, working directory) of a shell call (`shell` takes an argv, `exec_command` a `cmd`)."""
    name = str(payload.get("name") or "")
    if payload.get("type") not in ("function_call", "custom_tool_call") or not name.endswith(SHELL_TOOLS):
        return None
    raw = payload.get("arguments") if payload.get("type") == "function_call" else payload.get("input")
    try:
        arguments = loads(raw or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(arguments, dict):
        return None
    command = arguments.get("cmd", arguments.get("command"))
    if isinstance(command, list) and command and all(isinstance(word, str) for word in command):
        # ["bash", "-lc", script] runs the script; a bare argv is the command itself
        command = command[-1] if len(command) >= 3 and command[-2] in ("-c", "-lc") else " ".join(command)
    workdir = arguments.get("workdir")
    return (command, workdir if isinstance(workdir, str) else None) if isinstance(command, str) else None


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state` carries the turn's model and the session's cwd across appended chunks."""
    state = {} if state is None else state
    model = state.get("model", "unknown")
    cwd: str | None = state.get("cwd")
    for item in keyed_records(path, data, "payload"):
        if isinstance(item, Skip):
            yield item
            continue
        kind, payload, record = item
        if kind in ("session_meta", "turn_context"):
            cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else cwd
            if kind == "turn_context" and isinstance(payload.get("model"), str) and payload["model"]:
                model = payload["model"]
            state.update(model=model, cwd=cwd)
            continue
        when = parse_time(record.get("timestamp"))
        if kind == "response_item":
            patch = _patch_of_call(payload)
            for file, text in patch_texts(patch) if patch else []:
                yield Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-log")
            shell = None if patch else shell_command(payload)
            if shell:  # files written through the shell (an apply_patch there too)
                script, workdir = shell
                base = absolute(workdir, cwd) if workdir else cwd
                for written, text in shell_writes(script):
                    yield Output(NAME, model, text, absolute(written, base), cwd, when, "assistant-log")
        elif kind == "event_msg" and payload.get("type") == "patch_apply_end" and payload.get("success", True):
            changes = payload.get("changes")
            for file, change in (changes.items() if isinstance(changes, dict) else []):
                added = _diff_text(change) if isinstance(change, dict) else None
                if added:
                    yield Output(NAME, model, added, absolute(file, cwd), cwd, when, "assistant-log")


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse payload; Codex sends the model with it."""
    if payload.get("hook_event_name") not in (None, "PostToolUse"):
        return []
    tool_input = payload.get("tool_input")
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    if not isinstance(command, str):
        return []
    named = payload.get("model")
    model = named if isinstance(named, str) and named else "unknown"
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    texts: list[tuple[str | None, str]]
    if "*** Begin Patch" in command:
        texts = [(file, text) for file, text in patch_texts(command[command.index("*** Begin Patch"):])]
    else:
        texts = shell_writes(command)  # a file written through the shell tool
    return [Output(NAME, model, text, absolute(file, cwd), cwd, None, "assistant-hook") for file, text in texts]


# -- wiring: a marked block appended to config.toml ------------------------------------------

# Codex's hooks name its file-edit tool `apply_patch` (Edit and Write match it too) and every
# shell tool (shell, shell_command, exec_command) `Bash`, with `tool_input: {"command": ...}`
# (openai/codex codex-rs/core/src/tools/hook_names.rs); names joined by `|` match exactly.
CODEX_MATCHER = "apply_patch|Bash"
CODEX_TRUST = "Codex runs it once you trust it: open /hooks in Codex"


def wiring() -> Wiring:
    from aiguard.capture.wiring import TomlHook, hook_command, toml_wiring

    home = folders().settings[0]
    body = (f'matcher = "{CODEX_MATCHER}"\n'
            "\n"
            "[[hooks.PostToolUse.hooks]]\n"
            'type = "command"\n'
            f"command = {json.dumps(hook_command(NAME))}\n"
            "timeout = 30\n")
    return toml_wiring(TomlHook(NAME, LABEL, home / "config.toml", "[[hooks.PostToolUse]]", body, CODEX_MATCHER,
                                _hooks_json_has_hook, _note), home)


def _hooks_json_has_hook() -> bool:
    """A hook in $CODEX_HOME/hooks.json (put there by hand) counts as wired too."""
    from aiguard.capture.wiring import toml_has_hook

    try:
        data = json.loads((folders().settings[0] / "hooks.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return toml_has_hook(NAME, data)


def _note(data: dict) -> str:
    """Codex asks the user to trust a new hook; `[features]` may turn hooks off altogether."""
    features = data.get("features")
    if not isinstance(features, dict):
        features = {}
    turned_off = False in (features.get("hooks"), features.get("codex_hooks"))
    return CODEX_TRUST + ("; note that [features] turns hooks off" if turned_off else "")
