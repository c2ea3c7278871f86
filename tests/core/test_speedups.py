"""The C accelerator (aiguard/core/_speedups.c) against the pure-Python reference.

Every function it replaces must give exactly what the reference gives: the same tokens,
the same keyed digests and k-gram hashes (so existing ledgers keep matching), the same
winnowed fingerprints, the same index hits, and the same attributions against a real
ledger. Random texts mix the characters the tokenizer cares about with arbitrary Unicode,
lone surrogates (surrogateescape'd bytes) and real code from the standard library.
"""

from __future__ import annotations

import array
import hashlib
import os
import random
import sysconfig
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiguard.core import attribution, fingerprint as F
from aiguard.store import fpindex
from aiguard.core.fingerprint import ABSTRACT, RAW, STREAMS, PureHasher, FastHasher, tokenize_pure
from aiguard.store.ledger import Entry, Ledger

try:
    from aiguard.core import _speedups
except ImportError as exc:  # pragma: no cover - CI builds it
    if os.environ.get("AIGUARD_REQUIRE_SPEEDUPS"):  # CI sets it: there, a missing build is a failure
        raise
    pytest.skip(f"the C accelerator is not built ({exc}); `pip install -e .` builds it where a C compiler "
                "and Python's headers exist", allow_module_level=True)

SYNTAXES = (F.HASH, F.CLIKE, F.DASH, F.GENERIC)
KEY = b"speedups-test-key-32-bytes-long!"


@pytest.fixture(autouse=True)
def accelerated(monkeypatch):
    """The fast paths on, even when AIGUARD_PURE_PYTHON chose the reference at import."""
    monkeypatch.setattr(F, "_speedups", _speedups)
    monkeypatch.setattr(fpindex, "_speedups", _speedups)


def fast_tokenize(text: str, syntax: str) -> F.Tokens:
    return F._tokenize_fast(text, syntax)


# What the token pattern cares about, to be mixed with anything at all.
FRAGMENTS = [
    '"', "'", '"""', "'''", "`", "\\", "\\\n", "\n", "\n\n", " ", "\t", "\r", "\x0b", "\x1c", "\x85", "\xa0",
    "\u2028", "#", "# c", "#i", "#include", "#A", "//", "// c", "/*", "*/", "/* c */", "--", "-- c", "{-", "-}",
    "0", "0x1F", "0xg", "0X_a", "0b1", "0b2", "0o7", "0o8", "1.5", "1.", ".5", "1e5", "1e+", "1E-3", "1_000",
    "10uL", "2j", "٣", "²", "½", "x", "_a", "Ab9", "$", "$a", "a$", "é", "ß", "日本", "def", "class", "None",
    "self", "r", "b", "f", "rb", "Rb", "bar", "u", "...", ">>>=", "<<=", ">>=", "**=", "//=", "===", "!==",
    "<=>", "->", "=>", "::", "++", "&&", "||", "<<", ">>", "**", "==", "!=", "<=", ">=", "+=", "-=", ":=",
    "??", "?.", "(", ")", "[", "]", "{", "}", ",", ";", ".", "=", "@", "\udc80", "\udcff", "\ud800",
    "\U0001f600", "\x00",
]
code_texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(FRAGMENTS), st.text(max_size=4)),
                    min_size=5, max_size=150).map("".join)


def stdlib_files(count: int, seed: int = 7) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.stat().st_size < 200_000)
    return random.Random(seed).sample(files, min(count, len(files)))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def same_tokens(text: str, syntax: str) -> None:
    ref = tokenize_pure(text, syntax)
    got = fast_tokenize(text, syntax)
    assert got == ref
    assert all(type(t) is F.Token for t in got.tokens)
    assert type(got) is F.Tokens and type(got.comment_lines) is frozenset


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=code_texts, syntax=st.sampled_from(SYNTAXES))
def test_tokens_match_the_reference_on_random_text(text, syntax):
    same_tokens(text, syntax)
    same_tokens(text * 3, syntax)  # quotes and comment openers meet their closers more often


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), syntax=st.sampled_from(SYNTAXES))
def test_tokens_match_the_reference_on_arbitrary_unicode(text, syntax):
    same_tokens(text, syntax)


def test_tokens_match_the_reference_on_real_code():
    files = stdlib_files(60)
    non_ascii = [p for p in files if not read(p).isascii()]
    for path in files:
        for syntax in SYNTAXES:
            same_tokens(read(path), syntax)
    assert files and len(files) == 60
    # Bytes that are not UTF-8 arrive as lone surrogates (surrogateescape): the same tokens.
    same_tokens(b"x = '\xff\xfe' # \xc3\n".decode("utf-8", "surrogateescape") + read(files[0]), F.HASH)
    print(f"{len(non_ascii)} of the files hold non-ASCII text")


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=1, max_size=64),
       data=st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"x" * 127, b"x" * 128, b"x" * 129,
                                                               b"y" * 256, b"z" * 257])))
