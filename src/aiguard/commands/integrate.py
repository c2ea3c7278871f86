"""`aiguard integrate TOOL [--undo]`: wire aiguard into an assistant's own hook settings.

So far Claude Code: a PostToolUse hook for its code-writing tools in
`~/.claude/settings.json` (or `$CLAUDE_CONFIG_DIR/settings.json`) that runs
`aiguard agent-hook claude-code`. The user's other settings keep their bytes:
when the file has no "hooks" section, aiguard's is spliced in as text right
after the opening brace (and undo cuts exactly that text out again); only when
a "hooks" section exists already is the file re-written from its parsed JSON,
with its own indentation. A backup of the previous file is kept beside it.
Running it twice changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

MARK = "agent-hook claude-code"
MATCHER = "Write|Edit|MultiEdit|NotebookEdit"


class IntegrateError(Exception):
    pass


def claude_settings_path() -> Path:
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    base = Path(configured.split(",")[0]).expanduser() if configured else Path.home() / ".claude"
    return base / "settings.json"


def hook_command() -> str:
    return f"{shlex.quote(sys.executable)} -m aiguard {MARK}"


def _our_group() -> dict:
    return {"matcher": MATCHER, "hooks": [{"type": "command", "command": hook_command(), "timeout": 30}]}


def _is_ours(group: object) -> bool:
    return isinstance(group, dict) and any(
        isinstance(h, dict) and MARK in str(h.get("command", "")) for h in group.get("hooks") or []
    )


def _indent(text: str) -> int | str:
    match = re.search(r"\n([ \t]+)\"", text)
    if not match:
        return 2
    unit = match.group(1)
    return unit if "\t" in unit else len(unit)


def _splice(indent: int | str) -> str:
    unit = indent if isinstance(indent, str) else " " * indent
    body = json.dumps({"PostToolUse": [_our_group()]}, indent=indent)
    return "\n" + unit + '"hooks": ' + body.replace("\n", "\n" + unit)


def integrate_claude(undo: bool = False) -> str:
    path = claude_settings_path()
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise IntegrateError(f"{path} is not valid JSON ({exc}); fix it first") from None
    if not isinstance(data, dict):
        raise IntegrateError(f"{path} is not a JSON object")
    hooks = data.get("hooks")
    post = hooks.get("PostToolUse") if isinstance(hooks, dict) else None
    present = isinstance(post, list) and any(_is_ours(g) for g in post)
    indent = _indent(text)
    if undo:
        if not present:
            return f"{path}: aiguard's hook is not there; nothing to do"
        splice = _splice(indent) + ","
        if splice in text:
            new = text.replace(splice, "", 1)
        elif _splice(indent) + "\n" in text:
            new = text.replace(_splice(indent), "", 1)
        else:
            post[:] = [g for g in post if not _is_ours(g)]
            if not post:
                del hooks["PostToolUse"]
            if not hooks:
                del data["hooks"]
            new = json.dumps(data, indent=indent) + "\n"
        _write(path, text, new)
        return f"{path}: removed aiguard's PostToolUse hook (backup: {path.name}.aiguard-backup)"
    if present:
        return f"{path}: aiguard's hook is already there"
    if not text.strip():
        new = json.dumps({"hooks": {"PostToolUse": [_our_group()]}}, indent=2) + "\n"
    elif "hooks" not in data:
        brace = text.index("{")
        rest = text[brace + 1:]
        separator = "," if data else ""
        new = text[:brace + 1] + _splice(indent) + separator + rest
    else:
        if not isinstance(hooks, dict):
            raise IntegrateError(f"{path}: \"hooks\" is not an object; fix it first")
        hooks.setdefault("PostToolUse", [])
        if not isinstance(hooks["PostToolUse"], list):
            raise IntegrateError(f"{path}: \"hooks.PostToolUse\" is not a list; fix it first")
        hooks["PostToolUse"].append(_our_group())
        new = json.dumps(data, indent=indent) + "\n"
    json.loads(new)  # never write a file Claude Code cannot read
    _write(path, text, new)
    return f"{path}: added a PostToolUse hook running `{hook_command()}` (backup: {path.name}.aiguard-backup)"


def _write(path: Path, old: str, new: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if old:
        path.with_name(path.name + ".aiguard-backup").write_text(old, encoding="utf-8")
    tmp = path.with_name(f".{path.name}.aiguard-tmp")
    tmp.write_text(new, encoding="utf-8")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


INTEGRATIONS = {"claude-code": integrate_claude}
