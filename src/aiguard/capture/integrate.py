"""`aiguard integrate TOOL|--all [--undo]`: wire aiguard into assistants' own hook settings.

Each assistant with native hooks gets an entry that runs `<python> -m aiguard
agent-hook TOOL` on the events where its model writes files (the events the
matching source's `parse_hook` reads). One registry, `INTEGRATIONS`, lists them;
each has an apply/undo pair, the folder that says it is installed, and a `wired`
check that `aiguard doctor` uses.

The user's own bytes are kept:

* JSON settings (Claude Code, Gemini CLI, Cursor, Windsurf): aiguard's entry is
  spliced in as text, at the front of an object or the end of an array, indented
  like the file; the rest of the file is untouched, comments included where the
  assistant allows them (Gemini CLI). Undo cuts exactly that text out again: it
  checks that splicing into the result gives back the file it found, and only when
  the user has reformatted the file since does it fall back to cutting out
  aiguard's element alone.
* Codex `config.toml`: a block between `# >>> aiguard` and `# <<< aiguard`
  comment lines, appended at the end and removed whole.
* Files aiguard owns (the Copilot hook file; Cline's `PostToolUse` script, which
  keeps a hook that was there as `PostToolUse.pre-aiguard` and runs it after
  recording, as `aiguard install` does with git hooks).

A changed file is backed up beside itself (`<name>.aiguard-backup`), a file the
assistant could not read either (or one too big or too deeply nested to be
settings) is refused with one line naming it, and running apply or undo twice
changes nothing. A symlinked settings file (dotfile managers, stow) is edited
through the link: its target gets the change and the backup, the link stays. Facts: shared/research/assistant-logs.md.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, NamedTuple

from aiguard.core.errors import AiguardError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOOLS = ("claude-code", "codex", "gemini-cli", "cursor", "copilot", "cline", "windsurf", "aider", "qwen-code",
         "kimi-cli", "roo-code", "kilo-code", "kiro", "firebender")
NO_HOOKS = {"aider": "aider has no hooks: nothing to wire (pipe what it wrote to `aiguard record --tool aider`)",
            "roo-code": "roo-code has no hooks: nothing to wire (its task histories are read by `aiguard ingest`)",
            "kilo-code": "kilo-code has no hooks aiguard reads: nothing to wire (its task histories are read by "
                         "`aiguard ingest`)"}
# Assistants with hooks that aiguard does not write for the user yet: what to add by hand.
BY_HAND = {
    "kiro": "kiro: to wire by hand, add to your agent's configuration (~/.kiro/agents/NAME.json): "
            "\"hooks\": {{\"postToolUse\": [{{\"matcher\": \"fs_write|execute_bash\", \"command\": \"{command}\"}}]}}",
    "firebender": "firebender: to wire by hand, add a postToolUse hook running `{command}` in Firebender's "
                  "hook settings",
}

MARK = "agent-hook claude-code"  # kept for callers of the Claude-only version
MATCHER = "Write|Edit|MultiEdit|NotebookEdit|Bash"  # Bash: files written through the shell
BACKUP = ".aiguard-backup"


class IntegrateError(AiguardError):
    pass


class Done(NamedTuple):
    changed: bool  # whether a file was written or removed
    path: Path  # the file aiguard's entry is (or was) in
    text: str  # one line for a person
    note: str = ""  # what the user still has to know or do, if anything


def hook_command(tool: str = "claude-code") -> str:
    return f"{shlex.quote(sys.executable)} -m aiguard agent-hook {tool}"


def _mark(tool: str) -> str:
    return f"agent-hook {tool}"


# -- where each assistant keeps its settings (its own environment overrides, then HOME) ---

def claude_dir() -> Path:
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured.split(",")[0]).expanduser() if configured else Path.home() / ".claude"


def claude_settings_path() -> Path:
    return claude_dir() / "settings.json"


def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()


def gemini_dir() -> Path:
    return Path(os.environ.get("GEMINI_CLI_HOME") or Path.home()).expanduser() / ".gemini"


def cursor_dir() -> Path:
    return Path(os.environ.get("CURSOR_CONFIG_DIR") or Path.home() / ".cursor").expanduser()


def copilot_home() -> Path:
    return Path(os.environ.get("COPILOT_HOME") or Path.home() / ".copilot").expanduser()


def windsurf_dir() -> Path:
    return Path.home() / ".codeium" / "windsurf"


def documents_dir() -> Path:
    """The user's Documents folder (on Linux the XDG user dir, as `xdg-user-dir DOCUMENTS`)."""
    home = Path.home()
    if sys.platform.startswith("linux"):
        dirs = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
        try:
            found = re.search(r'^XDG_DOCUMENTS_DIR="([^"]*)"', dirs.read_text(errors="replace"), re.M)
        except OSError:
            found = None
        if found and found.group(1).replace("$HOME", "").strip("/"):
            return Path(found.group(1).replace("$HOME", str(home)))
    return home / "Documents"


