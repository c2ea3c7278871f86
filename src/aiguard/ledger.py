"""The ledger: what external models wrote, as keyed fingerprints in SQLite.

Never plaintext: a record holds who wrote (tool, model, source), when, where
(repo, file) and keyed hashes. WAL mode lets the daemon, assistant hooks and
`aiguard record` write at once while commit hooks read; every write is one
transaction, so `kill -9` at any moment leaves either all of a record or none.
Files are created 0600 inside the 0700 AIGUARD_HOME.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple

from aiguard import paths
from aiguard.attribution import RecordInfo
from aiguard.fingerprint import PARAMS, RAW, STREAMS, Common, Hasher, fingerprint_text

SOURCES = ("assistant-hook", "assistant-log", "clipboard", "manual")
DEFAULT_RETENTION_DAYS = 180
MAX_TEXT_BYTES = 2 * 1024 * 1024  # model output larger than this is not code anyone pasted
_LOOKUP_CHUNK = 900


class LedgerError(Exception):
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
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _text_digest(text: str, key: bytes) -> bytes:
    """Keyed hash of the whitespace-normalised text: spots a re-recording, reveals nothing."""
    normal = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(normal, key=key, person=b"aiguard-record", digest_size=16).digest()


class Ledger:
    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

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
    def open_readonly(cls, path: Path | None = None) -> "Ledger | None":
        """Open for reading only (the commit hook); None when no ledger exists yet."""
        path = path or paths.ledger_path()
        if not path.exists():
            return None
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"ledger {path} is unusable: {exc}") from None
        if version == 0:
            conn.close()
            return None  # created but never written
        if version > SCHEMA_VERSION:
            conn.close()
            raise LedgerError(f"ledger {path} was written by a newer aiguard (schema {version}); upgrade aiguard")
        return cls(conn, path)

    def close(self) -> None:
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another writer may have migrated
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
        for n, entry in enumerate(entries):
            reason = _invalid(entry)
            if reason is None and oldest is not None and entry.time is not None and entry.time < oldest:
                reason = f"older than the retention period ({retention_days:g} days)"
            if reason:
                skipped.append((n, reason))
                continue
            fingerprints, tokens = fingerprint_text(entry.text, hasher, entry.file, common)
            if not fingerprints:
                if tokens >= PARAMS[RAW].k:
                    skipped.append((n, f"nothing to recognise: only common or repetitive code ({tokens} tokens)"))
                else:
                    skipped.append((n, f"too short to recognise ({tokens} tokens)"))
                continue
            now = time.time()
            produced = entry.time if entry.time is not None else now
            digest = _text_digest(entry.text, key)
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT id, produced_at FROM records WHERE digest = ? AND tool = ? AND model = ?",
                    (digest, entry.tool, entry.model),
                ).fetchone()
                if row:
                    if produced > row[1]:  # keep it as long as its newest sighting warrants
                        conn.execute("UPDATE records SET produced_at = ? WHERE id = ?", (produced, row[0]))
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
                    added += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return AddResult(added, duplicates, skipped)

    def key_common_code(self, hasher: Hasher, key_id: str) -> Common | None:
        """Key the shipped common-code list for this ledger key, once per key and list version.

        Then deletes stored fingerprints that are on the list (records made before
        it, or before a newer list), so that the commit hook, which only reads,
        never meets one and needs no filter of its own. Returns the test for
        fingerprint_text, or None when the list is empty or missing.
        """
        from aiguard import common_code  # only writers pay for reading the list

        wanted = f"{key_id} {common_code.version()}"
        conn = self.conn
        row = conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()
        if row is None or row[0] != wanted:
            keyed = list(common_code.keyed(common_code.load(), hasher))  # outside the write lock
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'common_code'").fetchone()
                if row is None or row[0] != wanted:  # another writer may have done it meanwhile
                    conn.execute("DELETE FROM common_code")
                    conn.executemany("INSERT OR IGNORE INTO common_code (kind, hash) VALUES (?, ?)", keyed)
                    # Older records lose their common k-grams; the line test needs plaintext, so it
                    # only applies to what is recorded from now on.
                    conn.executemany("DELETE FROM fingerprints WHERE stream = ? AND hash = ?",
                                     (entry for entry in keyed if entry[0] in STREAMS))
                    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('common_code', ?)", (wanted,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
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
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = [r for (r,) in conn.execute("SELECT id FROM records WHERE produced_at < ?", (cutoff,))]
            for start in range(0, len(old), _LOOKUP_CHUNK):
                chunk = old[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"DELETE FROM fingerprints WHERE record IN ({marks})", chunk)
                conn.execute(f"DELETE FROM records WHERE id IN ({marks})", chunk)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_prune', ?)", (str(time.time()),)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(old)

    def prune_if_due(self, retention_days: float, every_seconds: float = 86400) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'last_prune'").fetchone()
        if row and time.time() - float(row[0]) < every_seconds:
            return 0
        return self.prune(retention_days)

    # Reading -------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def lookup(self, stream: int, hashes: list[int]) -> dict[int, list[tuple[int, int]]]:
        found: dict[int, list[tuple[int, int]]] = {}
        conn = self.conn
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for value, record, pos in conn.execute(
                f"SELECT hash, record, pos FROM fingerprints WHERE stream = ? AND hash IN ({marks})",
                (stream, *chunk),
            ):
                found.setdefault(value, []).append((record, pos))
        return found

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
        return {rid: info.tokens for rid, info in self.record_info(ids).items()}

    def stats(self) -> dict:
        conn = self.conn
        records, oldest, newest = conn.execute(
            "SELECT count(*), min(produced_at), max(produced_at) FROM records"
        ).fetchone()
        fingerprints = conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
        by_tool = [
            {"tool": tool, "model": model, "source": source, "records": count}
            for tool, model, source, count in conn.execute(
                "SELECT tool, model, source, count(*) FROM records GROUP BY tool, model, source ORDER BY count(*) DESC"
            )
        ]
        size = sum(p.stat().st_size for p in _ledger_files(self.path))
        schema = conn.execute("PRAGMA user_version").fetchone()[0]
        # A read-only open does not migrate: a schema-1 ledger has no common_code table yet.
        common = conn.execute("SELECT count(*) FROM common_code").fetchone()[0] if schema >= 2 else 0
        return {
            "path": str(self.path),
            "schema": schema,
            "records": records,
            "fingerprints": fingerprints,
            "common_code": common,  # keyed common-code entries (never stored as fingerprints)
            "oldest": oldest,
            "newest": newest,
            "bytes": size,
            "by_tool": by_tool,
        }


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


def _ledger_files(path: Path) -> Iterator[Path]:
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            yield candidate


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
