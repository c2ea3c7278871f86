"""How `aiguard integrate` edits an assistant's settings, for the assistant modules to use.

Each assistant module (capture/sources/<name>.py) says in its `wiring()` which file
its hook goes into and what aiguard's entry there is; this module does the editing,
the same way for all of them, and keeps the user's own bytes:

* JSON settings (Claude Code, Gemini CLI, Cursor, Windsurf): aiguard's entry is
  spliced in as text, at the front of an object or the end of an array, indented
  like the file; the rest of the file is untouched, comments included where the
  assistant allows them (Gemini CLI). Undo cuts exactly that text out again: it
  checks that splicing into the result gives back the file it found, and only when
  the user has reformatted the file since does it fall back to cutting out
  aiguard's element alone.
* TOML `config.toml` (Codex, Kimi CLI): a block between `# >>> aiguard` and `# <<< aiguard`
  comment lines, appended at the end and removed whole (`TomlHook`, `block_span`).
* Files aiguard owns (the Copilot hook file; Cline's `PostToolUse` script, which
  keeps a hook that was there as `PostToolUse.pre-aiguard` and runs it after
  recording, as `aiguard install` does with git hooks): `owns` tells them apart.

A changed file is backed up beside itself (`<name>.aiguard-backup`), a file the
assistant could not read either (or one too big or too deeply nested to be
settings) is refused with one line naming it, and running apply or undo twice
changes nothing. A symlinked settings file (dotfile managers, stow) is edited
through the link: its target gets the change and the backup, the link stays.
Facts: shared/research/assistant-logs.md.
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


def mark(tool: str) -> str:
    return f"agent-hook {tool}"


# -- files ---------------------------------------------------------------------------------

# A settings file is a few KiB; one far bigger is not the user's settings.
MAX_SETTINGS_BYTES = 8 << 20
_BOM = b"\xef\xbb\xbf"  # editors on Windows save UTF-8 with it; JSON and TOML parsers refuse it


def read_settings(path: Path) -> str:
    """The file's text ("" when there is none), without a UTF-8 byte order mark
    (write_settings puts one back on a file that had it)."""
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
        return data[len(_BOM):].decode("utf-8") if data.startswith(_BOM) else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrateError(f"{path} cannot be read ({exc}); fix it first") from None


def _has_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_BOM)) == _BOM
    except OSError:
        return False


def too_deep(path: Path) -> IntegrateError:
    return IntegrateError(f"{path} nests too deeply for a settings file (Python's recursion limit); fix it first")


def settings_target(path: Path) -> Path:
    """The file to write for `path`: a symlink's target (dotfile managers, stow), else itself."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _backup(path: Path) -> Path:
    target = settings_target(path)
    return target.with_name(target.name + BACKUP)


def backup_name(path: Path) -> str:
    """Where _write put the backup, as the done line says it: beside the file, or the link's target."""
    target = settings_target(path)
    return target.name + BACKUP if target == path else str(target) + BACKUP


def write_settings(path: Path, old: str, new: str, mode: int | None = None) -> None:
    """Replace a file atomically, keeping its mode and a backup of what it held.

    A symlinked settings file is written through: the link's target gets the new
    bytes (and the backup beside it), so the link stays a link.
    """
    path = settings_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = "utf-8-sig" if _has_bom(path) else "utf-8"  # -sig writes the mark first
    if old or path.exists():  # an empty file too: undo puts it back rather than deleting it
        _backup(path).write_text(old, encoding=encoding)
    tmp = path.with_name(f".{path.name}.aiguard-tmp")
    tmp.write_text(new, encoding=encoding)
    if mode is not None:
        os.chmod(tmp, mode)
    elif path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _blank_before(path: Path) -> str | None:
    """What the file held before aiguard wrote its whole content into it: the blank text of
    an empty file that was there (kept as the backup), or None when there was no file."""
    try:
        with open(_backup(path), "rb") as fh:
            held = fh.read(4097)
    except OSError:
        return None
    text = held.decode("utf-8", "replace").lstrip("\ufeff")
    return text if len(held) <= 4096 and not text.strip() else None


def fresh_file(path: Path) -> None:
    """Before creating a settings file that is not there: a blank backup left from an earlier
    round is about no file of now, and would make undo leave an empty file behind."""
    if not os.path.lexists(path) and _blank_before(path) is not None:
        _backup(path).unlink()


def undo_whole(path: Path, text: str) -> Done:
    """Undo when aiguard's content is all the file holds: the empty file it was, or none."""
    blank = _blank_before(path)
    if blank is None:
        settings_target(path).unlink()  # a symlink stays, as it was before
        return Done(True, path, f"{path}: removed (aiguard had created it)")
    write_settings(path, text, blank)
    return Done(True, path, f"{path}: removed aiguard's hook (the file is empty again, as it was)")


