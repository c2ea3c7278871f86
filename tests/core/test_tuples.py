"""aiguard.core.tuples.NamedTuple makes the class typing.NamedTuple makes (invented classes)."""

from __future__ import annotations

import copy
import inspect
import keyword
import pickle
import subprocess
import sys
import types
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# Random classes, made both ways from the same class body (field names, defaults), and the
# same values put through everything a namedtuple does.
_FIELD = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda name: not keyword.iskeyword(name))


def _class(base, typename, fields, defaults):
    def body(ns):
        ns["__module__"] = __name__
        ns["__annotations__"] = {name: int for name in fields}  # not strings, which typing wraps
        ns.update(zip(fields[len(fields) - len(defaults):], defaults))
    return types.new_class(typename, (base,), exec_body=body)


def _outcome(call):
    try:
        return "ok", call()
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=150, deadline=None)
@given(typename=st.from_regex(r"[A-Z][A-Za-z0-9]{0,6}", fullmatch=True),
       fields=st.lists(_FIELD, min_size=0, max_size=16, unique=True), data=st.data())
def test_behaves_as_collections_namedtuple(typename, fields, data):
    defaults = tuple(data.draw(st.lists(st.integers(), max_size=len(fields)), "defaults"))
    ours, theirs = _class(NamedTuple, typename, fields, defaults), _class(typing.NamedTuple, typename, fields, defaults)
    for attribute in ("_fields", "_field_defaults", "__match_args__", "__slots__", "__doc__", "__name__",
                      "__qualname__", "__module__"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert ours.__annotations__ == theirs.__annotations__ == ours.__new__.__annotations__
    assert list(ours.__annotations__) == fields
    assert ours.__mro__[1:] == theirs.__mro__[1:] == (tuple, object)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    for method in ("__new__", "_make", "_replace", "__repr__", "_asdict", "__getnewargs__"):
        made, model = getattr(ours, method), getattr(theirs, method)
        for attribute in ("__name__", "__qualname__", "__doc__", "__defaults__", "__kwdefaults__"):
            assert getattr(made, attribute, None) == getattr(model, attribute, None), (method, attribute)
    assert ours.__new__.__module__ == theirs.__new__.__module__ == f"namedtuple_{typename}"
    for name in fields:
        assert getattr(ours, name).__doc__ == getattr(theirs, name).__doc__
    assert ours.__basicsize__ == theirs.__basicsize__ == tuple.__basicsize__  # the C tokenizer checks this

    values = data.draw(st.lists(st.integers() | st.text(max_size=3), min_size=len(fields), max_size=len(fields)))
    given_count = data.draw(st.integers(0, len(fields)), "positional")
    args, kwargs = values[:given_count], dict(zip(fields[given_count:], values[given_count:]))
    mine, model = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert type(mine) is ours and isinstance(mine, tuple)
    assert mine == model == tuple(values) and hash(mine) == hash(model)
    assert repr(mine) == repr(model).replace(theirs.__name__, ours.__name__)
    assert mine._asdict() == model._asdict() and list(mine._asdict()) == fields
    assert [getattr(mine, name) for name in fields] == values
    assert copy.copy(mine) == mine and copy.deepcopy(mine) == mine and type(copy.deepcopy(mine)) is ours
    assert mine.__getnewargs__() == model.__getnewargs__() == tuple(values)
    assert ours._make(values) == mine and type(ours._make(values)) is ours
    if fields:
        name = data.draw(st.sampled_from(fields), "replaced")
        assert mine._replace(**{name: "new"}) == model._replace(**{name: "new"})
        assert type(mine._replace(**{name: "new"})) is ours
        with pytest.raises(AttributeError):
            setattr(mine, name, 1)
    # the same errors, word for word
    for call in (lambda made: made(*values, 1), lambda made: made(*values[:given_count // 2]),
                 lambda made: made(*values, **{fields[0]: 1} if fields else {}),
                 lambda made: made(**kwargs, unknown=1), lambda made: made._make(values + [1]),
                 lambda made: made._make(values)._replace(unknown=1)):
        assert _outcome(lambda: call(ours)) == _outcome(lambda: call(theirs))


def test_refuses_an_underscore_field_as_namedtuple_does():
    for base in (NamedTuple, typing.NamedTuple):
        with pytest.raises(ValueError, match="Field names cannot start with an underscore: '_a'"):
            _class(base, "Point", ["_a"], ())


def test_more_fields_than_the_precompiled_new_takes():
    fields = [f"f{n}" for n in range(20)]
    ours, theirs = _class(NamedTuple, "Wide", fields, (0, 1)), _class(typing.NamedTuple, "Wide", fields, (0, 1))
    assert ours(*range(18), f19=5) == theirs(*range(18), f19=5) == (*range(18), 0, 5)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))


def test_fields_without_the_c_tuplegetter():
    code = ("import sys\n"
            "sys.modules['_collections'] = None  # a Python without collections' C half\n"
            "from aiguard.core.tuples import NamedTuple\n"
            "class Pair(NamedTuple):\n"
            "    a: int\n"
            "    b: str = 'x'\n"
            "pair = Pair(1)\n"
            "assert (pair.a, pair.b, Pair.b.__doc__) == (1, 'x', 'Alias for field number 1'), pair\n"
            "assert isinstance(Pair.a, property)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
