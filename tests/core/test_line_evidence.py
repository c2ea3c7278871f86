"""A paste's edge lines, found by the record's own line hashes (attribution._line_evidence).

A partial paste into a big existing file has lines that no stored k-gram vouches for: a
comment at its top, and the few tokens before the first stored k-gram or after the last
(`)`, `else:`). The ledger keeps a keyed hash of each of the record's lines with where it
starts in the record's tokens, so a line next to a matched chain that is the record's
neighbouring line itself goes with the paste, and any other line does not.

The recorded function is invented for these tests (a settings reader with a comment, a
call wrapped over several lines and an `else:`); the big existing file is the standard
library's typing.py, which nobody here wrote.
"""

from __future__ import annotations

import pytest

from aiguard.core.attribution import attribute_text
from aiguard.core.fingerprint import Hasher, fingerprint_record, normal_line
from conftest import SETTINGS_READER, TYPING_LINES, TYPING_PASTE_AT as AT, MemoryLedger, paste_into_typing as pasted

KEY = b"line-evidence-test-key-32-bytes!"

RECORD_LINES = SETTINGS_READER.splitlines(True)


def ledger(lines: bool = True) -> MemoryLedger:
    index = MemoryLedger(KEY)
    index.add(SETTINGS_READER, "settings.py", lines=lines)
    return index


def attribute(index: MemoryLedger, text: str, added: list[int]) -> dict[int, int]:
    return attribute_text(text, added, index.hasher, index.lookup, index.record_tokens, "typing.py",
                          record_lines=index.record_lines)


@pytest.mark.parametrize("first, end, edges", [
    (6, 15, ("# Blank lines", "value.strip(),", "number,", ")")),  # a comment on top, a `)` at the bottom
    (9, 18, ("else:",)),  # an `else:` at the bottom
])
def test_first_and_last_lines_of_a_partial_paste_are_found_by_their_hashes(first, end, edges):
    """The paste's edge lines have no stored k-gram of their own: with the record's line
    hashes every line is found, without them (a record made before the ledger kept them)
    these are not."""
    paste = RECORD_LINES[first:end]
    text, added = pasted(paste)
    found = attribute(ledger(lines=False), text, added)
    missed = [paste[n].strip() for n, line in enumerate(added) if line not in found]
    assert found and [m[:len(e)] for m, e in zip(missed, edges)] == list(edges) and len(missed) == len(edges)
    found = attribute(ledger(), text, added)
    assert found == {line: 1 for line in added}


def test_reindented_paste_keeps_its_edge_lines():
    """Line hashes ignore whitespace: the slice dedented by eight spaces is found whole."""
    paste = [line[8:] if line.startswith(" " * 8) else line for line in RECORD_LINES[6:15]]
    text, added = pasted(paste)
    assert attribute(ledger(), text, added) == {line: 1 for line in added}


def test_line_typed_next_to_a_paste_is_not_claimed():
    """Lines typed directly above and below the paste, in its hunk, that are not the
    record's neighbouring lines stay the human's; the paste itself is found whole."""
    paste = RECORD_LINES[7:15]
    text, added = pasted(paste, above=["                # Skip the header row.\n"],
                         below=["                    log.info('no such setting')\n"])
    found = attribute(ledger(), text, added)
    assert found == {line: 1 for line in added[1:-1]}


def test_line_typed_next_to_a_paste_is_claimed_only_when_it_is_the_records_own():
    """A line identical to the record's neighbouring line (whitespace aside) is that line:
    the comment typed above and the `else:` below go with the paste."""
    paste = RECORD_LINES[7:15]
    assert RECORD_LINES[15].strip() == "else:"
    text, added = pasted(paste, above=["    # Blank lines and comments carry   no setting.\n"], below=["else :\n"])
    assert attribute(ledger(), text, added) == {line: 1 for line in added}


def test_walk_stops_at_the_first_line_that_differs():
    """Above the paste: a typed line, then (further up) the record's comment. The walk
    stops at the typed line, so the comment above it is not reached."""
    paste = RECORD_LINES[7:15]
    text, added = pasted(paste, above=[RECORD_LINES[6], "                pass  # typed\n"])
    found = attribute(ledger(), text, added)
    assert added[0] not in found and added[1] not in found
    assert {line for line in added[2:] if found.get(line) == 1} == set(added[2:])


@pytest.mark.parametrize("unchanged_between", [True, False])
def test_walk_stays_on_added_lines(unchanged_between):
    """The record's comment right above the paste but unchanged (in the file already) is
    not the paste's: only added lines are claimed."""
    paste = RECORD_LINES[7:15]
    host = TYPING_LINES[:AT] + [RECORD_LINES[6]] + paste + TYPING_LINES[AT:]
    start = AT + 2 if unchanged_between else AT + 1
    added = list(range(start, AT + 2 + len(paste)))
    found = attribute(ledger(), "".join(host), added)
    assert set(found) <= set(added)
    assert all(found.get(line) == 1 for line in range(AT + 2, AT + 2 + len(paste)))


def test_record_line_hashes_positions():
    """A line's position is the count of the record's tokens on earlier lines: a comment-only
    line has the next token's, blank lines have none, and the hashes are keyed."""
    text = "a = 1\n\n# note\nb = (\n    2)\n"
    recorded = fingerprint_record(text, Hasher(KEY), "x.py")
    assert list(recorded.lines.positions) == [0, 3, 3, 6]
    hasher = Hasher(KEY)
    salt = hasher.line_salt(text)
    assert recorded.lines.salt == salt and len(salt) == 8
    assert list(recorded.lines.hashes) == [hasher.line_hash(normal_line(line), salt, position) for line, position
                                           in (("a = 1", 0), ("# note", 3), ("b = (", 3), ("    2)", 6))]
    # The same line in another record, or at another place, hashes differently.
    assert hasher.line_hash("a=1", hasher.line_salt("x = 2\n" + text), 0) != recorded.lines.hashes[0]
    assert hasher.line_hash("a=1", salt, 1) != recorded.lines.hashes[0]
    other = fingerprint_record(text, Hasher(b"another-key-of-thirty-two-bytes!"), "x.py")
    assert list(other.lines.hashes) != list(recorded.lines.hashes)
    assert normal_line("  b  =\t(") == normal_line("b=(")
