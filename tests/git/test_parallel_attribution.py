"""A big change is attributed by several processes, one share of its files each
(git.changes._shares): the result is the one a single process gives, and a share whose
process fails is done by the parent instead of being lost."""

from __future__ import annotations

import os

import pytest

from conftest import MERGE_INTERVALS, ROLLING_MEDIAN, Repo, aiguard

from aiguard.git import changes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the shares are forked processes")

def staged_change(repo: Repo) -> None:
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=MERGE_INTERVALS.encode())
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=ROLLING_MEDIAN.encode())
    filler = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(40))
    for n in range(9):
        pasted = MERGE_INTERVALS if n % 3 == 0 else ROLLING_MEDIAN if n % 3 == 1 else ""
        repo.write(f"pkg/mod_{n}.py", filler[: 400 * (n + 1)] + pasted + filler)
    repo.write("pkg/blob.bin", b"\0\1\2" * 100)
    repo.git("add", "-A")


def attribute(repo: Repo, monkeypatch, processes: int):
    from aiguard.store.session import attribute_change

    monkeypatch.setattr(changes, "PARALLEL_BYTES", 1)  # every change is "big"
    monkeypatch.setenv("AIGUARD_PROCESSES", str(processes))
    monkeypatch.chdir(repo.path)
    return attribute_change(None)


def test_several_processes_give_what_one_gives(repo: Repo, monkeypatch):
    staged_change(repo)
    started = []
    start = changes._start_share
    monkeypatch.setattr(changes, "_start_share", lambda *a: started.append(1) or start(*a))
    one = attribute(repo, monkeypatch, 1)
    assert started == []
    three = attribute(repo, monkeypatch, 3)
    assert len(started) == 2  # the parent does the first share, two children the others
    assert three == one
    assert one.ai > 0 and {f.path for f in one.files if f.ai} == {f"pkg/mod_{n}.py" for n in (0, 1, 3, 4, 6, 7)}
    assert [(u.path, u.reason) for u in one.unmatched] == [("pkg/blob.bin", changes.BINARY)]


def test_a_share_whose_process_fails_is_done_by_the_parent(repo: Repo, monkeypatch):
    staged_change(repo)
    one = attribute(repo, monkeypatch, 1)
    parent = os.getpid()
    attribute_one = changes._attribute_one

    def failing_in_children(*args):
        if os.getpid() != parent:
            raise RuntimeError("a child's failure")
        return attribute_one(*args)

    monkeypatch.setattr(changes, "_attribute_one", failing_in_children)
    assert attribute(repo, monkeypatch, 2) == one


def test_small_changes_and_single_cores_stay_in_one_process(monkeypatch):
    from aiguard.git.patches import FileDiff

    class Ledger:
        path = "x"

        @classmethod
        def open_readonly(cls, path):
            return cls()

    files = [(FileDiff(f"f{i}".encode(), "0" * 40, False, [1], [b"+x"]), [1]) for i in range(4)]
    sizes = {d.path: 10 for d, _ in files}
    assert len(changes._shares(files, sizes, 1 << 30, Ledger())) == 1  # under PARALLEL_BYTES
    monkeypatch.setattr(changes, "PARALLEL_BYTES", 1)
    monkeypatch.setenv("AIGUARD_PROCESSES", "2")
    shares = changes._shares(files, sizes, 1 << 30, Ledger())
    assert sorted(len(s) for s in shares) == [2, 2]
    assert len(changes._shares(files, sizes, 39, Ledger())) == 1  # over the budget: the budget decides, in order
    assert len(changes._shares(files, sizes, 1 << 30, object())) == 1  # a ledger that cannot be reopened
    monkeypatch.setenv("AIGUARD_PROCESSES", "1")
    assert len(changes._shares(files, sizes, 1 << 30, Ledger())) == 1


def test_no_process_or_temporary_file_to_be_had_means_one_process(repo: Repo, monkeypatch):
    """At the user's process limit (fork: EAGAIN) or without a writable temporary folder, the
    parent attributes every share itself."""
    import tempfile

    staged_change(repo)
    one = attribute(repo, monkeypatch, 1)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    fork = os.fork
    monkeypatch.setattr(os, "fork", no_fork)
    assert attribute(repo, monkeypatch, 3) == one
    monkeypatch.setattr(os, "fork", fork)

    def no_tempfile(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_tempfile)
    assert attribute(repo, monkeypatch, 2) == one
