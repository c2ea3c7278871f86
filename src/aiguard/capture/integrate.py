"""`aiguard integrate TOOL|--all [--undo]`: wire aiguard into assistants' own hook settings.

Each assistant with native hooks gets an entry that runs `<python> -m aiguard agent-hook
TOOL` on the events where its model writes files (the events its `parse_hook` reads).
Which file and which entry is the assistant module's `wiring()` (capture/sources/); how
a file is edited, backed up and restored is capture/wiring.py. This module only walks
the registry.
"""

from __future__ import annotations

from aiguard.capture.sources import by_hand, has_hooks, registry, wiring as wiring_of
from aiguard.capture.wiring import (  # noqa: F401  (the names callers and tests know this module by)
    BACKUP,
    Done,
    IntegrateError,
    JsonHook,
    Wiring,
    _json_with_hook,
    _json_without_hook,
    _ours,
    _parse_json,
    hook_command,
    json_apply,
    json_undo,
    json_wired,
    one_line,
    settings_target,
)


def no_hooks_line(tool: str) -> str:
    return f"{tool} has no hooks: nothing to wire (pipe what it wrote to `aiguard record --tool {tool}`)"


def wirings() -> dict[str, Wiring]:
    """The wiring of every assistant with native hooks, by NAME (paths as of now)."""
    found = {}
    for name, module in registry().items():
        wiring = wiring_of(module)
        if wiring is not None:
            found[name] = wiring
    return found


def __getattr__(name: str) -> object:
    """TOOLS, NO_HOOKS, BY_HAND and INTEGRATIONS of earlier versions, from the registry."""
    if name == "TOOLS":
        return tuple(registry())
    if name == "NO_HOOKS":
        return {tool: no_hooks_line(tool) for tool, module in registry().items() if not has_hooks(module)}
    if name == "BY_HAND":
        return {tool: by_hand(module) for tool, module in registry().items() if by_hand(module)}
    if name == "INTEGRATIONS":
        return wirings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def integrate_claude(undo: bool = False) -> str:
    """The Claude-only entry point of earlier versions."""
    return integrate_one("claude-code", undo)


def integrate_one(tool: str, undo: bool = False) -> str:
    """Wire (or unwire) one assistant, whether or not its folder exists yet."""
    module = registry()[tool]
    manual = by_hand(module)
    if manual:
        return manual
    wiring = wiring_of(module)
    if wiring is None:
        return no_hooks_line(tool)
    return (wiring.undo() if undo else wiring.apply()).text


def integrate_all(undo: bool = False) -> list[tuple[bool, str]]:
    """(ok, line) per assistant: every one whose folder exists is wired (or unwired)."""
    lines = []
    for tool, module in registry().items():
        manual = by_hand(module)
        if manual:
            lines.append((True, manual))
            continue
        wiring = wiring_of(module)
        if wiring is None:
            lines.append((True, f"{tool}: no hooks ({tool} has none; nothing to wire)"))
            continue
        if not wiring.folder.is_dir():
            lines.append((True, f"{tool}: not found (no {wiring.folder})"))
            continue
        try:
            done = wiring.undo() if undo else wiring.apply()
        except IntegrateError as exc:
            lines.append((False, f"{tool}: error: {exc}"))
            continue
        except Exception as exc:  # one assistant's surprise must not keep the others unwired
            lines.append((False, f"{tool}: error: {wiring.config}: {exc.__class__.__name__}: "
                                 f"{one_line(exc)}; fix it first"))
            continue
        if undo:
            state = "removed" if done.changed else "not wired"
        else:
            state = "wired" if done.changed else "already wired"
        lines.append((True, f"{tool}: {state} ({done.path})" + (f"; {done.note}" if done.note else "")))
    return lines
