"""The post-commit hook (plain sh) and aiguard.git.pending, against real git and the real
installed hooks: the line record lands on the commit whose stamp names it and on no
other, a filed record is emptied by the hook and swept by the next stamp, and uninstall
leaves no record behind."""

from __future__ import annotations

import json
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


# --- which commit the record lands on: the stamp read from COMMIT_EDITMSG, or git log -1 -----


def ai_lines(repo: Repo, rev: str) -> int:
    value = dict(repo.trailers(rev)).get("AI-Lines")
    return int(value.split("/")[0]) if value else 0


def assert_records_match_stamps(repo: Repo) -> None:
    """Every commit has a line record iff its stamp claims AI lines, and the record is its own."""
    from aiguard.git import pending

    commits = repo.out("rev-list", "--all").split()
    have = noted(repo)
    for commit in commits:
        claimed = ai_lines(repo, commit)
        assert (commit in have) == (claimed > 0), (commit, repo.message(commit))
        if claimed:
            record = repo.out("notes", "--ref", NOTES, "show", commit)
            assert f'"ai":{claimed},' in record.replace(" ", "") or f'"ai": {claimed}' in record, record
    assert pending.stamp_binding(stamp(repo)) is None or unfiled_records(git_dir(repo)) == []


def traced(repo: Repo, tmp_path: Path, *args: str, env: dict[str, str] | None = None, check: bool = True):
    """Run a git command with trace2 on; returns how many `git log -1` post-commit ran for its stamp."""
    trace = tmp_path / f"trace-{time.monotonic_ns()}.json"
    done = repo.git(*args, env={**(env or {}), "GIT_TRACE2_EVENT": str(trace)}, check=check)
    events = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    return sum(1 for e in events if e.get("event") == "start" and e["argv"][1:2] == ["log"]
               and any("AIGuard-Stamp" in a for a in e["argv"])), done


def editor(tmp_path: Path, subject: str) -> str:
    """A GIT_EDITOR that puts a subject line above what git wrote (its comments, a -v diff)."""
    script = tmp_path / f"editor-{abs(hash(subject))}.sh"
    script.write_text(f'#!/bin/sh\n{{ printf "%s\\n" "{subject}"; cat "$1"; }} > "$1.new" && mv "$1.new" "$1"\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("how", ["-m", "-F", "-C older", "-c older", "--amend -m", "--amend --no-edit",
                                 "--trailer", "-s", "editor", "-v editor", "--cleanup=verbatim",
                                 "linked worktree"])
