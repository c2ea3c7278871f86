"""The common-code filter: public boilerplate recorded as model output is no evidence.

The ledger keys the shipped list (src/aiguard/data/common_code.json.gz, built by
benchmarks/stoplist.py from public packages) with its own key and never stores a
fingerprint on it. These tests use a real SQLite ledger in a temporary folder and
the pure matcher; the snippets are invented for the tests and kept minimal.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aiguard.store import common_code
from aiguard.core.attribution import attribute_text
from aiguard.core.fingerprint import ABSTRACT, LINES, PARAMS, RAW, STREAMS, Hasher, fingerprint_text
from aiguard.store.ledger import _MIGRATIONS, SCHEMA_VERSION, Entry, Ledger
from conftest import MERGE_INTERVALS, aiguard

KEY = b"common-code-test-key-32-bytes!!!"
OTHER_KEY = b"another-ledger-key-of-32-bytes!!"

# Every logical line of this is common in public code (the shipped list says so; a
# test below checks it): script set-up an assistant writes around any real code.
BOILERPLATE_HEAD = '''\
import argparse
import logging
import os
import sys

logger = logging.getLogger(__name__)


def main():
    parser = argparse.ArgumentParser()
    args = parser.parse_args()
'''
BOILERPLATE_TAIL = '''\
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
BOILERPLATE = BOILERPLATE_HEAD + BOILERPLATE_TAIL

# A human script: the same boilerplate around the author's own code.
HUMAN_SCRIPT = BOILERPLATE_HEAD + '''\
    for name in sorted(os.listdir(".")):
        if name.endswith(".log") and os.path.getsize(name) > 1024:
            logger.warning("large log file %s", name)
''' + BOILERPLATE_TAIL

# Model output: the same boilerplate around genuine code.
AI_SCRIPT = MERGE_INTERVALS + "\n\n" + BOILERPLATE_HEAD + '''\
    print(merge_intervals([[1, 3], [2, 6], [8, 10], [15, 18]]))
''' + BOILERPLATE_TAIL


def open_ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "ledger.sqlite3")


def record(ledger: Ledger, text: str, key: bytes = KEY, file: str = "tool.py"):
    return ledger.add([Entry("codex", "gpt-5", text, file=file)], Hasher(key), key, f"id-{key[:4].hex()}")


def flagged(ledger: Ledger, text: str, key: bytes = KEY) -> dict[int, int]:
    """Lines of a new file (every line added) that the commit hook would attribute."""
    lines = range(1, text.count("\n") + 2)
    return attribute_text(text, lines, Hasher(key), ledger.lookup, ledger.record_tokens, "script.py")


def line_numbers(text: str, needle: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), 1) if needle in line}


# --- the behaviour ---------------------------------------------------------------------------


def test_boilerplate_alone_is_not_recorded_and_flags_nothing(tmp_path):
    with open_ledger(tmp_path) as ledger:
        result = record(ledger, BOILERPLATE)
        assert result.added == 0
        assert result.skipped and "only common or repetitive code" in result.skipped[0][1]
        assert flagged(ledger, HUMAN_SCRIPT) == {}
        assert flagged(ledger, BOILERPLATE) == {}


def test_without_the_filter_the_same_boilerplate_would_be_flagged(tmp_path, monkeypatch):
    """What the filter is for: with no list, the recorded boilerplate matches the human script."""
    monkeypatch.setattr(common_code, "DATA_FILE", tmp_path / "missing.json.gz")
    with open_ledger(tmp_path) as ledger:
        assert record(ledger, BOILERPLATE).added == 1
        assert flagged(ledger, HUMAN_SCRIPT), "the test proves nothing: boilerplate never matched anyway"


def test_genuine_code_around_boilerplate_still_flags(tmp_path):
    with open_ledger(tmp_path) as ledger:
        assert record(ledger, AI_SCRIPT).added == 1
        # The human script shares only the boilerplate with it: nothing flagged.
        assert flagged(ledger, HUMAN_SCRIPT) == {}
        # Pasting the model's function flags the function, not the boilerplate around it.
        pasted = HUMAN_SCRIPT.replace("def main():", MERGE_INTERVALS + "\n\ndef main():")
        got = flagged(ledger, pasted)
        start = pasted[:pasted.index("def merge_intervals")].count("\n") + 1
        function = set(range(start, start + MERGE_INTERVALS.count("\n")))
        assert len(function & got.keys()) >= 0.9 * len(function), sorted(got)
        assert not got.keys() & line_numbers(pasted, "import "), sorted(got)
        assert not got.keys() & line_numbers(pasted, "__main__"), sorted(got)
        # And the whole model output pasted as it was is still found.
        assert len(flagged(ledger, AI_SCRIPT)) >= MERGE_INTERVALS.count("\n")


def test_boilerplate_lines_are_on_the_shipped_list():
    """The snippets above are boilerplate by the data, not by the test's say-so."""
    hasher = Hasher(KEY)
    lines = {value for kind, value in common_code.keyed(common_code.load(), hasher) if kind == LINES}
    seen = []

    def common(kind, hashes):
        if kind == LINES:
            seen.extend(hashes)
            return [h for h in hashes if h in lines]
        return []

    fingerprints, tokens = fingerprint_text(BOILERPLATE, hasher, "a.py", common)
    assert tokens > 40 and fingerprints == []
    assert seen and set(seen) <= lines


