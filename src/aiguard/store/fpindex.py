"""The fingerprint index: the ledger's settled fingerprints in one sorted, memory-mapped file.

Fingerprints arrive in SQLite (the ledger's `fingerprints` table), where any number of
writers can add them safely; `Ledger.compact` moves them here. SQLite's B-tree costs
about 28 bytes per fingerprint and one tree descent per looked-up hash; this file costs
10 bytes per fingerprint, and a look-up is a few integer operations and one `bisect`
in C over the mapped file (matching.md section 8.1: sorted arrays, merged LSM-style).

A hash is kept by its top 48 bits, read as unsigned: the top 16 bits pick a bucket and
the next 32 are stored. Two different k-grams of a 100k-record ledger share 48 bits
about once in 10^8 look-ups, and a stray hit never makes a chain on its own.

Layout, native byte order (the header says which; a file from the other order is not
used):

    header   64 bytes: magic, format, bucket bits, watermark, entries per stream,
             then (format 2) two CRC-32s: of the header and the directories, and of
             everything else (the key, rec and pos columns with their padding)
    per stream (raw, then abstract):
      dir    u32 x (2^16 + 1)   index of each bucket's first entry
      key    u32 x n            the 32 hash bits below the bucket bits
      rec    u32 x n            record id
      pos    u16 x n (+ pad)    token position in the record

Entries are sorted by (bucket, key). The watermark is the highest record id whose
fingerprints are all in the file: SQLite rows of records at or below it are leftovers of
an interrupted compaction and are ignored. Record ids are never reused (AUTOINCREMENT).
Pure file handling: no SQLite here.

Damage is one IndexDamaged line, never an IndexError: opening checks the header's and the
directories' checksum (0.1 ms; the hook opens the file on every commit), every look-up is
bounds-checked, and `verify` (doctor, and every compaction before it copies the old file
into a new one) checks the whole file's. Format 1 files (no checksums) are still read; the
next compaction writes them as format 2.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import sys
import zlib
from array import array

from aiguard.core.errors import AiguardError
from aiguard.core.fingerprint import STREAMS, _speedups

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterable, Sequence

MAGIC = b"AIGFPIX1"
FORMAT = 2
READABLE = (1, 2)
BUCKET_BITS = 16
BUCKETS = 1 << BUCKET_BITS
_HEADER = struct.Struct("=8sBBHIQ" + "Q" * len(STREAMS))
_CHECKS = struct.Struct("=II")  # format 2: crc of header + directories, crc of the rest
_HEADER_SIZE = 64
_ORDER = {"little": 1, "big": 2}[sys.byteorder]
_M64 = (1 << 64) - 1
_KEY_SHIFT = 64 - BUCKET_BITS - 32
MAX_POS = 0xFFFF  # positions past this (records over 65k tokens) are not indexed

for _code, _size in (("I", 4), ("H", 2)):
    if array(_code).itemsize != _size:  # pragma: no cover - no such platform in use
        raise ImportError(f"aiguard.store.fpindex needs array({_code!r}) to be {_size} bytes")


class IndexDamaged(AiguardError):
    """The index file is damaged or from another platform; the message says why."""


def split(value: int) -> tuple[int, int]:
    """(bucket, key) of a signed 64-bit hash."""
    u = value & _M64
    return u >> (64 - BUCKET_BITS), (u >> _KEY_SHIFT) & 0xFFFFFFFF


def _section_sizes(n: int) -> tuple[int, int, int, int]:
    pos_bytes = 2 * n + (2 * n) % 4
    return 4 * (BUCKETS + 1), 4 * n, 4 * n, pos_bytes


def file_size(counts: Sequence[int]) -> int:
    return _HEADER_SIZE + sum(sum(_section_sizes(n)) for n in counts)


class StreamView:
    """One stream's columns, as memoryviews of the mapped file (or empty arrays)."""

    __slots__ = ("dir", "key", "rec", "pos", "count")

    def __init__(self, dir_, key, rec, pos, count: int):
        self.dir, self.key, self.rec, self.pos, self.count = dir_, key, rec, pos, count


