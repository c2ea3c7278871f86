"""The ledger: what external models wrote, as keyed fingerprints in SQLite.

Never plaintext: a record holds who wrote (tool, model, source), when, where
(repo, file) and keyed hashes: the fingerprints, and each line's salted hash and token
position (record_lines). WAL mode lets the daemon, assistant hooks and
`aiguard record` write at once while commit hooks read; every write is one
transaction, so `kill -9` at any moment leaves either all of a record or none.
Files are created 0600 inside the 0700 AIGUARD_HOME.

Fingerprints land in SQLite's `fingerprints` table first; `compact` moves them
into the memory-mapped index file next to it (aiguard.store.fpindex), at a third of
the size and several times the look-up speed. Writers compact when enough has
piled up, and the daemon when recording has been idle for a while.
"""

from __future__ import annotations

import os
import struct
import time

from aiguard.core.digests import blake2b
from aiguard.core.errors import AiguardError
from aiguard.store import fpindex, paths
from aiguard.core import names
from aiguard.core.attribution import RecordInfo
from aiguard.core.fingerprint import (LINE_SALT_BYTES, PARAMS, RAW, STREAMS, Common, Hasher, LineHashes,
                                      fingerprint_record)
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path
    from types import TracebackType
    from typing import Iterable, Iterator, Mapping, Sequence
else:
    # sqlite3 is a wrapper around the C module _sqlite3 (connect, Connection and the errors are
    # its own) that adds only the deprecated datetime adapters and converters, and imports
    # datetime for them: ~1.5 ms of the commit hook. The ledger passes and reads only
    # numbers, text and bytes, and never sets detect_types.
    try:
        import _sqlite3 as sqlite3
    except ImportError:  # a Python without CPython's C module
        import sqlite3

SOURCES = ("assistant-hook", "assistant-log", "clipboard", "manual")
DEFAULT_RETENTION_DAYS = 180
MAX_TEXT_BYTES = 2 * 1024 * 1024  # model output larger than this is not code anyone pasted
_LOOKUP_CHUNK = 900
# Fingerprints waiting in SQLite that make a writer compact them into the index: at least
# this many, or an eighth of the index (so building a big ledger rewrites it ~log times).
COMPACT_ROWS = 20_000
# Up to this many waiting fingerprints, a reader loads them at once instead of querying.
_LOAD_RECENT = 50_000
INDEX_SUFFIX = ".fpindex"


# A damaged index is never deleted nor rebuilt by aiguard: its fingerprints cannot be made
# again without the texts, which the ledger does not keep. The user decides.
_MOVE_ASIDE = "move it aside to go on (the fingerprints it held are lost)"


def index_file(ledger: str | Path) -> Path:
    """The fingerprint index file that goes with a ledger file."""
    from pathlib import Path

    return Path(index_name(os.fspath(ledger)))


def index_name(ledger: str) -> str:
    """index_file as a string, without pathlib (the commit hook's path): the ledger file's
    name with its last suffix replaced, as Path.with_suffix replaces it."""
    folder, name = os.path.split(ledger)
    dot = name.rfind(".")
    return os.path.join(folder, (name[:dot] if 0 < dot < len(name) - 1 else name) + INDEX_SUFFIX)


_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def file_uri(path: str) -> str:
    """Path(path).as_uri() without pathlib and urllib.parse: file:// and the path's bytes,
    percent-encoded but for letters, digits and _.-~/ (so ? and # cannot end the name)."""
    if not os.path.isabs(path):
        raise ValueError("relative path can't be expressed as a file URI")
    return "file://" + "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in os.fsencode(path))


def _log():
    import logging  # not at import time: the commit hook only reads, and logging costs it 4 ms

    return logging.getLogger(__name__)


class LedgerError(AiguardError):
    """The ledger cannot be opened or is damaged; the message says which file and why."""


class Entry(NamedTuple):
    """One piece of model output, as a source hands it to the ledger."""

    tool: str
    model: str
    text: str
    source: str = "manual"
    file: str | None = None
    repo: str | None = None
    time: float | None = None  # when the model produced it (unix time); default now


class AddResult(NamedTuple):
    added: int
    duplicates: int
    skipped: list[tuple[int, str]]  # (index of the entry, 0-based; why it was skipped)
    renamed: tuple[tuple[int, str], ...] = ()  # (index, why): a tool or model name outside the charset, sanitised


