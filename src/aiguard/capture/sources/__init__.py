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
  assistant's native hook payload (JSON on stdin of ``aiguard agent-hook NAME``);
  absent for an assistant without native hooks (aider; see ``has_hooks``).

Optional, with defaults for the append-only JSONL most assistants write:

* ``LOG_NAMES``: glob patterns of the names of its log files under a root, for the
  daemon to tell them from other files there (default ``("*.jsonl",)``); a root
  may also be one log file itself;
* ``REWRITTEN = True``: the assistant rewrites a log whole (a temp file renamed
  over it) instead of appending, so a tailer hands ``parse_log`` the whole file
  on every change, with the same ``state``, and the parser reports only what it
  did not report before (default ``False``: byte offsets, new lines only);
* ``HOOK_REPLY``: what ``agent-hook NAME`` must print on stdout for the assistant
  to go on (default: nothing);
* ``STORES`` and ``read_store(path, state) -> Iterator[Output | Skip]``: names of
  database files (SQLite) the source opens itself, read-only, instead of being handed
  their bytes (Cursor's ``state.vscdb``); ``state`` as for ``parse_log``;
* ``HOOKS_ONLY = True``: the assistant keeps no log aiguard can read (its
  ``log_roots()`` is empty for good, not only on this machine), for doctor to say so.

The registry below lists them; adding an assistant is one module and its fixtures.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from types import ModuleType
from typing import Iterator

from aiguard.capture.sources.common import Output, Skip


def registry() -> dict[str, ModuleType]:
    from aiguard.capture.sources import (
        aider,
        claude_code,
        cline,
        codex,
        copilot,
        cursor,
        firebender,
        gemini_cli,
        kilo_code,
        kimi_cli,
        kiro,
        qwen_code,
        roo_code,
        windsurf,
    )

    # Each sniff is specific to its assistant (tests check every fixture is claimed by
    # its own source only), so the order does not decide anything.
    return {module.NAME: module for module in (claude_code, codex, gemini_cli, copilot, cursor, cline, windsurf,
                                               aider, qwen_code, kimi_cli, roo_code, kilo_code, kiro, firebender)}


def has_hooks(module: ModuleType) -> bool:
    """Whether an assistant has native hooks: a ``parse_hook`` for ``aiguard agent-hook NAME``."""
    return callable(getattr(module, "parse_hook", None))


def log_names(module: ModuleType) -> tuple[str, ...]:
    """Glob patterns of a source's log file names (see LOG_NAMES above)."""
    return getattr(module, "LOG_NAMES", ("*.jsonl",))


def is_rewritten(module: ModuleType) -> bool:
    """Whether a source's logs are rewritten whole rather than appended (see REWRITTEN above)."""
    return bool(getattr(module, "REWRITTEN", False))


def is_store(module: ModuleType, path: str | os.PathLike[str]) -> bool:
    """Whether a file is a database its source reads itself (see STORES above)."""
    return Path(path).name in getattr(module, "STORES", ()) and callable(getattr(module, "read_store", None))


def parse_isolated(module: ModuleType, path: object, data: bytes, state: dict) -> Iterator[Output | Skip]:
    """A source's parse_log, with a crash confined: to the line that caused it where the log
    is lines, else to this read of the file (one Skip saying what went wrong)."""
    before = copy.deepcopy(state)
    try:
        items = list(module.parse_log(path, data, state))
    except Exception as exc:
        state.clear()
        state.update(before)  # what the failed attempt marked as seen was not reported
        lines = data.splitlines(keepends=True)
        if is_rewritten(module) or len(lines) < 2:
            yield Skip(str(path), f"cannot parse ({exc.__class__.__name__}: {exc})")
            return
        items = []
        for number, line in enumerate(lines, 1):
            try:
                items += module.parse_log(path, line, state)
            except Exception as line_exc:
                items.append(Skip(f"{path}: line {number} of this read",
                                  f"cannot parse ({line_exc.__class__.__name__}: {line_exc})"))
    yield from items
