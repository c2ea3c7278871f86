"""Which added lines of a file derive from recorded model output. Pure: no I/O.

The query side hashes every k-gram that touches an added line (the ledger side
only kept winnowed ones), looks them up, and per record and per occurrence of it
keeps the longest chain of hits that is in order on both sides. A record counts
when a chain covers enough tokens; covered tokens are then projected onto lines.
Inside a matched chain, lines inserted between two hits are located and confirmed
against the ledger, and the copied rest of that gap is covered too
(_insertion_fills); likewise above its first hit and below its last
(_end_candidates), the rest of its first (last) line when that line opens (closes)
a hunk (_hunk_edges), and the added lines around its ends that hash as the record's own
neighbouring lines (_line_evidence). Only the added lines and CONTEXT_TOKENS around them are
tokenised, in windows that start and end outside comments and strings, so a hunk
that starts inside a docstring tokenises as in the whole file (matching.md
section 2) and a one-line edit costs the same in a large file as in a small one.
"""

from __future__ import annotations

import bisect
import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from aiguard.core.fingerprint import (
    IDENT,
    MULTILINE_OPENERS,
    NO_LINES,
    NUMBER,
    PARAMS,
    RAW,
    STREAMS,
    STRING,
    Hasher,
    LineHashes,
    Token,
    guess_syntax,
    literal_pattern,
    low_complexity,
    normal_line,
    stream_text,
    syntax_for_path,
    tokenize,
)
from aiguard.core.spans import line_runs
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

# A fingerprint found in more records than this is common code, not evidence
# (MOSS's -m option; matching.md uses 20).
DF_CAP = 20
# A line is attributed when at least this share of its tokens is covered.
LINE_SHARE = 0.5
# An abstract chain must cover at least this share of the query tokens it spans: scattered
# pieces of shape (`V.V(S, V=S)` runs that an options parser and a test's set-up share)
# add up to min_tokens over a long stretch without being a renamed copy.
ABSTRACT_DENSITY = 0.4  # benchmarks/README.md, "Hunk-scoped matching and context"
# Tokens a chain probably covers past its first and last hit count only on lines
# that hits alone already cover this much of.
EXTEND_SHARE = 0.4

# lookup(stream, hashes) -> {hash: [(record_id, position), ...]}; the hashes are distinct, a
# list, or with the accelerator a memoryview of int64s (_query_hashes)
Lookup = Callable[[int, Sequence[int]], Mapping[int, list[tuple[int, int]]]]
# record_lines(records) -> {record: its LineHashes}; a record without line hashes (recorded
# before the ledger kept them) is left out.
RecordLines = Callable[[Iterable[int]], Mapping[int, LineHashes]]
# The indices of the tokens on added lines (_touching), or their mask (_index_mask of them:
# 1 byte per token), which _query_hashes and _line_tokens take alike.
Touching = list[int] | bytearray
# {position: hash} of a query's k-grams (_query_hashes), or the accelerator's packed bytes of
# them, which only its hits_per_record reads: the two are swapped in and out together.
QueryHashes = dict[int, int] | bytes
# (stream, covered tokens that count towards min_tokens, record, covered, extension) of a
# matched chain (attribute_text)
_Chain = tuple[int, int, int, set[int], set[int]]
if TYPE_CHECKING:
    _T = TypeVar("_T")


class RecordInfo(NamedTuple):
    tool: str
    model: str
    source: str
    tokens: int  # significant tokens in the recorded text


class Range(NamedTuple):
    start: int  # 1-based, inclusive, in the new version of the file
    end: int
    record: int


def attribute_text(
    text: str,
    added_lines: Iterable[int],
    hasher: Hasher,
    lookup: Lookup,
    record_tokens: Callable[[Iterable[int]], Mapping[int, int]],
    path: str | None = None,
    whole_file: bool = False,
    record_lines: RecordLines | None = None,
) -> dict[int, int]:
    """Map the added lines (1-based) of `text` that derive from a record to that record's id.

    Only the added lines and CONTEXT_TOKENS around them are tokenised (_window_tokens);
    whole_file tokenises all of `text`, with the same result (the reference for tests).
    With record_lines, the lines next to a matched chain's ends that are the record's own
    (by the records' line hashes) go to it as well (_line_evidence).
    """
    # The cycle collector is paused while matching: it makes many short-lived containers
    # (hits, chains, coverage sets) and no garbage cycles in the accelerated code, and the
    # collector's passes over the live ones were ~10 % of its time on text with many
    # matches (benchmarks/README.md, "Fourth round"). Re-enabled after, so whatever
    # piled up is collected then.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _attribute_text(text, added_lines, hasher, lookup, record_tokens, path, whole_file, record_lines)
    finally:
        if was_enabled:
            gc.enable()


def _attribute_text(text: str, added_lines: Iterable[int], hasher: Hasher, lookup: Lookup,
                    record_tokens: Callable[[Iterable[int]], Mapping[int, int]], path: str | None,
                    whole_file: bool, record_lines: RecordLines | None = None) -> dict[int, int]:
    added = {line - 1 for line in added_lines}
    if not added:
        return {}
    syntax = syntax_for_path(path) or guess_syntax(text)
    line_count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if whole_file:
        tokens = tokenize(text, syntax).tokens
        touching = _touching(tokens, added)
    else:
        tokens, touching = _windows(text, syntax, added, line_count)
    if not touching:
        return _fill_tokenless({}, added, set(), line_count)

    token_lines = _first_lines(tokens)
    on_added = _index_mask(touching, len(tokens))  # 1 for the tokens of added lines: only they can be a paste's
    # From here on the mask stands for the touching indices (the helpers take either): a huge
    # file's millions of them as Python ints were its largest list after the tokens.
    del touching
    chains: list[_Chain] = []
    tokenless: dict[int, int] = {}  # comment-only lines the records' line hashes give to a record
    for stream in STREAMS:
        k, w, _ = PARAMS[stream]
        n_grams = len(tokens) - k + 1
        if n_grams <= 0:
            continue
        digests = hasher.token_digests(tokens, stream)
        # No low-complexity mask here: it depends only on a k-gram's tokens, so the
        # ledger never holds a masked k-gram and looking one up just finds nothing,
        # which costs less than checking every k-gram.
        hashes, distinct = _query_hashes(hasher, digests, k, on_added, n_grams)
        found = lookup(stream, distinct)
        per_record = _hits_per_record(hashes, found, DF_CAP)
        lengths = record_tokens(per_record) if per_record else {}
        matched = _matched_chains(per_record, lengths, stream, token_lines, found, tokens)
        # Inserted lines found inside a matched chain leave the rest of its gap to it. The
        # fill does not count towards min_tokens: it never makes a record match. Raw stream
        # only: abstract k-grams (V = V . V) are too alike to confirm where lines were cut.
        fills = _insertion_fills(matched, tokens, digests, k, hasher, stream, lookup,
                                 ends=(w, lengths, per_record), looked=_starts_mask(on_added, k, n_grams),
                                 on_added=on_added) if matched and stream == RAW else {}
        # Dropped as soon as they are used, not when the next stream's replace them: on a
        # huge file each of these is hundreds of MB.
        del digests, hashes, distinct, found, per_record
        own_lines = record_lines({record for record, *_ in matched}) if matched and stream == RAW and record_lines else {}
        query_lines = _QueryLines(text, hasher) if own_lines else None
        for record, chain, covered, extension in matched:
            count = len(covered)
            covered |= fills.get(record, set())
            if stream == RAW:  # like the fills: never towards min_tokens
                covered.update(_hunk_edges(chain, k, w, lengths.get(record, 0), on_added, tokens, token_lines))
                if query_lines is not None:
                    positions, lines = _line_evidence(chain, k, own_lines.get(record, NO_LINES), query_lines,
                                                      added, token_lines)
                    covered.update(positions)
                    for line in lines:
                        tokenless.setdefault(line, record)
            chains.append((stream, count, record, covered, extension - covered))
        del matched, fills, lengths

    del token_lines  # the rest needs neither it nor, after line_tokens, the tokens: a huge file's go before the votes
    line_tokens = _line_tokens(tokens, on_added, added)
    n_tokens = len(tokens)
    del tokens, on_added
    result = _chain_owners(chains, line_tokens, n_tokens, EXTEND_SHARE, LINE_SHARE)
    for line, record in tokenless.items():
        if line not in line_tokens:
            result.setdefault(line, record)
    return _fill_tokenless(result, added, set(line_tokens), line_count)


