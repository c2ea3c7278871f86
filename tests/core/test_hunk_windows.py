"""Hunk-scoped matching gives the whole file's result (issue 12, point 1).

attribute_text tokenises only windows around the added lines; `whole_file=True` is the
reference that tokenises everything. The windows must start and end outside comments
and strings, which a scan of comment and string literals alone tells
(fingerprint.literal_pattern): checked here against the tokenizer itself.

Real code: stdlib modules and C headers from this machine; the recorded functions are
functions of those modules, so the files hold real matches (and copies of them).
"""

from __future__ import annotations

import ast
import glob
import os
import random
import sysconfig
import textwrap

import pytest

from aiguard.core import fingerprint
from aiguard.core.attribution import _LineOffsets, _Literals, attribute_text
from aiguard.core.fingerprint import CLIKE, DASH, GENERIC, HASH, literal_pattern
from conftest import MemoryLedger

KEY = b"hunk-window-test-key-32-bytes!!!"
STDLIB = sysconfig.get_paths()["stdlib"]
MODULES = ["argparse.py", "inspect.py", "typing.py", "tarfile.py", "pydoc.py", "doctest.py", "_pyio.py",
           "asyncio/base_events.py", "email/_header_value_parser.py", "difflib.py", "textwrap.py", "json/decoder.py",
           "shlex.py", "string.py", "ast.py"]


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return fh.read()


def tokenizer_literals(text: str, syntax: str) -> list[tuple[int, int]]:
    """(start without the string prefix, end) of the tokenizer's comment and string tokens."""
    out = []
    for m in fingerprint._token_re(syntax).finditer(text):
        if m.lastindex == fingerprint._COMMENT_GROUP:
            out.append(m.span())
        elif m.lastindex == fingerprint._STRING_GROUP:
            value = m.group()
            out.append((m.start() + len(value) - len(value.lstrip("rRbBuUfF")), m.end()))
    return out


def scanned_literals(text: str, syntax: str) -> list[tuple[int, int]]:
    return [m.span() for m in literal_pattern(syntax).finditer(text) if m.lastindex is None]


PIECES = ['"', "'", '"""', "'''", "`", "#", "//", "/*", "*/", "{-", "-}", "--", "\\", "\n", "\n", " ", "\t",
          "r", "b", "f", "rb", "x", "ab", "1e", "0x", "(", "*", "/", "-", "{", "=", "#include", "  //", " #", "$"]


@pytest.mark.parametrize("syntax", [HASH, CLIKE, DASH, GENERIC])
def test_literal_scan_finds_the_tokenizers_comments_and_strings_in_random_text(syntax):
    rng = random.Random(f"literals-{syntax}")
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 40)))
        assert scanned_literals(text, syntax) == tokenizer_literals(text, syntax), repr(text)


def test_literal_scan_finds_the_tokenizers_comments_and_strings_in_real_files():
    files = [os.path.join(STDLIB, m) for m in MODULES] + sorted(glob.glob("/usr/include/*.h"))[:40]
    checked = 0
    for path in files:
        text = read(path)
        for syntax in (HASH, CLIKE, DASH, GENERIC):
            assert scanned_literals(text, syntax) == tokenizer_literals(text, syntax), (path, syntax)
        checked += 1
    assert checked >= len(MODULES)


def inside_by_scan(text: str, syntax: str) -> list[bool]:
    """For each line start: inside a literal, by the plain literal scan of the whole text."""
    spans = [span for span in scanned_literals(text, syntax) if "\n" in text[span[0]:span[1]]]
    starts = [0] + [n + 1 for n, c in enumerate(text) if c == "\n"]
    return [any(a < s < b for a, b in spans) for s in starts[:text.count("\n") + 1]]


def inside_by_literals(text: str, syntax: str) -> list[bool]:
    """The same, as _Literals answers it (openers found with str.find, lines scanned on demand)."""
    line_count = text.count("\n") + 1
    literals = _Literals(text, syntax, _LineOffsets(text), line_count)
    return [False] + [literals._span_over(line) is not None for line in range(1, line_count)]


@pytest.mark.parametrize("syntax", [HASH, CLIKE, DASH, GENERIC])
def test_line_starts_inside_literals_as_the_scan_says(syntax):
    rng = random.Random(f"inside-{syntax}")
    for _ in range(2000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 60)))
        assert inside_by_literals(text, syntax) == inside_by_scan(text, syntax), repr(text)
    for module in MODULES[:5]:
        text = read(os.path.join(STDLIB, module))
        assert inside_by_literals(text, syntax) == inside_by_scan(text, syntax), module


class MemoryIndex(MemoryLedger):
    def __init__(self):
        super().__init__(KEY, skip_empty=True)

    def both(self, text: str, added, path: str) -> tuple[dict[int, int], dict[int, int]]:
        args = (text, added, self.hasher, self.lookup, self.record_tokens, path)
        return attribute_text(*args), attribute_text(*args, whole_file=True)


