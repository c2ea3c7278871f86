"""Attribute a whole change (the staged one, or a commit's) against the ledger.

Glue between git (gitio), the ledger and the pure matcher (attribution). Imported
by the commit hook, so it stays stdlib-only.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, NamedTuple

from aiguard import gitio
from aiguard.attribution import RecordInfo, attribute_text, line_ranges
from aiguard.fingerprint import Hasher

# Matching runs at roughly 1 MB/s of staged text, so a huge commit (vendored code, a
# generated file) would stall the hook: files bigger than this, and what does not fit in
# the per-commit budget (smallest files first: pasted code lives in ordinary files),
# are counted in AI-Lines' T but not matched, and the hook prints a note.
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024


class RangeResult(NamedTuple):
    start: int
    end: int
    tool: str
    model: str
    source: str


class FileResult(NamedTuple):
    path: str
    added: int
    ai: int
    ranges: list[RangeResult]


class ChangeResult(NamedTuple):
    added: int
    ai: int
    files: list[FileResult]
    notes: list[str]  # files left unmatched, and why

    @property
    def assisted_by(self) -> list[str]:
        """Distinct TOOL:MODEL values, most lines first."""
        counts: Counter[str] = Counter()
        for f in self.files:
            for r in f.ranges:
                counts[f"{r.tool}:{r.model}"] += r.end - r.start + 1
        return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "ai": self.ai,
            "files": [
                {"path": f.path, "added": f.added, "ai": f.ai,
                 "ranges": [r._asdict() for r in f.ranges]}
                for f in self.files
            ],
        }


def decode_path(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def attribute_files(
    files: list[gitio.FileDiff],
    ledger,  # aiguard.ledger.Ledger | None; typed loosely to keep sqlite3 out of this import
    hasher_factory: Callable[[], Hasher] | None,
    restrict: dict[bytes, set[int]] | None = None,
    cwd: str | None = None,
) -> ChangeResult:
    """Which added lines of these file diffs derive from ledger records.

    restrict: per path, the only added lines that count (a merge's own lines).
    """
    counted: list[tuple[gitio.FileDiff, list[int]]] = []
    for diff in files:
        if diff.binary or diff.new_oid is None:
            continue
        lines = diff.added if restrict is None else [n for n in diff.added if n in restrict.get(diff.path, ())]
        counted.append((diff, lines))
    total = sum(len(lines) for _, lines in counted)
    notes: list[str] = []
    owners: dict[bytes, dict[int, int]] = {}
    if ledger is not None and total and hasher_factory is not None and not ledger.is_empty():
        hasher = hasher_factory()
        wanted = [diff for diff, lines in counted if lines]
        sizes = gitio.blob_sizes((d.new_oid for d in wanted), cwd=cwd)
        budget = MAX_TOTAL_BYTES
        fetch = []
        over = []
        for diff in sorted(wanted, key=lambda d: (sizes.get(d.new_oid, 0), d.path)):
            size = sizes.get(diff.new_oid, 0)
            if size > MAX_FILE_BYTES:
                notes.append(f"{decode_path(diff.path)}: not matched ({size} bytes is over the size limit)")
            elif size > budget:
                over.append(decode_path(diff.path))
            else:
                budget -= size
                fetch.append(diff)
        if over:
            notes.append(f"{len(over)} files not matched (over the {MAX_TOTAL_BYTES} bytes per commit), e.g. {over[0]}")
        blobs = gitio.read_blobs((d.new_oid for d in fetch), cwd=cwd)
        allowed = {d.path: set(lines) for d, lines in counted}
        for diff in fetch:
            data = blobs.get(diff.new_oid)
            if data is None:
                continue
            if b"\0" in data[:8192]:
                notes.append(f"{decode_path(diff.path)}: not matched (binary content)")
                continue
            text = data.decode("utf-8", "surrogateescape")
            owners[diff.path] = attribute_text(
                text, allowed[diff.path], hasher, ledger.lookup, ledger.record_tokens, decode_path(diff.path)
            )
    record_ids = {rid for lines in owners.values() for rid in lines.values()}
    info: dict[int, RecordInfo] = ledger.record_info(record_ids) if record_ids else {}
    results = []
    ai_total = 0
    for diff, lines in counted:
        owned = {line: rid for line, rid in owners.get(diff.path, {}).items() if rid in info}
        ranges = [
            RangeResult(r.start, r.end, info[r.record].tool, info[r.record].model, info[r.record].source)
            for r in line_ranges(owned, info)
        ]
        ai_total += len(owned)
        results.append(FileResult(decode_path(diff.path), len(lines), len(owned), ranges))
    return ChangeResult(total, ai_total, results, notes)


def merge_own_lines(base_files: list[gitio.FileDiff], others: Iterable[list[gitio.FileDiff]]) -> dict[bytes, set[int]]:
    """Lines of a merge that are new against every parent: the merge's own work."""
    own = {d.path: set(d.added) for d in base_files}
    for files in others:
        theirs = {d.path: set(d.added) for d in files}
        for path in own:
            own[path] &= theirs.get(path, set())
    return own