def test_blake2b_matches_hashlib(key, data):
    """The RFC 7693 implementation: keyed, 8-byte digests, any length across block edges."""
    text = data.decode("latin-1")
    expected = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), key=key, digest_size=8).digest()
    assert _speedups.text_digests(key, [text], {}) == [expected]


def hashers(key: bytes) -> tuple[PureHasher, FastHasher]:
    return PureHasher(key), FastHasher(key)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=code_texts, key=st.binary(min_size=0, max_size=40), data=st.data())
def test_digests_and_hashes_match_the_reference(text, key, data):
    pure, fast = hashers(key)
    tokens = tokenize_pure(text * 3, F.GENERIC).tokens  # repeated, so that k-grams exist
    for stream in STREAMS:
        digests = pure.token_digests(tokens, stream)
        assert fast.token_digests(tokens, stream) == digests
        assert fast.token_digests(tokens, stream) == digests  # from the cache, the same
        n = len(digests)
        for k in (1, 2, 12, 16, 17):
            assert fast.kgram_hashes(digests, k) == pure.kgram_hashes(digests, k)
            positions = data.draw(st.lists(st.integers(-2 * k - 3, n + 3), max_size=30))
            assert fast.kgram_hashes(digests, k, positions) == pure.kgram_hashes(digests, k, positions)
            assert fast.kgram_hashes(digests, k, set(positions)) == pure.kgram_hashes(digests, k, set(positions))
            assert fast.kgram_hashes(digests, k, range(0, n, 3)) == pure.kgram_hashes(digests, k, range(0, n, 3))
        spans = data.draw(st.lists(st.tuples(st.integers(-n - 2, n + 2), st.integers(-n - 2, n + 2)), max_size=20))
        spans += F.logical_lines(tokens)
        assert fast.span_hashes(digests, spans) == pure.span_hashes(digests, spans)
    texts = [F.stream_text(t, s) for t in tokens for s in STREAMS] + [text, ""]
    assert fast.text_digests(texts) == pure.text_digests(texts)
    assert fast.text_digests(iter(texts)) == pure.text_digests(texts)


def test_hashes_are_the_ledgers_hashes_on_real_code():
    """Hashes of existing ledgers: fast and pure agree for many keys on real files."""
    rng = random.Random(3)
    for path in stdlib_files(25, seed=11):
        key = rng.randbytes(rng.choice([16, 32, 64]))
        pure, fast = hashers(key)
        tokens = tokenize_pure(read(path), F.HASH).tokens
        for stream in STREAMS:
            k = F.PARAMS[stream].k
            digests = fast.token_digests(tokens, stream)
            assert digests == pure.token_digests(tokens, stream)
            assert fast.kgram_hashes(digests, k) == pure.kgram_hashes(digests, k)
        lines = F.logical_lines(tokens)
        assert fast.span_hashes(digests, lines) == pure.span_hashes(digests, lines)


def fingerprint_with(accelerated: bool, text: str, path: str, key: bytes, common=None):
    """fingerprint_text with the accelerator's functions, or with the reference ones."""
    saved = F.tokenize, F.winnow, F._speedups
    if accelerated:
        F.tokenize, F.winnow, F._speedups = F._tokenize_fast, _speedups.winnow, _speedups
    else:
        F.tokenize, F.winnow, F._speedups = tokenize_pure, F.winnow_pure, None
    try:
        return F.fingerprint_text(text, FastHasher(key) if accelerated else PureHasher(key), path, common)
    finally:
        F.tokenize, F.winnow, F._speedups = saved


def fingerprints_pure(text: str, path: str, key: bytes, common=None):
    return fingerprint_with(False, text, path, key, common)


def fingerprints_fast(text: str, path: str, key: bytes, common=None):
    return fingerprint_with(True, text, path, key, common)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from([b"a" * 8, b"b" * 8, b"c" * 8, b"d" * 8]), max_size=40),
       k=st.integers(1, 17), hashes=st.dictionaries(st.integers(-3, 45), st.integers(-2**63, 2**63 - 1),
                                                     max_size=45),
       small=st.dictionaries(st.integers(0, 45), st.integers(-3, 3), max_size=45),
       n_grams=st.integers(-2, 45), w=st.integers(-1, 10))
def test_low_complexity_and_winnowing_match_the_reference(words, k, hashes, small, n_grams, w):
    n = max(0, len(words) - k + 1)
    assert list(_speedups.low_complexity_mask(words, k)) == [F.low_complexity(words, i, k) for i in range(n)]
    for table in (hashes, small):  # small values: many ties
        assert _speedups.winnow(table, n_grams, w) == F.winnow_pure(table, n_grams, w)


def test_winnowed_fingerprints_match_the_reference():
    for path in stdlib_files(30, seed=5):
        text = read(path)
        assert fingerprints_fast(text, path.name, KEY) == fingerprints_pure(text, path.name, KEY)
    # With a common-code filter (some hashes and lines stopped), still the same.
    stopped = set()

    def common(kind, hashes):
        return [h for h in hashes if h % 7 == 0 or h in stopped]

    text = read(stdlib_files(1, seed=9)[0])
    assert fingerprints_fast(text, "a.py", KEY, common) == fingerprints_pure(text, "a.py", KEY, common)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=code_texts, key=st.binary(max_size=33))
