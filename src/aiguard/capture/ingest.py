"""`aiguard ingest [PATH...]` and `aiguard agent-hook TOOL`: assistant output into the ledger.

Both turn a source's Outputs into ledger Entries: the session's working
directory becomes its git repository (from the record, never from encoded
folder names), and the ledger's own dedupe makes ingesting the same log twice
harmless.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Iterable, NamedTuple

from aiguard.store.ledger import Entry
from aiguard.capture.sources import (
    is_rewritten,
    is_store,
    log_files,
    log_names,
    log_roots,
    parse_isolated,
    registry,
    sniff,
)
from aiguard.capture.sources.common import (
    Chunk,
    Output,
    Skip,
    Unreadable,
    iter_lines,
    open_regular,
    read_whole,
)


class IngestResult(NamedTuple):
    files: int
    added: int
    duplicates: int
    skipped: list[str]
    too_old: int = 0  # outputs older than the retention period: not recorded (pruning would delete them)
    too_old_logs: tuple[str, ...] = ()  # the logs they came from
    retention_days: float = 0.0
    renamed: tuple[str, ...] = ()  # tool or model names outside the charset, sanitised (one line each)


@functools.lru_cache(maxsize=256)
def repository_of(cwd: str | None) -> str | None:
    """The git repository containing a directory, or None."""
    if not cwd or not Path(cwd).is_dir():
        return None
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                          stdin=subprocess.DEVNULL)
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def to_entry(output: Output) -> Entry:
    return Entry(tool=output.tool, model=output.model, text=output.text, source=output.source,
                 file=output.file, repo=repository_of(output.cwd), time=output.time)


# How much of a file of unknown origin is looked at to tell whose log it is: its first few
# records (an assistant's log may open with records of no telling shape: Claude Code 2.x's
# `file-history-snapshot` or `permission-mode` lines), within a bounded head of the file.
SNIFF_BYTES = 256 << 10
SNIFF_RECORDS = 16
SNIFF_LINE = 64 << 10  # of each line, enough for its leading fields


def head_records(head: bytes) -> list[bytes]:
    """What sniffing looks at in a file's first bytes: its first non-blank lines (each cut to
    SNIFF_LINE), or, for a pretty-printed JSON document (its first line is a lone `{` or `[`,
    as Gemini CLI's session-*.json), the head itself as one record."""
    lines = [line[:SNIFF_LINE] for line in head.split(b"\n") if line.strip()][:SNIFF_RECORDS]
    if lines and lines[0].strip() in (b"{", b"["):
        return [head]
    return lines


def _source_for(path: Path, sources: dict[str, ModuleType]) -> ModuleType | None:
    """The source whose log this is: the first of its head's records (see `head_records`) that
    a source's sniff claims decides; Unreadable when it cannot be read."""
    store = next((module for module in sources.values() if is_store(module, path)), None)
    if store is not None:
        return store  # a database (by its name; its first "line" is SQLite's header)
    try:
        with open_regular(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise Unreadable(f"cannot read ({exc.strerror})") from None
    for record in head_records(head):
        owner = next((module for module in sources.values() if sniff(module, record)), None)
        if owner is not None:
            return owner
    return None


def ingest(paths: Iterable[str]) -> IngestResult:
    """One pass over the given logs (files or folders), or every known log location."""
    from aiguard.store import config

    retention = config.load().retention_days  # a broken config fails before anything is read
    sources = registry()
    targets: list[tuple[ModuleType | None, Path]] = []
    given = [Path(p) for p in paths]
    if given:
        targets = [(None, p) for p in given]
    else:
        targets = [(module, root) for module in sources.values() for root in log_roots(module)]
    skipped: list[str] = []
    files = 0
    batch = _Batch(skipped, oldest=time.time() - retention * 86400)
    try:
        for module, root in targets:
            if not root.exists():
                if given:
                    skipped.append(f"{root}: no such file or folder")
                continue
            candidates = log_files(module, root) if module else _all_logs(root, sources)
            for path in candidates:
                try:
                    source = module or _source_for(path, sources)
                except Unreadable as exc:
                    skipped.append(f"{path}: {exc}")
                    continue
                if source is None:
                    skipped.append(f"{path}: not a log of a known assistant")
                    continue
                files += ingest_file(source, path, batch)
    finally:
        batch.flush()  # whatever was read is recorded, even if something later fails
    return IngestResult(files, batch.added, batch.duplicates, skipped, len(batch.too_old),
                        tuple(dict.fromkeys(map(str, batch.too_old))), retention, tuple(batch.renamed))


class _Batch:
    """Entries on their way to the ledger: recorded every few thousand or seconds, and at the end."""

    def __init__(self, skipped: list[str], oldest: float = 0.0, size: int = 2000, seconds: float = 2.0):
        self.skipped, self.oldest, self.size, self.seconds = skipped, oldest, size, seconds
        self.too_old: list[Path] = []  # one per output older than the retention period (its log)
        self.entries: list[Entry] = []
        self.where: list[Path] = []
        self.added = self.duplicates = 0
        self.renamed: dict[str, None] = {}  # said once per log and name
        self.since = time.monotonic()

    def add(self, entry: Entry, path: Path) -> None:
        self.entries.append(entry)
        self.where.append(path)
        if len(self.entries) >= self.size or time.monotonic() - self.since > self.seconds:
            self.flush()

    def flush(self) -> None:
        from aiguard.capture.record import record

        entries, where = self.entries, self.where
        self.entries, self.where, self.since = [], [], time.monotonic()
        if not entries:
            return
        result = record(entries)
        self.added += result.added
        self.duplicates += result.duplicates
        self.skipped += [f"{where[index]}: output: {reason}" for index, reason in result.skipped]
        self.renamed.update((f"{where[index]}: {reason}", None) for index, reason in result.renamed)


def ingest_file(source: ModuleType, path: Path, batch: _Batch) -> int:
    """One log's outputs into the batch; 1 when it was read, 0 when it cannot be.

    Read in bounded chunks of lines (a log its assistant rewrites whole: at once, size-capped),
    so a bad line costs that line and a bad file no other's records.
    """
    state: dict = {}
    if is_store(source, path):
        return _ingest_store(source, path, batch)
    try:
        whole = is_rewritten(source) or path.suffix == ".json"
        chunks = iter([Chunk(read_whole(path), 0, [])]) if whole else iter_lines(path)
        for chunk in chunks:
            batch.skipped += [f"{item.where}: {item.reason}" for item in chunk.skipped]
            for item in parse_isolated(source, path, chunk.data, state):
                if isinstance(item, Skip):
                    batch.skipped.append(f"{item.where}: {item.reason}")
                elif item.time is not None and item.time < batch.oldest:
                    batch.too_old.append(path)
                else:
                    batch.add(to_entry(item), path)
    except Unreadable as exc:
        batch.skipped.append(f"{path}: {exc}")
        return 0
    return 1


def _ingest_store(source: ModuleType, path: Path, batch: _Batch) -> int:
    """A database the source reads itself (opened read-only); a failure costs this file only."""
    try:
        for item in source.read_store(path, {}):
            if isinstance(item, Skip):
                batch.skipped.append(f"{item.where}: {item.reason}")
            elif item.time is not None and item.time < batch.oldest:
                batch.too_old.append(path)
            else:
                batch.add(to_entry(item), path)
    except Unreadable as exc:
        batch.skipped.append(f"{path}: {exc}")
        return 0
    except Exception as exc:  # a store of a newer, unknown shape
        batch.skipped.append(f"{path}: cannot read ({exc.__class__.__name__}: {exc})")
        return 0
    return 1


def _all_logs(root: Path, sources: dict[str, ModuleType]) -> Iterable[Path]:
    if not root.is_dir():
        return [root]  # a file given by name: the reader says if it is not a regular one
    names = {name for module in sources.values() for name in (*log_names(module), *getattr(module, "STORES", ()))}
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix in (".jsonl", ".json")
                                                                   or any(fnmatch(p.name, n) for n in names)))


