"""SHA-256, keyed BLAKE2b and HMAC-SHA256 from Python's built-in hash modules.

hashlib loads OpenSSL (`_hashlib`), which costs the commit hook ~2.5 ms before it hashes
anything; the built-in `_sha2` (`_sha256` before Python 3.12) and `_blake2` give the same
digests. A Python built without them falls back to hashlib. `hmac_sha256` is RFC 2104 as
the hmac module computes it (tests/core/test_digests.py compares them).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the same constructors, as typeshed knows them
    from hashlib import blake2b, sha256
else:
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256
        except ImportError:
            from hashlib import sha256
    try:
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b

__all__ = ["blake2b", "hmac_sha256", "sha256"]

_BLOCK = 64  # SHA-256's block size in bytes
_INNER = bytes(x ^ 0x36 for x in range(256))
_OUTER = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of message under key: hmac.new(key, message, hashlib.sha256).digest()."""
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = sha256(key.translate(_INNER) + message).digest()
    return sha256(key.translate(_OUTER) + inner).digest()
