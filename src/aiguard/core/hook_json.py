"""JSON for the commit hook's path, without importing `json`.

`import json` imports `re` (and with it enum and functools): ~5 ms of every commit, for one
key file read and one line record written. CPython's own C half of json (`_json`, a
built-in module) does the work here: `encode_basestring` quotes strings exactly as
`json.dumps(..., ensure_ascii=False)` does, and `make_scanner` is the parser `json.loads`
runs. Where `_json` is missing (another Python), the json module does it all, as before.
The results equal json's (tests/core/test_hook_json.py compares them).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def dumps_compact(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)` for dicts with str keys,
    lists, tuples, str, int, bool and None (what aiguard's records hold)."""
    try:
        from _json import encode_basestring
    except ImportError:
        import json

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    out: list[str] = []
    _write(value, out, encode_basestring)
    return "".join(out)


def _write(value: Any, out: list[str], quote: Callable[[str], str]) -> None:
    if isinstance(value, str):
        out.append(quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, dict):
        out.append("{")
        for n, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {key.__class__.__name__}")
            out.append("," + quote(key) + ":" if n else quote(key) + ":")
            _write(item, out, quote)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _write(item, out, quote)
        out.append("]")
    else:
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


class _Settings:
    """What json.JSONDecoder() gives its C scanner: the defaults json.loads uses."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(text: str) -> Any:
    """`json.loads(text)` for a str; ValueError for anything that is not one JSON value."""
    try:
        from _json import make_scanner
    except ImportError:
        import json

        return json.loads(text)
    body = text.strip(" \t\n\r")  # JSON's whitespace, around the value
    try:
        value, end = make_scanner(_Settings())(body, 0)  # type: ignore[arg-type]  # it reads the attributes
    except StopIteration:
        raise ValueError("not a JSON value") from None
    if end != len(body):
        raise ValueError("extra data after the JSON value")
    return value
