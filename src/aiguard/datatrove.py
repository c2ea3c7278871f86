"""A datatrove pipeline block that drops, or tags, documents whose source is AI-derived.

    pip install 'aiguard[datatrove]'

    from aiguard.datatrove import AIProvenanceFilter

    pipeline = [
        JsonlReader("s3://bucket/code-docs/"),
        AIProvenanceFilter(exports="s3://bucket/aiguard-exports/*.jsonl", level="lines",
                           exclusion_writer=JsonlWriter("s3://bucket/removed/")),
        JsonlWriter("s3://bucket/clean/"),
    ]

Each document names its source in its metadata (the keys are arguments of the block):

* `commit` (full or at least 12 hex digits) and optionally `repo`: looked up in the
  `aiguard export --format jsonl` files given as `exports` (local paths, globs or
  fsspec URLs, loaded once per worker process). `repo` narrows the lookup to the
  export file of that name (its file name without extensions); when that file does
  not know the commit, every loaded export is searched;
* `path`, `start_line`, `end_line`: for `level="lines"`, the lines the document holds,
  1-based and inclusive, in the file as of `commit` (a missing start is line 1, a
  missing end the end of the file);
* `message` (and optionally `author`, "Name <email>"): the commit message, judged by
  `aiguard.training.commit_verdict` when no export knows the commit.

How a document is judged (`Provenance.basis` says which rule decided):

1. the export knows the commit: with `level="commit"`, the commit is AI-derived when
   it names a tool or counts AI lines (as `aiguard log` says). With `level="lines"`,
   the document is AI-derived when one of the commit's recorded AI ranges for `path`
   overlaps its lines. A commit known to be AI-derived that has no line record (only
   a co-author trailer, or notes not exported) is judged as a whole: its lines are
   unknown, so all of them count;
2. else the document carries the commit message: its trailers and author decide, at
   commit level, since a message says nothing about lines;
3. else nothing is known: the document is kept (`unknown="keep"`) or dropped.

The recorded ranges are the lines each commit *added*. A document that is a file as
of some commit also holds lines written by earlier commits; give such snapshots the
commit that last touched their lines (`git blame`), or chunk them by commit first.

`mode="drop"` removes AI-derived documents (to the `exclusion_writer`, tagged, when one
is given); `mode="tag"` keeps every document and adds to its metadata `ai_derived`
(true, false, or null when unknown), `assisted_by` (TOOL:MODEL values), `ai_evidence`
(`aiguard`, `foreign`, `none` or `unknown`) and `ai_basis` (`lines`, `commit`,
`message` or `unknown`).

datatrove is optional: this module imports without it; `AIProvenanceFilter` then
raises ImportError naming the extra to install.
"""

from __future__ import annotations

import functools
import os
from typing import Iterable, Mapping, NamedTuple

from aiguard.training import ExportIndex, commit_verdict

try:
    from datatrove.pipeline.filters.base_filter import BaseFilter
except ImportError as error:  # the optional extra is not installed, or is installed but broken
    BaseFilter = None
    _IMPORT_ERROR: ImportError | None = error
else:
    _IMPORT_ERROR = None

__all__ = ["AIProvenanceFilter", "Keys", "Provenance", "load_exports", "provenance"]

MODES = ("drop", "tag")
LEVELS = ("commit", "lines")
_COMPRESSION = (".gz", ".zst", ".bz2", ".xz", ".lz4")
_LAST_LINE = 1 << 62


class Keys(NamedTuple):
    """Where a document's metadata keeps each fact about its source."""

    repo: str = "repo"
    commit: str = "commit"
    path: str = "path"
    start_line: str = "start_line"
    end_line: str = "end_line"
    message: str = "message"
    author: str = "author"


class Provenance(NamedTuple):
    ai_derived: bool | None  # None: nothing is known about the source
    assisted_by: list[str]
    evidence: str  # aiguard | foreign | none | unknown
    basis: str  # lines | commit | message | unknown


