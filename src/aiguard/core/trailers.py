"""Reading and writing git trailers in commit messages, byte for byte. Pure: no I/O.

Messages are handled as bytes so that any encoding (i18n.commitEncoding) and CRLF
line ends survive untouched. Trailer-block detection mirrors git's trailer.c
(`find_trailer_block_start`) with `--no-divider` semantics, which is what
`git log --format=%(trailers)` and the sequencer use: the block is the last
paragraph after the title, made of trailer lines only, or of at least 25 % trailer
lines when one of them is git-generated (`Signed-off-by: `, `(cherry picked from`).

aiguard owns four keys: n Assisted-by lines, AI-Lines, AI-Unmatched (only when some added
text was not matched) and AIGuard-Stamp, in that order, make its group. On re-stamping (amend, reword, rebase, cherry-pick) it
replaces its own group in the final block in place and never touches another byte.
"""

from __future__ import annotations

from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Sequence, TypedDict

ASSISTED_BY = "Assisted-by"
AI_LINES = "AI-Lines"
AI_UNMATCHED = "AI-Unmatched"
STAMP = "AIGuard-Stamp"
OWN_KEYS = (ASSISTED_BY.lower(), AI_LINES.lower(), AI_UNMATCHED.lower(), STAMP.lower())

GIT_GENERATED_PREFIXES = (b"Signed-off-by: ", b"(cherry picked from commit ")
SCISSORS_BODY = b" ------------------------ >8 ------------------------"
# Characters git's core.commentChar=auto picks from, in order (builtin/commit.c).
AUTO_COMMENT_CANDIDATES = b"#;@!$%^&|:"

# A trailer key's bytes (`[A-Za-z0-9-]`): matched by hand, not with re, which (with the enum and
# functools it imports) would cost every commit ~4 ms of imports.
_KEY_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


class Cleanup(NamedTuple):
    """How git will clean the message after the hooks, as far as trailers care.

    comment: the comment prefix whose lines git strips, or None when it keeps them
    (`--cleanup=whitespace|verbatim`, and `-m` without an editor).
    """

    comment: bytes | None = b"#"


