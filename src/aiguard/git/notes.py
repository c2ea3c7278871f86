"""The line-level record: which lines of which files came from which tool/model, per commit.

Trailers say how many lines and which tools; a git note under `refs/notes/aiguard`
says which lines. The note is one line of JSON (schema version 1):

    {"aiguard":1,"added":120,"ai":42,
     "by":[{"tool":"claude-code","model":"claude-sonnet-4-5","source":"assistant-hook"}],
     "files":[{"path":"src/x.py","ranges":[[10,51,0]]}]}

`ranges` are [start, end, index into "by"], 1-based and inclusive, in the file as of
that commit. Only commits with AI lines get a note.

A file name that is not valid UTF-8 (git allows any bytes but NUL) cannot be a JSON
string as is: its entry then has `"path"` with each undecodable byte written `\\xNN`
(for people) and `"path_bytes"`, the name's exact bytes in hex (for programs). `log
--json` and `export` write names the same way (`path_json`, `path_of`).

How a note comes about: the commit hook (prepare-commit-msg) cannot know the
commit's name yet, so it leaves the note under `<git-dir>/aiguard-pending/`, named
by the stamp's binding; the post-commit hook (which git also runs for every
cherry-pick and rebase pick) finds the new commit's stamp and files the note.
Through history edits the hook carries the old note's lines into the new commit
(`carried_lines`: amend, rebase, cherry-pick, squash merges), and post-rewrite
carries notes for rewrites that ran no commit hook (`git rebase --apply`).

Stdlib only: the hook imports this.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from aiguard.core.spans import Span, line_runs
from aiguard.git import objects, patches, runner

REF = "refs/notes/aiguard"
GIT_AI_REF = "refs/notes/ai"  # git-ai's authorship notes (foreign evidence)
AGENT_TRACE_REF = "refs/notes/agent-trace"  # agent-trace-cli's notes (foreign evidence)
FOREIGN_REFS = (GIT_AI_REF, AGENT_TRACE_REF)  # read in this order: a commit with both gets git-ai's
SCHEMA = 1
PENDING = "aiguard-pending"
MERGE_STRATEGY = "cat_sort_uniq"  # concurrent records of one commit: both kept, read as their union
PENDING_MAX_AGE = 7 * 86400


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


# The note's bytes -------------------------------------------------------------------------

def path_json(path: str) -> dict[str, str]:
    """A file name (a str holding surrogate escapes for non-UTF-8 bytes) as JSON fields."""
    try:
        path.encode("utf-8")
        return {"path": path}
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogateescape")
        return {"path": raw.decode("utf-8", "backslashreplace"), "path_bytes": raw.hex()}


def path_of(entry: dict) -> str:
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
    return json.dumps(note, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


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
        note = json.loads(data)
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


def spans_from_result(result) -> dict[str, list[Span]]:
    """Spans of a changes.ChangeResult."""
    return {f.path: [Span(r.start, r.end, r.tool, r.model, r.source) for r in f.ranges]
            for f in result.files if f.ranges}


def to_lines(spans: Iterable[Span]) -> dict[int, Span]:
    return {line: s for s in spans for line in range(s.start, s.end + 1)}


def to_spans(lines: dict[int, Span]) -> list[Span]:
    """Runs of consecutive lines with the same tool/model/source."""
    return [Span(first, last, s.tool, s.model, s.source)
            for first, last, s in line_runs(lines, lambda a, b: a[2:] == b[2:])]


# Reading and writing notes ------------------------------------------------------------------

def note_refs(ref: str = REF, cwd: str | None = None) -> list[str]:
    """`ref`, and for aiguard's own notes the remotes' copies fetched beside it
    (refs/notes/remotes/<remote>/aiguard, as `aiguard install` sets fetching up)."""
    if ref != REF:
        return [ref]
    out = subprocess.run([*runner.GIT, "for-each-ref", "--format=%(refname)", "refs/notes/remotes/"],
                         capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
    return [REF, *sorted(name for name in out.split() if name.endswith("/aiguard"))]


def _listing(ref: str, cwd: str | None) -> dict[str, str]:
    """commit -> note blob for every note under `ref`."""
    listing = subprocess.run([*runner.GIT, "notes", "--ref", ref, "list"], capture_output=True, cwd=cwd,
                             stdin=subprocess.DEVNULL)
    blobs: dict[str, str] = {}
    for line in listing.stdout.decode().splitlines() if listing.returncode == 0 else ():
        parts = line.split()
        if len(parts) == 2:
            blobs[parts[1]] = parts[0]
    return blobs


def listing(ref: str = REF, cwd: str | None = None) -> dict[str, str]:
    """commit -> note blob under `ref` and the remotes' copies of it (ours first)."""
    blobs: dict[str, str] = {}
    for name in note_refs(ref, cwd):
        for commit, blob in _listing(name, cwd).items():
            blobs.setdefault(commit, blob)
    return blobs