def answer_hook(tool: str, stream: BinaryIO) -> tuple[str | None, str | None]:
    """What `aiguard agent-hook TOOL` does with the payload on `stream`: records what it says
    the model wrote, and returns (what to print on stdout for the assistant to go on, a
    problem line for stderr or None). Never raises: a hook must never fail its assistant."""
    from aiguard.capture.sources.common import loads, read_payload

    module = registry().get(tool)
    problem = None
    try:
        if module is None:
            raise ValueError(f"unknown assistant {tool!r} (one of: {', '.join(registry())})")
        # strict=False: some assistants put raw control characters in their payloads' strings
        payload = loads((read_payload(stream) or b"{}").decode("utf-8", "replace"), strict=False)
        if isinstance(payload, dict):
            agent_hook(tool, payload)
    except Exception as exc:  # never fail the assistant
        problem = f"aiguard: agent-hook {tool}: {exc.__class__.__name__}: {exc}"
    return getattr(module, "HOOK_REPLY", None), problem  # None for an unknown assistant too


def agent_hook(tool: str, payload: dict) -> int:
    """Record what an assistant's hook payload says it wrote; returns how many outputs."""
    from aiguard.capture.record import record

    module = registry().get(tool)
    if module is None:
        return 0
    outputs = module.parse_hook(payload)
    if outputs:
        result = record([to_entry(o) for o in outputs])
        for reason in dict.fromkeys(reason for _index, reason in result.renamed):
            print(f"aiguard: agent-hook {tool}: {reason}", file=sys.stderr)
    return len(outputs)
