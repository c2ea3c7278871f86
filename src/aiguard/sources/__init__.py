"""Sources: where external-model output comes from, one module per assistant.

Every source module has the same shape:

* ``NAME``: the tool name used in trailers (``claude-code``, ``codex``, ...);
* ``log_roots() -> list[Path]``: where its logs live on this machine, honouring the
  assistant's own overrides (``CLAUDE_CONFIG_DIR``, ``CODEX_HOME``, ...) and ``HOME``;
* ``log_files(root) -> Iterator[Path]``: the log files under a root;
* ``sniff(first_line: bytes) -> bool``: whether a file of unknown origin is its log;
* ``parse_log(path, data, state) -> Iterator[Output | Skip]``: what the model wrote,
  from a log's bytes (malformed records come out as Skip with a reason, unknown
  record types are ignored). ``data`` may be the whole file or only what was
  appended since the last call: ``state`` is a dict the parser keeps its context
  in (the current model, the working directory) between calls for one file, so
  a tailer can feed it new complete lines only (see ``complete_lines``);
* ``parse_hook(payload) -> list[Output]``: what the model wrote, from the
  assistant's native hook payload (JSON on stdin of ``aiguard agent-hook NAME``).

Optional, with defaults for the append-only JSONL most assistants write:

* ``LOG_NAMES``: glob patterns of the names of its log files under a root, for the
  daemon to tell them from other files there (default ``("*.jsonl",)``); a root
  may also be one log file itself;
* ``REWRITTEN = True``: the assistant rewrites a log whole (a temp file renamed
  over it) instead of appending, so a tailer hands ``parse_log`` the whole file
  on every change, with the same ``state``, and the parser reports only what it
  did not report before (default ``False``: byte offsets, new lines only);
* ``HOOK_REPLY``: what ``agent-hook NAME`` must print on stdout for the assistant
  to go on (default: nothing).

The registry below lists them; adding an assistant is one module and its fixtures.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, NamedTuple


class Output(NamedTuple):
    """A piece of text an external model wrote."""

    tool: str
    model: str
    text: str
    file: str | None
    cwd: str | None  # the session's working directory; the ledger stores its git repository
    time: float | None
    source: str  # "assistant-log" or "assistant-hook"


class Skip(NamedTuple):
    where: str  # file:line
    reason: str


def registry() -> dict[str, ModuleType]:
    from aiguard.sources import aider, claude_code, cline, codex, copilot, cursor, gemini_cli, windsurf

    # Each sniff is specific to its assistant (tests check every fixture is claimed by
    # its own source only), so the order does not decide anything.
    return {module.NAME: module for module in (claude_code, codex, gemini_cli, copilot, cursor, cline, windsurf,
                                               aider)}


def log_names(module: ModuleType) -> tuple[str, ...]:
    """Glob patterns of a source's log file names (see LOG_NAMES above)."""
    return getattr(module, "LOG_NAMES", ("*.jsonl",))


def is_rewritten(module: ModuleType) -> bool:
    """Whether a source's logs are rewritten whole rather than appended (see REWRITTEN above)."""
    return bool(getattr(module, "REWRITTEN", False))


def complete_lines(data: bytes) -> bytes:
    """The part of appended bytes that ends with a newline (a last line being written waits)."""
    end = data.rfind(b"\n")
    return data[:end + 1] if end >= 0 else b""


# Helpers every source shares -------------------------------------------------------------

def jsonl_objects(path: object, data: bytes) -> Iterator[tuple[str, dict] | Skip]:
    """(file:line, object) for each line of JSONL bytes; bad lines come out as Skip.

    A last line without its newline is still being written: a tailer reads it next time.
    """
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: a line nested past the limit
            yield Skip(where, "partial last line" if number == len(lines) else "not JSON")
            continue
        if not isinstance(record, dict):
            yield Skip(where, "not a JSON object")
            continue
        yield where, record


def jsonl_files(root: Path) -> Iterator[Path]:
    """A log file itself, or the *.jsonl files under a folder, in a stable order."""
    if root.is_file():
        yield root
    elif root.is_dir():
        yield from sorted(root.rglob("*.jsonl"))


def parse_time(value: object) -> float | None:
    """Unix time of an ISO 8601 timestamp (a trailing Z is UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def absolute(file: str | None, cwd: str | None) -> str | None:
    """A path from a log made absolute against the session's working directory."""
    return file if not file or os.path.isabs(file) or not cwd else os.path.join(cwd, file)


def last_model(path: str | None, model_of: Callable[[dict], object], tail_bytes: int = 256 * 1024) -> str:
    """The model named by the last record of a transcript's tail that `model_of` finds one in."""
    if not path:
        return "unknown"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - tail_bytes))
            tail = fh.read()
    except OSError:
        return "unknown"
    for raw in reversed(tail.split(b"\n")):
        if b'"model"' not in raw:
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        model = model_of(record) if isinstance(record, dict) else None
        if isinstance(model, str) and model and model != "<synthetic>":
            return model
    return "unknown"


# SEARCH/REPLACE edit blocks: aider's (<<<<<<< SEARCH / ======= / >>>>>>> REPLACE, also
# Roo Code's apply_diff) and Cline's newer replace_in_file form (------- SEARCH / =======
# / +++++++ REPLACE). Only the REPLACE side is what the model wrote.
SEARCH_LINE = re.compile(r"^(?:<{5,9}|-{3,}) SEARCH>?\s*$")
DIVIDER_LINE = re.compile(r"^={5,9}\s*$")
REPLACE_LINE = re.compile(r"^(?:>{5,9}|\+{3,}) REPLACE>?\s*$")


def replace_sides(diff: str) -> list[str]:
    """The REPLACE side of each complete SEARCH/REPLACE block in a diff, in order."""
    texts: list[str] = []
    side: list[str] | None = None  # None: outside a block; collecting once past the divider
    in_search = False
    for line in diff.splitlines():
        if SEARCH_LINE.match(line):
            in_search, side = True, None
        elif in_search and DIVIDER_LINE.match(line):
            in_search, side = False, []
        elif side is not None and REPLACE_LINE.match(line):
            if "".join(side).strip():
                texts.append("\n".join(side) + "\n")
            side = None
        elif side is not None:
            side.append(line)
    return texts


def local_path(value: object) -> str | None:
    """A file path from a log, which may be a file:// URI (Windsurf writes those)."""
    if not isinstance(value, str) or not value:
        return None
    if not value.lower().startswith("file://"):
        return value
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(value)
    path = unquote(parts.path)
    if parts.netloc and parts.netloc != "localhost":
        return f"//{parts.netloc}{path}"  # a network share
    if re.match(r"^/[A-Za-z]:", path):
        path = path[1:]  # file:///C:/x is C:/x
    return path or None
