"""Runs of lines: the one value for "lines a..b of a file came from this tool/model/source",
and the one way lines with equal values are merged into runs. Pure."""

from __future__ import annotations

from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping, TypeVar

    V = TypeVar("V")


class Span(NamedTuple):
    """Lines start..end (1-based, inclusive, in the file as the commit left it) of one origin."""

    start: int
    end: int
    tool: str
    model: str
    source: str  # how the output was recorded (hook, log, clipboard, manual, ...) or "foreign"


def line_runs(lines: Mapping[int, V], same: Callable[[V, V], bool]) -> list[tuple[int, int, V]]:
    """(first line, last line, the first line's value) for each run of consecutive line
    numbers whose values are `same` as the run's first value."""
    out: list[tuple[int, int, V]] = []
    for line in sorted(lines):
        value = lines[line]
        if out:
            first, last, head = out[-1]
            if last == line - 1 and same(head, value):
                out[-1] = (first, line, head)
                continue
        out.append((line, line, value))
    return out
