"""A record's line hashes in the SQLite ledger (schema 4): stored, read, pruned, counted,
and ledgers made before them still working (attribution._line_evidence reads them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiguard.core.attribution import attribute_text
from aiguard.core.fingerprint import Hasher, fingerprint_record
from aiguard.store import fpindex
from aiguard.store.ledger import SCHEMA_VERSION, Entry, Ledger, index_file
from conftest import SETTINGS_READER as RECORD, paste_into_typing as pasted

KEY = b"record-lines-test-key-32-bytes!!"
RECORD_LINES = RECORD.splitlines(True)
PASTE = RECORD_LINES[6:15]  # a comment on top, a `)` at the bottom: found only by line hashes


def record(ledger: Ledger, text: str = RECORD, model: str = "gpt-5"):
    return ledger.add([Entry("codex", model, text, file="settings.py")], Hasher(KEY), KEY, "id-test")


def attribute(ledger: Ledger) -> tuple[dict[int, int], list[int]]:
    text, added = pasted(PASTE)
    return attribute_text(text, added, Hasher(KEY), ledger.lookup, ledger.record_tokens, "typing.py",
                          record_lines=ledger.record_lines), added


def back_to_schema_3(path: Path) -> None:
    """The ledger as aiguard left it before line hashes: no record_lines table, schema 3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE record_lines")
    conn.execute("PRAGMA user_version = 3")
    conn.close()


def test_a_record_keeps_its_line_hashes_and_never_its_text(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        assert record(ledger).added == 1
        lines = ledger.record_lines([1])[1]
        assert lines == fingerprint_record(RECORD, Hasher(KEY), "settings.py").lines
        assert len(lines.hashes) == len([line for line in RECORD_LINES if line.strip()])
        blob = ledger.conn.execute("SELECT lines FROM record_lines").fetchone()[0]
        assert len(blob) == 8 + 8 * len(lines.hashes)  # the salt, then a position and a hash per line
        assert not any(line.strip().encode() in blob for line in RECORD_LINES if len(line.strip()) >= 4)
        stats = ledger.stats()
        assert stats["records_with_lines"] == 1 and stats["line_hashes"] == len(lines.hashes)
        found, added = attribute(ledger)
        assert found == {line: 1 for line in added}


def test_line_hashes_stay_out_of_the_index_file_and_go_with_pruning(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        record(ledger)
        count = ledger.fingerprint_count()
        assert ledger.compact() == count  # fingerprints only: the index holds what it held before
        index = fpindex.Index.open(index_file(path))
        try:
            assert index.count == count
        finally:
            index.close()
        found, added = attribute(ledger)
        assert found == {line: 1 for line in added}
        assert ledger.prune(0, now=2e10) == 1
        assert ledger.record_lines([1]) == {}
        assert ledger.conn.execute("SELECT count(*) FROM record_lines").fetchone()[0] == 0


def test_a_schema_3_ledger_works_as_it_is_and_after_migration(tmp_path):
    """A ledger made before line hashes: the hook reads it unmigrated (no table), the paste
    is found by its k-grams without its edge lines; migrated, old records still have no line
    hashes, a new sighting of the same text gives them, and new records get theirs."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        record(ledger)
    back_to_schema_3(path)
    with Ledger.open_readonly(path) as reader:
        assert reader.stats()["schema"] == 3 and reader.stats()["line_hashes"] == 0
        assert reader.record_lines([1]) == {}
        found, added = attribute(reader)
        assert found and added[0] not in found and added[-1] not in found
        assert set(found) <= set(added)
    with Ledger.open(path) as ledger:
        assert ledger.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert ledger.record_lines([1]) == {}
        found, _added = attribute(ledger)
        assert added[0] not in found
        assert record(ledger).duplicates == 1  # seen again: its line hashes are kept now
        assert set(ledger.record_lines([1])) == {1}
        found, added = attribute(ledger)
        assert found == {line: 1 for line in added}
        assert record(ledger, model="other").added == 1
        assert set(ledger.record_lines([1, 2])) == {1, 2}
