"""How a commit gets its line record. The commit hook (prepare-commit-msg) cannot know the
commit's name yet, so it leaves the note under `<git-dir>/aiguard-pending/`, named by the
stamp's binding; the post-commit hook (which git also runs for every cherry-pick and rebase
pick) finds the new commit's stamp and files the note, then empties the record with a
shell builtin (no rm process): an empty record is a consumed one, for the shell and for
file_pending alike. The stamp sweeps consumed records, and leftovers of commits that never
happened once they are a week old, and the folder when that empties it. post-rewrite
carries notes for rewrites that ran no commit hook (`git rebase --apply`).

Stdlib only: the hook imports this.
"""

from __future__ import annotations

import os
import time

from aiguard.core.note_format import decode, encode
from aiguard.git import patches, runner
from aiguard.git.carry import carry_into, is_lower_hex
from aiguard.git.notes import REF, read_all, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

PENDING = "aiguard-pending"
PENDING_MAX_AGE = 7 * 86400


def _pending_dir(cwd: str | None = None) -> str:
    return runner.state_path(PENDING, cwd)


def save_pending(stamp_value: str, data: bytes, cwd: str | None = None) -> None:
    binding = stamp_binding(stamp_value)
    if binding is None:
        return
    directory = _pending_dir(cwd)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise
    tmp = os.path.join(directory, f".{binding}.{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, os.path.join(directory, binding))
    _sweep(directory, keep=binding)


def sweep(cwd: str | None = None) -> None:
    """What a stamp without a line record does: drop consumed records and old leftovers.
    With no folder (every commit until one has AI lines) that is one failed listdir."""
    try:
        directory = _pending_dir(cwd)
    except (OSError, runner.GitError):
        return
    _sweep(directory)


def stamp_binding(stamp_value: str | None) -> str | None:
    parts = (stamp_value or "").split()
    ok = len(parts) == 5 and parts[0] in ("v1", "v2") and is_lower_hex(parts[3], 32, 32)
    return parts[3] if ok else None


def file_pending(commit: str, message: bytes, cwd: str | None = None) -> bool:
    """File the pending note of a new commit (found by its stamp's binding); True if one was."""
    from aiguard.core import trailers

    group = trailers.read_group(message)
    binding = stamp_binding(group.stamp if group else None)
    directory = _pending_dir(cwd)
    if binding is None or not os.path.isdir(directory):
        return False
    path = os.path.join(directory, binding)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    if not data:
        return False  # consumed: the post-commit hook filed it and emptied it
    write(commit, data, cwd)
    _sweep(directory, used=binding)
    return True


def _sweep(directory: str, used: str | None = None, keep: str | None = None) -> None:
    """Drop the filed record (used), consumed (empty) records and leftovers of commits that
    never happened once a week old; the empty folder goes too, so that the post-commit hook
    of an ordinary commit stops at its first test. A record being written (.<binding>.<pid>)
    is left alone until it is a week old: it may be empty only for a moment."""
    cutoff = time.time() - PENDING_MAX_AGE
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name == keep:
            continue
        entry = os.path.join(directory, name)
        try:
            if name == used:
                os.unlink(entry)
                continue
            st = os.stat(entry)
            if st.st_mtime < cutoff or (st.st_size == 0 and not name.startswith(".")):
                os.unlink(entry)
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


def remove_all(cwd: str | None = None) -> int:
    """`aiguard uninstall`: every worktree's records go (no hook is left to file them),
    and their folders; returns how many records there were that had not been filed."""
    common = runner.git(["rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=cwd).decode().strip()
    git_dirs = [common]
    try:
        git_dirs += [os.path.join(common, "worktrees", name) for name in os.listdir(os.path.join(common, "worktrees"))]
    except OSError:
        pass
    unfiled = 0
    for git_dir in git_dirs:
        directory = os.path.join(git_dir, PENDING)
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            entry = os.path.join(directory, name)
            try:
                unfiled += os.stat(entry).st_size > 0 and not name.startswith(".")
                os.unlink(entry)
            except OSError:
                pass
        try:
            os.rmdir(directory)
        except OSError:
            pass
    return unfiled


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
