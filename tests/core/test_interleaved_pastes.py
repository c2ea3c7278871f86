"""Interleaved pastes: a human line after every three lines of a recorded function (issue 12).

Real code nobody on this project wrote: the recorded functions are stdlib functions read
with inspect, the human lines are calendar.py's, and the host is typing.py (~3,800
lines of unrelated code). A paste must be found in the big file as it is found on its
own: the lines above and below it are unchanged, so they can be neither copied nor
inserted lines of it (they made the chain's ends ambiguous, and the paste was lost).
"""

from __future__ import annotations

import base64
import calendar
import colorsys
import gettext
import heapq
import inspect
import re
import textwrap
import typing
from pathlib import Path

import pytest

from aiguard.core.attribution import attribute_text
from conftest import MemoryLedger

KEY = b"partial-interleave-test-key-32by"


def human_lines() -> list[str]:
    """Whole statements of calendar.py that fit anywhere: no block openers, brackets closed."""
    found = []
    for line in Path(inspect.getsourcefile(calendar)).read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if (len(s) > 12 and not s.startswith(("#", "@", '"', "'")) and not s.endswith((":", "\\", ",", "(", "["))
                and s.count("(") == s.count(")") and s.count("[") == s.count("]") and '"""' not in s):
            found.append(s)
    return found


def interleave(text: str, humans: list[str]) -> tuple[str, set[int]]:
    """After every 3 lines one human line, indented like the line before; 0-based human line indices."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    inserted: set[int] = set()
    since = 0
    it = iter(humans)
    for n, line in enumerate(lines):
        out.append(line)
        since += 1
        if since >= 3 and n + 1 < len(lines):
            indent = re.match(r"[ \t]*", line).group() if line.strip() else ""
            inserted.add(len(out))
            out.append(indent + next(it) + "\n")
            since = 0
    return "".join(out), inserted


def paste_into_host(pasted: str) -> tuple[str, int]:
    """typing.py with `pasted` inserted at a top-level boundary; the paste's first line (1-based)."""
    lines = Path(inspect.getsourcefile(typing)).read_text(encoding="utf-8").splitlines(keepends=True)
    at = 400
    while lines[at - 1].strip() or lines[at].startswith((" ", "\t")):
        at += 1
    return "".join(lines[:at]) + pasted + "".join(lines[at:]), at + 1


def attribute(index: MemoryLedger, text: str, added: range) -> dict[int, int]:
    return attribute_text(text, added, index.hasher, index.lookup, index.record_tokens, "host.py")


def case(function) -> tuple[MemoryLedger, int, str, set[int]]:
    source = textwrap.dedent(inspect.getsource(function))
    index = MemoryLedger(KEY)
    record = index.add(source)
    pasted, human = interleave(source, human_lines())
    return index, record, pasted, human


@pytest.mark.parametrize("function", [heapq._siftup, heapq._siftup_max, colorsys.hsv_to_rgb,
                                      colorsys.rgb_to_hls, base64._85encode])
def test_an_interleaved_paste_is_found_in_a_large_file_as_on_its_own(function):
    index, record, pasted, human = case(function)
    count = pasted.count("\n")
    alone = attribute(index, pasted, range(1, count + 1))
    ai = [n for n, line in enumerate(pasted.splitlines()) if line.strip() and n not in human]
    assert sum(1 for n in ai if alone.get(n + 1) == record) >= 0.9 * len(ai), "found on its own"
    text, first = paste_into_host(pasted)
    got = attribute(index, text, range(first, first + count))
    inside = {n - first + 1: r for n, r in got.items() if first <= n < first + count}
    assert inside == alone, f"{function.__name__}: {len(inside)} of the {len(alone)} lines found on its own"
    assert not any(n + 1 in inside for n in human), "no human line is the paste's"


def test_many_human_lines_between_two_hits_are_placed():
    """gettext.translation's short lines leave 30-40 tokens and 5-6 human lines between
    two hits: more inserted runs than one gap used to be searched for (4)."""
    index, record, pasted, human = case(gettext.translation)
    text, first = paste_into_host(pasted)
    count = pasted.count("\n")
    got = attribute(index, text, range(first, first + count))
    lines = pasted.splitlines()
    ai = [n for n, line in enumerate(lines) if line.strip() and n not in human]
    found = sum(1 for n in ai if got.get(first + n) == record)
    assert found >= 0.6 * len(ai), f"{found} of {len(ai)} AI lines"
    assert not any(first + n in got for n in human)
