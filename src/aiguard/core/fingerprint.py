"""Tokenising and keyed winnowing fingerprints of code. Pure: no I/O.

The design follows ../shared/research/matching.md: one regex tokenizer for all
languages (a small table picks the comment syntax), two token streams per text,
keyed k-gram hashes, and robust winnowing on the ledger side only.

* raw stream: identifiers, literals, keywords and operators as written (string
  literals by their content, so quote style does not matter); catches verbatim,
  re-indented and reformatted pastes with very few false positives.
* abstract stream: identifiers -> V, strings -> S, numbers -> N, keywords and
  operators kept; catches renamed pastes, needs longer matches.

Commas and semicolons are dropped in both streams: formatters add and remove
them (trailing commas, optional semicolons) and they carry no provenance.
Comments and whitespace are dropped too, but comment tokens keep their lines so
that attribution can treat comment-only lines inside a paste as part of it.
"""

from __future__ import annotations

import bisect
import os
import struct
from types import ModuleType
from collections.abc import Callable, Collection

from aiguard.core.digests import blake2b
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Iterable, Sequence


def _load_speedups() -> ModuleType | None:
    """The compiled accelerator (aiguard/core/_speedups.c), or None: not built, or
    AIGUARD_PURE_PYTHON set (the pure-Python code below is the reference)."""
    if os.environ.get("AIGUARD_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from aiguard.core import _speedups
    except ImportError:
        return None
    return _speedups


if TYPE_CHECKING:  # the accelerator's calls are checked against its stub (_speedups.pyi)
    from aiguard.core import _speedups as _speedups
else:
    _speedups = _load_speedups()
ACCELERATED = _speedups is not None

RAW = 0
ABSTRACT = 1
STREAMS = (RAW, ABSTRACT)
LINES = 2  # not a stream: common-code entries that name whole logical lines (common_code.py)
# A record's own lines (fingerprint_record) are hashed to this many bytes: a line is only
# ever compared with the one record line at the position a matched chain points to, so a
# chance equality is 1 in 2**32 per compared line.
LINE_HASH_BYTES = 4
LINE_SALT_BYTES = 8


class StreamParams(NamedTuple):
    k: int  # k-gram length in tokens (noise threshold)
    w: int  # winnowing window in k-grams (guarantee t = k + w - 1)
    min_tokens: int  # a match must cover at least this many tokens to count


# matching.md section 8.2 (measured on a 100k-snippet ledger), with the raw threshold at
# 25 tokens as its addendum recommends: 5-line partial pastes 37 % -> 53 % found, true
# false positives 0.07 % -> 0.13 % of human hunks (benchmarks/accuracy.py, 20k ledger).
PARAMS = {
    RAW: StreamParams(k=12, w=8, min_tokens=25),
    ABSTRACT: StreamParams(k=16, w=8, min_tokens=60),
}

# Token kinds.
IDENT, KEYWORD, NUMBER, STRING, OP, COMMENT = range(6)

# Comment syntax families. The rest of the grammar is shared.
HASH, CLIKE, DASH, GENERIC = "hash", "c", "dash", "generic"

_EXT_SYNTAX = {
    HASH: (
        "py pyi pyw pyx sh bash zsh fish ksh rb rake gemspec pl pm t r yaml yml toml "
        "cfg conf ini cmake mk nim jl ex exs tcl ps1 psm1 awk sed coffee cr gd"
    ),
    CLIKE: (
        "c h cc cpp cxx c++ hpp hh hxx ipp inl m mm java js jsx mjs cjs ts tsx mts cts "
        "go rs cs fs swift kt kts scala sc dart php groovy gradle proto sol zig v vala "
        "css scss less json jsonc json5 hx d ino cu cuh glsl hlsl frag vert qml"
    ),
    DASH: "sql lua hs lhs elm ada adb ads vhd vhdl purs",
}
EXTENSIONS = {ext: syn for syn, exts in _EXT_SYNTAX.items() for ext in exts.split()}
FILENAMES = {"makefile": HASH, "dockerfile": HASH, "gemfile": HASH, "rakefile": HASH,
             "cmakelists.txt": HASH, "build": HASH, "workspace": HASH, "justfile": HASH}
FENCE_TAGS = {
    "python": HASH, "py": HASH, "bash": HASH, "sh": HASH, "shell": HASH, "zsh": HASH,
    "ruby": HASH, "rb": HASH, "perl": HASH, "r": HASH, "yaml": HASH, "yml": HASH,
    "toml": HASH, "elixir": HASH, "julia": HASH, "powershell": HASH, "dockerfile": HASH,
    "makefile": HASH, "nim": HASH,
    "c": CLIKE, "cpp": CLIKE, "c++": CLIKE, "java": CLIKE, "javascript": CLIKE, "js": CLIKE,
    "jsx": CLIKE, "typescript": CLIKE, "ts": CLIKE, "tsx": CLIKE, "go": CLIKE,
    "golang": CLIKE, "rust": CLIKE, "rs": CLIKE, "csharp": CLIKE, "cs": CLIKE, "c#": CLIKE,
    "swift": CLIKE, "kotlin": CLIKE, "kt": CLIKE, "scala": CLIKE, "dart": CLIKE,
    "php": CLIKE, "objc": CLIKE, "objective-c": CLIKE, "css": CLIKE, "scss": CLIKE,
    "json": CLIKE, "proto": CLIKE, "solidity": CLIKE, "zig": CLIKE, "groovy": CLIKE,
    "sql": DASH, "lua": DASH, "haskell": DASH, "hs": DASH, "elm": DASH,
}

# Structural keywords shared by most languages stay themselves in the abstract
# stream. Words that are keywords in one language but common names in others
# (namespace, type, match, default, string, print...) are left out: a renamed
# variable must not keep its old name there.
KEYWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def del do elif else
    except extends finally fn for foreach from func function global if implements import in
    instanceof interface is lambda let new nonlocal not or pass private protected public raise
    return self sizeof static struct super switch this throw throws try typedef typeof var void
    while with yield None True False null nil true false undefined
    """.split()
)

_STRING = (
    r'(?P<s>[rRbBuUfF]{0,2}(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\''
    r'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`(?:\\.|[^`\\])*`))'
)
_NUMBER = (
    r"(?P<n>0[xX][0-9a-fA-F_]+[uUlL]*|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[a-zA-Z]*)"
)
_IDENT = r"(?P<i>[^\W\d]\w*|\$[\w$]*)"
_OP = (
    r"(?P<o>\.\.\.|>>>=|<<=|>>=|\*\*=|//=|===|!==|<=>|->|=>|::|\+\+|--|&&|\|\||<<|>>|\*\*|//"
    r"|==|!=|<=|>=|\+=|-=|\*=|/=|%=|&=|\|=|\^=|:=|\?\?|\?\.|[^\s\w])"
)
_COMMENTS = {
    HASH: r"(?P<c>\#[^\n]*)",
    CLIKE: r"(?P<c>//[^\n]*|/\*[\s\S]*?\*/)",
    DASH: r"(?P<c>--[^\n]*|\{-[\s\S]*?-\}|/\*[\s\S]*?\*/)",
    # Unknown language: block comments, and line comments only where they start
    # a line, so that `a // b` and `#include` are not mistaken for comments.
    GENERIC: r"(?P<c>/\*[\s\S]*?\*/|(?:(?<=\n)|^)[ \t]*(?://|\#(?![a-z]))[^\n]*)",
}
_TOKEN_RE: dict[str, re.Pattern[str]] = {}  # compiled on first use: the hook needs one or two


def _token_re(syntax: str) -> re.Pattern[str]:
    """The syntax's token pattern. Group 1 is a newline: counting lines by matching them
    costs less than counting the newlines before every token."""
    pattern = _TOKEN_RE.get(syntax)
    if pattern is None:
        import re  # here, not at the top: with the accelerator a commit may need no pattern at all (~4 ms)

        pattern = re.compile("|".join((r"(\n)", _COMMENTS[syntax], _STRING, _NUMBER, _IDENT, _OP)))
        if pattern.groupindex != {"c": _COMMENT_GROUP, "s": _STRING_GROUP, "n": _NUMBER_GROUP,
                                  "i": _IDENT_GROUP, "o": _OP_GROUP}:  # tokenize() goes by number
            raise AssertionError(f"token groups moved: {pattern.groupindex}")
        _TOKEN_RE[syntax] = pattern
    return pattern


_DROPPED_OPS = frozenset({",", ";"})


class Token(NamedTuple):
    kind: int
    text: str  # normalised text for the raw stream
    first_line: int  # 0-based line numbers of the token's first and last characters
    last_line: int


class Tokens(NamedTuple):
    """The significant tokens of a text, and where each line's tokens are."""

    tokens: list[Token]  # significant tokens, in order (no comments)
    comment_lines: frozenset[int]  # lines holding (part of) a comment
    line_count: int


def syntax_for_path(path: str | None) -> str | None:
    """The comment-syntax family for a file name, or None when unknown."""
    if not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in FILENAMES:
        return FILENAMES[name]
    if "." in name:
        return EXTENSIONS.get(name.rsplit(".", 1)[1])
    return None


# The patterns below are compiled on first use (re's own cache keeps them), not on import.
_HASH_HINT = r"^[ \t]*(?:def |class \w+[(:]|import \w|from \w+ import |elif |# )"
_CLIKE_HINT = r"^[ \t]*(?://|/\*|\*/|#include|\}|function |const |let |func |public |package )"


def guess_syntax(text: str) -> str:
    """Guess the comment syntax of a text with no file name (a chat paste)."""
    import re

    hash_votes = len(re.compile(_HASH_HINT, re.M).findall(text, 0, 20000))
    clike_votes = len(re.compile(_CLIKE_HINT, re.M).findall(text, 0, 20000))
    if hash_votes > clike_votes:
        return HASH
    if clike_votes > hash_votes:
        return CLIKE
    return GENERIC


_FENCE_RE = r"^[ \t]*(```+|~~~+)[ \t]*([\w#+.-]*)[^\n]*\n([\s\S]*?)^[ \t]*\1[ \t]*$"


def code_segments(text: str, path: str | None = None) -> list[tuple[str, str]]:
    """Split model output into (syntax, code) pieces.

    Chat answers wrap code in Markdown fences; only the fenced code is code, and
    the fence tag names its language. Text without fences is taken whole.
    """
    syntax = syntax_for_path(path)
    if syntax is None and ("```" in text or "~~~" in text):
        import re

        pieces = []
        for match in re.finditer(_FENCE_RE, text, re.M):
            tag, code = match.group(2).lower(), match.group(3)
            pieces.append((FENCE_TAGS.get(tag) or guess_syntax(code), code))
        if pieces:
            return pieces
    return [(syntax or guess_syntax(text), text)]


_NEWLINE, _COMMENT_GROUP, _STRING_GROUP, _NUMBER_GROUP, _IDENT_GROUP, _OP_GROUP = range(1, 7)
_new_token = tuple.__new__  # Token(...) without the namedtuple's Python-level __new__


def tokenize_pure(text: str, syntax: str = GENERIC) -> Tokens:
    """Split code into tokens with their line numbers. Never raises on odd input.

    The reference: `tokenize` is the compiled version of this loop when it is built.
    """
    tokens: list[Token] = []
    append = tokens.append
    new, token, keywords, dropped = _new_token, Token, KEYWORDS, _DROPPED_OPS  # locals: this loop is hot
    comment_lines: set[int] = set()
    line = 0
    for match in _token_re(syntax).finditer(text):
        group = match.lastindex
        if group == 1:  # _NEWLINE
            line += 1
        elif group == 5:  # _IDENT_GROUP
            value = match.group()
            append(new(token, (KEYWORD if value in keywords else IDENT, value, line, line)))
        elif group == 6:  # _OP_GROUP
            value = match.group()
            if value not in dropped:
                append(new(token, (OP, value, line, line)))
        elif group == 4:  # _NUMBER_GROUP
            append(new(token, (NUMBER, match.group().lower().replace("_", ""), line, line)))
        elif group == 3:  # _STRING_GROUP
            value = match.group()
            last = line + value.count("\n")
            append(new(token, (STRING, _string_body(value), line, last)))
            line = last
        else:
            last = line + match.group().count("\n")
            comment_lines.update(range(line, last + 1))
            line = last
    line_count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return Tokens(tokens, frozenset(comment_lines), line_count)


_SYNTAX_CODES = {HASH: 0, CLIKE: 1, DASH: 2, GENERIC: 3}  # _speedups.c's numbering


def _tokenize_fast(text: str, syntax: str = GENERIC) -> Tokens:
    """Split code into tokens with their line numbers. Never raises on odd input."""
    tokens, comment_lines, line_count = _speedups.tokenize(text, _SYNTAX_CODES[syntax], KEYWORDS, Token)
    return Tokens(tokens, frozenset(comment_lines), line_count)


tokenize = _tokenize_fast if ACCELERATED else tokenize_pure


def _string_body(literal: str) -> str:
    body = literal.lstrip("rRbBuUfF")
    quote = 3 if body[:3] in ('"""', "'''") else 1
    return body[quote:-quote]


_RAW_PREFIX = [chr(0x10 + kind) for kind in range(COMMENT + 1)]
_ABSTRACT_TEXT = {IDENT: "\x01V", STRING: "\x01S", NUMBER: "\x01N"}


def stream_text(token: Token, stream: int) -> str:
    """The text a token contributes to a stream (kind-tagged so kinds never collide)."""
    if stream == ABSTRACT:
        if token.kind == IDENT:
            return "\x01V"
        if token.kind == STRING:
            return "\x01S"
        if token.kind == NUMBER:
            return "\x01N"
        return "\x02" + token.text
    return chr(0x10 + token.kind) + token.text


class PureHasher:
    """Keyed token and k-gram hashes; the key makes fingerprints useless without it.

    Token hashes are cached per instance, so one Hasher should serve a whole
    commit or a whole recording batch. This is the reference; `Hasher` is
    FastHasher (the same hashes, computed in C) when the accelerator is built.
    """

    def __init__(self, key: bytes):
        token_key = blake2b(key, person=b"aiguard-token", digest_size=32).digest()
        gram_key = blake2b(key, person=b"aiguard-kgram", digest_size=32).digest()
        line_key = blake2b(key, person=b"aiguard-line", digest_size=32).digest()
        self._token_key, self._gram_key = token_key, gram_key
        # Keyed states to copy: a copy costs less than setting the key up for every hash.
        self._token_state = blake2b(key=token_key, digest_size=8)
        self._gram_state = blake2b(key=gram_key, digest_size=8)
        self._line_state = blake2b(key=line_key, digest_size=LINE_HASH_BYTES)
        self._salt_state = blake2b(key=line_key, person=b"aiguard-lsalt", digest_size=LINE_SALT_BYTES)
        self._cache: dict[str, bytes] = {}

    def token_digests(self, tokens: Sequence[Token], stream: int) -> list[bytes]:
        if stream == RAW:
            texts = [_RAW_PREFIX[t.kind] + t.text for t in tokens]
        else:
            texts = [_ABSTRACT_TEXT.get(t.kind) or "\x02" + t.text for t in tokens]
        return self.text_digests(texts)

    def text_digests(self, texts: Iterable[str]) -> list[bytes]:
        """Keyed digests of stream texts (see stream_text)."""
        cache = self._cache
        copy = self._token_state.copy
        out = []
        for text in texts:
            digest = cache.get(text)
            if digest is None:
                state = copy()
                state.update(text.encode("utf-8", "surrogatepass"))
                digest = cache[text] = state.digest()
            out.append(digest)
        return out

    def span_hashes(self, digests: list[bytes], spans: Iterable[tuple[int, int]]) -> list[int]:
        """Signed 64-bit keyed hashes of token spans [start, end) (logical lines)."""
        copy = self._gram_state.copy
        out = []
        for a, b in spans:
            state = copy()
            state.update(b"".join(digests[a:b]))
            out.append(state.digest())
        return list(_unpack_signed(out))

    def line_hash(self, normal: str, salt: bytes, position: int) -> int:
        """Unsigned 32-bit keyed hash of a normalised line (normal_line) of the record with
        this salt, starting at this token position (LineHashes): the same line in another
        record, or elsewhere in the same one, hashes differently, so the stored hashes do not
        show which records or places share a line (`)`, `else:`), even to one with the key."""
        state = self._line_state.copy()
        state.update(salt + position.to_bytes(4, "little") + normal.encode("utf-8", "surrogatepass"))
        return int.from_bytes(state.digest(), "little")

    def line_salt(self, text: str) -> bytes:
        """A record's salt for its line hashes: keyed, from its whitespace-normalised text (so a
        re-recording of the same text, which is the same record, gets the same one)."""
        state = self._salt_state.copy()
        state.update(" ".join(text.split()).encode("utf-8", "surrogatepass"))
        return state.digest()

    def kgram_hashes(self, digests: list[bytes], k: int, positions: Iterable[int] | None = None) -> dict[int, int]:
        """Signed 64-bit keyed hashes of the k-grams starting at the given positions."""
        joined = b"".join(digests)
        copy = self._gram_state.copy
        if positions is None:
            positions = range(len(digests) - k + 1)
        elif not isinstance(positions, (list, range)):
            positions = list(positions)
        span = 8 * k
        out = []
        for i in positions:
            state = copy()
            state.update(joined[8 * i:8 * i + span])
            out.append(state.digest())
        return dict(zip(positions, _unpack_signed(out)))


class FastHasher(PureHasher):
    """PureHasher's hashes computed by the accelerator, over whole lists at once."""

    def __init__(self, key: bytes):
        super().__init__(key)
        self._token_caches: list[dict[str, bytes]] = [{} for _ in range(COMMENT + 3)]  # per kind; see _speedups.c

    def token_digests(self, tokens: Sequence[Token], stream: int) -> list[bytes]:
        return _speedups.token_digests(self._token_key, tokens, stream, self._token_caches)

    def text_digests(self, texts: Iterable[str]) -> list[bytes]:
        return _speedups.text_digests(self._token_key, texts, self._cache)

    def span_hashes(self, digests: list[bytes], spans: Iterable[tuple[int, int]]) -> list[int]:
        return _speedups.span_hashes(self._gram_key, digests, spans)

    def kgram_hashes(self, digests: list[bytes], k: int, positions: Iterable[int] | None = None) -> dict[int, int]:
        return _speedups.kgram_hashes(self._gram_key, digests, k, positions)


if TYPE_CHECKING:  # one type for both: FastHasher gives the same answers, faster
    Hasher = PureHasher
else:
    Hasher = FastHasher if ACCELERATED else PureHasher


def _unpack_signed(digests: list[bytes]) -> tuple[int, ...]:
    """8-byte digests as signed little-endian 64-bit integers."""
    return struct.unpack(f"<{len(digests)}q", b"".join(digests))


_OPENERS = frozenset("([")
_CLOSERS = frozenset(")]")


def logical_lines(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Token spans [start, end) of logical lines: a line, plus the lines an open ( or [ continues onto.

    So `f(a,\n  b)` is one line however a formatter wraps it. Braces do not
    join lines: in C-like languages they enclose whole blocks.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    depth = 0
    last_line = -1
    for i, t in enumerate(tokens):
        if i and depth <= 0 and t.first_line != last_line:
            spans.append((start, i))
            start = i
            depth = 0
        if t.kind == OP:
            if t.text in _OPENERS:
                depth += 1
            elif t.text in _CLOSERS:
                depth -= 1
        last_line = t.last_line
    if tokens:
        spans.append((start, len(tokens)))
    return spans


def low_complexity(digests: Sequence[bytes], i: int, k: int) -> bool:
    """True when the k-gram at i repeats with a short period (`1: 1, 2: 2`, `x.a = a` runs).

    Such k-grams occur everywhere and would make unrelated code match.
    """
    gram = digests[i:i + k]
    if len(set(gram)) > k // 2:
        return False  # a period-p k-gram has at most p distinct tokens
    for period in range(1, k // 2 + 1):
        if gram[period:] == gram[:-period]:
            return True
    return False


def winnow_pure(hashes: dict[int, int], n_grams: int, w: int) -> list[tuple[int, int]]:
    """Robust winnowing (Schleimer et al. 2003): (position, hash) pairs selected.

    `hashes` may lack masked positions; a window holding only masked positions
    selects nothing. Ties take the right-most minimum, and a minimum still in the
    window is not selected again.
    """
    selected: list[tuple[int, int]] = []
    if n_grams <= 0:
        return selected
    if n_grams < w:
        w = n_grams
    last = -1
    for start in range(n_grams - w + 1):
        best = None
        best_pos = -1
        for pos in range(start, start + w):
            value = hashes.get(pos)
            if value is not None and (best is None or value <= best):
                best, best_pos = value, pos
        if best is None:
            continue
        if last >= start and hashes[last] == best:
            continue  # robust winnowing: keep the earlier choice of an equal minimum
        if best_pos != last:
            selected.append((best_pos, best))
            last = best_pos
    return selected


# `winnow` is the accelerator's version of winnow_pure when it is built (the same selection).
winnow = _speedups.winnow if ACCELERATED else winnow_pure


def _low_complexity_mask(digests: list[bytes], k: int, n_grams: int) -> Sequence[int]:
    """low_complexity at every k-gram start (0 .. n_grams - 1), true or false."""
    if _speedups is not None:
        return _speedups.low_complexity_mask(digests, k)
    return [low_complexity(digests, i, k) for i in range(n_grams)]


class Fingerprint(NamedTuple):
    stream: int
    hash: int
    pos: int  # token position of the k-gram in the record's stream


# A k-gram with at most this many tokens off common lines is boilerplate too: one that only
# reaches the `)` or `name)` ending the line before `return 0` / `if __name__ == ...` is no
# evidence either.
COMMON_LINE_SLACK = 2

# common(kind, hashes) -> those of the hashes that are common code: kind RAW or ABSTRACT for
# k-gram hashes, LINES for logical-line hashes (see common_code.py and Ledger.key_common_code).
Common = Callable[[int, list[int]], Collection[int]]


class LineHashes(NamedTuple):
    """A record's non-blank lines, in order (a line's ordinal is its index here): where each
    starts in the record's token stream, and its keyed hash (Hasher.line_hash of normal_line,
    the record's salt and that position).

    A line's position is the number of the record's tokens that start on an earlier line, so a
    comment-only line has the position of the next token, and a line inside a multi-line
    string that of the token after the string. Positions never decrease.
    """

    salt: bytes
    positions: Sequence[int]
    hashes: Sequence[int]


NO_LINES = LineHashes(b"", (), ())


def normal_line(line: str) -> str:
    """A line without its whitespace: re-indenting a paste, or spacing it otherwise, keeps its hashes."""
    return "".join(line.split())


class Recorded(NamedTuple):
    """What the ledger stores of one piece of model output (fingerprint_record)."""

    fingerprints: list[Fingerprint]
    tokens: int  # significant tokens
    lines: LineHashes


def fingerprint_record(text: str, hasher: Hasher, path: str | None = None,
                       common: Common | None = None) -> Recorded:
    """fingerprint_text's fingerprints and token count, and the record's line hashes.

    The line hashes are what attribution checks a matched chain's neighbouring lines
    against (attribution._line_evidence): comments and the few tokens before a record's
    first stored k-gram leave no fingerprint of their own. Common code is not masked
    from them: they never make a record match, only extend one that did.
    """
    fingerprints, count, pieces = _fingerprint(text, hasher, path, common)
    salt = hasher.line_salt(text)
    positions: list[int] = []
    hashes: list[int] = []
    base = 0
    line_hash = hasher.line_hash
    for code, tokens in pieces:
        first_lines = [t.first_line for t in tokens]
        for number, line in enumerate(code.split("\n")):
            normal = normal_line(line)
            if normal:
                position = base + bisect.bisect_left(first_lines, number)
                positions.append(position)
                hashes.append(line_hash(normal, salt, position))
        base += len(tokens)
    return Recorded(fingerprints, count, LineHashes(salt, tuple(positions), tuple(hashes)))


def fingerprint_text(text: str, hasher: Hasher, path: str | None = None,
                     common: Common | None = None) -> tuple[list[Fingerprint], int]:
    """Ledger-side fingerprints of model output, and its significant token count.

    Fenced pieces are concatenated into one token stream; positions only need to
    be increasing for the matcher's chaining.

    With `common`, boilerplate is masked before winnowing, like low-complexity
    k-grams: a k-gram that is common code itself, or that lies on common logical
    lines (`import os`, `if __name__ == "__main__":`, `args = parser.parse_args()`)
    but for at most COMMON_LINE_SLACK tokens, is never stored, so boilerplate
    never matches; its windows pick another k-gram instead.
    """
    fingerprints, count, _pieces = _fingerprint(text, hasher, path, common)
    return fingerprints, count


def _fingerprint(text: str, hasher: Hasher, path: str | None,
                 common: Common | None) -> tuple[list[Fingerprint], int, list[tuple[str, list[Token]]]]:
    """fingerprint_text's work, and the code pieces with their tokens."""
    tokens: list[Token] = []
    lines: list[tuple[int, int]] = []
    pieces: list[tuple[str, list[Token]]] = []
    for syntax, code in code_segments(text, path):
        piece = tokenize(code, syntax).tokens
        pieces.append((code, piece))
        lines.extend((a + len(tokens), b + len(tokens)) for a, b in logical_lines(piece))
        tokens.extend(piece)
    boilerplate = _common_line_tokens(tokens, lines, hasher, common) if common is not None else None
    fingerprints: list[Fingerprint] = []
    for stream in STREAMS:
        k, w, _ = PARAMS[stream]
        n_grams = len(tokens) - k + 1
        if n_grams <= 0:
            continue
        digests = hasher.token_digests(tokens, stream)
        positions = [i for i, low in enumerate(_low_complexity_mask(digests, k, n_grams)) if not low
                     and (boilerplate is None or boilerplate[i + k] - boilerplate[i] < k - COMMON_LINE_SLACK)]
        hashes = hasher.kgram_hashes(digests, k, positions)
        if common is not None and hashes:
            stopped = set(common(stream, list(set(hashes.values()))))
            if stopped:
                hashes = {pos: h for pos, h in hashes.items() if h not in stopped}
        fingerprints.extend(Fingerprint(stream, h, pos) for pos, h in winnow(hashes, n_grams, w))
    return fingerprints, len(tokens), pieces


def _common_line_tokens(tokens: list[Token], lines: list[tuple[int, int]], hasher: Hasher,
                        common: Common) -> list[int] | None:
    """Prefix counts of tokens on common logical lines (None when there are none)."""
    if not tokens:
        return None
    digests = hasher.token_digests(tokens, RAW)
    line_hashes = hasher.span_hashes(digests, lines)
    found = set(common(LINES, list(set(line_hashes))))
    if not found:
        return None
    flags = [0] * len(tokens)
    for (a, b), value in zip(lines, line_hashes):
        if value in found:
            flags[a:b] = [1] * (b - a)
    counts = [0]
    for flag in flags:
        counts.append(counts[-1] + flag)
    return counts


# Comments and string literals alone, for hunk-scoped matching (attribution._Literals): the
# token pattern's comment and string alternatives, the string prefix left out (it does not
# change where a literal ends), and the `//` operator, which is one token where `//` does
# not start a comment (`//*` is not a block comment there). No other token kind holds a
# quote or a comment opener, and no other operator ends in the first character of one, so
# the literals found are the tokenizer's (tests/core/test_hunk_windows.py checks this).
_LITERAL_RE: dict[str, re.Pattern[str]] = {}
_STRING_BODY = _STRING.replace("(?P<s>[rRbBuUfF]{0,2}", "(?:", 1)
# What opens a literal that can span lines, per syntax: only these make a line start
# fall inside a token.
MULTILINE_OPENERS = {
    HASH: ('"""', "'''", "`"),
    CLIKE: ('"""', "'''", "`", "/*"),
    DASH: ('"""', "'''", "`", "{-", "/*"),
    GENERIC: ('"""', "'''", "`", "/*"),
}


def literal_pattern(syntax: str) -> re.Pattern[str]:
    """The syntax's comments and string literals (string prefixes excluded), and `//` (group 1)."""
    pattern = _LITERAL_RE.get(syntax)
    if pattern is None:
        import re

        comments = _COMMENTS[syntax].replace("(?P<c>", "(?:", 1)
        pattern = _LITERAL_RE[syntax] = re.compile(f"{comments}|{_STRING_BODY}|(//)")
    return pattern
