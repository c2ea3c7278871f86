"""Firebender (the Android Studio / JetBrains agent): postToolUse hooks.

Firebender keeps no log that is documented, so it is read through its hooks only. A
`postToolUse` hook gets on stdin `{"hook_event_name": "postToolUse", "model",
"repo_working_dir", "workspace_roots", "tool_name", "tool_input", "completion_id",
"tool_use_id", ...}` (field names per git-ai's Firebender preset, git-ai-project/git-ai
`presets/firebender.rs`, which reads the paths only). Its file tools are `Write` and
`Edit`, `Bash` runs commands. Which input fields hold the written text is not
documented: the Claude Code-style ones are read (`content`/`contents`, `new_string`,
`code_edit`, an apply_patch `patch`), and a `Bash` `command` for the forms
sources/_shell_writes knows. Built from third-party code, not from a real payload
(tests/fixtures/assistant-logs/firebender/SOURCES.md).
"""

from __future__ import annotations

from aiguard.capture.sources._patches import patch_texts
from aiguard.capture.sources._shell_writes import shell_writes
from aiguard.capture.sources.common import Folders, Output, hook_outputs, listed

NAME = "firebender"
LABEL = "Firebender"
# Where Firebender keeps its hook settings is not documented: the user adds the hook by hand.
HOOK_BY_HAND = "firebender: to wire by hand, add a postToolUse hook running `{command}` in Firebender's hook settings"
TEXT_KEYS = ("content", "contents", "new_string", "code_edit")
PATH_KEYS = ("file_path", "target_file", "relative_workspace_path", "path")


def folders() -> Folders:
    """No settings folder aiguard knows, no log folder: hooks only, added by hand."""
    return Folders([], [])


def _texts(name: object, tool_input: object) -> list[tuple[str | None, str]]:
    if not isinstance(tool_input, dict):
        return []
    if name == "Bash":
        return shell_writes(tool_input.get("command"))
    if name not in ("Write", "Edit"):
        return []
    patch = tool_input.get("patch")
    if isinstance(patch, str) and "*** Begin Patch" in patch:
        return [(file, text) for file, text in patch_texts(patch[patch.index("*** Begin Patch"):])]
    file = next((tool_input[k] for k in PATH_KEYS if isinstance(tool_input.get(k), str) and tool_input[k]), None)
    texts = [tool_input.get(k) for k in TEXT_KEYS]
    texts += [edit.get("new_string") for edit in listed(tool_input.get("edits")) if isinstance(edit, dict)]
    return [(file, text) for text in texts if isinstance(text, str) and text.strip()]


def parse_hook(payload: dict) -> list[Output]:
    """Outputs from a postToolUse payload (preToolUse and the legacy events wrote nothing yet)."""
    return hook_outputs(NAME, payload, "postToolUse", _texts)
