"""Faults and hostile input (issue 14): no data loss, no crash, no hang.

Each test reproduced its failure before the fix, with real git, files and processes.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import MERGE_INTERVALS, aiguard


def _record():
    aiguard("record", "--tool", "claude-code", "--model", "m", input=MERGE_INTERVALS.encode())


# A staged file whose name is not valid UTF-8 -------------------------------------------------

NAME = b"caf\xe9-\xff.py"  # Latin-1 bytes: valid on Linux, not UTF-8


def test_non_utf8_file_name_keeps_its_line_record_and_round_trips_in_export(repo):
    _record()
    (repo.path / os.fsdecode(NAME)).write_text(MERGE_INTERVALS)
    repo.git("add", "-A")
    done = repo.git("commit", "-m", "add a file with a Latin-1 name")
    assert b"not stamped" not in done.stderr and b"not kept" not in done.stderr, done.stderr
    assert ("AI-Lines", "10/10") in repo.trailers()

    note = json.loads(repo.git("notes", "--ref", "aiguard", "show", "HEAD").stdout)
    (entry,) = note["files"]
    assert bytes.fromhex(entry["path_bytes"]) == NAME
    assert entry["path"] == "caf\\xe9-\\xff.py"
    assert entry["ranges"] == [[1, 10, 0]]

    exported = [json.loads(line) for line in aiguard("export", cwd=repo.path).stdout.splitlines()]
    (file_entry,) = exported[0]["files"]
    assert bytes.fromhex(file_entry["path_bytes"]) == NAME  # the same form as the note's
    assert file_entry["path"] == entry["path"]
    listed = json.loads(aiguard("log", "--json", cwd=repo.path).stdout)
    assert listed[0]["files"][0]["path_bytes"] == NAME.hex()


def test_non_utf8_file_name_carries_its_lines_through_an_amend(repo, tmp_path):
    _record()
    (repo.path / os.fsdecode(NAME)).write_text(MERGE_INTERVALS)
    repo.git("add", "-A")
    repo.git("commit", "-m", "first")
    repo.write("human.txt", "a line of my own\n")
    repo.git("add", "human.txt")
    # Another user's machine: an empty ledger, so only the note can say which lines are AI's.
    done = repo.git("commit", "--amend", "-m", "first, amended", env={"AIGUARD_HOME": str(tmp_path / "other")})
    assert b"not carried" not in done.stderr, done.stderr
    note = json.loads(repo.git("notes", "--ref", "aiguard", "show", "HEAD").stdout)
    assert [bytes.fromhex(f["path_bytes"]) for f in note["files"] if "path_bytes" in f] == [NAME]


# A failure late in the hook -------------------------------------------------------------------

def _hooks_run_a_copy_with(repo, tmp_path, module: str, text: str):
    """Point the installed hooks at a copy of aiguard whose `module` is `text`."""
    import shutil

    import aiguard

    copy = tmp_path / "copy"
    shutil.copytree(os.path.dirname(aiguard.__file__), copy / "aiguard")
    (copy / "aiguard" / f"{module}.py").write_text(text)
    real_src = os.path.dirname(os.path.dirname(aiguard.__file__))
    for hook in ("prepare-commit-msg", "commit-msg"):
        path = repo.path / ".git" / "hooks" / hook
        script = path.read_text()
        assert f"AIGUARD_SRC='{real_src}'" in script
        path.write_text(script.replace(f"AIGUARD_SRC='{real_src}'", f"AIGUARD_SRC='{copy}'"))


def test_an_import_failure_late_in_the_hook_never_misreports_the_message(repo, tmp_path):
    """Whatever the hook says on stderr must be true of the commit git makes."""
    _record()
    _hooks_run_a_copy_with(repo, tmp_path, "git/notes", 'raise ImportError("aiguard.git.notes is broken (test)")\n')
    repo.write("merge.py", MERGE_INTERVALS)
    repo.git("add", "merge.py")
    done = repo.git("commit", "-m", "add merge")
    stamped = any(key == "AIGuard-Stamp" for key, _ in repo.trailers())
    assert b"aiguard:" in done.stderr  # never silent
    said_not_stamped = b"commit not stamped" in done.stderr
    assert said_not_stamped != stamped, (done.stderr, repo.message())


# integrate: each assistant on its own; symlinked settings ------------------------------------

def _integrate(*args):
    return aiguard("integrate", *args, check=False)


def test_integrate_all_refuses_a_deeply_nested_file_and_wires_the_others(isolated_user):
    for folder in (".claude", ".gemini", ".cursor"):
        (isolated_user / folder).mkdir()
    deep = '{"ui": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    gemini = isolated_user / ".gemini" / "settings.json"
    gemini.write_text(deep)
    done = _integrate("--all")
    assert done.returncode == 2
    out = done.stdout.decode()
    assert "claude-code: wired" in out and "cursor: wired" in out, out
    [error] = done.stderr.decode().splitlines()
    assert error.startswith("gemini-cli: error:") and str(gemini) in error and "deep" in error
    assert gemini.read_text() == deep
    assert "agent-hook claude-code" in (isolated_user / ".claude" / "settings.json").read_text()


def test_integrate_refuses_a_settings_file_too_big_to_be_settings(isolated_user):
    (isolated_user / ".claude").mkdir()
    (isolated_user / ".cursor").mkdir()
    big = isolated_user / ".claude" / "settings.json"
    with open(big, "w") as fh:
        fh.write('{"padding": "' + "x" * (9 << 20) + '"}\n')
    size = big.stat().st_size
    done = _integrate("--all")
    assert done.returncode == 2
    assert "cursor: wired" in done.stdout.decode()
    [error] = done.stderr.decode().splitlines()
    assert error.startswith("claude-code: error:") and "too big" in error and str(big) in error
    assert big.stat().st_size == size and not big.with_name("settings.json.aiguard-backup").exists()


def test_integrate_edits_a_symlinked_settings_file_through_the_link(isolated_user):
    dotfiles = isolated_user / "dotfiles" / "claude"
    dotfiles.mkdir(parents=True)
    target = dotfiles / "settings.json"
    original = b'{\n  "model": "opus"\n}\n'
    target.write_bytes(original)
    (isolated_user / ".claude").mkdir()
    link = isolated_user / ".claude" / "settings.json"
    link.symlink_to(os.path.relpath(target, link.parent))

    done = _integrate("claude-code")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.path.samefile(link, target)
    assert "agent-hook claude-code" in target.read_text()
    assert (dotfiles / "settings.json.aiguard-backup").read_bytes() == original
    assert not (isolated_user / ".claude" / "settings.json.aiguard-backup").exists()

    undone = _integrate("claude-code", "--undo")
    assert undone.returncode == 0, undone.stderr
    assert link.is_symlink() and os.path.samefile(link, target)
    assert target.read_bytes() == original


def test_codex_config_symlinked_stays_a_link(isolated_user):
    dotfiles = isolated_user / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "codex.toml"
    original = b'model = "gpt-5-codex"\n'
    target.write_bytes(original)
    (isolated_user / ".codex").mkdir()
    link = isolated_user / ".codex" / "config.toml"
    link.symlink_to(target)
    assert _integrate("codex").returncode == 0
    assert link.is_symlink() and "agent-hook codex" in target.read_text()
    assert _integrate("codex", "--undo").returncode == 0
    assert link.is_symlink() and target.read_bytes() == original


# AIGUARD_HOME: a folder aiguard makes is 0700, one it finds is left alone ------------------

def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_a_state_folder_aiguard_creates_is_private(isolated_user):
    state = isolated_user / "aiguard-state"
    assert not state.exists()
    _record()
    assert _mode(state) == 0o700
    assert _mode(state / "keys.json") == 0o600
    assert _mode(state / "ledger.sqlite3") == 0o600


def test_an_existing_shared_state_folder_keeps_its_mode(isolated_user):
    state = isolated_user / "aiguard-state"
    state.mkdir()
    os.chmod(state, 0o750)  # shared with the group on purpose
    _record()
    assert _mode(state) == 0o750
    assert _mode(state / "keys.json") == 0o600  # what aiguard writes inside is still private
    assert _mode(state / "ledger.sqlite3") == 0o600
    doctor = aiguard("doctor", check=False)
    assert "750" in (doctor.stdout + doctor.stderr).decode()  # and doctor says so


# The daemon's hook server dies with the daemon ----------------------------------------------

def _wait_for(predicate, seconds: float = 20.0, what: str = "") -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # a zombie is dead
    except FileNotFoundError:
        return False


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _child_hook_server(parent: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"hook-server" in argv:
            return int(entry)
    return None


@linux_only
def test_kill_9_of_the_daemon_takes_its_hook_server_with_it(isolated_user):
    import signal
    import subprocess

    home = isolated_user / "aiguard-state"
    daemon = subprocess.Popen([sys.executable, "-m", "aiguard", "daemon", "run"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        _wait_for(lambda: (home / "hook.sock").exists(), what="the hook server's socket")
        server = _child_hook_server(daemon.pid)
        assert server is not None and _alive(server)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        _wait_for(lambda: not _alive(server), seconds=10, what="the hook server to end with the daemon")
        _wait_for(lambda: not (home / "hook.sock").exists(), what="the socket to go")
        assert not (home / "hook-server.pid").exists()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if server is not None and _alive(server):
            os.kill(server, signal.SIGKILL)


@linux_only
def test_daemon_stop_stops_a_hook_server_left_without_a_daemon(isolated_user):
    import signal
    import subprocess

    home = isolated_user / "aiguard-state"
    # A server whose daemon is gone (started on its own here, as one left by an older aiguard).
    server_proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (home / "hook.sock").exists(), what="the hook server's socket")
        done = aiguard("daemon", "stop")
        assert server_proc.wait(timeout=15) == 0
        assert b"stopped" in done.stdout, done.stdout
        assert not (home / "hook.sock").exists() and not (home / "hook-server.pid").exists()
    finally:
        if server_proc.poll() is None:
            server_proc.send_signal(signal.SIGKILL)
            server_proc.wait()


def test_a_hook_server_told_of_a_parent_it_does_not_have_does_not_serve(isolated_user):
    """The portable check: a server whose parent is not the process that started it ends."""
    import subprocess

    env = dict(os.environ, AIGUARD_HOOK_SERVER_PARENT=str(os.getppid()))  # not its parent
    done = subprocess.run([sys.executable, "-m", "aiguard", "hook-server"], env=env, capture_output=True,
                          timeout=30)
    assert done.returncode == 0
    assert b"is gone; not serving" in done.stderr
    assert not (isolated_user / "aiguard-state" / "hook.sock").exists()


def test_blame_of_a_non_utf8_file_name_shows_its_ai_lines(repo):
    _record()
    (repo.path / os.fsdecode(NAME)).write_text(MERGE_INTERVALS)
    repo.git("add", "-A")
    repo.git("commit", "-m", "add")
    text = aiguard("blame", os.fsdecode(NAME), cwd=repo.path).stdout.decode()
    assert text.splitlines()[0].split()[2] == "claude-code:m", text
    rows = json.loads(aiguard("blame", "--json", os.fsdecode(NAME), cwd=repo.path).stdout)
    assert rows[0]["assisted_by"] == "claude-code:m" and bytes.fromhex(rows[0]["path_bytes"]) == NAME


# Hostile hook payloads through the real command ---------------------------------------------

HOSTILE_PAYLOADS = {
    "deep": b"[" * 200_000 + b"]" * 200_000,
    "deep-object": b'{"tool_input": ' * 50_000 + b"1" + b"}" * 50_000,
    "not-utf8": b'{"tool_name": "Write", "tool_input": {"file_path": "\xff", "content": "\xfe\xfa"}}',
    "not-an-object": b"[1, 2, 3]",
    "types-swapped": b'{"tool_name": ["Write"], "tool_input": "x", "cwd": 5, "transcript_path": {}}',
    "truncated": b'{"tool_name": "Write", "tool_input": {"file_path": "/tmp/a", "content": "abc',
}


@pytest.mark.parametrize("name", list(HOSTILE_PAYLOADS))
@pytest.mark.parametrize("tool", ["claude-code", "gemini-cli", "codex"])
def test_agent_hook_survives_hostile_payloads(tool, name):
    done = aiguard("agent-hook", tool, input=HOSTILE_PAYLOADS[name], check=False)
    assert done.returncode == 0
    assert b"Traceback" not in done.stderr, done.stderr[-500:]
    assert len(done.stderr.splitlines()) <= 1, done.stderr


def test_ingest_keeps_the_good_records_of_a_log_with_a_hostile_line(isolated_user, tmp_path):
    from conftest import FIXTURES, run

    log = FIXTURES / "assistant-logs" / "claude-code" / "example-claude-code.jsonl"
    lines = log.read_bytes().split(b"\n")
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(b"\n".join([lines[0], b"[" * 200_000 + b"]" * 200_000, *lines[1:]]))
    recorded = []
    for name, path in (("clean", log), ("hostile", hostile)):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text("retention-days = 100000\n")  # the fixtures are old
        env = dict(os.environ, AIGUARD_HOME=str(home))
        done = run([sys.executable, "-m", "aiguard", "ingest", str(path)], env=env, check=False)
        assert b"Traceback" not in done.stderr, done.stderr[-500:]
        recorded.append(done.stdout.decode())
    clean, hostile_out = (text.split(": ", 1)[1].split(", ") for text in recorded)
    assert clean[0] == hostile_out[0] and clean[0] != "recorded 0", recorded  # every good record
    skipped = [int(next(part for part in parts if part.endswith("skipped\n") or part.endswith("skipped")).split()[0])
               for parts in (clean, hostile_out)]
    assert skipped[1] == skipped[0] + 1, recorded  # and the hostile line is one skip


def test_a_message_file_that_cannot_be_replaced_leaves_no_copy_beside_it(tmp_path, monkeypatch):
    """The stamped message is written beside the message file (in .git) and renamed over it;
    when the rename failed (an immutable or read-only-mounted file) the copy stayed behind,
    one `.COMMIT_EDITMSG.aiguard-PID` per commit."""
    from aiguard.hook import stamp

    msg = tmp_path / "COMMIT_EDITMSG"
    msg.write_bytes(b"subject\n")

    def refuse(src, dst):
        raise PermissionError(1, "Operation not permitted", str(src), None, str(dst))

    monkeypatch.setattr(stamp.os, "replace", refuse)
    with pytest.raises(PermissionError):
        stamp._write(msg, b"subject\n\nAI-Lines: 0/1\n")
    assert [p.name for p in tmp_path.iterdir()] == ["COMMIT_EDITMSG"]
    assert msg.read_bytes() == b"subject\n"


@pytest.mark.parametrize("death, said", [("kill -SEGV $$", "stopped by signal 11"), ("exit 3", "failed (exit 3)")])
def test_a_crashed_or_killed_hook_process_never_blocks_the_commit(repo, tmp_path, death, said):
    """The hook's Python killed (the kernel's OOM killer, a crash in the accelerator) or failing:
    the commit goes through with its message, and the hook says so in one line."""
    import re

    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\n{death}\n")
    fake.chmod(0o755)
    for name in ("prepare-commit-msg", "commit-msg"):
        hook = repo.path / ".git" / "hooks" / name
        hook.write_text(re.sub(r"^AIGUARD_PYTHON=.*$", f"AIGUARD_PYTHON='{fake}'", hook.read_text(), flags=re.M))
    repo.write("a.txt", "one\n")
    repo.git("add", "a.txt")
    done = repo.git("commit", "-q", "-m", "Through anyway", check=False)
    assert done.returncode == 0, done.stderr
    assert repo.raw_message() == b"Through anyway\n"
    # one line of ours (the shell itself may report the signal, as it does for any program)
    ours = [line for line in done.stderr.decode().splitlines() if line.startswith("aiguard: ")]
    assert len(ours) == 1 and said in ours[0], done.stderr
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Written in the editor\\n" > "$1"\n')
    editor.chmod(0o755)
    repo.write("b.txt", "two\n")
    repo.git("add", "b.txt")
    done = repo.git("commit", "-q", check=False, env={"GIT_EDITOR": str(editor)})
    assert done.returncode == 0, done.stderr
    assert repo.raw_message() == b"Written in the editor\n"
    assert [line for line in done.stderr.decode().splitlines() if line.startswith("aiguard: ")]
