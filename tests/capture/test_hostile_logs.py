"""Hostile and broken logs: one bounded reader for every log and payload.

Real files throughout: a real FIFO, a real 9 MiB line, a real line nested 100,000 deep,
a real directory named like a log, /dev/zero as a transcript. Each must cost only itself:
the rest of the file and every other file are still read, nothing blocks, nothing grows
without bound.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sqlite3
import sys
import subprocess
import time
from pathlib import Path

import pytest

from aiguard.capture.sources import claude_code, registry
from aiguard.capture.sources.common import Output
from conftest import MERGE_INTERVALS, aiguard
from test_daemon import assistant_lines, wait_for

LONG = b'{"type": "user", "pad": "' + b"x" * (9 << 20) + b'"}\n'  # a real 9 MiB line
NESTED = b"[" * 100_000 + b"\n"


def home() -> Path:
    return Path(os.environ["AIGUARD_HOME"])


def records() -> int:
    db = home() / "ledger.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM records").fetchone()[0]


def outputs_in(data: bytes) -> int:
    return sum(isinstance(item, Output) for item in claude_code.parse_log(Path("x.jsonl"), data, {}))


def project(name: str = "-home-me-repo") -> Path:
    folder = Path(os.environ["HOME"]) / ".claude" / "projects" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def halves(bad: bytes) -> tuple[bytes, int]:
    """The real session's lines with `bad` in the middle; and how many outputs the good lines hold."""
    lines = assistant_lines()
    good = b"".join(lines)
    half = len(lines) // 2
    return b"".join(lines[:half]) + bad + b"".join(lines[half:]), outputs_in(good)


def written_line(text: str) -> bytes:
    """An invented, minimal Claude Code assistant line that writes `text` into a file."""
    record = {"parentUuid": None, "type": "assistant", "cwd": "/tmp",
              "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "message": {"model": "claude-opus-4-1", "content": [
                  {"type": "tool_use", "name": "Write", "input": {"file_path": "/tmp/m.py", "content": text}}]}}
    return json.dumps(record).encode() + b"\n"


def clean_records(tmp: Path, data: bytes) -> int:
    """How many records an ingest of `data` alone makes (in a ledger of its own)."""
    log = tmp / "clean" / "session.jsonl"
    log.parent.mkdir()
    log.write_bytes(data)
    env = dict(os.environ, AIGUARD_HOME=str(tmp / "clean-home"))
    subprocess.run([sys.executable, "-m", "aiguard", "ingest", str(log)], env=env, capture_output=True, check=True)
    with sqlite3.connect(tmp / "clean-home" / "ledger.sqlite3") as conn:
        return conn.execute("SELECT count(*) FROM records").fetchone()[0]


# ingest ------------------------------------------------------------------------------------

def test_ingest_skips_a_fifo_named_like_a_log_without_blocking(tmp_path):
    folder = project()
    os.mkfifo(folder / "fifo.jsonl")
    data, _ = halves(b"")
    expected = clean_records(tmp_path, data)
    (folder / "session.jsonl").write_bytes(data)
    done = subprocess.run([sys.executable, "-m", "aiguard", "ingest"], capture_output=True, timeout=60)
    assert done.returncode == 0, done
    assert "fifo.jsonl: not a regular file (a FIFO)" in done.stderr.decode(), done.stderr
    assert records() == expected > 0
    named = subprocess.run([sys.executable, "-m", "aiguard", "ingest", str(folder / "fifo.jsonl")],
                           capture_output=True, timeout=60)
    assert "not a regular file" in named.stderr.decode(), named


def test_ingest_skips_an_over_long_line_and_reads_the_rest(tmp_path):
    data, _ = halves(LONG)
    expected = clean_records(tmp_path, halves(b"")[0])
    log = project() / "session.jsonl"
    log.write_bytes(data)
    done = aiguard("ingest", str(log))
    err = done.stderr.decode()
    assert f"a line of {len(LONG)} bytes, over the 8 MiB limit; skipped" in err, err
    assert records() == expected > 0


