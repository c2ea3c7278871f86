"""The fingerprint index file: the format on its own, and the ledger compacting into it.

The model every test checks against is the plainest one: a dict of what went in.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aiguard.store import fpindex
from aiguard.core.fingerprint import ABSTRACT, RAW, STREAMS, Hasher, fingerprint_text
from aiguard.store.ledger import Entry, Ledger

KEY = b"fingerprint-index-test-key-32by!"


def top48(value: int) -> int:
    return (value & (2**64 - 1)) >> 16


def model_lookup(model: dict, stream: int, hashes) -> dict:
    """The file keeps a hash's top 48 bits: hashes that share them share their hits."""
    by_prefix: dict = {}
    for value, hits in model[stream].items():
        by_prefix.setdefault(top48(value), []).extend(hits)
    return {h: sorted(by_prefix[top48(h)]) for h in hashes if by_prefix.get(top48(h))}


def index_lookup(index: fpindex.Index, stream: int, hashes) -> dict:
    found: dict = {}
    index.lookup(stream, hashes, found)
    return {h: sorted(hits) for h, hits in found.items()}


def random_hashes(rng: random.Random, n: int) -> list[int]:
    """Signed 64-bit values with crowded buckets and shared 48-bit prefixes thrown in."""
    out = []
    for _ in range(n):
        value = rng.getrandbits(64)
        if rng.random() < 0.2:
            value = (value & ~(0xFFFF << 48)) | (7 << 48)  # many in bucket 7
        if out and rng.random() < 0.05:
            value = (out[-1] & ~0xFFFF) | rng.getrandbits(16)  # same top 48 bits as another
        out.append(value - (1 << 64) if value >= 1 << 63 else value)
    return out


def additions_of(rows) -> list[fpindex.Additions]:
    adds = [fpindex.Additions() for _ in STREAMS]
    for stream, value, record, pos in sorted(rows, key=lambda r: (r[0], r[1] & (2**64 - 1), r[2], r[3])):
        adds[stream].add(value, record, pos)
    return adds


def test_format_round_trip_merges_and_removals(tmp_path):
    rng = random.Random(5)
    path = tmp_path / "x.fpindex"
    model: dict = {s: {} for s in STREAMS}
    index = fpindex.Index.open(path)  # absent: empty
    assert index.count == 0 and index.watermark == 0
    record = 0
    every_hash: list[int] = []
    for round_ in range(6):
        rows = []
        for _ in range(rng.randint(1, 40)):
            record += 1
            for value in random_hashes(rng, rng.randint(1, 30)):
                stream = rng.choice(STREAMS)
                pos = rng.randint(0, fpindex.MAX_POS)
                rows.append((stream, value, record, pos))
        # Some rounds re-use hashes that are already in the file (common k-grams).
        rows += [(rng.choice(STREAMS), value, record, 1) for value in rng.sample(every_hash, min(10, len(every_hash)))]
        rows = list(dict.fromkeys(rows))
        for stream, value, rec, pos in rows:
            model[stream].setdefault(value, []).append((rec, pos))
            every_hash.append(value)
        removals = [[] for _ in STREAMS]
        if round_ in (3, 5):  # drop some records, as prune does
            gone = set(rng.sample(range(1, record), 5))
            removals = [index.entries_of(s, gone) for s in STREAMS]
            for s in STREAMS:
                for value in list(model[s]):
                    model[s][value] = [hit for hit in model[s][value] if hit[0] not in gone or
                                       (s, value, hit[0], hit[1]) in rows]
        written = fpindex.write(path, index, additions_of(rows), removals, record)
        index.close()
        index = fpindex.Index.open(path)
        assert written == index.count == sum(len(hits) for s in STREAMS for hits in model[s].values())
        assert index.watermark == record
        probe = list(dict.fromkeys(every_hash + random_hashes(rng, 500)))  # distinct, as callers give
        for stream in STREAMS:
            assert index_lookup(index, stream, probe) == model_lookup(model, stream, probe)
    assert path.stat().st_size == fpindex.file_size([v.count for v in index.views])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    index.close()


@pytest.mark.skipif(fpindex._speedups is None, reason="the C accelerator is not built")
def test_accelerated_lookup_fills_found_in_the_reference_order(tmp_path, monkeypatch):
    """Not only the same hits: the same order of `found`'s keys (sorted hashes) and of each
    hash's hits, which the matcher's later steps iterate. Crowded buckets (bucket 7) and
    shared 48-bit prefixes put equal top bits side by side, where the C sort orders them
    by the rest of the value."""
    rng = random.Random(11)
    path = tmp_path / "x.fpindex"
    stored = random_hashes(rng, 3000)
    rows = list(dict.fromkeys((RAW, value, 1 + n % 50, n % 300) for n, value in enumerate(stored + stored[:400])))
    fpindex.write(path, fpindex.Index.empty(path), additions_of(rows), [[], []], 50)
    index = fpindex.Index.open(path)
    probe = list(dict.fromkeys(rng.sample(stored, 2000) + random_hashes(rng, 2000)))
    rng.shuffle(probe)
    accelerated: dict = {}
    index.lookup(RAW, probe, accelerated)
    monkeypatch.setattr(fpindex, "_speedups", None)
    reference: dict = {}
    index.lookup(RAW, probe, reference)
    index.close()
    assert len(reference) > 1000
    assert list(accelerated.items()) == list(reference.items())


