"""One attribution session: the ledger opened read-only once, and this user's ledger key
loaded when a change first needs it. The commit hook, `aiguard attribute` and the history's
fallback for stamped commits without a note all attribute through it, the same way.
Imports stay on the commit hook's lean path (no keyring until a key is needed).
"""

from __future__ import annotations

from aiguard.core.fingerprint import Hasher
from aiguard.git import patches
from aiguard.git.changes import ChangeResult, attribute_files
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
                  cwd: str | None = None) -> ChangeResult:
        """Which added lines of these file diffs derive from ledger records (see attribute_files)."""
        return attribute_files(files, self.ledger, lambda: Hasher(self.keyset().ledger_key), restrict, cwd=cwd)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