# Read-only zeros: bytes(n) is calloc'd, fresh pages left untouched, where an
# array("I", ...) of them writes all 256 KiB (0.3 ms of every commit hook's import).
_EMPTY_DIR = memoryview(bytes(4 * (BUCKETS + 1))).cast("I")


def _empty_view() -> StreamView:
    return StreamView(_EMPTY_DIR, memoryview(array("I")), memoryview(array("I")), memoryview(array("H")), 0)


# The hook server keeps the index file's bytes (hold) so that the children it forks for
# commits share them, already in memory, instead of each mapping the file and touching
# its pages for the first time (~3 ms per commit at 100k records).
HOLD_LIMIT = 64 * 1024 * 1024  # bigger files (ledgers past ~230k records) are mapped as usual
_held: dict[str, tuple[tuple[int, int, int], bytes]] = {}


def hold(path: str | Path) -> None:
    """Keep the file's current contents in this process; re-read only when it was replaced."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if st.st_size > HOLD_LIMIT:
                _held.pop(str(path), None)
            elif _held.get(str(path), (None, b""))[0] != key:
                _held[str(path)] = (key, fh.read())
    except OSError:
        _held.pop(str(path), None)


class Index:
    """A read-only view of one index file; the file may be replaced meanwhile (we keep ours)."""

    def __init__(self, path: str | Path, watermark: int, views: list[StreamView], mapping: "mmap.mmap | bytes | None",
                 fmt: int = FORMAT, body_crc: int | None = None):
        self.path = path
        self.watermark = watermark
        self.views = views
        self._mapping = mapping
        self.format = fmt
        self._body_crc = body_crc

    @property
    def count(self) -> int:
        return sum(v.count for v in self.views)

    @classmethod
    def empty(cls, path: str | Path) -> "Index":
        return cls(path, 0, [_empty_view() for _ in STREAMS], None)

    @classmethod
    def open(cls, path: str | Path) -> "Index":
        """Map the file; an absent file is an empty index. Raises IndexDamaged when damaged."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return cls.empty(path)
        try:
            st = os.fstat(fd)
            size = st.st_size
            if size < _HEADER_SIZE:
                raise IndexDamaged(f"index {path} is damaged (only {size} bytes)")
            held = _held.get(str(path))
            if held is not None and held[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
                mapping: mmap.mmap | bytes = held[1]  # the same file, already read (hold)
            else:
                mapping = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        try:
            magic, order, fmt, bits, _pad, watermark, *counts = _HEADER.unpack_from(mapping, 0)
            if magic != MAGIC:
                raise IndexDamaged(f"index {path} is not an aiguard fingerprint index")
            if fmt not in READABLE or bits != BUCKET_BITS:
                raise IndexDamaged(f"index {path} has format {fmt}/{bits}; this aiguard reads {FORMAT}/{BUCKET_BITS}")
            if order != _ORDER:
                raise IndexDamaged(f"index {path} was written on a machine of the other byte order")
            if size != file_size(counts):
                raise IndexDamaged(f"index {path} is damaged (size {size}, expected {file_size(counts)})")
            views = []
            whole = memoryview(mapping)
            offset = _HEADER_SIZE
            for n in counts:
                sizes = _section_sizes(n)
                parts: list[memoryview] = []
                for length, wide in zip(sizes, (True, True, True, False)):
                    chunk = whole[offset:offset + length]
                    if not wide and length != 2 * n:
                        chunk = chunk[:2 * n]
                    parts.append(chunk.cast("I") if wide else chunk.cast("H"))
                    offset += length
                views.append(StreamView(parts[0], parts[1], parts[2], parts[3], n))
            body_crc = None
            if fmt >= 2:
                head_crc, body_crc = _CHECKS.unpack_from(mapping, _HEADER.size)
                if _head_crc(whole[:_HEADER.size], views) != head_crc:
                    raise IndexDamaged(f"index {path} is damaged (its header or directory fails its checksum)")
        except (struct.error, ValueError, TypeError) as exc:
            _close(mapping)
            raise IndexDamaged(f"index {path} is damaged ({exc})") from None
        except IndexDamaged:
            _close(mapping)
            raise
        return cls(path, watermark, views, mapping, fmt, body_crc)

    def verify(self) -> None:
        """Check the whole file (format 2: its checksum; format 1: what can be checked without one)."""
        if self._mapping is None:
            return
        if self._body_crc is not None:
            crc = 0
            for view in self.views:
                for column in (view.key, view.rec, view.pos):
                    crc = zlib.crc32(column, crc)
                if (2 * view.count) % 4:
                    crc = zlib.crc32(b"\0\0", crc)
            if crc != self._body_crc:
                raise IndexDamaged(f"index {self.path} is damaged (its fingerprints fail their checksum)")
            return
        for view in self.views:
            dir_ = view.dir
            if dir_[0] != 0 or dir_[BUCKETS] != view.count or any(a > b for a, b in zip(dir_, dir_[1:])):
                raise IndexDamaged(f"index {self.path} is damaged (its directory is out of order)")
            if view.count and max(view.rec) > self.watermark:
                raise IndexDamaged(f"index {self.path} is damaged (a record id past its watermark)")

    def _damaged(self, what: str) -> IndexDamaged:
        return IndexDamaged(f"index {self.path} is damaged ({what})")

    def close(self) -> None:
        # The memoryviews pin the mapping; dropping them lets it close when nothing else holds them.
        self.views = [_empty_view() for _ in STREAMS]
        if self._mapping is not None:
            _close(self._mapping)
            self._mapping = None

    def lookup(self, stream: int, hashes: Iterable[int], found: dict[int, list[tuple[int, int]]]) -> None:
        """Add each hash's (record, position) hits to `found`; the hashes must be distinct."""
        view = self.views[stream]
        if not view.count:
            return
        dir_, key, rec, pos = view.dir, view.key, view.rec, view.pos
        if _speedups is not None:  # the same loop in C (aiguard/core/_speedups.c)
            try:
                past = _speedups.index_lookup(dir_, key, rec, pos, hashes, found, BUCKET_BITS, self.watermark)
            except ValueError:  # it bounds-checks the directory as the loop below does
                raise self._damaged("its directory points past its entries") from None
            if past:  # and the records against the watermark
                raise self._damaged("a record id past its watermark")
            return
        bisect_left = bisect.bisect_left
        shift = 64 - BUCKET_BITS
        count, watermark = view.count, self.watermark
        # In hash order the look-ups sweep the file (negative values, then the others):
        # memory is touched in order. On a fresh mapping of a 100k-record index, 4.5k
        # look-ups took 3.9 ms sorted against 5-7 ms unsorted; sorting costs ~0.6 ms.
        for value in sorted(hashes):
            u = value & _M64
            b = u >> shift
            lo = dir_[b]
            hi = dir_[b + 1]
            if lo == hi:
                continue
            if not lo < hi <= count:  # a format 1 file has no checksum to catch this on opening
                raise self._damaged("its directory points past its entries")
            k = (u >> _KEY_SHIFT) & 0xFFFFFFFF
            i = bisect_left(key, k, lo, hi)
            if i < hi and key[i] == k:
                hits = found.setdefault(value, [])
                while i < hi and key[i] == k:
                    record = rec[i]
                    if record > watermark:
                        raise self._damaged("a record id past its watermark")
                    hits.append((record, pos[i]))
                    i += 1

    def entries_of(self, stream: int, records: set[int]) -> list[int]:
        """Sorted entry numbers (of one stream) that belong to the given records."""
        rec = self.views[stream].rec
        return [i for i, r in enumerate(rec) if r in records] if records else []

    def entries_with(self, stream: int, hashes: Iterable[int]) -> list[int]:
        """Sorted entry numbers (of one stream) whose hash is one of these."""
        view = self.views[stream]
        out: list[int] = []
        for value in set(hashes):
            b, k = split(value)
            lo, hi = view.dir[b], view.dir[b + 1]
            if not lo <= hi <= view.count:
                raise self._damaged("its directory points past its entries")
            i = bisect.bisect_left(view.key, k, lo, hi)
            while i < hi and view.key[i] == k:
                out.append(i)
                i += 1
        out.sort()
        return out


def _head_crc(header: bytes | memoryview, dirs: Iterable) -> int:
    crc = zlib.crc32(header)
    for item in dirs:
        crc = zlib.crc32(item.dir if isinstance(item, StreamView) else item, crc)
    return crc


class _Summed:
    """A file being written that keeps the CRC-32 of what goes through it."""

    def __init__(self, out) -> None:
        self.out, self.crc = out, 0

    def write(self, data) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.out.write(data)


def _close(mapping: "mmap.mmap | bytes") -> None:
    if isinstance(mapping, mmap.mmap):
        try:
            mapping.close()
        except BufferError:  # a caller still holds a slice: the OS unmaps it with the last one
            pass


class Additions:
    """New entries of one stream, in index order (callers feed hashes in unsigned order)."""

    __slots__ = ("bucket", "key", "rec", "pos")

    def __init__(self) -> None:
        self.bucket = array("I")
        self.key = array("I")
        self.rec = array("I")
        self.pos = array("H")

    def add(self, value: int, record: int, position: int) -> None:
        b, k = split(value)
        self.bucket.append(b)
        self.key.append(k)
        self.rec.append(record)
        self.pos.append(position)

    def __len__(self) -> int:
        return len(self.key)


def write(path: Path, old: Index, additions: Sequence[Additions], removals: Sequence[Sequence[int]],
          watermark: int) -> int:
    """Write old + additions - removals as a new index file, atomically; returns its entry count.

    additions[s] must be sorted by (bucket, key); removals[s] are sorted entry numbers of
    the old index. Only the new entries cost Python work: the old file's runs between them
    are copied as slices.
    """
    plans = []
    counts = []
    for stream in STREAMS:
        view = old.views[stream]
        adds = additions[stream]
        drops = removals[stream]
        # Where each new entry goes among the old ones (after equal keys: new records are newer).
        at = array("I")
        delta = [0] * BUCKETS
        right = bisect.bisect_right
        for b, k in zip(adds.bucket, adds.key):
            at.append(right(view.key, k, view.dir[b], view.dir[b + 1]))
            delta[b] += 1
        for i in drops:
            delta[right(view.dir, i) - 1] -= 1
        new_dir = array("I", bytes(4 * (BUCKETS + 1)))
        shift = 0
        for b in range(BUCKETS):
            new_dir[b] = view.dir[b] + shift
            shift += delta[b]
        new_dir[BUCKETS] = view.count + shift
        counts.append(view.count + len(adds) - len(drops))
        plans.append((view, adds, at, drops, new_dir))

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            header = _HEADER.pack(MAGIC, _ORDER, FORMAT, BUCKET_BITS, 0, watermark, *counts)
            out.write(bytes(_HEADER_SIZE))  # written last, with the checksums
            body = _Summed(out)
            for (view, adds, at, drops, new_dir), n in zip(plans, counts):
                out.write(new_dir)
                _splice(body, view.key, at, adds.key, drops)
                _splice(body, view.rec, at, adds.rec, drops)
                _splice(body, view.pos, at, adds.pos, drops)
                if (2 * n) % 4:
                    body.write(b"\0\0")
            checks = _CHECKS.pack(_head_crc(header, [plan[4] for plan in plans]), body.crc)
            out.seek(0)
            out.write(header + checks + bytes(_HEADER_SIZE - len(header) - len(checks)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return sum(counts)


def _splice(out, old: memoryview, at: array, values: array, drops: Sequence[int]) -> None:
    """Write `old` with values inserted before old entries at[i] and entries `drops` left out."""
    done = 0  # old entries written or dropped so far
    i = j = 0
    n_add, n_drop = len(at), len(drops)
    while i < n_add or j < n_drop:
        if j >= n_drop or (i < n_add and at[i] <= drops[j]):
            where = at[i]
            if where > done:
                out.write(old[done:where])
                done = where
            end = i + 1
            while end < n_add and at[end] == where:
                end += 1
            out.write(values[i:end])
            i = end
        else:
            where = drops[j]
            if where > done:
                out.write(old[done:where])
            done = where + 1
            j += 1
    if done < len(old):
        out.write(old[done:])
