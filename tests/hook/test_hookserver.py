"""The warm hook server: a hook run through it does exactly what the hook does locally."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiguard.hook import client as hookclient, server as hookserver
from aiguard.store import paths
from conftest import MERGE_INTERVALS, ROLLING_MEDIAN, Repo, aiguard

pytestmark = pytest.mark.skipif(not hasattr(socket, "send_fds"), reason="needs POSIX fd passing")


def wait_for(predicate, seconds: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def server():
    proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    sock = hookserver.socket_path()
    try:
        wait_for(lambda: sock.exists() or proc.poll() is not None, what="the hook server's socket")
        assert proc.poll() is None, proc.stderr.read().decode()
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert not sock.exists(), "the server left its socket behind"


def stamp_both_ways(repo: Repo, tmp_path: Path, monkeypatch) -> tuple[bytes, bytes, int | None]:
    msg = b"Add merging\n\nBody text.\n"
    served, local = tmp_path / "served.msg", tmp_path / "local.msg"
    served.write_bytes(msg)
    local.write_bytes(msg)
    monkeypatch.chdir(repo.path)
    code = hookclient.call(["stamp", str(served), "message"])
    monkeypatch.setenv("AIGUARD_NO_HOOK_SERVER", "1")
    aiguard("stamp", str(local), "message", cwd=repo.path)  # here, not in the server
    return served.read_bytes(), local.read_bytes(), code


def test_a_served_stamp_equals_a_local_one(repo: Repo, server, tmp_path, monkeypatch):
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=MERGE_INTERVALS.encode())
    repo.write("m.py", MERGE_INTERVALS)
    repo.git("add", "m.py")
    served, local, code = stamp_both_ways(repo, tmp_path, monkeypatch)
    assert code == 0, "the server did not run the hook"
    assert served == local
    assert b"Assisted-by: claude-code:m1\n" in served


def test_the_server_follows_compactions_of_the_index_it_holds(repo: Repo, tmp_path):
    """The server keeps the index file's bytes for its children; a compaction replaces the
    file, and the next commit must see the new fingerprints (and the old ones)."""
    from aiguard.store.ledger import Ledger

    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=MERGE_INTERVALS.encode())
    with Ledger.open() as ledger:
        assert ledger.compact() > 0
    proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: hookserver.socket_path().exists(), what="the hook server's socket")
        repo.write("m.py", MERGE_INTERVALS)
        repo.git("add", "m.py")
        repo.git("commit", "-q", "-m", "First")
        assert dict(repo.trailers())["Assisted-by"] == "codex:gpt-5"
        aiguard("record", "--tool", "claude-code", "--model", "m2", input=ROLLING_MEDIAN.encode())
        with Ledger.open() as ledger:
            assert ledger.compact() > 0  # a new file, while the server holds the old one
        repo.write("r.py", ROLLING_MEDIAN)
        repo.write("m2.py", MERGE_INTERVALS)
        repo.git("add", "r.py", "m2.py")
        repo.git("commit", "-q", "-m", "Second", env={"AIGUARD_NO_HOOK_SERVER": ""})
        assisted = sorted(v for k, v in repo.trailers() if k == "Assisted-by")
        assert assisted == ["claude-code:m2", "codex:gpt-5"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_commits_through_the_server_are_stamped_and_noted(repo: Repo, server):
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=MERGE_INTERVALS.encode())
    repo.write("m.py", "import os\n\n" + MERGE_INTERVALS)
    repo.git("add", "m.py")
    repo.git("commit", "-q", "-m", "Through the server")
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "codex:gpt-5"
    assert trailers["AI-Lines"] == f"{MERGE_INTERVALS.count(chr(10))}/{MERGE_INTERVALS.count(chr(10)) + 2}"
    assert b'"ai":' in repo.git("notes", "--ref", "refs/notes/aiguard", "show", "HEAD").stdout
    assert aiguard("verify", "HEAD", cwd=repo.path).returncode == 0


def test_the_hooks_stderr_reaches_the_caller(repo: Repo, server, tmp_path, monkeypatch):
    paths.ensure_home()
    paths.ledger_path().write_bytes(b"not a database at all" * 100)
    repo.write("a.txt", "one\n")
    repo.git("add", "a.txt")
    msg = tmp_path / "m.msg"
    msg.write_bytes(b"Subject\n")
    client = [sys.executable, "-c", "import sys; from aiguard.hook import client as hookclient; "
              "code = hookclient.call(sys.argv[1:]); print('code', code); sys.exit(0)", "stamp", str(msg), "message"]
    done = subprocess.run(client, cwd=repo.path, capture_output=True)
    assert done.stdout.decode().strip() == "code 0", done
    assert done.stderr.decode().startswith("aiguard: commit not stamped"), done.stderr
    assert msg.read_bytes() == b"Subject\n"


def test_other_versions_and_dead_servers_fall_back(repo: Repo, server, tmp_path, monkeypatch):
    msg = tmp_path / "m.msg"
    msg.write_bytes(b"Subject\n")
    monkeypatch.chdir(repo.path)
    monkeypatch.setattr(hookclient, "__version__", "0.0.0-other")
    assert hookclient.call(["stamp", str(msg), "message"]) is None  # refused: run it here
    assert msg.read_bytes() == b"Subject\n"
    monkeypatch.undo()
    monkeypatch.chdir(repo.path)
    assert hookclient.call(["doctor"]) is None or not hookclient.served(["doctor"])
    assert not hookclient.served(["doctor"]) and not hookclient.served(["stamp", "--help"])


def test_a_socket_that_can_be_seen_can_be_connected_to(repo: Repo):
    """The socket appears under its name only once it listens: a hook that finds it must not be
    refused (it would run without the server, and the tests that wait for the socket would race)."""
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        sock = hookserver.socket_path()
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():  # no sleep: connect the moment it is there
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(sock))
            assert not [p for p in sock.parent.iterdir() if p.name.endswith(".sock") and p != sock]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        assert not sock.exists()


def test_a_stale_socket_falls_back(repo: Repo, tmp_path, monkeypatch):
    paths.ensure_home()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(hookserver.socket_path()))
    stale.close()  # the file is there, nobody listens
    msg = tmp_path / "m.msg"
    msg.write_bytes(b"Subject\n")
    monkeypatch.chdir(repo.path)
    assert hookclient.call(["stamp", str(msg), "message"]) is None
    repo.write("a.txt", "one\n")
    repo.git("add", "a.txt")
    repo.git("commit", "-q", "-m", "Still stamped")
    assert dict(repo.trailers())["AI-Lines"] == "0/1"


def test_the_daemon_runs_the_hook_server(repo: Repo):
    home = paths.home()
    proc = subprocess.Popen([sys.executable, "-m", "aiguard", "daemon", "run"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: hookserver.socket_path().exists(), what="the daemon's hook server")
        repo.write("a.txt", "one\n")
        repo.git("add", "a.txt")
        repo.git("commit", "-q", "-m", "With the daemon")
        assert dict(repo.trailers())["AI-Lines"] == "0/1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    wait_for(lambda: not hookserver.socket_path().exists(), what="the socket to go")
    assert "hook server" in (home / "daemon.log").read_text()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_the_waiting_spare_child_ends_with_its_server(repo: Repo, stop):
    """The server forks the child for the next hook run ahead of it; that child serves the
    next commit, and does not outlive its server, stopped or killed."""
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=MERGE_INTERVALS.encode())
    proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: hookserver.socket_path().exists(), what="the hook server's socket")
        wait_for(lambda: len(_children(proc.pid)) == 1, what="the spare child")
        first = _children(proc.pid)
        repo.write("m.py", MERGE_INTERVALS)
        repo.git("add", "m.py")
        repo.git("commit", "-q", "-m", "Served by the spare")
        assert dict(repo.trailers())["Assisted-by"] == "codex:gpt-5"
        wait_for(lambda: len(_children(proc.pid)) == 1 and _children(proc.pid) != first, what="the next spare")
        spares = _children(proc.pid)
    finally:
        proc.send_signal(stop)
        proc.wait(timeout=10)
    wait_for(lambda: all(_gone(pid) for pid in spares), seconds=10, what="the spare to end")
