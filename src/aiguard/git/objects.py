"""Blobs read from the object store: many at once, their sizes, or one at a time."""

from __future__ import annotations

from typing import Iterable

from aiguard.git.runner import Session, git

def read_blobs(oids: Iterable[str], cwd: str | None = None) -> dict[str, bytes]:
    """Contents of blobs, in one `git cat-file --batch` call."""
    oids = list(dict.fromkeys(oids))
    if not oids:
        return {}
    out = git(["cat-file", "--batch"], input="".join(f"{oid}\n" for oid in oids).encode(), cwd=cwd)
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in oids:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        blobs[oid] = out[pos:pos + size]
        pos += size + 1
    return blobs


def blob_sizes(oids: Iterable[str], cwd: str | None = None) -> dict[str, int]:
    oids = list(dict.fromkeys(oids))
    if not oids:
        return {}
    out = git(["cat-file", "--batch-check"], input="".join(f"{oid}\n" for oid in oids).encode(), cwd=cwd)
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    return sizes


class BlobReader(Session):
    """Blobs read one at a time through one long-lived `git cat-file --batch`."""

    args = ("cat-file", "--batch")

    def read(self, oid: str) -> bytes | None:
        stdin, stdout = self._pipes()
        stdin.write(f"{oid}\n".encode())
        stdin.flush()
        header = stdout.readline().split()
        if len(header) < 3:
            return None  # "<oid> missing" (or git went away)
        data = stdout.read(int(header[2]) + 1)
        return data[:-1]
