"""Assistants: one module per assistant, each behind the `Assistant` protocol, and the registry.

Why here (capture/sources/) and not a new capture/assistants/: an assistant is a source of
external-model output, these modules already read its logs and hook payloads here, and the
daemon, ingest, doctor and the tests import them by these names; the module now also owns
the assistant's folders and the wiring `integrate` writes, so nothing about an assistant
lives anywhere else. (The clipboard's per-platform backends are capture/clipboard/.)

Adding an assistant is one new file plus fixtures plus one registry entry:

1. ``capture/sources/<name>.py`` with every member of `Assistant` below (copy the shape of
   the nearest existing one: cursor.py for JSONL logs and a JSON hooks file, aider.py for
   logs without hooks, cline.py for logs rewritten whole, kimi_cli.py for a TOML hooks
   block, kiro.py for hooks the user adds by hand and no logs). Its folders and environment
   overrides are computed in ``folders()`` only: its log roots are ``folders().logs`` and
   ``wiring()`` builds on ``folders().settings``, so logs, hooks and ``doctor`` cannot
   disagree about where the assistant lives. Members it would only stub out (an assistant
   that keeps no log has no ``log_files``, ``sniff`` or ``parse_log``) it leaves out: the
   accessors below (``log_roots``, ``log_files``, ``sniff``, ``wiring``, ...) give their
   defaults, and everything outside the assistant modules reads members through them.
2. Fixtures under ``tests/fixtures/assistant-logs/<name>/`` with a SOURCES.md saying for
   each file whether it is a real log or built from the assistant's documentation.
3. Its module in ``registry()`` below, and a row in the README's assistants table (a test
   compares the table with the registry; help texts and ``doctor`` read the registry).

Tests that then cover it without being touched: tests/capture/test_assistants.py (the protocol,
folders, sniffing its fixtures), tests/cli/test_docs.py (help and README lists).
"""

from __future__ import annotations

import copy
import os
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Iterator, Protocol

from aiguard.capture.sources.common import Folders, Output, Skip

if TYPE_CHECKING:
    from aiguard.capture.wiring import Wiring

__all__ = ["Assistant", "HookedAssistant", "HookOnlyAssistant", "Folders", "registry", "has_hooks", "hooked",
           "by_hand", "is_store", "keeps_logs", "log_names", "log_roots", "log_files", "sniff", "wiring",
           "is_rewritten", "missing_members", "parse_isolated"]


