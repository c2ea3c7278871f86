"""How a commit gets its line record. The commit hook (prepare-commit-msg) cannot know the
commit's name yet, so it leaves the note under `<git-dir>/aiguard-pending/`, named by the
stamp's binding; the post-commit hook (which git also runs for every cherry-pick and rebase
pick) finds the new commit's stamp and files the note. post-rewrite carries notes for
rewrites that ran no commit hook (`git rebase --apply`).

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
    write(commit, data, cwd)
    _sweep(directory, path)
    return True


def _sweep(directory: str, used: str) -> None:
    """Drop the filed note and leftovers of commits that never happened; the empty folder
    goes too, so that the post-commit hook of an ordinary commit starts no Python."""
    cutoff = time.time() - PENDING_MAX_AGE
    for name in os.listdir(directory):
        entry = os.path.join(directory, name)
        try:
            if entry == used or os.stat(entry).st_mtime < cutoff:
                os.unlink(entry)
        except OSError:
            pass
    try:
        os.rmdir(directory)
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
