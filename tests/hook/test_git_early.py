"""The prepare-commit-msg script asks git's first questions while Python starts (AIGUARD_EARLY):
the stamp must be the one Python would have made asking them itself, Python must not ask
them again, and anything that does not come whole is asked again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiguard.git import patches, runner
from aiguard.hook import server as hookserver
from conftest import MERGE_INTERVALS, ROLLING_MEDIAN, Repo, aiguard

EARLY = {
    "config": (*runner.GIT, *runner._CONFIG_ARGS),
    "rev-parse": (*runner.GIT, *runner._HEAD_ARGS),
    "diff": (*runner.GIT, *patches.STAGED_DIFF_ARGS),
}


def git_starts(trace: Path) -> list[tuple[str, ...]]:
    """The argv of every git process that ran (each writes its own `start` event)."""
    starts = []
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "start":
            starts.append(tuple(event["argv"]))
    return starts


def asked(starts: list[tuple[str, ...]], name: str) -> list[tuple[str, ...]]:
    return [argv for argv in starts if len(argv) > len(runner.GIT) and argv[len(runner.GIT)] == name
            and argv[:len(runner.GIT)] == runner.GIT]


def commit_traced(repo: Repo, tmp_path: Path, *args: str) -> list[tuple[str, ...]]:
    trace = tmp_path / f"trace-{time.monotonic_ns()}.json"
    repo.git("commit", "-q", *args, env={"GIT_TRACE2_EVENT": str(trace)})
    return git_starts(trace)


PASTED = "import sys\n\n" + MERGE_INTERVALS + "\n\nprint(sys.argv)\n"
AI_LINES = f"{len(MERGE_INTERVALS.splitlines())}/{len(PASTED.splitlines())}"


def staged_paste(repo: Repo) -> None:
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=MERGE_INTERVALS.encode())
    repo.write("base.py", "import os\n")
    repo.git("add", "base.py")
    repo.git("commit", "-q", "-m", "Base")
    repo.write("m.py", PASTED)
    repo.git("add", "m.py")


def test_the_scripts_early_commands_are_pythons_and_are_asked_once(repo: Repo, tmp_path):
    staged_paste(repo)
    starts = commit_traced(repo, tmp_path, "-m", "Add merging")
    for name, argv in EARLY.items():
        assert asked(starts, name) == [argv], f"git {name}: {asked(starts, name)}"
    assert ("Assisted-by", "claude-code:m1") in repo.trailers()


def test_the_early_stamp_is_the_one_python_makes_alone(repo: Repo, tmp_path):
    staged_paste(repo)
    alone = tmp_path / "alone.msg"
    alone.write_bytes(b"Add merging\n")
    aiguard("stamp", str(alone), "message", cwd=repo.path)  # no script: Python asks git itself
    repo.git("commit", "-q", "-m", "Add merging")
    assert repo.raw_message() == alone.read_bytes()
    assert dict(repo.trailers())["AI-Lines"] == AI_LINES


def test_an_amend_does_not_use_the_diff_against_head(repo: Repo, tmp_path):
    """The early diff is against HEAD; an amend's change is against HEAD^ and is asked for again."""
    staged_paste(repo)
    repo.git("commit", "-q", "-m", "Add merging")
    first = dict(repo.trailers())
    repo.write("n.py", ROLLING_MEDIAN)
    repo.git("add", "n.py")
    starts = commit_traced(repo, tmp_path, "--amend", "-m", "Add merging and a median")
    assert len(asked(starts, "diff")) == 2  # the script's, unused, and Python's against HEAD^
    ai, added = (int(n) for n in dict(repo.trailers())["AI-Lines"].split("/"))
    assert added == int(first["AI-Lines"].split("/")[1]) + len(ROLLING_MEDIAN.splitlines())
    assert ai == int(first["AI-Lines"].split("/")[0])


def test_an_unborn_head_and_an_editor_commit(repo: Repo, tmp_path):
    repo.write("m.py", MERGE_INTERVALS)
    repo.git("add", "m.py")
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=MERGE_INTERVALS.encode())
    starts = commit_traced(repo, tmp_path, "-m", "First")  # no HEAD yet: rev-parse says only the git dir
    assert asked(starts, "rev-parse") == [EARLY["rev-parse"]]
    assert ("Assisted-by", "codex:gpt-5") in repo.trailers()
    repo.write("n.py", ROLLING_MEDIAN)
    repo.git("add", "n.py")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'Median\\n' > \"$1\"\n")
    editor.chmod(0o755)
    trace = tmp_path / "editor.json"
    repo.git("commit", "-q", env={"GIT_EDITOR": str(editor), "GIT_TRACE2_EVENT": str(trace)})
    # With an editor nothing is asked early: the commit-msg run stamps after it.
    assert len(asked(git_starts(trace), "diff")) == 1
    assert dict(repo.trailers())["AI-Lines"] == f"0/{len(ROLLING_MEDIAN.splitlines())}"


