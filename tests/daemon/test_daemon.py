"""The daemon, as a real background process following real transcript files."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from conftest import FIXTURES, aiguard

CLAUDE = FIXTURES / "assistant-logs" / "claude-code"


def recorded_count(home) -> int:
    db = home / "aiguard-state" / "ledger.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT count(*) FROM records").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def saved_offset(home, log):
    """How far the daemon says it has read `log` (its state is written after each batch)."""
    try:
        state = json.loads((home / "aiguard-state" / "tail-state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state.get(str(log), {}).get("offset")


def wait_for(predicate, timeout=20.0):
    """Poll a real outcome until it holds (bounded), instead of sleeping a guessed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def assistant_lines(model="claude-sonnet-4-5-20250929") -> list[bytes]:
    """The real session's lines, dated today so that retention keeps them."""
    out = []
    for line in (CLAUDE / "example-claude-code.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "timestamp" in record:
            record["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out.append(json.dumps(record).encode() + b"\n")
    return out


@pytest.fixture
def running_daemon(isolated_user):
    aiguard("daemon", "start")
    yield isolated_user
    aiguard("daemon", "stop")


def test_daemon_records_lines_as_they_are_appended(running_daemon):
    home = running_daemon
    assert aiguard("daemon", "status").returncode == 0
    # The projects folder does not exist yet when the daemon starts: it must still see it.
    session = home / ".claude" / "projects" / "-home-me-repo" / "session.jsonl"
    session.parent.mkdir(parents=True)
    lines = assistant_lines()
    half = len(lines) // 2
    with open(session, "wb") as fh:
        fh.write(b"".join(lines[:half]) + b"{ not json\n" + lines[half][:40])  # garbage, then a partial line
        fh.flush()
        assert wait_for(lambda: recorded_count(home) > 0)
        first = recorded_count(home)
        fh.write(lines[half][40:] + b"".join(lines[half + 1:]))
    assert wait_for(lambda: recorded_count(home) > first)
    # Count only once the daemon has read the whole file (its saved offset is the file's size):
    # a count taken as soon as it grows can catch the second batch half recorded.
    assert wait_for(lambda: saved_offset(home, session) == session.stat().st_size)
    total = recorded_count(home)
    log = (home / "aiguard-state" / "daemon.log").read_text()
    assert "not JSON" in log
    # A restart does not read everything again: offsets are kept.
    aiguard("daemon", "stop")
    assert aiguard("daemon", "status", check=False).returncode == 1
    aiguard("daemon", "start")
    log_file = home / "aiguard-state" / "daemon.log"
    assert wait_for(lambda: log_file.read_text().count("caught up:") == 2)
    assert log_file.read_text().rsplit("caught up:", 1)[1].startswith(" 1 log files, 0 new outputs")
    assert recorded_count(home) == total
    state = json.loads((home / "aiguard-state" / "tail-state.json").read_text())
    assert state[str(session)]["offset"] == session.stat().st_size


def test_truncated_log_is_read_again(running_daemon):
    home = running_daemon
    session = home / ".claude" / "projects" / "-p" / "s.jsonl"
    session.parent.mkdir(parents=True)
    lines = assistant_lines()
    session.write_bytes(b"".join(lines))
    assert wait_for(lambda: recorded_count(home) > 0)
    session.write_bytes(b"")  # truncated (a rewrite in place)
    session.write_bytes(b"".join(lines[:5]))
    state = home / "aiguard-state" / "tail-state.json"

    def offset():  # the state is written after the batch is recorded: it may not exist yet
        try:
            return json.loads(state.read_text()).get(str(session), {}).get("offset")
        except FileNotFoundError:
            return None

    assert wait_for(lambda: offset() == session.stat().st_size)


def test_one_instance_per_user(running_daemon):
    second = aiguard("daemon", "run", check=False)
    assert second.returncode == 2 and b"already running" in second.stderr


def test_install_service_writes_a_systemd_user_unit(isolated_user):
    import configparser
    import sys

    done = aiguard("daemon", "install-service", "--no-enable")
    unit = isolated_user / ".config" / "systemd" / "user" / "aiguard.service"
    assert f"wrote {unit}".encode() in done.stdout
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(unit.read_text())
    assert parser["Service"]["ExecStart"] == f'"{sys.executable}" -m aiguard daemon run'
    assert parser["Service"]["Environment"] == f'"AIGUARD_HOME={isolated_user / "aiguard-state"}"'
    assert parser["Install"]["WantedBy"] == "default.target"


def test_daemon_compacts_the_ledger_when_recording_is_idle(isolated_user, monkeypatch, repo):
    """Recorded fingerprints move from SQLite into the index file, and still match."""
    home = isolated_user
    monkeypatch.setenv("AIGUARD_COMPACT_IDLE_SECONDS", "1")
    session = home / ".claude" / "projects" / "-home-me-repo" / "session.jsonl"
    session.parent.mkdir(parents=True)
    aiguard("daemon", "start")
    try:
        session.write_bytes(b"".join(assistant_lines()))
        assert wait_for(lambda: recorded_count(home) > 0)
        index = home / "aiguard-state" / "ledger.fpindex"
        db = home / "aiguard-state" / "ledger.sqlite3"

        def waiting() -> int:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0]

        assert wait_for(lambda: index.exists() and waiting() == 0)
    finally:
        aiguard("daemon", "stop")
    assert "into the ledger's index file" in (home / "aiguard-state" / "daemon.log").read_text()
    # What the session wrote is still recognised, now from the index file.
    from aiguard.capture.sources import claude_code
    from aiguard.capture.sources.common import Output
    outputs = [o for o in claude_code.parse_log(session, session.read_bytes(), {}) if isinstance(o, Output)]
    longest = max(outputs, key=lambda o: len(o.text))
    name = "copied." + longest.file.rsplit(".", 1)[1]  # the same language as written
    repo.write(name, longest.text)
    repo.git("add", name)
    result = json.loads(aiguard("attribute", "--json", cwd=repo.path).stdout)
    assert result["ai"] > 0


GEMINI = FIXTURES / "assistant-logs" / "gemini-cli"
SHELL = FIXTURES / "assistant-logs" / "shell-writes"


def gemini_session(messages_from_shell_log: int) -> bytes:
    """Gemini CLI's real legacy session-*.json (pretty-printed), with the first
    `messages_from_shell_log` `gemini` messages of the shell-writes recording (synthesised in the
    real logs' shape, see its SOURCES.md) appended to its messages, dated today."""
    session = json.loads((GEMINI / "agenthistory-real-session-01.json").read_text())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = [json.loads(line) for line in (SHELL / "gemini-cli-shell.jsonl").read_text().splitlines()]
    added = [r for r in records if r.get("type") == "gemini"][:messages_from_shell_log]
    for message in [*session["messages"], *added]:
        message["timestamp"] = now
        for call in message.get("toolCalls", []):
            call["timestamp"] = now
    session["messages"] += added
    return json.dumps(session, indent=2).encode()


def tail_state(home) -> dict:
    path = home / "aiguard-state" / "tail-state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_daemon_reads_gemini_json_sessions_rewritten_whole(running_daemon):
    home = running_daemon
    chats = home / ".gemini" / "tmp" / "d30f91067027d10192e4aed3e7b03fecf08089dd" / "chats"
    chats.mkdir(parents=True)
    session = chats / "session-2026-06-05T04-59-dcbe78d3.json"
    # Gemini CLI rewrites the whole file (a temp file renamed over it) on every change.
    tmp = chats / ".session.tmp"
    tmp.write_bytes(gemini_session(0))
    tmp.rename(session)
    assert wait_for(lambda: str(session) in tail_state(home))  # read, not passed over as no one's log
    assert recorded_count(home) == 0  # the real session wrote no file
    tmp.write_bytes(gemini_session(1))
    tmp.rename(session)
    assert wait_for(lambda: recorded_count(home) == 1), (home / "aiguard-state" / "daemon.log").read_text()
    # what was reported is kept, so the next rewrite reports only what is new (the state is
    # saved after the records are: wait for it too)
    assert wait_for(lambda: tail_state(home)[str(session)]["state"]["seen"] == ["m2/run_shell_command-1"]), \
        tail_state(home)[str(session)]
