"""The daemon's loop: watchdog observers on each source's log roots (not polling; a root that
does not exist yet is watched through its nearest existing parent, so logs that appear later
are found), each batch of changes read by the tailer and recorded, the clipboard watcher in a
thread that stops with the daemon, the hook server as a child process, and idle compaction of
the ledger. One instance per user (a lock file), clean stop on SIGTERM/SIGINT, a rotated log
file under AIGUARD_HOME; bad input is skipped with a logged reason, never fatal.
"""

from __future__ import annotations

import copy
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

from aiguard.capture.sources import log_roots, registry
from aiguard.capture.sources.common import Output
from aiguard.daemon.service import log_path, pid_path
from aiguard.daemon.tailer import Tailer
from aiguard.hook import server as hookserver
from aiguard.store import paths

log = logging.getLogger("aiguard.daemon")


BATCH_SECONDS = 0.5  # gather events this long before reading, so bursts are one pass


# Fingerprints that wait in SQLite are moved into the ledger's index file once recording
# (by anyone: this daemon, assistant hooks, `aiguard record`) has been idle this long.
IDLE_COMPACT_SECONDS = 20.0


def _idle_compact_seconds() -> float:
    try:
        return max(0.5, float(os.environ.get("AIGUARD_COMPACT_IDLE_SECONDS", IDLE_COMPACT_SECONDS)))
    except ValueError:
        return IDLE_COMPACT_SECONDS


LOG_BYTES = 1 << 20  # daemon.log is rotated at this size, keeping LOG_BACKUPS old ones


LOG_BACKUPS = 3


def _record(outputs: list[Output]) -> None:
    from aiguard.capture.ingest import to_entry
    from aiguard.capture.record import record

    if not outputs:
        return
    result = record([to_entry(o) for o in outputs])
    log.info("recorded %d, %d already known, %d skipped", result.added, result.duplicates, len(result.skipped))
    for index, reason in result.skipped:
        log.info("skipped output of %s: %s", outputs[index].file, reason)
    for index, reason in result.renamed:
        log.warning("output of %s: %s", outputs[index].file, reason)


def _compact_idle(idle: float) -> None:
    """Move waiting fingerprints into the index file when recording has been idle."""
    from aiguard.store.ledger import Ledger, LedgerError

    if not paths.ledger_path().exists():
        return
    try:
        with Ledger.open() as ledger:
            moved = ledger.compact_if_due(idle_seconds=idle)
        if moved:
            log.info("moved %d fingerprints into the ledger's index file", moved)
    except LedgerError as exc:  # e.g. a damaged index file: one line, the user's to decide
        log.warning("ledger compaction not done: %s", exc)
    except Exception:  # never the daemon's end; the rows stay in SQLite and are still matched
        log.exception("ledger compaction failed; will retry")


def _watch_plan(sources: dict[str, ModuleType]) -> set[tuple[Path, bool]]:
    """(folder, recursive) to watch: each existing log root recursively; for a root that
    does not exist yet, its nearest existing parent alone (not the whole home folder),
    until the folders on the way appear."""
    plan = set()
    for module in sources.values():
        for root in log_roots(module):
            if root.is_dir():
                plan.add((root, True))
                continue
            existing = root.parent
            while not existing.is_dir() and existing.parent != existing:
                existing = existing.parent
            plan.add((existing, False))
    return plan


