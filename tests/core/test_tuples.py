"""aiguard.core.tuples.NamedTuple makes the class typing.NamedTuple makes (invented classes)."""

from __future__ import annotations

import pickle
import typing

import pytest

from aiguard.core.tuples import NamedTuple


def _pair(base):
    class Span(base):
        """A run of lines."""
        start: int
        end: int
        owner: str = "?"
        tags: tuple = ()

        def size(self) -> int:
            return self.end - self.start

        @property
        def lines(self) -> range:
            return range(self.start, self.end)

        def shifted(self, by: int) -> "Span":
            return self._replace(start=self.start + by, end=self.end + by)

    return Span


Ours, Theirs = _pair(NamedTuple), _pair(typing.NamedTuple)


def test_same_fields_defaults_methods_and_doc():
    for made in (Ours, Theirs):
        span = made(1, 4)
        assert span == (1, 4, "?", ()) and isinstance(span, tuple)
        assert span.size() == 3 and list(span.lines) == [1, 2, 3]
        assert span.shifted(2) == made(3, 6)
        assert made._make([1, 2, "a", ("b",)])._asdict() == {"start": 1, "end": 2, "owner": "a", "tags": ("b",)}
        assert repr(span) == "Span(start=1, end=4, owner='?', tags=())"
        assert made.__doc__ == "A run of lines."
        assert made.__module__ == __name__ and made.__qualname__ == "_pair.<locals>.Span"
    assert Ours._fields == Theirs._fields == ("start", "end", "owner", "tags")
    assert Ours._field_defaults == Theirs._field_defaults == {"owner": "?", "tags": ()}
    assert Ours.__mro__[1:] == Theirs.__mro__[1:] == (tuple, object)
    assert list(Ours.__annotations__) == list(Theirs.__annotations__)


def test_pickles_as_a_module_level_class():
    assert pickle.loads(pickle.dumps(_Module(1, "b"))) == _Module(1, "b")


class _Module(NamedTuple):
    a: int
    b: str


def test_refuses_what_typing_refuses():
    with pytest.raises(TypeError):
        class _Order(NamedTuple):  # a field without a default after one with
            a: int = 0
            b: int
    with pytest.raises(AttributeError):
        class _Overwrite(NamedTuple):
            a: int

            def _replace(self, **kw):
                return self
    with pytest.raises(TypeError):
        NamedTuple("Point", [("x", int)])
