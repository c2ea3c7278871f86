"""GitHub Copilot: Copilot CLI session events and VS Code agent transcripts (same event JSONL).

Every line is `{"type", "data", "id", "timestamp", "parentId"}`. `session.start`
carries (CLI only) `data.context.cwd`; `session.model_change` carries
`data.newModel` (the VS Code transcripts name no model). Code reaches files through
`tool.execution_start` events: `create` (`path`, `file_text`), `str_replace`/`edit`
(`new_str`) and `apply_patch` (`input`, a "*** Begin Patch" patch), and what
`bash`/`run_in_terminal` (`command`) writes into files (the forms sources/_shell_writes
knows). The other VS Code edit tools of the transcripts (`replace_string_in_file`,
`create_file`, ...) are not read: their argument shapes are not confirmed. The older
VS Code `chatSessions` JSON and journal files are read by sources/_copilot_chat_sessions.
The CLI's postToolUse hook payload carries the same tool arguments. Facts:
shared/research/assistant-logs.md §7.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources import _copilot_chat_sessions as chat_sessions
from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import Folders, Output, Skip, absolute, keyed_records, loads, parse_time, read_tail

if TYPE_CHECKING:
    from aiguard.capture.wiring import Done, Wiring

NAME = "copilot"
LABEL = "GitHub Copilot (CLI and VS Code agent)"
# Event logs, and VS Code chat sessions (`chatSessions/<session uuid>.json` or `.jsonl`).
LOG_NAMES = ("*.jsonl", "????????-????-????-????-????????????.json")
REWRITTEN = False  # a chatSessions .json is rewritten whole: the daemon's tailer reads every .json whole
HOOK_REPLY = None
CHAT_SESSION_FOLDERS = ("chatSessions", "emptyWindowChatSessions")
JOURNAL_START = re.compile(rb'(?m)^\{"kind":\s*0,')
SHELL_TOOLS = ("bash", "powershell", "run_in_terminal")
CHAT_SESSION_KEYS = (b'"requesterUsername"', b'"responderUsername"', b'"requests"')


def _vscode_user_dir() -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Code" / "User"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "Code" / "User"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "Code" / "User"


def folders() -> Folders:
    """COPILOT_HOME (else ~/.copilot) for the CLI's hooks and session events, one place for
    both; VS Code's workspaceStorage for the agent's transcripts and chat sessions, and
    globalStorage/emptyWindowChatSessions for the chat sessions of windows with no folder."""
    home = Path(os.environ.get("COPILOT_HOME") or Path.home() / ".copilot").expanduser()
    user = _vscode_user_dir()
    return Folders([home], [home / "session-state", user / "workspaceStorage",
                            user / "globalStorage" / "emptyWindowChatSessions"])


def log_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    elif root.name == "workspaceStorage" and root.is_dir():
        yield from sorted([*root.glob("*/GitHub.copilot-chat/transcripts/*.jsonl"),
                           *root.glob("*/chatSessions/*.json"), *root.glob("*/chatSessions/*.jsonl")])
    elif root.name == "emptyWindowChatSessions" and root.is_dir():
        yield from sorted([*root.glob("*.json"), *root.glob("*.jsonl")])
    elif root.is_dir():
        yield from sorted(root.rglob("*.jsonl"))  # <id>/events.jsonl, older <id>.jsonl


def sniff(record: bytes) -> bool:
    """An event log's session.start, a chat session journal's opening snapshot, or the head
    of a chat session document (pretty-printed JSON: requester, responder and requests)."""
    if record.startswith(b'{"kind":0,"v":{') and b'"requests"' in record:
        return True
    if record.lstrip().startswith(b"{") and all(key in record for key in CHAT_SESSION_KEYS):
        return True
    return b'"session.start"' in record and (b'"copilot-agent"' in record or b'"copilotVersion"' in record)


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
    if name in SHELL_TOOLS:  # files written through the shell (see _shell_writes)
        return shell_writes(arguments.get("command"))
    key = {"create": "file_text", "str_replace": "new_str", "edit": "new_str"}.get(name) if isinstance(name, str) else None
    text, file = (arguments.get(key), arguments.get("path")) if key else (None, None)
    if not isinstance(text, str) or not text.strip():
        return []
    return [(file if isinstance(file, str) else None, text)]


def _journal_start(data: bytes) -> bool:
    """Whether a read holds a chat session journal's opening snapshot: a kind-0 line that is one
    JSON object with a `v` object of `requests` (not merely a line starting like one), in a
    read that is not an event log (those open with session.start)."""
    first_line = data.split(b"\n", 1)[0]
    if b'"session.start"' in first_line:
        return False
    for match in JOURNAL_START.finditer(data):
        end = data.find(b"\n", match.start())
        try:
            record = loads(data[match.start():end if end >= 0 else len(data)])
        except ValueError:
            continue
        snapshot = record.get("v") if isinstance(record, dict) else None
        if isinstance(snapshot, dict) and isinstance(snapshot.get("requests"), list):
            return True
    return False


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """`state` carries the session's model and cwd across appended chunks."""
    state = {} if state is None else state
    if Path(path).suffix == ".json" or state.get("journal") or Path(path).parent.name in CHAT_SESSION_FOLDERS \
            or _journal_start(data):
        state["journal"] = True  # a chat session journal (its later appends are kind 1 and 2 lines)
        yield from chat_sessions.parse_log(path, data, state, NAME)
        return
    model = state.get("model", "unknown")
    cwd: str | None = state.get("cwd")
    for item in keyed_records(path, data, "data"):
        if isinstance(item, Skip):
            yield item
            continue
        kind, payload, record = item
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
