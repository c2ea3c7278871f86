"""The daemon: follows assistants' logs as they are written and records what models wrote.

* watchdog observers on each source's log roots (not polling); a root that does
  not exist yet is watched through its nearest existing parent, so logs that
  appear later are found;
* incremental tailing: per file a persisted byte offset, the parser's state and
  the file's identity (inode); only complete lines are read, a truncated or
  replaced file is read again from the start (the ledger's dedupe makes that
  harmless); state is saved after each batch, so a restart resumes;
* logs that their assistant rewrites whole (a temp file renamed over them, the
  sources' REWRITTEN flag, e.g. Cline's) are read whole whenever they change, and
  the parser's state, kept across renames, holds what was already reported;
* one instance per user (a lock file), clean stop on SIGTERM/SIGINT, a log file
  under AIGUARD_HOME; bad input is skipped with a logged reason, never fatal.

The clipboard watcher (aiguard.capture.clipboard) runs in the same process, in a thread
that stops with the daemon's stop event.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

from aiguard.hook import server as hookserver
from aiguard.store import paths
from aiguard.capture.sources import is_rewritten, is_store, log_names, parse_isolated, registry
from aiguard.capture.sources.common import Output, Skip, Unreadable, read_lines, read_whole

log = logging.getLogger("aiguard.daemon.service")
BATCH_SECONDS = 0.5  # gather events this long before reading, so bursts are one pass
# Fingerprints that wait in SQLite are moved into the ledger's index file once recording
# (by anyone: this daemon, assistant hooks, `aiguard record`) has been idle this long.
IDLE_COMPACT_SECONDS = 20.0


def _idle_compact_seconds() -> float:
    try:
        return max(0.5, float(os.environ.get("AIGUARD_COMPACT_IDLE_SECONDS", IDLE_COMPACT_SECONDS)))
    except ValueError:
        return IDLE_COMPACT_SECONDS
CHUNKS_PER_PASS = 8  # of at most 8 MiB each, from one file in one pass (the rest waits for its next event)
LOG_BYTES = 1 << 20  # daemon.log is rotated at this size, keeping LOG_BACKUPS old ones
LOG_BACKUPS = 3


def state_path() -> Path:
    return paths.home() / "tail-state.json"


def pid_path() -> Path:
    return paths.home() / "daemon.pid"


def log_path() -> Path:
    return paths.home() / "daemon.log"


class Tailer:
    """Reads what was appended to log files since last time, and records it.

    All reading goes through aiguard.capture.sources' bounded reader (regular files only, byte caps,
    over-long lines skipped). A file that fails anyway is logged once and left alone until it
    changes; the state file keeps only files that exist and is written only when it changed.
    """

    def __init__(self, sources: dict[str, ModuleType]):
        self.sources = sources
        self.files: dict[str, dict] = {}
        self.failed: dict[str, tuple] = {}  # file -> (inode, size, mtime) it failed at
        self.changed = False
        try:
            self.files = json.loads(state_path().read_text())
        except (OSError, ValueError):
            self.files = {}
        if not isinstance(self.files, dict):
            self.files = {}

    def source_for(self, path: Path) -> ModuleType | None:
        for module in self.sources.values():
            for root in module.log_roots():
                if path == root and not path.is_dir():
                    return module  # a root that is one log file (aider's history)
                try:
                    path.relative_to(root)
                except ValueError:
                    continue
                if any(fnmatch(path.name, name) for name in log_names(module)):
                    return module
        return None

    def logs_under(self, directory: Path) -> set[Path]:
        """The log files in a folder that appeared (read() checks whose they are)."""
        names = {name for module in self.sources.values() for name in log_names(module)}
        return {path for name in names for path in directory.rglob(name)}

    def scan(self) -> list[Path]:
        found = [f for module in self.sources.values() for root in module.log_roots() for f in module.log_files(root)]
        for key in [key for key in self.files if not os.path.lexists(key)]:
            self._forget(key)  # deleted while the daemon was not running
        return found

    def read(self, path: Path) -> list[Output]:
        module = self.source_for(path)
        if module is None:
            return []
        key = str(path)
        try:
            stat = path.stat()  # before opening: opening it would be an event of its own
        except OSError:
            self._forget(key)  # deleted (e.g. the assistant's 30-day cleanup)
            return []
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self.failed.get(key) == signature:
            return []  # said once already; tried again when it changes
        try:
            whole = is_rewritten(module) or path.suffix == ".json"  # a JSON document is rewritten, as in ingest
            if is_store(module, path):
                outputs = self._read_store(path, module, stat)
            else:
                outputs = self._read_whole(path, module, stat) if whole else self._tail(path, module, stat)
        except Exception as exc:  # a parser bug, or a file that is not a log: never the daemon's end
            self.failed[key] = signature
            reason = exc if isinstance(exc, Unreadable) else f"{exc.__class__.__name__}: {exc}"
            log.warning("skipped %s until it changes: %s", path, reason)
            return []
        self.failed.pop(key, None)
        return outputs

    def _tail(self, path: Path, module: ModuleType, stat: os.stat_result) -> list[Output]:
        key = str(path)
        known = self.files.get(key)
        if known is None or known.get("inode") != stat.st_ino or stat.st_size < known.get("offset", 0):
            known = {"inode": stat.st_ino, "offset": 0, "state": {}}  # new, replaced or truncated
            self._set(key, known)
        if stat.st_size == known["offset"] or known.get("waits") == [stat.st_size, stat.st_mtime_ns]:
            return []  # nothing new, or only a line whose newline has not come yet
        outputs: list[Output] = []
        for _ in range(CHUNKS_PER_PASS):
            chunk = read_lines(path, known["offset"])
            for item in chunk.skipped:
                log.warning("skipped %s: %s", item.where, item.reason)
            outputs += _parse(module, path, chunk.data, known["state"])
            self.changed = True
            if chunk.end == known["offset"]:
                known["waits"] = [stat.st_size, stat.st_mtime_ns]  # read again once the file changes
                break
            known.pop("waits", None)
            known["offset"] = chunk.end
            if chunk.end >= stat.st_size:
                break
        return outputs

    def _read_whole(self, path: Path, module: ModuleType, stat: os.stat_result) -> list[Output]:
        """A log rewritten whole: read all of it when it changed. Every rewrite is a new inode
        and may be shorter (messages deleted), so the parser's state is kept regardless."""
        key = str(path)
        known = self.files.get(key) or {"state": {}}
        if (known.get("inode"), known.get("offset"), known.get("mtime")) == (stat.st_ino, stat.st_size,
                                                                             stat.st_mtime_ns):
            return []
        data = read_whole(path)
        outputs = _parse(module, path, data, known["state"])
        # The signature read beforehand: a rewrite during the read is read again on its event.
        known.update(inode=stat.st_ino, offset=stat.st_size, mtime=stat.st_mtime_ns)
        self._set(key, known)
        return outputs

    def _read_store(self, path: Path, module: ModuleType, stat: os.stat_result) -> list[Output]:
        """A database its source reads itself (read-only): again whenever it or its WAL changed."""
        key = str(path)
        known = self.files.get(key) or {"state": {}}
        try:
            wal = os.stat(f"{path}-wal")
            signature = [stat.st_ino, stat.st_size, stat.st_mtime_ns, wal.st_size, wal.st_mtime_ns]
        except OSError:
            signature = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
        if known.get("signature") == signature:
            return []
        outputs = []
        for item in module.read_store(path, known["state"]):
            if isinstance(item, Skip):
                log.warning("skipped %s: %s", item.where, item.reason)
            else:
                outputs.append(item)
        known["signature"] = signature
        self._set(key, known)
        return outputs

    def _set(self, key: str, known: dict) -> None:
        self.files[key] = known
        self.changed = True

    def _forget(self, key: str) -> None:
        self.failed.pop(key, None)
        if self.files.pop(key, None) is not None:
            self.changed = True

    def restore(self, before: dict[str, dict | None]) -> None:
        """Put back what these files' entries were (what was read was not recorded)."""
        for key, known in before.items():
            if known is None:
                self.files.pop(key, None)
            else:
                self.files[key] = known
            self.failed.pop(key, None)

    def save(self) -> None:
        if self.changed:
            paths.write_private(state_path(), json.dumps(self.files).encode())
            self.changed = False