def _chain_owners(chains: list[_Chain], line_tokens: dict[int, list[int]], n_tokens: int,
                  extend_share: float, line_share: float) -> dict[int, int]:
    """{line: record}: each token goes to the first chain that covers it (or extends onto
    it), identifier-preserving chains first, then the longest; then each line to the
    record most of its tokens go to (_line_owners). Positions lie in [0, n_tokens)."""
    owner: dict[int, int] = {}
    extended: dict[int, int] = {}
    # Identifier-preserving matches first, then the longest: they are the most specific.
    for _stream, _count, record, covered, extension in sorted(chains, key=lambda c: (c[0] != RAW, -c[1], c[2])):
        for pos in covered:
            owner.setdefault(pos, record)
        for pos in extension:
            extended.setdefault(pos, record)
    return _line_owners(line_tokens, owner, extended, extend_share, line_share)


def _first_lines(tokens: list[Token]) -> list[int]:
    """The first line of each token."""
    return [t.first_line for t in tokens]


def _index_mask(indices: Iterable[int], n: int) -> bytearray:
    """n bytes, 1 at each of the indices (all in [0, n))."""
    mask = bytearray(max(0, n))
    for j in indices:
        mask[j] = 1
    return mask


def _hunk_edges(chain: list[tuple[int, int]], k: int, w: int, record_len: int, on_added: bytearray,
                tokens: list[Token], token_lines: list[int]) -> list[int]:
    """Query positions of the uncovered rest of a chain's first (last) line when that line
    is the first (last) of a hunk.

    Winnowing stores one k-gram in every w, so a paste that starts (ends) inside the record
    has up to w - 1 tokens before its first hit (after its last) that only their count
    vouches for (_coverage's extension); on a line the hits cover less than EXTEND_SHARE
    of, the line was lost. When the line opens (closes) a hunk, an unchanged line beyond
    it, its tokens before the first hit (after the last) are the record's, provided the
    record has that many there and the hit's tokens on the line hold more than operators
    and keywords: a line typed above a paste may well end in the `)` or `:` that the
    record's line before the paste ends in, and a k-gram from there on is then found.
    Whole lines without a hit are never claimed by their count: a line typed next to a
    paste looks the same (benchmarks/README.md, "Hunk edges"); _line_evidence claims them
    by the record's line hashes. File edges are not hunk edges here: in a
    new file the paste's neighbours are added lines too.
    """
    claimed: list[int] = []
    q1, r1 = chain[0]
    a = q1  # the first token of the first hit's line
    while a > 0 and token_lines[a - 1] == token_lines[q1]:
        a -= 1
    line_end = bisect.bisect_right(token_lines, token_lines[q1], q1)
    if (a > 0 and not on_added[a - 1] and 0 < q1 - a < w and r1 >= q1 - a
            and _has_content(tokens, range(q1, min(q1 + k, line_end)))):
        claimed.extend(range(a, q1))
    q2, r2 = chain[-1]
    end = q2 + k
    b = end  # one past the last token of the last hit's last line
    while b < len(tokens) and token_lines[b] == token_lines[end - 1]:
        b += 1
    line_start = bisect.bisect_left(token_lines, token_lines[end - 1], 0, end)
    if (b < len(tokens) and not on_added[b] and 0 < b - end < w and record_len - r2 - k >= b - end
            and _has_content(tokens, range(max(q2, line_start), end))):
        claimed.extend(range(end, b))
    return claimed


class _QueryLines:
    """The query text's lines, normalised (normal_line), on demand; "" for a blank line."""

    def __init__(self, text: str, hasher: Hasher):
        self.offsets = _LineOffsets(text)
        self.hasher = hasher
        self.normal: dict[int, str] = {}

    def text(self, line: int) -> str:
        normal = self.normal.get(line)
        if normal is None:
            offsets = self.offsets
            normal = self.normal[line] = normal_line(offsets.text[offsets.offset(line):offsets.offset(line + 1)])
        return normal

    def equal(self, line: int, own: LineHashes, ordinal: int) -> bool:
        """Whether the line hashes as the record's line at this ordinal."""
        return self.hasher.line_hash(self.text(line), own.salt, own.positions[ordinal]) == own.hashes[ordinal]


def _line_evidence(chain: list[tuple[int, int]], k: int, own: LineHashes, lines: _QueryLines,
                   added: set[int], token_lines: list[int]) -> tuple[list[int], list[int]]:
    """(query positions, tokenless lines) of the record's own lines at a raw chain's two ends.

    The line of the chain's first hit, and then each added line above it (the line of its
    last hit's last token, and each added line below), is the record's when its keyed hash
    equals that of the record's line at exactly the place the hit puts it: the first line
    at the token position the hit maps the line's start to, each next one at the record's
    adjacent ordinal and its own mapped start. The first line that differs, an unchanged
    line (a hunk's edge) or the record's own edge stops the walk; blank added lines are
    stepped over (the record's are not hashed). So the few tokens before the record's first
    stored k-gram (after its last: `)`, `else:`), the rest of a line a hit covers 1-3
    tokens of, and comment-only lines come with the paste, while a line typed next to it
    does only when it is the record's neighbouring line itself (benchmarks/README.md,
    "Line evidence"). Only next to a chain that matched: it never makes a record match.
    """
    _salt, positions, hashes = own
    claimed: list[int] = []
    tokenless: list[int] = []
    if not hashes:
        return claimed, tokenless
    for q, r, step in ((chain[0][0], chain[0][1], -1), (chain[-1][0], chain[-1][1], 1)):
        line = token_lines[q] if step < 0 else token_lines[q + k - 1]
        delta = r - q  # record position of a query position, while the two agree
        if line not in added:
            continue
        start = bisect.bisect_left(token_lines, line)
        ordinal = -1
        for n in range(bisect.bisect_left(positions, start + delta), bisect.bisect_right(positions, start + delta)):
            if lines.equal(line, own, n):
                ordinal = n
                if step > 0:
                    break
        while ordinal >= 0:
            end = bisect.bisect_left(token_lines, line + 1, start)
            if end > start:
                claimed.extend(range(start, end))
            else:
                tokenless.append(line)
            line += step
            while line in added and not lines.text(line):
                line += step
            ordinal += step
            if line not in added or not 0 <= ordinal < len(hashes):
                break
            start = bisect.bisect_left(token_lines, line)
            if positions[ordinal] != start + delta or not lines.equal(line, own, ordinal):
                break
    return claimed, tokenless


def _has_content(tokens: list[Token], positions: range) -> bool:
    """Whether an identifier, number or string is among these tokens."""
    return any(tokens[i].kind in (IDENT, NUMBER, STRING) for i in positions)


def _hits_per_record(hashes: QueryHashes, found: Mapping[int, list[tuple[int, int]]],
                     df_cap: int) -> dict[int, list[tuple[int, int]]]:
    """{record: [(query position, record position), ...]} of the hashes found in at most df_cap records."""
    if isinstance(hashes, bytes):
        raise TypeError("packed hashes are read by the accelerator's hits_per_record only")
    # Query positions of the hashes found (few): one pass in a comprehension, not a dict of all.
    by_hash: dict[int, list[int]] = defaultdict(list)
    for pos, value in [item for item in hashes.items() if item[1] in found]:
        by_hash[value].append(pos)
    per_record: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for value, hits in found.items():
        if len({record for record, _ in hits}) > df_cap:
            continue
        for qpos in by_hash[value]:
            for record, rpos in hits:
                per_record[record].append((qpos, rpos))
    return per_record