def split_lines(msg: bytes) -> list[bytes]:
    """Lines with their line ends; the last one may lack a newline.

    Only LF ends a line, as for git: a lone CR (old Mac line ends) is part of the
    line, so a CR-only message is all subject to git and must be to aiguard too.
    """
    lines = msg.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _strip_eol(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def is_blank(line: bytes) -> bool:
    return not line.strip()


def trailer_key(line: bytes) -> bytes | None:
    """The key of a trailer line (`Key: value`, `Key : value`), or None."""
    end = 0
    size = len(line)
    while end < size and line[end] in _KEY_BYTES:
        end += 1
    if end == 0:
        return None
    rest = end
    while rest < size and line[rest] in b" \t":
        rest += 1
    return line[:end] if rest < size and line[rest] == 58 else None  # 58: ":"


def find_scissors(lines: Sequence[bytes], comment: bytes | None) -> int | None:
    """Index of git's scissors line (`# ---- >8 ----`), everything from which git cuts."""
    for i, line in enumerate(lines):
        body = _strip_eol(line)
        if body.endswith(SCISSORS_BODY):
            prefix = body[: -len(SCISSORS_BODY)]
            if (comment is not None and prefix == comment) or (
                comment is None and len(prefix) == 1 and prefix in AUTO_COMMENT_CANDIDATES
            ):
                return i
    return None


def content_end(lines: Sequence[bytes], comment: bytes | None) -> int:
    """Index just past the last line of real content.

    What follows (blank lines, git's trailing comment block, the scissors line and
    the `-v` diff under it) is left exactly where it is.
    """
    end = len(lines)
    scissors = find_scissors(lines, comment)
    if scissors is not None:
        end = scissors
    while end > 0 and (is_blank(lines[end - 1]) or (comment is not None and lines[end - 1].startswith(comment))):
        end -= 1
    return end


def trailer_block(lines: Sequence[bytes], comment: bytes | None = b"#") -> tuple[int, int] | None:
    """[start, end) line indices of git's trailer block in `lines`, or None.

    `lines` must already end at the end of content (see `content_end`); comment
    lines are skipped as git skips them.
    """

    def is_comment(line: bytes) -> bool:
        return comment is not None and line.startswith(comment)

    # `git log %(trailers)` reads from the subject on: blank lines before it do not
    # end the title (a whitespace-only first line is no title).
    start = 0
    while start < len(lines) and is_blank(lines[start]):
        start += 1
    end_of_title = len(lines)
    for i in range(start, len(lines)):
        line = lines[i]
        if is_comment(line):
            continue
        if is_blank(line):
            end_of_title = i
            break
    only_spaces = True
    recognized_prefix = False
    trailer_lines = non_trailer_lines = possible_continuation = 0
    last_content = len(lines)
    for i in range(len(lines) - 1, end_of_title - 1, -1):
        line = lines[i]
        if is_comment(line):
            non_trailer_lines += possible_continuation
            possible_continuation = 0
            continue
        if is_blank(line):
            if only_spaces:
                last_content = i
                continue
            non_trailer_lines += possible_continuation
            if (recognized_prefix and trailer_lines * 3 >= non_trailer_lines) or (
                trailer_lines and not non_trailer_lines
            ):
                return i + 1, last_content
            return None
        only_spaces = False
        if line.startswith(GIT_GENERATED_PREFIXES):
            trailer_lines += 1
            possible_continuation = 0
            recognized_prefix = True
        elif trailer_key(line) is not None:
            trailer_lines += 1
            possible_continuation = 0
        elif line[:1] in (b" ", b"\t"):
            possible_continuation += 1
        else:
            non_trailer_lines += 1 + possible_continuation
            possible_continuation = 0
    return None


def parse_trailers(msg: bytes, comment: bytes | None = b"#") -> list[tuple[str, str]]:
    """(key, value) pairs of the final trailer block, unfolded, as `%(trailers)` shows them."""
    lines = split_lines(msg)
    lines = lines[: content_end(lines, comment)]
    block = trailer_block(lines, comment)
    if block is None:
        return []
    pairs: list[tuple[str, str]] = []
    for line in lines[block[0]:block[1]]:
        text = _strip_eol(line).decode("utf-8", "replace")
        if comment is not None and line.startswith(comment):
            continue
        if text[:1] in (" ", "\t") and pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, (value + " " + text.strip()).strip())
            continue
        name = trailer_key(line)
        if name is None:
            continue  # git-generated lines without a separator, or prose in a 25 % block
        value = text.split(":", 1)[1].strip()
        pairs.append((name.decode("ascii"), value))
    return pairs


def _eol(lines: Sequence[bytes]) -> bytes:
    for line in reversed(lines):
        if line.endswith(b"\n"):
            return b"\r\n" if line.endswith(b"\r\n") else b"\n"
    return b"\n"


def stamp_own_count(value: bytes | str) -> int | None:
    """How many Assisted-by lines above it a stamp says are aiguard's (its 3rd field)."""
    parts = value.split()
    if len(parts) == 5 and parts[0] in (b"v1", "v1", b"v2", "v2") and parts[2].isdigit():
        return int(parts[2])
    return None


def _key_is(line: bytes, name: str | tuple[str, ...]) -> bool:
    key = trailer_key(line)
    if key is None:
        return False
    names = (name,) if isinstance(name, str) else name
    return key.lower().decode() in {n.lower() for n in names}


