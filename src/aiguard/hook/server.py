"""A warm process for the commit hook: imports paid once, not on every commit.

Starting Python and importing the matcher, SQLite and (on desktops) keyring costs
more than the matching itself. While `aiguard daemon` runs, it keeps a small
single-threaded server (`aiguard hook-server`, a child of the daemon) that has all
of that imported and listens on `AIGUARD_HOME/hook.sock` (mode 0600 in a 0700
folder: only this user can connect). The hook's client (aiguard.hook.client) connects, hands over its
stdin/stdout/stderr (SCM_RIGHTS), argv, working directory, environment and
umask; the server forks, the child takes all of those on and runs exactly the
code the hook would have run, and the exit code goes back to the client.

Nothing changes in what a hook does: the child is the same code in the same
place with the same environment. When there is no server, it is another version
of aiguard, or anything goes wrong before the child starts, the client runs the
hook itself, as it always did. Stdlib only, POSIX only (Windows has no fork).
"""

from __future__ import annotations

import gc
import marshal
import os
import select
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiguard import __version__
from aiguard.git import runner
from aiguard.store import home, paths
from aiguard.hook.client import (
    HEADER_SIZE,
    OK,
    PROTOCOL,
    REFUSED,
    pack_reply,
    served,
    unpack_length,
)

if TYPE_CHECKING:
    import socket



# Set by the daemon for the server it starts: the server ends when that process does.
PARENT_ENV = "AIGUARD_HOOK_SERVER_PARENT"


def socket_path() -> Path:
    return Path(home.socket_path())


def pid_path() -> Path:
    """`<pid> <socket inode>` of the running server, so that `daemon stop` finds a leftover one."""
    return paths.home() / "hook-server.pid"


def _die_with(parent: int) -> bool:
    """End when `parent` does: on Linux the kernel sends SIGTERM (PR_SET_PDEATHSIG), elsewhere
    the serve loop sees its parent pid change within a second. False if it is gone already."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the once-a-second check still stops it
    return os.getppid() == parent  # checked after prctl: a parent gone before it is seen here


# The server (`aiguard hook-server`, started by the daemon) --------------------------------------

def preload() -> None:
    """Import (and warm) everything a hook run needs, once."""
    import aiguard.core.attribution  # noqa: F401
    import aiguard.git.changes  # noqa: F401
    import aiguard.hook.stamp  # noqa: F401
    import aiguard.store.config  # noqa: F401
    import aiguard.store.keys
    import aiguard.store.ledger  # noqa: F401
    import aiguard.hook.run  # noqa: F401
    import aiguard.git.notes  # noqa: F401
    import aiguard.git.carry  # noqa: F401
    import aiguard.git.pending  # noqa: F401
    import aiguard.core.note_format  # noqa: F401
    import aiguard.core.stamp_format  # noqa: F401
    import difflib  # noqa: F401
    from aiguard.core import fingerprint

    aiguard.store.keys._keyring_backend()  # keyring's import is the slowest of all, where it is used
    sample = "def f(a, b):\n    # x\n    return [a, b, 'c']\n"
    for name in ("x.py", "x.js", "x.c", "x.sql", "x.txt", "x.md"):
        for syntax, segment in fingerprint.code_segments(sample, name):  # compiles the lazy patterns
            fingerprint.tokenize(segment, syntax)
            fingerprint.literal_pattern(syntax)  # the hunk windows' (attribution._Literals)
    fingerprint.literal_pattern(fingerprint.GENERIC)


def serve(path: Path | None = None, ready=None) -> int:
    """Accept hook runs until SIGTERM/SIGINT; one forked child per run."""
    import socket

    path = path or socket_path()
    if len(os.fsencode(path)) >= 100:
        print(f"aiguard hook-server: {path} is too long for a socket path", file=sys.stderr)
        return 2
    stopping = []  # handlers first: a SIGTERM from PR_SET_PDEATHSIG must not kill it mid-setup
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    parent = int(os.environ.pop(PARENT_ENV, "0") or 0)
    if parent and not _die_with(parent):
        print(f"aiguard hook-server: the process that started it ({parent}) is gone; not serving",
              file=sys.stderr)
        return 0
    preload()
    from aiguard.store import fpindex
    from aiguard.store.ledger import index_name

    index = index_name(paths.ledger_file())  # the name the children's ledger opens it by
    fpindex.hold(index)  # children share the index file's bytes (and re-read it when replaced)
    # Forked children share the preloaded heap copy-on-write. A garbage collection in a child
    # writes to every object it visits, copying the pages it touches; frozen objects are never
    # visited, and a hook run is too short to need collecting at all (see _child).
    gc.collect()
    gc.freeze()
    paths.ensure_home()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound and listening under a name of its own, then renamed into place: a client that
    # finds the socket can connect to it (between bind and listen it would be refused, and
    # the hook would run without the server).
    ready_path = path.with_name(f".{os.getpid()}.sock")
    if len(os.fsencode(ready_path)) >= 104:  # sun_path's limit: bound in place, as before
        ready_path = path
    try:
        os.unlink(ready_path)
    except FileNotFoundError:
        pass
    old_mask = os.umask(0o177)
    try:
        listener.bind(os.fspath(ready_path))
    finally:
        os.umask(old_mask)
    try:
        os.chmod(ready_path, 0o600)
        listener.listen(64)
        inode = os.stat(ready_path).st_ino
        paths.write_private(pid_path(), f"{os.getpid()} {inode}\n".encode())
        if ready_path != path:
            os.replace(ready_path, path)
    except BaseException:
        listener.close()
        try:
            os.unlink(ready_path)
        except OSError:
            pass
        raise
    listener.settimeout(1.0)
    # The child that serves the next hook run is forked before that run comes (a spare, waiting in
    # accept): forking the warm server and starting the child take a commit's critical path ~2-3 ms.
    # The spare says on `taken` when it has a connection; the server then forks the next one.
    taken_r, taken_w = os.pipe()
    spare: int | None = None
    if ready is not None:
        ready()
    try:
        while not stopping and not (parent and os.getppid() != parent):
            if spare in _reap():
                spare = None  # it ended without taking a connection (killed, or its server's parent gone)
            if spare is None:
                sys.stdout.flush()
                sys.stderr.flush()
                fpindex.hold(index)  # one stat; read again only after a compaction replaced it
                spare = os.fork()
                if spare == 0:
                    code = 70
                    try:
                        os.close(taken_r)
                        code = _spare(listener, taken_w, os.getppid())
                    finally:
                        os._exit(code)
            try:
                readable, _, _ = select.select([taken_r], [], [], 1.0)
            except InterruptedError:
                continue
            if readable:
                os.read(taken_r, 64)
                spare = None
    finally:
        if spare:
            try:
                os.kill(spare, signal.SIGTERM)  # still waiting: nothing of a hook run is lost
            except OSError:
                pass
        os.close(taken_r)
        os.close(taken_w)
        listener.close()
        try:
            if os.stat(path).st_ino == inode:  # not a newer server's socket
                os.unlink(path)
        except OSError:
            pass
        try:
            if pid_path().read_text().split()[0] == str(os.getpid()):
                pid_path().unlink()
        except (OSError, IndexError):
            pass
    return 0


def _spare(listener: socket.socket, taken: int, server: int) -> int:
    """A forked child waiting for the next hook run: it takes one connection, tells the server
    (which forks the next spare) and serves it. Gone with its server: it looks every second."""
    import socket

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    while True:
        try:
            conn, _ = listener.accept()
            break
        except (socket.timeout, InterruptedError):
            if os.getppid() != server:
                return 0
    try:
        os.write(taken, b"1")
    except OSError:
        pass
    os.close(taken)
    listener.close()
    # A compaction may have replaced the index file since the fork: fpindex.Index.open then maps
    # the new file (the held bytes are used only while the file is the one they were read from).
    return _child(conn)


def running_pid() -> int | None:
    """The pid of a hook server that is running for this user, found by its pid file or,
    on Linux, by asking its socket who listens on it; None when there is none."""
    candidates = []
    try:
        candidates.append(int(pid_path().read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    peer = _socket_peer()
    if peer:
        candidates.append(peer)
    return next((pid for pid in candidates if _is_hook_server(pid)), None)


def _socket_peer() -> int | None:
    import socket
    import struct

    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1.0)
            conn.connect(os.fspath(socket_path()))
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid = struct.unpack("3i", creds)[0]
    return pid if pid > 0 else None


def _is_hook_server(pid: int) -> bool:
    """Whether `pid` is alive, this user's, and an `aiguard hook-server` (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except FileNotFoundError:  # no /proc (macOS): ask ps
        import subprocess

        done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True)
        argv = done.stdout.split()
    except OSError:
        return False
    return b"hook-server" in argv and any(b"aiguard" in arg for arg in argv)