def read_all(ref: str = REF, cwd: str | None = None, commits: set[str] | None = None) -> dict[str, bytes]:
    """commit -> note bytes for every note under `ref` (and its fetched copies), read in bulk."""
    pairs = [(blob, commit) for commit, blob in listing(ref, cwd).items() if commits is None or commit in commits]
    blobs = objects.read_blobs((blob for blob, _ in pairs), cwd=cwd)
    return {commit: blobs[blob] for blob, commit in pairs if blob in blobs}


class Notes:
    """The notes under `ref`: the listing (commit -> note blob) once, each note read only when
    asked for, so a walk over a short range reads none of the others (`git notes list`, then one
    long-lived `git cat-file --batch`)."""

    def __init__(self, ref: str = REF, cwd: str | None = None):
        self.blobs: dict[str, str] = listing(ref, cwd)
        self.reader = objects.BlobReader(cwd)
        self.read: list[str] = []  # the commits whose note was read, in order

    def __contains__(self, commit: str) -> bool:
        return commit in self.blobs

    def get(self, commit: str) -> bytes | None:
        blob = self.blobs.get(commit)
        if blob is None:
            return None
        self.read.append(commit)
        return self.reader.read(blob)

    def close(self) -> None:
        self.reader.close()


class ForeignNotes:
    """Other tools' notes (FOREIGN_REFS), each read only when asked for: `get` gives the first
    ref's note for a commit."""

    def __init__(self, cwd: str | None = None):
        self.each = [Notes(ref, cwd) for ref in FOREIGN_REFS]

    def __contains__(self, commit: str) -> bool:
        return any(commit in notes for notes in self.each)

    def get(self, commit: str) -> bytes | None:
        return next((data for notes in self.each if (data := notes.get(commit)) is not None), None)

    def close(self) -> None:
        for notes in self.each:
            notes.close()


def read_foreign(cwd: str | None = None) -> dict[str, bytes]:
    """commit -> other tools' note (FOREIGN_REFS, the first ref's where several have one)."""
    out: dict[str, bytes] = {}
    for ref in FOREIGN_REFS:
        for commit, data in read_all(ref, cwd).items():
            out.setdefault(commit, data)
    return out


def read_one(commit: str, ref: str = REF, cwd: str | None = None) -> bytes | None:
    """One commit's note under `ref`, else (aiguard's own) under the remotes' copies of it."""
    data = _show(commit, ref, cwd)
    for other in note_refs(ref, cwd)[1:] if data is None and ref == REF else ():
        data = _show(commit, other, cwd)
        if data is not None:
            break
    return data


def _show(commit: str, ref: str, cwd: str | None) -> bytes | None:
    done = subprocess.run([*runner.GIT, "notes", "--ref", ref, "show", commit], capture_output=True,
                          cwd=cwd, stdin=subprocess.DEVNULL)
    return done.stdout if done.returncode == 0 else None


