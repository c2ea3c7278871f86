"""The pure tokenizer and keyed winnowing."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard.core.fingerprint import (
    ABSTRACT,
    CLIKE,
    GENERIC,
    HASH,
    IDENT,
    KEYWORD,
    NUMBER,
    OP,
    PARAMS,
    RAW,
    STRING,
    Hasher,
    code_segments,
    fingerprint_text,
    guess_syntax,
    low_complexity,
    syntax_for_path,
    tokenize,
    winnow,
)

KEY = b"k" * 32


def texts(code: str, syntax: str = HASH) -> list[str]:
    return [t.text for t in tokenize(code, syntax).tokens]


def test_tokens_kinds_and_lines():
    parsed = tokenize('x = foo(1.5e3, "a b")  # note\nreturn None\n', HASH)
    kinds = [(t.kind, t.text, t.first_line) for t in parsed.tokens]
    assert kinds == [
        (IDENT, "x", 0), (OP, "=", 0), (IDENT, "foo", 0), (OP, "(", 0), (NUMBER, "1.5e3", 0),
        (STRING, "a b", 0), (OP, ")", 0), (KEYWORD, "return", 1), (KEYWORD, "None", 1),
    ]
    assert parsed.comment_lines == {0}
    assert parsed.line_count == 2


def test_quote_style_and_commas_do_not_matter():
    # Formatters change quotes, add trailing commas and drop semicolons.
    assert texts("f('x', 1)") == texts('f("x", 1,)')
    assert texts("let a = b;", CLIKE) == texts("let a = b", CLIKE)


def test_multiline_string_spans_its_lines():
    parsed = tokenize('def f():\n    """Doc\n    more\n    """\n    return 1\n', HASH)
    doc = [t for t in parsed.tokens if t.kind == STRING][0]
    assert (doc.first_line, doc.last_line) == (1, 3)
    assert [t.first_line for t in parsed.tokens if t.text == "return"] == [4]


def test_comment_syntax_by_language():
    assert texts("a // b", HASH) == ["a", "//", "b"]  # Python floor division
    assert texts("a // b\nc", CLIKE) == ["a", "c"]
    assert texts("/* x */ y", CLIKE) == ["y"]
    assert texts("#include <x.h>", CLIKE)[:2] == ["#", "include"]
    assert texts("-- c\nselect 1", "dash") == ["select", "1"]
    # Unknown language: only whole-line comments, and never #include-like lines.
    assert texts("a // b\n// c\n#include x\n# d\n", GENERIC) == ["a", "//", "b", "#", "include", "x"]


def test_unterminated_and_binary_input_do_not_raise():
    for junk in ['"abc', "'''never closed", "\x00\x01\x02", "é ü 中文 🙂", "\\", "`", "0x"]:
        tokenize(junk, HASH)
        tokenize(junk, CLIKE)
        tokenize(junk, GENERIC)


def test_syntax_detection():
    assert syntax_for_path("src/a.py") == HASH
    assert syntax_for_path("web/App.TSX") == CLIKE
    assert syntax_for_path("Makefile") == HASH
    assert syntax_for_path("q.sql") == "dash"
    assert syntax_for_path("README") is None
    assert guess_syntax("def f(x):\n    # hi\n    return x\n") == HASH
    assert guess_syntax("function f(x) {\n  // hi\n  return x;\n}\n") == CLIKE


def test_code_segments_take_fenced_code_with_its_language():
    answer = "Here you go:\n\n```python\nprint('hi')\n```\n\nAnd in Go:\n```go\nfmt.Println(1)\n```\nDone."
    assert code_segments(answer) == [(HASH, "print('hi')\n"), (CLIKE, "fmt.Println(1)\n")]
    assert code_segments("x = 1\n") == [(HASH, "x = 1\n")] or code_segments("x = 1\n")[0][1] == "x = 1\n"


def test_hashes_are_keyed_and_stable():
    code = "def area(radius):\n    return 3.14159 * radius * radius + offset(radius, scale=2)\n"
    a1, _ = fingerprint_text(code, Hasher(KEY))
    a2, _ = fingerprint_text(code, Hasher(KEY))
    b, _ = fingerprint_text(code, Hasher(b"other key" * 4))
    assert a1 == a2 and a1
    assert not {f.hash for f in a1} & {f.hash for f in b}


def test_short_and_boilerplate_texts_have_no_fingerprints():
    for text in ["import os\n", "}\n", "return None\n", 'if __name__ == "__main__":\n    main()\n']:
        fingerprints, _ = fingerprint_text(text, Hasher(KEY))
        assert fingerprints == []


def test_low_complexity_kgrams_are_masked():
    hasher = Hasher(KEY)
    periodic = tokenize("1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9", HASH).tokens
    digests = hasher.token_digests(periodic, ABSTRACT)
    k = PARAMS[ABSTRACT].k
    assert all(low_complexity(digests, i, k) for i in range(len(digests) - k + 1))
    varied = tokenize("result = compute(alpha, beta) if ready else fallback(gamma) or None", HASH).tokens
    digests = hasher.token_digests(varied, RAW)
    assert not low_complexity(digests, 0, PARAMS[RAW].k)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_winnowing_guarantee(data):
    """Two sequences sharing a run of >= t = k + w - 1 items share a selected fingerprint."""
    k, w = 4, 5
    t = k + w - 1
    rng = random.Random(data.draw(st.integers(0, 10**9)))
    shared = [rng.getrandbits(32) for _ in range(data.draw(st.integers(t, 3 * t)))]
    a = [rng.getrandbits(32) for _ in range(data.draw(st.integers(0, 20)))] + shared
    b = shared + [rng.getrandbits(32) for _ in range(data.draw(st.integers(0, 20)))]

    def grams(seq):
        return {i: hash(tuple(seq[i:i + k])) for i in range(len(seq) - k + 1)}

    selected_a = {h for _, h in winnow(grams(a), len(a) - k + 1, w)}
    all_b = set(grams(b).values())
    assert selected_a & all_b


def test_winnow_density_is_about_two_over_w_plus_one():
    rng = random.Random(7)
    n, w = 20000, 8
    hashes = {i: rng.getrandbits(63) for i in range(n)}
    density = len(winnow(hashes, n, w)) / n
    assert 0.18 < density < 0.26  # 2 / (w + 1) = 0.222
