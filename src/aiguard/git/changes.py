"""Attribute a whole change (the staged one, or a commit's) against the ledger.

Glue between git (git.patches, git.objects), the ledger and the pure matcher (attribution). Imported
by the commit hook, so it stays stdlib-only.
"""

from __future__ import annotations

import os
from collections import Counter

from aiguard.core.spans import Span
from aiguard.core import trailers
from aiguard.git import objects, patches
from aiguard.core.attribution import RecordInfo, attribute_text, line_ranges
from aiguard.core.fingerprint import Hasher
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Callable, Iterable

# What one commit matches at most. Matching costs by added text (the neighbourhood of the
# added lines is tokenised, not whole files), so the budget counts added bytes; a file is
# read whole, so one far bigger than anything written by hand is not read at all. Whatever
# is left unmatched is never silent: it is listed in ChangeResult.unmatched, the stamp
# carries it as `AI-Unmatched` (covered by the binding), and attribute/log/verify show it.
# AIGUARD_MAX_ADDED_BYTES / AIGUARD_MAX_FILE_BYTES lower (or raise) them, e.g. to keep a slow
# machine's hook short; what they leave out is disclosed like the rest.
MAX_ADDED_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 128 * 1024 * 1024


def _limit(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


# Why a file's added lines were not matched (the AI-Unmatched reasons, see trailers).
TOO_LARGE, OVER_BUDGET, BINARY, UNREADABLE = trailers.UNMATCHED_REASONS


class Unmatched(NamedTuple):
    path: str
    reason: str  # one of trailers.UNMATCHED_REASONS
    lines: int  # added lines left unmatched (0 for a binary file)


def unmatched_value(unmatched: Iterable[Unmatched]) -> str | None:
    """The AI-Unmatched trailer value for these files, or None when all was matched."""
    return trailers.unmatched_value((u.reason, u.lines) for u in unmatched)


_REASON_WORDS = {
    TOO_LARGE: "the file is over the size limit (AIGUARD_MAX_FILE_BYTES, 128 MiB by default)",
    OVER_BUDGET: "past the added text matched per commit (AIGUARD_MAX_ADDED_BYTES, 64 MiB by default)",
    BINARY: "binary content",
    UNREADABLE: "git could not read the file",
}


class FileResult(NamedTuple):
    path: str
    added: int
    ai: int
    ranges: list[Span]


class ChangeResult(NamedTuple):
    added: int
    ai: int
    files: list[FileResult]
    notes: list[str]  # what the user should read: files left unmatched and why, carried records
    unmatched: tuple[Unmatched, ...] = ()  # added text not matched, per file (see MAX_ADDED_BYTES)

    @property
    def assisted_by(self) -> list[str]:
        """Distinct TOOL:MODEL values, most lines first."""
        counts: Counter[str] = Counter()
        for f in self.files:
            for r in f.ranges:
                counts[f"{r.tool}:{r.model}"] += r.end - r.start + 1
        return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def to_json(self) -> dict:
        """A non-UTF-8 file name as `log --json` writes it (`path` with `\\xNN`, `path_bytes`):
        its surrogate escapes would make the output JSON that strict parsers refuse."""
        from aiguard.core.note_format import path_json

        return {
            "added": self.added,
            "ai": self.ai,
            "files": [
                {**path_json(f.path), "added": f.added, "ai": f.ai,
                 "ranges": [r._asdict() for r in f.ranges]}
                for f in self.files
            ],
            "unmatched": [{**path_json(u.path), "reason": u.reason, "lines": u.lines} for u in self.unmatched],
            "notes": [_escaped(note) for note in self.notes],
        }

    def spans(self) -> dict[str, list[Span]]:
        """Each file's AI lines, as the line record keeps them (files without any left out)."""
        return {f.path: [Span(*r) for r in f.ranges] for f in self.files if f.ranges}

    def to_text(self) -> str:
        """`aiguard attribute`'s report: each file's AI lines and their ranges, then the trailers."""
        from aiguard.core.names import visible

        out = []
        for f in self.files:
            if not f.added:
                continue
            out.append(f"{visible(f.path)}: {f.ai}/{f.added} added lines from recorded AI output")
            for r in f.ranges:
                span = f"{r.start}" if r.start == r.end else f"{r.start}-{r.end}"
                out.append(f"  lines {span}: {visible(f'{r.tool}:{r.model} ({r.source})')}")
        out.append(f"AI-Lines: {self.ai}/{self.added}")
        for value in self.assisted_by:
            out.append(f"Assisted-by: {visible(value)}")
        return "\n".join(out)


def _escaped(text: str) -> str:
    """`text` with each surrogate-escaped (undecodable) byte written `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def decode_path(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def attribute_files(
    files: list[patches.FileDiff],
    ledger,  # aiguard.store.ledger.Ledger | None; typed loosely to keep sqlite3 out of this import
    hasher_factory: Callable[[], Hasher] | None,
    restrict: dict[bytes, set[int]] | None = None,
    cwd: str | None = None,
    reader: objects.BlobReader | None = None,
) -> ChangeResult:
    """Which added lines of these file diffs derive from ledger records.

    restrict: per path, the only added lines that count (a merge's own lines).
    reader: a BlobReader started earlier (the commit hook's); the caller closes it.
    """
    counted: list[tuple[patches.FileDiff, list[int]]] = []
    unmatched: list[Unmatched] = []
    for diff in files:
        if diff.new_oid is None:
            continue  # deleted: nothing added
        if diff.binary:
            if diff.new_mode != "160000":  # a submodule adds a commit id, no text: its own repository's hook saw it
                unmatched.append(Unmatched(decode_path(diff.path), BINARY, 0))
            continue
        lines = diff.added if restrict is None else [n for n in diff.added if n in restrict.get(diff.path, ())]
        counted.append((diff, lines))
    total = sum(len(lines) for _, lines in counted)
    owners: dict[bytes, dict[int, int]] = {}
    if ledger is not None and total and hasher_factory is not None and not ledger.is_empty():
        hasher = hasher_factory()
        wanted = [(diff, lines) for diff, lines in counted if lines]
        added_bytes = {d.path: _added_bytes(d) for d, _ in wanted}
        budget = _limit("AIGUARD_MAX_ADDED_BYTES", MAX_ADDED_BYTES)
        max_file = _limit("AIGUARD_MAX_FILE_BYTES", MAX_FILE_BYTES)
        # Least added text first: a budget that runs out leaves out the fewest files. One blob
        # in memory at a time, through one `git cat-file --batch` whose headers give the sizes.
        wanted.sort(key=lambda item: (added_bytes[item[0].path], item[0].path))
        with objects.reading(reader, cwd) as blob_reader:
            shares = _shares(wanted, added_bytes, budget, ledger)
            if len(shares) > 1:  # all of it fits the budget: no file's turn depends on another's size
                children = [_start_share(share, hasher, ledger, max_file, cwd) for share in shares[1:]]
                for diff, lines in shares[0]:
                    _attribute_one(blob_reader, diff, lines, hasher, ledger, max_file, owners, unmatched)
                for share, child in zip(shares[1:], children):
                    if not _finish_share(child, owners, unmatched):  # it failed: its files are done here
                        for diff, lines in share:
                            _attribute_one(blob_reader, diff, lines, hasher, ledger, max_file, owners, unmatched)
            else:
                for at, (diff, lines) in enumerate(wanted):
                    if added_bytes[diff.path] > budget:
                        # So are all the files after it (more added text): their sizes from one
                        # `--batch-check`, only to say which are also unreadable or too large.
                        rest = wanted[at:]
                        sizes = objects.blob_sizes((d.new_oid for d, _ in rest if d.new_oid), cwd=cwd)
                        _unmatched_over_budget(rest, sizes, max_file, unmatched)
                        break
                    if _attribute_one(blob_reader, diff, lines, hasher, ledger, max_file, owners, unmatched):
                        budget -= added_bytes[diff.path]
    unmatched.sort(key=lambda u: (u.path, u.reason))
    notes = [f"{u.path}: not matched ({_REASON_WORDS[u.reason]})" if not u.lines
             else f"{u.path}: {u.lines} added {'line' if u.lines == 1 else 'lines'} not matched ({_REASON_WORDS[u.reason]})"
             for u in unmatched]
    record_ids = {rid for lines in owners.values() for rid in lines.values()}
    info: dict[int, RecordInfo] = ledger.record_info(record_ids) if record_ids else {}
    results = []
    ai_total = 0
    for diff, lines in counted:
        owned = {line: rid for line, rid in owners.get(diff.path, {}).items() if rid in info}
        ranges = [
            Span(r.start, r.end, info[r.record].tool, info[r.record].model, info[r.record].source)
            for r in line_ranges(owned, info)
        ]
        ai_total += len(owned)
        results.append(FileResult(decode_path(diff.path), len(lines), len(owned), ranges))
    return ChangeResult(total, ai_total, results, notes, tuple(unmatched))


def _added_bytes(diff: patches.FileDiff) -> int:
    """The bytes of a file's added lines (with their "+"): what the budget counts."""
    if len(diff.changes) == len(diff.added):  # only added lines (a new file): summed in C
        return sum(map(len, diff.changes))
    return sum(len(c) for c in diff.changes if c[:1] == b"+")


def _attribute_one(reader: objects.BlobReader, diff: patches.FileDiff, lines: list[int], hasher: Hasher, ledger,
                   max_file: int, owners: dict[bytes, dict[int, int]], unmatched: list[Unmatched]) -> bool:
    """Attribute one file's added lines into `owners`, or say in `unmatched` why not; whether
    its added text counts against the budget (a file that could be read)."""
    assert diff.new_oid is not None  # deleted files were left out above
    size, data = reader.read_within(diff.new_oid, max_file)
    if size is None:
        unmatched.append(Unmatched(decode_path(diff.path), UNREADABLE, len(lines)))
        return False
    if data is None:
        unmatched.append(Unmatched(decode_path(diff.path), TOO_LARGE, len(lines)))
        return False
    if b"\0" in data[:8192]:
        unmatched.append(Unmatched(decode_path(diff.path), BINARY, len(lines)))
    else:
        text = data.decode("utf-8", "surrogateescape")
        del data  # the blob's bytes are not needed beside its text while it is matched (60 MB of a 60 MB file)
        owners[diff.path] = attribute_text(text, lines, hasher, ledger.lookup, ledger.record_tokens,
                                           decode_path(diff.path), record_lines=ledger.record_lines)
    return True


# A change with more added text than this is attributed by several processes at once, one
# share of its files each (forked: POSIX only), when the machine has the cores for it:
# matching is CPU-bound, and the 64 MiB of a commit's budget take ~10 s on one core.
PARALLEL_BYTES = 4 * 1024 * 1024
MAX_PROCESSES = 4


def _shares(wanted: list[tuple[patches.FileDiff, list[int]]], added_bytes: dict[bytes, int], budget: int,
            ledger) -> list[list[tuple[patches.FileDiff, list[int]]]]:
    """The files split into shares of about equal added text, one per process; one share
    when the change is small, over the budget, the ledger cannot be opened again in a
    child, or there is one core (AIGUARD_PROCESSES sets the count; 1 turns this off)."""
    total = sum(added_bytes[d.path] for d, _ in wanted)
    if total < PARALLEL_BYTES or total > budget or not hasattr(os, "fork") or not hasattr(ledger, "path") \
            or not callable(getattr(type(ledger), "open_readonly", None)):
        return [wanted]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = min(_limit("AIGUARD_PROCESSES", min(cores, MAX_PROCESSES)), len(wanted))
    if count <= 1:
        return [wanted]
    shares: list[list[tuple[patches.FileDiff, list[int]]]] = [[] for _ in range(count)]
    loads = [0] * count
    for item in sorted(wanted, key=lambda item: -added_bytes[item[0].path]):  # largest first, to the lightest
        lightest = loads.index(min(loads))
        shares[lightest].append(item)
        loads[lightest] += added_bytes[item[0].path]
    return [share for share in shares if share]


class _Share(NamedTuple):
    pid: int
    out: IO[bytes]  # the temporary file its results come back in


def _start_share(share: list[tuple[patches.FileDiff, list[int]]], hasher: Hasher, ledger, max_file: int,
                 cwd: str | None) -> _Share | None:
    """Fork a process that attributes `share` with its own ledger connection and blob reader
    (an SQLite connection must not be used across a fork) and writes what it found (line
    numbers and record ids: no text) to an unlinked temporary file. None when it cannot be
    started (no temporary file, no process to be had): the caller does the share itself."""
    import marshal
    import tempfile

    try:
        out = tempfile.TemporaryFile()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:  # EAGAIN at the user's process limit, ENOMEM
        out.close()
        return None
    if pid == 0:
        code = 1
        try:
            found: dict[bytes, dict[int, int]] = {}
            missed: list[Unmatched] = []
            own = type(ledger).open_readonly(ledger.path)
            reader = objects.BlobReader(cwd)
            try:
                for diff, lines in share:
                    _attribute_one(reader, diff, lines, hasher, own, max_file, found, missed)
            finally:
                reader.close()
            marshal.dump((found, [tuple(u) for u in missed]), out)
            out.flush()
            code = 0
        finally:
            os._exit(code)
    return _Share(pid, out)


def _finish_share(child: _Share | None, owners: dict[bytes, dict[int, int]], unmatched: list[Unmatched]) -> bool:
    """Take a share's results; False when its process failed or never started (the caller
    does its files)."""
    import marshal

    if child is None:
        return False
    try:
        _, status = os.waitpid(child.pid, 0)
        if status != 0:
            return False
        child.out.seek(0)
        found, missed = marshal.load(child.out)
        owners.update(found)
        unmatched.extend(Unmatched(*u) for u in missed)
        return True
    except (OSError, EOFError, ValueError, TypeError):
        return False
    finally:
        child.out.close()


def _unmatched_over_budget(rest: list[tuple[patches.FileDiff, list[int]]], sizes: dict[str, int], max_file: int,
                           unmatched: list[Unmatched]) -> None:
    for diff, lines in rest:
        size = sizes.get(diff.new_oid or "")
        reason = UNREADABLE if size is None else TOO_LARGE if size > max_file else OVER_BUDGET
        unmatched.append(Unmatched(decode_path(diff.path), reason, len(lines)))


def merge_own_lines(base_files: list[patches.FileDiff], others: Iterable[list[patches.FileDiff]]) -> dict[bytes, set[int]]:
    """Lines of a merge that are new against every parent: the merge's own work."""
    own = {d.path: set(d.added) for d in base_files}
    for files in others:
        theirs = {d.path: set(d.added) for d in files}
        for path in own:
            own[path] &= theirs.get(path, set())
    return own