def _own_runs(block: Sequence[bytes]) -> list[tuple[int, int]]:
    """[start, stop) of each aiguard group in a trailer block.

    A group ends with its AIGuard-Stamp, whose third field counts the Assisted-by
    lines aiguard wrote directly above AI-Lines; so a hand-written Assisted-by
    next to the group is the author's and stays. An AI-Lines line without a stamp
    after it is aiguard's too.
    """
    runs: list[tuple[int, int]] = []
    for i, line in enumerate(block):
        if _key_is(line, STAMP):
            start = i
            if start > 1 and _key_is(block[start - 1], AI_UNMATCHED) and _key_is(block[start - 2], AI_LINES):
                start -= 1
            if start > 0 and _key_is(block[start - 1], AI_LINES):
                start -= 1
                count = stamp_own_count(_strip_eol(line).split(b":", 1)[1]) or 0
                while count and start > 0 and _key_is(block[start - 1], ASSISTED_BY):
                    start -= 1
                    count -= 1
            runs.append((start, i + 1))
        elif _key_is(line, AI_LINES) and not (i + 1 < len(block) and _key_is(block[i + 1], (STAMP, AI_UNMATCHED))):
            runs.append((i, i + 1))
        elif _key_is(line, AI_UNMATCHED) and not (i + 1 < len(block) and _key_is(block[i + 1], STAMP)):
            runs.append((i, i + 1))
    return runs


def _own_groups(lines: Sequence[bytes], cleanup: Cleanup) -> tuple[int, tuple[int, int] | None, list[tuple[int, int]],
                                                                  list[tuple[int, int]]]:
    """Where aiguard's groups are: (content end, final block, groups in it, stale groups).

    Stale groups are complete groups (AI-Lines then AIGuard-Stamp) left in the body
    by an amend that added a paragraph after them, or by a squash that
    concatenated stamped messages: they describe another change, so re-stamping
    removes them rather than leave two stamps in one message.
    """
    end = content_end(lines, cleanup.comment)
    block = trailer_block(lines[:end], cleanup.comment)
    body_end = block[0] if block else end
    in_block = [(block[0] + a, block[0] + b) for a, b in _own_runs(lines[block[0]:block[1]])] if block else []
    stale = [(a, b) for a, b in _own_runs(lines[:body_end]) if b - a >= 2]
    return end, block, in_block, stale


def _delete_stale(out: list[bytes], stale: list[tuple[int, int]]) -> None:
    for a, b in reversed(stale):
        paragraph = a > 0 and is_blank(out[a - 1]) and (b == len(out) or is_blank(out[b]))
        del out[a - 1 if paragraph else a:b]


def strip_own(msg: bytes, cleanup: Cleanup = Cleanup()) -> bytes:
    """The message without aiguard's groups (and the blank lines they brought)."""
    lines = split_lines(msg)
    _end, block, in_block, stale = _own_groups(lines, cleanup)
    if not in_block and not stale:
        return msg
    out = list(lines)
    for a, b in reversed(in_block):
        del out[a:b]
    if block is not None and in_block and sum(b - a for a, b in in_block) == block[1] - block[0]:
        if block[0] > 0 and is_blank(out[block[0] - 1]):
            del out[block[0] - 1]  # the paragraph was ours alone: drop the blank line we added
    _delete_stale(out, stale)
    return b"".join(out)


def has_content(msg: bytes, cleanup: Cleanup = Cleanup()) -> bool:
    """Whether git would keep a non-empty message, not counting aiguard's own trailers."""
    lines = split_lines(strip_own(msg, cleanup))
    return any(not is_blank(line) for line in lines[: content_end(lines, cleanup.comment)])


def apply(msg: bytes, trailers: Sequence[tuple[str, str]], cleanup: Cleanup = Cleanup()) -> bytes:
    """Put aiguard's trailer group into the message's final trailer block.

    Replaces an existing group in place, else appends to the final block, else adds
    a new paragraph after the last line of content. Comments, the scissors line and
    everything else stay byte for byte (but for stale groups, see _own_groups).
    """
    lines = split_lines(msg)
    end, block, in_block, stale = _own_groups(lines, cleanup)
    if end == 0:
        raise ValueError("message has no content")
    eol = _eol(lines[:end])
    group = [f"{key}: {value}".encode("utf-8") + eol for key, value in trailers]
    out = list(lines)
    if not out[end - 1].endswith(b"\n"):
        out[end - 1] += eol  # MERGE_MSG and -F files may lack the final newline
    if in_block:
        for a, b in reversed(in_block[1:]):
            del out[a:b]
        out[in_block[0][0]:in_block[0][1]] = group
    elif block is not None:
        out[block[1]:block[1]] = group
    else:
        out[end:end] = [eol] + group
    _delete_stale(out, stale)
    return b"".join(out)


