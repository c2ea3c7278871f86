"""`aiguard ingest [PATH...]` and `aiguard agent-hook TOOL`: assistant output into the ledger.

Both turn a source's Outputs into ledger Entries: the session's working
directory becomes its git repository (from the record, never from encoded
folder names), and the ledger's own dedupe makes ingesting the same log twice
harmless.
"""

from __future__ import annotations

import functools
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Iterable, NamedTuple

from aiguard.ledger import Entry
from aiguard.sources import Output, Skip, log_names, registry


class IngestResult(NamedTuple):
    files: int
    added: int
    duplicates: int
    skipped: list[str]
    too_old: int = 0  # outputs older than the retention period: not recorded (pruning would delete them)
    too_old_logs: tuple[str, ...] = ()  # the logs they came from
    retention_days: float = 0.0


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


def _source_for(path: Path, sources: dict[str, ModuleType]) -> ModuleType | None:
    try:
        with open(path, "rb") as fh:
            first = fh.readline(65536)
            while first and not first.strip():  # aider's history opens with a blank line
                first = fh.readline(65536)
    except OSError:
        return None
    return next((module for module in sources.values() if module.sniff(first)), None)


def ingest(paths: Iterable[str]) -> IngestResult:
    """One pass over the given logs (files or folders), or every known log location."""
    import time

    from aiguard import config
    from aiguard.commands.record import record

    retention = config.load().retention_days  # a broken config fails before anything is read
    oldest = time.time() - retention * 86400
    sources = registry()
    targets: list[tuple[ModuleType | None, Path]] = []
    given = [Path(p) for p in paths]
    if given:
        targets = [(None, p) for p in given]
    else:
        targets = [(module, root) for module in sources.values() for root in module.log_roots()]
    entries: list[Entry] = []
    origins: list[Path] = []  # the log each entry came from, for messages
    skipped: list[str] = []
    too_old: list[Path] = []
    files = 0
    for module, root in targets:
        if not root.exists():
            if given:
                skipped.append(f"{root}: no such file or folder")
            continue
        candidates = module.log_files(root) if module else _all_logs(root, sources)
        for path in candidates:
            source = module or _source_for(path, sources)
            if source is None:
                skipped.append(f"{path}: not a log of a known assistant")
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                skipped.append(f"{path}: cannot read ({exc.strerror})")
                continue
            files += 1
            for item in source.parse_log(path, data, {}):
                if isinstance(item, Skip):
                    skipped.append(f"{item.where}: {item.reason}")
                elif item.time is not None and item.time < oldest:
                    too_old.append(path)
                else:
                    entries.append(to_entry(item))
                    origins.append(path)
    result = record(entries) if entries else None
    if result:
        skipped += [f"{origins[index]}: {reason}" for index, reason in result.skipped]
    return IngestResult(files, result.added if result else 0, result.duplicates if result else 0, skipped,
                        len(too_old), tuple(dict.fromkeys(map(str, too_old))), retention)


def _all_logs(root: Path, sources: dict[str, ModuleType]) -> Iterable[Path]:
    if root.is_file():
        return [root]
    names = {name for module in sources.values() for name in log_names(module)}  # e.g. aider's .md
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix in (".jsonl", ".json")
                                                                   or any(fnmatch(p.name, n) for n in names)))


def agent_hook(tool: str, payload: dict) -> int:
    """Record what an assistant's hook payload says it wrote; returns how many outputs."""
    from aiguard.commands.record import record

    module = registry().get(tool)
    if module is None:
        return 0
    outputs = module.parse_hook(payload)
    if outputs:
        record([to_entry(o) for o in outputs])
    return len(outputs)
