"""`class Point(NamedTuple): x: int` without importing typing, which costs the commit hook
~2.5 ms: the same class (a collections.namedtuple with the body's defaults, methods and
docstring), made the way typing.NamedTuple makes it. Type checkers see typing's NamedTuple.

Field annotations are kept as written (strings under `from __future__ import annotations`;
typing would wrap those in ForwardRef); nothing in aiguard reads them at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    # As in typing: attributes a NamedTuple body may not set, and those namedtuple owns.
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

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
            made = collections.namedtuple(typename, list(types), defaults=[ns[name] for name in default_names],
                                          module=ns["__module__"])
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