def test_winnowed_fingerprints_match_on_random_text(text, key):
    text = text * 4
    assert fingerprints_fast(text, "x.c", key) == fingerprints_pure(text, "x.c", key)
    assert fingerprints_fast(text, "", key) == fingerprints_pure(text, "", key)


def test_index_lookup_matches_the_reference(tmp_path):
    rng = random.Random(5)
    rows = []
    for stream in STREAMS:
        for _ in range(3000):
            value = rng.getrandbits(64)
            if rng.random() < 0.3:
                value = (value & ~(0xFFFF << 48)) | (9 << 48)  # a crowded bucket
            value -= 1 << 63
            for _ in range(rng.choice([1, 1, 1, 2, 5])):
                rows.append((stream, value, rng.randrange(1, 10**6), rng.randrange(0, 65536)))
    adds = [fpindex.Additions() for _ in STREAMS]
    for stream, value, record, pos in sorted(rows, key=lambda r: (r[0], r[1] & (2**64 - 1), r[2], r[3])):
        adds[stream].add(value, record, pos)
    path = tmp_path / "ledger.fpindex"
    fpindex.write(path, fpindex.Index.empty(path), adds, [[], []], watermark=10**6)
    index = fpindex.Index.open(path)
    try:
        stored = list({r[1] for r in rows})
        for stream in STREAMS:
            # More than the C loop's block of 4,096 searches, so that blocks meet.
            hashes = list(dict.fromkeys(rng.sample(stored, 4000) + [rng.getrandbits(63) for _ in range(5000)]
                                        + [-(2**63), 2**63 - 1, 0, -1]))
            fast: dict = {}
            index.lookup(stream, hashes, fast)
            # The same hashes as int64s in a buffer (attribution's memoryview of query_hashes' values).
            packed: dict = {}
            index.lookup(stream, memoryview(array.array("q", hashes)).cast("B").cast("q"), packed)
            fpindex._speedups = None
            pure: dict = {}
            index.lookup(stream, hashes, pure)
            fpindex._speedups = _speedups
            assert fast and list(fast.items()) == list(pure.items())  # same hits, same order
            assert list(packed.items()) == list(pure.items())
            assert all(type(value) is int for value in packed)
    finally:
        index.close()


def real_snippets(count: int) -> list[str]:
    """Top-level functions of stdlib files: real code to record and paste."""
    import ast

    out = []
    for path in stdlib_files(40, seed=2):
        text = read(path)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        lines = text.splitlines(keepends=True)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and 8 <= node.end_lineno - node.lineno <= 40:
                out.append("".join(lines[node.lineno - 1:node.end_lineno]))
    return out[:count]


def test_attributions_match_the_reference_against_a_real_ledger(tmp_path, monkeypatch):
    snippets = real_snippets(160)
    assert len(snippets) >= 100
    recorded, human = snippets[:120], snippets[120:]
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        result = ledger.add([Entry("codex", "gpt-5", s, "assistant-log") for s in recorded], FastHasher(KEY), KEY, "k")
        assert result.added > 100
        # Half the ledger in the index file (C and Python look-ups), half still in SQLite.
        ledger.compact()
        ledger.add([Entry("claude", "opus", s, "assistant-log") for s in human[:10]], FastHasher(KEY), KEY, "k")
        rng = random.Random(8)
        cases = []
        for n in range(30):
            paste = rng.choice(recorded + human[:10]).splitlines(keepends=True)
            if n % 3 == 1:  # a partial paste
                start = rng.randrange(len(paste) // 2)
                paste = paste[start:start + 6]
            if n % 3 == 2:  # lines inserted
                paste = [line + ("    extra_%d = compute(%d)\n" % (i, i) if i % 4 == 3 else "")
                         for i, line in enumerate(paste)]
            context = rng.choice(human[10:]).splitlines(keepends=True)
            text = "".join(context[:5] + paste + context[5:])
            cases.append(text)
        found_any = 0
        for text in cases:
            added = range(1, text.count("\n") + 2)
            fast = attribution.attribute_text(text, added, FastHasher(KEY), ledger.lookup, ledger.record_tokens,
                                              "x.py")
            with monkeypatch.context() as m:
                m.setattr(attribution, "tokenize", tokenize_pure)
                m.setattr(fpindex, "_speedups", None)
                for name, reference in attribution.REFERENCE_HELPERS.items():
                    m.setattr(attribution, name, reference)
                pure = attribution.attribute_text(text, added, PureHasher(KEY), ledger.lookup,
                                                  ledger.record_tokens, "x.py")
            assert fast == pure
            found_any += bool(fast)
        assert found_any >= 8  # pastes are found: the comparison is not of empty results only


REF = attribution.REFERENCE_HELPERS
positions = st.integers(0, 60)


@settings(max_examples=400, deadline=None)
@given(pairs=st.lists(st.tuples(positions, positions), max_size=60))
def test_longest_chain_matches_the_reference(pairs):
    assert _speedups.longest_chain(pairs) == REF["_longest_chain"](pairs)


@settings(max_examples=300, deadline=None)
@given(touching=st.lists(st.integers(0, 80), max_size=50).map(sorted), k=st.integers(1, 17),
       n_grams=st.integers(-3, 90), unsorted=st.lists(st.integers(0, 80), max_size=10))
def test_starts_touching_matches_the_reference(touching, k, n_grams, unsorted):
    for run in (touching, sorted(set(touching)), unsorted):
        assert _speedups.starts_touching(run, k, n_grams) == REF["_starts_touching"](run, k, n_grams)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=code_texts, added=st.sets(st.integers(0, 40)), data=st.data())
