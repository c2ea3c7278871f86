"""Running git: each question is one call with fixed flags.

Stdlib only (the commit hook imports this). Calls inherit the environment, so
inside a hook they honour GIT_INDEX_FILE (`commit -a`, `commit <paths>`),
GIT_DIR and GIT_WORK_TREE. Flags are pinned so that user configuration
(diff.algorithm, diff.noprefix, color.ui, diff.external, core.quotePath,
diff.relative, ...) cannot change what aiguard reads: the stamp's change digest
must come out the same on the developer's machine and in CI.
"""

from __future__ import annotations

import os
import subprocess

from aiguard.core.errors import AiguardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator, Sequence


class GitError(AiguardError):
    """A git command failed; the message names the command and git's first complaint."""


GIT = ("git", "-c", "core.quotePath=false", "-c", "diff.relative=false")


def _failed(args: Sequence[str], code: int, stderr: bytes) -> GitError:
    """The error for a git command that exited non-zero: its first complaint, or the exit code."""
    complaint = stderr.decode("utf-8", "replace").strip().splitlines()
    return GitError(f"git {args[0]} failed: {complaint[0] if complaint else f'exit {code}'}")


def git(args: Sequence[str], input: bytes | None = None, cwd: str | None = None, check: bool = True) -> bytes:
    try:
        done = subprocess.run(
            [*GIT, *args], input=input, capture_output=True, cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        raise _failed(args, done.returncode, done.stderr)
    return done.stdout


def stream_records(args: Sequence[str], mark: bytes, cwd: str | None = None,
                   input: bytes | None = None) -> Iterator[bytes]:
    """Run git and yield its output split on `mark`, as it streams (for `git log` over long
    ranges: nothing holds the whole output). Empty records are dropped; GitError on failure."""
    try:
        proc = subprocess.Popen([*GIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    assert proc.stdout is not None
    if input is not None:
        assert proc.stdin is not None
        proc.stdin.write(input)
        proc.stdin.close()
    _widen_pipe(proc.stdout)
    read = getattr(proc.stdout, "read1", proc.stdout.read)  # read1: what is there, git writing on meanwhile
    pending = b""
    while True:
        chunk = read(1 << 20)
        if chunk:
            pending += chunk
        records = pending.split(mark)
        pending = records.pop() if chunk else b""
        for record in records:
            if record.strip(b"\0\n"):
                yield record
        if not chunk:
            break
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise _failed(args, proc.returncode, err)


def _widen_pipe(pipe) -> None:
    """A 1 MiB pipe (Linux) instead of 64 KiB, so git runs ahead while the reader is busy."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # another system, or a lower pipe-max-size: the default pipe, only slower


def rev_parse(rev: str, cwd: str | None = None) -> str | None:
    """Full object name of a commit, or None when it does not exist (unborn HEAD)."""
    out = subprocess.run(
        [*GIT, "rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"],
        capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL,
    )
    return out.stdout.decode().strip() or None if out.returncode == 0 else None


_HEAD_ARGS = ("rev-parse", "--absolute-git-dir", "-q", "--verify", "--end-of-options", "HEAD^{commit}")


def head_commit(cwd: str | None = None, started: "Started | None" = None) -> str | None:
    """HEAD's commit (None when unborn), learning the git dir for state_path in the same call.

    `started`: the same command, started earlier with start_head().
    """
    code, out, _err = (started or Started(_HEAD_ARGS, cwd)).result()
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if not lines:
        return None  # not a repository: state_path will say so if it is asked
    _GIT_DIRS.setdefault(_git_dir_key(cwd), lines[0])
    return lines[1].strip() or None if code == 0 and len(lines) > 1 else None


def start_head(cwd: str | None = None) -> "Started":
    return Started(_HEAD_ARGS, cwd)


def start_config(cwd: str | None = None) -> "Started":
    return Started(_CONFIG_ARGS, cwd)


class Started:
    """A git command running in the background: started early, read when needed.

    Lets the commit hook run its first git calls at once instead of one after another.
    """

    def __init__(self, args: Sequence[str], cwd: str | None = None):
        self.args = tuple(args)
        self._result: tuple[int, bytes, bytes] | None = None
        try:
            self.proc: subprocess.Popen | None = subprocess.Popen(
                [*GIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd)
        except FileNotFoundError:
            self.proc = None

    def result(self) -> tuple[int, bytes, bytes]:
        if self.proc is None:
            raise GitError("git is not installed or not on PATH")
        if self._result is None:
            out, err = self.proc.communicate()
            self._result = (self.proc.returncode, out, err)
        return self._result

    def output(self) -> bytes:
        """stdout, as git() returns it (GitError on failure)."""
        code, out, err = self.result()
        if code != 0:
            raise _failed(self.args, code, err)
        return out

    def cancel(self) -> None:
        """Stop it if it still runs (its answer was not needed) and reap it."""
        if self.proc is None or self._result is not None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        self._result = (self.proc.returncode, b"", b"")


def parents(commit: str, cwd: str | None = None) -> list[str]:
    return git(["rev-list", "--parents", "-n", "1", commit, "--"], cwd=cwd).decode().split()[1:]


def git_path(name: str, cwd: str | None = None) -> str:
    """Path of a file in the git directory (honours worktrees and core.hooksPath for `hooks`)."""
    return git(["rev-parse", "--git-path", name], cwd=cwd).decode().strip()


_GIT_DIRS: dict[tuple[str, str | None], str] = {}


def state_path(name: str, cwd: str | None = None) -> str:
    """Absolute path of a per-worktree state file (MERGE_HEAD, CHERRY_PICK_HEAD,
    rebase-merge/done, ...): one `git rev-parse` per process instead of one per file."""
    key = _git_dir_key(cwd)
    base = _GIT_DIRS.get(key)
    if base is None:
        base = _GIT_DIRS[key] = git(["rev-parse", "--absolute-git-dir"], cwd=cwd).decode().strip()
    return os.path.join(base, name)


def _git_dir_key(cwd: str | None) -> tuple[str, str | None]:
    return os.path.abspath(cwd or "."), os.environ.get("GIT_DIR")


_CONFIG_ARGS = ("config", "-z", "--list")


def config(cwd: str | None = None, started: "Started | None" = None) -> dict[str, bytes]:
    """All effective configuration, last value wins, keys lower-cased as git prints them.

    `started`: the same command, started earlier with start_config()."""
    out = started.result()[1] if started is not None else git(_CONFIG_ARGS, cwd=cwd, check=False)
    values: dict[str, bytes] = {}
    for item in out.split(b"\0"):
        if item:
            key, _, value = item.partition(b"\n")
            values[key.decode("utf-8", "replace")] = value
    return values


def empty_tree(cwd: str | None = None) -> str:
    return git(["hash-object", "-t", "tree", "--stdin"], input=b"", cwd=cwd).decode().strip()


def toplevel(cwd: str | None = None) -> str:
    return git(["rev-parse", "--show-toplevel"], cwd=cwd).decode().strip()


def in_repo(cwd: str | None = None) -> bool:
    return subprocess.run(
        [*GIT, "rev-parse", "--git-dir"], capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL
    ).returncode == 0


def merge_heads(cwd: str | None = None) -> list[str]:
    """Commits being merged in (MERGE_HEAD), when a merge is being concluded."""
    try:
        with open(state_path("MERGE_HEAD", cwd), "rb") as fh:
            return [line.decode().strip() for line in fh if line.strip()]
    except OSError:
        return []


class Session:
    """One long-lived git process fed on stdin, started on first use (see its subclasses)."""

    args: tuple[str, ...] = ()

    def __init__(self, cwd: str | None = None):
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Session":
        """Start the process now (its start-up then overlaps other work); errors wait for first use."""
        try:
            self._pipes()
        except GitError:
            pass
        return self

    def _pipes(self) -> tuple:
        """(stdin, stdout) of the running process, started if need be."""
        if self.proc is None:
            try:
                self.proc = subprocess.Popen([*GIT, *self.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, cwd=self.cwd)
            except FileNotFoundError:
                raise GitError("git is not installed or not on PATH") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc.wait()
            self.proc = None