def cline_dir() -> Path:
    return documents_dir() / "Cline"


# -- files ---------------------------------------------------------------------------------

# A settings file is a few KiB; one far bigger is not the user's settings.
MAX_SETTINGS_BYTES = 8 << 20


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise IntegrateError(f"{path} cannot be read ({exc}); fix it first") from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise IntegrateError(f"{path} is over {MAX_SETTINGS_BYTES >> 20} MiB, too big for a settings file; "
                             f"fix it first")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrateError(f"{path} cannot be read ({exc}); fix it first") from None


def _too_deep(path: Path) -> IntegrateError:
    return IntegrateError(f"{path} nests too deeply for a settings file (Python's recursion limit); fix it first")


def settings_target(path: Path) -> Path:
    """The file to write for `path`: a symlink's target (dotfile managers, stow), else itself."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _backup_name(path: Path) -> str:
    """Where _write put the backup, as the done line says it: beside the file, or the link's target."""
    target = settings_target(path)
    return target.name + BACKUP if target == path else str(target) + BACKUP


def _write(path: Path, old: str, new: str, mode: int | None = None) -> None:
    """Replace a file atomically, keeping its mode and a backup of what it held.

    A symlinked settings file is written through: the link's target gets the new
    bytes (and the backup beside it), so the link stays a link.
    """
    path = settings_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if old:
        path.with_name(path.name + BACKUP).write_text(old, encoding="utf-8")
    tmp = path.with_name(f".{path.name}.aiguard-tmp")
    tmp.write_text(new, encoding="utf-8")
    if mode is not None:
        os.chmod(tmp, mode)
    elif path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# -- JSON settings: aiguard's entry spliced in as text ---------------------------------------

class JsonHook(NamedTuple):
    tool: str
    path: Path
    event: str  # the key under "hooks" whose array gets aiguard's entry
    entry: dict  # aiguard's element of that array
    template: dict  # the whole file when there is none
    comments: bool = False  # the assistant reads the file with // and /* */ comments


class _Span(NamedTuple):
    start: int  # offset of the value's first character
    end: int  # offset just past its last character
    items: list  # object members or array elements: (key or None, offset of the item, value _Span)


def _strip_comments(text: str) -> str:
    """The text with // and /* */ comments blanked out, so every offset stays put."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = [c if c in "\r\n" else " " for c in text[i:end]]
            i = end
        else:
            i += 1
    return "".join(out)


_WS = " \t\r\n"


def _scan(text: str, i: int = 0) -> _Span:
    """Spans of a JSON value in text already known to be valid (comments blanked)."""
    while text[i] in _WS:
        i += 1
    start, first = i, text[i]
    if first in "{[":
        close, items = "}" if first == "{" else "]", []
        i += 1
        while True:
            while text[i] in _WS or text[i] == ",":
                i += 1
            if text[i] == close:
                return _Span(start, i + 1, items)
            key, item = None, i
            if first == "{":
                name = _scan(text, i)
                key = json.loads(text[name.start:name.end])
                i = text.index(":", name.end) + 1
            value = _scan(text, i)
            items.append((key, item, value))
            i = value.end
    if first == '"':
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return _Span(start, i + 1, [])
    while i < len(text) and text[i] not in _WS + ",]}":
        i += 1
    return _Span(start, i, [])


def _member(span: _Span | None, key: str) -> int | None:
    """Index of an object's member (the last of that name, as json.loads keeps)."""
    found = [index for index, (name, _, _) in enumerate(span.items if span else []) if name == key]
    return found[-1] if found else None