def test_line_helpers_match_the_reference(text, added, data):
    tokens = tokenize_pure(text, F.GENERIC).tokens
    assert _speedups.line_starts(tokens) == REF["_line_starts"](tokens)
    if tokens:
        touching = sorted(data.draw(st.sets(st.integers(0, len(tokens) - 1))))
        fast = _speedups.line_tokens(tokens, touching, added)
        pure = REF["_line_tokens"](tokens, touching, added)
        assert list(fast.items()) == list(pure.items())
        assert list(_speedups.line_tokens(tuple(tokens), touching, added).items()) == list(pure.items())
        # The same indices as a mask (attribution's on_added), in C and in the reference.
        mask = attribution._index_mask(touching, len(tokens))
        assert list(_speedups.line_tokens(tokens, mask, added).items()) == list(pure.items())
        assert list(REF["_line_tokens"](tokens, mask, added).items()) == list(pure.items())


@settings(max_examples=300, deadline=None)
@given(hashes=st.dictionaries(st.integers(0, 50), st.integers(-5, 5), max_size=40),
       found=st.dictionaries(st.integers(-6, 6), st.lists(st.tuples(st.integers(1, 8), st.integers(0, 30)),
                                                          min_size=1, max_size=12), max_size=12),
       cap=st.integers(0, 6))
def test_hits_per_record_matches_the_reference(hashes, found, cap):
    fast = _speedups.hits_per_record(hashes, found, cap)
    pure = REF["_hits_per_record"](hashes, found, cap)
    assert list(fast.items()) == list(pure.items())
    lists = {value: [list(hit) for hit in hits] for value, hits in found.items()}  # hits as lists
    assert list(_speedups.hits_per_record(hashes, lists, cap).items()) == list(pure.items())


@settings(max_examples=300, deadline=None)
@given(line_tokens=st.dictionaries(st.integers(0, 30), st.lists(st.integers(0, 40), min_size=1, max_size=8),
                                   max_size=12),
       owner=st.dictionaries(st.integers(0, 40), st.integers(1, 4), max_size=30),
       extended=st.dictionaries(st.integers(0, 40), st.integers(1, 4), max_size=30))
def test_line_owners_match_the_reference(line_tokens, owner, extended):
    args = (line_tokens, owner, extended, attribution.EXTEND_SHARE, attribution.LINE_SHARE)
    fast, pure = _speedups.line_owners(*args), REF["_line_owners"](*args)
    assert list(fast.items()) == list(pure.items())


# The second round of attribution helpers (issue 12): the per-token and search loops that
# were left in Python. Token lines, added sets and positions include the odd cases (multi-line
# tokens, negative numbers, positions near the ends) the reference handles by Python's rules.
token_lists = st.lists(st.tuples(st.integers(-2, 30), st.integers(0, 3)), max_size=60).map(
    lambda spans: [F.Token(F.IDENT, "x", first, first + extra) for first, extra in spans])


@settings(max_examples=400, deadline=None)
@given(tokens=token_lists, added=st.sets(st.integers(-3, 35)))
def test_touching_matches_the_reference(tokens, added):
    assert _speedups.touching(tokens, added) == REF["_touching"](tokens, added)
    tokens.sort(key=lambda t: t.first_line)
    assert _speedups.touching(tuple(tokens), added) == REF["_touching"](tokens, added)


words = st.lists(st.sampled_from([bytes([b]) * 8 for b in range(6)]), max_size=70)


@settings(max_examples=300, deadline=None)
@given(digests=words, k=st.integers(1, 17), touching=st.lists(st.integers(0, 75), max_size=50).map(sorted),
       n_grams=st.integers(-3, 80), data=st.data())
