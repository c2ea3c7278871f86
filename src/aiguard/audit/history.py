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

from typing import TYPE_CHECKING, Iterator, NamedTuple, Sequence

from aiguard.core.spans import Span
from aiguard.core.errors import AiguardError
from aiguard.audit import foreign
from aiguard.git import notes
from aiguard.core import trailers
from aiguard.git import patches, runner

if TYPE_CHECKING:
    from aiguard.store.session import Session

SCHEMA = "aiguard.commit/1"
_MARK = b"\x00\x00aiguard-log\x00"
_FORMAT = "%x00%x00aiguard-log%x00%H%x00%P%x00%an <%ae>%x00%aI%x00%cn <%ce>%x00%B%x00"


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
    added: int
    evidence: str  # aiguard | foreign | none
    files: dict[str, list[Span]]  # path -> ranges, in the file as of the commit
    added_by_path: dict[str, int]
    unmatched: dict | None = None  # what the stamp's AI-Unmatched says the hook left unmatched
    evidence_level: str | None = None  # with evidence foreign: note | trailer | identity | phrase (strongest)

    @property
    def ai_derived(self) -> bool:
        return bool(self.assisted_by) or self.ai_lines > 0

    def to_json(self) -> dict:
        return {
            "commit": self.commit, "author": self.author, "date": self.date,
            "stamped": self.stamped, "assisted_by": self.assisted_by,
            "ai_lines": self.ai_lines, "added": self.added, "evidence": self.evidence,
            "files": [{**notes.path_json(path),
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
            progress=None, revs: Sequence[str] | None = None) -> Iterator[Entry]:
    """One Entry per commit of `git log ARGS` (revs: more revisions, given on stdin), newest first."""
    if revs is None and list(args) == ["HEAD"] and runner.rev_parse("HEAD", cwd) is None:
        return  # a repository without commits yet: an empty history, not an error
    own_notes = notes.Notes(notes.REF, cwd)
    git_ai = notes.Notes(notes.GIT_AI_REF, cwd)
    fallback = _LedgerFallback(cwd) if ledger_fallback else None
    added_lines = patches.AddedLines(cwd)
    try:
        for raw in _stream(args, cwd, revs):
            entry = _entry(raw, own_notes, git_ai, fallback, added_lines)
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
    numstat: dict[str, int]


def _stream(args: Sequence[str], cwd: str | None, revs: Sequence[str] | None = None) -> Iterator[_Raw]:
    cmd = ["log", "--no-color", f"--format={_FORMAT}", "-z", "--numstat", "-M",
           "--text", "--diff-algorithm=myers", "--ignore-submodules=none", *args]
    cmd += ["--stdin"] if revs is not None else ["--"]
    stdin = "".join(f"{rev}\n" for rev in revs).encode() if revs is not None else None
    try:
        for record in runner.stream_records(cmd, _MARK, cwd, stdin):
            yield _parse(record)
    except runner.GitError as exc:
        raise HistoryError(str(exc)) from None


def _parse(record: bytes) -> _Raw:
    sha, parents, author, date, committer, message, rest = record.split(b"\0", 6)
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
                committer.decode("utf-8", "replace"), message, numstat)


def _entry(raw: _Raw, own_notes: notes.Notes, git_ai: notes.Notes, fallback,
           added_lines: patches.AddedLines | None = None) -> Entry:
    message = raw.message
    subject = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    added = sum(raw.numstat.values())
    group = trailers.read_group(message)
    stamped = bool(group and group.stamp)
    counts = trailers.ai_counts(group.ai_lines) if group else None
    own_note = own_notes.get(raw.sha)
    record = notes.decode(own_note) if own_note is not None else None
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

    if evidence == "none" and not stamped:
        squashed = trailers.squashed_claims(message)  # a hosting service's squash: groups in the body
        if squashed is not None:
            assisted, ai_lines, _total = squashed
            evidence = "aiguard" if (assisted or ai_lines) else "none"
            if ai_lines and fallback is not None:
                files = fallback.ranges(raw.sha, raw.parents)

    found = foreign.evidence(trailers.strip_own(message) if stamped or group else message, raw.author, raw.committer)
    theirs = [m.value for m in found]
    theirs_note = git_ai.get(raw.sha)
    note = foreign.parse_git_ai(theirs_note) if theirs_note is not None else None
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
            diffed = len(raw.parents) <= 1 or bool(raw.numstat)
            if not diffed:
                own = {}
            elif added_lines is not None:
                own = added_lines.of(raw.sha, raw.parents)
            else:
                own = patches.added_ranges(raw.parents[0] if raw.parents else None, raw.sha)
            clipped = foreign.clip(note.files, {p.decode("utf-8", "surrogateescape"): r for p, r in own.items()})
            files = {path: [Span(s, e, t, m, "foreign") for s, e, t, m in spans] for path, spans in clipped.items()}
            ai_lines = sum(r.end - r.start + 1 for spans in files.values() for r in spans)
    for value in theirs:
        if value not in assisted and not any(v.startswith(value.split(":", 1)[0] + ":") and value.endswith(":unknown")
                                             for v in assisted):
            assisted.append(value)
    unmatched = trailers.parse_unmatched(group.unmatched) if stamped and group and group.unmatched else None
    return Entry(raw.sha, raw.parents, raw.author, raw.date, subject, stamped, assisted, ai_lines,
                 added, evidence, files, raw.numstat, unmatched, level if evidence == "foreign" else None)


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
