"""OpenCode's opencode.db (and its older storage tree) and Goose's sessions.db: real SQLite
databases built from the fixtures' SQL (which follows each assistant's schema), read
read-only while another connection writes them, then ingested into stamped commits."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from aiguard.capture.sources import log_roots

from conftest import FIXTURES, aiguard

from aiguard.capture.sources import goose, is_store, opencode, registry, sniff
from aiguard.capture.sources.common import Output, Skip

LOGS = FIXTURES / "assistant-logs"
OPENCODE_SQL = LOGS / "opencode" / "opencode-db.sql"
GOOSE_SQL = LOGS / "goose" / "sessions-db.sql"


@pytest.fixture(autouse=True)
def no_goose_root(monkeypatch):
    monkeypatch.delenv("GOOSE_PATH_ROOT", raising=False)


def build(path: Path, sql: Path, text: str | None = None) -> sqlite3.Connection:
    """The database as the assistant keeps it (WAL), its connection left open like the running app's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # what is written stays in the WAL, as between checkpoints
    db.executescript(sql.read_text() if text is None else text)
    return db


def rows(db: sqlite3.Connection, query: str) -> list:
    return [(key, json.loads(value)) for key, value in db.execute(query)]


def outputs(items) -> list[Output]:
    return [item for item in items if isinstance(item, Output)]


# --- OpenCode ----------------------------------------------------------------------------------

def test_opencode_db_is_read_while_opencode_holds_a_write_transaction(tmp_path):
    path = tmp_path / "opencode.db"
    app = build(path, OPENCODE_SQL)
    parts = dict(rows(app, "SELECT id, data FROM part WHERE data LIKE '{\"type\":\"tool\"%' AND length(data) > 60"))
    messages = dict(rows(app, "SELECT id, data FROM message"))
    by_part = dict(app.execute("SELECT id, message_id FROM part"))
    app.execute("BEGIN IMMEDIATE")  # OpenCode in the middle of a write: reading neither waits nor fails
    app.execute("INSERT INTO part VALUES ('prt_uncommitted', 'm', 's', 1, 9999999999999, "
                "'{\"type\":\"tool\",\"tool\":\"write\",\"state\":{\"status\":\"completed\","
                "\"input\":{\"filePath\":\"/x.py\",\"content\":\"not committed\"}}}')")
    before = path.read_bytes()
    state: dict = {}
    found = list(opencode.read_store(path, state))
    got = [(o.model, o.file, o.text) for o in outputs(found)]

    def expected(part_id: str) -> tuple[str, dict]:
        message = messages[by_part[part_id]]
        return message["modelID"], parts[part_id]["state"]["input"]

    cwd = messages[by_part[next(iter(parts))]]["path"]["cwd"]
    write = next(p for p, d in parts.items() if d["tool"] == "write" and d["state"]["status"] == "completed")
    edit = next(p for p, d in parts.items() if d["tool"] == "edit" and d["state"]["status"] == "completed")
    patch = next(p for p, d in parts.items() if d["tool"] == "apply_patch")
    multi = next(p for p, d in parts.items() if d["tool"] == "multiedit")
    bash = next(p for p, d in parts.items() if d["tool"] == "bash")
    model, given = expected(write)
    assert (model, given["filePath"], given["content"]) in got
    model, given = expected(edit)
    assert (model, given["filePath"], given["newString"]) in got
    model, given = expected(patch)
    added = "".join(line[1:] + "\n" for line in given["patchText"].splitlines() if line.startswith("+"))
    assert (model, f"{cwd}/src/stock.py", added) in got  # the patch's relative path, made absolute
    model, given = expected(multi)
    assert [(model, given["filePath"], e["newString"]) for e in given["edits"]] == got[-2:]
    model, given = expected(bash)
    heredoc = given["command"].split("\n", 1)[1].rsplit("\nEOF", 1)[0] + "\n"
    assert (model, f"{cwd}/scripts/report.sh", heredoc) in got
    assert {m for m, _, _ in got} == {"claude-sonnet-4-5", "gpt-5"}  # each message's own model
    assert len(got) == 6  # not the failed edit, the running write, the read, nor the uncommitted row
    assert all(o.cwd == cwd and o.tool == "opencode" and o.source == "assistant-log" for o in outputs(found))
    assert outputs(found)[0].time == parts[write]["state"]["time"]["end"] / 1000
    assert [s.reason for s in found if isinstance(s, Skip)] == ["not a JSON object"]  # the cut-off row
    assert path.read_bytes() == before
    app.rollback()
    json.dumps(state)
    assert outputs(opencode.read_store(path, state)) == []  # nothing new
    # A call that completes later (the row updated in place) is read on the next pass, alone.
    app.execute("UPDATE part SET time_updated = time_updated + 10000, data = json_set(data, '$.state.status', "
                "'completed', '$.state.time.end', 1764633666000) WHERE data LIKE '%\"status\":\"running\"%'")
    again = outputs(opencode.read_store(path, state))
    assert [(o.model, o.file) for o in again] == [("gpt-5", f"{cwd}/src/draft.py")]
    assert outputs(opencode.read_store(path, state)) == []
    app.close()


