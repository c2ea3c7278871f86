"""The `AIGuard-Stamp` trailer: proof that the hook ran on exactly this change. Pure.

Format (one line, space separated)::

    AIGuard-Stamp: v2 <key-id> <n> <binding> <mac>
    AIGuard-Stamp: v2 ssh <n> <binding> <ssh-signature>

* ``v2`` (new stamps) or ``v1`` (older ones, still verified as they were made):
  the format version. v2 differs from v1 in two places only: the domain string is
  ``aiguard-stamp-v2\\0``, and the change digest binds each file's modes (below).
* ``key-id``: 8 hex digits naming the team stamp key that signed (see keys.key_id),
  or ``ssh`` for a personal stamp (see below).
* ``n``: how many ``Assisted-by`` lines directly above ``AI-Lines`` aiguard wrote
  (its group is those lines, ``AI-Lines``, ``AI-Unmatched`` when present, and the
  stamp, in that order); an ``Assisted-by`` the author wrote is not part of the claims.
* ``binding``: 32 hex digits, the first 16 bytes of
  SHA-256(domain || change-digest || claims), where (domain: "aiguard-stamp-v1\\0" or "-v2\\0")
  - change-digest = SHA-256 over the commit's change against its first parent,
    file by file in path order: ``file\\0<path>\\0``, then for binary files (a NUL
    byte in an added line) and submodules ``binary\\0<new object id or "deleted">\\0``,
    then every ``-``/``+`` line (and ``\\ No newline`` mark) of ``git diff -U0 --text``
    with aiguard's pinned flags (git.patches.DIFF_FLAGS), each
    followed by ``\\n``. In v2 each file's entry also has
    ``mode\\0<old mode>\\0<new mode>\\0`` right after its path (``-`` for a file
    that is new or deleted), so a ``chmod +x`` after stamping breaks the stamp. Renames
    are bound in both versions: with --no-renames a rename is the old path's lines
    removed and the new path's lines added. Hunk positions and context are left out, so the stamp
    survives a rebase that does not touch the change itself.
  - claims = ``Assisted-by=<value>\\n`` for each of the group's n Assisted-by
    lines, in order, then ``AI-Lines=<value>\\n``, then ``AI-Unmatched=<value>\\n``
    when the group has one (added text the hook did not match: too large, over the
    per-commit budget, binary or unreadable; see changes.unmatched_value). A stamp
    without it is byte for byte what it was before the line existed.
  Anyone can recompute it: copying a stamp to another change, amending the change,
  or editing a claim breaks it, key or no key.
* ``mac``: 32 hex digits, the first 16 bytes of
  HMAC-SHA256(stamp key, "<domain>" || binding). Only holders of the
  team's stamp key can make one, so a hand-written stamp fails verification.
* ``ssh-signature`` (v2 personal stamps): the developer's own SSH signature
  (``ssh-keygen -Y sign -n aiguard-stamp``, the key git signs with) over
  "aiguard-stamp-v2\\0" || binding, the armour taken off (one base64 line). It is
  checked against the allowed-signers file committed in the repository, and names
  the person who made the claims (see git.signing).
"""

from __future__ import annotations

from aiguard.core.digests import hmac_sha256, sha256
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:  # a type only: the digest reads a parsed patch, it does not run git
    from typing import Iterable, Mapping, Sequence
    from aiguard.git.patches import FileDiff

VERSION = "v2"  # what new stamps are
VERSIONS = ("v1", "v2")  # what verification reads
PERSONAL = "ssh"  # the key-id field of a stamp signed with the developer's own SSH key
SSH_NAMESPACE = "aiguard-stamp"


def _domain(version: str) -> bytes:
    return f"aiguard-stamp-{version}\0".encode()


def version_of(value: str) -> str:
    """The format version a stamp value says it is ("v1", "v2"; anything else as written)."""
    return value.split(" ", 1)[0]


