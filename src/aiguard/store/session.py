"""One attribution session: the ledger opened read-only once, and this user's ledger key
loaded when a change first needs it. The commit hook, `aiguard attribute` and the history's
fallback for stamped commits without a note all attribute through it, the same way.
Imports stay on the commit hook's lean path (no keyring until a key is needed).
"""

from __future__ import annotations

from aiguard.core.fingerprint import Hasher
from aiguard.git import patches, runner
from aiguard.git.changes import ChangeResult, attribute_files, merge_own_lines
from aiguard.git.objects import BlobReader
from aiguard.store import keys
from aiguard.store.ledger import Ledger


class Session:
    """Attributes changes against the ledger; a context manager that closes it."""

    def __init__(self, keyset: keys.Keyset | None = None):
        """keyset: the keys, when the caller has them already (the hook loads them to sign).
        LedgerError when the ledger cannot be opened; no ledger yet is not an error."""
        self.ledger = Ledger.open_readonly()
        self._keyset = keyset

    def keyset(self) -> keys.Keyset:
        """This user's keys (KeyUnavailable when they cannot be read)."""
        if self._keyset is None:
            self._keyset = keys.load(create=False)
        return self._keyset

    def attribute(self, files: list[patches.FileDiff], restrict: dict[bytes, set[int]] | None = None,
                  cwd: str | None = None, reader: BlobReader | None = None) -> ChangeResult:
        """Which added lines of these file diffs derive from ledger records (see attribute_files;
        reader: a blob reader started earlier, closed by the caller)."""
        return attribute_files(files, self.ledger, lambda: Hasher(self.keyset().ledger_key), restrict, cwd=cwd,
                               reader=reader)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attribute_change(rev: str | None, cwd: str | None = None) -> ChangeResult:
    """`aiguard attribute`: the staged change (rev None) or a commit's change against its first
    parent, attributed; a merge's lines that came from its other parents are left out."""
    restrict = None
    if rev is None:
        head = runner.rev_parse("HEAD", cwd=cwd)
        files = patches.staged_diff(head or runner.empty_tree(cwd), cwd=cwd)
        heads = runner.merge_heads(cwd)
        if heads:
            restrict = merge_own_lines(files, (patches.staged_diff(h, cwd=cwd) for h in heads))
    else:
        commit = runner.rev_parse(rev, cwd=cwd)
        if commit is None:
            raise runner.GitError(f"{rev!r} is not a commit")
        parents = runner.parents(commit, cwd=cwd)
        files = patches.commit_diff(parents[0] if parents else None, commit, cwd=cwd)
        if len(parents) > 1:
            restrict = merge_own_lines(files, (patches.commit_diff(p, commit, cwd=cwd) for p in parents[1:]))
    with Session() as session:
        return session.attribute(files, restrict, cwd=cwd)