def _parse(module: ModuleType, path: Path, data: bytes, state: dict) -> list[Output]:
    """What a log's new bytes say the model wrote; skipped records are logged with their reason."""
    outputs = []
    for item in parse_isolated(module, path, data, state):
        if isinstance(item, Skip):
            log.info("skipped %s: %s", item.where, item.reason)
        else:
            outputs.append(item)
    return outputs


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
        for root in module.log_roots():
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
    events: queue.Queue[Path | None] = queue.Queue()

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
    log.info("daemon %d started; watching %s", os.getpid(),
             ", ".join(f"{d}{'' if r else ' (for new folders)'}" for d, r in sorted(watched)))
    clipboard = _start_clipboard(stop)
    hooks = _HookServer()
    try:
        files = tailer.scan()  # catch up with what was written while it was not running
        log.info("caught up: %d log files, %d new outputs", len(files), _pass(tailer, files))
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
            files = set()
            if any(path.is_dir() for path in batch):
                for root in rewatch():  # a log root appeared: watch it, read what it holds
                    files.update(tailer.logs_under(root))
            for path in batch:
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


def running_pid() -> int | None:
    """The daemon's pid when one is running (its lock is held), else None."""
    import fcntl

    if not (paths.home() / "daemon.lock").exists():
        return None
    fd = os.open(paths.home() / "daemon.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            return int(pid_path().read_text().strip())
        except (OSError, ValueError):
            return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def start(timeout: float = 10) -> int:
    """Start `aiguard daemon run` in the background; returns its pid."""
    pid = running_pid()
    if pid:
        return pid
    paths.ensure_home()
    with open(log_path(), "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "aiguard", "daemon", "run"], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = running_pid()
        if pid and pid > 0:
            return pid
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited at once (exit {process.returncode}); see {log_path()}")
        time.sleep(0.05)
    raise RuntimeError(f"the daemon did not start within {timeout:g} s; see {log_path()}")


def stop(timeout: float = 10) -> bool:
    """Stop the daemon, and a hook server left running without one (a daemon killed with
    SIGKILL on a system without PR_SET_PDEATHSIG, an older aiguard's); True if either ran."""
    pid = running_pid()
    stopped = False
    if pid and pid > 0:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid() is not None:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the daemon (pid {pid}) did not stop within {timeout:g} s")
            time.sleep(0.05)
        stopped = True
    return _stop_hook_server(timeout) or stopped


def _stop_hook_server(timeout: float) -> bool:
    server = hookserver.running_pid()
    if server is None:
        return False
    log.info("stopping hook server %d, left running without a daemon", server)
    os.kill(server, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while hookserver.running_pid() == server:
        if time.monotonic() >= deadline:
            os.kill(server, signal.SIGKILL)
            for leftover in (hookserver.pid_path(), hookserver.socket_path()):  # it could not clean up
                try:
                    leftover.unlink()
                except OSError:
                    pass
            break
        time.sleep(0.05)
    return True


def service_file() -> tuple[Path, str, list[str]]:
    """(path, content, command to enable it) of a per-user service running the daemon."""
    python = sys.executable
    env_home = os.environ.get("AIGUARD_HOME")
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / "dev.aiguard.daemon.plist"
        env = (f"\n    <key>EnvironmentVariables</key>\n    <dict><key>AIGUARD_HOME</key>"
               f"<string>{_xml(env_home)}</string></dict>") if env_home else ""
        content = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key><string>dev.aiguard.daemon</string>
    <key>ProgramArguments</key>
    <array><string>{_xml(python)}</string><string>-m</string><string>aiguard</string><string>daemon</string><string>run</string></array>
    <key>RunAtLoad</key><true/>
    <key>KeepAlive</key><true/>{env}
</dict>
</plist>
"""
        return path, content, ["launchctl", "load", "-w", str(path)]
    if sys.platform == "win32":  # pragma: no cover - not testable here
        path = paths.home() / "aiguard-daemon.cmd"
        content = f'@"{python}" -m aiguard daemon run\r\n'
        return path, content, ["schtasks", "/Create", "/SC", "ONLOGON", "/TN", "aiguard daemon", "/TR", str(path), "/F"]
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = config / "systemd" / "user" / "aiguard.service"
    env = f'Environment="AIGUARD_HOME={env_home}"\n' if env_home else ""
    content = f"""[Unit]
Description=aiguard: records what AI assistants wrote (keyed fingerprints only)

[Service]
ExecStart="{python}" -m aiguard daemon run
{env}Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""
    return path, content, ["systemctl", "--user", "enable", "--now", "aiguard.service"]


def uninstall_service() -> str:
    """Undo install-service: stop and disable the service, remove its files. Idempotent;
    returns one line saying what was removed, or that nothing was installed."""
    path, _, _ = service_file()
    files = [path]
    if sys.platform == "darwin":
        disable = ["launchctl", "unload", "-w", str(path)]
    elif sys.platform == "win32":  # pragma: no cover - not testable here
        disable = ["schtasks", "/Delete", "/TN", "aiguard daemon", "/F"]
    else:
        disable = ["systemctl", "--user", "disable", "--now", path.name]
        files.append(path.parent / "default.target.wants" / path.name)  # the link `enable` made
    present = [f for f in files if f.is_symlink() or f.exists()]
    if not present:
        return f"no aiguard service to remove ({path} does not exist)"
    failed = _service_step(disable)
    for f in present:
        f.unlink(missing_ok=True)
    if disable[0] == "systemctl" and failed is None:
        failed = _service_step(["systemctl", "--user", "daemon-reload"])
    removed = " and ".join(str(f) for f in present)
    if failed:
        return f"removed {removed}; {failed} (if the daemon still runs: aiguard daemon stop)"
    return f"removed {removed}; the service is stopped and disabled"


def _service_step(command: list[str]) -> str | None:
    """Runs a service manager's command; None when it worked, else what went wrong."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return f"{command[0]} is not available here"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(command)}` did not answer in 30 s"
    if done.returncode == 0:
        return None
    said = (done.stderr or done.stdout).strip().splitlines()
    return f"`{' '.join(command)}` failed: {said[-1] if said else f'exit {done.returncode}'}"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
