"""Carrying a change's line records through history edits: the commit hook of an amend,
rebase, cherry-pick or squash merge finds which earlier commits the commit being made is made
of (`carry_sources`, `Prefetch`), reads their records (`records_of`), and keeps their AI
lines that are added lines of the new change (`carry_into`, lines matched by `map_lines`).

Stdlib only: the hook imports this.
"""

from __future__ import annotations

import os

from aiguard.core.note_format import LineRecord, decode, to_lines, to_spans
from aiguard.core.spans import Span
from aiguard.git import objects, patches, runner
from aiguard.git.notes import REF, REMOTE_COPIES, note_refs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Iterator

MOVE_MIN = 3  # lines: a block found again out of order keeps its owner from this size up


def map_lines(old_text: bytes, new_text: bytes, lines: Iterable[int], min_run: int = 1) -> dict[int, int]:
    """old line number -> new line number, for lines that are unchanged between the versions.

    Lines are aligned in order first; a block of at least MOVE_MIN wanted lines that the
    in-order pass left out and that reappears elsewhere, unchanged, is a move and maps there.
    min_run: map only runs of at least this many consecutive wanted lines.
    """
    import difflib  # only here: the hook imports this module on every commit

    wanted = set(lines)
    if not wanted:
        return {}
    old = old_text.splitlines()
    new = new_text.splitlines()
    mapped: dict[int, int] = {}
    taken: set[int] = set()  # 0-based new lines already aligned
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        taken.update(range(b, b + size))
        for run in _runs([(a + k, b + k) for k in range(size) if a + k + 1 in wanted]):
            if len(run) >= min_run:
                mapped.update((i + 1, j + 1) for i, j in run)
    left = [i for i in range(len(old)) if i + 1 in wanted and i + 1 not in mapped]
    if not left:
        return mapped
    free = [j for j in range(len(new)) if j not in taken]
    moved = difflib.SequenceMatcher(None, [old[i] for i in left], [new[j] for j in free], autojunk=False)
    for a, b, size in moved.get_matching_blocks():
        # a run in both leftovers is a move only if it is a run in both files too
        runs = _runs([(left[a + k], free[b + k]) for k in range(size)])
        for run in runs:
            if len(run) >= max(MOVE_MIN, min_run):
                mapped.update((i + 1, j + 1) for i, j in run)
    return mapped


def unchanged_lines(text: bytes, lines: Iterable[int], min_run: int = 1) -> dict[int, int]:
    """map_lines for a file whose two versions are the same blob, without diffing it: each
    wanted line that exists maps to itself, in runs of at least min_run."""
    count = len(text.splitlines())
    runs = _runs([(line, line) for line in sorted(set(lines)) if 1 <= line <= count])
    return {i: j for run in runs if len(run) >= min_run for i, j in run}