def test_query_hashes_and_their_hits_match_the_reference(digests, k, touching, n_grams, data):
    """query_hashes' packed hashes give hits_per_record the reference's {position: hash} result."""
    pure_hasher, fast_hasher = hashers(KEY)
    fast, fast_packed = _speedups.query_hashes(fast_hasher._gram_key, digests, k, touching, n_grams)
    pure, pure_distinct = REF["_query_hashes"](pure_hasher, digests, k, touching, n_grams)
    fast_distinct = memoryview(fast_packed).cast("q")  # int64s, as attribution reads them
    assert fast_distinct.tolist() == pure_distinct
    assert list(fast_distinct) == pure_distinct
    # The touching indices as a mask (attribution's on_added; duplicates are one index there).
    mask = attribution._index_mask(touching, 76)
    assert _speedups.query_hashes(fast_hasher._gram_key, digests, k, mask, n_grams) == (fast, fast_packed)
    assert REF["_query_hashes"](pure_hasher, digests, k, mask, n_grams) == (pure, pure_distinct)
    # A ledger's answer: some of the hashes (and one it was not asked for), each in a few records.
    chosen = data.draw(st.lists(st.sampled_from(pure_distinct), max_size=8)) if pure_distinct else []
    found = {value: data.draw(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 40)), min_size=1, max_size=6))
             for value in chosen + [12345]}
    cap = data.draw(st.integers(0, 5))
    got = _speedups.hits_per_record(fast, found, cap)
    want = REF["_hits_per_record"](pure, found, cap)
    assert list(got.items()) == list(want.items())


@settings(max_examples=400, deadline=None)
@given(digests=words, i=st.integers(-5, 75), k=st.integers(1, 17))
def test_low_complexity_of_one_kgram_matches_the_reference(digests, i, k):
    assert _speedups.low_complexity(digests, i, k) is F.low_complexity(digests, i, k)


limits = st.tuples(st.integers(1, 70), st.integers(0, 5), st.integers(0, 50), st.integers(0, 4000))


def with_limits(limit_values, reference, *args):
    """The reference with attribution's search limits set to limit_values."""
    names = ("MAX_END_INSERTED", "MAX_RUNS", "MAX_CANDIDATES", "MAX_STEPS")
    with pytest.MonkeyPatch.context() as m:
        for name, value in zip(names, limit_values):
            m.setattr(attribution, name, value)
        return reference(*args)


@settings(max_examples=400, deadline=None)
@given(dists=st.sets(st.integers(0, 90), max_size=25).map(sorted), room=st.integers(-2, 80), lims=limits)
def test_end_runs_match_the_reference(dists, room, lims):
    inserted, runs, candidates, steps = lims
    got = _speedups.end_runs(dists, room, inserted, runs, candidates, steps)
    assert got == with_limits(lims, REF["_end_runs"], dists, room)
    if lims == (attribution.MAX_END_INSERTED, attribution.MAX_RUNS, attribution.MAX_CANDIDATES,
                attribution.MAX_STEPS):
        assert attribution._end_runs(dists, room) == got


@settings(max_examples=400, deadline=None)
@given(starts=st.lists(st.booleans(), min_size=1, max_size=80), data=st.data(), lims=limits)
def test_placements_match_the_reference(starts, data, lims):
    n = len(starts)
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo, n - 1))
    size = data.draw(st.integers(-1, 40))
    _inserted, runs, candidates, steps = lims
    got = _speedups.placements(lo, hi, size, starts, runs, candidates, steps)
    assert got == with_limits(lims, REF["_placements"], lo, hi, size, starts)


def outcome(function, *args):
    """function(*args), or the type of the exception it raised: both paths must agree on either."""
    try:
        return function(*args)
    except (IndexError, ValueError) as exc:
        return type(exc)


@settings(max_examples=500, deadline=None)
@given(starts=st.lists(st.booleans(), min_size=2, max_size=80), data=st.data(), lims=limits,
       k=st.integers(1, 6), w=st.integers(1, 5), max_runs=st.integers(1, 9))