def test_ingest_survives_a_deeply_nested_line_and_keeps_other_files(tmp_path):
    folder = project()
    data, _ = halves(NESTED)
    expected = clean_records(tmp_path, halves(b"")[0])
    (folder / "a-nested.jsonl").write_bytes(data)
    (project("-home-me-other") / "b.jsonl").write_bytes(written_line(MERGE_INTERVALS))
    done = aiguard("ingest", check=False)
    err = done.stderr.decode()
    assert done.returncode == 0, done
    assert "Traceback" not in err and "RecursionError" not in err
    assert "a-nested.jsonl:" in err and "nested too deeply" in err, err
    assert records() == expected + 1  # this file's good lines and the other file's


def test_read_lines_is_bounded_and_steps_over_long_lines(tmp_path):
    from aiguard.capture.sources.common import MAX_LINE, iter_lines, read_lines

    log = tmp_path / "x.jsonl"
    log.write_bytes(b"one\n" + LONG + b"two\n" + b"x" * (MAX_LINE + 5))  # the last: no newline yet
    chunk = read_lines(log, 0)
    assert chunk.data == b"one\n" and chunk.end == 4 and not chunk.skipped
    chunk = read_lines(log, chunk.end)
    assert chunk.data == b"two\n" and [s.reason.split(",")[0] for s in chunk.skipped] == [f"a line of {len(LONG)} bytes"]
    assert read_lines(log, chunk.end) == (b"", chunk.end, [])  # an over-long line being written waits
    chunks = list(iter_lines(log))  # read as a whole file: the unfinished long line is skipped too
    assert b"".join(c.data for c in chunks) == b"one\ntwo\n"
    assert chunks[-1].end == log.stat().st_size and len([s for c in chunks for s in c.skipped]) == 2


# agent-hook --------------------------------------------------------------------------------

def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))


def test_agent_hook_does_not_read_dev_zero_as_a_transcript(tmp_path):
    payload = {"hook_event_name": "PostToolUse", "tool_name": "Write", "cwd": str(tmp_path),
               "transcript_path": "/dev/zero",
               "tool_input": {"file_path": str(tmp_path / "m.py"), "content": MERGE_INTERVALS}}
    done = subprocess.run([sys.executable, "-m", "aiguard", "agent-hook", "claude-code"],
                          input=json.dumps(payload).encode(), capture_output=True, timeout=60,
                          preexec_fn=_limit_memory)
    assert done.returncode == 0
    assert done.stderr == b"", done.stderr  # not a MemoryError line: the transcript was never streamed
    assert records() == 1
    with sqlite3.connect(home() / "ledger.sqlite3") as conn:
        assert conn.execute("SELECT model FROM records").fetchone()[0] == "unknown"


def test_agent_hook_refuses_a_payload_without_end():
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "aiguard", "agent-hook", "claude-code"], stdin=zero,
                              capture_output=True, timeout=60, preexec_fn=_limit_memory)
    assert done.returncode == 0
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "payload over the 64 MiB limit" in lines[0], done.stderr


def test_agent_hook_survives_a_deeply_nested_payload():
    done = aiguard("agent-hook", "claude-code", input=NESTED)
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "nested too deeply" in lines[0], done.stderr


# the daemon's tailer -----------------------------------------------------------------------

@pytest.fixture
def tailer():
    from aiguard.store import paths
    from aiguard.daemon.tailer import Tailer

    paths.ensure_home()
    return Tailer(registry())


def test_tailer_steps_over_a_9_mib_line(tailer):
    data, expected = halves(LONG)
    log = project() / "session.jsonl"
    log.write_bytes(data)
    found = tailer.read(log)
    assert len(found) == expected > 0
    assert tailer.files[str(log)]["offset"] == len(data)
    with open(log, "ab") as fh:  # later lines are read as they come
        fh.write(assistant_lines("claude-opus-4-1")[1])
    assert tailer.read(log) or tailer.files[str(log)]["offset"] == log.stat().st_size