def _runs(pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Split (old, new) pairs into runs that are consecutive on both sides."""
    out: list[list[tuple[int, int]]] = []
    for i, j in pairs:
        if out and out[-1][-1] == (i - 1, j - 1):
            out[-1].append((i, j))
        else:
            out.append([(i, j)])
    return out


def carry_into(files: list[patches.FileDiff], sources: list[tuple[str, LineRecord]],
               cwd: str | None = None, new_rev: str | None = None,
               weak: Iterable[str] = (), reader: objects.BlobReader | None = None) -> dict[str, list[Span]]:
    """The earlier commits' AI lines that are added lines of this change, as spans by path.

    files: the new change (its added lines, new blob ids); sources: (commit, its record);
    new_rev: the new commit, or None for the index (a commit being made). A file on record
    under a name the change does not have is looked for under the name git's rename
    detection gives it between that commit and the new version. Commits in `weak`
    (left behind by a reset or checkout, Prefetch.behind) give only runs of MOVE_MIN unchanged
    lines. reader: a running `cat-file --batch` (the commit hook's) to read the blobs through;
    one is started here when none is given.
    """
    weak = set(weak)
    by_path = {d.path.decode("utf-8", "surrogateescape"): d for d in files if not d.binary and d.new_oid}
    wanted: list[tuple[str, str, patches.FileDiff, list[Span]]] = []
    for commit, record in sources:
        orphans = [path for path in record.files if path not in by_path]
        renamed = renames(commit, new_rev, orphans, list(by_path), cwd) if orphans and by_path else {}
        for path, spans in record.files.items():
            diff = by_path.get(renamed.get(path, path))
            if diff is not None and diff.added:
                wanted.append((commit, path, diff, spans))
    if not wanted:
        return {}
    with objects.reading(reader, cwd) as blob_reader:
        old_blobs, blobs = _read_versions(blob_reader, wanted)
    out: dict[str, dict[int, Span]] = {}
    for commit, path, diff, spans in wanted:
        old_text = blobs.get(old_blobs.get((commit, path), ""))
        new_text = blobs.get(diff.new_oid or "")
        if old_text is None or new_text is None:
            continue
        lines = to_lines(spans)
        added = set(diff.added)
        new_path = diff.path.decode("utf-8", "surrogateescape")
        min_run = MOVE_MIN if commit in weak else 1
        if old_blobs.get((commit, path)) == diff.new_oid:  # the same content (a commit undone and made again)
            mapping = unchanged_lines(new_text, lines, min_run)
        else:
            mapping = map_lines(old_text, new_text, lines, min_run)
        for old_line, new_line in mapping.items():
            if new_line in added:
                out.setdefault(new_path, {}).setdefault(new_line, lines[old_line])
    return {path: to_spans(lines) for path, lines in out.items() if lines}


def renames(commit: str, new_rev: str | None, old_paths: list[str], new_paths: list[str],
            cwd: str | None = None) -> dict[str, str]:
    """old path -> new path for the files git finds renamed from `commit` to `new_rev` (None:
    the index), looking only at the paths given (one `git diff -M`)."""
    target = [commit, new_rev] if new_rev else ["--cached", commit]
    out = runner.git(["--literal-pathspecs", "diff", "--no-ext-diff", "--no-textconv", "-M", "-z",
                     "--name-status", "--diff-filter=R", *target, "--", *dict.fromkeys([*old_paths, *new_paths])],
                    cwd=cwd, check=False)
    fields = out.split(b"\0")
    found = {}
    i = 0
    while i + 2 < len(fields):
        if fields[i].startswith(b"R"):
            old, new = fields[i + 1], fields[i + 2]
            found[old.decode("utf-8", "surrogateescape")] = new.decode("utf-8", "surrogateescape")
            i += 3
        else:
            i += 2
    return found


def _read_versions(reader: objects.BlobReader, wanted: list) -> tuple[dict[tuple[str, str], str], dict[str, bytes]]:
    """(commit, path) -> the blob id the commit has there, and the contents of those blobs and
    of the change's new versions, through one running reader."""
    found = reader.read_objects([name for commit, path, diff, _ in wanted for name in (f"{commit}:{path}", diff.new_oid)
                                 if name])
    old_blobs = {(commit, path): found[f"{commit}:{path}"][0] for commit, path, _, _ in wanted
                 if found.get(f"{commit}:{path}", ("", ""))[1] == "blob"}
    blobs = {oid: data for oid, kind, data in found.values() if kind == "blob"}
    return old_blobs, blobs


# Which commits a commit being made now is made of ------------------------------------------

# The patterns below run only in the states that need them (a rebase, a squash, a revert), so `re`
# is imported there: on an ordinary commit it would cost ~4 ms of imports (see _is_sha).
_SHA = rb"[0-9a-f]{40,64}"
_FOLDING = (b"squash", b"s", b"fixup", b"f")
_PICKING = (b"pick", b"p", b"reword", b"r", b"edit", b"e", *_FOLDING)
REFLOG_WINDOW = 30  # HEAD's last entries looked at for commits undone by reset or checkout
_HEX = "0123456789abcdef"
_HEX_BYTES = _HEX.encode()


def is_lower_hex(text: bytes | str, shortest: int, longest: int) -> bool:
    """Whether text is `shortest` to `longest` lowercase hex digits (re's [0-9a-f]{m,n}), without re."""
    if not shortest <= len(text) <= longest:
        return False
    return not (text.strip(_HEX_BYTES) if isinstance(text, bytes) else text.strip(_HEX))


def _is_sha(text: bytes | str) -> bool:
    """Whether text is a full commit id (what re.fullmatch(_SHA, text) says)."""
    return is_lower_hex(text, 40, 64)


def carry_sources(amend: bool, cwd: str | None = None) -> list[str]:
    """Commits whose recorded lines a commit being made now may carry, as git's state
    says (read from files: no git call unless a flow below needs one):

    - an amend (also a rebase fixup/squash step, which amends the commit before): HEAD;
    - a cherry-pick, and a sequencer pick stopped on a conflict: CHERRY_PICK_HEAD;
    - a rebase step (rebase-merge/ present): REBASE_HEAD and, from rebase-merge/done, the
      commit being picked with every commit folded into it so far (squash, fixup);
    - `git merge --squash`: the commits SQUASH_MSG lists;
    - MERGE_MSG without MERGE_HEAD (`cherry-pick -n`, `revert`, a pick or revert stopped on
      a conflict): the commit named by "(cherry picked from commit X)", the commit found by
      the AIGuard-Stamp it quotes, and for "This reverts commit X." X's parent (the lines
      a revert brings back) and, when X is itself a revert, the commit X reverted;

    Commits that HEAD's reflog left behind (reset, checkout) are `Prefetch.behind`: a weaker
    source, carried only in runs of MOVE_MIN lines.
    """
    found: list[str] = []
    if amend:
        found.append("HEAD")
    found += _read_shas("CHERRY_PICK_HEAD", cwd)
    rebasing = os.path.isdir(runner.state_path("rebase-merge", cwd))
    if rebasing:
        found += _read_shas("REBASE_HEAD", cwd)
        found += _folded_so_far(cwd)
    squash = _read_state("SQUASH_MSG", cwd)
    if squash and not rebasing:
        import re

        found += [m.decode() for m in re.findall(rb"^commit (" + _SHA + rb")$", squash, re.M)]
    merge_msg = _read_state("MERGE_MSG", cwd)
    if merge_msg and not rebasing and not found and not os.path.exists(runner.state_path("MERGE_HEAD", cwd)):
        found += _named_in_message(merge_msg, cwd)
    return list(dict.fromkeys(c for c in found if c))


def _read_state(name: str, cwd: str | None) -> bytes | None:
    try:
        with open(runner.state_path(name, cwd), "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _read_shas(name: str, cwd: str | None) -> list[str]:
    data = _read_state(name, cwd)
    if not data:
        return []
    import re

    return [m.decode() for m in re.findall(_SHA, data)[:1]]


def _folded_so_far(cwd: str | None) -> list[str]:
    """The commits of rebase-merge/done's last pick and the squash/fixup steps after it."""
    steps = [line.split() for line in (_read_state("rebase-merge/done", cwd) or b"").splitlines()]
    out: list[str] = []
    for step in reversed([s for s in steps if s and s[0] in _PICKING]):
        args = [a for a in step[1:] if not a.startswith(b"-")]  # fixup -C / -c
        if args and _is_sha(args[0]):
            out.append(args[0].decode())
        if step[0] not in _FOLDING:
            break
    return out


def _named_in_message(message: bytes, cwd: str | None) -> list[str]:
    import re

    out = [m.decode() for m in re.findall(rb"\(cherry picked from commit (" + _SHA + rb")\)", message)]
    for reverted in re.findall(rb"This reverts commit (" + _SHA + rb")", message):
        sha = reverted.decode()
        out.append(f"{sha}^")
        again = re.search(rb"This reverts commit (" + _SHA + rb")", runner.git(["cat-file", "commit", sha], cwd=cwd,
                                                                             check=False))
        if again:
            out.append(again.group(1).decode())
    if not out:
        from aiguard.core import trailers

        group = trailers.read_group(message)
        if group is not None and group.stamp:
            out += _commits_with_stamp(group.stamp, cwd)
    return out


def _commits_with_stamp(stamp: str, cwd: str | None) -> list[str]:
    """Commits on any ref whose message holds this AIGuard-Stamp (newest first, at most 5)."""
    out = runner.git(["log", "--all", "--format=%H", "-n", "5", "--fixed-strings", f"--grep=AIGuard-Stamp: {stamp}"],
                    cwd=cwd, check=False)
    return out.decode().split()


def _moved_from(cwd: str | None) -> list[str]:
    """The commits `reset`/`checkout` entries among HEAD's last reflog entries moved away from."""
    olds = []
    for entry in _reflog_tail(runner.state_path("logs/HEAD", cwd), REFLOG_WINDOW):
        old, new, message = entry
        if message.startswith((b"reset:", b"checkout:")) and old != new and old.strip(b"0"):
            olds.append(old.decode())
    return list(dict.fromkeys(olds))


class Prefetch:
    """The carry's questions for the commit being made, asked before its attribution so that
    git answers them meanwhile: which commits git's state names (carry_sources, file reads),
    which commits the reflog left behind (`behind`, a rev-list) and which copies of the notes
    ref there are (note_refs' for-each-ref). No process starts when there is nothing to carry
    from; `records` then reads the notes through the caller's running blob reader.
    Never raises here: what went wrong is raised by `behind` (the caller's carry fails open)."""

    def __init__(self, amend: bool, cwd: str | None = None):
        self.cwd = cwd
        self.sources: list[str] = []
        self._behind: runner.Started | None = None
        self._refs: runner.Started | None = None
        self._error: Exception | None = None
        try:
            self.sources = carry_sources(amend, cwd)
            olds = _moved_from(cwd)
            if olds:
                self._behind = runner.Started(["rev-list", "--max-count=64", *olds, "--not", "HEAD", "--"], cwd)
            self._refs = runner.Started(REMOTE_COPIES, cwd) if self.sources or olds else None
        except Exception as exc:  # a state file that cannot be read, git gone: said when the carry runs
            self._error = exc

    def behind(self) -> list[str]:
        """Commits that `reset`/`checkout` entries among HEAD's last reflog entries moved away
        from and that HEAD does not contain now: their lines may come back in this commit
        (reset --soft or --mixed then recommit, checkout -m, stash and pop after a reset).
        Nothing in git's state says they do, so carry_into takes from them only runs of
        MOVE_MIN unchanged lines: a lone `return x` or blank line is no evidence."""
        if self._error is not None:
            raise self._error
        if self._behind is None:
            return []
        code, out, _ = self._behind.result()
        return out.decode().split() if code == 0 else []

    def records(self, commits: list[str], reader: objects.BlobReader) -> list[tuple[str, LineRecord]]:
        if not commits or self._refs is None:
            return []
        code, listed, _ = self._refs.result()
        return list(records_of(commits, self.cwd, refs=note_refs(REF, self.cwd, listed if code == 0 else b""),
                               reader=reader))

    def cancel(self) -> None:
        for started in (self._behind, self._refs):
            if started is not None:
                started.cancel()


def _reflog_tail(path: str, count: int) -> list[tuple[bytes, bytes, bytes]]:
    """The last `count` entries of a reflog file as (old, new, message), read from its end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * count))
            data = fh.read()
    except OSError:
        return []
    entries = []
    for line in data.splitlines()[-count:]:
        head, _, message = line.partition(b"\t")
        parts = head.split(b" ", 2)
        if len(parts) == 3 and _is_sha(parts[0]) and _is_sha(parts[1]):
            entries.append((parts[0], parts[1], message))
    return entries


def records_of(commits: list[str], cwd: str | None = None, refs: list[str] | None = None,
               reader: objects.BlobReader | None = None) -> Iterator[tuple[str, LineRecord]]:
    """(commit, record) for each of these commits (any revision) that has a note, ours or a
    remote's copy: two git processes however many commits (the note refs' for-each-ref, one
    `cat-file --batch`); none with a running `reader` and the note refs (`refs`) known."""
    with objects.reading(reader, cwd) as blob_reader:
        shas = _resolve(commits, blob_reader)
        if not shas:
            return
        if refs is None:
            refs = note_refs(REF, cwd)
        # A note's path in the notes tree has 0, 1 or 2 levels of fan-out, as the tree's size made it.
        queries = {sha: [f"{ref}:{path}" for ref in refs
                         for path in (sha, f"{sha[:2]}/{sha[2:]}", f"{sha[:2]}/{sha[2:4]}/{sha[4:]}")] for sha in shas}
        found = blob_reader.read_objects(q for qs in queries.values() for q in qs)
    blobs = {q: data for q, (_, kind, data) in found.items() if kind == "blob"}
    for sha, qs in queries.items():
        data = next((blobs[q] for q in qs if q in blobs), None)
        record = decode(data) if data else None
        if record is not None:
            yield sha, record


def _resolve(revisions: list[str], reader: objects.BlobReader) -> list[str]:
    """Commit ids of these revisions, in order, without the ones that name no commit."""
    names = [r for r in dict.fromkeys(revisions) if not _is_sha(r)]
    found = reader.read_objects(f"{name}^{{commit}}" for name in names) if names else {}
    full = {name: found[f"{name}^{{commit}}"][0] for name in names if f"{name}^{{commit}}" in found}
    return list(dict.fromkeys(full.get(r, r) for r in revisions if r in full or r not in names))