def _line_owners(line_tokens: dict[int, list[int]], owner: dict[int, int], extended: dict[int, int],
                 extend_share: float, line_share: float) -> dict[int, int]:
    """{line: record} for the lines whose tokens a record owns (see attribute_text)."""
    result: dict[int, int] = {}
    for line, idx in line_tokens.items():
        owners = [owner[i] for i in idx if i in owner]
        if len(owners) >= extend_share * len(idx):
            owners += [extended[i] for i in idx if i not in owner and i in extended]
        if owners and len(owners) >= line_share * len(idx):
            result[line] = Counter(owners).most_common(1)[0][0]
    return result


def _line_tokens(tokens: list[Token], touching: Touching, added: set[int]) -> dict[int, list[int]]:
    """{line: [token index, ...]}: the touching tokens on each added line (0-based)."""
    line_tokens: dict[int, list[int]] = defaultdict(list)
    for i in _indices(touching):
        t = tokens[i]
        for line in range(t.first_line, t.last_line + 1):
            if line in added:
                line_tokens[line].append(i)
    return line_tokens


# Hunk-scoped matching (_window_tokens): the added lines are tokenised with at least this
# many tokens of context on each side, or up to the file's edge. Nothing reaches further from
# a hit: end placements (_end_candidates) look MAX_GAP_TOKENS + MAX_END_INSERTED + k tokens
# past a chain, coverage w + k; and hits of two windows are more than OCCURRENCE_GAP apart
# either way, so they never share a chain. The result is the whole file's.
CONTEXT_TOKENS = 320
CONTEXT_LINES = 64  # first guess of the lines that hold CONTEXT_TOKENS; quadrupled until they do


def _touches(t: Token, added: set[int]) -> bool:
    return t.first_line in added or (t.last_line != t.first_line and not added.isdisjoint(
        range(t.first_line + 1, t.last_line + 1)))


def _touching(tokens: list[Token], added: set[int]) -> list[int]:
    """Indices of the tokens on an added line."""
    return [i for i, t in enumerate(tokens) if _touches(t, added)]


def _indices(touching: Touching) -> list[int]:
    """The touching indices, from their list or their mask (_index_mask of them)."""
    if isinstance(touching, list):
        return touching
    return [i for i, flag in enumerate(touching) if flag]


def _query_hashes(hasher: Hasher, digests: list[bytes], k: int, touching: Touching,
                  n_grams: int) -> tuple[QueryHashes, Sequence[int]]:
    """{position: hash} of the k-grams that hold a touching token, and the distinct hashes in order."""
    hashes = hasher.kgram_hashes(digests, k, _starts_touching(_indices(touching), k, n_grams))
    return hashes, list(dict.fromkeys(hashes.values()))


def _window_tokens(text: str, syntax: str, added: set[int], line_count: int) -> list[Token]:
    """The tokens of the windows around the added lines, in order, with their file line numbers (_windows)."""
    return _windows(text, syntax, added, line_count)[0]


def _windows(text: str, syntax: str, added: set[int], line_count: int) -> tuple[list[Token], list[int]]:
    """The tokens of the windows around the added lines, in order, with their file line numbers,
    and the indices of those on an added line (_touching of them).

    A window is a run of added lines with CONTEXT_TOKENS of context either side, cut at
    line starts outside any comment or string (_Literals), so it tokenises as in the whole
    file; windows that touch are merged. Token positions then differ from the whole file's
    only by the tokens left out between windows, which no step looks across.
    """
    runs: list[list[int]] = []
    ordered = sorted(added)
    for line in ordered[bisect.bisect_left(ordered, 0):bisect.bisect_left(ordered, line_count)]:
        if runs and line == runs[-1][1] + 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    if not runs:
        return [], []
    lines = _LineOffsets(text)
    literals = _Literals(text, syntax, lines, line_count)
    margins = [[CONTEXT_LINES, CONTEXT_LINES] for _ in runs]
    cache: dict[tuple[int, int], list[Token]] = {}
    while True:
        spans = sorted((literals.safe_before(max(0, a - up)), literals.safe_after(min(line_count, b + 1 + down)), n)
                       for n, ((a, b), (up, down)) in enumerate(zip(runs, margins)))
        windows: list[tuple[int, int, list[int]]] = []  # (first line, end line (exclusive), runs)
        for start, end, n in spans:
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], end), windows[-1][2] + [n])
            else:
                windows.append((start, end, [n]))
        out: list[Token] = []
        out_touching: list[int] = []
        grown = False
        for start, end, members in windows:
            window = cache.get((start, end))
            if window is None:
                window = cache[start, end] = _tokenize_lines(text, syntax, lines, start, end)
            touching = _touching(window, added)
            for side, short, edge in ((0, touching and touching[0] < CONTEXT_TOKENS, start > 0),
                                      (1, touching and len(window) - 1 - touching[-1] < CONTEXT_TOKENS,
                                       end < line_count)):
                if short and edge:
                    for n in members:
                        margins[n][side] *= 4
                    grown = True
            if len(windows) == 1:  # the usual case, and a huge new file's: its lists as they are, not copied
                out, out_touching = window, touching
            else:
                base = len(out)
                out_touching.extend([i + base for i in touching] if base else touching)
                out.extend(window)
            del touching
        if not grown:
            return out, out_touching


def _tokenize_lines(text: str, syntax: str, lines: _LineOffsets, start: int, end: int) -> list[Token]:
    """Tokens of lines [start, end), which begin and end outside any comment or string."""
    tokens = tokenize(text[lines.offset(start):lines.offset(end)], syntax).tokens
    if not start:
        return tokens
    new = tuple.__new__
    return [new(Token, (t.kind, t.text, t.first_line + start, t.last_line + start)) for t in tokens]


class _LineOffsets:
    """Where lines start in a text, counted on demand (C-speed str.count over the text once)."""

    def __init__(self, text: str):
        self.text = text
        self.lines = [0]  # known (line, offset) pairs, ascending
        self.offsets = [0]

    def offset(self, line: int) -> int:
        """Offset of the start of 0-based `line` (the text's length past its last line)."""
        i = bisect.bisect_right(self.lines, line) - 1
        known, lo = self.lines[i], self.offsets[i]
        need = line - known  # newlines to pass from lo
        if not need:
            return lo
        text = self.text
        hi = len(text) if i + 1 == len(self.offsets) else self.offsets[i + 1]
        while hi - lo > 4096:
            mid = (lo + hi) // 2
            count = text.count("\n", lo, mid)
            if count >= need:
                hi = mid
            else:
                need -= count
                lo = mid
        pos = lo
        for _ in range(need):
            pos = text.find("\n", pos, hi) + 1
            if not pos:
                return len(text)
        self._remember(line, pos)
        return pos

    def line_of(self, offset: int) -> int:
        """The 0-based line holding `offset`."""
        i = bisect.bisect_right(self.offsets, offset) - 1
        line = self.lines[i] + self.text.count("\n", self.offsets[i], offset)
        return line

    def _remember(self, line: int, offset: int) -> None:
        i = bisect.bisect_left(self.lines, line)
        if i == len(self.lines) or self.lines[i] != line:
            self.lines.insert(i, line)
            self.offsets.insert(i, offset)