def write(commit: str, data: bytes, cwd: str | None = None) -> None:
    runner.git(["notes", "--ref", REF, "add", "-f", "-F", "-", commit], input=data, cwd=cwd)


# The pending note, from the commit hook to post-commit -------------------------------------

def _pending_dir(cwd: str | None = None) -> Path:
    return Path(runner.state_path(PENDING, cwd))


def save_pending(stamp_value: str, data: bytes, cwd: str | None = None) -> None:
    binding = stamp_binding(stamp_value)
    if binding is None:
        return
    directory = _pending_dir(cwd)
    directory.mkdir(mode=0o700, exist_ok=True)
    tmp = directory / f".{binding}.{os.getpid()}"
    tmp.write_bytes(data)
    os.replace(tmp, directory / binding)


def stamp_binding(stamp_value: str | None) -> str | None:
    parts = (stamp_value or "").split()
    return parts[3] if len(parts) == 5 and parts[0] in ("v1", "v2") and re.fullmatch(r"[0-9a-f]{32}", parts[3]) else None


def file_pending(commit: str, message: bytes, cwd: str | None = None) -> bool:
    """File the pending note of a new commit (found by its stamp's binding); True if one was."""
    from aiguard.core import trailers

    group = trailers.read_group(message)
    binding = stamp_binding(group.stamp if group else None)
    directory = _pending_dir(cwd)
    if binding is None or not directory.is_dir():
        return False
    path = directory / binding
    try:
        data = path.read_bytes()
    except OSError:
        return False
    write(commit, data, cwd)
    _sweep(directory, path)
    return True


def _sweep(directory: Path, used: Path) -> None:
    """Drop the filed note and leftovers of commits that never happened; the empty folder
    goes too, so that the post-commit hook of an ordinary commit starts no Python."""
    cutoff = time.time() - PENDING_MAX_AGE
    for entry in directory.iterdir():
        try:
            if entry == used or entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass
    try:
        directory.rmdir()
    except OSError:
        pass


def post_commit(cwd: str | None = None) -> None:
    head = runner.rev_parse("HEAD", cwd)
    if head is None:
        return
    message = runner.git(["cat-file", "commit", head], cwd=cwd).split(b"\n\n", 1)
    file_pending(head, message[1] if len(message) > 1 else b"", cwd)


def post_rewrite(pairs: Iterable[tuple[str, str]], cwd: str | None = None) -> int:
    """After amend/rebase: every new commit gets its note; returns notes written.

    A new commit the commit hook stamped has the note that hook left (its trailers and
    note agree); a commit no hook stamped (`git rebase --apply` keeps the old message,
    stamp and all) gets the lines of every commit folded into it, merged.
    """
    from aiguard.core import trailers

    olds_of: dict[str, list[str]] = {}
    for old, new in pairs:
        olds_of.setdefault(new, []).append(old)
    if not olds_of:
        return 0
    have = read_all(REF, cwd, commits={c for new, olds in olds_of.items() for c in (new, *olds)})
    written = 0
    for new, olds in olds_of.items():
        if new in have:
            continue
        message = _message(new, cwd)
        if file_pending(new, message, cwd):
            written += 1
            continue
        group = trailers.read_group(message)
        if group is not None and group.stamp and all(group.stamp != _stamp_of(old, cwd) for old in olds):
            continue  # stamped afresh: the hook has carried what it could and the trailers say so
        records = [(old, record) for old in olds if (record := decode(have.get(old, b""))) is not None and record.files]
        if not records:
            continue
        files = patches.commit_diff(runner.rev_parse(f"{new}^", cwd), new, cwd)
        carried = carry_into(files, records, cwd, new_rev=new)
        if carried:
            added = sum(len(d.added) for d in files if not d.binary and d.new_oid)
            write(new, encode(added, carried), cwd)
            written += 1
    return written