@pytest.mark.parametrize("accelerated", [True, False])
def test_a_record_past_the_watermark_is_damage(tmp_path, monkeypatch, accelerated):
    if accelerated and fpindex._speedups is None:
        pytest.skip("the C accelerator is not built")
    if not accelerated:
        monkeypatch.setattr(fpindex, "_speedups", None)
    path = tmp_path / "x.fpindex"
    rows = [(RAW, 10 << 40, 1, 0), (RAW, 20 << 40, 7, 3)]
    fpindex.write(path, fpindex.Index.empty(path), additions_of(rows), [[], []], 5)  # record 7 > 5
    index = fpindex.Index.open(path)
    assert index_lookup(index, RAW, [10 << 40]) == {10 << 40: [(1, 0)]}
    with pytest.raises(fpindex.IndexDamaged, match="past its watermark"):
        index_lookup(index, RAW, [10 << 40, 20 << 40])
    index.close()


def test_splice_edges(tmp_path):
    """Insertions before the first entry, after the last, and where an entry is removed."""
    path = tmp_path / "x.fpindex"
    base = [(RAW, v, 1, i) for i, v in enumerate([10 << 40, 20 << 40, 30 << 40])]
    fpindex.write(path, fpindex.Index.empty(path), additions_of(base), [[], []], 1)
    old = fpindex.Index.open(path)
    first, middle, last = (old.entries_with(RAW, [v << 40]) for v in (10, 20, 30))
    new = [(RAW, 5 << 40, 2, 0), (RAW, 20 << 40, 2, 9), (RAW, 40 << 40, 2, 0)]
    fpindex.write(path, old, additions_of(new), [first + middle + last, []], 2)
    old.close()
    index = fpindex.Index.open(path)
    assert index_lookup(index, RAW, [v << 40 for v in (5, 10, 20, 30, 40)]) == {
        5 << 40: [(2, 0)], 20 << 40: [(2, 9)], 40 << 40: [(2, 0)]}
    index.close()