def effective_comment(configured: bytes | None, msg: bytes) -> bytes:
    """The comment prefix git used when it wrote `msg`.

    With core.commentChar=auto git picks the first of `#;@!$%^&|:` that starts no
    line of the message, but a hook's own git calls see `auto` as `#`
    (research: git-precommit.md 1.4); so read it back from the file itself.
    """
    if configured is None or configured == b"":
        return b"#"
    if configured != b"auto":
        return configured
    lines = split_lines(msg)
    scissors = find_scissors(lines, None)
    if scissors is not None:
        return _strip_eol(lines[scissors])[:1]
    body = [line for line in lines if not is_blank(line)]
    if body and body[-1][:1] and body[-1][:1] in AUTO_COMMENT_CANDIDATES:
        char = body[-1][:1]
        tail = len(body)
        while tail > 0 and body[tail - 1].startswith(char):
            tail -= 1
        used = {line[:1] for line in body[:tail]}
        first_free = next((bytes([c]) for c in AUTO_COMMENT_CANDIDATES if bytes([c]) not in used), b"#")
        if first_free == char:
            return char
    used = {line[:1] for line in body}
    return next((bytes([c]) for c in AUTO_COMMENT_CANDIDATES if bytes([c]) not in used), b"#")


class Group(NamedTuple):
    """aiguard's trailer group as found in a stored commit message."""

    assisted_by: list[str]  # the n Assisted-by values the stamp counts (aiguard's own)
    ai_lines: str | None
    stamp: str | None
    stamps: int  # AIGuard-Stamp lines in the final block (more than one is an error)
    all_assisted_by: list[str]  # every Assisted-by of the final block, the author's too
    unmatched: str | None = None  # the AI-Unmatched value of the group, when it has one


def read_group(msg: bytes, comment: bytes | None = b"#") -> Group | None:
    """aiguard's group in the final trailer block (as `git log %(trailers)` sees it).

    A block with only hand-written Assisted-by lines gives a Group without a stamp;
    None when the final block has neither.
    """
    lines = split_lines(msg)
    end = content_end(lines, comment)
    block = trailer_block(lines[:end], comment)
    if block is None:
        return None
    block_lines = lines[block[0]:block[1]]

    def value(line: bytes) -> str:
        return _strip_eol(line).split(b":", 1)[1].strip().decode("utf-8", "replace")

    everyone = [value(line) for line in block_lines if _key_is(line, ASSISTED_BY)]
    stamps = [i for i, line in enumerate(block_lines) if _key_is(line, STAMP)]
    ai_lines = [i for i, line in enumerate(block_lines) if _key_is(line, AI_LINES)]
    if not stamps and not ai_lines:
        return Group([], None, None, 0, everyone) if everyone else None
    if not stamps:
        return Group([], value(block_lines[ai_lines[-1]]), None, 0, everyone)
    last = stamps[-1]
    stamp_value = value(block_lines[last])
    ai_value = None
    unmatched = None
    own: list[str] = []
    above = last
    if above > 1 and _key_is(block_lines[above - 1], AI_UNMATCHED) and _key_is(block_lines[above - 2], AI_LINES):
        above -= 1
        unmatched = value(block_lines[above])
    if above > 0 and _key_is(block_lines[above - 1], AI_LINES):
        ai_value = value(block_lines[above - 1])
        count = stamp_own_count(stamp_value) or 0
        i = above - 1
        while count and i > 0 and _key_is(block_lines[i - 1], ASSISTED_BY):
            i -= 1
            count -= 1
            own.insert(0, value(block_lines[i]))
    return Group(own, ai_value, stamp_value, len(stamps), everyone, unmatched)


def ai_counts(value: str | None) -> tuple[int, int] | None:
    """(A, T) of an `AI-Lines: A/T` value, or None when it is not a valid one."""
    try:
        ai, total = (int(part) for part in (value or "").split("/"))
    except ValueError:
        return None
    return (ai, total) if 0 <= ai <= total else None