def test_opencode_db_locked_by_a_writer_in_rollback_mode_is_read_as_committed(tmp_path):
    path = tmp_path / "opencode.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OPENCODE_SQL.read_text())  # journal_mode DELETE: OpenCode's fallback where WAL fails
    count = len(outputs(opencode.read_store(path, {})))
    db.execute("BEGIN EXCLUSIVE")
    db.execute("UPDATE part SET data = '{}'")
    found = list(opencode.read_store(path, {}))
    # Neither an error nor the uncommitted change: what was committed, or one line saying it is busy.
    assert len(outputs(found)) == count or [s.reason for s in found] == [
        "the database is busy; read again on its next change"]
    db.rollback()
    db.close()


def test_opencode_hostile_and_empty_databases(tmp_path):
    junk = tmp_path / "junk" / "opencode.db"
    junk.parent.mkdir()
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(Exception, match="cannot open as SQLite read-only"):
        list(opencode.read_store(junk, {}))
    empty = tmp_path / "empty" / "opencode-beta.db"
    empty.parent.mkdir()
    sqlite3.connect(empty).execute("CREATE TABLE project (id text)").connection.close()
    assert list(opencode.read_store(empty, {})) == []  # no sessions yet: nothing, no error
    assert is_store(opencode, empty) and is_store(opencode, junk) and not is_store(opencode, tmp_path / "x.db")


def test_opencode_older_storage_tree_is_read_where_no_database_is(tmp_path, monkeypatch):
    data = tmp_path / "share" / "opencode"
    shutil.copytree(LOGS / "opencode" / "storage", data / "storage")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert log_roots(opencode) == [data / "opencode.db", data / "storage"]
    files = [f for root in log_roots(opencode) for f in opencode.log_files(root)]
    assert files == list(opencode.log_files(data))
    assert [f.parent.parent.name for f in files] == ["part", "part"]
    message = json.loads(next((data / "storage" / "message").rglob("*.json")).read_text())
    part = next(json.loads(f.read_text()) for f in files if json.loads(f.read_text())["type"] == "tool")
    state: dict = {}
    found = [o for f in files for o in opencode.parse_log(f, f.read_bytes(), state)]
    assert [(o.model, o.file, o.text, o.cwd) for o in found] == [
        (message["modelID"], part["state"]["input"]["filePath"], part["state"]["input"]["content"],
         message["path"]["cwd"])]
    assert [o for f in files for o in opencode.parse_log(f, f.read_bytes(), state)] == []  # rewritten: not again
    build(data / "opencode-beta.db", OPENCODE_SQL).close()
    assert log_roots(opencode) == [data / "opencode.db", data / "opencode-beta.db", data / "storage"]
    assert [f for root in log_roots(opencode) for f in opencode.log_files(root)] == [data / "opencode-beta.db"]
    assert list(opencode.log_files(data)) == [data / "opencode-beta.db"]  # migrated: the database only
    assert not any(sniff(module, b"{\n") for module in registry().values())