def _message(commit: str, cwd: str | None) -> bytes:
    parts = runner.git(["cat-file", "commit", commit], cwd=cwd).split(b"\n\n", 1)
    return parts[1] if len(parts) > 1 else b""


def _stamp_of(commit: str, cwd: str | None) -> str | None:
    from aiguard.core import trailers

    group = trailers.read_group(_message(commit, cwd))
    return group.stamp if group is not None else None


# Carrying lines into a new version of a change ---------------------------------------------

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
               weak: Iterable[str] = ()) -> dict[str, list[Span]]:
    """The earlier commits' AI lines that are added lines of this change, as spans by path.

    files: the new change (its added lines, new blob ids); sources: (commit, its record);
    new_rev: the new commit, or None for the index (a commit being made). A file on record
    under a name the change does not have is looked for under the name git's rename
    detection gives it between that commit and the new version. Commits in `weak`
    (left_behind) give only runs of MOVE_MIN unchanged lines.
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
    old_blobs = _blob_ids(((commit, path) for commit, path, _, _ in wanted), cwd)
    blobs = objects.read_blobs([*old_blobs.values(), *(d.new_oid for _, _, d, _ in wanted if d.new_oid)], cwd=cwd)
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
        for old_line, new_line in map_lines(old_text, new_text, lines, min_run).items():
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


def _blob_ids(items: Iterable[tuple[str, str]], cwd: str | None) -> dict[tuple[str, str], str]:
    items = list(dict.fromkeys(items))
    query = "".join(f"{commit}:{path}\n" for commit, path in items).encode("utf-8", "surrogateescape")
    out = runner.git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], input=query, cwd=cwd)
    ids = {}
    for item, line in zip(items, out.decode().splitlines()):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "blob":
            ids[item] = parts[0]
    return ids


# Which commits a commit being made now is made of ------------------------------------------

_SHA = rb"[0-9a-f]{40,64}"
_FOLDING = (b"squash", b"s", b"fixup", b"f")
_PICKING = (b"pick", b"p", b"reword", b"r", b"edit", b"e", *_FOLDING)
REFLOG_WINDOW = 30  # HEAD's last entries looked at for commits undone by reset or checkout


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

    Commits that HEAD's reflog left behind (reset, checkout) are `left_behind`: a weaker
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
    return [m.decode() for m in re.findall(_SHA, _read_state(name, cwd) or b"")[:1]]


def _folded_so_far(cwd: str | None) -> list[str]:
    """The commits of rebase-merge/done's last pick and the squash/fixup steps after it."""
    steps = [line.split() for line in (_read_state("rebase-merge/done", cwd) or b"").splitlines()]
    out: list[str] = []
    for step in reversed([s for s in steps if s and s[0] in _PICKING]):
        args = [a for a in step[1:] if not a.startswith(b"-")]  # fixup -C / -c
        if args and re.fullmatch(_SHA, args[0]):
            out.append(args[0].decode())
        if step[0] not in _FOLDING:
            break
    return out


def _named_in_message(message: bytes, cwd: str | None) -> list[str]:
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


def left_behind(cwd: str | None = None) -> list[str]:
    """Commits that `reset`/`checkout` entries among HEAD's last reflog entries moved away
    from and that HEAD does not contain now: their lines may come back in this commit
    (reset --soft or --mixed then recommit, checkout -m, stash and pop after a reset).
    Nothing in git's state says they do, so carry_into takes from them only runs of
    MOVE_MIN unchanged lines: a lone `return x` or blank line is no evidence."""
    olds = []
    for entry in _reflog_tail(runner.state_path("logs/HEAD", cwd), REFLOG_WINDOW):
        old, new, message = entry
        if message.startswith((b"reset:", b"checkout:")) and old != new and not re.fullmatch(b"0+", old):
            olds.append(old.decode())
    if not olds:
        return []
    out = runner.git(["rev-list", "--max-count=64", *dict.fromkeys(olds), "--not", "HEAD", "--"], cwd=cwd,
                    check=False)
    return out.decode().split()


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
        if len(parts) == 3 and re.fullmatch(_SHA, parts[0]) and re.fullmatch(_SHA, parts[1]):
            entries.append((parts[0], parts[1], message))
    return entries


