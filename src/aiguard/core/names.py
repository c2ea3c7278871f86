"""Tool and model names as the ledger, the trailers and every view hold them; and
control characters made visible for the text views.

A name is 1 to 100 characters of `A-Z a-z 0-9 . _ @ + / -`; a model may also hold
`:` (`llama3:8b`), a tool may not (`Assisted-by: TOOL:MODEL` splits at the first one).
`aiguard record --tool/--model` refuses anything else; names read from assistants'
logs and hooks are sanitised instead (each run of other characters becomes `-`, the
reason is reported), so their output is never lost. Standard library only: the
commit hook imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

MAX_LENGTH = 100
CHARSET = "A-Z a-z 0-9 . _ @ + / - (and : in a model)"
_TOOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+/-")
_MODEL_CHARS = _TOOL_CHARS | {":"}
# The same sets as patterns, for problem(); the hook's sanitise goes without re (~4 ms of imports).
_TOOL_BAD = r"[^A-Za-z0-9._@+/-]+"
_MODEL_BAD = r"[^A-Za-z0-9._@+/:-]+"


def problem(name: str, kind: str = "model") -> str | None:
    """Why `name` is not a valid tool (kind "tool") or model name, or None when it is."""
    if not name:
        return f"the {kind} name is empty"
    import re

    bad = re.search(_TOOL_BAD if kind == "tool" else _MODEL_BAD, name)
    if bad:
        return f"the {kind} name \"{visible(name)}\" has \"{visible(bad.group(0))}\"; allowed: {CHARSET}"
    if len(name) > MAX_LENGTH:
        return f"the {kind} name is {len(name)} characters long; at most {MAX_LENGTH}"
    return None


def sanitise(name: str, kind: str = "model") -> str:
    """`name` within the charset: runs of other characters become `-`, cut to MAX_LENGTH."""
    allowed = _TOOL_CHARS if kind == "tool" else _MODEL_CHARS
    out: list[str] = []
    outside = False  # in a run of characters outside the charset, which becomes one "-"
    for char in name:
        if char in allowed:
            out.append(char)
            outside = False
        elif not outside:
            out.append("-")
            outside = True
    clean = "".join(out).strip("-")[:MAX_LENGTH]
    return clean or "unknown"


def assisted_value(value: str) -> str:
    """A `TOOL:MODEL` value that is safe to write as a trailer (one line, no control characters)."""
    tool, sep, model = value.partition(":")
    if not sep:
        return sanitise(tool, "tool")
    return f"{sanitise(tool, 'tool')}:{sanitise(model)}"


# Control characters in human-facing text ---------------------------------------------------

# C0 (but tab), DEL, C1, and the bidirectional marks, overrides and isolates (Trojan Source).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Compiled on first use (re keeps them; ~0.6 ms): the commit hook shows no text.
_CONTROL = f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]"
_CONTROL_BUT_NEWLINE = f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, newlines: bool = False) -> str:
    """`text` with control characters, bidi overrides and newlines shown as escapes (`\\x1b`),
    so a commit subject, an author or a model name cannot move the cursor, clear the
    screen, make a link (OSC 8) or reorder what the reader sees. Tabs stay; newlines
    stay too with `newlines`."""
    import re

    pattern = re.compile(_CONTROL_BUT_NEWLINE if newlines else _CONTROL)
    return pattern.sub(_escape, text) if pattern.search(text) else text
