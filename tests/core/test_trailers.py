"""Unit tests of the pure trailer functions (aiguard.core.trailers), with a few checks of
parse_trailers against `git interpret-trailers --parse --no-divider` itself."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from aiguard.core import trailers
from aiguard.core.trailers import Cleanup, apply, effective_comment, has_content, parse_trailers, strip_own

STAMP_VALUE = "v1 0123abcd 0 " + "a" * 32 + " " + "b" * 32
GROUP = [("AI-Lines", "3/10"), ("AIGuard-Stamp", STAMP_VALUE)]
GROUP_LINES = b"AI-Lines: 3/10\nAIGuard-Stamp: " + STAMP_VALUE.encode() + b"\n"
OTHER_GROUP = [("AI-Lines", "0/2"), ("AIGuard-Stamp", "v1 0123abcd 0 " + "c" * 32 + " " + "d" * 32)]
SCISSORS = b"# ------------------------ >8 ------------------------\n"


def git_parse(msg: bytes) -> list[tuple[str, str]]:
    out = subprocess.run(["git", "interpret-trailers", "--parse", "--no-divider"], input=msg,
                         capture_output=True, check=True).stdout.decode("utf-8", "replace")
    return [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in out.splitlines())]


# --------------------------------------------------------------------------- parse_trailers

PARSE_CASES = {
    "subject-only": (b"AI-Model: gpt\n", []),
    "title-paragraph": (b"Fix: a\nRefs: b\n", []),
    "simple-block": (b"S\n\nBody.\n\nA: 1\nB-Key: two words\n", [("A", "1"), ("B-Key", "two words")]),
    "only-last-paragraph": (b"S\n\nA: 1\n\nB: 2\n", [("B", "2")]),
    "url": (b"S\n\nhttps://example.com/y\n", [("https", "//example.com/y")]),
    "space-before-colon": (b"S\n\nAI-Model  : gpt\n", [("AI-Model", "gpt")]),
    "space-in-key": (b"S\n\nAI Model: gpt\n", []),
    "equals-separator": (b"S\n\nAI-Model=gpt\n", []),
    "indented": (b"S\n\n  AI-Model: gpt\n", []),
    "prose-mixed-no-git-line": (b"S\n\nbody\n\nAI-Model: gpt\nsome prose\n", []),
    "25-percent-with-signoff": (b"S\n\nprose one\nprose two\nprose three\nSigned-off-by: A <a@x>\n",
                                [("Signed-off-by", "A <a@x>")]),
    "under-25-percent": (b"S\n\np1\np2\np3\np4\nSigned-off-by: A <a@x>\n", []),
    "folded": (b"S\n\nKey: first\n  second\n", [("Key", "first second")]),
    "divider-ignored": (b"S\n\nBody\n---\nmore\n\nA: 1\n", [("A", "1")]),
    "crlf": (b"S\r\n\r\nA: 1\r\nB: 2\r\n", [("A", "1"), ("B", "2")]),
    "no-final-newline": (b"S\n\nA: 1", [("A", "1")]),
    "trailing-blank-lines": (b"S\n\nA: 1\n\n\n", [("A", "1")]),
    "cherry-picked-line": (b"S\n\nA: 1\n(cherry picked from commit 0123456789abcdef)\n", [("A", "1")]),
}


@pytest.mark.parametrize("msg,expected", list(PARSE_CASES.values()), ids=list(PARSE_CASES))
def test_parse_trailers(msg, expected):
    assert parse_trailers(msg) == expected


@pytest.mark.parametrize("msg", [m for m, _ in PARSE_CASES.values()], ids=list(PARSE_CASES))
def test_parse_trailers_agrees_with_git(msg):
    assert parse_trailers(msg) == git_parse(msg)


def test_parse_trailers_skips_comments_and_what_follows():
    msg = b"S\n\nA: 1\n# a comment inside\nB: 2\n\n# Please enter the message\n#\n" + SCISSORS + b"diff --git a/x b/x\n+C: 3\n"
    assert parse_trailers(msg, b"#") == [("A", "1"), ("B", "2")]
    assert parse_trailers(b"S\n\nA: 1\n; note\n", b";") == [("A", "1")]


# --------------------------------------------------------------------------- apply / strip_own

APPLY_CASES = {
    "subject-only": (b"Subject\n", b"Subject\n\n" + GROUP_LINES),
    "no-final-newline": (b"Subject", b"Subject\n\n" + GROUP_LINES),
    "body": (b"Subject\n\nBody.\n", b"Subject\n\nBody.\n\n" + GROUP_LINES),
    "existing-block": (b"S\n\nBody.\n\nFixes: 1\nSigned-off-by: A <a@x>\n",
                       b"S\n\nBody.\n\nFixes: 1\nSigned-off-by: A <a@x>\n" + GROUP_LINES),
    "existing-block-no-newline": (b"S\n\nFixes: 1", b"S\n\nFixes: 1\n" + GROUP_LINES),
    "subject-like-trailer": (b"Fix: thing\n", b"Fix: thing\n\n" + GROUP_LINES),
    "trailing-blank-lines": (b"S\n\n\n", b"S\n\n" + GROUP_LINES + b"\n\n"),
    "comments-after": (b"S\n\n# Please enter\n#\n", b"S\n\n" + GROUP_LINES + b"\n# Please enter\n#\n"),
    "scissors-and-diff": (b"S\n\nFixes: 1\n\n# Please\n" + SCISSORS + b"diff\n+x\n",
                          b"S\n\nFixes: 1\n" + GROUP_LINES + b"\n# Please\n" + SCISSORS + b"diff\n+x\n"),
    "trailer-in-diff-ignored": (b"S\n\n" + SCISSORS + b"+A: 1\n", b"S\n\n" + GROUP_LINES + b"\n" + SCISSORS + b"+A: 1\n"),
    "divider-in-body": (b"S\n\nBody\n---\nmore\n", b"S\n\nBody\n---\nmore\n\n" + GROUP_LINES),
}


@pytest.mark.parametrize("msg,expected", list(APPLY_CASES.values()), ids=list(APPLY_CASES))
def test_apply(msg, expected):
    assert apply(msg, GROUP) == expected


def test_apply_crlf_uses_crlf():
    assert apply(b"S\r\n\r\nFixes: 1\r\n", GROUP) == b"S\r\n\r\nFixes: 1\r\n" + GROUP_LINES.replace(b"\n", b"\r\n")
    assert apply(b"S\r\n", GROUP) == b"S\r\n\r\n" + GROUP_LINES.replace(b"\n", b"\r\n")


def test_apply_replaces_own_group_in_place():
    msg = b"S\n\nFixes: 1\n" + GROUP_LINES + b"Signed-off-by: A <a@x>\n"
    new = apply(msg, OTHER_GROUP)
    assert new == b"S\n\nFixes: 1\nAI-Lines: 0/2\nAIGuard-Stamp: " + OTHER_GROUP[1][1].encode() + b"\nSigned-off-by: A <a@x>\n"
    assert apply(new, GROUP) == msg


def test_apply_with_assisted_by_and_hand_written_one():
    msg = b"S\n\nAssisted-by: other-tool:model\n"
    group = [("Assisted-by", "claude-code:m"), ("AI-Lines", "5/5"),
             ("AIGuard-Stamp", "v1 0123abcd 1 " + "e" * 32 + " " + "f" * 32)]
    once = apply(msg, group)
    assert once == msg + b"Assisted-by: claude-code:m\nAI-Lines: 5/5\nAIGuard-Stamp: v1 0123abcd 1 " + b"e" * 32 + b" " + b"f" * 32 + b"\n"
    assert apply(once, group) == once
    assert strip_own(once) == msg  # the author's line stays


def test_apply_verbatim_keeps_hash_lines_as_content():
    msg = b"S\n\nFixes: 1\n# not a comment\n"
    assert apply(msg, GROUP, Cleanup(None)) == msg + b"\n" + GROUP_LINES
    assert apply(msg, GROUP, Cleanup(b"#")) == b"S\n\nFixes: 1\n" + GROUP_LINES + b"# not a comment\n"


def test_apply_empty_message_raises():
    for msg in (b"", b"\n\n", b"# only a comment\n"):
        with pytest.raises(ValueError):
            apply(msg, GROUP)


@pytest.mark.parametrize("msg", [m for m, _ in APPLY_CASES.values() if m.endswith(b"\n")],
                         ids=[k for k, (m, _) in APPLY_CASES.items() if m.endswith(b"\n")])
def test_strip_own_undoes_apply(msg):
    assert strip_own(apply(msg, GROUP)) == msg
    assert strip_own(msg) == msg


def test_stale_group_in_the_body_is_removed():
    """An amend that added a paragraph after the group, or a squash of stamped commits,
    leaves a complete group in the body: re-stamping keeps one group, in the final block."""
    body_group = b"S\n\n" + GROUP_LINES + b"\nLater paragraph.\n"
    assert strip_own(body_group) == b"S\n\nLater paragraph.\n"
    assert apply(body_group, OTHER_GROUP) == apply(b"S\n\nLater paragraph.\n", OTHER_GROUP)
    squashed = b"One\n\nBody one.\n\n" + GROUP_LINES + b"\nTwo\n\nBody two.\n\n" + GROUP_LINES
    assert apply(squashed, OTHER_GROUP) == apply(b"One\n\nBody one.\n\nTwo\n\nBody two.\n", OTHER_GROUP)


def test_lookalikes_that_are_not_groups_are_kept():
    for msg in (b"S\n\n    AI-Lines: 1/2\n    AIGuard-Stamp: quoted\n\nBody.\n",  # indented (merge --squash log)
                b"S\n\nAI-Lines is a trailer we write.\n\nBody.\n",
                b"S\n\nAssisted-by: other:model\n\nBody.\n"):
        assert strip_own(msg) == msg
        assert strip_own(apply(msg, GROUP)) == msg


# --------------------------------------------------------------------------- has_content

@pytest.mark.parametrize("msg,cleanup,expected", [
    (b"", Cleanup(), False),
    (b"\n \n\t\n", Cleanup(), False),
    (b"# Please enter the commit message\n#\n", Cleanup(), False),
    (b"# Please enter the commit message\n#\n", Cleanup(None), True),
    (b"; Please enter\n", Cleanup(b";"), False),
    (b"# kept with ;\n", Cleanup(b";"), True),
    (b"\n" + GROUP_LINES + b"# Please enter\n", Cleanup(), False),  # only aiguard's trailers
    (b"\n\n" + SCISSORS + b"diff --git a/x b/x\n+content\n", Cleanup(), False),
    (b"Subject\n", Cleanup(), True),
    (b"Fixes: 1\n", Cleanup(), True),
])
def test_has_content(msg, cleanup, expected):
    assert has_content(msg, cleanup) is expected


# --------------------------------------------------------------------------- effective_comment

@pytest.mark.parametrize("configured,msg,expected", [
    (None, b"anything\n", b"#"),
    (b"", b"anything\n", b"#"),
    (b";", b"# not a comment\n", b";"),
    (b"auto", b"\n# Please enter the commit message\n#\n", b"#"),
    (b"auto", b"#12 fix\n\n; Please enter the commit message\n;\n", b";"),
    (b"auto", b"#1\n;2\n\n@ Please enter the commit message\n@\n", b"@"),
    (b"auto", b"#12 fix\n\n; Please enter\n; ------------------------ >8 ------------------------\n"
              b"; Do not modify or remove the line above.\ndiff --git a/x b/x\n#x\n", b";"),
])
def test_effective_comment(configured, msg, expected):
    assert effective_comment(configured, msg) == expected


# --------------------------------------------------------------------------- properties

_LINE = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
    st.sampled_from(["Fixes: 1", "Signed-off-by: A <a@x>", "---", "https://x.y/z", "  cont", "prose",
                     "Assisted-by: other:model", ""]),
).filter(lambda s: not s.startswith(("#", "AI-Lines", "AIGuard-Stamp")))


@settings(max_examples=200, deadline=None)
@given(subject=st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=10),
       body=st.lists(_LINE, max_size=8), eol=st.sampled_from([b"\n", b"\r\n"]))
def test_apply_properties(subject, body, eol):
    msg = eol.join(line.encode() for line in [subject, ""] + body) + eol
    once = apply(msg, GROUP)
    # Only adds: what was there is still there, in order, around the group.
    assert strip_own(once) == msg
    # The group is what git reads at the end of the final trailer block.
    assert parse_trailers(once)[-2:] == GROUP
    assert [line for line in once.splitlines() if line.startswith(b"AIGuard-Stamp")] == [
        b"AIGuard-Stamp: " + STAMP_VALUE.encode()]
    # Re-stamping replaces in place, and is idempotent.
    assert apply(once, GROUP) == once
    assert strip_own(apply(once, OTHER_GROUP)) == msg
    assert has_content(once)


def test_own_keys():
    assert trailers.OWN_KEYS == ("assisted-by", "ai-lines", "ai-unmatched", "aiguard-stamp")
