"""GitHub Copilot: Copilot CLI session events and VS Code agent transcripts (same event JSONL).

Every line is `{"type", "data", "id", "timestamp", "parentId"}`. `session.start`
carries (CLI only) `data.context.cwd`; `session.model_change` carries
`data.newModel` (the VS Code transcripts name no model). Code reaches files through
`tool.execution_start` events: `create` (`path`, `file_text`), `str_replace`/`edit`
(`new_str`) and `apply_patch` (`input`, a "*** Begin Patch" patch). The other VS Code
edit tools (`replace_string_in_file`, `create_file`, ...) and the older VS Code
`chatSessions` JSON/journal files are not read: their argument shapes are not
confirmed. The CLI's postToolUse hook payload carries the same tool arguments. Facts: shared/research/assistant-logs.md §7.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator


from aiguard.capture.sources.common import Folders, Output, Skip, absolute, jsonl_objects, loads, parse_time, read_tail
from aiguard.capture.sources.codex import patch_texts

if TYPE_CHECKING:
    from aiguard.capture.wiring import Done, Wiring

NAME = "copilot"
LABEL = "GitHub Copilot (CLI and VS Code agent)"
LOG_NAMES = ("*.jsonl",)
REWRITTEN = False
HOOK_REPLY = None


def _vscode_user_dir() -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Code" / "User"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "Code" / "User"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "Code" / "User"


def folders() -> Folders:
    """COPILOT_HOME (else ~/.copilot) for the CLI's hooks and session events, one place for
    both; VS Code's workspaceStorage for the agent's transcripts."""
    home = Path(os.environ.get("COPILOT_HOME") or Path.home() / ".copilot").expanduser()
    return Folders([home], [home / "session-state", _vscode_user_dir() / "workspaceStorage"])


def log_roots() -> list[Path]:
    return folders().logs


def log_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    elif root.name == "workspaceStorage" and root.is_dir():
        yield from sorted(root.glob("*/GitHub.copilot-chat/transcripts/*.jsonl"))
    elif root.is_dir():
        yield from sorted(root.rglob("*.jsonl"))  # <id>/events.jsonl, older <id>.jsonl


def sniff(first_line: bytes) -> bool:
    return b'"session.start"' in first_line and (b'"copilot-agent"' in first_line
                                                  or b'"copilotVersion"' in first_line)


def _texts(name: object, arguments: object) -> list[tuple[str | None, str]]:
    if isinstance(arguments, str):
        try:
            arguments = loads(arguments)
        except ValueError:
            return []
    if not isinstance(arguments, dict):
        return []
    if name == "apply_patch":
        patch = arguments.get("input")
        return list(patch_texts(patch)) if isinstance(patch, str) else []
    key = {"create": "file_text", "str_replace": "new_str", "edit": "new_str"}.get(name) if isinstance(name, str) else None
    text, file = (arguments.get(key), arguments.get("path")) if key else (None, None)
    if not isinstance(text, str) or not text.strip():
        return []
    return [(file if isinstance(file, str) else None, text)]


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state` carries the session's model and cwd across appended chunks."""
    state = {} if state is None else state
    model = state.get("model", "unknown")
    cwd: str | None = state.get("cwd")
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        _where, record = item
        payload = record.get("data")
        if not isinstance(payload, dict):
            continue  # unknown shapes are ignored, not errors
        kind = record.get("type")
        if kind == "session.start":
            context = payload.get("context")
            found = context.get("cwd") if isinstance(context, dict) else None
            cwd = found if isinstance(found, str) else cwd
            state.update(model=model, cwd=cwd)
        elif kind == "session.model_change":
            if isinstance(payload.get("newModel"), str) and payload["newModel"]:
                model = payload["newModel"]
            state.update(model=model, cwd=cwd)
        elif kind == "tool.execution_start":
            when = parse_time(record.get("timestamp"))
            for file, text in _texts(payload.get("toolName"), payload.get("arguments")):
                yield Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-log")


def parse_hook(payload: dict) -> list[Output]:
    """Copilot CLI's postToolUse payload: `{timestamp (ms), cwd, toolName, toolArgs, toolResult}`
    (shape from the Copilot SDK's PostToolUseHookInput; not yet seen from a real CLI).

    The model is not in the payload: it comes from the session's event log when the
    payload names the session (`sessionId`), else it is unknown.
    """
    name = payload.get("toolName")
    texts = _texts(name, payload.get("toolArgs"))
    if not texts:
        return []
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    stamp = payload.get("timestamp")
    when = stamp / 1000 if isinstance(stamp, (int, float)) and stamp > 1e11 else (
        stamp if isinstance(stamp, (int, float)) else parse_time(stamp))
    model = _session_model(payload.get("sessionId"))
    return [Output(NAME, model, text, absolute(file, cwd), cwd, when, "assistant-hook") for file, text in texts]


def _session_model(session: object) -> str:
    """The last model a Copilot CLI session's events name (session.model_change)."""
    if not isinstance(session, str) or not session or "/" in session or session.startswith("."):
        return "unknown"
    root = folders().logs[0]
    for path in (root / session / "events.jsonl", root / f"{session}.jsonl"):
        if path.is_file():
            state: dict = {}
            data = read_tail(path, 4 << 20)
            for _ in parse_log(path, data[data.find(b"\n") + 1:] if len(data) == 4 << 20 else data, state):
                pass
            return state.get("model", "unknown")
    return "unknown"


# -- wiring: a hook file of aiguard's own ------------------------------------------------------

COPILOT_NOTE = ("the payload shape comes from the Copilot SDK's documentation, not yet from a real CLI; "
                "its session logs are ingested too")


def hook_path() -> Path:
    return folders().settings[0] / "hooks" / "aiguard.json"


def wiring() -> Wiring:
    from aiguard.capture.wiring import Wiring, owns

    return Wiring(folders().settings[0], hook_path(), _apply, _undo, lambda: owns(hook_path(), NAME))


def _hook_file() -> str:
    from aiguard.capture.wiring import hook_command

    # The Copilot CLI format (VS Code reads it too): lowerCamelCase events, bash/powershell.
    handler = {"type": "command", "bash": hook_command(NAME),
               "powershell": f'& "{sys.executable}" -m aiguard agent-hook {NAME}', "timeoutSec": 30}
    return json.dumps({"version": 1, "hooks": {"postToolUse": [handler]}}, indent=2) + "\n"


def _apply() -> Done:
    from aiguard.capture.wiring import Done, IntegrateError, hook_command, owns, write_settings

    path = hook_path()
    if path.exists():
        if owns(path, NAME):
            return Done(False, path, f"{path}: aiguard's hook is already there")
        raise IntegrateError(f"{path} exists and is not aiguard's; move it away and run this again")
    write_settings(path, "", _hook_file())
    return Done(True, path, f"{path}: added a postToolUse hook running `{hook_command(NAME)}` "
                            f"({COPILOT_NOTE})", COPILOT_NOTE)


def _undo() -> Done:
    from aiguard.capture.wiring import Done, owns

    path = hook_path()
    if not owns(path, NAME):
        left = "not aiguard's, left alone" if path.exists() else "aiguard's hook is not there; nothing to do"
        return Done(False, path, f"{path}: {left}")
    path.unlink()
    return Done(True, path, f"{path}: removed")
