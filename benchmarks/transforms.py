"""Deterministic paste transforms for the accuracy benchmark (Python snippets).

Every transform takes the snippet text and a `random.Random` and returns the
new text, or None when it does not apply to that snippet (the benchmark then
takes the next snippet). All are pure functions of (text, rng state).
"""

from __future__ import annotations

import ast
import io
import keyword
import random
import re
import tokenize

# ------------------------------------------------------------------- re-indent


def reindent_spaces(text: str, rng: random.Random) -> str:
    """Every non-blank line 4 spaces deeper (pasted into a class or a block)."""
    return "".join(("    " + line) if line.strip() else line for line in text.splitlines(keepends=True))


def reindent_tabs(text: str, rng: random.Random) -> str | None:
    """Leading groups of 4 spaces become tabs, plus one tab (pasted into a tab-indented block)."""
    out = []
    for line in text.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
            continue
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        out.append("\t" * (1 + spaces // 4) + " " * (spaces % 4) + stripped)
    return "".join(out)


# -------------------------------------------------------------------- reformat

_OPEN, _CLOSE = "([{", ")]}"
_NO_SPACE_BEFORE = {")", "]", "}", ",", ":", ".", ";"}
_NO_SPACE_AFTER = {"(", "[", "{", ".", "~"}


def _spaced(tokens: list[tokenize.TokenInfo]) -> str:
    """One logical line, brackets joined, with canonical (black-like) spacing."""
    out: list[str] = []
    depth = 0
    prev: tokenize.TokenInfo | None = None
    before: tokenize.TokenInfo | None = None  # the token before prev
    for tok in tokens:
        s = tok.string
        space = True
        if prev is None:
            space = False
        elif s == "." and prev.type == tokenize.NAME and keyword.iskeyword(prev.string):
            space = True  # from .module import x
        elif prev.string == "." and tok.type == tokenize.NAME and keyword.iskeyword(s):
            space = True  # from . import x
        elif s in _NO_SPACE_BEFORE or prev.string in _NO_SPACE_AFTER:
            space = False
        elif prev.string == "@" and len(out) == 1:
            space = False  # decorator
        elif prev.string in ("-", "+", "~") and (before is None or before.type == tokenize.OP and before.string not in ")]}"
                                                 or before.type == tokenize.NAME and keyword.iskeyword(before.string)):
            space = False  # unary operator
        elif s in ("(", "[") and (prev.type in (tokenize.NAME, tokenize.STRING) and not keyword.iskeyword(prev.string)
                                  or prev.string in (")", "]")):
            space = False  # call or subscript
        elif depth and (s == "=" or prev.string == "="):
            space = False  # keyword argument
        elif prev.string in ("*", "**") and out and len(out) >= 2 and out[-2] in ("(", ",", "[", "*", "**"):
            space = False
        if space:
            out.append(" ")
        out.append(s)
        if s in _OPEN:
            depth += 1
        elif s in _CLOSE:
            depth -= 1
        before, prev = prev, tok
    return "".join(t for t in out)


def _explode(line: str, indent: str) -> list[str]:
    """Split the arguments of the outermost last bracket pair onto lines (magic trailing comma)."""
    depth = 0
    open_at = None
    commas = []
    in_str = None
    i = 0
    while i < len(line):
        c = line[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if line.startswith(in_str, i):
                i += len(in_str)
                in_str = None
                continue
        elif c in "\"'":
            in_str = c * 3 if line.startswith(c * 3, i) else c
            i += len(in_str)
            continue
        elif c in _OPEN:
            if depth == 0:
                open_at, commas = i, []
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0 and open_at is not None and len(commas) >= 1:
                parts = []
                start = open_at + 1
                for comma in commas + [i]:
                    part = line[start:comma].strip()
                    if part:
                        parts.append(part)
                    start = comma + 1
                head = line[:open_at + 1]
                tail = line[i:]
                return [indent + head] + [indent + "    " + p + "," for p in parts] + [indent + tail]
        elif c == "," and depth == 1:
            commas.append(i)
        i += 1
    return [indent + line]


def reformat(text: str, rng: random.Random) -> str | None:
    """Re-emit the code the way a formatter would, but differently from how it was.

    * logical lines spread over several physical lines are joined, with
      canonical spacing inside the line (spaces collapsed or added);
    * then lines over 60 characters with an argument list are exploded, one
      argument per line with a trailing comma (black's magic trailing comma);
    * simple string literals swap quote style (' <-> ").

    Comment lines and multi-line strings are kept as they are.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    indents = [""]
    logical: list[tokenize.TokenInfo] = []
    has_comment = False
    first_row = None
    for tok in tokens:
        if tok.type == tokenize.INDENT:
            indents.append(tok.string)
            continue
        if tok.type == tokenize.DEDENT:
            indents.pop()
            continue
        if tok.type in (tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.NL and not logical:
            out.append(lines[tok.start[0] - 1] if tok.start[0] - 1 < len(lines) else "\n")
            continue
        if tok.type == tokenize.COMMENT and not logical:
            continue  # its NL token copies the whole line
        if tok.type == tokenize.NEWLINE:
            last_row = tok.start[0]
            multi_line_string = any(t.type == tokenize.STRING and "\n" in t.string for t in logical)
            if has_comment or multi_line_string:
                out.extend(lines[first_row - 1:last_row])
            else:
                body = [_swap_quotes(t) for t in logical if t.type not in (tokenize.NL, tokenize.COMMENT)]
                line = _spaced(body)
                indent = indents[-1]
                if len(indent) + len(line) > 60:
                    out.extend(l.rstrip() + "\n" for l in _explode(line, indent))
                else:
                    out.append(indent + line + "\n")
            logical, has_comment, first_row = [], False, None
            continue
        if tok.type == tokenize.COMMENT:
            has_comment = True
        if first_row is None:
            first_row = tok.start[0]
        logical.append(tok)
    result = "".join(out)
    return result if result != text else None


_SIMPLE_STRING = re.compile(r"^([rRbBuU]{0,2})(['\"])((?:(?!\2)[^\\\n]|\\.)*)\2$")


def _swap_quotes(tok: tokenize.TokenInfo) -> tokenize.TokenInfo:
    if tok.type != tokenize.STRING:
        return tok
    m = _SIMPLE_STRING.match(tok.string)
    if not m:
        return tok
    prefix, quote, body = m.groups()
    other = '"' if quote == "'" else "'"
    if other in body or "\\" in body:
        return tok
    return tok._replace(string=prefix + other + body + other)


# ---------------------------------------------------------------------- rename

_NAMES = ("item", "result", "data", "node", "value", "entry", "obj", "buf", "tmp", "acc", "res", "val",
          "elem", "current", "target", "source", "payload", "record", "chunk", "part", "cfg", "ctx",
          "info", "state", "count", "total", "idx", "pos", "out", "ret", "arg", "param", "options",
          "items", "values", "names", "parts", "args", "kwargs_", "flag", "mode", "name_", "text", "msg")


def _local_names(func: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    declared = set()
    for node in ast.walk(func):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
    return names - declared - {"self", "cls", "_", "__class__"}


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None


def _apply_edits(text: str, edits: list[tuple[int, int, int, int, str]]) -> str:
    """Replace (line, col_byte, end_line, end_col_byte) spans (1-based lines, UTF-8 byte columns)."""
    lines = [l.encode("utf-8") for l in text.splitlines(keepends=True)]
    offsets = [0]
    for l in lines:
        offsets.append(offsets[-1] + len(l))
    data = b"".join(lines)
    spans = sorted(((offsets[a - 1] + b, offsets[c - 1] + d, new) for a, b, c, d, new in edits), reverse=True)
    last = None
    for start, end, new in spans:
        if last is not None and end > last:
            continue  # overlapping edit (nested constant): keep the outer one applied first
        data = data[:start] + new.encode("utf-8") + data[end:]
        last = start
    return data.decode("utf-8")


def _rename_edits(tree: ast.Module, text: str, rng: random.Random) -> list[tuple[int, int, int, int, str]] | None:
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        return None
    func = funcs[0]
    local = sorted(_local_names(func))
    if not local:
        return None
    existing = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    existing |= set(re.findall(r"[A-Za-z_]\w*", text))
    pool = list(_NAMES)
    rng.shuffle(pool)
    mapping: dict[str, str] = {}
    n = 0
    for name in local:
        while True:
            candidate = pool[n % len(pool)] + ("" if n < len(pool) else str(n // len(pool)))
            n += 1
            if candidate not in existing and not keyword.iskeyword(candidate):
                break
        mapping[name] = candidate
    edits = []
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id in mapping:
            edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, mapping[node.id]))
        elif isinstance(node, ast.arg) and node.arg in mapping:
            start = node.col_offset
            edits.append((node.lineno, start, node.lineno, start + len(node.arg.encode()), mapping[node.arg]))
    # Keyword arguments in calls to this function's own parameters are left alone (callers are elsewhere).
    return edits or None


def rename(text: str, rng: random.Random) -> str | None:
    """Rename the function's parameters and local variables consistently (not attributes, not globals)."""
    tree = _parse(text)
    if tree is None:
        return None
    edits = _rename_edits(tree, text, rng)
    if not edits:
        return None
    return _apply_edits(text, edits)


def _literal_edits(tree: ast.Module, rng: random.Random) -> list[tuple[int, int, int, int, str]]:
    in_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            in_fstring.update(id(n) for n in ast.walk(node))
    edits = []
    n = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in in_fstring:
            continue
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            continue
        n += 1
        if isinstance(value, int):
            new = repr(value + rng.randint(1, 9))
        elif isinstance(value, float):
            new = repr(round(value * 1.5 + 0.25, 6))
        elif isinstance(value, complex):
            continue
        elif isinstance(value, (str, bytes)):
            prefix = "b" if isinstance(value, bytes) else ""
            if node.lineno != node.end_lineno:
                # Keep a multi-line string multi-line: same line count, other words.
                body = "\n".join(f"Changed text {n}.{i}" if line.strip() else "" for i, line in enumerate(str(value).splitlines()))
                new = f'{prefix}"""{body}"""' if body.count("\n") == node.end_lineno - node.lineno else None
                if new is None:
                    continue
            else:
                new = f'{prefix}"lit_{n}_{rng.randint(0, 999)}"'
        else:
            continue
        edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, new))
    return edits


def rename_literals(text: str, rng: random.Random) -> str | None:
    """Rename as above, and change number and string literals (not inside f-strings)."""
    tree = _parse(text)
    if tree is None:
        return None
    edits = (_rename_edits(tree, text, rng) or []) + _literal_edits(tree, rng)
    if not edits:
        return None
    return _apply_edits(text, edits)


# --------------------------------------------------------------------- partial


def _string_interior_lines(text: str) -> set[int]:
    """0-based lines that start inside a multi-line string (a paste cannot sensibly start there)."""
    inside: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0], tok.end[0]))  # lines start[0]+1 .. end[0], 0-based
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return inside


