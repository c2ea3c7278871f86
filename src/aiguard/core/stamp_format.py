"""The `AIGuard-Stamp` trailer: proof that the hook ran on exactly this change. Pure.

Format (one line, space separated)::

    AIGuard-Stamp: v1 <key-id> <n> <binding> <mac>

* ``v1``: the format version.
* ``key-id``: 8 hex digits naming the stamp key that signed (see keys.key_id).
* ``n``: how many ``Assisted-by`` lines directly above ``AI-Lines`` aiguard wrote
  (its group is those lines, ``AI-Lines``, ``AI-Unmatched`` when present, and the
  stamp, in that order); an ``Assisted-by`` the author wrote is not part of the claims.
* ``binding``: 32 hex digits, the first 16 bytes of
  SHA-256("aiguard-stamp-v1\\0" || change-digest || claims), where
  - change-digest = SHA-256 over the commit's change against its first parent,
    file by file in path order: ``file\\0<path>\\0``, then for binary files (a NUL
    byte in an added line) and submodules ``binary\\0<new object id or "deleted">\\0``,
    then every ``-``/``+`` line (and ``\\ No newline`` mark) of ``git diff -U0 --text``
    with aiguard's pinned flags (git.patches.DIFF_FLAGS), each
    followed by ``\\n``. Hunk positions and context are left out, so the stamp
    survives a rebase that does not touch the change itself.
  - claims = ``Assisted-by=<value>\\n`` for each of the group's n Assisted-by
    lines, in order, then ``AI-Lines=<value>\\n``, then ``AI-Unmatched=<value>\\n``
    when the group has one (added text the hook did not match: too large, over the
    per-commit budget, binary or unreadable; see changes.unmatched_value). A stamp
    without it is byte for byte what it was before the line existed.
  Anyone can recompute it: copying a stamp to another change, amending the change,
  or editing a claim breaks it, key or no key.
* ``mac``: 32 hex digits, the first 16 bytes of
  HMAC-SHA256(stamp key, "aiguard-stamp-v1\\0" || binding). Only holders of the
  team's stamp key can make one, so a hand-written stamp fails verification.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple, Sequence

if TYPE_CHECKING:  # a type only: the digest reads a parsed patch, it does not run git
    from aiguard.git.patches import FileDiff

VERSION = "v1"
_DOMAIN = b"aiguard-stamp-v1\0"


def change_digest(files: Iterable[FileDiff]) -> bytes:
    digest = hashlib.sha256()
    for diff in sorted(files, key=lambda f: f.path):
        digest.update(b"file\0" + diff.path + b"\0")
        if diff.binary:
            digest.update(b"binary\0" + (diff.new_oid or "deleted").encode() + b"\0")
        for line in diff.changes:
            digest.update(line + b"\n")
    return digest.digest()


def claims(assisted_by: Sequence[str], ai_lines: str, unmatched: str | None = None) -> bytes:
    text = "".join(f"Assisted-by={value}\n" for value in assisted_by) + f"AI-Lines={ai_lines}\n"
    if unmatched is not None:
        text += f"AI-Unmatched={unmatched}\n"
    return text.encode("utf-8")


def binding(change: bytes, assisted_by: Sequence[str], ai_lines: str, unmatched: str | None = None) -> str:
    return hashlib.sha256(_DOMAIN + change + claims(assisted_by, ai_lines, unmatched)).hexdigest()[:32]


def mac(key: bytes, bound: str) -> str:
    return hmac.new(key, _DOMAIN + bound.encode(), hashlib.sha256).hexdigest()[:32]


def make(change: bytes, assisted_by: Sequence[str], ai_lines: str, key_id: str, key: bytes,
         unmatched: str | None = None) -> str:
    bound = binding(change, assisted_by, ai_lines, unmatched)
    return f"{VERSION} {key_id} {len(assisted_by)} {bound} {mac(key, bound)}"


class Check(NamedTuple):
    bound: bool  # the stamp matches this change and these claims
    signature: str  # "valid", "invalid", "unchecked" (no keys given) or "unknown-key"
    reason: str  # empty when all is well


def check(value: str, change: bytes, assisted_by: Sequence[str], ai_lines: str,
          keys: Mapping[str, bytes] | None = None, unmatched: str | None = None) -> Check:
    parts = value.split()
    if len(parts) != 5 or parts[0] != VERSION or parts[2] != str(len(assisted_by)):
        return Check(False, "invalid", f"not an aiguard {VERSION} stamp for these claims")
    _, kid, _count, bound, signature = parts
    expected = binding(change, assisted_by, ai_lines, unmatched)
    is_bound = hmac.compare_digest(bound, expected)
    if keys is None:
        status = "unchecked"
    elif kid not in keys:
        status = "unknown-key"
    else:
        status = "valid" if hmac.compare_digest(signature, mac(keys[kid], bound)) else "invalid"
    reason = "" if is_bound else "the stamp does not match this commit's change and claims"
    if status == "invalid":
        reason = reason or "the stamp's signature is not valid for its key"
    return Check(is_bound, status, reason)
