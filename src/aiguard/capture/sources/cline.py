"""Cline (and its forks Roo Code and Kilo Code): task histories in VS Code's globalStorage, and Cline's hooks.

Each task is a folder `<user dir>/globalStorage/<extension id>/tasks/<task id>/`;
its `api_conversation_history.json` is one JSON array of Anthropic-style messages,
rewritten whole on every save (a temp file renamed over it), so it is parsed whole
each time and `state` keeps what was already reported. The model writes code
through tool calls: older versions put them as XML in the assistant's text
(`<write_to_file><path>…</path><content>…</content></write_to_file>`), newer ones
as `tool_use` blocks; `write_to_file` (`content`), `replace_in_file` (`diff`, the
REPLACE sides count) and Roo/Kilo's `apply_diff` (`diff`), `insert_content`
(`content`) and `search_and_replace` (`replace`) are read. A proposal the user then
rejected is in the history too; it only matters if the same text lands in a commit.

The model is the message's `modelInfo.modelId` (newer Cline), else the task's
`task_metadata.json` `model_usage` entry in force at the message's time, else
"unknown". The working directory is the "Current Working Directory (…)" the
extension puts in the user's messages. `ui_messages.json` holds the same edits
for the UI and is not read (it would record everything twice).

Roo Code and Kilo Code histories have the same shape; they are read by this code
and named by their own modules (sources/roo_code, sources/kilo_code). Hooks (Cline ≥ 3.3x, an
executable named `PostToolUse` in ~/Documents/Cline/Hooks or .clinerules/hooks)
get `{"postToolUse": {"toolName", "parameters", "success"}, "model": {"slug"},
"workspaceRoots", …}` and must answer `{"cancel": false}`. Facts (from Cline's and
third-party source, not from a real task file): shared/research/assistant-logs.md §5.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources.common import (
    Folders,
    Output,
    Skip,
    Unreadable,
    absolute,
    files_under,
    json_document,
    listed,
    loads,
    parse_time,
    read_whole,
    replace_sides,
    seen_mark,
    tool_arguments,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Done, Wiring

NAME = "cline"
LABEL = "Cline"
LOG_NAMES = ("api_conversation_history.json",)
REWRITTEN = True
HOOK_REPLY = '{"cancel": false}'

EXTENSIONS = ("saoudrizwan.claude-dev",)  # its forks Roo Code and Kilo Code: sources/roo_code, kilo_code
EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")  # VS Code builds that host it
# tool name -> the argument holding what the model wrote, and whether it is a SEARCH/REPLACE diff
WRITING_TOOLS = {"write_to_file": ("content", False), "replace_in_file": ("diff", True),
                 "apply_diff": ("diff", True), "insert_content": ("content", False),
                 "search_and_replace": ("replace", False)}
PATH_KEYS = ("path", "absolutePath", "file_path")
CWD_TEXT = re.compile(r"Current (?:Working|Workspace) Directory \(([^)\n]+)\)")
XML_CALL = re.compile(r"<(%s)>(.*?)</\1>" % "|".join(WRITING_TOOLS), re.DOTALL)


def user_dirs() -> list[Path]:
    """VS Code's (and its relatives') per-user folders on this platform."""
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    dirs = [base / editor / "User" for editor in EDITORS]
    portable = os.environ.get("VSCODE_PORTABLE")  # a portable VS Code keeps its data there
    if portable:
        dirs.insert(0, Path(portable) / "user-data" / "User")
    return dirs


def documents_dir() -> Path:
    """The user's Documents folder (on Linux the XDG user dir, as `xdg-user-dir DOCUMENTS`)."""
    home = Path.home()
    if sys.platform.startswith("linux"):
        dirs = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
        try:
            found = re.search(r'^XDG_DOCUMENTS_DIR="([^"]*)"', dirs.read_text(errors="replace"), re.M)
        except OSError:
            found = None
        if found and found.group(1).replace("$HOME", "").strip("/"):
            return Path(found.group(1).replace("$HOME", str(home)))
    return home / "Documents"


def folders() -> Folders:
    """Hooks in ~/Documents/Cline/Hooks; task histories in each VS Code build's globalStorage
    (Cline's extension; Roo Code and Kilo Code are their own modules) and the Cline CLI's data folder."""
    roots = [user / "globalStorage" / ext / "tasks" for user in user_dirs() for ext in EXTENSIONS]
    # The Cline CLI keeps the same task tree under its own data folder (not verified on a machine).
    data = os.environ.get("CLINE_DATA_DIR") or Path(os.environ.get("CLINE_DIR") or Path.home() / ".cline") / "data"
    return Folders([documents_dir() / "Cline"], roots + [Path(data) / "tasks"])


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, LOG_NAMES[0])