UNKNOWN = Provenance(None, [], "unknown", "unknown")


def provenance(metadata: Mapping, index: ExportIndex | None, level: str = "commit",
               keys: Keys = Keys()) -> Provenance:
    """What a document's metadata says about its source (the rules in the module docstring)."""
    commit = metadata.get(keys.commit)
    entry = _lookup(index, str(commit).strip().lower(), metadata.get(keys.repo)) if commit else None
    if entry is not None:
        ai = bool(entry.get("assisted_by") or entry.get("ai_lines"))
        path = metadata.get(keys.path)
        if level == "lines" and ai and path is not None and entry.get("files"):
            start, end = _span(metadata, keys)
            found = _overlapping(entry["files"], str(path), start, end)
            return Provenance(bool(found), found, entry.get("evidence", "aiguard") if found else "none", "lines")
        return Provenance(ai, list(entry.get("assisted_by") or []), entry.get("evidence", "none"), "commit")
    message = metadata.get(keys.message)
    if message:
        verdict = commit_verdict(message, metadata.get(keys.author) or None)
        return Provenance(verdict.ai_derived, list(verdict.assisted_by), verdict.evidence, "message")
    return UNKNOWN


def _lookup(index: ExportIndex | None, commit: str, repo) -> dict | None:
    if index is None:
        return None
    found = index.get(commit, str(repo)) if repo else None
    return found if found is not None else index.get(commit)


def _span(metadata: Mapping, keys: Keys) -> tuple[int, int]:
    bounds = []
    for key, default in ((keys.start_line, 1), (keys.end_line, _LAST_LINE)):
        value = metadata.get(key)
        try:
            bounds.append(default if value is None or value == "" else int(value))
        except (TypeError, ValueError):
            raise ValueError(f"document metadata {key!r} is {value!r}, not a line number") from None
    return bounds[0], bounds[1]


def _overlapping(files: list[dict], path: str, start: int, end: int) -> list[str]:
    found: list[str] = []
    for f in files:
        if f.get("path") != path:
            continue
        for r in f.get("ranges", ()):
            name = f"{r['tool']}:{r['model']}"
            if r["start"] <= end and start <= r["end"] and name not in found:
                found.append(name)
    return found


# exports -------------------------------------------------------------------------------------

def load_exports(exports: str | Iterable[str]) -> ExportIndex:
    """`aiguard export --format jsonl` files (paths, globs or fsspec URLs; .gz etc. read as such)
    as one index, cached per process: the tasks a worker runs share one copy."""
    import fsspec

    patterns = [exports] if isinstance(exports, str) else list(exports)
    files = []
    for pattern in patterns:
        fs, path = fsspec.core.url_to_fs(pattern)
        matches = sorted(fs.glob(path)) if any(c in path for c in "*?[") else [path]
        if not matches:
            raise FileNotFoundError(f"no aiguard export matches {pattern!r}")
        for match in matches:
            info = fs.info(match)
            version = next((str(info[k]) for k in ("mtime", "LastModified", "last_modified", "updated", "ETag")
                            if k in info), "")
            files.append((fs.unstrip_protocol(match), f"{info.get('size')}:{version}"))
    return _load(tuple(files))


@functools.lru_cache(maxsize=4)
def _load(files: tuple[tuple[str, str], ...]) -> ExportIndex:
    import fsspec

    index = ExportIndex()
    for url, _version in files:
        with fsspec.open(url, "rt", compression="infer", encoding="utf-8") as fh:
            try:
                index.add(fh, _repo_name(url))
            except ValueError as e:
                raise ValueError(f"{url}: {e}") from None
    return index


def _repo_name(url: str) -> str:
    """The repository an export file is about: its file name without extensions."""
    name = os.path.basename(url.rstrip("/"))
    for suffix in _COMPRESSION:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return os.path.splitext(name)[0]