class _Literals:
    """Comments and string literals that span lines, found from the file's start on demand.

    Only the places where such a literal may open are examined (MULTILINE_OPENERS,
    found with str.find): at each, the literals of its line are scanned from a point
    known to be outside any, which tells whether one opens there and where it ends.
    A file without an opener costs nothing; a Python file costs a scan of the lines
    holding docstring quotes.
    """

    def __init__(self, text: str, syntax: str, lines: _LineOffsets, line_count: int):
        self.text = text
        self.lines = lines
        self.line_count = line_count
        self.syntax = syntax  # its literal_pattern is compiled when an opener is first met (often never)
        self.next_at = {opener: -1 for opener in MULTILINE_OPENERS[syntax]}  # next occurrence at or after pos
        self.starts: list[int] = []  # spans [start, end) of multi-line literals, ascending
        self.ends: list[int] = []
        self.pos = 0  # outside every literal; every multi-line literal starting before it is known
        self.done = False  # no opener at or after pos

    def _scan_to(self, offset: int) -> None:
        """Know every multi-line literal that starts before offset."""
        text = self.text
        while not self.done:
            candidate = len(text)
            for opener, at in self.next_at.items():
                if 0 <= at < self.pos or at == -1:
                    at = self.next_at[opener] = text.find(opener, self.pos)
                    if at < 0:
                        at = self.next_at[opener] = len(text)
                candidate = min(candidate, at)
            if candidate >= len(text):
                self.done = True
                return
            if candidate >= offset:
                return
            # The candidate's line start (or pos, if later) is outside every literal: nothing
            # between pos and the candidate opens a multi-line one.
            start = max(self.pos, text.rfind("\n", 0, candidate) + 1)
            for match in literal_pattern(self.syntax).finditer(text, start):
                begin, end = match.span()
                if begin > candidate:  # the candidate is in no literal: an operator or unmatched quote
                    self.pos = begin
                    break
                if end > candidate:  # the literal that holds the candidate, or opens there
                    if text.find("\n", begin, end) >= 0:
                        self.starts.append(begin)
                        self.ends.append(end)
                    self.pos = end
                    break
            else:
                self.done = True  # no literal from the candidate on: an unmatched quote at the end
                return

    def _span_over(self, line: int) -> int | None:
        """Index of the literal that line's start falls inside, if any."""
        if line <= 0 or line >= self.line_count:
            return None
        offset = self.lines.offset(line)
        self._scan_to(offset)
        i = bisect.bisect_left(self.starts, offset) - 1
        return i if i >= 0 and self.ends[i] > offset else None

    def safe_before(self, line: int) -> int:
        """The nearest line at or above `line` that starts outside every literal."""
        while (i := self._span_over(line)) is not None:
            line = self.lines.line_of(self.starts[i])
        return line

    def safe_after(self, line: int) -> int:
        """The nearest line at or below `line` that starts outside every literal."""
        while (i := self._span_over(line)) is not None:
            line = self.lines.line_of(self.ends[i] - 1) + 1
        return line


def _starts_mask(on_added: bytearray, k: int, n_grams: int) -> bytearray:
    """n_grams bytes, 1 at the start of each k-gram that holds a token of an added line
    (on_added: 1 per such token): _starts_touching's positions as a mask, made run by run
    with bytearray.find, so that a huge file's millions of starts are never Python ints."""
    mask = bytearray(max(0, n_grams))
    pos = 0
    while True:
        a = on_added.find(1, pos)
        if a < 0:
            return mask
        b = on_added.find(0, a)
        if b < 0:
            b = len(on_added)
        lo, hi = max(0, a - k + 1), min(b, n_grams)  # the starts whose k-gram reaches into [a, b)
        if lo < hi:
            mask[lo:hi] = b"\x01" * (hi - lo)
        pos = b


def _starts_touching(touching: list[int], k: int, n_grams: int) -> list[int]:
    """Start positions of the k-grams that contain at least one of the (sorted) tokens."""
    starts: list[int] = []
    run_start: int | None = None
    run_end = -2  # the last token of the current run (meaningless while run_start is None)
    for i in touching:
        if run_start is not None and i == run_end + 1:
            run_end = i
            continue
        if run_start is not None:
            starts.extend(range(max(run_start - k + 1, starts[-1] + 1 if starts else 0), min(run_end, n_grams - 1) + 1))
        run_start = run_end = i
    if run_start is not None:
        starts.extend(range(max(run_start - k + 1, starts[-1] + 1 if starts else 0), min(run_end, n_grams - 1) + 1))
    return starts


# A comment or blank line between two lines of one record belongs to it even when up to this
# many unattributed code lines (lines someone inserted into the paste) stand between them.
TOKENLESS_SKIP = 1


def _fill_tokenless(result: dict[int, int], added: set[int], with_tokens: set[int], line_count: int) -> dict[int, int]:
    """Blank and comment-only added lines inside an attributed run belong to it.

    Inside means: the nearest attributed lines above and below, reached over added lines
    only, belong to the same record, with at most TOKENLESS_SKIP unattributed code lines
    on the way (an edited paste: the comments between its lines are still the model's).
    """
    filled = dict(result)

    def reach(line: int, step: int) -> int | None:
        skipped = 0
        line += step
        while line in added and 0 <= line < line_count:
            if line in result:
                return result[line]
            if line in with_tokens:
                skipped += 1
                if skipped > TOKENLESS_SKIP:
                    return None
            line += step
        return None

    for line in sorted(added - with_tokens):
        above = reach(line, -1)
        if above is not None and above == reach(line, 1):
            filled[line] = above
    return {line + 1: record for line, record in filled.items()}




def _occurrences(pairs: list[tuple[int, int]], evaluate: Callable[[list[tuple[int, int]]], bool]) -> None:
    """Give evaluate() the chains of one record's hits, one per occurrence.

    The hits are split where the query positions are more than OCCURRENCE_GAP apart;
    in each part the longest chain is taken, and when evaluate() accepts it (it covers
    enough), the hits before and after its query span are chained again the same way:
    a copy of the record close to another one is found too.
    """
    pairs = sorted(set(pairs))
    parts: list[list[tuple[int, int]]] = []
    start = 0
    for n in range(1, len(pairs) + 1):
        if n == len(pairs) or pairs[n][0] - pairs[n - 1][0] > OCCURRENCE_GAP:
            if n - start >= 2:
                parts.append(pairs[start:n])
            start = n
    while parts:
        part = parts.pop(0)
        chain = _longest_chain(part)
        if len(chain) < 2 or not evaluate(chain):
            continue
        first, last = chain[0][0], chain[-1][0]
        before = [p for p in part if p[0] < first]
        after = [p for p in part if p[0] > last]
        parts[:0] = [side for side in (before, after) if len(side) >= 2]