def run(stop: threading.Event | None = None) -> int:
    """Run in the foreground until SIGTERM/SIGINT (or `stop` is set)."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    paths.ensure_home()
    lock = _acquire_lock()
    if lock is None:
        print(f"aiguard: the daemon is already running (pid file {pid_path()})", file=sys.stderr)
        return 2
    _setup_logging()
    stop = stop or threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, lambda *_: stop.set())
        except ValueError:
            pass  # not the main thread (tests)
    paths.write_private(pid_path(), f"{os.getpid()}\n".encode())
    sources = registry()
    tailer = Tailer(sources)
    events: queue.Queue[Path] = queue.Queue()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event):
            if event.is_directory and event.event_type != "created":
                return
            if event.event_type in ("opened", "closed_no_write"):
                return  # reading a file is not a change to it (else every read would be read again)
            for attr in ("dest_path", "src_path"):
                value = getattr(event, attr, None)
                if value:
                    events.put(Path(os.fsdecode(value)))

    observer = Observer()
    watched: set[tuple[Path, bool]] = set()

    def rewatch() -> list[Path]:
        """Watch what the plan says now; returns log roots that just started being watched."""
        new_roots = []
        for directory, recursive in sorted(_watch_plan(sources)):
            if (directory, recursive) not in watched:
                observer.schedule(Handler(), str(directory), recursive=recursive)
                watched.add((directory, recursive))
                if recursive:
                    new_roots.append(directory)
        return new_roots

    rewatch()
    observer.start()
    rewatch()  # a log root that appeared before the observer ran (no event will tell); the scan reads it
    log.info("daemon %d started; watching %s", os.getpid(),
             ", ".join(f"{d}{'' if r else ' (for new folders)'}" for d, r in sorted(watched)))
    clipboard = _start_clipboard(stop)
    hooks = _HookServer()
    try:
        caught_up = tailer.scan()  # catch up with what was written while it was not running
        log.info("caught up: %d log files, %d new outputs", len(caught_up), _pass(tailer, caught_up))
        idle = _idle_compact_seconds()
        next_compact = time.monotonic() + idle
        while not stop.is_set():
            try:
                first = events.get(timeout=0.5)
            except queue.Empty:
                hooks.check()
                if time.monotonic() >= next_compact:
                    _compact_idle(idle)
                    next_compact = time.monotonic() + idle
                continue
            batch = {first}
            deadline = time.monotonic() + BATCH_SECONDS
            while time.monotonic() < deadline:
                try:
                    batch.add(events.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            files: set[Path] = set()
            if any(path.is_dir() for path in batch):
                for root in rewatch():  # a log root appeared: watch it, read what it holds
                    files.update(tailer.logs_under(root))
            for path in batch:
                path = tailer.database_of(path)  # a store's WAL changed: its database is read
                if path.is_dir():
                    files.update(tailer.logs_under(path))  # a folder appeared with logs in it
                elif tailer.source_for(path) is not None:  # a moved/created event names the final file
                    files.add(path)
            _pass(tailer, sorted(files))
    finally:
        stop.set()  # also ends the clipboard thread
        hooks.stop()
        if clipboard is not None:
            clipboard.join(timeout=5)
        observer.stop()
        observer.join(timeout=5)
        tailer.save()
        try:
            pid_path().unlink()
        except OSError:
            pass
        log.info("daemon %d stopped", os.getpid())
        os.close(lock)
    return 0


class _HookServer:
    """`aiguard hook-server` (aiguard.hook.server) as a child process: commits made while the
    daemon runs skip Python's imports. Restarted (at most once a minute) if it dies."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        if sys.platform != "win32" and not os.environ.get("AIGUARD_NO_HOOK_SERVER"):
            self.start()

    def start(self) -> None:
        self.started = time.monotonic()
        try:
            env = dict(os.environ)
            env[hookserver.PARENT_ENV] = str(os.getpid())  # it ends when the daemon does, even on kill -9
            with open(log_path(), "ab") as out:
                self.proc = subprocess.Popen([sys.executable, "-m", "aiguard", "hook-server"], stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=out, start_new_session=True, env=env)
            log.info("hook server %d started", self.proc.pid)
        except OSError as exc:
            log.warning("hook server not started: %s", exc)

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None and time.monotonic() - self.started > 60:
            log.warning("hook server exited with %s; restarting it", self.proc.returncode)
            self.start()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _start_clipboard(stop: threading.Event) -> threading.Thread | None:
    """The clipboard watcher's thread, or None (with one log line) when it is off or cannot run."""
    from aiguard.store import config
    from aiguard.capture.clipboard import watcher

    try:
        settings = config.load().clipboard
    except config.ConfigError as exc:
        log.warning("clipboard: not watched: %s", exc)
        return None
    return watcher.start(stop, _record, settings)


def _pass(tailer: Tailer, files: list[Path]) -> int:
    """Read and record what is new in these files; returns how many outputs were found."""
    from aiguard.store.keys import KeyUnavailable
    from aiguard.store.ledger import LedgerError

    outputs: list[Output] = []
    before = {str(path): copy.deepcopy(tailer.files.get(str(path))) for path in files}
    for path in files:
        try:
            outputs += tailer.read(path)
        except Exception:  # a parser bug must not stop the daemon
            log.exception("failed to read %s; skipped", path)
    try:
        _record(outputs)
    except Exception as exc:
        tailer.restore(before)  # so that they are read again with the files' next change
        if isinstance(exc, (KeyUnavailable, LedgerError)):  # the user's to fix: one line, no traceback
            log.warning("not recorded %d outputs (read again when their logs change): %s", len(outputs), exc)
        else:
            log.exception("failed to record %d outputs; they will be read again", len(outputs))
        return 0
    tailer.save()
    return len(outputs)


def _acquire_lock() -> int | None:
    import fcntl

    fd = os.open(paths.home() / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _setup_logging() -> None:
    from logging.handlers import RotatingFileHandler

    handler = RotatingFileHandler(log_path(), maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("aiguard")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    os.chmod(log_path(), 0o600)