def _indent(text: str) -> int | str:
    match = re.search(r"\n([ \t]+)\"", text)
    if not match:
        return 2
    unit = match.group(1)
    return unit if "\t" in unit else len(unit)


def _parse_json(spec: JsonHook, text: str) -> tuple[str, dict, _Span]:
    """(text with comments blanked, data, spans); the file's problems as IntegrateError."""
    plain = _strip_comments(text) if spec.comments else text
    try:
        data = json.loads(plain)
    except ValueError as exc:
        raise IntegrateError(f"{spec.path} is not valid JSON ({_one_line(exc)}); fix it first") from None
    except RecursionError:
        raise _too_deep(spec.path) from None
    if not isinstance(data, dict):
        raise IntegrateError(f"{spec.path} is not a JSON object; fix it first")
    hooks = data.get("hooks")
    if "hooks" in data and not isinstance(hooks, dict):  # null too: there is no object to add to
        raise IntegrateError(f'{spec.path}: "hooks" is not an object; fix it first')
    if hooks and spec.event in hooks and not isinstance(hooks[spec.event], list):
        raise IntegrateError(f'{spec.path}: "hooks.{spec.event}" is not a list; fix it first')
    try:
        return plain, data, _scan(plain)
    except RecursionError:
        raise _too_deep(spec.path) from None


def _ours(spec: JsonHook, data: dict) -> list[int]:
    entries = (data.get("hooks") or {}).get(spec.event) or []
    return [index for index, entry in enumerate(entries) if _mark(spec.tool) in json.dumps(entry)]


def _insert(text: str, container: _Span, depth: int, indent: int | str, body: str) -> str:
    """Add an item: at the front of an object or an empty array, at the end of an array."""
    pad = "\n" + (indent if isinstance(indent, str) else " " * indent) * depth
    body = body.replace("\n", pad)
    if text[container.start] == "[" and container.items:
        at = container.items[-1][2].end
        return text[:at] + "," + pad + body + text[at:]
    at = container.start + 1
    return text[:at] + pad + body + ("," if container.items else "") + text[at:]


def _remove(text: str, plain: str, container: _Span, index: int) -> str:
    """Cut an item out: exactly what `_insert` put there, whichever side it went."""
    items = container.items
    value = items[index][2]
    if index == 0:
        end = plain.index(",", value.end) + 1 if len(items) > 1 else value.end
        return text[:container.start + 1] + text[end:]
    return text[:items[index - 1][2].end] + text[value.end:]


def _json_with_hook(spec: JsonHook, text: str) -> str:
    """The file's text with aiguard's entry added (the caller knows it is not there)."""
    if not text.strip():
        return json.dumps(spec.template, indent=2) + "\n"
    plain, _data, root = _parse_json(spec, text)
    indent = _indent(text)
    hooks = _member(root, "hooks")
    if hooks is None:
        body = '"hooks": ' + json.dumps({spec.event: [spec.entry]}, indent=indent)
        return _insert(text, root, 1, indent, body)
    hooks_span = root.items[hooks][2]
    event = _member(hooks_span, spec.event)
    if event is None:
        body = json.dumps(spec.event) + ": " + json.dumps([spec.entry], indent=indent)
        return _insert(text, hooks_span, 2, indent, body)
    return _insert(text, hooks_span.items[event][2], 3, indent, json.dumps(spec.entry, indent=indent))


