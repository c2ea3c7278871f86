"""The line-level record's format: which lines of which files came from which tool/model,
per commit, as the bytes of a git note (one line of JSON, schema version 1):

    {"aiguard":1,"added":120,"ai":42,
     "by":[{"tool":"claude-code","model":"claude-sonnet-4-5","source":"assistant-hook"}],
     "files":[{"path":"src/x.py","ranges":[[10,51,0]]}]}

`ranges` are [start, end, index into "by"], 1-based and inclusive, in the file as of
that commit. Only commits with AI lines get a note.

A file name that is not valid UTF-8 (git allows any bytes but NUL) cannot be a JSON
string as is: its entry then has `"path"` with each undecodable byte written `\\xNN`
(for people) and `"path_bytes"`, the name's exact bytes in hex (for programs). `log
--json` and `export` write names the same way (`path_json`, `path_of`).

Pure: where notes are kept and how they travel is aiguard.git.notes.
"""

from __future__ import annotations

from aiguard.core.hook_json import dumps_compact, loads
from aiguard.core.spans import Span, line_runs
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Mapping

SCHEMA = 1


class LineRecord(NamedTuple):
    added: int | None
    ai: int
    files: dict[str, list[Span]]  # path -> spans, in the file as of the commit

    @property
    def assisted_by(self) -> list[str]:
        counts: dict[str, int] = {}
        for spans in self.files.values():
            for s in spans:
                key = f"{s.tool}:{s.model}"
                counts[key] = counts.get(key, 0) + s.end - s.start + 1
        return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def path_json(path: str) -> dict[str, str]:
    """A file name (a str holding surrogate escapes for non-UTF-8 bytes) as JSON fields."""
    try:
        path.encode("utf-8")
        return {"path": path}
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogateescape")
        return {"path": raw.decode("utf-8", "backslashreplace"), "path_bytes": raw.hex()}


def path_of(entry: Mapping[str, object]) -> str:
    """The file name of a JSON entry written by path_json (ValueError for a bad path_bytes)."""
    raw = entry.get("path_bytes")
    if raw is None:
        return str(entry["path"])
    return bytes.fromhex(str(raw)).decode("utf-8", "surrogateescape")


def encode(added: int | None, files: dict[str, list[Span]]) -> bytes:
    by: list[tuple[str, str, str]] = []
    index: dict[tuple[str, str, str], int] = {}
    out_files = []
    ai = 0
    for path in sorted(files):
        ranges = []
        for s in sorted(files[path]):
            key = (s.tool, s.model, s.source)
            if key not in index:
                index[key] = len(by)
                by.append(key)
            ranges.append([s.start, s.end, index[key]])
            ai += s.end - s.start + 1
        if ranges:
            out_files.append({**path_json(path), "ranges": ranges})
    note = {"aiguard": SCHEMA, "added": added, "ai": ai,
            "by": [{"tool": t, "model": m, "source": src} for t, m, src in by], "files": out_files}
    return dumps_compact(note).encode() + b"\n"


def decode(data: bytes) -> LineRecord | None:
    """A note's record, or None for anything that is not a note aiguard can read.

    A note of several lines (two records of one commit, kept side by side by the
    cat_sort_uniq merge of concurrent notes) reads as their union: where two claim the
    same line, the first line of the note wins (cat_sort_uniq sorts them: the same
    answer in every clone)."""
    records = [r for r in (_decode_line(line) for line in data.splitlines() if line.strip()) if r is not None]
    if len(records) <= 1:
        return records[0] if records else None
    lines: dict[str, dict[int, Span]] = {}
    for record in records:
        for path, spans in record.files.items():
            mine = lines.setdefault(path, {})
            for line, span in to_lines(spans).items():
                mine.setdefault(line, span)
    files = {path: to_spans(by_line) for path, by_line in lines.items() if by_line}
    added = [r.added for r in records if r.added is not None]
    return LineRecord(max(added) if added else None, sum(len(v) for v in lines.values()), files)


def _decode_line(data: bytes) -> LineRecord | None:
    try:
        note = loads(data.decode("utf-8"))  # UnicodeDecodeError is a ValueError
        if not isinstance(note, dict) or note.get("aiguard") != SCHEMA:
            return None
        by = [(str(b["tool"]), str(b["model"]), str(b.get("source") or "")) for b in note["by"]]
        files: dict[str, list[Span]] = {}
        for entry in note["files"]:
            spans = [Span(int(s), int(e), *by[int(i)]) for s, e, i in entry["ranges"] if 1 <= int(s) <= int(e)]
            if spans:
                files.setdefault(path_of(entry), []).extend(spans)
        added = note.get("added")
        ai = sum(s.end - s.start + 1 for spans in files.values() for s in spans)
        return LineRecord(int(added) if isinstance(added, int) else None, ai, files)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
        return None  # RecursionError: JSON nested past Python's limit, from a fetched note


def to_lines(spans: Iterable[Span]) -> dict[int, Span]:
    return {line: s for s in spans for line in range(s.start, s.end + 1)}


def to_spans(lines: dict[int, Span]) -> list[Span]:
    """Runs of consecutive lines with the same tool/model/source."""
    return [Span(first, last, s.tool, s.model, s.source)
            for first, last, s in line_runs(lines, lambda a, b: a[2:] == b[2:])]
