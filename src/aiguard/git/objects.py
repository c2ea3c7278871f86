"""Blobs read from the object store: many at once, their sizes, or one at a time."""

from __future__ import annotations

from aiguard.git.runner import GitError, Session, git

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Iterable


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


_PIPELINED = 16 << 10  # bytes of names written before their answers are read (a pipe holds 64 KiB)


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

    def read_objects(self, names: Iterable[str]) -> dict[str, tuple[str, str, bytes]]:
        """name -> (object id, type, contents) for the object names `cat-file` takes (`COMMIT:PATH`,
        `REF:PATH`, `REV^{commit}`) that name one; no new process. The names go out in batches
        of at most _PIPELINED bytes before the answers are read (one round trip per batch, and
        git never waits on a full pipe to us while we still write to it)."""
        wanted = [name for name in dict.fromkeys(names) if "\n" not in name]  # one name per line
        found: dict[str, tuple[str, str, bytes]] = {}
        start = 0
        while start < len(wanted):
            end, size = start, 0
            while end < len(wanted) and (end == start or size + len(wanted[end]) < _PIPELINED):
                size += len(wanted[end].encode("utf-8", "surrogateescape")) + 1
                end += 1
            stdin, stdout = self._pipes()
            stdin.write("".join(f"{name}\n" for name in wanted[start:end]).encode("utf-8", "surrogateescape"))
            stdin.flush()
            for name in wanted[start:end]:
                line = stdout.readline()
                if not line:  # not a missing name: the process ended (a damaged object store, say)
                    raise GitError(f"git cat-file --batch stopped before answering {name!r}")
                header = line.split()
                if len(header) != 3 or not header[2].isdigit():
                    continue  # "<name> missing", "<name> ambiguous" (a name may hold spaces)
                found[name] = (header[0].decode(), header[1].decode(), stdout.read(int(header[2]) + 1)[:-1])
            start = end
        return found

    def read_within(self, oid: str, max_size: int) -> tuple[int | None, bytes | None]:
        """(size, contents) of a blob; contents None when it is over max_size (its bytes are
        read past, not kept), (None, None) when it is missing. The size comes from the same
        `cat-file --batch` header, so no `--batch-check` process is needed to ask it first."""
        stdin, stdout = self._pipes()
        stdin.write(f"{oid}\n".encode())
        stdin.flush()
        header = stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            if len(header) >= 3:
                _skip(stdout, int(header[2]) + 1)
            return None, None  # "<oid> missing" (or git went away), or not a blob
        size = int(header[2])
        if size > max_size:
            _skip(stdout, size + 1)
            return size, None
        return size, stdout.read(size + 1)[:-1]


def _skip(stream, count: int) -> None:
    while count > 0:
        chunk = stream.read(min(count, 1 << 20))
        if not chunk:
            return
        count -= len(chunk)


def reading(reader: BlobReader | None, cwd: str | None = None) -> _Reading:
    """`with reading(reader) as r:` the caller's running reader (left open for it), or one
    started for the block and closed after it."""
    return _Reading(reader, cwd)


class _Reading:
    """reading()'s context manager (a class, not contextlib's: the hook does not import contextlib)."""

    def __init__(self, reader: BlobReader | None, cwd: str | None):
        self._given, self._cwd = reader, cwd
        self._own: BlobReader | None = None

    def __enter__(self) -> BlobReader:
        if self._given is not None:
            return self._given
        self._own = BlobReader(self._cwd)
        return self._own

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._own is not None:
            self._own.close()