def _json_without_hook(spec: JsonHook, text: str) -> str:
    """The file's text without aiguard's entry ("" when aiguard made the whole file)."""
    if text == _json_with_hook(spec, ""):
        return ""
    plain, data, root = _parse_json(spec, text)
    hooks_at = _member(root, "hooks")
    hooks = root.items[hooks_at][2]
    event_at = _member(hooks, spec.event)
    event = hooks.items[event_at][2]
    candidates = [_remove(text, plain, root, hooks_at), _remove(text, plain, hooks, event_at),
                  _remove(text, plain, event, _ours(spec, data)[0])]
    for candidate in candidates:  # the one aiguard's own splice turns back into this file
        try:
            if _json_with_hook(spec, candidate) == text:
                return candidate
        except (IntegrateError, ValueError, IndexError):
            continue
    # Reformatted since: cut out aiguard's entries, then whatever they leave empty.
    while True:
        plain, data, root = _parse_json(spec, text)
        ours = _ours(spec, data)
        if not ours:
            return text
        hooks_at = _member(root, "hooks")
        hooks = root.items[hooks_at][2]
        event_at = _member(hooks, spec.event)
        event = hooks.items[event_at][2]
        if len(event.items) > 1:
            text = _remove(text, plain, event, ours[0])
        elif len(hooks.items) > 1:
            text = _remove(text, plain, hooks, event_at)
        else:
            text = _remove(text, plain, root, hooks_at)


def json_wired(spec: JsonHook) -> bool:
    text = _read(spec.path)
    return bool(text.strip()) and bool(_ours(spec, _parse_json(spec, text)[1]))


def json_apply(spec: JsonHook) -> Done:
    text = _read(spec.path)
    if text.strip() and _ours(spec, _parse_json(spec, text)[1]):
        return Done(False, spec.path, f"{spec.path}: aiguard's hook is already there")
    new = _json_with_hook(spec, text)
    plain = _strip_comments(new) if spec.comments else new
    try:
        added = bool(_ours(spec, json.loads(plain)))
    except ValueError:
        added = False
    if not added:  # never write a file the assistant cannot read
        raise IntegrateError(f"{spec.path}: could not add aiguard's hook; add it by hand")
    _write(spec.path, text, new)
    backup = f" (backup: {_backup_name(spec.path)})" if text else ""
    return Done(True, spec.path, f"{spec.path}: added a {spec.event} hook running "
                                 f"`{hook_command(spec.tool)}`{backup}")


def json_undo(spec: JsonHook) -> Done:
    text = _read(spec.path)
    if not text.strip() or not _ours(spec, _parse_json(spec, text)[1]):
        return Done(False, spec.path, f"{spec.path}: aiguard's hook is not there; nothing to do")
    new = _json_without_hook(spec, text)
    if not new:
        settings_target(spec.path).unlink()  # a symlink stays, as it was before
        return Done(True, spec.path, f"{spec.path}: removed (aiguard had created it)")
    _write(spec.path, text, new)
    return Done(True, spec.path, f"{spec.path}: removed aiguard's {spec.event} hook "
                                 f"(backup: {_backup_name(spec.path)})")


def _claude() -> JsonHook:
    entry = {"matcher": MATCHER, "hooks": [{"type": "command", "command": hook_command("claude-code"),
                                            "timeout": 30}]}
    return JsonHook("claude-code", claude_settings_path(), "PostToolUse", entry,
                    {"hooks": {"PostToolUse": [entry]}})


def _gemini() -> JsonHook:
    # AfterTool of write_file, replace and run_shell_command, the tools gemini_cli.parse_hook reads; timeout in ms.
    entry = {"matcher": "write_file|replace|run_shell_command",
             "hooks": [{"name": "aiguard", "type": "command", "command": hook_command("gemini-cli"), "timeout": 30000}]}
    return JsonHook("gemini-cli", gemini_dir() / "settings.json", "AfterTool", entry,
                    {"hooks": {"AfterTool": [entry]}}, comments=True)


def _cursor() -> JsonHook:
    entry = {"command": hook_command("cursor")}
    return JsonHook("cursor", cursor_dir() / "hooks.json", "afterFileEdit", entry,
                    {"version": 1, "hooks": {"afterFileEdit": [entry]}})


