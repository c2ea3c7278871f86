"""Context never hides a match: recorded functions pasted into large files of unrelated code.

Real code nobody on this project wrote: the hosts are large stdlib modules read from
disk, the recorded functions are stdlib functions read with inspect. Each paste must be
found in the whole file exactly as it is found on its own (issue 12, point 4: one chain
per record over the whole file let a copy elsewhere in the file take the match away).
"""

from __future__ import annotations

import argparse
import ast
import asyncio.base_events
import asyncio.events
import inspect
import json.decoder
import shlex
import textwrap
from pathlib import Path

from aiguard.core.attribution import attribute_text
from conftest import MemoryLedger

KEY = b"matcher-context-test-key-32-byte"


class MemoryIndex(MemoryLedger):
    def __init__(self):
        super().__init__(KEY)

    def attribute(self, text: str, **options) -> dict[int, int]:
        return attribute_text(text, range(1, text.count("\n") + 2), self.hasher, self.lookup,
                              self.record_tokens, "host.py", **options)


def source(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj))


def module_text(module) -> str:
    return Path(inspect.getsourcefile(module)).read_text(encoding="utf-8")


def top_level_starts(text: str) -> list[int]:
    """0-based line indices where a top-level statement starts (a paste there cuts nothing)."""
    return sorted({node.lineno - 1 for node in ast.parse(text).body if node.lineno > 1})


def paste(host: str, pieces: list[tuple[int, str]]) -> tuple[str, list[tuple[str, range]]]:
    """Insert each piece before the host's 0-based line; returns the text and each piece's lines."""
    lines = host.splitlines(keepends=True)
    out: list[str] = []
    where = []
    previous = 0
    for line, piece in sorted(pieces):
        out += lines[previous:line]
        start = len(out) + 1
        out += piece.splitlines(keepends=True)
        where.append((piece, range(start, len(out) + 1)))
        previous = line
    out += lines[previous:]
    return "".join(out), where


def found_alone(index: MemoryIndex, piece: str) -> dict[int, int]:
    """Lines (1-based, within the piece) the piece gets when it is the whole file."""
    return index.attribute(piece)


def assert_found_as_alone(index: MemoryIndex, text: str, where: list[tuple[str, range]]) -> None:
    got = index.attribute(text)
    for piece, lines in where:
        alone = found_alone(index, piece)
        assert alone, "the recorded function is found on its own"
        expected = {lines.start - 1 + n: record for n, record in alone.items()}
        inside = {n: r for n, r in got.items() if n in lines}
        assert inside == expected, (
            f"paste at lines {lines.start}-{lines.stop - 1}: {len(inside)} of {len(expected)} lines found "
            f"in the whole file")


def test_a_later_copy_of_the_recorded_code_does_not_hide_the_paste():
    """The same recorded function pasted twice into argparse.py: both copies are found.

    Before: the one chain of the record ran through the later copy only, and the
    paste near line 627 (the issue's example) was not found at all.
    """
    index = MemoryIndex()
    recorded = source(json.decoder.JSONDecoder.raw_decode)
    index.add(recorded)
    host = module_text(argparse)
    starts = top_level_starts(host)
    early = min(starts, key=lambda n: abs(n - 626))
    late = starts[-2]
    text, where = paste(host, [(early, recorded), (late, recorded)])
    assert_found_as_alone(index, text, where)


def test_recorded_functions_pasted_into_large_unrelated_files():
    """Five recorded functions pasted into five ~100 KB modules at spread-out places.

    Before: parse_known_args pasted into argparse.py, which defines it further down, was
    lost (0 of 37 lines): the later copy took the chain."""
    import inspect as inspect_module
    import tarfile
    import typing

    functions = [json.decoder.JSONDecoder.raw_decode, shlex.shlex.read_token, textwrap.TextWrapper._wrap_chunks,
                 asyncio.events.AbstractEventLoop.create_server, argparse.ArgumentParser.parse_known_args]
    texts = [source(f) for f in functions]
    index = MemoryIndex()
    for text in texts:
        index.add(text)
    for n, module in enumerate([argparse, inspect_module, tarfile, typing, asyncio.base_events]):
        host = module_text(module)
        starts = top_level_starts(host)
        chosen = [starts[len(starts) * (i + 1) // (len(texts) + 1)] for i in range(len(texts))]
        order = texts[n:] + texts[:n]
        text, where = paste(host, list(zip(chosen, order)))
        assert_found_as_alone(index, text, where)
