"""The daemon follows SQLite stores (OpenCode's opencode.db, Goose's sessions.db) while their
assistant writes them: a write that lands only in the write-ahead log is read on its own."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from conftest import FIXTURES, MERGE_INTERVALS, aiguard
from test_daemon import recorded_count, running_daemon, wait_for  # noqa: F401 (running_daemon: a fixture)

LOGS = FIXTURES / "assistant-logs"


def open_like_the_app(path: Path, sql: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # writes stay in the -wal file until a checkpoint
    db.executescript(sql.read_text())
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def opencode_part(db: sqlite3.Connection, number: int, text: str) -> None:
    now = int(time.time() * 1000)
    part = {"type": "tool", "callID": f"call_{number}", "tool": "write",
            "state": {"status": "completed", "input": {"filePath": f"/work/shop/f{number}.py", "content": text},
                      "output": "", "title": "", "metadata": {}, "time": {"start": now, "end": now}}}
    message = db.execute("SELECT id FROM message WHERE data LIKE '%\"role\":\"assistant\"%'").fetchone()[0]
    db.execute("INSERT INTO part VALUES (?, ?, 's', ?, ?, ?)", (f"prt_new{number}", message, now, now + number,
                                                                json.dumps(part)))


def goose_message(db: sqlite3.Connection, text: str) -> None:
    content = [{"type": "toolRequest", "id": "c", "toolCall": {"status": "success", "value": {
        "name": "developer__write", "arguments": {"path": "/work/shop/g.py", "content": text}}}}]
    db.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES "
               "('20251202_1', 'assistant', ?, ?)", (json.dumps(content), int(time.time())))


def test_daemon_reads_stores_when_only_their_wal_changes(running_daemon):  # noqa: F811
    home = running_daemon
    share = home / ".local" / "share"
    opencode = open_like_the_app(share / "opencode" / "opencode.db", LOGS / "opencode" / "opencode-db.sql")
    goose = open_like_the_app(share / "goose" / "sessions" / "sessions.db", LOGS / "goose" / "sessions-db.sql")
    log = home / "aiguard-state" / "daemon.log"
    assert wait_for(lambda: log.exists() and "caught up" in log.read_text())
    start = recorded_count(home)
    databases = [share / "opencode" / "opencode.db", share / "goose" / "sessions" / "sessions.db"]
    before = [path.stat().st_mtime_ns for path in databases]
    opencode_part(opencode, 1, MERGE_INTERVALS)
    assert wait_for(lambda: recorded_count(home) > start)
    first = recorded_count(home)
    goose_message(goose, MERGE_INTERVALS.replace("merge_intervals", "merge_ranges"))
    assert wait_for(lambda: recorded_count(home) > first)
    second = recorded_count(home)
    opencode_part(opencode, 2, MERGE_INTERVALS.replace("intervals", "spans"))
    assert wait_for(lambda: recorded_count(home) > second)
    # Only the WAL files changed: their events are what the daemon read the databases on.
    assert [path.stat().st_mtime_ns for path in databases] == before
    ledger = sqlite3.connect(home / "aiguard-state" / "ledger.sqlite3")
    tools = {row[0] for row in ledger.execute("SELECT tool FROM records")}
    assert {"opencode", "goose"} <= tools, tools
    ledger.close()
    opencode.close()
    goose.close()
    assert aiguard("daemon", "status").returncode == 0