def _longest_chain(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest chain of hits increasing in both query and record position (LIS)."""
    # Sort by query position, and within one query position by decreasing record
    # position, so that a strictly increasing subsequence uses each query k-gram once.
    pairs = sorted(set(pairs), key=lambda p: (p[0], -p[1]))
    tails: list[int] = []  # smallest record position ending a chain of each length
    tail_index: list[int] = []
    previous = [-1] * len(pairs)
    for n, (_q, r) in enumerate(pairs):
        j = bisect.bisect_left(tails, r)
        if j == len(tails):
            tails.append(r)
            tail_index.append(n)
        else:
            tails[j] = r
            tail_index[j] = n
        previous[n] = tail_index[j - 1] if j else -1
    chain = []
    n = tail_index[-1] if tail_index else -1
    while n >= 0:
        chain.append(pairs[n])
        n = previous[n]
    chain.reverse()
    return chain


def _coverage(chain: list[tuple[int, int]], k: int, w: int, record_len: int,
              token_lines: list[int]) -> tuple[set[int], set[int]]:
    """Query token positions covered by a chain of k-gram hits, and a likely extension.

    Winnowing keeps one k-gram in every w, so a copied run can start up to w-1
    tokens before the first hit of a segment and end up to w-1 after its last.
    The extension reaches that far, but never past what the record holds and
    never onto another line; it only counts on lines that hits already cover
    well (see attribute_text), so a human line whose last token happens to open
    a hit is not pulled in.
    """
    covered: set[int] = set()
    extension: set[int] = set()
    segment_start = 0
    query_len = len(token_lines)
    for n in range(1, len(chain) + 1):
        if n < len(chain):
            (q0, r0), (q1, r1) = chain[n - 1], chain[n]
            if q1 - q0 <= w + k and r1 - r0 <= w + k:
                continue
        first_q, first_r = chain[segment_start]
        last_q, last_r = chain[n - 1]
        for q, _r in chain[segment_start:n]:
            covered.update(range(q, q + k))
        # The record's own start (or end) within reach, landing exactly on a line
        # boundary of the query: the paste starts (ends) there; covered. Else the
        # probable rest of the boundary lines: an extension (see attribute_text).
        start = first_q - first_r
        if first_r < w and start >= 0 and (start == 0 or token_lines[start - 1] != token_lines[start]):
            covered.update(range(start, first_q))
        else:
            for pos in range(first_q - 1, max(-1, first_q - w), -1):
                if token_lines[pos] != token_lines[first_q]:
                    break
                extension.add(pos)
        end = last_q + k  # first position after the segment
        left = max(0, record_len - k - last_r)  # record tokens after the segment
        stop = end + left
        if left < w and stop <= query_len and (stop == query_len or token_lines[stop] != token_lines[stop - 1]):
            covered.update(range(end, stop))
        else:
            for pos in range(end, min(query_len, end + min(w - 1, left))):
                if token_lines[pos] != token_lines[end - 1]:
                    break
                extension.add(pos)
        segment_start = n
    return covered, extension - covered


# Gap accounting (_insertion_fills). Consecutive hits (q1, r1), (q2, r2) of a chain with
# q2 - q1 > r2 - r1 mean that q2 - q1 - (r2 - r1) tokens were inserted between them. The
# insertion is looked for among whole lines between the hits' k-grams.
MAX_GAP_TOKENS = 200  # longer gaps are not examined
MAX_RUNS = 4  # inserted runs of whole lines in one gap or at a chain's end (short copied pieces between them)
# A gap is also searched with up to this many runs, where _CopiedPieces rules out most
# placements (interleaved human lines, one every 3 copied lines; benchmarks/README.md,
# "Partial and interleaved pastes in big files"); those count only when no placement of
# MAX_RUNS runs is confirmed. Mixed in at once, the extra candidates turned gaps that had
# one confirmed placement ambiguous (the CI gate's interleaved recall fell 83.8 -> 83.0 %).
MAX_GAP_RUNS = 8
MAX_CANDIDATES = 48  # more ways to place the insertion than this: ambiguous, not examined
MAX_STEPS = 4000  # search budget per gap (_placements), about a millisecond

# (record, chain, covered, extension) of an occurrence of a record that matches (_matched_chains)
_Matched = tuple[int, list[tuple[int, int]], set[int], set[int]]

# A raw chain covering fewer than min_tokens (25) but at least this many tokens matches
# when every hit of it is a k-gram no other record holds: a short partial paste (a few
# lines of a recorded function) is specific to its record, an idiom two records share is
# not (benchmarks/README.md, "Short windows").
SHORT_MIN_TOKENS = 20
# ... but not when more than this share of its covered tokens lies on lines that repeat
# one statement with only its literals changed (`text = text.replace("&", "&amp;")`,
# then "<", then ">"): such a run is an idiom even when one record alone holds it.
# Identifiers are kept: abstracted too, `self.url = url` runs, dataclass fields and
# keyword arguments, which partial pastes are made of, went with it (benchmarks/README.md,
# "Short windows"). Rows of literals alone (a table of numbers) are data, not an idiom.
IDIOM_SHARE = 0.5
_LITERAL = "\x01L"  # a string or number in an idiom shape (_idiom_run)


def _sole_hits(found: Mapping[int, list[tuple[int, int]]]) -> set[tuple[int, int]]:
    """(record, position) of the hits whose hash no other record holds."""
    sole: set[tuple[int, int]] = set()
    for hits in found.values():
        if len({record for record, _pos in hits}) == 1:
            sole.update(hits)
    return sole


def _idiom_run(covered: set[int], tokens: list[Token], token_lines: list[int]) -> bool:
    """Whether most covered tokens lie on lines repeating one statement (see IDIOM_SHARE)."""
    per_line = Counter(token_lines[pos] for pos in covered)
    shapes: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for line in per_line:
        line_tokens = tokens[bisect.bisect_left(token_lines, line):bisect.bisect_right(token_lines, line)]
        if any(t.kind == IDENT for t in line_tokens):
            shapes[tuple(_LITERAL if t.kind in (STRING, NUMBER) else stream_text(t, RAW)
                         for t in line_tokens)].append(line)
    repeated = max((sum(per_line[line] for line in lines) for lines in shapes.values() if len(lines) > 1),
                   default=0)
    return repeated > IDIOM_SHARE * len(covered)


def _matched_chains(per_record: Mapping[int, list[tuple[int, int]]], lengths: Mapping[int, int], stream: int,
                    token_lines: list[int], found: Mapping[int, list[tuple[int, int]]] | None = None,
                    tokens: list[Token] | None = None) -> list[_Matched]:
    """(record, chain, covered, extension) of every occurrence of a record that matches.

    An occurrence matches when its chain covers min_tokens (with `found`, the look-up's
    hits, and `tokens`: SHORT_MIN_TOKENS of hashes no other record holds, not on lines of
    one repeated shape), and, in the abstract stream, at least ABSTRACT_DENSITY of the
    query tokens it spans.
    """
    k, w, min_tokens = PARAMS[stream]
    short = SHORT_MIN_TOKENS if stream == RAW and found is not None and tokens is not None else min_tokens
    sole: set[tuple[int, int]] | None = None
    matched: list[tuple[int, list[tuple[int, int]], set[int], set[int]]] = []
    for record, pairs in per_record.items():
        record_len = lengths.get(record, 0)

        def evaluate(chain: list[tuple[int, int]]) -> bool:
            nonlocal sole
            covered, extension = _coverage(chain, k, w, record_len, token_lines)
            if len(covered) < short:
                return False
            if len(covered) < min_tokens:
                if sole is None and found is not None:
                    sole = _sole_hits(found)
                if sole is None or any((record, r) not in sole for _q, r in chain):
                    return False
                if tokens is not None and _idiom_run(covered, tokens, token_lines):
                    return False
            if stream != RAW and len(covered) < ABSTRACT_DENSITY * (chain[-1][0] + k - chain[0][0]):
                return False
            matched.append((record, chain, covered, extension))
            return True

        _occurrences(pairs, evaluate)
    return matched


# Hits of one record further apart than this many query tokens (in query order) are
# different occurrences of it: each is chained, and must cover min_tokens, on its own.
# One chain over the whole file would run through the record's hits anywhere in it, so a
# later copy of the record's code (or scattered common pieces of it) could take the
# chain away from the pasted copy. Bounded so that hunk-scoped matching, which sees
# CONTEXT_TOKENS around the added lines, finds the same occurrences.
OCCURRENCE_GAP = 2 * MAX_GAP_TOKENS


def _line_starts(tokens: list[Token]) -> list[bool]:
    """starts[i]: token i is the first token on its line (a whole-line cut can fall before it)."""
    starts = [True] * (len(tokens) + 1)  # position len(tokens): the end of the file
    for i in range(1, len(tokens)):
        starts[i] = tokens[i - 1].last_line < tokens[i].first_line
    return starts


def _placements(lo: int, hi: int, size: int, starts: list[bool],
                pieces: _CopiedPieces | None = None, max_runs: int | None = None) -> list[tuple[tuple[int, int], ...]] | None:
    """Ways to place `size` inserted tokens as whole lines in query positions [lo, hi).

    Up to max_runs runs [s, e) of whole lines, each run separated from the next by at
    least one copied token. Cuts fall only between lines, so a line is never split.
    With `pieces`, a placement that leaves a copied piece the ledger would have had a
    hit in is not one (_CopiedPieces.possible). None when there are more than
    MAX_CANDIDATES ways, or the search takes more than MAX_STEPS steps (long gaps of
    short lines): too ambiguous to examine.
    """
    max_runs = MAX_RUNS if max_runs is None else max_runs  # read when called: tests vary the limits
    cuts = [i for i in range(lo, hi + 1) if starts[i]]
    found: list[tuple[tuple[int, int], ...]] = []
    steps = 0

    def place(first: int, left: int, runs_left: int, placed: tuple[tuple[int, int], ...]) -> bool:
        nonlocal steps
        piece_start = placed[-1][1] if placed else None  # the copied piece before the next run
        for a in range(first, len(cuts)):
            s = cuts[a]
            if pieces is not None and not pieces.possible(piece_start, s):
                break  # a later run leaves a longer piece: no more possible either
            for b in range(a + 1, len(cuts)):
                e = cuts[b]
                if e - s > left:
                    break
                steps += 1
                if steps > MAX_STEPS or len(found) > MAX_CANDIDATES:
                    return False
                if e - s == left:
                    if pieces is None or pieces.possible(e, None):
                        found.append(placed + ((s, e),))
                elif runs_left > 1 and not place(b + 1, left - (e - s), runs_left - 1, placed + ((s, e),)):
                    return False
        return True

    return found if place(0, size, max_runs, ()) else None


class _CopiedPieces:
    """Which stretches of a gap (q1, r1) .. (q2, r2) can be copied, as far as the first look-up tells.

    Tokens [a, b) copied as they are hold the record's k-grams at starts a .. b - k, in a
    row, and winnowing stored one of every w consecutive ones (unless the ledger masked
    it). So a stretch holding w consecutive k-gram starts that were looked up without a
    hit for the record is not copied whole: an inserted line cuts it. The pieces run
    from the first hit's start (q1) and to the second hit's end (hi = q2 + k).
    """

    def __init__(self, looked: bytearray, hits: Iterable[tuple[int, int]], k: int, w: int, q1: int, hi: int):
        self.k, self.w, self.q1, self.hi = k, w, q1, hi
        self.barred_before = _barred_before(looked, hits, w, q1, hi)

    def possible(self, a: int | None, b: int | None) -> bool:
        """Whether tokens [a, b) can be copied whole (a None: from q1; b None: to q2 + k)."""
        a = self.q1 if a is None else a
        b = self.hi if b is None else b
        last = b - self.k - self.w + 1  # the last start of a window of w k-grams inside [a, b)
        if last < a:
            return True
        before = self.barred_before
        return before[last + 1 - self.q1] - before[a - self.q1] == 0


def _barred_before(looked: bytearray, hits: Iterable[tuple[int, int]], w: int, q1: int, hi: int) -> list[int]:
    """_CopiedPieces' barred_before: item j - q1 counts the windows of w consecutive k-gram
    starts, all looked up without a hit (at a hit's query position), that begin in [q1, j)."""
    hit = {q for q, _r in hits}
    # free_before[j]: starts in [q1, j) that were looked up without a hit; a window
    # [j, j + w) is all such when free_before[j + w] - free_before[j] == w.
    free_before = [0]
    for j in range(q1, hi):
        free_before.append(free_before[-1] + (j < len(looked) and looked[j] and j not in hit))
    barred_before = [0]
    for j in range(q1, hi):
        end = j - q1 + w
        barred_before.append(barred_before[-1] + (end < len(free_before)
                                                  and free_before[end] - free_before[j - q1] == w))
    return barred_before


def _insertion_fills(matched: list[_Matched], tokens: list[Token], digests: list[bytes], k: int, hasher: Hasher, stream: int,
                     lookup: Lookup, ends: tuple[int, Mapping[int, int], Mapping[int, list[tuple[int, int]]]]
                     | None = None, looked: bytearray | None = None,
                     on_added: bytearray | None = None) -> dict[int, set[int]]:
    """Query tokens between chain hits that are copied, once the inserted lines are known.

    For consecutive hits (q1, r1), (q2, r2) of one record's chain with dr = r2 - r1 >= k
    (the two k-grams do not overlap in the record) and dq = q2 - q1 > dr, exactly
    dq - dr tokens of the query gap [q1 + k, q2) are not in the record. Each way of
    placing them as whole lines (_placements) is checked against the ledger: with the
    placed lines cut out, the query must read like the record, so the k-grams that now
    straddle a cut are hashed and looked up, and each cut needs one of them stored for
    this record at the expected position r1 + j. Winnowing stores one k-gram in every
    w consecutive ones and a cut is straddled by k - 1 >= w of them, so a true
    placement is confirmed unless the ledger masked them (common or low-complexity
    code). Exactly one confirmed placement fills the rest of the gap; none or several
    (ambiguous) fill nothing. A human line that replaced a copied one has no
    confirmed placement, so it is never pulled in.

    With `ends` (w, record lengths, the first look-up's hits per record) the two ends
    of each chain are examined as well (_end_candidates), in the same look-up. With
    `looked` too (1 at each query k-gram start the first look-up asked for: _starts_mask), placements whose
    copied pieces hold w looked-up k-grams in a row without a hit are not examined
    (_CopiedPieces): the ledger would have held one of them. With `on_added` (1 per token
    of an added line), the ends' copied and inserted lines are added lines only.
    """
    starts: list[bool] | None = None
    looked_mask = looked if ends is not None else None
    # (record, lo, hi, placements, confirmed cuts per placement, how many have <= MAX_RUNS runs)
    gaps: list[tuple[int, int, int, list[tuple[tuple[int, int], ...]], list[set[int]], int]] = []
    wanted: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)  # hash -> (gap, placement, cut, rpos)
    for record, chain, _covered, _extension in matched:
        for (q1, r1), (q2, r2) in zip(chain, chain[1:]):
            dq, dr = q2 - q1, r2 - r1
            if dq <= dr or dr < k or dq - k > MAX_GAP_TOKENS:
                continue
            if starts is None:
                starts = _line_starts(tokens)
            pieces = (_CopiedPieces(looked_mask, ends[2].get(record, ()), k, ends[0], q1, q2 + k)
                      if looked_mask is not None and ends is not None else None)
            placements = _placements(q1 + k, q2, dq - dr, starts, None, MAX_RUNS) or []
            few = len(placements)  # the first `few` are tried first (see MAX_GAP_RUNS)
            if pieces is not None:
                known = set(placements)
                placements += [runs for runs in _placements(q1 + k, q2, dq - dr, starts, pieces, MAX_GAP_RUNS) or ()
                               if runs not in known]
            if not placements:
                continue
            g = len(gaps)
            gaps.append((record, q1 + k, q2, placements, [set() for _ in placements], few))
            for p, runs in enumerate(placements):
                # The query from hit 1 to the end of hit 2 with the runs cut out: it should
                # be the record's tokens r1 .. r2 + k.
                spliced: list[bytes] = []
                cuts = []
                pos = q1
                for s, e in runs:
                    spliced.extend(digests[pos:s])
                    cuts.append(len(spliced))
                    pos = e
                spliced.extend(digests[pos:q2 + k])
                straddling: dict[int, list[int]] = {}
                for c, cut in enumerate(cuts):
                    for j in range(max(0, cut - k + 1), min(cut, len(spliced) - k + 1)):
                        straddling.setdefault(j, []).append(c)
                for j, value in hasher.kgram_hashes(spliced, k, straddling).items():
                    for c in straddling[j]:
                        wanted[value].append((g, p, c, r1 + j))
    end_wanted: dict[int, list[tuple[EndPlacement, int]]] = defaultdict(list)
    end_groups: list[tuple[int, list[EndPlacement]]] = []
    if ends is not None:
        if starts is None:
            starts = _line_starts(tokens)
        end_groups = _end_candidates(matched, digests, k, hasher, starts, *ends, end_wanted, on_added)
    if not wanted and not end_wanted:
        return {}
    found = lookup(stream, list(wanted.keys() | end_wanted.keys()))
    for value, hits in found.items():
        stored = set(hits)
        for g, p, c, rpos in wanted.get(value, ()):
            if (gaps[g][0], rpos) in stored:
                gaps[g][4][p].add(c)
        for placement, j in end_wanted.get(value, ()):
            if (placement.record, placement.rpos0 + j) in stored:
                placement.confirmed.add(j)
    fills: dict[int, set[int]] = defaultdict(set)
    for record, lo, hi, placements, confirmed, few in gaps:
        whole = [n for n, (runs, cuts) in enumerate(zip(placements, confirmed)) if len(cuts) == len(runs)]
        if whole and whole[0] < few:  # one of MAX_RUNS runs is confirmed: only those count
            whole = [n for n in whole if n < few]
        if len(whole) != 1:
            continue
        inserted = {i for s, e in placements[whole[0]] for i in range(s, e)}
        fills[record].update(i for i in range(lo, hi) if i not in inserted)
    w = ends[0] if ends is not None else 0
    for record, ends_placed in end_groups:
        good = [p for p in ends_placed if _end_confirmed(p, k, w)]
        if len(good) == 1 and starts is not None:  # end_groups are only made where starts is
            fills[record].update(_end_fill(good[0], k, starts))
    return fills


# The two ends of a chain (_end_candidates). Before its first hit (q1, r1) the query may hold
# the record's tokens 0 .. r1 - 1 with whole lines inserted among them; after its last hit
# (q2, r2), the record's tokens r2 + k .. to its end. Each way of placing the inserted lines
# (up to MAX_END_INSERTED tokens in up to MAX_RUNS runs) is checked like a gap's, and must
# moreover account for every claimed copied token (_end_confirmed).
MAX_END_INSERTED = 64  # inserted tokens at one end of a chain, at most


class EndPlacement(NamedTuple):
    record: int
    rpos0: int  # record position of spliced position 0
    cuts: tuple[int, ...]  # spliced positions where inserted runs were cut out
    need: tuple[int, int]  # spliced positions [lo, hi) that confirmed k-grams must cover
    window_min: frozenset[int]  # spliced starts holding the least hash of the outermost window
    confirmed: set[int]  # spliced k-gram starts stored for the record at rpos0 + j
    qmap: list[int]  # query position of each spliced position
    claimed: tuple[int, int]  # spliced [lo, hi) said to be copied (filled if confirmed alone)
    outer: tuple[int, int]  # spliced [lo, hi) of the piece beyond the outermost cut


def _end_candidates(matched: list[_Matched], digests: list[bytes], k: int, hasher: Hasher, starts: list[bool], w: int,
                    lengths: Mapping[int, int], hits: Mapping[int, list[tuple[int, int]]],
                    wanted: dict[int, list[tuple[EndPlacement, int]]],
                    on_added: bytearray | None = None) -> list[tuple[int, list[EndPlacement]]]:
    """Placements of inserted lines before the first and after the last hit of each chain.

    Before (q1, r1): with s inserted tokens, the copied region starts at a = q1 - r1 - s,
    on a line start (the paste reaches the record's first token), and the runs lie in
    (a, q1]. After (q2, r2): it ends at e = q2 + k + (record length - r2 - k) + s, at a
    line end, and the runs lie in [q2 + k, e). With the runs cut out the query must read
    like the record: the k-grams straddling each cut are hashed and put in `wanted`; a
    k-gram inside a piece is a query k-gram, confirmed when the first look-up found it
    for this record at the expected position. More than MAX_CANDIDATES placements, or a
    search over budget: ambiguous, not examined. With `on_added`, the placements stay on
    the added lines around the chain: unchanged lines above or below a paste are neither
    copied nor inserted, and counting them as either only made a paste in a big file
    ambiguous where the same paste alone was not.
    """
    groups: list[tuple[int, list[EndPlacement]]] = []
    n = len(digests)
    for record, chain, _covered, _extension in matched:
        record_len = lengths.get(record, 0)
        q1, r1 = chain[0]
        q2, r2 = chain[-1]
        pairs: set[tuple[int, int]] | None = None
        for head in (True, False):
            # Distances from the chain's edge (q1 going up, q2 + k going down) of the cuts.
            room = r1 if head else record_len - r2 - k
            if room <= 0 or room > MAX_GAP_TOKENS:
                continue
            if head:
                edge = q1
                reach = max(-1, q1 - room - MAX_END_INSERTED - 1)
                if on_added is not None:  # not above the added lines the chain starts in
                    reach = max(reach, on_added.rfind(0, reach + 1, q1))  # the nearest token not added
                dists = _start_distances(starts, q1, reach, -1)
            else:
                edge = q2 + k
                reach = min(n, edge + room + MAX_END_INSERTED)
                if on_added is not None:  # not below the added lines the chain ends in
                    first_out = on_added.find(0, edge, reach)
                    reach = reach if first_out < 0 else first_out
                dists = _start_distances(starts, edge, reach + 1, 1)
            options = _end_runs(dists, room)
            if not options:
                continue
            if pairs is None:
                pairs = set(hits.get(record, ()))
            groups.append((record, _end_placements(record, head, edge, room, 0 if head else r2, options,
                                                   digests, k, w, hasher, pairs, wanted)))
    return groups


def _end_placements(record: int, head: bool, edge: int, room: int, rpos0: int,
                    options: list[tuple[int, tuple[tuple[int, int], ...]]], digests: list[bytes], k: int, w: int,
                    hasher: Hasher, pairs: set[tuple[int, int]],
                    wanted: dict[int, list[tuple[EndPlacement, int]]]) -> list[EndPlacement]:
    """_end_candidates' placements at one end of a record's chain, one per option (size, runs).

    head: the end before the first hit (q1, r1), edge = q1 and room = r1; otherwise the
    end after the last hit (q2, r2), edge = q2 + k and room = record length - r2 - k.
    rpos0 is the record position of spliced position 0 (0 before the chain, r2 after
    it). The k-grams straddling each cut are put in `wanted`.
    """
    placements = []
    for size, runs in options:
        if head:
            pieces = sorted((edge - de, edge - ds) for ds, de in runs)
            lo, hi = edge - room - size, edge + k
        else:
            pieces = [(edge + ds, edge + de) for ds, de in runs]
            lo, hi = edge - k, edge + room + size
        qmap: list[int] = []
        cuts = []
        pos = lo
        for s, e in pieces:
            qmap.extend(range(pos, s))
            cuts.append(len(qmap))
            pos = e
        qmap.extend(range(pos, hi))
        need = (w - 1, room) if head else (0, room + k - w + 1)
        claimed, outer = ((0, room), (0, cuts[0])) if head else ((k, len(qmap)), (cuts[-1], len(qmap)))
        straddling: set[int] = set()
        for cut in cuts:
            straddling.update(range(max(0, cut - k + 1), min(cut, len(qmap) - k + 1)))
        spliced = _take(digests, qmap)
        # The record's first (last) w k-grams: winnowing stored the least of them.
        n_grams = len(qmap) - k + 1
        window = range(min(w, n_grams)) if head else range(max(0, n_grams - w), n_grams)
        hashes = hasher.kgram_hashes(spliced, k, straddling.union(window))
        unmasked = [hashes[j] for j in window if not low_complexity(spliced, j, k)]
        least = min(unmasked, default=None)
        placement = EndPlacement(record, rpos0, tuple(cuts), need,
                                 frozenset(j for j in window if hashes[j] == least), set(), qmap,
                                 claimed, outer)
        placement.confirmed.update(_confirmed_pieces(qmap, rpos0, n_grams, straddling, pairs))
        for j in straddling:
            wanted[hashes[j]].append((placement, j))
        placements.append(placement)
    return placements


def _start_distances(starts: list[bool], edge: int, stop: int, step: int) -> list[int]:
    """Distances from edge of the line starts at edge, edge + step, ... (stop excluded)."""
    return [(x - edge) * step for x in range(edge, stop, step) if starts[x]]


def _take(items: list[_T], indices: list[int]) -> list[_T]:
    """[items[i] for i in indices]."""
    return [items[i] for i in indices]


def _confirmed_pieces(qmap: list[int], rpos0: int, n_grams: int, straddling: set[int],
                      pairs: set[tuple[int, int]]) -> list[int]:
    """Spliced k-gram starts inside a piece (not straddling a cut) that the first look-up
    found for the record at the expected position: query qmap[j], record rpos0 + j."""
    return [j for j in range(n_grams) if j not in straddling and (qmap[j], rpos0 + j) in pairs]


def _end_fill(p: EndPlacement, k: int, starts: list[bool]) -> list[int]:
    """Query positions of a confirmed end placement to fill.

    The outer piece (beyond the outermost cut) may end in up to w - 1 tokens that
    only their count vouches for. They are taken when at least k // 2 of the piece's
    tokens are covered by confirmed k-grams; otherwise only the piece's lines that
    confirmed k-grams cover entirely are. So a `return 0.0` after a partial paste
    is not taken for the record's `return rendered_rules` on the strength of the
    `return` that one k-gram straddling the cut reads.
    """
    lo, hi = p.claimed
    outer_lo, outer_hi = p.outer
    covered: set[int] = set()
    for j in p.confirmed:
        covered.update(range(max(j, outer_lo), min(j + k, outer_hi)))
    qmap = p.qmap
    if len(covered) >= k // 2:
        return qmap[lo:hi]
    fill = [qmap[j] for j in range(lo, hi) if not outer_lo <= j < outer_hi]
    line: list[int] = []
    for j in range(outer_lo, outer_hi + 1):
        if j == outer_hi or (line and starts[qmap[j]]):
            if all(i in covered for i in line):
                fill.extend(qmap[i] for i in line)
            line = []
        if j < outer_hi:
            line.append(j)
    return fill


def _end_runs(dists: list[int], room: int) -> list[tuple[int, tuple[tuple[int, int], ...]]] | None:
    """Ways to insert whole lines among `room` copied tokens next to a chain's edge.

    dists: ascending distances from the edge of the places a cut can fall (line
    starts). Returns (inserted tokens s, runs [start, end) as distances): up to
    MAX_RUNS runs, s <= MAX_END_INSERTED, each run followed by at least one copied
    token, and the copied region's far end (room + s) falling on a line start. None
    when there are more than MAX_CANDIDATES ways or the search takes more than
    MAX_STEPS steps: too ambiguous to examine.
    """
    is_cut = set(dists)
    found: list[tuple[int, tuple[tuple[int, int], ...]]] = []
    steps = 0

    def place(first: int, total: int, runs_left: int, placed: tuple[tuple[int, int], ...]) -> bool:
        nonlocal steps
        for a in range(first, len(dists)):
            start = dists[a]
            if start - total >= room:  # no copied token would be left for beyond this run
                break
            for b in range(a + 1, len(dists)):
                end = dists[b]
                size = total + end - start
                if size > MAX_END_INSERTED:
                    break
                steps += 1
                if steps > MAX_STEPS or len(found) > MAX_CANDIDATES:
                    return False
                runs = placed + ((start, end),)
                if room + size > end and room + size in is_cut:
                    found.append((size, runs))
                if runs_left > 1 and not place(b + 1, size, runs_left - 1, runs):
                    return False
        return True

    return found if place(0, 0, MAX_RUNS, ()) else None


def _end_confirmed(p: EndPlacement, k: int, w: int) -> bool:
    """Every cut straddled by a confirmed k-gram, and the confirmed k-grams cover p.need.

    Winnowing stores one k-gram in every w, so a copied stretch is covered but for at
    most its first (last) w - 1 tokens at the record's start (end): need leaves those out.
    Those few tokens are known only by their count, so the k-gram that winnowing
    would have stored among the record's first (last) w, computed from the query as
    spliced, must be one the ledger confirmed. Without this, a human line above a
    paste that starts mid-record could be taken for the record's first line whenever
    its last token (a `:`) matched the record's: the k-gram straddling the cut then
    reads one human token and eleven copied ones, and is found.
    """
    confirmed = sorted(p.confirmed)
    if not confirmed:
        return False
    for cut in p.cuts:
        i = bisect.bisect_left(confirmed, cut - k + 1)
        if i == len(confirmed) or confirmed[i] >= cut:
            return False
    reach, stop = p.need
    for j in confirmed:
        if reach >= stop or j > reach:
            break
        reach = max(reach, j + k)
    return reach >= stop and not p.window_min.isdisjoint(p.confirmed)


def line_ranges(lines: Mapping[int, int], records: Mapping[int, RecordInfo]) -> list[Range]:
    """Merge attributed lines into ranges of one tool, model and source (each range names
    its first line's record)."""
    same_origin = lambda a, b: records[a][:3] == records[b][:3]  # noqa: E731
    return [Range(first, last, record) for first, last, record in line_runs(lines, same_origin)]


# The accelerator's versions of the hot helpers above: the same results, in C
# (aiguard/core/_speedups.c; tests/core/test_speedups.py compares them with these references).
REFERENCE_HELPERS = {"_hits_per_record": _hits_per_record, "_line_tokens": _line_tokens,
                     "_line_owners": _line_owners, "_starts_touching": _starts_touching,
                     "_longest_chain": _longest_chain, "_line_starts": _line_starts,
                     "_touching": _touching, "_query_hashes": _query_hashes, "_end_runs": _end_runs,
                     "_placements": _placements, "low_complexity": low_complexity,
                     "_confirmed_pieces": _confirmed_pieces, "_coverage": _coverage, "_take": _take,
                     "_start_distances": _start_distances, "_end_placements": _end_placements,
                     "_chain_owners": _chain_owners, "_first_lines": _first_lines, "_index_mask": _index_mask,
                     "_sole_hits": _sole_hits, "_occurrences": _occurrences, "_barred_before": _barred_before,
                     "_fill_tokenless": _fill_tokenless}
from aiguard.core.fingerprint import _speedups  # noqa: E402

if _speedups is not None:
    _hits_per_record = _speedups.hits_per_record
    _line_tokens = _speedups.line_tokens
    _line_owners = _speedups.line_owners
    _starts_touching = _speedups.starts_touching
    _longest_chain = _speedups.longest_chain
    _line_starts = _speedups.line_starts
    _touching = _speedups.touching
    _confirmed_pieces = _speedups.confirmed_pieces
    _coverage = _speedups.coverage
    _take = _speedups.take
    _start_distances = _speedups.start_distances
    _first_lines = _speedups.first_lines
    _index_mask = _speedups.index_mask
    _sole_hits = _speedups.sole_hits
    _barred_before = _speedups.barred_before

    def _fill_tokenless(result: dict[int, int], added: set[int], with_tokens: set[int],
                        line_count: int) -> dict[int, int]:
        return _speedups.fill_tokenless(result, added, with_tokens, line_count, TOKENLESS_SKIP)

    def _occurrences(pairs: list[tuple[int, int]], evaluate: Callable[[list[tuple[int, int]]], bool]) -> None:
        _speedups.occurrences(pairs, evaluate, OCCURRENCE_GAP)
    low_complexity = _speedups.low_complexity

    def _chain_owners(chains: list[_Chain], line_tokens: dict[int, list[int]], n_tokens: int,
                      extend_share: float, line_share: float) -> dict[int, int]:
        return _speedups.chain_owners(chains, line_tokens, n_tokens, RAW, extend_share, line_share)

    def _query_hashes(hasher: Hasher, digests: list[bytes], k: int, touching: Touching,
                      n_grams: int) -> tuple[QueryHashes, Sequence[int]]:
        # The hashes come packed (bytes of (position, hash) pairs), which only the C
        # hits_per_record reads: the two are swapped in and out together. The distinct
        # values are int64s too (a memoryview of them, a sequence of ints to any lookup):
        # the ledger's C index_lookup reads them as they are, and makes an int only for
        # each one it finds, not for each of a huge file's millions of k-grams.
        packed, distinct = _speedups.query_hashes(hasher._gram_key, digests, k, touching, n_grams)
        return packed, memoryview(distinct).cast("q")

    def _end_runs(dists: list[int], room: int) -> list[tuple[int, tuple[tuple[int, int], ...]]] | None:
        return _speedups.end_runs(dists, room, MAX_END_INSERTED, MAX_RUNS, MAX_CANDIDATES, MAX_STEPS)

    def _placements(lo: int, hi: int, size: int, starts: list[bool], pieces: _CopiedPieces | None = None,
                    max_runs: int | None = None) -> list[tuple[tuple[int, int], ...]] | None:
        view = None if pieces is None else (pieces.barred_before, pieces.q1, pieces.hi, pieces.k, pieces.w)
        return _speedups.placements(lo, hi, size, starts, MAX_RUNS if max_runs is None else max_runs,
                                    MAX_CANDIDATES, MAX_STEPS, view)

    def _end_placements(record: int, head: bool, edge: int, room: int, rpos0: int,
                        options: list[tuple[int, tuple[tuple[int, int], ...]]], digests: list[bytes], k: int,
                        w: int, hasher: Hasher, pairs: set[tuple[int, int]],
                        wanted: dict[int, list[tuple[EndPlacement, int]]]) -> list[EndPlacement]:
        return _speedups.end_placements(record, head, edge, room, rpos0, options, digests, k, w,
                                        hasher._gram_key, pairs, wanted, EndPlacement)