def functions(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 5:
            out.append(textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno])))
    return out


@pytest.fixture(scope="module")
def ledger_and_files():
    rng = random.Random("ledger")
    index = MemoryIndex()
    texts = {m: read(os.path.join(STDLIB, m)) for m in MODULES}
    recorded = []
    for m, text in texts.items():
        found = functions(text)
        for function in rng.sample(found, min(12, len(found))):
            index.add(function)
            recorded.append(function)
    return index, texts, recorded


def edits(rng: random.Random, line_count: int) -> list[list[int]]:
    """Added-line sets: the first and last lines, one line, runs anywhere, several runs, all."""
    n = line_count
    out = [[1], [n], list(range(1, min(n, 30) + 1)), list(range(max(1, n - 30), n + 1)), list(range(1, n + 1))]
    for _ in range(4):
        runs = []
        for _ in range(rng.randrange(1, 6)):
            start = rng.randrange(1, n + 1)
            runs.extend(range(start, min(n, start + rng.choice([1, 2, 5, 20, 80])) + 1))
        out.append(sorted(set(runs)))
    return out


def test_windows_give_the_whole_files_result_for_random_edits(ledger_and_files):
    index, texts, _recorded = ledger_and_files
    rng = random.Random("edits")
    attributed = 0
    for module, text in texts.items():
        for added in edits(rng, text.count("\n")):
            windowed, whole = index.both(text, added, module)
            assert windowed == whole, (module, added[:5], len(added))
            attributed += bool(whole)
    assert attributed >= 30  # the ledger holds functions of these files: most edits match something


def test_windows_in_a_huge_file_and_edits_inside_docstrings(ledger_and_files):
    """~1 MB made of the modules one after another (and a C header, tokenised as C)."""
    index, texts, recorded = ledger_and_files
    huge = "".join(texts[m] for m in MODULES)
    while len(huge) < 1_000_000:
        huge += huge
    lines = huge.splitlines(keepends=True)
    rng = random.Random("huge")
    docstring_lines = [n + 1 for n, line in enumerate(lines) if line.strip() and '"""' not in line
                       and n > 0 and lines[n - 1].strip().startswith('"""') and not lines[n - 1].strip().endswith('"""', 3)]
    sets = edits(rng, len(lines))[:-1] + [[n] for n in rng.sample(docstring_lines, 4)]
    sets += [list(range(n, n + 15)) for n in rng.sample(docstring_lines, 4)]
    # Runs over recorded functions where they stand in the file (their first copy).
    starts = [huge[:huge.find(f.splitlines()[0].strip())].count("\n") + 1 for f in rng.sample(recorded, 6)]
    sets += [list(range(n - 3, n + 12)) for n in starts]
    attributed = 0
    for added in sets:
        windowed, whole = index.both(huge, added, "huge.py")
        assert windowed == whole, added[:5]
        attributed += bool(whole)
    assert attributed >= 6
    header = read(sorted(glob.glob("/usr/include/*.h"))[0]) * 20
    for added in edits(rng, header.count("\n")):
        windowed, whole = index.both(header, added, "x.h")
        assert windowed == whole


def test_context_reaches_further_than_any_step_looks():
    """The bounds CONTEXT_TOKENS rests on (attribution's comment), so a change to one of
    the constants it depends on cannot silently make windows differ from the whole file."""
    from aiguard.core import attribution as A
    from aiguard.core.fingerprint import PARAMS, RAW, STREAMS

    k_raw, w_raw, _ = PARAMS[RAW]
    assert A.CONTEXT_TOKENS > A.MAX_GAP_TOKENS + A.MAX_END_INSERTED + k_raw + w_raw  # end placements
    for stream in STREAMS:
        k, w, _ = PARAMS[stream]
        assert A.CONTEXT_TOKENS > k + w  # coverage past a chain's ends
        # Hits of two windows: further apart than an occurrence, and than a gap examined.
        assert 2 * A.CONTEXT_TOKENS - k > max(A.OCCURRENCE_GAP, A.MAX_GAP_TOKENS + k)


def test_windows_touching_is_that_of_their_tokens(ledger_and_files):
    """_windows gives the indices of the tokens on added lines along with the tokens (the
    matcher no longer finds them again): the same as _touching of those tokens, with
    one window (its list as it is) and with several (each window's shifted)."""
    from aiguard.core.attribution import _touching, _windows

    _index, texts, _recorded = ledger_and_files
    text = texts["argparse.py"]
    rng = random.Random("touching")
    for added in edits(rng, text.count("\n")):
        zero_based = {n - 1 for n in added}
        tokens, touching = _windows(text, HASH, zero_based, text.count("\n"))
        assert touching == _touching(tokens, zero_based)
