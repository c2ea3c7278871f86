"""The line records' git notes: reading and writing `refs/notes/aiguard` (and the remotes'
copies fetched beside it), other tools' notes (git-ai's, agent-trace's), and sharing ours with
a remote. A note's bytes are aiguard.core.note_format's; how a commit gets its note is
aiguard.git.pending, how lines follow a history edit aiguard.git.carry.

Stdlib only: the hook imports this.
"""

from __future__ import annotations

from aiguard.git import objects, runner

REF = "refs/notes/aiguard"
GIT_AI_REF = "refs/notes/ai"  # git-ai's authorship notes (foreign evidence)
AGENT_TRACE_REF = "refs/notes/agent-trace"  # agent-trace-cli's notes (foreign evidence)
FOREIGN_REFS = (GIT_AI_REF, AGENT_TRACE_REF)  # read in this order: a commit with both gets git-ai's
MERGE_STRATEGY = "cat_sort_uniq"  # concurrent records of one commit: both kept, read as their union


REMOTE_COPIES = ("for-each-ref", "--format=%(refname)", "refs/notes/remotes/")


def note_refs(ref: str = REF, cwd: str | None = None, listed: bytes | None = None) -> list[str]:
    """`ref`, and for aiguard's own notes the remotes' copies fetched beside it
    (refs/notes/remotes/<remote>/aiguard, as `aiguard install` sets fetching up).
    listed: the output of `git REMOTE_COPIES`, when the caller ran it already."""
    if ref != REF:
        return [ref]
    if listed is None:
        listed = runner.run(REMOTE_COPIES, cwd=cwd)[1]
    return [REF, *sorted(name for name in listed.decode("utf-8", "replace").split() if name.endswith("/aiguard"))]


def _listing(ref: str, cwd: str | None) -> dict[str, str]:
    """commit -> note blob for every note under `ref`."""
    code, out, _err = runner.run(["notes", "--ref", ref, "list"], cwd=cwd)
    blobs: dict[str, str] = {}
    for line in out.decode().splitlines() if code == 0 else ():
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
    code, out, _err = runner.run(["notes", "--ref", ref, "show", commit], cwd=cwd)
    return out if code == 0 else None


def write(commit: str, data: bytes, cwd: str | None = None) -> None:
    runner.git(["notes", "--ref", REF, "add", "-f", "-F", "-", commit], input=data, cwd=cwd)


# Sharing notes ------------------------------------------------------------------------------

def fetch(remote: str, cwd: str | None = None) -> str:
    """Fetch the remote's notes beside ours and merge them in (both records of a commit kept)."""
    theirs = f"refs/notes/remotes/{remote}/aiguard"
    code, _out, err = runner.run(["fetch", "--quiet", remote, f"+{REF}:{theirs}"], cwd=cwd)
    if code != 0:
        reason = err.decode("utf-8", "replace").strip().splitlines()
        if reason and "couldn't find remote ref" in reason[-1]:
            return f"{remote} has no aiguard notes yet"
        # git's first complaint names the problem; its last line may be "and the repository exists."
        said = next((line for line in reason if line.startswith(("fatal:", "error:"))), reason[0] if reason else "")
        raise runner.GitError(f"git fetch {remote} failed: {said or 'exit ' + str(code)}")
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
    return runner.run(["show-ref", "--verify", "--quiet", ref], cwd=cwd)[0] == 0
