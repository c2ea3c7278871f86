"""Attributing added lines against an in-memory index (no disk, no git).

Snippets are real code nobody on this project wrote: functions from the Python
standard library, read with inspect.
"""

from __future__ import annotations

import argparse
import inspect
import json.decoder
import re
import textwrap
from collections import defaultdict

import pytest

from aiguard.attribution import RecordInfo, Range, attribute_text, line_ranges
from aiguard.fingerprint import Hasher, fingerprint_text

KEY = b"attribution-test-key-32-bytes!!!"


class MemoryIndex:
    def __init__(self):
        self.hasher = Hasher(KEY)
        self.index = {0: defaultdict(list), 1: defaultdict(list)}
        self.tokens = {}

    def add(self, text: str, path: str | None = None) -> int:
        record = len(self.tokens) + 1
        fingerprints, count = fingerprint_text(text, self.hasher, path)
        self.tokens[record] = count
        for f in fingerprints:
            self.index[f.stream][f.hash].append((record, f.pos))
        return record

    def lookup(self, stream, hashes):
        table = self.index[stream]
        return {h: table[h] for h in hashes if h in table}

    def record_tokens(self, ids):
        return {i: self.tokens[i] for i in ids}

    def attribute(self, text: str, added=None, path: str = "x.py") -> dict[int, int]:
        lines = added if added is not None else range(1, text.count("\n") + 2)
        return attribute_text(text, lines, self.hasher, self.lookup, self.record_tokens, path)


def source(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj))


AI = source(argparse.ArgumentParser.parse_known_args)
AI_2 = source(json.decoder.JSONDecoder.raw_decode)
HUMAN = source(argparse.HelpFormatter._format_usage)  # never recorded
HUMAN_LINES = HUMAN.splitlines(True)


@pytest.fixture
def index() -> MemoryIndex:
    idx = MemoryIndex()
    idx.add(AI)
    idx.add(AI_2)
    return idx


def embed(snippet: str, before: int = 6, after: int = 6) -> tuple[str, range]:
    """The snippet between human lines; returns the text and the snippet's line numbers."""
    head = "".join(HUMAN_LINES[:before])
    tail = "".join(HUMAN_LINES[before:before + after])
    start = head.count("\n") + 1
    return head + snippet + tail, range(start, start + snippet.count("\n"))


def assert_mostly(found: dict[int, int], expected: range, share: float, record: int = 1) -> None:
    hit = [n for n in expected if found.get(n) == record]
    assert len(hit) >= share * len(expected), f"{len(hit)}/{len(expected)} lines attributed"
    stray = sorted(set(found) - set(expected))
    assert not stray, f"human lines attributed: {stray}"


def test_verbatim_paste_between_human_lines(index):
    text, lines = embed(AI)
    assert_mostly(index.attribute(text), lines, 0.95)


def test_reindented_paste(index):
    text, lines = embed(textwrap.indent(AI, "        "))
    assert_mostly(index.attribute(text), lines, 0.95)


def test_reformatted_paste(index):
    # Quotes swapped, spaces around operators removed, long calls joined.
    reformatted = AI.replace("'", '"').replace(" = ", "=").replace(", ", ",")
    text, lines = embed(reformatted)
    assert_mostly(index.attribute(text), lines, 0.9)


def test_renamed_identifiers(index):
    renamed = re.sub(r"\bnamespace\b", "ns", AI)
    renamed = re.sub(r"\bargs\b", "argument_list", renamed)
    renamed = re.sub(r"\baction\b", "act", renamed)
    text, lines = embed(renamed)
    assert_mostly(index.attribute(text), lines, 0.8)


def test_partial_paste_of_ten_lines(index):
    part = "".join(AI.splitlines(True)[8:18])
    text, lines = embed(part)
    assert_mostly(index.attribute(text), lines, 0.8)


def test_interleaved_with_human_lines(index):
    ai_lines = AI.splitlines(True)
    mixed, expected = [], []
    # Human code lines (a comment-only line between AI lines counts as part of the paste).
    human = iter([h for h in HUMAN_LINES if h.strip() and not h.strip().startswith("#")])
    for n, line in enumerate(ai_lines):
        mixed.append(line)
        expected.append(len(mixed))
        if n % 5 == 4:
            mixed.append("    " + next(human).lstrip())
    found = index.attribute("".join(mixed))
    hit = [n for n in expected if n in found]
    assert len(hit) >= 0.6 * len(expected)
    human_lines = set(range(1, len(mixed) + 1)) - set(expected)
    assert len(human_lines & set(found)) <= 1


def test_only_added_lines_are_reported(index):
    text, lines = embed(AI)
    half = range(lines.start, lines.start + 10)
    found = index.attribute(text, added=half)
    assert set(found) <= set(half) and len(found) >= 8


def test_hunk_starting_inside_a_docstring(index):
    """The whole file is tokenised, so an added run that starts mid-docstring still matches."""
    text, lines = embed(AI_2)
    start = lines.start + 2  # inside raw_decode's docstring
    found = index.attribute(text, added=range(start, lines.stop))
    assert len([n for n in range(start, lines.stop) if found.get(n) == 2]) >= 0.9 * (lines.stop - start)


def test_unrelated_human_code_is_not_attributed(index):
    assert index.attribute(HUMAN) == {}


def test_boilerplate_is_never_attributed():
    idx = MemoryIndex()
    # A recorded snippet full of boilerplate...
    idx.add('import os\nimport sys\n\n\ndef main():\n    return None\n\n\nif __name__ == "__main__":\n    main()\n')
    idx.add("function f() {\n  return null;\n}\n\nmodule.exports = { f };\n", "x.js")
    idx.add("class Point:\n    def __init__(self, x, y, z):\n        self.x = x\n        self.y = y\n"
            "        self.z = z\n")
    # ...does not make the same boilerplate in human code AI-written.
    human = ('import os\nimport sys\n\nif __name__ == "__main__":\n    main()\n}\nreturn None\n'
             "class Vec:\n    def __init__(self, a, b, c):\n        self.a = a\n        self.b = b\n"
             "        self.c = c\n")
    assert idx.attribute(human) == {}
    assert idx.attribute("}\n}\n}\nreturn null;\n", path="y.js") == {}


def test_numeric_literal_runs_do_not_match():
    idx = MemoryIndex()
    idx.add("TABLE = {\n" + "".join(f"    {n}: {n * 3},\n" for n in range(40)) + "}\n")
    human = "LOOKUP = {\n" + "".join(f"    {n}: {n * 7},\n" for n in range(100, 140)) + "}\n"
    assert idx.attribute(human) == {}


def test_most_specific_record_wins():
    idx = MemoryIndex()
    first = idx.add(AI)
    second = idx.add(AI_2)
    text = AI_2 + "\n" + AI
    found = idx.attribute(text)
    assert {found[n] for n in range(1, AI_2.count("\n"))} == {second}
    assert first in found.values()


def test_line_ranges_merge_runs_of_one_tool_model_source():
    records = {1: RecordInfo("claude-code", "m1", "manual", 50), 2: RecordInfo("claude-code", "m1", "clipboard", 50),
               3: RecordInfo("claude-code", "m1", "manual", 70)}
    lines = {1: 1, 2: 1, 3: 3, 5: 1, 6: 2}
    assert line_ranges(lines, records) == [Range(1, 3, 1), Range(5, 5, 1), Range(6, 6, 2)]
