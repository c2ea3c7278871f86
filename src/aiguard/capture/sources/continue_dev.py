"""Continue (the VS Code / JetBrains extension and the `cn` CLI): sessions under ~/.continue/sessions, and cn's hooks.

(The module is continue_dev: `continue` is a Python keyword; the tool name is `continue`.)
Both clients save a session as one pretty-printed JSON object
`<CONTINUE_GLOBAL_DIR or ~/.continue>/sessions/<session id>.json`, rewritten whole
(`sessions.json` beside them is the index, not a log): `{"sessionId", "title",
"workspaceDirectory", "history": [{"message": {"role", "content", "toolCalls":
[{"id", "function": {"name", "arguments" (a JSON string)}}]}, "toolCallStates":
[{"toolCallId", "status", "parsedArgs"}], ...}], "chatModelTitle"?}` (core/index.d.ts
`Session`, core/util/history.ts). The IDE agent writes code through `create_new_file`
(`filepath`, `contents`), `edit_existing_file` (`filepath`, `changes`, whose
"... existing code ..." placeholder lines are not the model's), `single_find_and_replace`
(`filepath`, `new_string`) and `multi_edit` (`edits[].new_string`) (core/tools/builtIn.ts
and definitions/); cn through `Write` (`filepath`, `content`), `Edit` (`file_path`,
`new_string`), `MultiEdit` (`edits[].new_string`) and what `Bash` (`command`) writes
into files (extensions/cli/src/tools). A call whose state is canceled or errored, or
still generating, is not read. The model is the session's `chatModelTitle` (the title
of the chat model in the user's config), else "unknown". cn runs Claude Code-style
hooks from `$CONTINUE_GLOBAL_DIR/settings.json` (extensions/cli/src/hooks): a
PostToolUse payload `{"session_id", "transcript_path": "", "cwd", "hook_event_name",
"tool_name", "tool_input", "tool_response", "tool_use_id"}`; exit 0 with nothing on
stdout goes on. Built from Continue's source (continuedev/continue), not from a real
session (tests/fixtures/assistant-logs/continue/SOURCES.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aiguard.capture.sources._shell_writes import shell_writes
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
    local_path,
    read_whole,
    seen_mark,
    tool_arguments,
)

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

NAME = "continue"
LABEL = "Continue"
LOG_NAMES = ("????????-????-????-????-????????????.json",)  # session ids are UUIDs; not sessions.json
REWRITTEN = True
HOOK_REPLY = None
# tool name -> (path argument, the arguments holding what the model wrote, edits list key)
WRITING_TOOLS = {"create_new_file": ("filepath", ("contents",)), "edit_existing_file": ("filepath", ("changes",)),
                 "single_find_and_replace": ("filepath", ("new_string",)), "multi_edit": ("filepath", ()),
                 "Write": ("filepath", ("content",)), "Edit": ("file_path", ("new_string",)),
                 "MultiEdit": ("file_path", ())}
SHELL_TOOLS = ("Bash", "run_terminal_command")
NOT_WRITTEN = {"canceled", "errored", "generating"}
PLACEHOLDER = re.compile(r"^\s*(?://|#|/\*|<!--|--)?\s*\.\.\.?\s*(?:rest of|existing)\b.*$", re.IGNORECASE)
HOOKED_TOOLS = ("Write", "Edit", "MultiEdit", "Bash")


def folders() -> Folders:
    """CONTINUE_GLOBAL_DIR (a relative one against the current directory, as Continue does),
    else ~/.continue: settings.json (cn's hooks) and sessions/."""
    configured = os.environ.get("CONTINUE_GLOBAL_DIR")
    home = Path(configured).expanduser().absolute() if configured else Path.home() / ".continue"
    return Folders([home], [home / "sessions"])


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, LOG_NAMES[0], recursive=False)


def sniff(head: bytes) -> bool:
    """A session's opening (Continue pretty-prints it, so a first line alone, `{`, does not
    tell; the sessions folder does)."""
    compact = head.replace(b" ", b"").replace(b"\n", b"")
    return compact.startswith(b'{"sessionId":') and b'"workspaceDirectory":' in compact


def _without_placeholders(changes: str) -> str:
    return "\n".join(line for line in changes.splitlines() if not PLACEHOLDER.match(line)) + "\n"