def _qwen() -> JsonHook:
    # Claude Code's hook shape in ~/.qwen/settings.json; PostToolUse of the tools qwen_code.parse_hook reads.
    entry = {"matcher": "write_file|edit|run_shell_command",
             "hooks": [{"type": "command", "command": hook_command("qwen-code"), "name": "aiguard"}]}
    return JsonHook("qwen-code", Path.home() / ".qwen" / "settings.json", "PostToolUse", entry,
                    {"hooks": {"PostToolUse": [entry]}}, comments=True)


def _windsurf() -> JsonHook:
    entry = {"command": hook_command("windsurf"), "show_output": False}
    return JsonHook("windsurf", windsurf_dir() / "hooks.json", "post_write_code", entry,
                    {"hooks": {"post_write_code": [entry]}})


# -- Codex: a marked block appended to config.toml ------------------------------------------

CODEX_BEGIN = "# >>> aiguard:"
CODEX_END = "# <<< aiguard"
CODEX_MATCHER = "apply_patch"  # Codex's file-edit tool (Edit and Write match it too)
CODEX_TRUST = "Codex runs it once you trust it: open /hooks in Codex"


def codex_config_path() -> Path:
    return codex_home() / "config.toml"


def _codex_block() -> str:
    return (f"{CODEX_BEGIN} records what Codex writes; `aiguard integrate codex --undo` removes this block\n"
            "[[hooks.PostToolUse]]\n"
            f'matcher = "{CODEX_MATCHER}"\n'
            "\n"
            "[[hooks.PostToolUse.hooks]]\n"
            'type = "command"\n'
            f"command = {json.dumps(hook_command('codex'))}\n"
            "timeout = 30\n"
            f"{CODEX_END}\n")


