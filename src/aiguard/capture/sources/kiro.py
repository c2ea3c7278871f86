"""Kiro (AWS; the Kiro CLI, successor of the Amazon Q Developer CLI): postToolUse hooks.

Kiro keeps its conversations in an SQLite store whose schema is not documented, so it
is read through its hooks only. A hook (the `hooks` of an agent configuration, e.g.
`~/.kiro/agents/<name>.json`: `{"hooks": {"postToolUse": [{"matcher": "fs_write",
"command": ...}]}}`, kiro.dev/docs/cli/hooks) gets on stdin
`{"hook_event_name": "postToolUse", "cwd", "session_id", "tool_name", "tool_input",
"tool_response"}`. Code reaches files through `fs_write` (alias `write`), whose input is
Amazon Q CLI's: `command` create (`file_text`), str_replace / insert / append
(`new_str`), and `path`; `execute_bash` (alias `shell`) `command` is read for the
forms sources/_shell_writes knows. The payload names no model: "unknown". Built from
Kiro's docs and the Amazon Q CLI source, not from a real payload
(tests/fixtures/assistant-logs/kiro/SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path

from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import Folders, Output, hook_outputs

NAME = "kiro"
LABEL = "Kiro"
# Hooks live in each agent's own configuration file: aiguard does not pick one, the user adds it.
HOOK_BY_HAND = ("kiro: to wire by hand, add to your agent's configuration (~/.kiro/agents/NAME.json): "
                "\"hooks\": {{\"postToolUse\": [{{\"matcher\": \"fs_write|execute_bash\", "
                "\"command\": \"{command}\"}}]}}")
WRITE_TOOLS = ("fs_write", "write")
SHELL_TOOLS = ("execute_bash", "shell", "execute_cmd")


def folders() -> Folders:
    """~/.kiro holds its agents' configurations (the hooks); no log folder: hooks only."""
    return Folders([Path.home() / ".kiro"], [])


def _texts(name: object, tool_input: object) -> list[tuple[str | None, str]]:
    if not isinstance(tool_input, dict):
        return []
    if name in SHELL_TOOLS:
        return shell_writes(tool_input.get("command"))
    if name not in WRITE_TOOLS:
        return []
    text = tool_input.get("file_text") if tool_input.get("command") == "create" else tool_input.get("new_str")
    if not isinstance(text, str):
        text = tool_input.get("file_text")  # a create without its command named
    file = tool_input.get("path") if isinstance(tool_input.get("path"), str) else None
    return [(file, text)] if isinstance(text, str) and text.strip() else []


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a postToolUse payload (camelCase event names; other events wrote nothing)."""
    return hook_outputs(NAME, payload, "postToolUse", _texts)
