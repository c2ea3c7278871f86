"""Running git: each question is one call with fixed flags.

Stdlib only (the commit hook imports this), and on POSIX without subprocess: its import
(selectors, threading, signal, locale) costs a commit ~3 ms, so git starts through
os.posix_spawnp with pipes read through select.poll (`_Spawned`); subprocess runs it
elsewhere, and when a call names a folder to run in. Calls inherit the environment, so
inside a hook they honour GIT_INDEX_FILE (`commit -a`, `commit <paths>`),
GIT_DIR and GIT_WORK_TREE. Flags are pinned so that user configuration
(diff.algorithm, diff.noprefix, color.ui, diff.external, core.quotePath,
diff.relative, ...) cannot change what aiguard reads: the stamp's change digest
must come out the same on the developer's machine and in CI.
"""

from __future__ import annotations

import os

from aiguard.core.errors import AiguardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import IO, Iterator, Sequence

# posix_spawn cannot change the child's folder (no POSIX_SPAWN_CHDIR in Python): a call with a
# cwd goes through subprocess. A child gets the default SIGPIPE and SIGXFSZ back, as
# subprocess gives it (Python ignores both).
_SPAWN = os.name == "posix" and hasattr(os, "posix_spawnp")
if TYPE_CHECKING:
    import select
    from signal import SIGKILL, SIGPIPE, SIGXFSZ
elif _SPAWN:
    import select
    from _signal import SIGKILL, SIGPIPE, SIGXFSZ  # the C module: signal.py builds enums (~0.4 ms)

PIPE, DEVNULL = "pipe", "devnull"  # how a child's stdin, stdout or stderr is connected


class GitError(AiguardError):
    """A git command failed; the message names the command and git's first complaint."""


GIT = ("git", "-c", "core.quotePath=false", "-c", "diff.relative=false")


def _failed(args: Sequence[str], code: int, stderr: bytes) -> GitError:
    """The error for a git command that exited non-zero: its first complaint, or the exit code."""
    complaint = stderr.decode("utf-8", "replace").strip().splitlines()
    return GitError(f"git {args[0]} failed: {complaint[0] if complaint else f'exit {code}'}")