def _codex_toml(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IntegrateError(f"{path} is not valid TOML ({_one_line(exc)}); fix it first") from None
    except RecursionError:
        raise _too_deep(path) from None


def _codex_has_hook(data: object) -> bool:
    hooks = data.get("hooks") if isinstance(data, dict) else None
    groups = hooks.get("PostToolUse") if isinstance(hooks, dict) else None
    for group in groups if isinstance(groups, list) else []:
        handlers = group.get("hooks") if isinstance(group, dict) else None
        for handler in handlers if isinstance(handlers, list) else []:
            if isinstance(handler, dict) and _mark("codex") in str(handler.get("command")):
                return True
    return False


def _codex_hooks_json_has_hook() -> bool:
    """A hook in $CODEX_HOME/hooks.json (put there by hand) counts as wired too."""
    try:
        data = json.loads((codex_home() / "hooks.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return _codex_has_hook(data)


def _codex_block_span(text: str) -> tuple[int, int] | None:
    start = text.find(CODEX_BEGIN)
    while start > 0 and text[start - 1] != "\n":
        start = text.find(CODEX_BEGIN, start + 1)
    if start < 0:
        return None
    end = text.find("\n" + CODEX_END, start)
    if end < 0:
        return None
    end += 1 + len(CODEX_END)
    return start, end + 1 if text[end:end + 1] == "\n" else end


def codex_wired() -> bool:
    path = codex_config_path()
    return _codex_has_hook(_codex_toml(path, _read(path))) or _codex_hooks_json_has_hook()


def codex_apply() -> Done:
    path = codex_config_path()
    text = _read(path)
    data = _codex_toml(path, text)
    if _codex_has_hook(data) or _codex_hooks_json_has_hook():
        return Done(False, path, f"{path}: aiguard's hook is already there")
    new = text + ("\n" if text else "") + _codex_block()
    try:
        added = _codex_has_hook(tomllib.loads(new))
    except tomllib.TOMLDecodeError as exc:
        added, reason = False, _one_line(exc)
    else:
        reason = "its hooks are written in a form a [[hooks.PostToolUse]] table cannot join"
    if not added:
        raise IntegrateError(f"{path}: cannot append aiguard's [[hooks.PostToolUse]] block ({reason}); "
                             f"add it by hand")
    _write(path, text, new)
    features = data.get("features") if isinstance(data.get("features"), dict) else {}
    turned_off = False in (features.get("hooks"), features.get("codex_hooks"))
    off = "; note that [features] turns hooks off" if turned_off else ""
    backup = f", backup: {_backup_name(path)}" if text else ""
    note = CODEX_TRUST + off
    return Done(True, path, f"{path}: added a PostToolUse hook for {CODEX_MATCHER} running "
                            f"`{hook_command('codex')}` ({note}{backup})", note)


def codex_undo() -> Done:
    path = codex_config_path()
    text = _read(path)
    data = _codex_toml(path, text)
    span = _codex_block_span(text)
    if span is None:
        if _codex_has_hook(data) or _codex_hooks_json_has_hook():
            raise IntegrateError(f"{path.parent}: aiguard's Codex hook there was not written by "
                                 f"`aiguard integrate codex`; remove it by hand")
        return Done(False, path, f"{path}: aiguard's hook is not there; nothing to do")
    start, end = span
    new = text[:start - 1 if start and text[start - 1] == "\n" else start] + text[end:]
    if not new:
        settings_target(path).unlink()
        return Done(True, path, f"{path}: removed (aiguard had created it)")
    _write(path, text, new)
    return Done(True, path, f"{path}: removed aiguard's PostToolUse block (backup: {_backup_name(path)})")


# -- Kimi CLI: a marked [[hooks]] block appended to its config.toml --------------------------

KIMI_MATCHER = "WriteFile|StrReplaceFile|Shell"  # the tools kimi_cli.parse_hook reads


def kimi_dir() -> Path:
    from aiguard.capture.sources.kimi_cli import share_dir

    return share_dir()


def kimi_config_path() -> Path:
    return kimi_dir() / "config.toml"


def _kimi_block() -> str:
    return (f"{CODEX_BEGIN} records what Kimi CLI writes; `aiguard integrate kimi-cli --undo` removes this block\n"
            "[[hooks]]\n"
            'event = "PostToolUse"\n'
            f'matcher = "{KIMI_MATCHER}"\n'
            f"command = {json.dumps(hook_command('kimi-cli'))}\n"
            "timeout = 30\n"
            f"{CODEX_END}\n")


def _kimi_has_hook(data: object) -> bool:
    hooks = data.get("hooks") if isinstance(data, dict) else None
    return any(isinstance(hook, dict) and _mark("kimi-cli") in str(hook.get("command"))
               for hook in (hooks if isinstance(hooks, list) else []))


def kimi_wired() -> bool:
    path = kimi_config_path()
    return _kimi_has_hook(_codex_toml(path, _read(path)))


def kimi_apply() -> Done:
    path = kimi_config_path()
    text = _read(path)
    if _kimi_has_hook(_codex_toml(path, text)):
        return Done(False, path, f"{path}: aiguard's hook is already there")
    new = text + ("\n" if text and not text.endswith("\n\n") else "") + _kimi_block()
    try:
        added = _kimi_has_hook(tomllib.loads(new))
    except tomllib.TOMLDecodeError as exc:
        added, reason = False, _one_line(exc)
    else:
        reason = "its hooks are written in a form a [[hooks]] table cannot join"
    if not added:
        raise IntegrateError(f"{path}: cannot append aiguard's [[hooks]] block ({reason}); add it by hand")
    _write(path, text, new)
    backup = f" (backup: {_backup_name(path)})" if text else ""
    return Done(True, path, f"{path}: added a PostToolUse hook for {KIMI_MATCHER} running "
                            f"`{hook_command('kimi-cli')}`{backup}")


def kimi_undo() -> Done:
    path = kimi_config_path()
    text = _read(path)
    data = _codex_toml(path, text)
    span = _codex_block_span(text)
    if span is None:
        if _kimi_has_hook(data):
            raise IntegrateError(f"{path}: aiguard's Kimi CLI hook there was not written by "
                                 f"`aiguard integrate kimi-cli`; remove it by hand")
        return Done(False, path, f"{path}: aiguard's hook is not there; nothing to do")
    start, end = span
    new = text[:start - 1 if start and text[start - 1] == "\n" else start] + text[end:]
    if not new:
        settings_target(path).unlink()
        return Done(True, path, f"{path}: removed (aiguard had created it)")
    _write(path, text, new)
    return Done(True, path, f"{path}: removed aiguard's [[hooks]] block (backup: {_backup_name(path)})")


# -- Copilot: a hook file of aiguard's own ---------------------------------------------------

COPILOT_NOTE = ("the payload shape comes from the Copilot SDK's documentation, not yet from a real CLI; "
                "its session logs are ingested too")


def copilot_hook_path() -> Path:
    return copilot_home() / "hooks" / "aiguard.json"


def _copilot_file() -> str:
    # The Copilot CLI format (VS Code reads it too): lowerCamelCase events, bash/powershell.
    handler = {"type": "command", "bash": hook_command("copilot"),
               "powershell": f'& "{sys.executable}" -m aiguard agent-hook copilot', "timeoutSec": 30}
    return json.dumps({"version": 1, "hooks": {"postToolUse": [handler]}}, indent=2) + "\n"


def _own_file_is_ours(path: Path, tool: str) -> bool:
    return _mark(tool) in _read(path)


def copilot_wired() -> bool:
    return _own_file_is_ours(copilot_hook_path(), "copilot")


def copilot_apply() -> Done:
    path = copilot_hook_path()
    if path.exists():
        if _own_file_is_ours(path, "copilot"):
            return Done(False, path, f"{path}: aiguard's hook is already there")
        raise IntegrateError(f"{path} exists and is not aiguard's; move it away and run this again")
    _write(path, "", _copilot_file())
    return Done(True, path, f"{path}: added a postToolUse hook running `{hook_command('copilot')}` "
                            f"({COPILOT_NOTE})", COPILOT_NOTE)


def copilot_undo() -> Done:
    path = copilot_hook_path()
    if not _own_file_is_ours(path, "copilot"):
        left = "not aiguard's, left alone" if path.exists() else "aiguard's hook is not there; nothing to do"
        return Done(False, path, f"{path}: {left}")
    path.unlink()
    return Done(True, path, f"{path}: removed")


# -- Cline: an executable named after the event, chaining one that was there -----------------

CHAINED = ".pre-aiguard"


def cline_hook_path() -> Path:
    return cline_dir() / "Hooks" / "PostToolUse"


def _cline_script() -> str:
    # Cline reads one JSON reply on stdout: the chained hook's if there is one, else
    # agent-hook's (it prints what the assistant expects), else a plain "go on".
    return f"""#!/bin/sh
# aiguard: records what Cline writes, then runs PostToolUse{CHAINED} if there is one.
# `aiguard integrate cline --undo` removes this file and puts that hook back.
payload=$(cat)
reply=$(printf '%s' "$payload" | {shlex.quote(sys.executable)} -m aiguard agent-hook cline)
chained="$(dirname "$0")/PostToolUse{CHAINED}"
if [ -x "$chained" ]; then
  printf '%s' "$payload" | "$chained"
  exit $?
fi
if [ -n "$reply" ]; then printf '%s\\n' "$reply"; else printf '%s\\n' '{{"cancel": false}}'; fi
"""


def cline_wired() -> bool:
    return _own_file_is_ours(cline_hook_path(), "cline")


def cline_apply() -> Done:
    path = cline_hook_path()
    chained = path.with_name(path.name + CHAINED)
    if sys.platform == "win32":
        raise IntegrateError("aiguard does not write Cline's hook scripts on Windows yet")
    if path.exists() and _own_file_is_ours(path, "cline"):
        return Done(False, path, f"{path}: aiguard's hook is already there")
    kept = ""
    if path.exists():
        if chained.exists():
            raise IntegrateError(f"{path} is not aiguard's, and {chained} exists too; move one of them away")
        os.replace(path, chained)
        kept = f"; the hook that was there is kept as {chained.name} and runs after it"
    _write(path, "", _cline_script(), mode=0o755)
    note = "hooks must be enabled in Cline's settings"
    return Done(True, path, f"{path}: added, running `{hook_command('cline')}`{kept} ({note})", note)


def cline_undo() -> Done:
    path = cline_hook_path()
    chained = path.with_name(path.name + CHAINED)
    if not _own_file_is_ours(path, "cline"):
        left = "not aiguard's, left alone" if path.exists() else "aiguard's hook is not there; nothing to do"
        return Done(False, path, f"{path}: {left}")
    path.unlink()
    if chained.exists():
        os.replace(chained, path)
        return Done(True, path, f"{path}: removed aiguard's hook and put back the one it chained")
    return Done(True, path, f"{path}: removed")


# -- the registry ----------------------------------------------------------------------------

class Integration(NamedTuple):
    folder: Callable[[], Path]  # the assistant counts as installed here when this exists
    config: Callable[[], Path]  # the file aiguard's hook goes into
    apply: Callable[[], Done]
    undo: Callable[[], Done]
    wired: Callable[[], bool]


def _json_integration(spec: Callable[[], JsonHook], folder: Callable[[], Path]) -> Integration:
    return Integration(folder, lambda: spec().path, lambda: json_apply(spec()), lambda: json_undo(spec()),
                       lambda: json_wired(spec()))


INTEGRATIONS: dict[str, Integration] = {
    "claude-code": _json_integration(_claude, claude_dir),
    "codex": Integration(codex_home, codex_config_path, codex_apply, codex_undo, codex_wired),
    "gemini-cli": _json_integration(_gemini, gemini_dir),
    "cursor": _json_integration(_cursor, cursor_dir),
    "copilot": Integration(copilot_home, copilot_hook_path, copilot_apply, copilot_undo, copilot_wired),
    "cline": Integration(cline_dir, cline_hook_path, cline_apply, cline_undo, cline_wired),
    "windsurf": _json_integration(_windsurf, windsurf_dir),
    "qwen-code": _json_integration(_qwen, lambda: Path.home() / ".qwen"),
    "kimi-cli": Integration(kimi_dir, kimi_config_path, kimi_apply, kimi_undo, kimi_wired),
}


def integrate_claude(undo: bool = False) -> str:
    """The Claude-only entry point of earlier versions."""
    integration = INTEGRATIONS["claude-code"]
    return (integration.undo() if undo else integration.apply()).text


def integrate_one(tool: str, undo: bool = False) -> str:
    """Wire (or unwire) one assistant, whether or not its folder exists yet."""
    if tool in NO_HOOKS:
        return NO_HOOKS[tool]
    if tool in BY_HAND:
        return BY_HAND[tool].format(command=hook_command(tool))
    integration = INTEGRATIONS[tool]
    return (integration.undo() if undo else integration.apply()).text


def integrate_all(undo: bool = False) -> list[tuple[bool, str]]:
    """(ok, line) per assistant: every one whose folder exists is wired (or unwired)."""
    lines = []
    for tool in TOOLS:
        if tool in NO_HOOKS:
            lines.append((True, f"{tool}: no hooks ({tool} has none; nothing to wire)"))
            continue
        if tool in BY_HAND:
            lines.append((True, BY_HAND[tool].format(command=hook_command(tool))))
            continue
        integration = INTEGRATIONS[tool]
        if not integration.folder().is_dir():
            lines.append((True, f"{tool}: not found (no {integration.folder()})"))
            continue
        try:
            done = integration.undo() if undo else integration.apply()
        except IntegrateError as exc:
            lines.append((False, f"{tool}: error: {exc}"))
            continue
        except Exception as exc:  # one assistant's surprise must not keep the others unwired
            lines.append((False, f"{tool}: error: {integration.config()}: {exc.__class__.__name__}: "
                                 f"{_one_line(exc)}; fix it first"))
            continue
        if undo:
            state = "removed" if done.changed else "not wired"
        else:
            state = "wired" if done.changed else "already wired"
        lines.append((True, f"{tool}: {state} ({done.path})" + (f"; {done.note}" if done.note else "")))
    return lines