def one_line(exc: Exception) -> str:
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
    # object members or array elements: (key or None, offset of the item, value)
    items: list[tuple[str | None, int, _Span]]


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
        close = "}" if first == "{" else "]"
        items: list[tuple[str | None, int, _Span]] = []
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


def _index(span: _Span, key: str) -> int:
    """Index of a member known to be there (aiguard's entry was found under it)."""
    found = _member(span, key)
    if found is None:
        raise IntegrateError(f"no {key!r} where aiguard's hook was found; fix the file by hand")
    return found


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
        raise IntegrateError(f"{spec.path} is not valid JSON ({one_line(exc)}); fix it first") from None
    except RecursionError:
        raise too_deep(spec.path) from None
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
        raise too_deep(spec.path) from None


def _ours(spec: JsonHook, data: dict) -> list[int]:
    entries = (data.get("hooks") or {}).get(spec.event) or []
    return [index for index, entry in enumerate(entries) if mark(spec.tool) in json.dumps(entry)]


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
    hooks_at = _index(root, "hooks")
    hooks = root.items[hooks_at][2]
    event_at = _index(hooks, spec.event)
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
        hooks_at = _index(root, "hooks")
        hooks = root.items[hooks_at][2]
        event_at = _index(hooks, spec.event)
        event = hooks.items[event_at][2]
        if len(event.items) > 1:
            text = _remove(text, plain, event, ours[0])
        elif len(hooks.items) > 1:
            text = _remove(text, plain, hooks, event_at)
        else:
            text = _remove(text, plain, root, hooks_at)


def json_wired(spec: JsonHook) -> bool:
    text = read_settings(spec.path)
    return bool(text.strip()) and bool(_ours(spec, _parse_json(spec, text)[1]))


def json_apply(spec: JsonHook) -> Done:
    text = read_settings(spec.path)
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
    fresh_file(spec.path)
    write_settings(spec.path, text, new)
    backup = f" (backup: {backup_name(spec.path)})" if text else ""
    return Done(True, spec.path, f"{spec.path}: added a {spec.event} hook running "
                                 f"`{hook_command(spec.tool)}`{backup}")


def json_undo(spec: JsonHook) -> Done:
    text = read_settings(spec.path)
    if not text.strip() or not _ours(spec, _parse_json(spec, text)[1]):
        return Done(False, spec.path, f"{spec.path}: aiguard's hook is not there; nothing to do")
    new = _json_without_hook(spec, text)
    if not new:
        return undo_whole(spec.path, text)
    write_settings(spec.path, text, new)
    return Done(True, spec.path, f"{spec.path}: removed aiguard's {spec.event} hook "
                                 f"(backup: {backup_name(spec.path)})")


# -- TOML settings: a marked block of aiguard's own ---------------------------------------------

BLOCK_BEGIN = "# >>> aiguard:"
BLOCK_END = "# <<< aiguard"


def toml_lib():  # imported when wiring only: the daemon and the hooks never need it
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def load_toml(path: Path, text: str) -> dict:
    """A TOML settings file's data; its problems as IntegrateError naming it."""
    tomllib = toml_lib()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IntegrateError(f"{path} is not valid TOML ({one_line(exc)}); fix it first") from None
    except RecursionError:
        raise too_deep(path) from None


def block_span(text: str) -> tuple[int, int] | None:
    """Where aiguard's marked block is in a TOML file's text (BLOCK_BEGIN line to BLOCK_END line)."""
    start = text.find(BLOCK_BEGIN)
    while start > 0 and text[start - 1] != "\n":
        start = text.find(BLOCK_BEGIN, start + 1)
    if start < 0:
        return None
    end = text.find("\n" + BLOCK_END, start)
    if end < 0:
        return None
    end += 1 + len(BLOCK_END)
    return start, end + 1 if text[end:end + 1] == "\n" else end


def toml_has_hook(tool: str, data: object) -> bool:
    """Whether TOML (or JSON) settings data holds a hook whose `command` runs agent-hook TOOL,
    in any table under `hooks` (Codex nests its handlers a level deeper than Kimi CLI)."""
    hooks = data.get("hooks") if isinstance(data, dict) else None
    found = [hooks]
    while found:
        value = found.pop()
        if isinstance(value, dict):
            if mark(tool) in str(value.get("command")):
                return True
            found += value.values()
        elif isinstance(value, list):
            found += value
    return False


