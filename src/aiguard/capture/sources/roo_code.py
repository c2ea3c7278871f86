"""Roo Code (VS Code extension `rooveterinaryinc.roo-cline`, a Cline fork): task histories.

Its tasks are Cline's shape (`globalStorage/<extension id>/tasks/<task id>/
api_conversation_history.json`, rewritten whole; see sources/cline), with Roo's tools
`apply_diff` (`<<<<<<< SEARCH` / `:start_line:` / `=======` / `>>>>>>> REPLACE`),
`insert_content` and `search_and_replace` besides `write_to_file`, and "Current
Workspace Directory (…)" where Cline writes "Current Working Directory". Cline's reader
reads them; this module names them `roo-code`. Roo Code has no hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from aiguard.capture.sources import cline
from aiguard.capture.sources.common import Folders, Output, Skip

NAME = "roo-code"
EXTENSION = "rooveterinaryinc.roo-cline"
LOG_NAMES = cline.LOG_NAMES
REWRITTEN = True
LABEL = "Roo Code"
HOOK_REPLY = None
WORKSPACE_TEXT = b"Current Workspace Directory ("


def folders() -> Folders:
    """Its task histories in each VS Code build's globalStorage; no hooks, so no settings folder."""
    return Folders([], [user / "globalStorage" / EXTENSION / "tasks" for user in cline.user_dirs()])


def wiring() -> None:
    return None  # Roo Code has no hooks


def log_files(root: Path) -> Iterator[Path]:
    return cline.log_files(root)


def sniff(first_line: bytes) -> bool:
    """A Cline-shaped history that says "Current Workspace Directory" (Roo's wording; Kilo
    Code, a Roo fork, says it too: a Kilo history given by path is recorded as Roo's)."""
    return cline.task_history(first_line) and WORKSPACE_TEXT in first_line


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    for item in cline.parse_log(path, data, state):
        yield item._replace(tool=NAME) if isinstance(item, Output) else item
