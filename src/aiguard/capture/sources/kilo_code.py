"""Kilo Code (VS Code extension `kilocode.kilo-code`, a Roo Code fork): task histories.

Its tasks are Cline's shape (`globalStorage/<extension id>/tasks/<task id>/
api_conversation_history.json`, rewritten whole; see sources/cline), with Roo Code's tools
`apply_diff` (`<<<<<<< SEARCH` / `:start_line:` / `=======` / `>>>>>>> REPLACE`),
`insert_content` and `search_and_replace` besides `write_to_file`, and "Current
Workspace Directory (…)" where Cline writes "Current Working Directory". Cline's reader
reads them; this module names them `kilo-code`. Its hooks are not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from aiguard.capture.sources import cline
from aiguard.capture.sources.common import Folders, Output, Skip

NAME = "kilo-code"
EXTENSION = "kilocode.kilo-code"
LOG_NAMES = cline.LOG_NAMES
REWRITTEN = True
LABEL = "Kilo Code"
HOOK_REPLY = None


def folders() -> Folders:
    """Its task histories in each VS Code build's globalStorage; no hooks, so no settings folder."""
    return Folders([], [user / "globalStorage" / EXTENSION / "tasks" for user in cline.user_dirs()])


def wiring() -> None:
    return None  # Kilo Code has no hooks


def log_files(root: Path) -> Iterator[Path]:
    return cline.log_files(root)


def sniff(first_line: bytes) -> bool:
    """Never by content: Kilo's histories read like Roo Code's (see roo_code.sniff); they are
    found in Kilo's own folder."""
    return False


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    for item in cline.parse_log(path, data, state):
        yield item._replace(tool=NAME) if isinstance(item, Output) else item