def test_tailer_reads_around_a_nested_line(tailer):
    data, expected = halves(NESTED)
    log = project() / "session.jsonl"
    log.write_bytes(data)
    assert len(tailer.read(log)) == expected
    assert tailer.files[str(log)]["offset"] == len(data)


def test_tailer_says_once_per_change_what_it_cannot_read(tailer, caplog):
    bad = project() / "odd.jsonl"
    bad.mkdir()  # named like a log, but not a file
    (bad / "x").write_text("x")
    with caplog.at_level(logging.INFO, logger="aiguard"):
        for _ in range(5):
            assert tailer.read(bad) == []
    said = [r for r in caplog.records if str(bad) in r.getMessage()]
    assert len(said) == 1 and "not a regular file" in said[0].getMessage() and not said[0].exc_info


def test_tail_state_keeps_only_files_that_exist_and_is_written_only_on_change(tailer):
    from aiguard.daemon.tailer import Tailer, state_path

    folder = project()
    logs = [folder / f"s{n}.jsonl" for n in range(30)]
    for log in logs:
        log.write_bytes(assistant_lines()[0])
        tailer.read(log)
    tailer.save()
    assert len(json.loads(state_path().read_text())) == 30
    for log in logs[5:]:
        log.unlink()
    again = Tailer(registry())
    for log in again.scan():
        again.read(log)
    again.save()
    assert sorted(json.loads(state_path().read_text())) == sorted(map(str, logs[:5]))
    state_path().unlink()
    for log in again.scan():  # nothing changed: nothing to write
        again.read(log)
    again.save()
    assert not state_path().exists()


def test_daemon_log_rotates(monkeypatch):
    from aiguard.daemon import loop as daemon
    from aiguard.store import paths

    paths.ensure_home()
    root = logging.getLogger("aiguard")
    saved = root.handlers[:], root.level
    try:
        daemon._setup_logging()
        for _ in range(5000):
            daemon.log.warning("x" * 1000)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved
    sizes = sorted(p.stat().st_size for p in home().glob("daemon.log*"))
    assert len(sizes) == 4 and max(sizes) <= 1 << 20, sizes  # 1 MiB x (1 + 3 old ones)


def test_running_daemon_does_not_retry_a_bad_file(isolated_user):
    folder = project()
    (folder / "nested.jsonl").write_bytes(NESTED * 3)
    odd = folder / "odd.jsonl"
    odd.mkdir()
    log = home() / "daemon.log"
    aiguard("daemon", "start")
    try:
        assert wait_for(lambda: log.exists() and "caught up:" in log.read_text())
        # Nothing to wait for but time: a daemon re-reading what it read (twice a second, as
        # its own reads were events) would show in these seconds.
        time.sleep(3)
    finally:
        aiguard("daemon", "stop")
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("nested too deeply") == 3, text[-3000:]
    assert text.count(str(odd)) == 1, text[-3000:]


def test_daemon_with_the_ledger_key_lost_keeps_what_it_read_for_later(tailer, caplog):
    from aiguard.daemon import loop as daemon

    aiguard("record", "--tool", "codex", "--model", "m", input=MERGE_INTERVALS.encode())
    keys_json = home() / "keys.json"
    saved = keys_json.read_bytes()
    keys_json.unlink()
    data, _ = halves(b"")
    log = project() / "session.jsonl"
    log.write_bytes(data)
    with caplog.at_level(logging.INFO, logger="aiguard"):
        assert daemon._pass(tailer, [log]) == 0
    said = [r for r in caplog.records if "not recorded" in r.getMessage()]
    assert len(said) == 1 and "ledger key is missing" in said[0].getMessage() and not said[0].exc_info
    assert str(log) not in tailer.files  # not marked as read: read again once it changes
    assert not keys_json.exists() and records() == 1

    keys_json.write_bytes(saved)  # the key is back
    assert daemon._pass(tailer, [log]) > 0
    assert records() > 1 and tailer.files[str(log)]["offset"] == len(data)