def test_placements_with_copied_pieces_match_the_reference(starts, data, lims, k, w, max_runs):
    """The look-up-aware search (_CopiedPieces): a looked-up mask and a record's hits over a gap."""
    n = len(starts)
    q1 = data.draw(st.integers(0, n - 1))
    q2 = data.draw(st.integers(q1, n - 1))
    looked = bytearray(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    hits = [(q, data.draw(st.integers(0, 50))) for q in data.draw(st.sets(st.integers(q1, q2 + k)))]
    pieces = attribution._CopiedPieces(looked, hits, k, w, q1, q2 + k)
    lo = data.draw(st.integers(q1, min(q1 + k, n - 1)))  # the search starts at q1 + k in use
    size = data.draw(st.integers(-1, 40))
    _inserted, _runs, candidates, steps = lims
    view = (pieces.barred_before, pieces.q1, pieces.hi, pieces.k, pieces.w)
    got = outcome(_speedups.placements, lo, q2, size, starts, max_runs, candidates, steps, view)
    assert got == with_limits(lims, outcome, REF["_placements"], lo, q2, size, starts, pieces, max_runs)


def reference_end_placements(*args):
    """attribution._end_placements with every helper it calls the reference's too."""
    with pytest.MonkeyPatch.context() as m:
        for name in ("_take", "low_complexity", "_confirmed_pieces"):
            m.setattr(attribution, name, REF[name])
        return REF["_end_placements"](*args)


def wanted_by_index(wanted, placements):
    """{hash: sorted (placement index, start)}: the same wanted entries, comparable across paths."""
    index = {id(p): i for i, p in enumerate(placements)}
    return {value: sorted((index[id(p)], j) for p, j in entries) for value, entries in wanted.items()}


@settings(max_examples=400, deadline=None)
@given(data=st.data(), head=st.booleans(), k=st.integers(2, 12), w=st.integers(1, 8), key=st.binary(max_size=64))
def test_end_placements_match_the_reference(data, head, k, w, key):
    """A chain end's placements: the spliced query, straddling k-grams and their hashes, the
    window's least unmasked hash, the confirmed pieces. Tokens from a small alphabet, so
    low-complexity (masked) k-grams and equal hashes occur; cut options from _end_runs."""
    n = data.draw(st.integers(k + 2, 120))
    digests = [bytes([x]) * 8 for x in data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))]
    starts = data.draw(st.lists(st.booleans(), min_size=n + 1, max_size=n + 1))
    edge = data.draw(st.integers(0, n - k)) if head else data.draw(st.integers(k, n))
    rpos0 = 0 if head else data.draw(st.integers(0, 40))

    def distances(room):
        if head:
            return REF["_start_distances"](starts, edge, max(-1, edge - room - attribution.MAX_END_INSERTED - 1), -1)
        return REF["_start_distances"](starts, edge, min(n, edge + room + attribution.MAX_END_INSERTED) + 1, 1)

    room = data.draw(st.integers(1, 60))
    far = [d for d in distances(room) if d > 1]
    if far and data.draw(st.booleans()):  # a room that some copied region can end at: cut options exist
        room = max(1, data.draw(st.sampled_from(far)) - data.draw(st.integers(1, 12)))
    dists = distances(room)
    base = edge - room if head else edge - k - rpos0  # query position of record position 0, nothing inserted
    options = REF["_end_runs"](dists, room) or []
    pairs = data.draw(st.sets(st.tuples(st.integers(base - 5, edge + 80), st.integers(-2, 100)), max_size=30))
    pairs |= {(base + r + s, r) for r, s in data.draw(st.sets(st.tuples(st.integers(0, 100), st.integers(0, 20)),
                                                                max_size=40))}  # hits shifted by inserted lines
    hasher = PureHasher(key)
    wanted_c: dict = defaultdict(list)
    wanted_p: dict = defaultdict(list)
    got = outcome(_speedups.end_placements, 7, head, edge, room, rpos0, options, digests, k, w, hasher._gram_key,
                  pairs, wanted_c, attribution.EndPlacement)
    want = outcome(reference_end_placements, 7, head, edge, room, rpos0, options, digests, k, w, hasher, pairs,
                   wanted_p)
    assert got == want
    if isinstance(want, list):
        assert all(type(p) is attribution.EndPlacement for p in got)
        assert wanted_by_index(wanted_c, got) == wanted_by_index(wanted_p, want)


@settings(max_examples=400, deadline=None)
@given(qmap=st.lists(st.integers(0, 30), min_size=1, max_size=40), rpos0=st.integers(0, 10), data=st.data())
def test_confirmed_pieces_match_the_reference(qmap, rpos0, data):
    n_grams = data.draw(st.integers(0, len(qmap)))
    straddling = data.draw(st.sets(st.integers(0, 40)))
    pairs = data.draw(st.sets(st.tuples(st.integers(-2, 32), st.integers(-2, 50))))
    pairs |= {(qmap[j], rpos0 + j) for j in data.draw(st.sets(st.integers(0, len(qmap) - 1)))}  # real hits too
    got = _speedups.confirmed_pieces(qmap, rpos0, n_grams, straddling, pairs)
    assert got == REF["_confirmed_pieces"](qmap, rpos0, n_grams, straddling, pairs)


@settings(max_examples=400, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), max_size=12),
       q0=st.integers(0, 20), r0=st.integers(0, 20), k=st.integers(1, 16), w=st.integers(1, 10),
       record_len=st.integers(0, 300), line_steps=st.lists(st.integers(0, 1), min_size=1, max_size=400))
def test_coverage_matches_the_reference(steps, q0, r0, k, w, record_len, line_steps):
    chain = [(q0, r0)]
    for dq, dr in steps:
        chain.append((chain[-1][0] + dq, chain[-1][1] + dr))
    token_lines = [sum(line_steps[:i + 1]) for i in range(len(line_steps))]
    try:
        want = REF["_coverage"](chain, k, w, record_len, token_lines)
    except IndexError:  # a chain past the query's end: both refuse it
        with pytest.raises(IndexError):
            _speedups.coverage(chain, k, w, record_len, token_lines)
        return
    assert _speedups.coverage(chain, k, w, record_len, token_lines) == want