class TomlHook(NamedTuple):
    """aiguard's marked block in an assistant's TOML settings (Codex, Kimi CLI)."""

    tool: str  # the assistant's NAME
    label: str  # its name for a person (in the block's comment and in messages)
    path: Path  # its config.toml
    header: str  # the table the block adds: `[[hooks.PostToolUse]]` (Codex), `[[hooks]]` (Kimi CLI)
    body: str  # the block's lines after the header
    matcher: str  # the tools the hook runs for, as the done line says them
    elsewhere: Callable[[], bool] = lambda: False  # aiguard's hook wired in another file (Codex's hooks.json)
    note: Callable[[dict], str] = lambda data: ""  # what the user still has to know, from the settings


def toml_block(spec: TomlHook) -> str:
    return (f"{BLOCK_BEGIN} records what {spec.label} writes; `aiguard integrate {spec.tool} --undo` removes this "
            f"block\n{spec.header}\n{spec.body}{BLOCK_END}\n")


def toml_wired(spec: TomlHook) -> bool:
    return toml_has_hook(spec.tool, load_toml(spec.path, read_settings(spec.path))) or spec.elsewhere()


def toml_apply(spec: TomlHook) -> Done:
    path = spec.path
    text = read_settings(path)
    data = load_toml(path, text)
    if toml_has_hook(spec.tool, data) or spec.elsewhere():
        return Done(False, path, f"{path}: aiguard's hook is already there")
    new = text + ("\n" if text else "") + toml_block(spec)
    tomllib = toml_lib()
    try:
        added = toml_has_hook(spec.tool, tomllib.loads(new))
    except tomllib.TOMLDecodeError as exc:
        added, reason = False, one_line(exc)
    else:
        reason = f"its hooks are written in a form a {spec.header} table cannot join"
    if not added:  # never write a file the assistant cannot read
        raise IntegrateError(f"{path}: cannot append aiguard's {spec.header} block ({reason}); add it by hand")
    fresh_file(path)
    write_settings(path, text, new)
    note = spec.note(data)
    extra = ", ".join(part for part in (note, f"backup: {backup_name(path)}" if text else "") if part)
    return Done(True, path, f"{path}: added a PostToolUse hook for {spec.matcher} running "
                            f"`{hook_command(spec.tool)}`" + (f" ({extra})" if extra else ""), note)


def toml_undo(spec: TomlHook) -> Done:
    path = spec.path
    text = read_settings(path)
    data = load_toml(path, text)
    span = block_span(text)
    if span is None:
        if toml_has_hook(spec.tool, data) or spec.elsewhere():
            raise IntegrateError(f"{path.parent}: aiguard's {spec.label} hook there was not written by "
                                 f"`aiguard integrate {spec.tool}`; remove it by hand")
        return Done(False, path, f"{path}: aiguard's hook is not there; nothing to do")
    start, end = span
    new = text[:start - 1 if start and text[start - 1] == "\n" else start] + text[end:]
    if not new:
        return undo_whole(path, text)
    write_settings(path, text, new)
    return Done(True, path, f"{path}: removed aiguard's {spec.header} block (backup: {backup_name(path)})")


def owns(path: Path, tool: str) -> bool:
    """Whether a file aiguard writes whole (a hook file or script) is aiguard's: it runs agent-hook TOOL."""
    return mark(tool) in read_settings(path)


# -- the shape every assistant's wiring has ----------------------------------------------------

class Wiring(NamedTuple):
    """How `integrate` wires one assistant (what an assistant module's `wiring()` returns)."""

    folder: Path  # the assistant counts as installed here when this exists (`integrate --all`)
    config: Path  # the file aiguard's hook goes into (the first, when there are several)
    apply: Callable[[], Done]
    undo: Callable[[], Done]
    wired: Callable[[], bool]


def json_wiring(specs: list[JsonHook], folder: Path) -> Wiring:
    """The wiring of an assistant whose hooks are JSON settings: one file, or several (one per
    configured folder, e.g. each CLAUDE_CONFIG_DIR entry), each applied and undone alike."""
    return Wiring(folder, specs[0].path, lambda: _each([json_apply(spec) for spec in specs]),
                  lambda: _each([json_undo(spec) for spec in specs]),
                  lambda: all(json_wired(spec) for spec in specs))


def toml_wiring(spec: TomlHook, folder: Path) -> Wiring:
    """The wiring of an assistant whose hook is a marked block in its TOML settings."""
    return Wiring(folder, spec.path, lambda: toml_apply(spec), lambda: toml_undo(spec), lambda: toml_wired(spec))


def _each(done: list[Done]) -> Done:
    if len(done) == 1:
        return done[0]
    changed = [d for d in done if d.changed]
    return Done(bool(changed), (changed or done)[0].path, "\n".join(d.text for d in done),
                next((d.note for d in done if d.note), ""))
