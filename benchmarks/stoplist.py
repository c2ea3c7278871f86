"""Build aiguard's common-code list: token k-grams and lines that many public packages share.

A fingerprint of such code is no evidence that a model wrote it: it is
boilerplate (`if __name__ == "__main__": main()`, argparse set-up, `super().__init__`
calls, dunder methods). aiguard keys this list with the user's ledger key when it
first writes to the ledger and never stores those fingerprints (see
src/aiguard/store/common_code.py). Only unkeyed token texts of public code are shipped;
they reveal nothing about anyone's ledger.

Input: the .py files of the CPython stdlib and of site-packages that corpus.py
finds (tests, vendored copies and aiguard itself excluded). Each top-level stdlib
module and each top-level site-packages package is one "package". Output,
src/aiguard/data/common_code.json.gz, in aiguard's own token normalisation
(fingerprint.stream_text), holds:

* raw-stream k-grams (fingerprint.RAW's k) found in at least MIN_RAW packages;
* abstract-stream k-grams (fingerprint.ABSTRACT's k) found in at least MIN_ABSTRACT packages;
* logical lines (fingerprint.logical_lines, raw tokens) found in at least MIN_LINES packages.

Low-complexity k-grams are left out: the ledger never stores them anyway.

The rebuild is deterministic. The same interpreter and the same installed
distributions (the file lists them) give a byte-identical file: units are counted
by hash() of int tuples (independent of PYTHONHASHSEED), ids are assigned in
sorted order, the output is sorted, and the gzip mtime is 0. Counting tens of
millions of distinct k-grams needs numpy; a build takes ~1 minute.

    python benchmarks/stoplist.py [--min-packages MIN_RAW,MIN_ABSTRACT,MIN_LINES] [--out PATH]
    python benchmarks/stoplist.py --check     # rebuild in memory, compare with the shipped file
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus as corpus_mod  # noqa: E402
from aiguard.store import common_code  # noqa: E402
from aiguard.core.fingerprint import (
    # noqa: E402     ABSTRACT,
    HASH,
    LINES,
    PARAMS,
    RAW,
    STREAMS,
    logical_lines,
    low_complexity,
    stream_text,
    tokenize,
)

DEFAULT_OUT = common_code.DATA_FILE
KINDS = (*STREAMS, LINES)
NAMES = {RAW: "raw k-grams", ABSTRACT: "abstract k-grams", LINES: "lines"}
DEFAULT_MIN_PACKAGES = (3, 5, 5)  # raw k-grams, abstract k-grams, lines


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (UnicodeDecodeError, OSError):
        return None


def package_ids(files: list[str], vocabs: list[dict[str, int]]) -> list[tuple[list[list[int]], list[tuple[int, int]]]]:
    """Per file of one package: per stream the token ids (vocab index of the stream text), and its logical lines."""
    out = []
    for path in files:
        text = read_text(path)
        if text is None:
            continue
        tokens = tokenize(text, HASH).tokens
        per_stream = []
        for stream in STREAMS:
            vocab = vocabs[stream]
            per_stream.append([vocab.setdefault(stream_text(t, stream), len(vocab)) for t in tokens])
        out.append((per_stream, logical_lines(tokens)))
    return out


def _units(per_stream: list[list[int]], lines: list[tuple[int, int]], kind: int):
    """(start, tuple of ids) of every k-gram of a stream, or of every logical line (kind LINES, raw ids)."""
    if kind == LINES:
        raw = per_stream[RAW]
        return ((a, tuple(raw[a:b])) for a, b in lines)
    k = PARAMS[kind].k
    seq = per_stream[kind]
    return ((i, tuple(seq[i:i + k])) for i in range(len(seq) - k + 1))


def count(files_by_package: dict[str, list[str]], log=print) -> tuple[list[dict[str, int]], list[dict[int, int]]]:
    """How many packages hold each unit, per kind (RAW and ABSTRACT k-grams, LINES); only units in >= 2 kept.

    Units are identified by hash(tuple of token ids): int-tuple hashes do not
    depend on PYTHONHASHSEED, and ids are assigned in a fixed order.
    """
    import numpy as np

    vocabs: list[dict[str, int]] = [{} for _ in STREAMS]
    chunks: list[list] = [[] for _ in KINDS]
    started = time.perf_counter()
    for n, name in enumerate(sorted(files_by_package)):
        files = package_ids(files_by_package[name], vocabs)
        for kind in KINDS:
            units: set[int] = set()
            for per_stream, lines in files:
                units.update(hash(unit) for _, unit in _units(per_stream, lines, kind))
            if units:
                chunks[kind].append(np.fromiter(units, dtype=np.int64, count=len(units)))
        if n % 50 == 0:
            log(f"  {n}/{len(files_by_package)} packages, {time.perf_counter() - started:.0f} s")
    counts: list[dict[int, int]] = []
    for kind in KINDS:
        values, numbers = np.unique(np.concatenate(chunks[kind]), return_counts=True)
        keep = numbers >= 2
        counts.append(dict(zip(values[keep].tolist(), numbers[keep].tolist())))
        chunks[kind] = []
    return vocabs, counts


def select(files_by_package: dict[str, list[str]], vocabs: list[dict[str, int]], counts: list[dict[int, int]],
           min_packages: tuple[int, int, int]) -> list[list[tuple[tuple[str, ...], int]]]:
    """The common units of each kind: (tuple of stream texts (raw texts for lines), packages), sorted."""
    frequent = [{h for h, c in counts[kind].items() if c >= min_packages[kind]} for kind in KINDS]
    found: list[set[tuple[int, ...]]] = [set() for _ in KINDS]
    for name in sorted(files_by_package):
        # package_ids with the finished vocabularies assigns the same ids again.
        for per_stream, lines in package_ids(files_by_package[name], vocabs):
            for kind in KINDS:
                wanted, into = frequent[kind], found[kind]
                for _, unit in _units(per_stream, lines, kind):
                    if hash(unit) in wanted:
                        into.add(unit)
    texts = [sorted(v, key=v.__getitem__) for v in vocabs]
    out = []
    for kind in KINDS:
        vocab = texts[RAW if kind == LINES else kind]
        units = []
        for unit in found[kind]:
            # Low-complexity k-grams are never stored anyway (same test as the ledger's, on ids).
            if kind == LINES or not low_complexity(unit, 0, PARAMS[kind].k):
                units.append((tuple(vocab[i] for i in unit), counts[kind][hash(unit)]))
        out.append(sorted(units))
    return out


def encode(units: list[list[tuple[str, ...]]], meta: dict) -> bytes:
    """The data file: per stream a vocabulary and the k-grams as flat vocabulary indices; lines as index lists."""
    doc = {"format": common_code.FORMAT, **meta}
    for kind in KINDS:
        vocab = sorted({t for unit in units[kind] for t in unit})
        index = {t: i for i, t in enumerate(vocab)}
        if kind == LINES:
            doc["lines"] = {"count": len(units[kind]), "tokens": vocab,
                            "lines": [[index[t] for t in unit] for unit in units[kind]]}
        else:
            doc.setdefault("streams", {})[str(kind)] = {
                "k": PARAMS[kind].k, "count": len(units[kind]), "tokens": vocab,
                "grams": [index[t] for unit in units[kind] for t in unit],
            }
    text = json.dumps(doc, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("ascii"), compresslevel=9, mtime=0)


def distributions() -> list[str]:
    """name==version of every installed distribution (the input besides the stdlib)."""
    from importlib import metadata

    names = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "aiguard":
            names.add(f"{name}=={dist.version}")
    return sorted(names, key=str.lower)


def build(min_packages: tuple[int, int, int], exclude: set[str] = frozenset(), log=print) -> tuple[bytes, dict]:
    """The data file's bytes, and a summary. exclude: package names (corpus.py's) to leave out."""
    files_by_package = {name: files for name, files in corpus_mod.source_files().items() if name not in exclude}
    log(f"{len(files_by_package)} packages, {sum(map(len, files_by_package.values()))} files")
    started = time.perf_counter()
    vocabs, counts = count(files_by_package, log)
    log(f"counted in {time.perf_counter() - started:.0f} s; in >= 2 packages: "
        + ", ".join(f"{NAMES[kind]} {len(counts[kind])}" for kind in KINDS))
    units = select(files_by_package, vocabs, counts, min_packages)
    log("common: " + ", ".join(f"{NAMES[kind]} {len(units[kind])}" for kind in KINDS)
        + f" ({time.perf_counter() - started:.0f} s)")
    meta = {
        "about": "Token k-grams and logical lines common to many public Python packages (stdlib and PyPI); "
                 "generated by benchmarks/stoplist.py, see benchmarks/README.md.",
        "python": sys.version.split()[0],
        "min_packages": list(min_packages),
        "packages": len(files_by_package),
        "distributions": distributions() if not exclude else ["(benchmark build: held-out packages excluded)"],
    }
    summary = {"packages": len(files_by_package), "units": {NAMES[kind]: len(units[kind]) for kind in KINDS}}
    return encode([[unit for unit, _ in units[kind]] for kind in KINDS], meta), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-packages", default=",".join(map(str, DEFAULT_MIN_PACKAGES)),
                        help="raw,abstract,lines: packages a raw k-gram, an abstract k-gram, a logical line "
                             "must occur in to be common")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--check", action="store_true", help="compare a rebuild with --out instead of writing")
    args = parser.parse_args()
    min_packages = tuple(int(x) for x in args.min_packages.split(","))
    if len(min_packages) != len(KINDS):
        parser.error("--min-packages takes three numbers: raw,abstract,lines")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    data, summary = build(min_packages, log=log)
    digest = hashlib.sha256(data).hexdigest()[:16]
    out = Path(args.out)
    if args.check:
        same = out.exists() and out.read_bytes() == data
        print(f"rebuild {digest}: {'identical to' if same else 'DIFFERS from'} {out}")
        sys.exit(0 if same else 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"wrote {out}: {len(data)} bytes, sha256 {digest}, {summary}")


if __name__ == "__main__":
    main()