_CLIKE_SPANS = re.compile(r'/\*[\s\S]*?(?:\*/|\Z)|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`(?:\\.|[^`\\])*`')


def clike_interior_lines(text: str) -> set[int]:
    """0-based lines that start inside a block comment or a template literal (C, JavaScript).

    The counterpart of _string_interior_lines for the other languages: a window, context
    or partial paste cut there would turn comment text into code (or code into comment)
    in a way no real file has, since the hook tokenises whole files.
    """
    inside: set[int] = set()
    for match in _CLIKE_SPANS.finditer(text):
        first = text.count("\n", 0, match.start())
        last = first + text.count("\n", match.start(), match.end())
        if last > first:
            inside.update(range(first + 1, last + 1))
    return inside


def clike_clean_windows(lines: list[str], size: int, step: int = 1) -> list[int]:
    bad = clike_interior_lines("".join(lines))
    return [s for s in range(0, len(lines) - size + 1, step) if s not in bad and (s + size) not in bad]


def partial(n: int):
    def take(text: str, rng: random.Random) -> str | None:
        lines = text.splitlines(keepends=True)
        if len(lines) < n + 2:
            return None
        bad = _string_interior_lines(text)
        starts = [s for s in range(len(lines) - n + 1)
                  if s not in bad and (s + n) not in bad and lines[s].strip()
                  and sum(1 for l in lines[s:s + n] if l.strip()) >= n - 1]
        if not starts:
            return None
        start = rng.choice(starts)
        return "".join(lines[start:start + n])
    take.__name__ = f"partial{n}"
    return take


def clean_windows(lines: list[str], size: int) -> list[int]:
    """Starts of `size`-line windows of a file that neither start nor end inside a multi-line string."""
    bad = _string_interior_lines("".join(lines))
    return [s for s in range(0, len(lines) - size + 1) if s not in bad and (s + size) not in bad]