@settings(max_examples=300, deadline=None)
@given(starts=st.lists(st.booleans(), min_size=1, max_size=60), data=st.data())
def test_start_distances_match_the_reference(starts, data):
    n = len(starts)
    edge = data.draw(st.integers(0, n - 1))
    step = data.draw(st.sampled_from([1, -1]))
    stop = data.draw(st.integers(-1, edge)) if step < 0 else data.draw(st.integers(edge, n))
    assert _speedups.start_distances(starts, edge, stop, step) == REF["_start_distances"](starts, edge, stop, step)


@given(items=st.lists(st.integers(), max_size=20), indices=st.lists(st.integers(-25, 25), max_size=30))
def test_take_matches_the_reference(items, indices):
    try:
        want = REF["_take"](items, indices)
    except IndexError:
        with pytest.raises(IndexError):
            _speedups.take(items, indices)
        return
    assert _speedups.take(items, indices) == want


def test_attributions_of_whole_modules_match_the_reference(tmp_path, monkeypatch):
    """Whole stdlib modules added against a ledger of their own functions (matcher_speed.py's
    stdlib shape): many chains, gaps and chain ends for the search helpers."""
    paths = stdlib_files(60, seed=5)
    snippets = []
    for path in paths[:30]:
        text = read(path)
        lines = text.splitlines(keepends=True)
        for start in range(0, max(0, len(lines) - 30), 90):  # 30-line pieces: chains end mid-function
            snippets.append("".join(lines[start:start + 30]))
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        ledger.add([Entry("codex", "gpt-5", s, "assistant-log") for s in snippets], FastHasher(KEY), KEY, "k")
        ledger.compact()
        texts = [read(p) for p in paths[:6]]
        # Edited copies: every seventh line replaced, so gaps and ends have inserted lines.
        texts += ["".join(line if i % 7 else "    changed_%d = value()\n" % i
                          for i, line in enumerate(t.splitlines(keepends=True))) for t in texts[:3]]
        attributed = 0
        for text in texts:
            added = range(1, text.count("\n") + 2)
            fast = attribution.attribute_text(text, added, FastHasher(KEY), ledger.lookup, ledger.record_tokens,
                                              "m.py")
            with monkeypatch.context() as m:
                m.setattr(attribution, "tokenize", tokenize_pure)
                m.setattr(fpindex, "_speedups", None)
                for name, reference in attribution.REFERENCE_HELPERS.items():
                    m.setattr(attribution, name, reference)
                pure = attribution.attribute_text(text, added, PureHasher(KEY), ledger.lookup,
                                                  ledger.record_tokens, "m.py")
            assert fast == pure
            attributed += len(fast)
        assert attributed > 500


def test_pure_python_is_forced_by_the_environment():
    """AIGUARD_PURE_PYTHON=1 picks the reference at import; unset, the accelerator."""
    import subprocess
    import sys

    probe = "import aiguard.core.fingerprint as F; print(F.ACCELERATED, F.Hasher.__name__, F.tokenize.__name__)"
    env = {k: v for k, v in os.environ.items() if k != "AIGUARD_PURE_PYTHON"}
    fast = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    pure = subprocess.run([sys.executable, "-c", probe], env={**env, "AIGUARD_PURE_PYTHON": "1"},
                          capture_output=True, text=True, check=True)
    assert fast.stdout.split() == ["True", "FastHasher", "_tokenize_fast"]
    assert pure.stdout.split() == ["False", "PureHasher", "tokenize_pure"]
    # `aiguard doctor` says which one runs.
    doctor = [sys.executable, "-m", "aiguard", "doctor"]
    lines = subprocess.run(doctor, env=env, capture_output=True, text=True).stdout.splitlines()
    assert "ok   matcher: compiled accelerator (aiguard.core._speedups)" in lines
    lines = subprocess.run(doctor, env={**env, "AIGUARD_PURE_PYTHON": "1"}, capture_output=True, text=True).stdout
    assert "ok   matcher: pure Python (AIGUARD_PURE_PYTHON is set)" in lines.splitlines()


def test_abstract_stream_placeholders():
    """Identifiers, strings and numbers are one digest each in the abstract stream."""
    tokens = tokenize_pure("a = 'x' + 1\nb = \"y\" + 2.5\n", F.HASH).tokens
    pure, fast = hashers(KEY)
    digests = fast.token_digests(tokens, ABSTRACT)
    assert digests == pure.token_digests(tokens, ABSTRACT)
    assert digests[0] == digests[5] and digests[2] == digests[7] and digests[4] == digests[9]
    assert len({digests[0], digests[2], digests[4]}) == 3
    assert fast.token_digests(tokens, RAW) != digests


# The fourth round (issue 12): attribute_text's own per-token Python. Chains share records,
# streams, counts and positions, so the order (raw first, then the most covered, then the
# record, then the list's own order) and the first owner of a position decide; the records'
# votes on a line tie often, so the first vote cast among equals decides too.
chain_lists = st.lists(st.tuples(st.sampled_from(STREAMS), st.integers(0, 6), st.integers(1, 5),
                                 st.sets(st.integers(0, 39), max_size=25), st.sets(st.integers(0, 39), max_size=8)),
                       max_size=8)