def test_masking_happens_before_winnowing():
    """A masked k-gram's window picks another one: no stored fingerprint is common, none lost needlessly."""
    hasher = Hasher(KEY)
    plain, _ = fingerprint_text(AI_SCRIPT, hasher, "a.py")
    stop = {(f.stream, f.hash) for f in plain[::3]}
    masked, _ = fingerprint_text(AI_SCRIPT, hasher, "a.py",
                                 lambda kind, hashes: [h for h in hashes if (kind, h) in stop])
    assert not {(f.stream, f.hash) for f in masked} & stop
    assert len(masked) >= len(plain) - len(stop)  # other k-grams stood in for most of them


# --- keying, versions, migration --------------------------------------------------------------


def table(ledger: Ledger) -> set[tuple[int, int]]:
    return set(ledger.conn.execute("SELECT kind, hash FROM common_code"))


def test_list_is_keyed_once_per_key(tmp_path, monkeypatch):
    with open_ledger(tmp_path) as ledger:
        record(ledger, AI_SCRIPT)
        first = table(ledger)
        expected = set(common_code.keyed(common_code.load(), Hasher(KEY)))
        assert first == expected
        assert {kind for kind, _ in first} == {RAW, ABSTRACT, LINES}
        meta = ledger.conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()[0]
        assert meta == f"id-{KEY[:4].hex()} {common_code.version()}"
        # Unchanged key and list: nothing is keyed again.
        keyed = common_code.keyed
        monkeypatch.setattr(common_code, "keyed", lambda *args: pytest.fail("keyed again"))
        assert record(ledger, MERGE_INTERVALS.replace("merged", "joined")).added == 1
        assert table(ledger) == first
        # Another key (a new install's): keyed again, to other values.
        monkeypatch.setattr(common_code, "keyed", keyed)
        record(ledger, AI_SCRIPT, key=OTHER_KEY)
        second = table(ledger)
        assert len(second) == len(first) and not second & first
        assert ledger.stats()["common_code"] == len(second)


@pytest.mark.parametrize("compacted", [False, True], ids=["in-sqlite", "in-index-file"])
def test_new_list_purges_fingerprints_recorded_before_it(tmp_path, monkeypatch, compacted):
    """Records made before the list (or before a newer list) lose their common k-grams,
    whether their fingerprints still wait in SQLite or were compacted into the index file."""
    real = common_code.DATA_FILE
    monkeypatch.setattr(common_code, "DATA_FILE", tmp_path / "missing.json.gz")
    with open_ledger(tmp_path) as ledger:
        record(ledger, AI_SCRIPT)
        hasher = Hasher(KEY)
        on_list = set(common_code.keyed(common_code.load(real), hasher))
        stored = set(ledger.conn.execute("SELECT stream, hash FROM fingerprints"))
        common = stored & on_list
        assert common, "the test proves nothing: no common k-gram was stored"
        if compacted:
            assert ledger.compact() == len(stored)
            assert ledger.index_path.exists()
            assert not list(ledger.conn.execute("SELECT 1 FROM fingerprints"))
        assert all(ledger.lookup(stream, [value]) for stream, value in common)
        assert table(ledger) == set()
        monkeypatch.setattr(common_code, "DATA_FILE", real)
        ledger.add([], hasher, KEY, f"id-{KEY[:4].hex()}")  # any write keys the new list
        assert not any(ledger.lookup(stream, [value]) for stream, value in common)
        assert not set(ledger.conn.execute("SELECT stream, hash FROM fingerprints")) & on_list
        assert ledger.fingerprint_count() == len(stored) - len(common)
        assert flagged(ledger, MERGE_INTERVALS)  # the genuine part still matches