def test_opencode_storage_files_given_by_path_are_ingested(tmp_path, isolated_user):
    """`aiguard ingest` of the older storage tree (or one part file) by hand: its pretty-printed
    part and message files are OpenCode's, not "not a log of a known assistant"."""
    import os

    storage = tmp_path / "storage"
    shutil.copytree(LOGS / "opencode" / "storage", storage)
    home = Path(os.environ["AIGUARD_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("retention-days = 100000\n")  # the fixture's session is from 2025
    done = aiguard("ingest", str(storage))
    assert "read 3 log files: recorded 1," in done.stdout.decode() and "0 skipped" in done.stdout.decode()
    assert b"not a log of a known assistant" not in done.stderr
    part = next(p for p in storage.rglob("prt_*.json") if json.loads(p.read_text())["type"] == "tool")
    again = aiguard("ingest", str(part))
    assert "read 1 log files: recorded 0, 1 already known" in again.stdout.decode()
    # what sniffing claims, and what it does not
    assert sniff(opencode, part.read_bytes()) and opencode.sniff(b'{\n  "id": "msg_1",\n  "sessionID": "ses_1"')
    assert not opencode.sniff(b'{"id": "prt_1", "text": "no message id"}')
    assert not opencode.sniff(b'{"id": "prt_1", ' + b" " * opencode.STORAGE_HEAD + b'"messageID": "msg_1"}')
    assert not opencode.sniff(b'[{"id": "prt_1", "messageID": "msg_1"}]')


# --- Goose -------------------------------------------------------------------------------------

def test_goose_sessions_db_is_read_while_goose_writes_it(tmp_path):
    path = tmp_path / "sessions.db"
    app = build(path, GOOSE_SQL)
    models = {sid: json.loads(raw)["model_name"] for sid, raw in app.execute(
        "SELECT id, model_config_json FROM sessions")}
    calls = []
    for sid, raw in app.execute("SELECT session_id, content_json FROM messages WHERE role = 'assistant' "
                                "AND content_json LIKE '%]'"):
        for item in json.loads(raw):
            if item.get("type") == "toolRequest" and item["toolCall"]["status"] == "success":
                calls.append((models[sid], item["toolCall"]["value"]))
    cwd = app.execute("SELECT working_dir FROM sessions").fetchone()[0]
    app.execute("BEGIN IMMEDIATE")
    app.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES "
                "('20251202_1', 'assistant', '[]', 1)")
    state: dict = {}
    found = list(goose.read_store(path, state))
    got = [(o.model, o.file, o.text) for o in outputs(found)]
    by_name = {}
    for model, value in calls:
        by_name.setdefault(value["name"], []).append((model, value["arguments"]))
    editor = by_name["developer__text_editor"]
    assert (editor[0][0], editor[0][1]["path"], editor[0][1]["file_text"]) == got[0]  # write
    assert (editor[1][0], f"{cwd}/{editor[1][1]['path']}", editor[1][1]["new_str"]) == got[1]  # str_replace
    [(model, shell)] = by_name["developer__shell"]
    assert got[2] == (model, f"{cwd}/notes/restock.md", shell["command"].split("\n", 1)[1].rsplit("\nEOF")[0] + "\n")
    [(model, write)] = by_name["developer__write"]
    [(_, edit)] = by_name["developer__edit"]
    assert got[3:] == [(model, f"{cwd}/{write['path']}", write["content"]), (model, f"{cwd}/{edit['path']}", edit["after"])]
    assert len(got) == 5  # not the view, nor the call the model got wrong
    assert {o.model for o in outputs(found)} == {"claude-sonnet-4-5", "gpt-5"}
    assert outputs(found)[0].time == app.execute("SELECT created_timestamp FROM messages WHERE content_json "
                                                 "LIKE '%file_text%'").fetchone()[0]
    assert [s.reason for s in found if isinstance(s, Skip)] == ["content is not a JSON list"]
    app.commit()
    assert outputs(goose.read_store(path, state)) == []  # nothing new (the new message writes nothing)
    app.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES "
                "('20251202_2', 'assistant', ?, 1764640000)",
                (json.dumps([{"type": "toolRequest", "id": "c", "toolCall": {"status": "success", "value": {
                    "name": "developer__write", "arguments": {"path": "/tmp/n.py", "content": "print(1)\n"}}}}]),))
    assert [(o.model, o.file) for o in outputs(goose.read_store(path, state))] == [("gpt-5", "/tmp/n.py")]
    app.close()


