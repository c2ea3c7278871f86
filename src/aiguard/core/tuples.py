"""`class Point(NamedTuple): x: int` without importing typing, which costs the commit hook
~2.5 ms: the same class (collections.namedtuple's, with the body's defaults, methods and
docstring), made the way typing.NamedTuple makes it. Type checkers see typing's NamedTuple.

collections.namedtuple compiles a `__new__` for every class (~50 us each, and the hook path
makes 22 classes); here `__new__` is one of a few lambdas compiled with this module, one per
field count, given the class's field names with code.replace. The class is otherwise
namedtuple's, built the same way (tests/core/test_tuples.py compares the two).

Field annotations are kept as written (strings under `from __future__ import annotations`;
typing would wrap those in ForwardRef); nothing in aiguard reads them at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import sys

    try:
        from _collections import _tuplegetter
    except ImportError:  # as collections does without its C half
        from operator import itemgetter as _itemgetter

        def _tuplegetter(index, doc):
            return property(_itemgetter(index), doc=doc)

    # As in typing: attributes a NamedTuple body may not set, and those namedtuple owns.
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    _tuple_new = tuple.__new__
    _function = type(lambda: None)
    # namedtuple's `lambda _cls, {fields}: _tuple_new(_cls, ({fields}))` by field count, with
    # placeholder names; more fields than these are compiled once per count when first met.
    _NEW = {n: new.__code__ for n, new in enumerate((
        lambda _cls: _tuple_new(_cls, ()),
        lambda _cls, a: _tuple_new(_cls, (a,)),
        lambda _cls, a, b: _tuple_new(_cls, (a, b)),
        lambda _cls, a, b, c: _tuple_new(_cls, (a, b, c)),
        lambda _cls, a, b, c, d: _tuple_new(_cls, (a, b, c, d)),
        lambda _cls, a, b, c, d, e: _tuple_new(_cls, (a, b, c, d, e)),
        lambda _cls, a, b, c, d, e, f: _tuple_new(_cls, (a, b, c, d, e, f)),
        lambda _cls, a, b, c, d, e, f, g: _tuple_new(_cls, (a, b, c, d, e, f, g)),
        lambda _cls, a, b, c, d, e, f, g, h: _tuple_new(_cls, (a, b, c, d, e, f, g, h)),
        lambda _cls, a, b, c, d, e, f, g, h, i: _tuple_new(_cls, (a, b, c, d, e, f, g, h, i)),
        lambda _cls, a, b, c, d, e, f, g, h, i, j: _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j)),
        lambda _cls, a, b, c, d, e, f, g, h, i, j, k: _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j, k)),
        lambda _cls, a, b, c, d, e, f, g, h, i, j, k, m: _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j, k, m)),
    ))}

    def _new_code(count):
        code = _NEW.get(count)
        if code is None:
            names = ", ".join(f"a{n}" for n in range(count))
            code = _NEW[count] = eval(f"lambda _cls, {names}: _tuple_new(_cls, ({names},))").__code__
        return code

    def _namedtuple(typename, field_names, defaults, module):
        """collections.namedtuple(typename, field_names, defaults=defaults, module=module) for
        the names a class body can give (identifiers, no keywords, no repeats)."""
        for name in field_names:
            if name.startswith("_"):
                raise ValueError(f"Field names cannot start with an underscore: {name!r}")
        typename = sys.intern(str(typename))
        field_names = tuple(map(sys.intern, field_names))
        num_fields = len(field_names)
        defaults = tuple(defaults)
        field_defaults = dict(zip(field_names[num_fields - len(defaults):], defaults)) if defaults else {}
        arg_list = ", ".join(field_names)
        if num_fields == 1:
            arg_list += ","
        repr_fmt = "(" + ", ".join(f"{name}=%r" for name in field_names) + ")"
        _dict, _tuple, _len, _map, _zip = dict, tuple, len, map, zip

        namespace = {"_tuple_new": _tuple_new, "__builtins__": {}, "__name__": f"namedtuple_{typename}"}
        __new__ = _function(_new_code(num_fields).replace(co_varnames=("_cls", *field_names)), namespace, "__new__")
        __new__.__defaults__ = defaults
        __new__.__doc__ = f"Create new instance of {typename}({arg_list})"

        @classmethod
        def _make(cls, iterable):
            result = _tuple_new(cls, iterable)
            if _len(result) != num_fields:
                raise TypeError(f"Expected {num_fields} arguments, got {len(result)}")
            return result

        _make.__func__.__doc__ = f"Make a new {typename} object from a sequence or iterable"

        def _replace(self, /, **kwds):
            result = self._make(_map(kwds.pop, field_names, self))
            if kwds:
                raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
            return result

        _replace.__doc__ = f"Return a new {typename} object replacing specified fields with new values"

        def __repr__(self):
            "Return a nicely formatted representation string"
            return self.__class__.__name__ + repr_fmt % self

        def _asdict(self):
            "Return a new dict which maps field names to their values."
            return _dict(_zip(self._fields, self))

        def __getnewargs__(self):
            "Return self as a plain tuple.  Used by copy and pickle."
            return _tuple(self)

        for method in (__new__, _make.__func__, _replace, __repr__, _asdict, __getnewargs__):
            method.__qualname__ = f"{typename}.{method.__name__}"

        class_namespace = {
            "__doc__": f"{typename}({arg_list})",
            "__slots__": (),
            "_fields": field_names,
            "_field_defaults": field_defaults,
            "__new__": __new__,
            "_make": _make,
            "_replace": _replace,
            "__repr__": __repr__,
            "_asdict": _asdict,
            "__getnewargs__": __getnewargs__,
            "__match_args__": field_names,
        }
        for index, name in enumerate(field_names):
            class_namespace[name] = _tuplegetter(index, sys.intern(f"Alias for field number {index}"))
        result = type(typename, (tuple,), class_namespace)
        result.__module__ = module
        return result

    class _NamedTupleMeta(type):
        def __new__(cls, typename, bases, ns):
            if bases != (_NamedTuple,):
                raise TypeError("can only inherit from a NamedTuple type")
            types = ns.get("__annotations__", {})
            default_names = []
            for name in types:
                if name in ns:
                    default_names.append(name)
                elif default_names:
                    raise TypeError(f"Non-default namedtuple field {name} cannot follow default field"
                                    f"{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}")
            made = _namedtuple(typename, list(types), [ns[name] for name in default_names], ns["__module__"])
            made.__annotations__ = made.__new__.__annotations__ = dict(types)
            for key in ns:
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in made._fields:
                    setattr(made, key, ns[key])
            return made

    _NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})

    def NamedTuple(typename, fields=None, /):  # noqa: N802 (typing's name)
        """Only the class syntax is supported here: `class Name(NamedTuple): field: type`."""
        raise TypeError("aiguard.core.tuples.NamedTuple is only a base class")

    NamedTuple.__mro_entries__ = lambda bases: (_NamedTuple,)