def test_schema_1_ledger_is_migrated_and_keyed(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    readonly = Ledger.open_readonly(path)
    assert readonly.stats()["schema"] == 1 and readonly.stats()["common_code"] == 0  # the hook may read it as it is
    readonly.close()
    with Ledger.open(path) as ledger:
        assert ledger.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert table(ledger) == set()  # keyed on the first write, not on open
        record(ledger, AI_SCRIPT)
        assert table(ledger)


def test_missing_list_records_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(common_code, "DATA_FILE", tmp_path / "missing.json.gz")
    with open_ledger(tmp_path) as ledger:
        assert record(ledger, BOILERPLATE).added == 1
        assert table(ledger) == set()
        meta = ledger.conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()[0]
        assert meta.endswith(common_code.version()) and "none" in meta


# --- the shipped data -------------------------------------------------------------------------


def test_shipped_list_is_small_and_matches_the_matcher():
    data = common_code.DATA_FILE.read_bytes()
    assert len(data) < 1_000_000
    doc = json.loads(gzip.decompress(data))
    assert doc["format"] == common_code.FORMAT
    for stream in STREAMS:
        entry = doc["streams"][str(stream)]
        assert entry["k"] == PARAMS[stream].k, "k changed: rebuild with python benchmarks/stoplist.py"
        assert entry["count"] > 1000 and len(entry["grams"]) == entry["count"] * entry["k"]
    assert doc["lines"]["count"] > 500
    assert len(doc["min_packages"]) == 3 and doc["packages"] > 150


def test_the_hook_never_loads_the_list(tmp_path):
    """The commit hook only reads the ledger: keying and the data file stay out of its imports."""
    code = (
        "import sys\n"
        "from aiguard.hook import stamp\n"
        "from aiguard.git import changes\nfrom aiguard.store import ledger\n"
        "bad = [m for m in ('aiguard.store.common_code', 'gzip') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}).stdout.strip()
    assert "aiguard.store.common_code" not in out and "gzip" not in out, out


@pytest.mark.parametrize("kind", [RAW, ABSTRACT])
def test_stream_with_another_k_is_skipped(kind):
    doc = common_code.load()
    doc["streams"][str(kind)]["k"] += 1
    kinds = {k for k, _ in common_code.keyed(doc, Hasher(KEY))}
    assert kind not in kinds and LINES in kinds


# --- through the command line and a real commit ------------------------------------------------


def test_commit_with_the_same_boilerplate_is_human(repo):
    done = aiguard("record", "--tool", "codex", "--model", "gpt-5", input=BOILERPLATE.encode(), check=False)
    assert done.returncode == 2 and "only common or repetitive code" in done.stderr.decode()
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=AI_SCRIPT.encode())

    repo.write("clean_logs.py", HUMAN_SCRIPT)
    repo.git("add", "clean_logs.py")
    repo.git("commit", "-q", "-m", "Warn about large logs")
    trailers = dict(repo.trailers())
    assert "Assisted-by" not in trailers
    assert trailers["AI-Lines"] == f"0/{len(HUMAN_SCRIPT.splitlines())}"

    pasted = HUMAN_SCRIPT.replace("def main():", MERGE_INTERVALS + "\n\ndef main():")
    repo.write("clean_logs.py", pasted)
    repo.git("add", "clean_logs.py")
    repo.git("commit", "-q", "-m", "Merge intervals too")
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "codex:gpt-5"
    ai, added = map(int, trailers["AI-Lines"].split("/"))
    function = len(MERGE_INTERVALS.splitlines())
    # The function and none of the boilerplate around it. Its last line may go unclaimed:
    # the keys are new in every test, and where winnowing put the fingerprints depends on them.
    assert added == function + 2 and function - 1 <= ai <= function