def test_goose_database_before_schema_version_6_names_no_model(tmp_path):
    path = tmp_path / "sessions.db"
    db = build(path, GOOSE_SQL)
    db.execute("ALTER TABLE sessions DROP COLUMN model_config_json")  # added by migration 6
    assert {o.model for o in outputs(goose.read_store(path, {}))} == {"unknown"}
    db.close()


def test_goose_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert log_roots(goose)[-1] == tmp_path / "xdg" / "goose" / "sessions"
    monkeypatch.setenv("GOOSE_PATH_ROOT", str(tmp_path / "root"))
    assert log_roots(goose) == [tmp_path / "root" / "data" / "sessions"]
    monkeypatch.setenv("GOOSE_PATH_ROOT", "relative")  # Goose ignores a relative root
    assert log_roots(goose)[-1] == tmp_path / "xdg" / "goose" / "sessions"


# --- from the store to a stamped commit --------------------------------------------------------

def commit(repo, name: str, text: str) -> dict:
    repo.write(name, text)
    repo.git("add", name)
    repo.git("commit", "-q", "-m", name)
    return dict(repo.trailers())


def test_ingest_opencode_and_goose_stores_then_commits_are_stamped(repo):
    now_ms = int(time.time() * 1000)
    share = Path.home() / ".local" / "share"
    app = build(share / "opencode" / "opencode.db", OPENCODE_SQL,
                OPENCODE_SQL.read_text().replace("/home/dev/shop", str(repo.path)))
    app.execute("UPDATE part SET data = json_set(data, '$.state.time.end', ?) WHERE data LIKE '%\"end\"%'",
                (now_ms,))
    app.execute("UPDATE message SET data = json_set(data, '$.time.created', ?)", (now_ms,))
    pricing = json.loads(app.execute("SELECT data FROM part WHERE data LIKE '%\"tool\":\"write\"%' "
                                     "AND data LIKE '%completed%'").fetchone()[0])["state"]["input"]["content"]
    sessions = build(share / "goose" / "sessions" / "sessions.db", GOOSE_SQL,
                     GOOSE_SQL.read_text().replace("/home/dev/shop", str(repo.path)))
    sessions.execute("UPDATE messages SET created_timestamp = ?", (int(time.time()),))
    restock = next(item["toolCall"]["value"]["arguments"]["content"]
                   for (raw,) in sessions.execute("SELECT content_json FROM messages WHERE content_json LIKE "
                                                  "'%developer__write%'") for item in json.loads(raw)
                   if item.get("type") == "toolRequest")
    done = aiguard("ingest")  # both assistants still have their databases open
    assert done.returncode == 0, done.stderr
    assert b"not a JSON object" in done.stderr and b"content is not a JSON list" in done.stderr
    assert commit(repo, "src/pricing.py", pricing)["Assisted-by"] == "opencode:claude-sonnet-4-5"
    assert commit(repo, "src/restock.py", restock)["Assisted-by"] == "goose:gpt-5"
    again = aiguard("ingest", str(share / "opencode" / "opencode.db"), str(share / "goose" / "sessions"))
    assert re.search(rb"recorded 0, [1-9]\d* already known", again.stdout), again  # known by its name
    app.close()
    sessions.close()