# What the script hands over, taken apart: each piece not whole is asked again -----------------

def _pipe_with(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    return read_end


def _diff_args() -> tuple[str, ...]:
    return patches.STAGED_DIFF_ARGS


def _early(monkeypatch, config: bytes, head: bytes, diff: bytes, version: str = "1"):
    fds = [_pipe_with(config), _pipe_with(head), _pipe_with(diff)]
    monkeypatch.setenv(runner.EARLY_ENV, f"{version} {fds[0]} {fds[1]} {fds[2]}")
    return runner.take_early(_diff_args()), fds


@pytest.fixture
def staged(repo: Repo, monkeypatch) -> Repo:
    staged_paste(repo)
    monkeypatch.chdir(repo.path)
    return repo


def _truth() -> tuple[bytes, bytes, bytes]:
    return (runner.Started(runner._CONFIG_ARGS).result()[1], runner.Started(runner._HEAD_ARGS).result()[1],
            runner.Started(_diff_args()).output())


def test_whole_early_output_is_used_as_it_came(staged, monkeypatch):
    config, head, diff = _truth()
    piped, fds = _early(monkeypatch, b"x.y\nz\0", head, diff + b"\naiguard-early-exit 0\n")
    assert runner.EARLY_ENV not in os.environ  # no child sees it
    assert piped is not None
    assert piped[0].result() == (0, b"x.y\nz\0", b"")  # what came, not what git would say now
    assert piped[1].result() == (0, head, b"")
    assert piped[2].output() == diff
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)  # taken: the inherited numbers are closed


@pytest.mark.parametrize("broken", ["config", "head", "diff-unended", "diff-failed", "diff-cut"])
def test_output_that_is_not_whole_is_asked_again(staged, monkeypatch, broken):
    config, head, diff = _truth()
    pieces = {"config": config, "head": head, "diff": diff + b"\naiguard-early-exit 0\n"}
    if broken == "config":
        pieces["config"] = config[:-1]  # cut inside the last entry
    elif broken == "head":
        pieces["head"] = head.split(b"\n")[0] + b"\nnot-a-commit\n"
    elif broken == "diff-unended":
        pieces["diff"] = diff  # the script was stopped before its end line
    elif broken == "diff-failed":
        pieces["diff"] = diff[:10] + b"\naiguard-early-exit 128\n"
    else:
        pieces["diff"] = diff + b"\naiguard-early-exit 0"  # no final newline: cut
    piped, _ = _early(monkeypatch, pieces["config"], pieces["head"], pieces["diff"])
    assert piped is not None
    assert piped[0].result()[1] == config
    assert piped[1].result()[1] == head
    assert piped[2].output() == diff


@pytest.mark.parametrize("spec", ["2 3 4 0", "1 3 4", "1 a b c", "1 900 901 902", ""])
def test_a_spec_from_another_version_or_closed_fds_is_ignored(staged, monkeypatch, spec):
    monkeypatch.setenv(runner.EARLY_ENV, spec)
    assert runner.take_early(_diff_args()) is None
    assert runner.EARLY_ENV not in os.environ


def test_an_unused_early_pipe_lets_its_writer_end(tmp_path):
    """A cancelled early command (the amend's diff against HEAD) must not block its writer."""
    read_end, write_end = os.pipe()
    writer = subprocess.Popen([sys.executable, "-c", "import os, sys\nfor _ in range(64):\n"
                               "    os.write(1, b'x' * 65536)\n"], stdout=write_end)
    os.close(write_end)
    piped = runner.Piped(_diff_args(), read_end, "diff")
    piped.cancel()
    assert writer.wait(timeout=30) != 0  # EPIPE/SIGPIPE, not a hang
    assert piped.result()[0] == -1


@pytest.mark.skipif(not hasattr(socket, "send_fds"), reason="needs POSIX fd passing")
def test_a_served_stamp_reads_the_pipes_it_was_handed(staged, tmp_path, monkeypatch):
    """The hook server's child gets the early pipes along with stdio, under other numbers. Proof
    that it reads them: the index changes after the diff was taken, and the stamp follows the diff."""
    from aiguard.hook import client as hookclient

    config, head, diff = _truth()
    staged.git("rm", "-q", "--cached", "m.py")  # git itself would now say: nothing of m.py staged
    fds = [_pipe_with(config), _pipe_with(head), _pipe_with(diff + b"\naiguard-early-exit 0\n")]
    monkeypatch.setenv(runner.EARLY_ENV, "1 %d %d %d" % tuple(fds))
    proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not hookserver.socket_path().exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.02)
        msg = tmp_path / "served.msg"
        msg.write_bytes(b"Add merging\n")
        monkeypatch.setenv("GIT_EDITOR", ":")
        assert hookclient.call(["stamp", str(msg), "message"]) == 0, "the server did not run it"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert b"Assisted-by: claude-code:m1\n" in msg.read_bytes()
    assert f"AI-Lines: {AI_LINES}\n".encode() in msg.read_bytes()