def _reap() -> set[int]:
    """Reap the children that ended; their pids."""
    ended: set[int] = set()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.add(pid)


_EARLY_FDS = 3  # the early git calls' pipes that are not stdio (aiguard.hook.client.early_fds)


def _renumber_early(received: list[int]) -> None:
    """AIGUARD_EARLY names the caller's fds; here those pipes came in under other numbers."""
    spec = os.environ.get(runner.EARLY_ENV, "").split()
    theirs = [fd for fd in spec[1:] if fd.isdigit() and int(fd) > 2]
    if not spec or len(theirs) != len(received):
        os.environ.pop(runner.EARLY_ENV, None)  # not what the script sends: the stamp asks git itself
        for fd in received:
            os.close(fd)
        return
    mine = dict(zip(theirs, (str(fd) for fd in received)))
    os.environ[runner.EARLY_ENV] = " ".join([spec[0], *(mine.get(fd, fd) for fd in spec[1:])])


def _child(conn: socket.socket) -> int:
    """One hook run: become the caller (fds, cwd, env, umask), run it, send the exit code."""
    import socket

    gc.disable()  # a short run: the process ends before garbage matters
    conn.settimeout(10.0)
    try:
        first, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3 + _EARLY_FDS)
        if len(first) < HEADER_SIZE or len(fds) < 3:
            return 1
        size = unpack_length(first)
        body = first[HEADER_SIZE:]
        while len(body) < size:
            chunk = conn.recv(min(1 << 20, size - len(body)))
            if not chunk:
                return 1
            body += chunk
        request = marshal.loads(body)
        if not isinstance(request, dict):
            return 1
    except (OSError, ValueError, EOFError, TypeError):
        return 1
    conn.settimeout(None)
    argv = request.get("argv") or []
    if request.get("protocol") != PROTOCOL or request.get("version") != __version__ or not served(argv):
        conn.sendall(pack_reply(REFUSED, 0))  # the client runs it itself
        return 0
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _renumber_early(fds[3:])
    os.umask(int(request["umask"]))
    from aiguard.hook import run as hook

    try:
        code = hook.run(argv, caller=int(request.get("ppid") or 0) or None)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # the hook's own fail-open paths should have caught it
        print(f"aiguard: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(pack_reply(OK, int(code or 0)))
    return 0