def records_of(commits: list[str], cwd: str | None = None) -> Iterator[tuple[str, LineRecord]]:
    """(commit, record) for each of these commits (any revision) that has a note, ours or a
    remote's copy: at most three git calls, however many commits."""
    shas = _resolve(commits, cwd)
    if not shas:
        return
    refs = note_refs(REF, cwd)
    # A note's path in the notes tree has 0, 1 or 2 levels of fan-out, as the tree's size made it.
    queries = {sha: [f"{ref}:{path}" for ref in refs
                     for path in (sha, f"{sha[:2]}/{sha[2:]}", f"{sha[:2]}/{sha[2:4]}/{sha[4:]}")] for sha in shas}
    blobs = objects.read_blobs([q for qs in queries.values() for q in qs], cwd=cwd)
    for sha, qs in queries.items():
        data = next((blobs[q] for q in qs if q in blobs), None)
        record = decode(data) if data else None
        if record is not None:
            yield sha, record


def _resolve(revisions: list[str], cwd: str | None) -> list[str]:
    """Commit ids of these revisions, in order, without the ones that name no commit."""
    names = [r for r in dict.fromkeys(revisions) if not re.fullmatch(r"[0-9a-f]{40,64}", r)]
    full: dict[str, str] = {}
    if names:
        out = runner.git(["cat-file", "--batch-check=%(objectname)"],
                         input="".join(f"{name}^{{commit}}\n" for name in names).encode(), cwd=cwd)
        for name, line in zip(names, out.decode().splitlines()):
            if re.fullmatch(r"[0-9a-f]{40,64}", line.strip()):
                full[name] = line.strip()
    return list(dict.fromkeys(full.get(r, r) for r in revisions if r in full or r not in names))


# Sharing notes ------------------------------------------------------------------------------

def fetch(remote: str, cwd: str | None = None) -> str:
    """Fetch the remote's notes beside ours and merge them in (both records of a commit kept)."""
    theirs = f"refs/notes/remotes/{remote}/aiguard"
    done = subprocess.run([*runner.GIT, "fetch", "--quiet", remote, f"+{REF}:{theirs}"], capture_output=True,
                          cwd=cwd, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if reason and "couldn't find remote ref" in reason[-1]:
            return f"{remote} has no aiguard notes yet"
        # git's first complaint names the problem; its last line may be "and the repository exists."
        said = next((line for line in reason if line.startswith(("fatal:", "error:"))), reason[0] if reason else "")
        raise runner.GitError(f"git fetch {remote} failed: {said or 'exit ' + str(done.returncode)}")
    if runner.rev_parse(REF, cwd) is None and not _ref_exists(REF, cwd):
        runner.git(["update-ref", REF, theirs], cwd=cwd)
        return f"fetched {remote}'s aiguard notes into {REF}"
    runner.git(["notes", "--ref", REF, "merge", "--quiet", "-s", MERGE_STRATEGY, theirs], cwd=cwd)
    return f"merged {remote}'s aiguard notes into {REF}"


def push(remote: str, cwd: str | None = None) -> str:
    if not _ref_exists(REF, cwd):
        return "no aiguard notes to push"
    fetch(remote, cwd)
    # --no-verify: aiguard's pre-push hook would push the same ref beside this push, and one loses
    runner.git(["push", "--quiet", "--no-verify", remote, f"{REF}:{REF}"], cwd=cwd)
    return f"pushed {REF} to {remote}"


def _ref_exists(ref: str, cwd: str | None) -> bool:
    return subprocess.run([*runner.GIT, "show-ref", "--verify", "--quiet", ref], cwd=cwd,
                          stdin=subprocess.DEVNULL).returncode == 0