# Changed lines from which the digest is worth OpenSSL's SHA-256 (twice the built-in one's
# speed; loading it costs ~2.5 ms, a 1.7-million-line change's digest 0.18 s less).
_LARGE_CHANGE = 200_000


def change_digest(files: Iterable[FileDiff], version: str = VERSION) -> bytes:
    ordered = sorted(files, key=lambda f: f.path)
    if sum(len(diff.changes) for diff in ordered) < _LARGE_CHANGE:
        digest = sha256()
    else:
        import hashlib

        digest = hashlib.sha256()
    for diff in ordered:
        digest.update(b"file\0" + diff.path + b"\0")
        if version != "v1":
            digest.update(b"mode\0" + (diff.old_mode or "-").encode() + b"\0"
                          + (diff.new_mode or "-").encode() + b"\0")
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


def binding(change: bytes, assisted_by: Sequence[str], ai_lines: str, unmatched: str | None = None,
            version: str = VERSION) -> str:
    return sha256(_domain(version) + change + claims(assisted_by, ai_lines, unmatched)).hexdigest()[:32]


def mac(key: bytes, bound: str, version: str = "v1") -> str:
    return hmac_sha256(key, _domain(version) + bound.encode()).hex()[:32]


def signed_message(bound: str, version: str = VERSION) -> bytes:
    """What a personal stamp's SSH signature covers."""
    return _domain(version) + bound.encode()


def make(change: bytes, assisted_by: Sequence[str], ai_lines: str, key_id: str, key: bytes,
         unmatched: str | None = None, version: str = VERSION) -> str:
    """A team stamp: `change` is change_digest(files, version)."""
    bound = binding(change, assisted_by, ai_lines, unmatched, version)
    return f"{version} {key_id} {len(assisted_by)} {bound} {mac(key, bound, version)}"


def make_personal(bound: str, count: int, signature: str) -> str:
    """A personal v2 stamp from its binding and the signer's one-line SSH signature."""
    return f"v2 {PERSONAL} {count} {bound} {signature}"


class Check(NamedTuple):
    bound: bool  # the stamp matches this change and these claims
    signature: str  # "valid", "invalid", "unchecked" (no keys given), "unknown-key", or "personal"
    reason: str  # empty when all is well
    version: str = VERSION
    bound_value: str = ""  # the binding, for checking a personal stamp's signature
    personal_signature: str = ""  # a personal stamp's SSH signature (one base64 line)


def check(value: str, change: bytes, assisted_by: Sequence[str], ai_lines: str,
          keys: Mapping[str, bytes] | None = None, unmatched: str | None = None) -> Check:
    """`change` is change_digest(files, version_of(value)). A personal stamp's signature is
    left to the caller (signature "personal"): checking it runs ssh-keygen."""
    from hmac import compare_digest  # not at import time: hmac loads OpenSSL, and the hook only makes stamps

    parts = value.split()
    if len(parts) != 5 or parts[0] not in VERSIONS or parts[2] != str(len(assisted_by)) \
            or (parts[1] == PERSONAL and parts[0] == "v1"):
        return Check(False, "invalid", f"not an aiguard {VERSION} (or v1) stamp for these claims")
    version, kid, _count, bound, signature = parts
    expected = binding(change, assisted_by, ai_lines, unmatched, version)
    is_bound = compare_digest(bound, expected)
    if kid == PERSONAL:
        reason = "" if is_bound else "the stamp does not match this commit's change and claims"
        return Check(is_bound, "personal", reason, version, bound, signature)
    if keys is None:
        status = "unchecked"
    elif kid not in keys:
        status = "unknown-key"
    else:
        status = "valid" if compare_digest(signature, mac(keys[kid], bound, version)) else "invalid"
    reason = "" if is_bound else "the stamp does not match this commit's change and claims"
    if status == "invalid":
        reason = reason or "the stamp's signature is not valid for its key"
    return Check(is_bound, status, reason, version, bound)
