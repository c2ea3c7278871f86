"""What the history says about AI output: one record per commit, for log, export, blame,
stats, report and the training API, so that they all agree.

One streaming `git log` pass gives each commit's message, author, date and per-file
added-line counts (`--numstat -M`: a moved file's unchanged lines are not added); the
notes (`refs/notes/aiguard`, and git-ai's `refs/notes/ai`) are listed before it and each
commit's note is read as the pass reaches it, so a short range reads only its own notes.
No note raises `added`. Per commit, in order of strength:

1. aiguard's own record: the stamp group in the final trailer block (`Assisted-by`,
   `AI-Lines`) and the line ranges of its note; a note without a stamp (the
   message was rewritten by hand) still counts; when a stamped commit with AI lines
   has no note (a fresh clone without fetched notes) and a ledger is at hand, its
   lines are found again by attributing the commit against the ledger;
2. a squash merge made by a hosting service: the commits' aiguard groups end up in
   the body, and their claims are summed;
3. other tools' marks (`evidence: foreign`): assistants' co-author trailers and
   author names, hand-written Assisted-by/Generated-by, git-ai notes with ranges (clipped
   to the lines the commit itself added).

`evidence` is `aiguard` when aiguard's record names AI output, `foreign` when only
other marks do, `none` otherwise (a stamped `AI-Lines: 0/T` commit is `none`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple, Sequence

from aiguard.core.spans import Span
from aiguard.core.errors import AiguardError
from aiguard.audit import foreign
from aiguard.core import note_format
from aiguard.git import notes
from aiguard.core import trailers
from aiguard.git import patches, runner

if TYPE_CHECKING:
    from aiguard.store.session import Session

SCHEMA = "aiguard.commit/1"
_MARK = b"\x00\x00aiguard-log\x00"
_FORMAT = "%x00%x00aiguard-log%x00%H%x00%P%x00%an <%ae>%x00%aI%x00%cn <%ce>%x00%aN <%aE>%x00%B%x00"


class HistoryError(AiguardError):
    pass


class Entry(NamedTuple):
    commit: str
    parents: list[str]
    author: str
    date: str
    subject: str
    stamped: bool
    assisted_by: list[str]
    ai_lines: int
    added: int | None  # None: not counted (read without a diff, and no stamp or line record counts it)
    evidence: str  # aiguard | foreign | none
    files: dict[str, list[Span]]  # path -> ranges, in the file as of the commit
    added_by_path: dict[str, int]
    unmatched: trailers.Unmatched | None = None  # what the stamp's AI-Unmatched says the hook left unmatched
    evidence_level: str | None = None  # with evidence foreign: note | trailer | identity | phrase (strongest)
    identity: str = ""  # the author as .mailmap maps them (`%aN <%aE>`), for merging authors in stats

    @property
    def ai_derived(self) -> bool:
        return bool(self.assisted_by) or self.ai_lines > 0

    def to_json(self) -> dict:
        return {
            "commit": self.commit, "author": self.author, "date": self.date,
            "stamped": self.stamped, "assisted_by": self.assisted_by,
            "ai_lines": self.ai_lines, "added": self.added, "evidence": self.evidence,
            "files": [{**note_format.path_json(path),
                       "ranges": [{"start": r.start, "end": r.end, "tool": r.tool, "model": r.model} for r in ranges]}
                      for path, ranges in sorted(self.files.items()) if ranges],
            "unmatched": self.unmatched,
            "evidence_level": self.evidence_level,
            "schema": SCHEMA,
        }


def rev_args(spec: Sequence[str] | str | None) -> list[str]:
    """git log arguments for a RANGE as written (default: all of HEAD's history)."""
    args = spec.split() if isinstance(spec, str) else list(spec or ())
    if any(a.startswith("--format") or a.startswith("--pretty") or a in ("-p", "--patch") for a in args):
        raise HistoryError("RANGE may not change git log's output format")
    return args if any(not a.startswith("-") for a in args) else [*args, "HEAD"]


def entries(args: Sequence[str], cwd: str | None = None, ledger_fallback: bool = True,
            progress=None, revs: Sequence[str] | None = None, diff: bool = True) -> Iterator[Entry]:
    """One Entry per commit of `git log ARGS` (revs: more revisions, given on stdin), newest first.

    diff=False is the fast path for training-data filters: `git log` without --numstat, so
    only trailers and notes are read. A commit's record is then the same as with the diff,
    except that `added` is None where nothing but the diff counts it (no AI-Lines trailer
    and no git-ai note to clip, which diffs that one commit); `added_by_path` is empty."""
    if revs is None and list(args) == ["HEAD"] and runner.rev_parse("HEAD", cwd) is None:
        return  # a repository without commits yet: an empty history, not an error
    own_notes = notes.Notes(notes.REF, cwd)
    git_ai = notes.ForeignNotes(cwd)  # git-ai's and agent-trace's line records
    fallback = _LedgerFallback(cwd) if ledger_fallback else None
    added_lines = patches.AddedLines(cwd)
    merges_diffed = diff or any(a in ("--first-parent", "-m", "-c", "--cc") or a.startswith("--diff-merges")
                                for a in args)
    try:
        if diff:
            for raw in _stream(args, cwd, revs, diff):
                entry = _entry(raw, own_notes, git_ai, fallback, added_lines, merges_diffed)
                if progress is not None:
                    progress()
                yield entry
        else:
            for entry in _plain_entries(args, cwd, revs, own_notes, git_ai, fallback, added_lines, merges_diffed):
                if progress is not None:
                    progress()
                yield entry
    finally:
        own_notes.close()
        git_ai.close()
        added_lines.close()
        if fallback is not None:
            fallback.close()


class _Raw(NamedTuple):
    sha: str
    parents: list[str]
    author: str
    date: str
    committer: str
    message: bytes
    numstat: dict[str, int] | None  # None: read without a diff
    identity: str = ""  # %aN <%aE>


def _stream(args: Sequence[str], cwd: str | None, revs: Sequence[str] | None = None,
            diff: bool = True) -> Iterator[_Raw]:
    diff_args = ["--numstat", "-M", "--text", "--diff-algorithm=myers", "--ignore-submodules=none"] if diff else []
    cmd = ["log", "--no-color", f"--format={_FORMAT}", "-z", *diff_args, *args]
    cmd += ["--stdin"] if revs is not None else ["--"]
    stdin = "".join(f"{rev}\n" for rev in revs).encode() if revs is not None else None
    parse = _parse if diff else _parse_plain
    try:
        for record in runner.stream_records(cmd, _MARK, cwd, stdin):
            yield parse(record)
    except runner.GitError as exc:
        raise HistoryError(str(exc)) from None


def _parse(record: bytes) -> _Raw:
    sha, parents, author, date, committer, identity, message, rest = record.split(b"\0", 7)
    numstat: dict[str, int] = {}
    items = rest.split(b"\0")
    i = 0
    while i < len(items):
        fields = items[i].lstrip(b"\n").split(b"\t", 2)
        i += 1
        if len(fields) != 3:
            continue
        name = fields[2]
        if not name and i + 1 < len(items):  # a rename: `A\tD\t`, then the old and the new path
            name = items[i + 1]
            i += 2
        if fields[0].isdigit():
            path = name.decode("utf-8", "surrogateescape")
            numstat[path] = numstat.get(path, 0) + int(fields[0])
    return _Raw(sha.decode(), parents.decode().split(), author.decode("utf-8", "replace"), date.decode(),
                committer.decode("utf-8", "replace"), message, numstat, _identity(author, identity))


def _parse_plain(record: bytes) -> _Raw:
    sha, parents, author, date, committer, identity, message, _rest = record.split(b"\0", 7)
    return _Raw(sha.decode(), parents.decode().split(), author.decode("utf-8", "replace"), date.decode(),
                committer.decode("utf-8", "replace"), message, None, _identity(author, identity))


def _plain_entries(args: Sequence[str], cwd: str | None, revs: Sequence[str] | None, own_notes: notes.Notes,
                   git_ai: notes.ForeignNotes, fallback, added_lines: patches.AddedLines,
                   merges_diffed: bool) -> Iterator[Entry]:
    """The fast path's loop (no diff): most commits of a long history carry no mark, no note and
    no agent's identity, and their Entry is made here straight from git's bytes; the others go
    through `_entry`, as with the diff. The gate is the same as `_entry`'s own early return,
    read with fewer Python steps per commit (one look-up for both notes refs, the author and
    committer looked up as bytes)."""
    cmd = ["log", "--no-color", f"--format={_FORMAT}", "-z", *args]
    cmd += ["--stdin"] if revs is not None else ["--"]
    stdin = "".join(f"{rev}\n" for rev in revs).encode() if revs is not None else None
    noted = set(own_notes.blobs)
    for theirs in git_ai.each:
        noted.update(theirs.blobs)
    agents: dict[bytes, bool] = {}  # author or committer -> whether it is a coding agent
    hyphenated, plain = _GATE
    new_entry = tuple.__new__
    try:
        for record in runner.stream_records(cmd, _MARK, cwd, stdin):
            sha, parents, author, date, committer, mapped, message, _rest = record.split(b"\0", 7)
            commit = sha.decode()
            low = message.lower()
            marked = commit in noted or hyphenated(low) is not None
            if not marked:
                for word in plain:
                    if word in low:
                        marked = True
                        break
            if not marked:
                for who in (author, committer):
                    agent = agents.get(who)
                    if agent is None:
                        agent = agents[who] = foreign.identity(who.decode("utf-8", "replace")) is not None
                    if agent:
                        marked = True
                        break
            if marked:
                yield _entry(_Raw(commit, parents.decode().split(), author.decode("utf-8", "replace"), date.decode(),
                                  committer.decode("utf-8", "replace"), message, None, _identity(author, mapped)),
                             own_notes, git_ai, fallback, added_lines, merges_diffed)
                continue
            cut = message.find(b"\n")
            name = author.decode("utf-8", "replace")
            shas = parents.decode().split()
            yield new_entry(Entry, (  # Entry(...) without its keyword-argument handling: half the cost
                commit, shas, name, date.decode(), (message if cut < 0 else message[:cut]).decode("utf-8", "replace"),
                False, [], 0, 0 if len(shas) > 1 and not merges_diffed else None, "none", {}, {}, None, None,
                (mapped.decode("utf-8", "replace") if mapped != author else "") or name))
    except runner.GitError as exc:
        raise HistoryError(str(exc)) from None


def _identity(author: bytes, mapped: bytes) -> str:
    return "" if mapped == author else mapped.decode("utf-8", "replace")  # "": as the author


def _has_own_keys(low: bytes) -> bool:
    """Whether a lower-cased message holds a key of aiguard's groups (read_group, squashed_claims):
    most messages hold none, and a substring test is far cheaper than reading the trailers."""
    return b"assisted-by" in low or b"ai-lines" in low or b"aiguard-stamp" in low


# every word `_has_own_keys` and `foreign.may_have_marks` look for: a message holding none of them
# has no mark `_entry` would read
_GATE_WORDS = (b"assisted-by", b"ai-lines", b"aiguard-stamp", *foreign.MARK_WORDS)


def _gate(words: Sequence[bytes]) -> tuple[Callable[[bytes], re.Match[bytes] | None], tuple[bytes, ...]]:
    """The fast path's test for `any(word in low for word in words)`, in fewer passes over a
    lower-cased message: the words with a hyphen in one regex search that stops only at a
    hyphen (`-`, then each word's tail after its first hyphen, then a look-behind for the
    whole word: `by(?<=assisted-by)`), the others ("generated") as substrings. Nine substring
    scans of every message cost ~0.3 s of CPU on git/git's 82k commits; this ~0.1 s."""
    hyphenated = [w for w in words if b"-" in w]
    tails = b"|".join(re.escape(w.split(b"-", 1)[1]) + b"(?<=" + re.escape(w) + b")" for w in hyphenated)
    return re.compile(b"-(?:" + tails + b")").search, tuple(w for w in words if b"-" not in w)


_GATE = _gate(_GATE_WORDS)


def _entry(raw: _Raw, own_notes: notes.Notes, git_ai: notes.ForeignNotes, fallback,
           added_lines: patches.AddedLines | None = None, merges_diffed: bool = True) -> Entry:
    message = raw.message
    subject = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    numstat = raw.numstat if raw.numstat is not None else {}
    added: int | None = sum(numstat.values()) if raw.numstat is not None else None
    low = message.lower()
    own_keys = _has_own_keys(low)
    if not (own_keys or raw.sha in own_notes or raw.sha in git_ai or foreign.may_have_marks(low)
            or foreign.identity(raw.author) or foreign.identity(raw.committer)):
        # no mark of any kind (most commits of a long history): what the steps below would find
        if added is None and len(raw.parents) > 1 and not merges_diffed:
            added = 0
        return Entry(raw.sha, raw.parents, raw.author, raw.date, subject, False, [], 0, added, "none", {},
                     numstat, None, None, raw.identity or raw.author)
    group = trailers.read_group(message) if own_keys else None
    stamped = bool(group and group.stamp)
    counts = trailers.ai_counts(group.ai_lines) if group else None
    own_note = own_notes.get(raw.sha)
    record = note_format.decode(own_note) if own_note is not None else None
    assisted: list[str] = list(group.assisted_by) if stamped and group else []
    files: dict[str, list[Span]] = {}
    ai_lines = 0
    if counts is not None:
        ai_lines, added = counts  # the hook's own count (a merge's own lines, with --text)
    if record is not None:
        files = {path: [Span(*s) for s in spans] for path, spans in record.files.items()}
        if not stamped:
            assisted = record.assisted_by
            ai_lines = record.ai
        for value in record.assisted_by:
            if value not in assisted:
                assisted.append(value)
        ai_lines = max(ai_lines, record.ai)
    elif stamped and ai_lines and fallback is not None:
        files = fallback.ranges(raw.sha, raw.parents)
    evidence = "aiguard" if (assisted or ai_lines) else "none"

    if evidence == "none" and not stamped and own_keys:
        squashed = trailers.squashed_claims(message)  # a hosting service's squash: groups in the body
        if squashed is not None:
            assisted, ai_lines, _total = squashed
            evidence = "aiguard" if (assisted or ai_lines) else "none"
            if ai_lines and fallback is not None:
                files = fallback.ranges(raw.sha, raw.parents)

    found = foreign.evidence(trailers.strip_own(message) if stamped or group else message, raw.author, raw.committer)
    theirs = [m.value for m in found]
    theirs_note = git_ai.get(raw.sha)
    note = foreign.parse_note(theirs_note) if theirs_note is not None else None
    if note is not None:
        theirs = [*theirs, *(v for v in note.assisted_by if v not in theirs)]
    level = None
    if evidence == "none" and (theirs or note):
        evidence = "foreign" if theirs else "none"
        level = "note" if note is not None and note.assisted_by else min((m.level for m in found), key=_LEVELS.index,
                                                                         default=None)
        if note is not None and note.files:
            # a merge adds what git log shows for it: nothing (its lines came with the commits it
            # merges, and their notes), or its change to the first parent with --first-parent
            diffed = len(raw.parents) <= 1 or (bool(raw.numstat) if raw.numstat is not None else merges_diffed)
            if not diffed:
                own = {}
            elif added_lines is not None:
                own = added_lines.of(raw.sha, raw.parents)
            else:
                own = patches.added_ranges(raw.parents[0] if raw.parents else None, raw.sha)
            if added is None:  # read without a diff: this commit's diff counts its lines, as numstat would
                added = sum(end - start + 1 for spans in own.values() for start, end in spans)
            clipped = foreign.clip(note.files, {p.decode("utf-8", "surrogateescape"): r for p, r in own.items()})
            files = {path: [Span(s, e, t, m, "foreign") for s, e, t, m in spans] for path, spans in clipped.items()}
            ai_lines = sum(r.end - r.start + 1 for spans in files.values() for r in spans)
    for value in theirs:
        if value not in assisted and not any(v.startswith(value.split(":", 1)[0] + ":") and value.endswith(":unknown")
                                             for v in assisted):
            assisted.append(value)
    if added is None and len(raw.parents) > 1 and not merges_diffed:
        added = 0  # git log shows no diff for a merge: with --numstat it adds nothing either
    unmatched = trailers.parse_unmatched(group.unmatched) if stamped and group and group.unmatched else None
    return Entry(raw.sha, raw.parents, raw.author, raw.date, subject, stamped, assisted, ai_lines,
                 added, evidence, files, numstat, unmatched, level if evidence == "foreign" else None,
                 raw.identity or raw.author)


_LEVELS = ["note", "trailer", "identity", "phrase"]  # foreign evidence, strongest first


class _LedgerFallback:
    """Line ranges of a stamped commit without a note, found again against this user's ledger."""

    def __init__(self, cwd: str | None):
        self.cwd = cwd
        self.session: Session | None = None
        self.tried = False

    def _open(self) -> Session | None:
        if not self.tried:
            self.tried = True
            from aiguard.store.session import Session

            session = None
            try:
                session = Session()
                if session.ledger is not None:
                    session.keyset()
                    self.session, session = session, None
            except Exception:  # no ledger or no key here: the history says what the notes say
                pass
            finally:
                if session is not None:
                    session.close()
        return self.session

    def ranges(self, sha: str, parents: list[str]) -> dict[str, list[Span]]:
        session = self._open()
        if session is None:
            return {}
        try:
            files = patches.commit_diff(parents[0] if parents else None, sha, self.cwd)
            result = session.attribute(files, cwd=self.cwd)
        except Exception:
            return {}
        return {f.path: list(f.ranges) for f in result.files if f.ranges}

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None