def summed_claims(groups: Iterable[Group]) -> tuple[list[str], int, int]:
    """What these commits claim together (a squash of them): every Assisted-by value, the first
    spelling of each with case ignored, and their valid AI-Lines summed as (A, T)."""
    assisted: list[str] = []
    seen: set[str] = set()
    ai = total = 0
    for group in groups:
        for value in group.all_assisted_by:
            if value.lower() not in seen:
                seen.add(value.lower())
                assisted.append(value)
        counts = ai_counts(group.ai_lines)
        if counts:
            ai += counts[0]
            total += counts[1]
    return assisted, ai, total


# Why added text went unmatched, in the order AI-Unmatched lists them (see changes.py).
UNMATCHED_REASONS = ("too-large", "over-budget", "binary", "unreadable")
# Patterns only verification reads are compiled on first use (re keeps them): not by every commit.
_UNMATCHED_RE = r"^(\d+) lines? in (\d+) files? \(([^()]*)\)$"


def unmatched_value(items: Iterable[tuple[str, int]]) -> str | None:
    """`N lines in F files (reason count, ...)` for (reason, lines) per file; None for none."""
    items = list(items)
    if not items:
        return None
    counts = {reason: sum(1 for r, _ in items if r == reason) for reason in UNMATCHED_REASONS}
    return format_unmatched(sum(n for _, n in items), len(items), counts)


def format_unmatched(lines: int, files: int, reasons: dict[str, int]) -> str:
    """An AI-Unmatched value from its totals (reasons: files per reason)."""
    order = [*UNMATCHED_REASONS, *sorted(set(reasons) - set(UNMATCHED_REASONS))]
    parts = ", ".join(f"{reason} {reasons[reason]}" for reason in order if reasons.get(reason))
    return (f"{lines} {'line' if lines == 1 else 'lines'} in {files} "
            f"{'file' if files == 1 else 'files'} ({parts})")


if TYPE_CHECKING:  # a type only: parse_unmatched returns a plain dict
    class Unmatched(TypedDict):
        """An AI-Unmatched value: lines and files the hook left unmatched, files per reason."""
        lines: int
        files: int
        reasons: dict[str, int]


def parse_unmatched(value: str | None) -> Unmatched | None:
    """{"lines": N, "files": F, "reasons": {reason: files}} of an AI-Unmatched value, or None."""
    import re

    found = re.match(_UNMATCHED_RE, (value or "").strip())
    if not found:
        return None
    reasons: dict[str, int] = {}
    for part in found.group(3).split(","):
        name, _, count = part.strip().rpartition(" ")
        if not name or not count.isdigit():
            return None
        reasons[name] = int(count)
    return {"lines": int(found.group(1)), "files": int(found.group(2)), "reasons": reasons}


_BODY_STAMP = rb"^AIGuard-Stamp: v1 "  # (re.M)
_BODY_ASSISTED = rb"^Assisted-by:[ \t]*(\S+)"  # (re.M | re.I)
_BODY_AI_LINES = rb"^AI-Lines:[ \t]*(\d+)/(\d+)"  # (re.M | re.I)


def squashed_claims(message: bytes) -> tuple[list[str], int, int] | None:
    """What a squash merge's message says its commits' trailers were, if it carries any.

    GitHub's squash merge concatenates the commits' messages, so their aiguard
    groups end up in the body; a --squash-trailers block may be the last paragraph.
    """
    import re

    if not re.search(_BODY_STAMP, message, re.M) and not re.search(_BODY_AI_LINES, message, re.M | re.I):
        return None
    assisted = list(dict.fromkeys(m.decode("utf-8", "replace")
                                  for m in re.findall(_BODY_ASSISTED, message, re.M | re.I)))
    counts = [(int(a), int(t)) for a, t in re.findall(_BODY_AI_LINES, message, re.M | re.I)]
    return assisted, sum(a for a, _ in counts), sum(t for _, t in counts)