# the block -----------------------------------------------------------------------------------

if BaseFilter is None:

    class AIProvenanceFilter:
        """Placeholder: the real block needs datatrove."""

        def __init__(self, *args, **kwargs):
            missing = getattr(_IMPORT_ERROR, "name", None)
            if missing and missing.split(".")[0] != "datatrove":
                # datatrove is there but one of its own imports is not: say which, not "needs datatrove".
                raise ImportError(f"AIProvenanceFilter: datatrove is installed but cannot be imported "
                                  f"({_IMPORT_ERROR}); pip install 'aiguard[datatrove]' installs what it needs")
            raise ImportError("AIProvenanceFilter needs datatrove: pip install 'aiguard[datatrove]'")

else:

    class AIProvenanceFilter(BaseFilter):  # type: ignore[no-redef]
        """Drops (mode="drop") or tags (mode="tag") documents whose source is AI-derived.

        Args:
            exports: `aiguard export --format jsonl` files (paths, globs, fsspec URLs), or an
                `aiguard.training.ExportIndex`; None to judge by commit messages only.
            mode: "drop" or "tag".
            level: "commit" (the source commit is AI-derived) or "lines" (the document's
                lines overlap recorded AI ranges).
            unknown: "keep" or "drop" documents whose source nothing is known about
                (mode="drop" only; mode="tag" keeps every document).
            exclusion_writer: where dropped documents go, tagged and with `filter_reason`.
            repo_key, commit_key, path_key, start_line_key, end_line_key, message_key,
            author_key: the metadata keys naming the source.
        """

        name = "🤖 AI provenance"

        def __init__(
            self,
            exports: str | list[str] | ExportIndex | None = None,
            mode: str = "drop",
            level: str = "commit",
            unknown: str = "keep",
            exclusion_writer=None,
            repo_key: str = "repo",
            commit_key: str = "commit",
            path_key: str = "path",
            start_line_key: str = "start_line",
            end_line_key: str = "end_line",
            message_key: str = "message",
            author_key: str = "author",
        ):
            super().__init__(exclusion_writer)
            for arg, value, allowed in (("mode", mode, MODES), ("level", level, LEVELS),
                                        ("unknown", unknown, ("keep", "drop"))):
                if value not in allowed:
                    raise ValueError(f"AIProvenanceFilter {arg}={value!r}: use one of {', '.join(allowed)}")
            self.exports = exports
            self.mode = mode
            self.level = level
            self.unknown = unknown
            self.keys = Keys(repo_key, commit_key, path_key, start_line_key, end_line_key, message_key, author_key)
            self._index: ExportIndex | None = None

        def run(self, data, rank: int = 0, world_size: int = 1):
            if self._index is None and self.exports is not None:
                self._index = self.exports if isinstance(self.exports, ExportIndex) else load_exports(self.exports)
            yield from super().run(data, rank, world_size)

        def filter(self, doc) -> bool | tuple[bool, str]:
            found = provenance(doc.metadata, self._index, self.level, self.keys)
            self.stat_update(f"basis_{found.basis}")
            if found.ai_derived:
                self.stat_update("ai_derived")
                for tool in dict.fromkeys(value.split(":", 1)[0] for value in found.assisted_by):
                    self.stat_update(f"ai_tool_{tool}")
            if self.mode == "tag":
                self._tag(doc, found)
                return True
            if found.ai_derived:
                self._tag(doc, found)
                return False, f"ai_{found.basis}"
            if found.ai_derived is None and self.unknown == "drop":
                self._tag(doc, found)
                return False, "unknown"
            return True

        @staticmethod
        def _tag(doc, found: Provenance) -> None:
            doc.metadata["ai_derived"] = found.ai_derived
            doc.metadata["assisted_by"] = found.assisted_by
            doc.metadata["ai_evidence"] = found.evidence
            doc.metadata["ai_basis"] = found.basis
