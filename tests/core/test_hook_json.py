"""aiguard.core.hook_json (JSON on the commit hook's path without `import json`) says what
json says: the same text for aiguard's records, the same values back, an error where json
has one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from aiguard.core import hook_json, note_format
from aiguard.core.spans import Span

# What aiguard's records hold: str keys; str, int, bool, None, lists and dicts inside.
# Text includes controls, quotes, backslashes, non-ASCII and lone surrogates.
scalars = st.none() | st.booleans() | st.integers() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_compact_writes_what_json_writes(value):
    assert hook_json.dumps_compact(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(values | st.floats(allow_nan=False), st.sampled_from(["", " ", "\n", "\t\r\n "]))
def test_loads_reads_what_json_reads(value, space):
    text = space + json.dumps(value, indent=1 if isinstance(value, (dict, list)) else None) + space
    assert hook_json.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "   ", "{", "[1,]", '{"a":1} x', "[1] [2]", "{'a': 1}", "tru", '"\\x"'])
def test_loads_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        hook_json.loads(text)


def test_dumps_compact_refuses_what_json_cannot_write():
    for bad in ({1: "x"}, {"a": object()}, b"bytes"):
        with pytest.raises(TypeError):
            hook_json.dumps_compact(bad)


def test_a_line_record_reads_back_and_reads_with_json():
    spans = {"src/é x.py": [Span(3, 9, "claude-code", "m\"1", "assistant-hook")],
             "b\udcff.py": [Span(1, 1, "chatgpt", "unknown", "clipboard")]}
    data = note_format.encode(12, spans)
    assert json.loads(data)["ai"] == 8
    record = note_format.decode(data)
    assert record is not None and record.files == spans and record.added == 12
