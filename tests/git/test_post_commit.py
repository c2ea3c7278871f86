"""The post-commit hook (plain sh) and aiguard.git.pending, against real git and the real
installed hooks: the line record lands on the commit whose stamp names it and on no
other, a filed record is emptied by the hook and swept by the next stamp, and uninstall
leaves no record behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MERGE_INTERVALS, Repo, aiguard, unfiled_records

NOTES = "refs/notes/aiguard"


def snippet(n: int) -> str:
    """MERGE_INTERVALS made distinct per commit (recorded as it is, so it matches)."""
    return MERGE_INTERVALS.replace("merge_intervals(", f"merge_intervals_{n}(").replace(
        "return merged", f"return merged[:{n + 100}]")


def paste(repo: Repo, name: str, n: int) -> None:
    """An assistant's output, recorded, written into the work tree and staged."""
    text = snippet(n)
    aiguard("record", "--tool", "claude-code", "--model", "m", "--source", "manual", input=text.encode())
    repo.write(name, text)
    repo.git("add", name)


def noted(repo: Repo) -> set[str]:
    """The commits that have a line record."""
    out = repo.git("notes", "--ref", NOTES, "list", check=False).stdout.decode()
    return {line.split()[1] for line in out.splitlines()}


def head(repo: Repo, rev: str = "HEAD") -> str:
    return repo.out("rev-parse", rev).strip()


def stamp(repo: Repo, rev: str = "HEAD") -> str | None:
    values = [v for k, v in repo.trailers(rev) if k == "AIGuard-Stamp"]
    return values[-1] if values else None


def git_dir(repo: Repo) -> Path:
    return Path(repo.out("rev-parse", "--absolute-git-dir").strip())


def abort_after_stamp(repo: Repo) -> None:
    """The next commit is stamped (its record saved) and then refused by the commit-msg hook
    chained before aiguard's: the record stays, COMMIT_EDITMSG holds the stamped message."""
    chained = repo.path / ".git" / "hooks" / "commit-msg.pre-aiguard"
    chained.write_text("#!/bin/sh\nexit 1\n")
    chained.chmod(0o755)


def allow_commits(repo: Repo) -> None:
    (repo.path / ".git" / "hooks" / "commit-msg.pre-aiguard").unlink()


@pytest.fixture
def started(repo: Repo) -> Repo:
    repo.write("README", "x\n")
    repo.git("add", "README")
    repo.git("commit", "-q", "-m", "Start")
    return repo


def test_a_filed_record_is_emptied_and_the_next_stamp_sweeps_it(started: Repo):
    repo = started
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI")
    folder = git_dir(repo) / "aiguard-pending"
    binding = stamp(repo).split()[3]
    assert noted(repo) == {head(repo)}
    assert [p.name for p in folder.iterdir()] == [binding] and (folder / binding).stat().st_size == 0
    # A week-old leftover of a commit that never happened goes with the consumed one.
    old = folder / ("0" * 32)
    old.write_bytes(b"stale")
    os.utime(old, (time.time() - 8 * 86400,) * 2)
    fresh = folder / ("1" * 32)
    fresh.write_bytes(b"not yet a week old")
    repo.write("h.txt", "human\n")
    repo.git("add", "h.txt")
    repo.git("commit", "-q", "-m", "Human")
    assert sorted(p.name for p in folder.iterdir()) == ["1" * 32]
    fresh.unlink()
    repo.write("h.txt", "human, again\n")
    repo.git("commit", "-q", "-a", "-m", "Human again")
    assert not folder.exists()


def test_an_ai_commit_sweeps_what_the_one_before_consumed(started: Repo):
    repo = started
    for n in range(3):
        paste(repo, f"a{n}.py", n)
        repo.git("commit", "-q", "-m", f"AI {n}")
        assert unfiled_records(git_dir(repo)) == []
        assert len(list((git_dir(repo) / "aiguard-pending").iterdir())) == 1  # this commit's, consumed
    assert len(noted(repo)) == 3


def test_file_pending_reads_an_empty_record_as_consumed(started: Repo):
    """post-rewrite's Python route agrees with the shell: an emptied record is not filed again."""
    from aiguard.git import pending

    repo = started
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI")
    commit = head(repo)
    repo.git("notes", "--ref", NOTES, "remove", commit)
    message = repo.raw_message()
    assert pending.file_pending(commit, message, cwd=str(repo.path)) is False
    assert noted(repo) == set()
    record = git_dir(repo) / "aiguard-pending" / stamp(repo).split()[3]
    record.write_bytes(b'{"v":1}')
    assert pending.file_pending(commit, message, cwd=str(repo.path)) is True
    assert noted(repo) == {commit} and not record.exists()


def _shimmed_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH with only a git that logs its calls: any other process the hook starts fails."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git-calls"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("git")} "$@"\n')
    (shim / "git").chmod(0o755)
    return dict(os.environ, PATH=str(shim)), log


def test_post_commit_with_only_consumed_records_starts_no_process(started: Repo, tmp_path):
    repo = started
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI")
    env, log = _shimmed_env(tmp_path)
    env["GIT_DIR"] = str(git_dir(repo))
    hook = repo.path / ".git" / "hooks" / "post-commit"
    done = subprocess.run(["/bin/sh", str(hook)], cwd=repo.path, env=env, capture_output=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert not log.exists(), log.read_text()
    # And with a record waiting: only git log and git notes, no rm/rmdir/find (not on PATH).
    repo.git("notes", "--ref", NOTES, "remove", "HEAD")
    record = git_dir(repo) / "aiguard-pending" / stamp(repo).split()[3]
    record.write_bytes(b'{"v":1}')
    done = subprocess.run(["/bin/sh", str(hook)], cwd=repo.path, env=env, capture_output=True)
    assert (done.returncode, done.stderr) == (0, b"")
    assert [line.split()[0] for line in log.read_text().splitlines()] in (["log", "notes"], ["notes"])
    assert noted(repo) == {head(repo)} and record.stat().st_size == 0


def test_uninstall_leaves_no_record_behind(started: Repo, tmp_path):
    repo = started
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI")  # a consumed record
    abort_after_stamp(repo)
    paste(repo, "b.py", 2)
    assert repo.git("commit", "-q", "-m", "refused", check=False).returncode != 0
    allow_commits(repo)
    repo.git("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    other = Repo(tmp_path / "wt")
    paste(other, "c.py", 3)
    other.git("commit", "-q", "-m", "AI in a linked worktree")
    assert unfiled_records(git_dir(repo)) != [] and (git_dir(other) / "aiguard-pending").is_dir()
    done = aiguard("uninstall", cwd=repo.path)
    assert "1 line record(s)" in done.stdout.decode()
    assert not (git_dir(repo) / "aiguard-pending").exists()
    assert not (git_dir(other) / "aiguard-pending").exists()
