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

The registry below lists them; adding an assistant is one module and its fixtures.
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple


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
    from aiguard.sources import claude_code, codex, copilot, cursor, gemini_cli

    # Each sniff is specific to its assistant (tests check every fixture is claimed by
    # its own source only), so the order does not decide anything.
    return {module.NAME: module for module in (claude_code, codex, gemini_cli, copilot, cursor)}


def complete_lines(data: bytes) -> bytes:
    """The part of appended bytes that ends with a newline (a last line being written waits)."""
    end = data.rfind(b"\n")
    return data[:end + 1] if end >= 0 else b""
