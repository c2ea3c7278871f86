"""The commit hook's path goes without `re` (~4 ms of imports a commit, with enum and
functools): a few small parsers are written by hand there. Each must say exactly what the
pattern it replaced says, on any input, and these are those patterns."""

from __future__ import annotations

import re

from hypothesis import example, given, settings, strategies as st

from aiguard.core import names, trailers
from aiguard.git import carry, patches, pending

TRAILER_KEY = re.compile(rb"^([A-Za-z0-9-]+)[ \t]*:")
HUNK = re.compile(rb"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
TOOL_BAD = re.compile(r"[^A-Za-z0-9._@+/-]+")
MODEL_BAD = re.compile(r"[^A-Za-z0-9._@+/:-]+")
SHA = re.compile(rb"[0-9a-f]{40,64}")


def near(alphabet: bytes, max_size: int = 16) -> st.SearchStrategy[bytes]:
    """Bytes drawn mostly from the characters the pattern cares about, so that the cases
    near its edges come up, not only random noise."""
    return st.lists(st.sampled_from([bytes([c]) for c in sorted(set(alphabet))]) | st.binary(min_size=1, max_size=1),
                    max_size=max_size).map(b"".join)


@settings(max_examples=1000, deadline=None)
@given(near(b"Ab9-:_ \t\n\r\x00\xc3\xa9"))
@example(b"Signed-off-by: A <a@b>")
@example(b"Key \t : v")
@example(b": v")
@example(b"Key")
def test_trailer_key(line):
    match = TRAILER_KEY.match(line)
    assert trailers.trailer_key(line) == (match.group(1) if match else None)


@settings(max_examples=1000, deadline=None)
@given(near(b"@ -+,0123456789 a\n\xd9", 24).map(lambda rest: b"@@ -" + rest) | near(b"@ -+,019", 24))
@example(b"@@ -1 +1 @@")
@example(b"@@ -0,0 +1,3 @@ def f():")
@example(b"@@ -5,2 +4,0 @@")
@example(b"@@ -1, +1 @@")
@example(b"@@ -1 +1@@")
def test_hunk_header(line):
    match = HUNK.match(line)
    expected = None
    if match:
        old, start, new = match.groups()
        expected = (int(old) if old is not None else 1, int(start), int(new) if new is not None else 1)
    assert patches.hunk_header(line) == expected


@settings(max_examples=1000, deadline=None)
@given(st.text(st.sampled_from("aZ9._@+/-: \n\t\x00é\u202e") | st.characters(), max_size=20))
@example("claude-sonnet-4-5")
@example("--x  y--")
@example("llama3:8b")
@example("")
def test_sanitise(name):
    for kind, pattern in (("tool", TOOL_BAD), ("model", MODEL_BAD)):
        assert names.sanitise(name, kind) == (pattern.sub("-", name).strip("-")[:names.MAX_LENGTH] or "unknown")


@settings(max_examples=800, deadline=None)
@given(near(b"0123456789abcdefAg", 70))
@example(b"0" * 40)
@example(b"a" * 39)
@example(b"f" * 64)
@example(b"f" * 65)
def test_full_commit_ids(text):
    expected = SHA.fullmatch(text) is not None
    assert carry._is_sha(text) == expected
    assert carry._is_sha(text.decode("latin-1")) == expected


@settings(max_examples=800, deadline=None)
@given(near(b"0123456789abcdefA ", 34).map(lambda b: b.decode("latin-1")))
def test_stamp_binding(binding):
    value = f"v2 fc80e730 3 {binding} " + "0" * 32
    expected = binding if len(value.split()) == 5 and re.fullmatch(r"[0-9a-f]{32}", binding) else None
    assert pending.stamp_binding(value) == expected
