"""Common code: token k-grams that many public packages share, keyed for one ledger.

A fingerprint of boilerplate (`if __name__ == "__main__": main()`, argparse
set-up, dunder methods) says nothing about who wrote a line, yet model output is
full of it. aiguard ships the unkeyed token texts of common k-grams (per stream)
and of common logical lines, counted over public code by benchmarks/stoplist.py
(data/common_code.json.gz). Fingerprints are keyed per user, so a list of hashes
cannot be shipped: the ledger keys this list with its own key on its first write
(Ledger.key_common_code), and fingerprint_text then never stores a k-gram that
is on it or lies on common lines (all but COMMON_LINE_SLACK tokens). The commit
hook never reads this module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

from aiguard.core.fingerprint import LINES, PARAMS, STREAMS, Hasher

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "common_code.json.gz"
FORMAT = 1


def load(path: Path | None = None) -> dict | None:
    """The list (default: the shipped one), or None when it is missing or unreadable."""
    import gzip
    import json

    try:
        doc = json.loads(gzip.decompress((path or DATA_FILE).read_bytes()))
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    return doc


def version(path: Path | None = None) -> str:
    """Names the shipped list and the k-gram lengths it is keyed for: either changing means re-keying.

    Reads the file's bytes but does not parse them: writers check this on every write.
    """
    try:
        digest = hashlib.sha256((path or DATA_FILE).read_bytes()).hexdigest()[:16]
    except OSError:
        digest = "none"
    return f"{digest}/k=" + ",".join(str(PARAMS[s].k) for s in STREAMS)


def _usable(doc: dict, stream: int) -> bool:
    entry = doc.get("streams", {}).get(str(stream))
    return bool(entry) and entry.get("k") == PARAMS[stream].k


def keyed(doc: dict | None, hasher: Hasher) -> Iterator[tuple[int, int]]:
    """(kind, keyed hash) of every entry, hashed as fingerprint_text hashes what it checks.

    kind RAW or ABSTRACT: a common k-gram of that stream (skipped when its k
    differs from the current PARAMS: it could never equal a fingerprint); kind
    LINES: a common logical line, its raw tokens hashed as one span.
    """
    if not doc:
        return
    for stream in STREAMS:
        if not _usable(doc, stream):
            continue
        entry = doc["streams"][str(stream)]
        k = entry["k"]
        digests = hasher.text_digests(entry["tokens"])
        joined: list[bytes] = [digests[i] for i in entry["grams"]]
        for value in hasher.kgram_hashes(joined, k, range(0, len(joined) - k + 1, k)).values():
            yield stream, value
    entry = doc.get("lines")
    if entry:
        digests = hasher.text_digests(entry["tokens"])
        joined = []
        spans = []
        for line in entry["lines"]:
            spans.append((len(joined), len(joined) + len(line)))
            joined.extend(digests[i] for i in line)
        for value in hasher.span_hashes(joined, spans):
            yield LINES, value