class _Spawned:
    """A child started with os.posix_spawnp: the part of subprocess.Popen runner uses (stdin,
    stdout and stderr as buffered files when piped, communicate, poll, wait, kill, returncode)."""

    def __init__(self, argv: list[str], stdin: str, stdout: str, stderr: str):
        self.stdin: IO[bytes] | None = None
        self.stdout: IO[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        self.returncode: int | None = None
        actions: list[tuple] = []
        theirs: list[int] = []
        ours: list[tuple[int, int]] = []  # (child's fd number, our end of its pipe)
        try:
            for target, how in ((0, stdin), (1, stdout), (2, stderr)):
                if how == PIPE:
                    read_end, write_end = os.pipe()  # both close-on-exec; dup2 clears it on the child's copy
                    child, mine = (read_end, write_end) if target == 0 else (write_end, read_end)
                    theirs.append(child)
                    ours.append((target, mine))
                    actions.append((os.POSIX_SPAWN_DUP2, child, target))
                elif how == DEVNULL:
                    actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, os.O_RDWR, 0))
            if any(fd <= 2 for fd in theirs):
                raise _NoStdio  # a pipe end took a closed 0-2: dup2 onto itself would not clear close-on-exec
            try:
                self.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions,
                                           setsigdef=(SIGPIPE, SIGXFSZ))
            except OSError as exc:
                exc.filename = argv[0]  # as subprocess says it: "No such file or directory: 'git'"
                raise
        except BaseException:
            for _, fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        for target, fd in ours:
            if target == 0:
                self.stdin = open(fd, "wb")
            elif target == 1:
                self.stdout = open(fd, "rb")
            else:
                self.stderr = open(fd, "rb")

    def communicate(self, input: bytes | None = None) -> tuple[bytes, bytes]:
        """Write input (then close stdin), read stdout and stderr to their ends (b"" for one not
        piped), and wait for the child."""
        poller = select.poll()
        reading: dict[int, IO[bytes]] = {}
        chunks: dict[int, list[bytes]] = {}
        ends = []
        for file in (self.stdout, self.stderr):
            ends.append(file.fileno() if file is not None else -1)
            if file is not None:
                reading[file.fileno()] = file
                chunks[file.fileno()] = []
                poller.register(file.fileno(), select.POLLIN)
        pending = memoryview(input or b"")
        writing = -1
        if self.stdin is not None:
            self.stdin.flush()
            if pending:
                writing = self.stdin.fileno()
                os.set_blocking(writing, False)  # a full pipe takes part of a write: git's output is read meanwhile
                poller.register(writing, select.POLLOUT)
            else:
                self.stdin.close()
        while reading or writing >= 0:
            for fd, _event in poller.poll():
                if fd == writing:
                    try:
                        pending = pending[os.write(fd, pending[:1 << 20]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # git stopped reading: what it says is still read
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(fd)
                        assert self.stdin is not None
                        self.stdin.close()
                        writing = -1
                elif fd in reading:
                    chunk = os.read(fd, 1 << 20)
                    if chunk:
                        chunks[fd].append(chunk)
                    else:
                        poller.unregister(fd)
                        reading.pop(fd).close()
        self.wait()
        return b"".join(chunks.get(ends[0], ())), b"".join(chunks.get(ends[1], ()))

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, SIGKILL)


class _NoStdio(Exception):
    """This process lacks one of fds 0-2: start the child through subprocess instead."""


def _start(argv: list[str], stdin: str | None, stdout: str | None, stderr: str | None,
           cwd: str | None = None) -> _Spawned | subprocess.Popen:
    """Start a child (FileNotFoundError when the program is not found). None: inherited."""
    if _SPAWN and cwd is None:
        try:
            return _Spawned(argv, stdin or "", stdout or "", stderr or "")
        except _NoStdio:
            pass
    import subprocess

    how = {PIPE: subprocess.PIPE, DEVNULL: subprocess.DEVNULL, None: None}
    return subprocess.Popen(argv, stdin=how[stdin], stdout=how[stdout], stderr=how[stderr], cwd=cwd)


def run(args: Sequence[str], input: bytes | None = None, cwd: str | None = None) -> tuple[int, bytes, bytes]:
    """Run git with these arguments: (exit code, stdout, stderr); stdin is input, or empty.
    FileNotFoundError (naming git) when git is not found, as subprocess.run raises it."""
    proc = _start([*GIT, *args], PIPE if input is not None else DEVNULL, PIPE, PIPE, cwd)
    out, err = proc.communicate(input)
    return proc.wait(), out, err


def git(args: Sequence[str], input: bytes | None = None, cwd: str | None = None, check: bool = True) -> bytes:
    try:
        code, out, err = run(args, input, cwd)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and code != 0:
        raise _failed(args, code, err)
    return out


def stream_records(args: Sequence[str], mark: bytes, cwd: str | None = None,
                   input: bytes | None = None) -> Iterator[bytes]:
    """Run git and yield its output split on `mark`, as it streams (for `git log` over long
    ranges: nothing holds the whole output). Empty records are dropped; GitError on failure."""
    try:
        proc = _start([*GIT, *args], PIPE if input is not None else DEVNULL, PIPE, PIPE, cwd)
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
    code = proc.wait()
    if code != 0:
        raise _failed(args, code, err)


def _widen_pipe(pipe) -> None:
    """A 1 MiB pipe (Linux) instead of 64 KiB, so git runs ahead while the reader is busy."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # another system, or a lower pipe-max-size: the default pipe, only slower


def rev_parse(rev: str, cwd: str | None = None) -> str | None:
    """Full object name of a commit, or None when it does not exist (unborn HEAD)."""
    code, out, _err = run(["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], cwd=cwd)
    return out.decode().strip() or None if code == 0 else None


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
            self.proc: _Spawned | subprocess.Popen | None = _start([*GIT, *args], DEVNULL, PIPE, PIPE, cwd)
        except FileNotFoundError:
            self.proc = None

    def result(self) -> tuple[int, bytes, bytes]:
        if self.proc is None:
            raise GitError("git is not installed or not on PATH")
        if self._result is None:
            out, err = self.proc.communicate()
            self._result = (self.proc.wait(), out, err)
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
        self._result = (self.proc.wait(), b"", b"")


# The commit hook's first git calls, started by the prepare-commit-msg script while Python
# starts (hooks/prepare-commit-msg): `AIGUARD_EARLY=VERSION CONFIG_FD HEAD_FD DIFF_FD` in the
# hook's environment says where their output comes. The script runs exactly GIT + these
# arguments (tests/hook/test_git_early.py holds the two to each other); a version that is not
# this one (a hook written by another aiguard) is ignored, and so is any output that does not
# look whole: the command then runs here, as it would have without the script.
EARLY_ENV = "AIGUARD_EARLY"
EARLY_VERSION = "1"
EARLY_DIFF_END = b"\naiguard-early-exit "  # after the diff: its exit code and a newline


class Piped(Started):
    """A Started whose git ran before this process did: its output is read from an inherited pipe
    (stdout only; the script sends git's stderr to /dev/null). When what came is not whole (see
    `_whole`), or git failed, the command runs again here, so that its error says what it says."""

    def __init__(self, args: Sequence[str], fd: int, kind: str):
        self.args = tuple(args)
        self._result = None
        self.proc = None
        self.fd: int | None = fd
        self.kind = kind

    def result(self) -> tuple[int, bytes, bytes]:
        if self._result is None:
            data = self._read()
            whole = _whole(self.kind, data) if data is not None else None
            self._result = whole if whole is not None else Started(self.args).result()
        return self._result

    def _read(self) -> bytes | None:
        chunks: list[bytes] = []
        fd, self.fd = self.fd, None
        if fd is None:
            return None
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)

    def cancel(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # the writer gets EPIPE and ends
            self.fd = None
        if self._result is None:
            self._result = (-1, b"", b"")


def _whole(kind: str, data: bytes) -> tuple[int, bytes, bytes] | None:
    """(exit code, stdout, b"") from what an early command wrote, or None when it is not whole."""
    if kind == "config":  # every entry ends in NUL, and a repository's config is never empty
        return (0, data, b"") if data.endswith(b"\0") else None
    if kind == "head":  # the absolute git dir, then HEAD's commit unless HEAD is unborn
        lines = data.split(b"\n")
        if lines[-1] != b"" or not 2 <= len(lines) <= 3 or not lines[0].startswith(b"/"):
            return None
        if len(lines) == 3 and not _is_object_name(lines[1]):
            return None
        return (0 if len(lines) == 3 else 1), data, b""
    head, mark, tail = data.rpartition(EARLY_DIFF_END)
    if not mark or not tail.endswith(b"\n") or tail[:-1] != b"0":
        return None  # no end line (the script was stopped), or git diff failed: ask again here
    return 0, head, b""  # the end line's first newline is the script's


def _is_object_name(text: bytes) -> bool:
    return len(text) in (40, 64) and not text.strip(b"0123456789abcdef")


def take_early(diff_args: Sequence[str]) -> tuple[Piped, Piped, Piped] | None:
    """The early commands' (config, HEAD, staged diff) pipes, when the hook script started them;
    taken once (the environment variable goes, so that no child sees it)."""
    spec = os.environ.pop(EARLY_ENV, None)
    if not spec:
        return None
    parts = spec.split()
    if len(parts) != 4 or parts[0] != EARLY_VERSION or not all(p.isdigit() for p in parts[1:]):
        return None
    fds = []
    try:
        for number in parts[1:]:
            fd = os.dup(int(number))  # non-inheritable: no git process started here holds it open
            fds.append(fd)
            if int(number) > 2:
                os.close(int(number))
            else:  # stdin (the diff) is /dev/null again, as the hook had it
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, int(number))
                os.close(null)
    except OSError:
        for fd in fds:
            os.close(fd)
        return None
    return (Piped(_CONFIG_ARGS, fds[0], "config"), Piped(_HEAD_ARGS, fds[1], "head"),
            Piped(diff_args, fds[2], "diff"))


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
    return run(["rev-parse", "--git-dir"], cwd=cwd)[0] == 0


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
        self.proc: _Spawned | subprocess.Popen | None = None

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
                self.proc = _start([*GIT, *self.args], PIPE, PIPE, DEVNULL, self.cwd)
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