def test_git_commit_files_the_record_of_the_commit_from_its_message_file(started: Repo, tmp_path, how):
    repo = started
    paste(repo, "old.py", 0)
    repo.git("commit", "-q", "-m", "Older AI commit")
    older = head(repo)
    where = repo
    if how == "linked worktree":
        repo.git("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
        where = Repo(tmp_path / "wt")
    paste(where, "new.py", 1)
    env: dict[str, str] = {}
    args = {"-m": ["-m", "AI"], "-C older": ["-C", older], "-c older": ["-c", older],
            "--amend -m": ["--amend", "-m", "AI, amended"], "--amend --no-edit": ["--amend", "--no-edit"],
            "--trailer": ["-m", "AI", "--trailer", "Reviewed-by: R <r@example.com>"], "-s": ["-s", "-m", "AI"],
            "editor": [], "-v editor": ["-v"], "--cleanup=verbatim": ["--cleanup=verbatim", "-m", "AI"],
            "linked worktree": ["-m", "AI in a worktree"]}.get(how)
    if how == "-F":
        (tmp_path / "msg").write_text("AI, from a file\n\nBody.\n")
        args = ["-F", str(tmp_path / "msg")]
    if how in ("editor", "-v editor", "-c older"):
        env["GIT_EDITOR"] = editor(tmp_path, "AI, edited")
    logs, _ = traced(where, tmp_path, "commit", "-q", *args, env=env)
    assert ai_lines(where, "HEAD") > 0 and stamp(where) != stamp(repo, older)
    assert head(where) in noted(repo)
    assert logs == 0, "post-commit asked git log although COMMIT_EDITMSG was this commit's"
    assert_records_match_stamps(repo)


def test_cherry_pick_revert_and_rebase_picks_get_their_own_records(started: Repo, tmp_path):
    repo = started
    repo.git("checkout", "-q", "-b", "feature")
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI one")
    paste(repo, "b.py", 2)
    repo.git("commit", "-q", "-m", "AI two")
    repo.git("checkout", "-q", "main")
    repo.write("m.txt", "main moves on\n")
    repo.git("add", "m.txt")
    repo.git("commit", "-q", "-m", "Main")
    # cherry-pick (sequencer, prepare-commit-msg on COMMIT_EDITMSG)
    repo.git("checkout", "-q", "-b", "picked")
    logs, _ = traced(repo, tmp_path, "cherry-pick", "feature~1")
    assert logs == 0 and head(repo) in noted(repo)
    logs, _ = traced(repo, tmp_path, "revert", "--no-edit", "HEAD")
    assert logs == 0
    assert_records_match_stamps(repo)
    # rebase, merge backend: a pick, a reword (editor: git commit), a fixup
    repo.git("checkout", "-q", "feature")
    paste(repo, "c.py", 3)
    repo.git("commit", "-q", "-m", "fixup! AI one")
    todo = tmp_path / "todo.sh"
    todo.write_text("#!/bin/sh\nsed -i -e '1s/^pick/reword/' \"$1\"\n")
    todo.chmod(0o755)
    logs, _ = traced(repo, tmp_path, "rebase", "-q", "-i", "--autosquash", "main",
                     env={"GIT_SEQUENCE_EDITOR": str(todo), "GIT_EDITOR": editor(tmp_path, "AI one, reworded")})
    subjects = repo.out("log", "--format=%s", "main..HEAD").splitlines()
    assert len(subjects) == 2 and subjects[0] == "AI two" and subjects[1].startswith("AI one, reworded")
    assert all(ai_lines(repo, rev) > 0 for rev in ("HEAD", "HEAD~1"))
    assert {head(repo), head(repo, "HEAD~1")} <= noted(repo)
    assert logs == 0
    assert_records_match_stamps(repo)


def test_a_commit_concluding_a_merge_gets_its_record(started: Repo, tmp_path):
    repo = started
    repo.write("c.py", "base\n")
    repo.git("add", "c.py")
    repo.git("commit", "-q", "-m", "Base")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("c.py", "theirs\n")
    repo.git("commit", "-q", "-a", "-m", "Theirs")
    repo.git("checkout", "-q", "main")
    repo.write("c.py", "ours\n")
    repo.git("commit", "-q", "-a", "-m", "Ours")
    for conclude in (["merge", "--continue"], ["commit", "--no-edit"]):
        assert repo.git("merge", "other", check=False).returncode != 0
        paste(repo, "c.py", 7)  # the resolution is an assistant's
        logs, _ = traced(repo, tmp_path, *conclude, env={"GIT_EDITOR": ":"})
        assert len(repo.out("rev-parse", "HEAD^@").split()) == 2
        assert ai_lines(repo, "HEAD") > 0 and head(repo) in noted(repo) and logs == 0
        assert_records_match_stamps(repo)
        repo.git("reset", "-q", "--hard", "HEAD^")


def test_no_record_on_a_commit_whose_message_lacks_its_stamp(started: Repo, tmp_path):
    """An aborted commit leaves its record and its stamped COMMIT_EDITMSG behind: a
    cherry-pick, a `commit -C` of an older stamped message and a human commit after it
    get no record (and the leftover stays until it is filed or a week old)."""
    repo = started
    paste(repo, "old.py", 0)
    repo.git("commit", "-q", "-m", "Older AI commit")
    older = head(repo)
    repo.git("checkout", "-q", "-b", "side")
    repo.write("s.txt", "side\n")
    repo.git("add", "s.txt")
    repo.git("commit", "-q", "-m", "Human on side")
    repo.git("checkout", "-q", "main")
    abort_after_stamp(repo)
    paste(repo, "aborted.py", 1)
    assert repo.git("commit", "-q", "-m", "Refused", check=False).returncode != 0
    allow_commits(repo)
    leftover = unfiled_records(git_dir(repo))
    assert len(leftover) == 1 and leftover[0] in (git_dir(repo) / "COMMIT_EDITMSG").read_text()
    repo.git("reset", "-q", "--hard")
    repo.git("clean", "-qfd")

    repo.git("cherry-pick", "side")
    repo.write("h.txt", "human\n")
    repo.git("add", "h.txt")
    repo.git("commit", "-q", "-C", older)
    repo.write("h.txt", "human, again\n")
    repo.git("commit", "-q", "-a", "-m", "Human", env={"AIGUARD_DISABLE": "1"})  # no stamp at all
    assert_records_match_stamps(repo)
    assert noted(repo) == {older}
    assert unfiled_records(git_dir(repo)) == leftover


def test_a_pick_without_a_prepare_commit_msg_hook_asks_git(started: Repo, tmp_path):
    """sequencer.c writes no COMMIT_EDITMSG when there is no prepare-commit-msg hook: the
    aborted commit's stamped file is stale, and post-commit must not read it."""
    repo = started
    repo.git("checkout", "-q", "-b", "side")
    repo.write("s.txt", "side\n")
    repo.git("add", "s.txt")
    repo.git("commit", "-q", "-m", "Human on side")
    repo.git("checkout", "-q", "main")
    abort_after_stamp(repo)
    paste(repo, "aborted.py", 1)
    assert repo.git("commit", "-q", "-m", "Refused", check=False).returncode != 0
    allow_commits(repo)
    repo.git("reset", "-q", "--hard")
    repo.git("clean", "-qfd")
    (repo.path / ".git" / "hooks" / "prepare-commit-msg").unlink()
    before = (git_dir(repo) / "COMMIT_EDITMSG").read_bytes()
    logs, _ = traced(repo, tmp_path, "cherry-pick", "side")
    assert (git_dir(repo) / "COMMIT_EDITMSG").read_bytes() == before  # git did not write it
    assert logs == 1 and noted(repo) == set()
    assert len(unfiled_records(git_dir(repo))) == 1


def _hook_env(repo: Repo) -> dict[str, str]:
    env = dict(os.environ, GIT_INDEX_FILE=str(git_dir(repo) / "index"))
    env.pop("GIT_DIR", None)
    return env


def test_a_record_newer_than_the_message_file_is_not_trusted_to_it(started: Repo):
    """COMMIT_EDITMSG names a record saved after it was written (for another message file):
    post-commit asks git log which stamp HEAD has, and files only that one."""
    repo = started
    paste(repo, "a.py", 1)
    repo.git("commit", "-q", "-m", "AI")
    own = stamp(repo).split()[3]
    folder = git_dir(repo) / "aiguard-pending"
    repo.git("notes", "--ref", NOTES, "remove", "HEAD")
    (folder / own).write_bytes(b'{"own":1}')
    other = "ab" * 16
    msgfile = git_dir(repo) / "COMMIT_EDITMSG"
    msgfile.write_text(f"Another\n\nAIGuard-Stamp: v2 7bf434c0 1 {other} {'cd' * 16}\n")
    (folder / other).write_bytes(b'{"other":1}')
    past = time.time() - 60
    os.utime(msgfile, (past, past))
    hook = repo.path / ".git" / "hooks" / "post-commit"
    done = subprocess.run([str(hook)], cwd=repo.path, env=_hook_env(repo), capture_output=True)
    assert done.returncode == 0 and done.stderr == b""
    assert repo.out("notes", "--ref", NOTES, "show", "HEAD") == '{"own":1}\n'
    assert (folder / other).read_bytes() == b'{"other":1}' and (folder / own).read_bytes() == b""
    # As new as the record: the file is this commit's message (git wrote it, the stamp ran
    # on it), and its stamp is the one filed.
    repo.git("notes", "--ref", NOTES, "remove", "HEAD")
    os.utime(msgfile, (time.time() + 1,) * 2)
    subprocess.run([str(hook)], cwd=repo.path, env=_hook_env(repo), check=True)
    assert repo.out("notes", "--ref", NOTES, "show", "HEAD") == '{"other":1}\n'


def test_a_huge_verbose_message_is_read_only_up_to_its_scissors(started: Repo, tmp_path):
    """`commit -v` with a diff of 200,000 lines: dash reads a byte a syscall, so post-commit
    stops at the scissors line; a message longer than its bound goes to git log instead."""
    repo = started
    big = "".join(f"line {i} of a big generated file\n" for i in range(200_000))
    repo.write("big.txt", big)
    paste(repo, "a.py", 1)
    repo.git("add", "big.txt")
    logs, _ = traced(repo, tmp_path, "commit", "-q", "-v", env={"GIT_EDITOR": editor(tmp_path, "Big, with AI")})
    assert logs == 0 and head(repo) in noted(repo)
    assert (git_dir(repo) / "COMMIT_EDITMSG").stat().st_size > 5_000_000
    hook = repo.path / ".git" / "hooks" / "post-commit"
    repo.git("notes", "--ref", NOTES, "remove", "HEAD")
    record = git_dir(repo) / "aiguard-pending" / stamp(repo).split()[3]
    record.write_bytes(b'{"v":1}')
    os.utime(git_dir(repo) / "COMMIT_EDITMSG")
    started_at = time.monotonic()
    subprocess.run([str(hook)], cwd=repo.path, env=_hook_env(repo), check=True)
    assert time.monotonic() - started_at < 2  # the whole file byte by byte takes far longer
    assert head(repo) in noted(repo)
    # Past the bound (no scissors: 300 lines above the stamp): git log says, the same stamp.
    repo.git("notes", "--ref", NOTES, "remove", "HEAD")
    record.write_bytes(b'{"v":2}')
    message = repo.message()
    (git_dir(repo) / "COMMIT_EDITMSG").write_bytes(b"x\n" * 300 + message)
    trace = tmp_path / "hook-trace.json"
    subprocess.run([str(hook)], cwd=repo.path, env={**_hook_env(repo), "GIT_TRACE2_EVENT": str(trace)}, check=True)
    assert repo.out("notes", "--ref", NOTES, "show", "HEAD") == '{"v":2}\n'
    assert '"log"' in trace.read_text()
