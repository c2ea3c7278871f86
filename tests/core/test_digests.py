"""aiguard.core.digests gives hashlib's and hmac's answers without loading OpenSSL."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from aiguard.core import digests


@pytest.mark.parametrize("key_size", [0, 1, 16, 32, 63, 64, 65, 100, 1000])
@pytest.mark.parametrize("message_size", [0, 1, 55, 64, 200, 70_000])
def test_hmac_sha256_is_hmacs(key_size, message_size):
    """Keys shorter than SHA-256's 64-byte block, exactly one block, and longer (hashed first)."""
    key, message = os.urandom(key_size), os.urandom(message_size)
    assert digests.hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()


def test_the_stamp_mac_is_unchanged():
    from aiguard.core.stamp_format import mac

    key = bytes(range(32))
    assert mac(key, "0" * 32, "v2") == hmac.new(key, b"aiguard-stamp-v2\0" + b"0" * 32,
                                              hashlib.sha256).hexdigest()[:32]


def test_sha256_and_keyed_blake2b_are_hashlibs():
    data = os.urandom(5000)
    assert digests.sha256(data).digest() == hashlib.sha256(data).digest()
    state = digests.sha256()
    state.update(data[:10])
    state.update(data[10:])
    assert state.hexdigest() == hashlib.sha256(data).hexdigest()
    key = os.urandom(32)
    assert (digests.blake2b(data, key=key, person=b"aiguard-record", digest_size=16).digest()
            == hashlib.blake2b(data, key=key, person=b"aiguard-record", digest_size=16).digest())
    state = digests.blake2b(key=key, digest_size=8)
    copy = state.copy()
    copy.update(b"x")
    assert copy.digest() == hashlib.blake2b(b"x", key=key, digest_size=8).digest()


def test_a_large_changes_digest_is_the_same_through_openssl(monkeypatch):
    from aiguard.core import stamp_format
    from aiguard.git.patches import FileDiff

    files = [FileDiff(b"b.py", "1" * 40, False, [1, 2], [b"+x = 1", b"+y = 2"], "", "100644"),
             FileDiff(b"a.py", "2" * 40, False, [1], [b"-old", b"+new"], "100644", "100644")]
    small = stamp_format.change_digest(files)
    monkeypatch.setattr(stamp_format, "_LARGE_CHANGE", 1)
    assert stamp_format.change_digest(files) == small
    assert stamp_format.change_digest(files, "v1") == stamp_format.change_digest(list(reversed(files)), "v1")