_MIGRATIONS = [
    # 1: records and their fingerprints.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        recorded_at REAL NOT NULL,
        produced_at REAL NOT NULL,
        tool TEXT NOT NULL,
        model TEXT NOT NULL,
        source TEXT NOT NULL,
        repo TEXT,
        file TEXT,
        key_id TEXT NOT NULL,
        digest BLOB NOT NULL,
        tokens INTEGER NOT NULL,
        lines INTEGER NOT NULL,
        fingerprints INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX records_identity ON records (digest, tool, model);
    CREATE INDEX records_produced ON records (produced_at);
    CREATE TABLE fingerprints (
        stream INTEGER NOT NULL,
        hash INTEGER NOT NULL,
        record INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        PRIMARY KEY (stream, hash, record, pos)
    ) WITHOUT ROWID;
    """,
    # 2: common code (common_code.py), keyed with the ledger key on the first write: kind is
    # fingerprint.RAW or ABSTRACT for k-grams, LINES for logical lines. Meta 'common_code'
    # names the key and the list version it was keyed for.
    """
    CREATE TABLE common_code (
        kind INTEGER NOT NULL,
        hash INTEGER NOT NULL,
        PRIMARY KEY (kind, hash)
    ) WITHOUT ROWID;
    """,
    # 3: record ids are never reused (AUTOINCREMENT): the index file covers every record up
    # to its watermark, so a new record must never get the id of a pruned one.
    """
    CREATE TABLE records_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recorded_at REAL NOT NULL,
        produced_at REAL NOT NULL,
        tool TEXT NOT NULL,
        model TEXT NOT NULL,
        source TEXT NOT NULL,
        repo TEXT,
        file TEXT,
        key_id TEXT NOT NULL,
        digest BLOB NOT NULL,
        tokens INTEGER NOT NULL,
        lines INTEGER NOT NULL,
        fingerprints INTEGER NOT NULL
    );
    INSERT INTO records_v3 SELECT id, recorded_at, produced_at, tool, model, source, repo, file,
        key_id, digest, tokens, lines, fingerprints FROM records;
    DROP TABLE records;
    ALTER TABLE records_v3 RENAME TO records;
    CREATE UNIQUE INDEX records_identity ON records (digest, tool, model);
    CREATE INDEX records_produced ON records (produced_at);
    """,
    # 4: a record's line hashes (fingerprint.LineHashes, packed by _pack_lines): its salt, and
    # the keyed hash and token position of each non-blank line, for the lines next to a matched chain
    # (attribution._line_evidence). Records made before have none. Read by record id only,
    # so they stay here and never go into the index file.
    """
    CREATE TABLE record_lines (
        record INTEGER PRIMARY KEY,
        lines BLOB NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _produced(when: float | None, now: float) -> float:
    """When the model produced it: `now` for an unknown time, one no date can show (a hostile
    log's 1e400 or NaN, which `ledger stats` could not print) or one in the future (it would
    outlive the retention period)."""
    if when is None or not _YEAR_ONE <= when <= now:  # NaN fails every comparison
        return now
    return when


_YEAR_ONE = -62135596800.0  # 0001-01-01T00:00:00Z, the first time a datetime shows


_LINES_SCHEMA = 4  # the first schema with the record_lines table


def _pack_lines(lines: LineHashes) -> bytes:
    """A record's line hashes as stored: the salt, the positions, then the hashes, unsigned
    32-bit little-endian."""
    n = len(lines.hashes)
    return lines.salt + struct.pack(f"<{2 * n}I", *lines.positions, *lines.hashes)


def _unpack_lines(blob: bytes) -> LineHashes:
    values = struct.unpack(f"<{(len(blob) - LINE_SALT_BYTES) // 4}I", blob[LINE_SALT_BYTES:])
    n = len(values) // 2
    return LineHashes(blob[:LINE_SALT_BYTES], values[:n], values[n:])


def _text_digest(text: str, key: bytes) -> bytes:
    """Keyed hash of the whitespace-normalised text: spots a re-recording, reveals nothing."""
    normal = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return blake2b(normal, key=key, person=b"aiguard-record", digest_size=16).digest()


class Ledger:
    def __init__(self, conn: sqlite3.Connection, path: str | Path, readonly: bool = False):
        self.conn = conn
        self.file = os.fspath(path)
        self.readonly = readonly
        self._index: fpindex.Index | None = None
        # Fingerprints still in SQLite, by stream and hash; None: too many, query them.
        self._recent: list[dict[int, list[tuple[int, int]]]] | None = None
        self._schema_version: int | None = None

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.file)

    @property
    def index_path(self) -> Path:
        return index_file(self.file)

    @classmethod
    def open(cls, path: Path | None = None) -> "Ledger":
        """Open for writing, creating and migrating as needed."""
        path = path or paths.ledger_path()
        if path.parent == paths.home():
            paths.ensure_home()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            _set_wal(conn, deadline=time.monotonic() + 30)
            conn.execute("PRAGMA synchronous=NORMAL")
            ledger = cls(conn, path)
            ledger._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"ledger {path} is unusable: {exc}") from None
        return ledger

    @classmethod
    def open_readonly(cls, path: str | Path | None = None) -> "Ledger | None":
        """Open for reading only (the commit hook); None when no ledger exists yet."""
        path = os.fspath(path or paths.ledger_file())
        if not os.path.exists(path):
            return None
        try:
            conn = sqlite3.connect(f"{file_uri(path)}?mode=ro", uri=True, timeout=5, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"ledger {path} is unusable: {exc}") from None
        if version == 0:
            conn.close()
            return None  # created but never written
        if version > SCHEMA_VERSION:
            conn.close()
            raise LedgerError(f"ledger {path} was written by a newer aiguard (schema {version}); upgrade aiguard")
        return cls(conn, path, readonly=True)

    def close(self) -> None:
        self._forget_reads()
        self.conn.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise LedgerError(f"ledger {self.path} was written by a newer aiguard (schema {version}); upgrade aiguard")
        with self._writing():
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another writer may have migrated
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _writing(self) -> _Transaction:
        """`with self._writing() as conn:` one write transaction: BEGIN IMMEDIATE (writers queue,
        readers go on), COMMIT, or ROLLBACK on any error. Whatever this object read before is
        forgotten either way."""
        return _Transaction(self)

    # Writing -------------------------------------------------------------------------

    def add(self, entries: Iterable[Entry], hasher: Hasher, key: bytes, key_id: str,
            retention_days: float | None = None) -> AddResult:
        """Fingerprint and store entries, one transaction each; skips say why.

        Common code is never stored (see key_common_code). With retention_days,
        output produced longer ago than that is not stored (pruning would delete
        it again at once).
        """
        added = duplicates = 0
        skipped: list[tuple[int, str]] = []
        oldest = time.time() - retention_days * 86400 if retention_days else None
        common = self.key_common_code(hasher, key_id)
        renamed: list[tuple[int, str]] = []
        for n, entry in enumerate(entries):
            entry, why = _clean_names(entry)
            if why:
                renamed.append((n, why))
            reason = _invalid(entry)
            if reason is None and oldest is not None and entry.time is not None and entry.time < oldest:
                reason = f"older than the retention period ({retention_days:g} days)"
            if reason:
                skipped.append((n, reason))
                continue
            fingerprints, tokens, lines = fingerprint_record(entry.text, hasher, entry.file, common)
            if not fingerprints:
                if tokens >= PARAMS[RAW].k:
                    skipped.append((n, f"nothing to recognise: only common or repetitive code ({tokens} tokens)"))
                else:
                    skipped.append((n, f"too short to recognise ({tokens} tokens)"))
                continue
            now = time.time()
            produced = _produced(entry.time, now)
            digest = _text_digest(entry.text, key)
            with self._writing() as conn:
                row = conn.execute(
                    "SELECT id, produced_at FROM records WHERE digest = ? AND tool = ? AND model = ?",
                    (digest, entry.tool, entry.model),
                ).fetchone()
                if row:
                    if produced > row[1]:  # keep it as long as its newest sighting warrants
                        conn.execute("UPDATE records SET produced_at = ? WHERE id = ?", (produced, row[0]))
                    # A record made before line hashes were kept gets them from its next sighting.
                    conn.execute("INSERT OR IGNORE INTO record_lines (record, lines) VALUES (?, ?)",
                                 (row[0], _pack_lines(lines)))
                    duplicates += 1
                else:
                    cursor = conn.execute(
                        "INSERT INTO records (recorded_at, produced_at, tool, model, source, repo, file,"
                        " key_id, digest, tokens, lines, fingerprints) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (now, produced, entry.tool, entry.model, entry.source, entry.repo, entry.file,
                         key_id, digest, tokens, entry.text.count("\n") + 1, len(fingerprints)),
                    )
                    record = cursor.lastrowid
                    conn.executemany(
                        "INSERT OR IGNORE INTO fingerprints (stream, hash, record, pos) VALUES (?,?,?,?)",
                        ((f.stream, f.hash, record, f.pos) for f in fingerprints),
                    )
                    conn.execute("INSERT INTO record_lines (record, lines) VALUES (?, ?)", (record, _pack_lines(lines)))
                    added += 1
        if added:
            try:
                self.compact_if_due()
            except (OSError, LedgerError, sqlite3.OperationalError) as exc:  # the records are safe in SQLite
                _log().warning("ledger index not compacted: %s", exc)
        return AddResult(added, duplicates, skipped, tuple(renamed))

    def key_common_code(self, hasher: Hasher, key_id: str) -> Common | None:
        """Key the shipped common-code list for this ledger key, once per key and list version.

        Then deletes stored fingerprints that are on the list (records made before
        it, or before a newer list), so that the commit hook, which only reads,
        never meets one and needs no filter of its own. Returns the test for
        fingerprint_text, or None when the list is empty or missing.
        """
        from aiguard.store import common_code  # only writers pay for reading the list

        wanted = f"{key_id} {common_code.version()}"
        conn = self.conn
        row = conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()
        if row is None or row[0] != wanted:
            keyed = list(common_code.keyed(common_code.load(), hasher))  # outside the write lock
            with self._writing():
                row = conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()
                if row is None or row[0] != wanted:  # another writer may have done it meanwhile
                    conn.execute("DELETE FROM common_code")
                    conn.executemany("INSERT OR IGNORE INTO common_code (kind, hash) VALUES (?, ?)", keyed)
                    # Older records lose their common k-grams; the line test needs plaintext, so it
                    # only applies to what is recorded from now on.
                    conn.executemany("DELETE FROM fingerprints WHERE stream = ? AND hash = ?",
                                     (entry for entry in keyed if entry[0] in STREAMS))
                    if self.index_path.exists():
                        self._compact_locked(drop_hashes={s: [h for kind, h in keyed if kind == s] for s in STREAMS})
                    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('common_code', ?)", (wanted,))
        if conn.execute("SELECT 1 FROM common_code LIMIT 1").fetchone() is None:
            return None
        return self._common_hashes

    def _common_hashes(self, kind: int, hashes: list[int]) -> list[int]:
        found: list[int] = []
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.extend(value for (value,) in self.conn.execute(
                f"SELECT hash FROM common_code WHERE kind = ? AND hash IN ({marks})", (kind, *chunk)))
        return found

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        """Delete records produced more than the given number of days ago."""
        cutoff = (now or time.time()) - older_than_days * 86400
        with self._writing() as conn:
            old = [r for (r,) in conn.execute("SELECT id FROM records WHERE produced_at < ?", (cutoff,))]
            for start in range(0, len(old), _LOOKUP_CHUNK):
                chunk = old[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"DELETE FROM fingerprints WHERE record IN ({marks})", chunk)
                conn.execute(f"DELETE FROM record_lines WHERE record IN ({marks})", chunk)
                conn.execute(f"DELETE FROM records WHERE id IN ({marks})", chunk)
            if old:  # their fingerprints leave the index file too, in this same transaction
                self._compact_locked(drop_records=set(old))
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_prune', ?)", (str(time.time()),)
            )
        if old:
            self._vacuum_if_sparse()
        return len(old)

    # The index file ------------------------------------------------------------------

    def compact(self) -> int:
        """Move the fingerprints waiting in SQLite into the index file; returns how many moved."""
        with self._writing():
            moved = self._compact_locked()
        if moved:
            self._vacuum_if_sparse()
        return moved

    def compact_if_due(self, idle_seconds: float | None = None) -> int:
        """Compact when enough waits in SQLite, or (with idle_seconds) when recording has been idle that long."""
        index = self._open_index()
        try:
            waiting, newest = self.conn.execute(
                "SELECT coalesce(sum(fingerprints), 0), max(recorded_at) FROM records WHERE id > ?",
                (index.watermark,),
            ).fetchone()
            due = waiting >= max(COMPACT_ROWS, index.count // 8) or (
                waiting > 0 and idle_seconds is not None and time.time() - newest >= idle_seconds)
        finally:
            index.close()
        return self.compact() if due else 0

    def _compact_locked(self, drop_records: set[int] | None = None,
                        drop_hashes: dict[int, list[int]] | None = None) -> int:
        """compact's work, inside the caller's write transaction; also drops records or hashes.

        The new file replaces the old before the transaction commits: a crash in between
        leaves SQLite rows the file already holds, which the watermark makes readers skip
        and the next compaction deletes.
        """
        conn = self.conn
        old = self._open_index()
        try:
            self._verified(old)  # never copy damage into a new file, with a checksum of its own
            watermark = old.watermark
            additions = [fpindex.Additions() for _ in STREAMS]
            for stream in STREAMS:
                adds = additions[stream]
                # Unsigned hash order, the index's: the non-negative hashes, then the negative ones.
                for condition in ("hash >= 0", "hash < 0"):
                    for value, record, pos in conn.execute(
                        f"SELECT hash, record, pos FROM fingerprints WHERE stream = ? AND {condition}"
                        " AND record > ? ORDER BY hash, record, pos", (stream, watermark)):
                        if pos <= fpindex.MAX_POS:
                            adds.add(value, record, pos)
            newest = conn.execute("SELECT max(record) FROM fingerprints").fetchone()[0]
            new_watermark = max(watermark, newest or 0)
            removals: list[list[int]] = [[] for _ in STREAMS]
            for stream in STREAMS:
                if drop_records:
                    removals[stream] = old.entries_of(stream, drop_records)
                if drop_hashes and drop_hashes.get(stream):
                    removals[stream] = sorted(set(removals[stream]) | set(old.entries_with(stream, drop_hashes[stream])))
            moved = sum(len(a) for a in additions)
            if moved or any(removals) or new_watermark != watermark:
                fpindex.write(self.index_path, old, additions, removals, new_watermark)
            conn.execute("DELETE FROM fingerprints WHERE record <= ?", (new_watermark,))
        finally:
            old.close()
        return moved

    def _vacuum_if_sparse(self) -> None:
        """Give back the space of the moved rows when it is most of the file (a first compaction)."""
        free, pages, size = (self.conn.execute(f"PRAGMA {name}").fetchone()[0]
                             for name in ("freelist_count", "page_count", "page_size"))
        if free * size > 1024 * 1024 and free * 2 > pages:
            try:
                self.conn.execute("VACUUM")
            except sqlite3.OperationalError as exc:  # busy: another time
                _log().info("ledger not vacuumed: %s", exc)

    def _open_index(self) -> fpindex.Index:
        try:
            return fpindex.Index.open(index_name(self.file))
        except (fpindex.IndexDamaged, OSError) as exc:
            raise LedgerError(f"{exc}; {_MOVE_ASIDE}") from None

    def _verified(self, index: fpindex.Index) -> fpindex.Index:
        try:
            index.verify()
        except fpindex.IndexDamaged as exc:
            raise LedgerError(f"{exc}; {_MOVE_ASIDE}") from None
        return index

    def verify_index(self) -> str:
        """Check the whole index file against its checksum; what was checked, or LedgerError."""
        index = self._open_index()
        try:
            self._verified(index)
            kind = "checksum verified" if index.format >= 2 else "format 1, no checksum (the next compaction adds one)"
            return f"{self.index_path}: {index.count} fingerprints, {kind}"
        finally:
            index.close()

    def _forget_reads(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        self._recent = None
        if self.readonly and self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _prepare_reads(self) -> fpindex.Index:
        """Open the index for look-ups, with the fingerprints still in SQLite beside it.

        A reader opens the index file after its SQLite snapshot starts: a compaction that
        commits later has renamed its file in before committing, so whichever file is
        opened, the snapshot's rows above its watermark complete it.
        """
        if self._index is not None:
            return self._index
        conn = self.conn
        if self.readonly and not conn.in_transaction:
            conn.execute("BEGIN")
            conn.execute("SELECT 1 FROM meta LIMIT 1").fetchone()  # the snapshot starts here
        index = self._open_index()
        rows = conn.execute("SELECT stream, hash, record, pos FROM fingerprints WHERE record > ? LIMIT ?",
                            (index.watermark, _LOAD_RECENT + 1)).fetchall()
        if len(rows) <= _LOAD_RECENT:
            recent: list[dict[int, list[tuple[int, int]]]] = [{} for _ in STREAMS]
            for stream, value, record, pos in rows:
                recent[stream].setdefault(value, []).append((record, pos))
            self._recent = recent
        self._index = index
        return index

    def prune_if_due(self, retention_days: float, every_seconds: float = 86400) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'last_prune'").fetchone()
        if row and time.time() - float(row[0]) < every_seconds:
            return 0
        return self.prune(retention_days)

    # Reading -------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def lookup(self, stream: int, hashes: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
        """{hash: [(record, position), ...]} for the hashes of one stream found in the ledger
        (distinct hashes: a list, or attribution's memoryview of int64s)."""
        index = self._prepare_reads()
        found: dict[int, list[tuple[int, int]]] = {}
        try:
            index.lookup(stream, hashes, found)
        except fpindex.IndexDamaged as exc:
            raise LedgerError(f"{exc}; {_MOVE_ASIDE}") from None
        if self._recent is not None:
            recent = self._recent[stream]
            if recent:
                for value in hashes:
                    hits = recent.get(value)
                    if hits:
                        found.setdefault(value, []).extend(hits)
            return found
        conn = self.conn
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for value, record, pos in conn.execute(
                f"SELECT hash, record, pos FROM fingerprints WHERE stream = ? AND hash IN ({marks}) AND record > ?",
                (stream, *chunk, index.watermark),
            ):
                found.setdefault(value, []).append((record, pos))
        return found

    def fingerprint_count(self) -> int:
        """Fingerprints held: in the index file, and still waiting in SQLite."""
        return sum(self._fingerprint_counts())

    def _fingerprint_counts(self) -> tuple[int, int]:
        """(in the index file, waiting in SQLite)."""
        index = self._open_index()
        try:
            waiting = self.conn.execute("SELECT count(*) FROM fingerprints WHERE record > ?",
                                        (index.watermark,)).fetchone()[0]
            return index.count, waiting
        finally:
            index.close()

    def fingerprint_records(self) -> set[int]:
        """Ids of the records that have fingerprints (a consistency check, for tests)."""
        index = self._open_index()
        try:
            found = {r for view in index.views for r in set(view.rec)}
            found.update(r for (r,) in self.conn.execute(
                "SELECT DISTINCT record FROM fingerprints WHERE record > ?", (index.watermark,)))
            return found
        finally:
            index.close()

    def record_info(self, ids: Iterable[int]) -> dict[int, RecordInfo]:
        ids = list(ids)
        info: dict[int, RecordInfo] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for rid, tool, model, source, tokens in self.conn.execute(
                f"SELECT id, tool, model, source, tokens FROM records WHERE id IN ({marks})", chunk
            ):
                info[rid] = RecordInfo(tool, model, source, tokens)
        return info

    def record_tokens(self, ids: Iterable[int]) -> Mapping[int, int]:
        """{record: its significant tokens}: record_info's `tokens` alone (the matcher asks for
        every record a hit names; the other columns and a RecordInfo per row cost as much)."""
        ids = list(ids)
        tokens: dict[int, int] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            tokens.update(self.conn.execute(f"SELECT id, tokens FROM records WHERE id IN ({marks})", chunk))
        return tokens

    def record_lines(self, ids: Iterable[int]) -> Mapping[int, LineHashes]:
        """{record: its line hashes} of the records that have them (attribution.RecordLines)."""
        if self._schema() < _LINES_SCHEMA:  # read-only on an older ledger: not migrated, no table
            return {}
        ids = list(ids)
        lines: dict[int, LineHashes] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for record, blob in self.conn.execute(
                    f"SELECT record, lines FROM record_lines WHERE record IN ({marks})", chunk):
                lines[record] = _unpack_lines(blob)
        return lines

    def _schema(self) -> int:
        if self._schema_version is None:
            self._schema_version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return self._schema_version

    def stats(self) -> dict:
        conn = self.conn
        records, oldest, newest = conn.execute(
            "SELECT count(*), min(produced_at), max(produced_at) FROM records"
        ).fetchone()
        indexed, waiting = self._fingerprint_counts()
        by_tool = [
            {"tool": tool, "model": model, "source": source, "records": count}
            for tool, model, source, count in conn.execute(
                "SELECT tool, model, source, count(*) FROM records GROUP BY tool, model, source ORDER BY count(*) DESC"
            )
        ]
        size = sum(p.stat().st_size for p in _ledger_files(self.path))
        index_path = self.index_path
        index_bytes = index_path.stat().st_size if index_path.exists() else 0
        schema = conn.execute("PRAGMA user_version").fetchone()[0]
        # A read-only open does not migrate: a schema-1 ledger has no common_code table yet.
        common = conn.execute("SELECT count(*) FROM common_code").fetchone()[0] if schema >= 2 else 0
        with_lines, line_bytes = conn.execute(
            f"SELECT count(*), coalesce(sum(length(lines) - {LINE_SALT_BYTES}), 0) FROM record_lines").fetchone() \
            if schema >= _LINES_SCHEMA else (0, 0)
        return {
            "path": str(self.path),
            "schema": schema,
            "records": records,
            "fingerprints": indexed + waiting,
            "waiting": waiting,  # not yet compacted into the index file
            "common_code": common,  # keyed common-code entries (never stored as fingerprints)
            "records_with_lines": with_lines,  # records with line hashes (those made before schema 4 have none)
            "line_hashes": line_bytes // 8,  # keyed line hashes, one per non-blank line of those records
            "oldest": oldest,
            "newest": newest,
            "bytes": size,  # all of the ledger's files, the index file included
            "index_bytes": index_bytes,
            "by_tool": by_tool,
        }


class _Transaction:
    """Ledger._writing's context manager (a class, not contextlib's: the hook imports this module)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def __enter__(self) -> sqlite3.Connection:
        self.ledger.conn.execute("BEGIN IMMEDIATE")
        return self.ledger.conn

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        conn = self.ledger.conn
        try:
            if kind is None:
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            else:
                conn.execute("ROLLBACK")
        finally:
            self.ledger._forget_reads()


def _set_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch to WAL, waiting for other writers.

    On a fresh file the switch upgrades a read lock to a write lock, for which
    SQLite does not call the busy handler: it fails at once while another process
    is creating the same ledger. Retry until the deadline instead.
    """
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def move_aside(path: Path) -> list[Path]:
    """Rename a ledger's files (database, WAL, index) to NAME.set-aside-TIME; returns the new names.

    For starting over when its key is lost: the records stay on disk, in case the key turns up.
    """
    suffix = time.strftime(".set-aside-%Y%m%dT%H%M%S")
    moved = []
    for file in list(_ledger_files(path)):
        target = file.with_name(file.name + suffix)
        os.replace(file, target)
        moved.append(target)
    return moved


def _ledger_files(path: Path) -> Iterator[Path]:
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            yield candidate
    if index_file(path).exists():
        yield index_file(path)


def _clean_names(entry: Entry) -> tuple[Entry, str | None]:
    """The entry with its tool and model names within the charset (aiguard.core.names), and why not, if not."""
    tool_problem = names.problem(entry.tool, "tool") if entry.tool else None
    model_problem = names.problem(entry.model, "model") if entry.model else None
    if tool_problem is None and model_problem is None:
        return entry, None
    clean = entry._replace(tool=names.sanitise(entry.tool, "tool") if tool_problem else entry.tool,
                           model=names.sanitise(entry.model) if model_problem else entry.model)
    said = "; ".join(p for p in (tool_problem, model_problem) if p)
    return clean, f"{said}: taken as {clean.tool}:{clean.model}"


def _invalid(entry: Entry) -> str | None:
    if not entry.tool or not entry.model:
        return "tool and model are required"
    if entry.source not in SOURCES:
        return f"unknown source {entry.source!r} (one of {', '.join(SOURCES)})"
    if not isinstance(entry.text, str) or not entry.text.strip():
        return "no text"
    if "\x00" in entry.text:
        return "binary content"
    if len(entry.text) > MAX_TEXT_BYTES:
        return f"too large ({len(entry.text)} characters; limit {MAX_TEXT_BYTES})"
    return None