class Assistant(Protocol):
    """What every assistant module provides (a module satisfies it; see above for how to add one).

    * ``NAME``: the tool name in trailers and on the command line (``claude-code``, ...).
    * ``LABEL``: its name for a person (``Claude Code``), for doctor and the README.
    * ``LOG_NAMES``: glob patterns of its log file names under a root, for the daemon
      and ``ingest DIR`` to tell them from other files (``("*.jsonl",)`` for most).
    * ``REWRITTEN``: the assistant rewrites a log whole (a temp file renamed over it)
      instead of appending, so a tailer hands ``parse_log`` the whole file on every
      change, with the same ``state``, and the parser reports only what is new; False:
      byte offsets, new complete lines only (see ``common.complete_lines``).
    * ``HOOK_REPLY``: what ``agent-hook NAME`` prints on stdout for the assistant to go
      on (``None``: nothing).
    * ``folders()``: the one place its folders and environment overrides are computed.
    * ``log_roots()``: ``folders().logs`` (what the daemon watches and ingest reads);
      optional, that is its default.
    * ``log_files(root)``: the log files under a root (a root may be one log file).
    * ``sniff(record)``: whether a file of unknown origin is its log, from one record of
      its head: one of its first lines, or the first bytes of a pretty-printed JSON document
      (``ingest`` tries its first few records in turn, see ``ingest.head_records``; specific
      to it: tests check every fixture is claimed by its own assistant only).
    * ``parse_log(path, data, state)``: what the model wrote, from a log's bytes
      (malformed records as Skip with a reason, unknown record types ignored); ``data``
      may be the whole file or what was appended since the last call, ``state`` a dict
      the parser keeps its context in between calls for one file.
    * ``wiring()``: how ``integrate`` writes and undoes its hook (a ``wiring.Wiring``
      built with the helpers of capture/wiring.py), ``None`` without native hooks or
      when aiguard does not write them (``HOOK_BY_HAND`` below).

    An assistant with native hooks is a `HookedAssistant`: it has ``parse_hook`` too.

    Optional members (absent means the default; helpers below read them):

    * ``HOOK_BY_HAND``: for a hooked assistant whose hook settings aiguard does not write
      (their place or format is not settled: Kiro's per-agent files, Firebender's
      settings), the one line ``integrate NAME`` prints instead, telling the user what to
      add by hand; ``{command}`` in it becomes the ``agent-hook`` command. Its
      ``wiring()`` is ``None``. See `by_hand`.
    * ``STORES`` and ``read_store(path, state) -> Iterator[Output | Skip]``: names of
      database files (SQLite; names or glob patterns) the assistant opens itself, read-only, instead of being
      handed their bytes (Cursor's ``state.vscdb``); ``state`` as for ``parse_log``.
      Ingest and the daemon's tailer call ``read_store`` for such a file (see `is_store`).

    A hooked assistant that keeps no log aiguard can read (Kiro, Firebender) has no log
    folders at all: ``folders().logs`` is ``[]`` (not only on this machine), and
    ``doctor`` says it is read through its hooks only. Such a module has none of the log
    members (``LOG_NAMES``, ``REWRITTEN``, ``log_roots``, ``log_files``, ``sniff``,
    ``parse_log``), nor a ``wiring`` when the user adds its hook by hand: it satisfies
    `HookOnlyAssistant`, and the accessors below stand in for what it leaves out.
    """

    NAME: str
    LABEL: str
    LOG_NAMES: tuple[str, ...]
    REWRITTEN: bool
    HOOK_REPLY: str | None

    def folders(self) -> Folders: ...

    def log_files(self, root: Path) -> Iterator[Path]: ...

    def sniff(self, record: bytes) -> bool: ...

    def parse_log(self, path: object, data: bytes, state: dict) -> Iterator[Output | Skip]: ...

    def wiring(self) -> Wiring | None: ...


class HookOnlyAssistant(Protocol):
    """An assistant read through its hooks only (Kiro, Firebender): its name, folders and
    ``parse_hook``; no logs, and its hook added by hand (``HOOK_BY_HAND``)."""

    NAME: str
    LABEL: str

    def folders(self) -> Folders: ...

    def parse_hook(self, payload: dict) -> list[Output]: ...


class HookedAssistant(Assistant, Protocol):
    """An assistant with native hooks: ``parse_hook(payload)`` turns the JSON its hook sends
    on stdin to ``aiguard agent-hook NAME`` into what the model wrote (``[]`` for events
    and tools that write no code; never raises on a payload of another shape), and
    ``wiring()`` is not None. Without hooks, a module has no ``parse_hook`` at all."""

    def parse_hook(self, payload: dict) -> list[Output]: ...


def by_hand(module: ModuleType) -> str | None:
    """The line telling the user how to add a hooked assistant's hook by hand (see
    ``HOOK_BY_HAND``), ``None`` when aiguard writes its hook itself or it has none."""
    template = getattr(module, "HOOK_BY_HAND", None)
    if not isinstance(template, str) or not has_hooks(module):
        return None
    from aiguard.capture.wiring import hook_command

    return template.format(command=hook_command(module.NAME))


def is_store(module: ModuleType, path: str | os.PathLike[str]) -> bool:
    """Whether a file is a database its assistant reads itself (see ``STORES``)."""
    name = Path(path).name  # STORES are names or glob patterns of names (OpenCode's opencode-*.db)
    return any(fnmatch(name, store) for store in getattr(module, "STORES", ())) \
        and callable(getattr(module, "read_store", None))


