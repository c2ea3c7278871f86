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
SCHEMA = 1
PENDING = "aiguard-pending"
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
    """A note's record, or None for anything that is not a note aiguard can read."""
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

def read_all(ref: str = REF, cwd: str | None = None, commits: set[str] | None = None) -> dict[str, bytes]:
    """commit -> note bytes for every note under `ref`, read in bulk (two git calls)."""
    listing = subprocess.run([*runner.GIT, "notes", "--ref", ref, "list"], capture_output=True, cwd=cwd,
                             stdin=subprocess.DEVNULL)
    if listing.returncode != 0:
        return {}
    pairs = []
    for line in listing.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and (commits is None or parts[1] in commits):
            pairs.append((parts[0], parts[1]))
    blobs = objects.read_blobs((blob for blob, _ in pairs), cwd=cwd)
    return {commit: blobs[blob] for blob, commit in pairs if blob in blobs}


class Notes:
    """The notes under `ref`: the listing (commit -> note blob) once, each note read only when
    asked for, so a walk over a short range reads none of the others (`git notes list`, then one
    long-lived `git cat-file --batch`)."""

    def __init__(self, ref: str = REF, cwd: str | None = None):
        listing = subprocess.run([*runner.GIT, "notes", "--ref", ref, "list"], capture_output=True, cwd=cwd,
                                 stdin=subprocess.DEVNULL)
        self.blobs: dict[str, str] = {}
        for line in listing.stdout.decode().splitlines() if listing.returncode == 0 else ():
            parts = line.split()
            if len(parts) == 2:
                self.blobs[parts[1]] = parts[0]
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


def read_one(commit: str, ref: str = REF, cwd: str | None = None) -> bytes | None:
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
    return parts[3] if len(parts) == 5 and parts[0] == "v1" and re.fullmatch(r"[0-9a-f]{32}", parts[3]) else None


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
    """After amend/rebase: every new commit gets its note (pending, else carried); returns notes written."""
    pairs = list(pairs)
    if not pairs:
        return 0
    have = read_all(REF, cwd, commits={commit for pair in pairs for commit in pair})  # only these notes
    written = 0
    for old, new in pairs:
        if new in have:
            continue
        message = runner.git(["cat-file", "commit", new], cwd=cwd).split(b"\n\n", 1)
        if file_pending(new, message[1] if len(message) > 1 else b"", cwd):
            written += 1
            continue
        record = decode(have.get(old, b""))
        if record is None or not record.files:
            continue
        files = patches.commit_diff(runner.rev_parse(f"{new}^", cwd), new, cwd)
        carried = carry_into(files, [(old, record)], cwd)
        if carried:
            added = sum(len(d.added) for d in files if not d.binary and d.new_oid)
            write(new, encode(added, carried), cwd)
            written += 1
    return written


# Carrying lines into a new version of a change ---------------------------------------------

def map_lines(old_text: bytes, new_text: bytes, lines: Iterable[int]) -> dict[int, int]:
    """old line number -> new line number, for lines that are unchanged between the versions."""
    import difflib  # only here: the hook imports this module on every commit

    wanted = set(lines)
    if not wanted:
        return {}
    old = old_text.splitlines()
    new = new_text.splitlines()
    mapped = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            if a + k + 1 in wanted:
                mapped[a + k + 1] = b + k + 1
    return mapped


def carry_into(files: list[patches.FileDiff], sources: list[tuple[str, LineRecord]],
               cwd: str | None = None) -> dict[str, list[Span]]:
    """The earlier commits' AI lines that are added lines of this change, as spans by path.

    files: the new change (its added lines, new blob ids); sources: (commit, its record).
    """
    by_path = {d.path.decode("utf-8", "surrogateescape"): d for d in files if not d.binary and d.new_oid}
    wanted: list[tuple[str, str, patches.FileDiff, list[Span]]] = []
    for commit, record in sources:
        for path, spans in record.files.items():
            diff = by_path.get(path)
            if diff is not None and diff.added:
                wanted.append((commit, path, diff, spans))
    if not wanted:
        return {}
    old_blobs = _blob_ids(((commit, path) for commit, path, _, _ in wanted), cwd)
    blobs = objects.read_blobs([*old_blobs.values(), *(d.new_oid for _, _, d, _ in wanted)], cwd=cwd)
    out: dict[str, dict[int, Span]] = {}
    for commit, path, diff, spans in wanted:
        old_text = blobs.get(old_blobs.get((commit, path), ""))
        new_text = blobs.get(diff.new_oid)
        if old_text is None or new_text is None:
            continue
        lines = to_lines(spans)
        added = set(diff.added)
        for old_line, new_line in map_lines(old_text, new_text, lines).items():
            if new_line in added:
                out.setdefault(path, {}).setdefault(new_line, lines[old_line])
    return {path: to_spans(lines) for path, lines in out.items() if lines}


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


def carry_sources(amend: bool, cwd: str | None = None) -> list[str]:
    """Commits whose recorded lines a commit being made now may carry.

    git leaves CHERRY_PICK_HEAD while it runs the hook for a cherry-pick and for
    every rebase pick; SQUASH_MSG lists what `git merge --squash` brought in; an
    amend (also a rebase fixup/squash step) carries HEAD's own lines.
    """
    found: list[str] = []
    if amend:
        found.append("HEAD")
    pick, squash = runner.state_path("CHERRY_PICK_HEAD", cwd), runner.state_path("SQUASH_MSG", cwd)
    try:
        with open(pick, "rb") as fh:
            found.append(fh.read().decode().strip())
    except OSError:
        pass
    try:
        with open(squash, "rb") as fh:
            found += [m.decode() for m in re.findall(rb"^commit ([0-9a-f]{40,64})$", fh.read(), re.M)]
    except OSError:
        pass
    return [c for c in found if c]


def records_of(commits: list[str], cwd: str | None = None) -> Iterator[tuple[str, LineRecord]]:
    for commit in commits:
        data = read_one(commit, REF, cwd)
        record = decode(data) if data else None
        if record is not None:
            yield runner.rev_parse(commit, cwd) or commit, record


# Sharing notes ------------------------------------------------------------------------------

def fetch(remote: str, cwd: str | None = None) -> str:
    """Fetch the remote's notes beside ours and merge them in (ours win where both have one)."""
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
    runner.git(["notes", "--ref", REF, "merge", "--quiet", "-s", "ours", theirs], cwd=cwd)
    return f"merged {remote}'s aiguard notes into {REF}"


def push(remote: str, cwd: str | None = None) -> str:
    if not _ref_exists(REF, cwd):
        return "no aiguard notes to push"
    fetch(remote, cwd)
    runner.git(["push", "--quiet", remote, f"{REF}:{REF}"], cwd=cwd)
    return f"pushed {REF} to {remote}"


def _ref_exists(ref: str, cwd: str | None) -> bool:
    return subprocess.run([*runner.GIT, "show-ref", "--verify", "--quiet", ref], cwd=cwd,
                          stdin=subprocess.DEVNULL).returncode == 0
