"""Incremental tailing of assistants' logs: per file a persisted byte offset, the parser's state
and the file's identity (inode); only complete lines are read, a truncated or replaced file is
read again from the start (the ledger's dedupe makes that harmless); state is saved after each
batch, so a restart resumes. Logs that their assistant rewrites whole (a temp file renamed over
them, the sources' REWRITTEN flag, e.g. Cline's) are read whole whenever they change, and the
parser's state, kept across renames, holds what was already reported.
"""

from __future__ import annotations

import json
import logging
import os
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

from aiguard.capture.sources import is_rewritten, is_store, log_files, log_names, log_roots, parse_isolated
from aiguard.capture.sources.common import Output, Skip, Unreadable, read_lines, read_whole
from aiguard.store import paths

log = logging.getLogger("aiguard.daemon")


CHUNKS_PER_PASS = 8  # of at most 8 MiB each, from one file in one pass (the rest waits for its next event)


def state_path() -> Path:
    return paths.home() / "tail-state.json"


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
            for root in log_roots(module):
                if path == root and not path.is_dir():
                    return module  # a root that is one log file (aider's history)
                try:
                    path.relative_to(root)
                except ValueError:
                    continue
                if any(fnmatch(path.name, name) for name in log_names(module)):
                    return module
        return None

    def database_of(self, path: Path) -> Path:
        """A store's database for a change to its write-ahead log (SQLite writes there first and
        folds it into the database only now and then), else the path itself."""
        if path.name.endswith("-wal"):
            database = path.with_name(path.name[:-len("-wal")])
            if any(is_store(module, database) for module in self.sources.values()):
                return database
        return path

    def logs_under(self, directory: Path) -> set[Path]:
        """The log files in a folder that appeared (read() checks whose they are)."""
        names = {name for module in self.sources.values() for name in log_names(module)}
        return {path for name in names for path in directory.rglob(name)}

    def scan(self) -> list[Path]:
        found = [f for module in self.sources.values() for root in log_roots(module) for f in log_files(module, root)]
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