MEMBERS = ("NAME", "LABEL", "folders")  # every assistant's; the rest have defaults (see the accessors)
LOG_MEMBERS = ("log_files", "sniff", "parse_log")  # an assistant that keeps logs has all of them


def registry() -> dict[str, ModuleType]:
    """Every assistant by NAME, in the order help texts, doctor and the README list them."""
    from aiguard.capture.sources import (
        aider,
        amp,
        claude_code,
        cline,
        codex,
        continue_dev,
        copilot,
        cursor,
        droid,
        firebender,
        gemini_cli,
        goose,
        kilo_code,
        kimi_cli,
        kiro,
        opencode,
        qwen_code,
        roo_code,
        windsurf,
    )

    # Each sniff is specific to its assistant (tests check every fixture is claimed by
    # its own source only), so the order does not decide anything.
    return {module.NAME: module for module in (claude_code, codex, gemini_cli, cursor, copilot, cline, windsurf,
                                               aider, qwen_code, kimi_cli, roo_code, kilo_code, kiro, firebender,
                                               opencode, goose, amp, droid, continue_dev)}


def has_hooks(module: ModuleType) -> bool:
    """Whether an assistant has native hooks: a ``parse_hook`` for ``aiguard agent-hook NAME``."""
    return callable(getattr(module, "parse_hook", None))


def hooked() -> dict[str, ModuleType]:
    """The assistants with native hooks, by NAME."""
    return {name: module for name, module in registry().items() if has_hooks(module)}


def keeps_logs(module: ModuleType) -> bool:
    """Whether aiguard reads logs of this assistant (hook-only assistants keep none it can read)."""
    return callable(getattr(module, "parse_log", None))


def log_names(module: ModuleType) -> tuple[str, ...]:
    """Glob patterns of a source's log file names (see LOG_NAMES above); none without logs."""
    return getattr(module, "LOG_NAMES", ("*.jsonl",)) if keeps_logs(module) else ()


def log_roots(module: ModuleType) -> list[Path]:
    """Where its logs are: its ``log_roots()``, by default ``folders().logs``."""
    roots = getattr(module, "log_roots", None)
    return list(roots()) if callable(roots) else list(module.folders().logs)


def log_files(module: ModuleType, root: Path) -> Iterator[Path]:
    """Its log files under a root (nothing for an assistant without logs)."""
    return iter(module.log_files(root)) if keeps_logs(module) else iter(())


def sniff(module: ModuleType, record: bytes) -> bool:
    """Whether a record of a file of unknown origin is of its log (see ``sniff`` above)."""
    return keeps_logs(module) and bool(module.sniff(record))


def wiring(module: ModuleType) -> Wiring | None:
    """How ``integrate`` wires its hook; None without native hooks or when the user adds it by hand."""
    build = getattr(module, "wiring", None)
    return build() if callable(build) and has_hooks(module) else None


def is_rewritten(module: ModuleType) -> bool:
    """Whether a source's logs are rewritten whole rather than appended (see REWRITTEN above)."""
    return bool(getattr(module, "REWRITTEN", False))


def missing_members(module: ModuleType) -> list[str]:
    """The members a module lacks (a test keeps this empty for the registry): every
    assistant's, and the log members of one that has any of them."""
    missing = [name for name in MEMBERS if not hasattr(module, name)]
    has_some_log_member = any(hasattr(module, name) for name in LOG_MEMBERS)
    return missing + [name for name in LOG_MEMBERS if has_some_log_member and not hasattr(module, name)]


def parse_isolated(module: ModuleType, path: object, data: bytes, state: dict) -> Iterator[Output | Skip]:
    """A source's parse_log, with a crash confined: to the line that caused it where the log
    is lines, else to this read of the file (one Skip saying what went wrong)."""
    if not keeps_logs(module):
        return
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