def task_history(first_line: bytes) -> bool:
    """A compact JSON array of messages opening with the task (`<task>`) or carrying `modelInfo`
    (Cline's, Roo Code's or Kilo Code's)."""
    head = first_line.lstrip()
    return (head.startswith((b'[{"role":"user"', b'[{"role":"assistant"'))
            and (b"<task>" in head or b'"modelInfo"' in head or b"environment_details" in head))


def sniff(first_line: bytes) -> bool:
    """A task history that is not Roo Code's ("Current Workspace Directory" is Roo's wording)."""
    return task_history(first_line) and b"Current Workspace Directory (" not in first_line


def _texts(name: object, arguments: object) -> list[tuple[str | None, str]]:
    """(file, text) pairs a code-writing tool call wrote."""
    spec = WRITING_TOOLS.get(name) if isinstance(name, str) else None
    arguments = tool_arguments(arguments)
    if spec is None or not arguments:
        return []
    key, is_diff = spec
    value = arguments.get(key)
    file = next((arguments[k] for k in PATH_KEYS if isinstance(arguments.get(k), str) and arguments[k]), None)
    if not isinstance(value, str):
        return []
    texts = replace_sides(value) if is_diff else [value]
    return [(file, text) for text in texts if text.strip()]


def _xml_param(body: str, name: str, last: bool = False) -> str | None:
    """A parameter of an XML tool call; a long one (content, diff) runs to its last closing tag."""
    start = body.find(f"<{name}>")
    end = body.rfind(f"</{name}>") if last else body.find(f"</{name}>", start + 1)
    if start < 0 or end < start:
        return None
    value = body[start + len(name) + 2:end]
    return value.strip() if not last else value.removeprefix("\n").removesuffix("\n")


def _xml_calls(text: str) -> list[tuple[str, dict]]:
    calls = []
    for match in XML_CALL.finditer(text):
        name, body = match.group(1), match.group(2)
        key = WRITING_TOOLS[name][0]
        arguments = {"path": _xml_param(body, "path"), key: _xml_param(body, key, last=True)}
        calls.append((name, {k: v for k, v in arguments.items() if v is not None}))
    return calls


def _calls(content: object) -> list[tuple[str, object]]:
    """(tool name, arguments) of the code-writing calls in one assistant message."""
    if isinstance(content, str):
        return list(_xml_calls(content))
    calls: list[tuple[str, object]] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            calls += _xml_calls(block["text"])
        elif block.get("type") == "tool_use" and isinstance(block.get("name"), str) and block["name"] in WRITING_TOOLS:
            calls.append((block["name"], block.get("input")))
    return calls


def _working_directory(messages: list) -> str | None:
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        texts = [content] if isinstance(content, str) else [
            b.get("text") for b in listed(content) if isinstance(b, dict) and isinstance(b.get("text"), str)]
        for text in texts:
            found = CWD_TEXT.search(text or "")
            if found:
                return found.group(1).strip()
    return None


def _model_usage(path: Path) -> list[tuple[float, str]]:
    """(ms time, model) from the task's task_metadata.json, oldest first."""
    try:
        metadata = loads(read_whole(Path(path).parent / "task_metadata.json", 16 << 20))
    except (Unreadable, ValueError):
        return []
    usage = metadata.get("model_usage") if isinstance(metadata, dict) else None
    return sorted((float(entry.get("ts") or 0), entry["model_id"]) for entry in listed(usage)
                  if isinstance(entry, dict) and isinstance(entry.get("model_id"), str) and entry["model_id"]
                  and isinstance(entry.get("ts") or 0, (int, float)))