def _texts(name: object, arguments: object) -> list[tuple[str | None, str]]:
    """(file, text) pairs a code-writing tool call wrote."""
    arguments = tool_arguments(arguments)
    if not isinstance(name, str) or not arguments:
        return []
    if name in SHELL_TOOLS:
        return shell_writes(arguments.get("command"))
    spec = WRITING_TOOLS.get(name)
    if spec is None:
        return []
    path_key, text_keys = spec
    file = arguments.get(path_key) if isinstance(arguments.get(path_key), str) else None
    texts = [arguments.get(key) for key in text_keys]
    texts += [edit.get("new_string") for edit in listed(arguments.get("edits")) if isinstance(edit, dict)]
    if name == "edit_existing_file":
        texts = [_without_placeholders(text) for text in texts if isinstance(text, str)]
    return [(local_path(file), text) for text in texts if isinstance(text, str) and text.strip()]


def _calls(item: dict) -> list[tuple[str, object, object]]:
    """(call id, tool name, arguments) of one history item's tool calls that ran or may run."""
    states = {state.get("toolCallId"): state for state in listed(item.get("toolCallStates"))
              if isinstance(state, dict)}
    message: dict = item["message"] if isinstance(item.get("message"), dict) else {}
    calls = []
    for call in listed(message.get("toolCalls")):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        state = states.get(call.get("id"), {})
        if state.get("status") in NOT_WRITTEN:
            continue
        arguments = state.get("parsedArgs") if isinstance(state.get("parsedArgs"), dict) else function.get("arguments")
        calls.append((str(call.get("id")), function["name"], arguments))
    return calls


def _model(session: dict) -> str:
    title = session.get("chatModelTitle")
    return title.strip() if isinstance(title, str) and title.strip() else "unknown"


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """The whole session each time; `state["seen"]` holds the calls already reported."""
    state = {} if state is None else state
    session = json_document(path, data)
    if isinstance(session, Skip):
        yield session
        return
    if not isinstance(session, dict) or not isinstance(session.get("history"), list):
        yield Skip(f"{path}:1", "not a Continue session (no history)")
        return
    seen = set(state.get("seen", []))
    cwd = local_path(session.get("workspaceDirectory"))
    model = _model(session)
    for index, item in enumerate(session["history"]):
        if not isinstance(item, dict):
            yield Skip(f"{path}:history {index + 1}", "not a history item")
            continue
        for call_id, name, arguments in _calls(item):
            for file, text in _texts(name, arguments):
                file = absolute(file, cwd)
                key = seen_mark(call_id, file, text)
                if key in seen:
                    continue
                seen.add(key)
                yield Output(NAME, model, text, file, cwd, None, "assistant-log")
    state["seen"] = sorted(seen)  # a list: the daemon saves state as JSON


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from cn's PostToolUse payload; the model from its session file, when it names one."""
    if payload.get("hook_event_name") not in (None, "PostToolUse"):
        return []
    texts = _texts(payload.get("tool_name"), payload.get("tool_input"))
    if not texts:
        return []
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    model = payload.get("model") if isinstance(payload.get("model"), str) and payload["model"].strip() else None
    session_id = payload.get("session_id")
    if model is None and isinstance(session_id, str) and re.fullmatch(r"[A-Za-z0-9-]{1,64}", session_id):
        try:
            session = loads(read_whole(folders().logs[0] / f"{session_id}.json"))
        except (Unreadable, ValueError):
            session = None
        model = _model(session) if isinstance(session, dict) else None
    return [Output(NAME, model or "unknown", text, absolute(file, cwd), cwd, None, "assistant-hook")
            for file, text in texts]


def wiring() -> Wiring:
    """A PostToolUse hook in cn's settings.json (plain JSON: cn parses it with JSON.parse)."""
    from aiguard.capture.wiring import JsonHook, hook_command, json_wiring

    home = folders().settings[0]
    entry = {"matcher": "|".join(HOOKED_TOOLS), "hooks": [{"type": "command", "command": hook_command(NAME),
                                                           "timeout": 30}]}
    return json_wiring([JsonHook(NAME, home / "settings.json", "PostToolUse", entry,
                                 {"hooks": {"PostToolUse": [entry]}})], home)
