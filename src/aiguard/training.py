"""Python API for training-data pipelines: is this commit, this line, AI-derived, and by what.

Three entry points, from the cheapest to the richest:

* `commit_verdict(message, author=None, committer=None)`: from a commit message alone
  (git's own trailer rules: only the final trailer block counts), e.g. for a dataset
  of commits that kept their messages but not their repository;
* `ExportIndex.load(paths)`: the output of `aiguard export --format jsonl` for many
  repositories, for lookups by commit id (what the datatrove block uses on a cluster);
* `Repository(path)`: a local clone, with notes (`refs/notes/aiguard`) read in bulk.

    >>> from aiguard.training import commit_verdict
    >>> commit_verdict("Fix\\n\\nCo-authored-by: Codex <noreply@openai.com>\\n").ai_derived
    True

Every answer comes from the same per-commit record as `aiguard log --json`, so a
pipeline and an auditor see the same thing. Schema: `aiguard.commit/1` (README).
"""

from __future__ import annotations

import glob
import json
import os
from typing import Iterable, Iterator, NamedTuple, Sequence

from aiguard.audit import history
from aiguard.core import note_format
from aiguard.audit.history import Entry

__all__ = ["Verdict", "commit_verdict", "Repository", "ExportIndex", "Entry"]


class Verdict(NamedTuple):
    ai_derived: bool
    evidence: str  # aiguard | foreign | none
    assisted_by: list[str]
    ai_lines: int
    added: int | None  # from AI-Lines when stamped, else unknown
    stamped: bool
    evidence_level: str | None = None  # with evidence foreign: trailer | identity | phrase (a body phrase: weaker)


def commit_verdict(message: str | bytes, author: str | None = None, committer: str | None = None) -> Verdict:
    """What a commit message (and optionally its author/committer "Name <email>") says."""
    raw = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    entry = history._entry(history._Raw("", [], author or "", "", committer or "", raw, {}), {}, {}, None)  # type: ignore[arg-type]
    counted = entry.stamped or entry.ai_lines
    return Verdict(entry.ai_derived, entry.evidence, entry.assisted_by, entry.ai_lines,
                   entry.added if counted else None, entry.stamped, entry.evidence_level)


def _ranges_of(files: dict, path: str, line: int) -> str | None:
    for r in files.get(path, ()):
        start, end, tool, model = (r.start, r.end, r.tool, r.model) if hasattr(r, "start") else \
            (r["start"], r["end"], r["tool"], r["model"])
        if start <= line <= end:
            return f"{tool}:{model}"
    return None


class Repository:
    """A local git repository's AI record."""

    def __init__(self, path: str | os.PathLike = ".", ledger_fallback: bool = False, diff: bool = True):
        """diff=False: the fast path (`export --no-diff`): trailers and notes only, `added` None
        where only the diff counts it."""
        self.path = os.fspath(path)
        self.ledger_fallback = ledger_fallback
        self.diff = diff
        self._cache: dict[str, Entry] = {}

    def commits(self, rev_range: str | Sequence[str] | None = None) -> Iterator[Entry]:
        """Every commit of a range (anything git log takes; default HEAD), newest first."""
        for entry in history.entries(history.rev_args(rev_range), self.path, self.ledger_fallback, diff=self.diff):
            self._cache[entry.commit] = entry
            yield entry

    def commit(self, rev: str) -> Entry:
        if rev in self._cache:
            return self._cache[rev]
        found = list(history.entries(["--no-walk"], self.path, self.ledger_fallback, revs=[rev], diff=self.diff))
        if not found:
            raise history.HistoryError(f"{rev!r} is not a commit in {self.path}")
        self._cache[found[0].commit] = self._cache[rev] = found[0]
        return found[0]

    def is_ai_commit(self, rev: str) -> bool:
        return self.commit(rev).ai_derived

    def ai_lines(self, rev: str) -> dict[str, list[tuple[int, int, str]]]:
        """path -> [(start, end, "tool:model")], line numbers in the file as of that commit."""
        return {path: [(r.start, r.end, f"{r.tool}:{r.model}") for r in ranges]
                for path, ranges in self.commit(rev).files.items()}

    def line(self, rev: str, path: str, line: int) -> str | None:
        """TOOL:MODEL when line `line` of `path` (as of commit `rev`) was recorded as AI output."""
        return _ranges_of(self.commit(rev).files, path, line)

    def blame(self, path: str, rev: str | None = None):
        """Per line of a file: the commit that last changed it and its tool/model, if any."""
        from aiguard.audit.views import blame

        return blame(path, rev, self.path)


class ExportIndex:
    """`aiguard export --format jsonl` files loaded for lookups by commit id.

    A commit id is looked up as given (full or at least 12 hex digits); where
    several repositories are loaded, `repo` (the name given to `add`) narrows it.
    """

    def __init__(self) -> None:
        self.by_commit: dict[str, dict] = {}

    @classmethod
    def load(cls, paths: str | Iterable[str]) -> "ExportIndex":
        index = cls()
        patterns = [paths] if isinstance(paths, str) else list(paths)
        for pattern in patterns:
            matches = sorted(glob.glob(pattern)) or [pattern]
            for path in matches:
                repo = os.path.splitext(os.path.basename(path))[0]
                with open(path, encoding="utf-8") as fh:
                    index.add(fh, repo)
        return index

    def add(self, lines: Iterable[str], repo: str | None = None) -> None:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                sha = entry["commit"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"line {number}: not an aiguard export record") from None
            self.by_commit[sha] = entry
            if repo:
                self.by_commit[f"{repo}:{sha}"] = entry

    def get(self, commit: str, repo: str | None = None) -> dict | None:
        key = f"{repo}:{commit}" if repo else commit
        found = self.by_commit.get(key)
        if found is None and len(commit) >= 12 and len(commit) < 40:
            found = next((e for k, e in self.by_commit.items() if k.split(":")[-1].startswith(commit)
                          and (not repo or k.startswith(f"{repo}:"))), None)
        return found

    def is_ai_commit(self, commit: str, repo: str | None = None) -> bool | None:
        """True/False for a known commit, None when the export does not know it."""
        entry = self.get(commit, repo)
        return None if entry is None else bool(entry["assisted_by"] or entry["ai_lines"])

    def line(self, commit: str, path: str, line: int, repo: str | None = None) -> str | None:
        entry = self.get(commit, repo)
        if entry is None:
            return None
        files = {note_format.path_of(f): f["ranges"] for f in entry.get("files", [])}
        return _ranges_of(files, path, line)

    def lines_overlap(self, commit: str, path: str, start: int, end: int, repo: str | None = None) -> list[str]:
        """TOOL:MODEL values of AI ranges of `path` at `commit` that overlap lines start..end."""
        entry = self.get(commit, repo)
        if entry is None:
            return []
        found = []
        for f in entry.get("files", []):
            if note_format.path_of(f) != path:
                continue
            for r in f["ranges"]:
                if r["start"] <= end and start <= r["end"]:
                    name = f"{r['tool']}:{r['model']}"
                    if name not in found:
                        found.append(name)
        return found