@pytest.mark.parametrize("damage", ["truncated", "magic", "size"])
def test_damaged_file_is_refused_with_one_line(tmp_path, damage):
    path = tmp_path / "x.fpindex"
    fpindex.write(path, fpindex.Index.empty(path), additions_of([(RAW, 123, 1, 0)]), [[], []], 1)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:20])
    elif damage == "magic":
        path.write_bytes(b"NOTANIDX" + data[8:])
    else:
        path.write_bytes(data + b"\0" * 4)
    with pytest.raises(fpindex.IndexDamaged) as caught:
        fpindex.Index.open(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


# --- the ledger around it --------------------------------------------------------------------


def code(n: int) -> str:
    return (f"def transform_batch_{n}(rows_{n}, limit={n % 97 + 3}):\n"
            f"    picked_{n} = [row.value * {n + 1} for row in rows_{n} if row.weight > limit]\n"
            f"    picked_{n}.sort(key=lambda v: (v % {n % 11 + 2}, -v))\n"
            f"    return {{'total_{n}': sum(picked_{n}), 'count': len(picked_{n}) + {n}}}\n")


def entry(n: int) -> Entry:
    return Entry("codex", "gpt-5", code(n), "assistant-log", file="gen.py")


def expected_hits(ledger: Ledger, ns) -> dict:
    """What the ledger must answer for these records' fingerprints: computed from their text."""
    ids = {rid: n for rid, n in _ids(ledger, ns)}
    hasher = Hasher(KEY)
    model: dict = {s: {} for s in STREAMS}
    for rid, n in ids.items():
        fingerprints, _ = fingerprint_text(code(n), hasher, "gen.py", ledger.key_common_code(hasher, "k"))
        for f in fingerprints:
            model[f.stream].setdefault(f.hash, []).append((rid, f.pos))
    return model


def _ids(ledger: Ledger, ns):
    from aiguard.store.ledger import _text_digest
    for n in ns:
        row = ledger.conn.execute("SELECT id FROM records WHERE digest = ?", (_text_digest(code(n), KEY),)).fetchone()
        if row:
            yield row[0], n


def answers(ledger: Ledger, model: dict) -> dict:
    out = {}
    for stream in STREAMS:
        probe = list(model[stream])
        out[stream] = {h: sorted(hits) for h, hits in ledger.lookup(stream, probe).items()}
    return out


def wanted(model: dict) -> dict:
    return {s: {h: sorted(hits) for h, hits in model[s].items()} for s in STREAMS}


def add(ledger: Ledger, ns) -> None:
    result = ledger.add([entry(n) for n in ns], Hasher(KEY), KEY, "k")
    assert result.added == len(list(ns)), result.skipped


def test_compaction_keeps_every_answer_and_shrinks(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(0, 150))
        model = expected_hits(ledger, range(150))
        assert answers(ledger, model) == wanted(model)  # all still in SQLite
        waiting = ledger.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
        assert ledger.compact() == waiting > 0
        assert ledger.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 0
        assert answers(ledger, model) == wanted(model)  # all in the file
        add(ledger, range(150, 200))  # some in the file, some waiting
        model = expected_hits(ledger, range(200))
        assert answers(ledger, model) == wanted(model)
        assert ledger.fingerprint_count() == sum(len(h) for s in STREAMS for h in model[s].values())
        ledger.compact()
        assert answers(ledger, model) == wanted(model)
        counts = [sum(len(hits) for hits in model[s].values()) for s in STREAMS]
    # 10 bytes a fingerprint (plus padding), beside the fixed bucket directories
    size = ledger.index_path.stat().st_size
    assert size == fpindex.file_size(counts)
    assert size - fpindex.file_size([0, 0]) <= 10 * sum(counts) + 4
    with Ledger.open_readonly(path) as reader:
        assert answers(reader, model) == wanted(model)


def test_reader_keeps_its_view_while_a_writer_compacts(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(0, 60))
        ledger.compact()
        add(ledger, range(60, 90))
        model = expected_hits(ledger, range(90))
    reader = Ledger.open_readonly(path)
    try:
        assert answers(reader, model) == wanted(model)  # the file and the waiting rows
        with Ledger.open(path) as writer:
            assert writer.compact() > 0  # replaces the file and deletes the rows the reader used
        assert answers(reader, model) == wanted(model)  # same snapshot, same mapping
    finally:
        reader.close()
    with Ledger.open_readonly(path) as fresh:
        assert answers(fresh, model) == wanted(model)


def test_interrupted_compaction_leaves_no_duplicates(tmp_path):
    """The file is renamed in before SQLite commits; a crash there leaves rows the file also holds."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(0, 40))
        ledger.compact()
        add(ledger, range(40, 80))
        model = expected_hits(ledger, range(80))
        ledger.conn.execute("BEGIN IMMEDIATE")
        assert ledger._compact_locked() > 0
        ledger.conn.execute("ROLLBACK")  # as if the process died before COMMIT
        ledger._forget_reads()
        assert ledger.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0] > 0
        assert answers(ledger, model) == wanted(model)  # the watermark hides the leftovers
        assert ledger.fingerprint_count() == sum(len(h) for s in STREAMS for h in model[s].values())
        assert ledger.compact() == 0  # nothing new: it only deletes the leftovers
        assert ledger.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 0
        assert answers(ledger, model) == wanted(model)


def test_prune_removes_from_the_file_and_ids_are_never_reused(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(0, 30))
        newest = ledger.conn.execute("SELECT max(id) FROM records").fetchone()[0]
        ledger.compact()
        size = ledger.index_path.stat().st_size
        ledger.conn.execute("UPDATE records SET produced_at = 0 WHERE id > ?", (newest - 10,))  # the 10 newest are old
        old_ids = [rid for rid, n in _ids(ledger, range(20, 30))]
        old_model = expected_hits(ledger, range(20, 30))
        assert ledger.prune(30) == 10
        assert ledger.index_path.stat().st_size < size
        left = answers(ledger, old_model)
        assert not [hit for s in STREAMS for hits in left[s].values() for hit in hits if hit[0] in old_ids]
        assert ledger.fingerprint_records() == set(rid for rid, _ in _ids(ledger, range(20)))
        add(ledger, range(100, 101))  # a new record gets a new id, not a pruned one's
        assert ledger.conn.execute("SELECT max(id) FROM records").fetchone()[0] > max(old_ids)
        model = expected_hits(ledger, [*range(20), 100])
        assert answers(ledger, model) == wanted(model)


def test_writers_compact_when_enough_waits(tmp_path, monkeypatch):
    import aiguard.store.ledger as ledger_module
    monkeypatch.setattr(ledger_module, "COMPACT_ROWS", 300)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        add(ledger, range(5))
        assert not ledger.index_path.exists()  # a few records wait in SQLite
        for start in range(5, 60, 5):
            add(ledger, range(start, start + 5))
        assert ledger.index_path.exists()
        waiting = ledger.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
        assert waiting < 300
        assert ledger.compact_if_due() == 0  # not due: too little waits and no idle time given
        assert ledger.compact_if_due(idle_seconds=0) == waiting  # the daemon's idle compaction
        model = expected_hits(ledger, range(60))
        assert answers(ledger, model) == wanted(model)


def test_damaged_index_fails_the_hook_open(tmp_path, make_repo):
    from conftest import aiguard
    repo = make_repo()
    aiguard("install", cwd=repo.path)
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=code(1).encode())
    with Ledger.open() as ledger:
        ledger.compact()
        ledger.index_path.write_bytes(b"garbage" * 10)
    repo.write("a.py", code(1))
    repo.git("add", "a.py")
    done = repo.git("commit", "-q", "-m", "add a")
    assert "commit not stamped" in done.stderr.decode()
    assert "ledger.fpindex" in done.stderr.decode() and len(done.stderr.decode().strip().splitlines()) == 1
    assert repo.out("log", "-1", "--format=%s").strip() == "add a"


def test_migrating_a_schema_2_ledger_keeps_its_fingerprints(tmp_path):
    """A ledger from before the index file: its rows are looked up in SQLite, then compacted."""
    from aiguard.store.ledger import _MIGRATIONS
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(20))
        model = expected_hits(ledger, range(20))
    conn = sqlite3.connect(path, isolation_level=None)  # take it back to schema 2
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE r2 AS SELECT * FROM records")
    conn.execute("DROP TABLE records")
    for statement in _MIGRATIONS[0].split(";"):
        if "CREATE TABLE records" in statement or "ON records" in statement:
            conn.execute(statement)
    conn.execute("INSERT INTO records SELECT * FROM r2")
    conn.execute("DROP TABLE r2")
    conn.execute("DROP TABLE record_lines")
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.close()
    with Ledger.open_readonly(path) as reader:
        assert answers(reader, model) == wanted(model)
    with Ledger.open(path) as ledger:
        assert ledger.conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert ledger.compact() > 0
        assert answers(ledger, model) == wanted(model)
        add(ledger, range(20, 25))
        assert ledger.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()[0] >= 25


_COMPACTOR = """
import sys
from pathlib import Path
from aiguard.core.fingerprint import Hasher
from aiguard.store.ledger import Entry, Ledger
sys.path.insert(0, sys.argv[2])
from test_fpindex import KEY, entry
with Ledger.open(Path(sys.argv[1])) as ledger:
    n = 1000
    while True:
        ledger.add([entry(i) for i in range(n, n + 7)], Hasher(KEY), KEY, "k")
        n += 7
        ledger.compact()
        print(n, flush=True)
"""


@pytest.mark.parametrize("kill_after", [1, 4])
def test_kill_9_while_compacting_loses_and_doubles_nothing(tmp_path, kill_after):
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        add(ledger, range(40))
        ledger.compact()
    proc = subprocess.Popen([sys.executable, "-c", _COMPACTOR, str(path), str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(kill_after):
            assert proc.stdout.readline(), proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)  # somewhere in the next add or compaction
    finally:
        proc.kill()
        proc.wait()
    with Ledger.open(path) as ledger:
        assert ledger.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = dict(_ids(ledger, [*range(40), *range(1000, 1000 + 7 * (kill_after + 2))]))
        assert len(ids) >= 40 + 7 * kill_after
        model = expected_hits(ledger, ids.values())
        assert answers(ledger, model) == wanted(model)
        assert ledger.fingerprint_records() == set(ids)
        ledger.compact()
        assert answers(ledger, model) == wanted(model)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 1  # a killed compaction's temporary file, at most


def test_index_file_is_private(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        add(ledger, range(3))
        ledger.compact()
        assert stat.S_IMODE(ledger.index_path.stat().st_mode) == 0o600
        assert os.path.dirname(ledger.index_path) == str(tmp_path)


def test_stats_count_the_file(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        add(ledger, range(10))
        before = ledger.stats()
        ledger.compact()
        after = ledger.stats()
    assert after["fingerprints"] == before["fingerprints"] > 0
    assert before["index_bytes"] == 0 and after["index_bytes"] > 0


def test_abstract_and_raw_are_kept_apart(tmp_path):
    path = tmp_path / "x.fpindex"
    a, b = 99 << 20, 100 << 20
    fpindex.write(path, fpindex.Index.empty(path), additions_of([(RAW, a, 1, 0), (ABSTRACT, b, 2, 0)]), [[], []], 2)
    index = fpindex.Index.open(path)
    assert index_lookup(index, RAW, [a, b]) == {a: [(1, 0)]}
    assert index_lookup(index, ABSTRACT, [a, b]) == {b: [(2, 0)]}
    index.close()