def _model(message: dict, usage: list[tuple[float, str]]) -> str:
    info = message.get("modelInfo")
    if isinstance(info, dict) and isinstance(info.get("modelId"), str) and info["modelId"]:
        return info["modelId"]
    ts = message.get("ts")
    if usage and isinstance(ts, (int, float)):
        in_force = [model for when, model in usage if when <= ts]
        return in_force[-1] if in_force else usage[0][1]
    return usage[-1][1] if usage else "unknown"


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """The whole history each time; `state["seen"]` holds the calls already reported."""
    state = {} if state is None else state
    messages = json_document(path, data)
    if isinstance(messages, Skip):
        yield messages
        return
    if not isinstance(messages, list):
        yield Skip(f"{path}:1", "not a JSON array of messages")
        return
    seen = set(state.get("seen", []))
    cwd = _working_directory(messages)
    usage = _model_usage(path)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            yield Skip(f"{path}:message {index + 1}", "not a message object")
            continue
        if message.get("role") != "assistant":
            continue
        ts = message.get("ts")
        when = ts / 1000 if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None
        for name, arguments in _calls(message.get("content")):
            for file, text in _texts(name, arguments):
                file = absolute(file, cwd)
                # The history is read again after every rewrite: what it wrote is the stable key.
                key = seen_mark(file, text)
                if key in seen:
                    continue
                seen.add(key)
                yield Output(NAME, _model(message, usage), text, file, cwd, when, "assistant-log")
    state["seen"] = sorted(seen)  # a list: the daemon saves state as JSON


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a PostToolUse hook's payload (other events carry no written text)."""
    post = payload.get("postToolUse")
    if not isinstance(post, dict) or post.get("success") is False:
        return []
    texts = _texts(post.get("toolName"), post.get("parameters"))
    if not texts:
        return []
    model = payload.get("model")
    model = model.get("slug") if isinstance(model, dict) else model
    model = model if isinstance(model, str) and model else "unknown"
    roots = payload.get("workspaceRoots")
    cwd = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else None
    return [Output(NAME, model, text, absolute(file, cwd), cwd, _hook_time(payload.get("timestamp")), "assistant-hook")
            for file, text in texts]


def _hook_time(value: object) -> float | None:
    """Hook timestamps: ms since the epoch (a number or its string) or ISO 8601."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1000 if value > 1e11 else float(value)
    return parse_time(value)


# -- wiring: an executable named after the event, chaining one that was there ------------------

CHAINED = ".pre-aiguard"


def hook_path() -> Path:
    return folders().settings[0] / "Hooks" / "PostToolUse"


def wiring() -> Wiring:
    from aiguard.capture.wiring import Wiring, owns

    return Wiring(folders().settings[0], hook_path(), _apply, _undo, lambda: owns(hook_path(), NAME))


def _script() -> str:
    # Cline reads one JSON reply on stdout: the chained hook's if there is one, else
    # agent-hook's (it prints what the assistant expects), else a plain "go on".
    return f"""#!/bin/sh
# aiguard: records what Cline writes, then runs PostToolUse{CHAINED} if there is one.
# `aiguard integrate cline --undo` removes this file and puts that hook back.
payload=$(cat)
reply=$(printf '%s' "$payload" | {shlex.quote(sys.executable)} -m aiguard agent-hook {NAME})
chained="$(dirname "$0")/PostToolUse{CHAINED}"
if [ -x "$chained" ]; then
  printf '%s' "$payload" | "$chained"
  exit $?
fi
if [ -n "$reply" ]; then printf '%s\\n' "$reply"; else printf '%s\\n' '{HOOK_REPLY}'; fi
"""


def _apply() -> Done:
    from aiguard.capture.wiring import Done, IntegrateError, hook_command, owns, write_settings

    path = hook_path()
    chained = path.with_name(path.name + CHAINED)
    if sys.platform == "win32":
        raise IntegrateError("aiguard does not write Cline's hook scripts on Windows yet")
    if path.exists() and owns(path, NAME):
        return Done(False, path, f"{path}: aiguard's hook is already there")
    kept = ""
    if path.exists():
        if chained.exists():
            raise IntegrateError(f"{path} is not aiguard's, and {chained} exists too; move one of them away")
        os.replace(path, chained)
        kept = f"; the hook that was there is kept as {chained.name} and runs after it"
    write_settings(path, "", _script(), mode=0o755)
    note = "hooks must be enabled in Cline's settings"
    return Done(True, path, f"{path}: added, running `{hook_command(NAME)}`{kept} ({note})", note)


def _undo() -> Done:
    from aiguard.capture.wiring import Done, owns

    path = hook_path()
    chained = path.with_name(path.name + CHAINED)
    if not owns(path, NAME):
        left = "not aiguard's, left alone" if path.exists() else "aiguard's hook is not there; nothing to do"
        return Done(False, path, f"{path}: {left}")
    path.unlink()
    if chained.exists():
        os.replace(chained, path)
        return Done(True, path, f"{path}: removed aiguard's hook and put back the one it chained")
    return Done(True, path, f"{path}: removed")