@settings(max_examples=500, deadline=None)
@given(chains=chain_lists,
       line_tokens=st.dictionaries(st.integers(0, 30), st.lists(st.integers(0, 39), min_size=1, max_size=9),
                                   max_size=12),
       shares=st.sampled_from([(attribution.EXTEND_SHARE, attribution.LINE_SHARE), (0.0, 0.0), (1.0, 0.3)]))
def test_chain_owners_match_the_reference(chains, line_tokens, shares):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(attribution, "_line_owners", REF["_line_owners"])  # the reference all the way down
        pure = REF["_chain_owners"](chains, line_tokens, 40, *shares)
    fast = _speedups.chain_owners(chains, line_tokens, 40, RAW, *shares)
    assert list(fast.items()) == list(pure.items())


def test_chain_owners_refuse_positions_outside_the_tokens():
    with pytest.raises(ValueError):
        _speedups.chain_owners([(RAW, 1, 1, {40}, set())], {0: [0]}, 40, RAW, 0.4, 0.5)
    with pytest.raises(ValueError):
        _speedups.chain_owners([(RAW, 1, 1, {0}, set())], {0: [-1]}, 40, RAW, 0.4, 0.5)


@settings(max_examples=300, deadline=None)
@given(tokens=token_lists, indices=st.lists(st.integers(-12, 11), max_size=20), n=st.integers(-2, 12))
def test_first_lines_and_index_mask_match_the_reference(tokens, indices, n):
    assert _speedups.first_lines(tokens) == REF["_first_lines"](tokens)
    try:
        pure = REF["_index_mask"](indices, n)
    except IndexError:
        with pytest.raises(IndexError):
            _speedups.index_mask(indices, n)
    else:
        fast = _speedups.index_mask(indices, n)
        assert fast == pure and type(fast) is bytearray


@settings(max_examples=300, deadline=None)
@given(found=st.dictionaries(st.integers(-6, 6), st.lists(st.tuples(st.integers(1, 4), st.integers(0, 9)),
                                                          max_size=6), max_size=12))
def test_sole_hits_match_the_reference(found):
    assert _speedups.sole_hits(found) == REF["_sole_hits"](found)


def occurrence_calls(occurrences, pairs, verdicts):
    """The chains `occurrences` hands to evaluate, in order, with evaluate's answers drawn
    from the chain itself (so both versions get the same answers to the same chains)."""
    calls = []

    def evaluate(chain):
        calls.append(list(chain))
        return verdicts[sum(q * 7 + r for q, r in chain) % len(verdicts)]

    occurrences(pairs, evaluate)
    return calls


@settings(max_examples=500, deadline=None)
@given(pairs=st.lists(st.tuples(st.one_of(st.integers(0, 30), st.integers(0, 1300)), st.integers(0, 40)),
                      max_size=50),
       verdicts=st.lists(st.booleans(), min_size=1, max_size=5))
def test_occurrences_match_the_reference(pairs, verdicts):
    fast = occurrence_calls(attribution._occurrences, pairs, verdicts)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(attribution, "_longest_chain", REF["_longest_chain"])
        pure = occurrence_calls(REF["_occurrences"], pairs, verdicts)
    assert fast == pure


def test_occurrences_pass_evaluate_errors_on():
    def evaluate(chain):
        raise KeyError("from evaluate")

    with pytest.raises(KeyError, match="from evaluate"):
        attribution._occurrences([(0, 0), (5, 5)], evaluate)


@settings(max_examples=500, deadline=None)
@given(looked=st.lists(st.integers(0, 1), max_size=60).map(bytearray),
       hits=st.lists(st.tuples(st.integers(0, 70), st.integers(0, 9)), max_size=20),
       w=st.integers(1, 9), q1=st.integers(0, 65), length=st.integers(-3, 40))
def test_barred_before_matches_the_reference(looked, hits, w, q1, length):
    args = (looked, hits, w, q1, q1 + length)
    assert _speedups.barred_before(*args) == REF["_barred_before"](*args)


@settings(max_examples=800, deadline=None)
@given(result=st.dictionaries(st.integers(-2, 16), st.integers(1, 2), max_size=8),
       added=st.sets(st.integers(-3, 18), min_size=10, max_size=22),
       with_tokens=st.sets(st.integers(-3, 18), max_size=14), line_count=st.integers(0, 18))
@example(result={0: 1, 6: 1}, added=set(range(8)), with_tokens={0, 2, 3, 6}, line_count=8)  # 2 code lines: > TOKENLESS_SKIP
@example(result={0: 1, 6: 1}, added=set(range(8)), with_tokens={0, 2, 6}, line_count=8)
def test_fill_tokenless_matches_the_reference(result, added, with_tokens, line_count):
    args = (result, added, with_tokens, line_count)
    fast = attribution._fill_tokenless(*args)
    pure = REF["_fill_tokenless"](*args)
    assert list(fast.items()) == list(pure.items())
