"""Where matching's time goes: attribute_text's steps, timed one by one.

Needs a ledger (an AIGUARD_HOME; `hook_latency.py --keep` leaves one per size) and a
file to attribute with every line added (hook_latency.py's `change.py`). Each run opens
the ledger afresh and uses a fresh Hasher, as a commit hook does, and repeats the steps
of aiguard.core.attribution.attribute_text (kept in step with it by hand: a changed matcher
needs this script changed too; the last row times the real function to check the sum).
AIGUARD_PURE_PYTHON=1 times the pure-Python reference instead of the C accelerator.

    python benchmarks/matching_steps.py HOME FILE [--runs 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", help="an AIGUARD_HOME holding a ledger")
    parser.add_argument("file", help="the file to attribute, every line added")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    os.environ["AIGUARD_HOME"] = os.path.abspath(args.home)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

    from aiguard.core import attribution as A
    from aiguard.store import keys
    from aiguard.core.fingerprint import PARAMS, RAW, STREAMS, Hasher, guess_syntax, syntax_for_path, tokenize
    from aiguard.store.ledger import Ledger

    text = open(args.file, encoding="utf-8").read()
    syntax = syntax_for_path(args.file) or guess_syntax(text)
    key = keys.load(create=False).ledger_key
    lines = text.count("\n")
    steps: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, started: float) -> float:
        now = time.perf_counter()
        steps[name][-1] += now - started
        return now

    for _ in range(args.runs + 1):
        for name in ("tokenize", "tokens touching added lines, k-gram starts", "tokens per added line",
                     "token digests (both streams)",
                     "keyed k-gram hashes (both streams)", "look-ups", "hits per record, chains",
                     "gap and end accounting", "whole attribute_text"):
            steps[name].append(0.0)
        ledger = Ledger.open_readonly()
        hasher = Hasher(key)
        added = set(range(lines))
        t = time.perf_counter()
        tokens = tokenize(text, syntax).tokens
        t = timed("tokenize", t)
        touching = [i for i, tok in enumerate(tokens) if tok.first_line in added]
        token_lines = [tok.first_line for tok in tokens]
        t = timed("tokens touching added lines, k-gram starts", t)
        A._line_tokens(tokens, touching, added)
        t = timed("tokens per added line", t)
        for stream in STREAMS:
            k, w, _ = PARAMS[stream]
            digests = hasher.token_digests(tokens, stream)
            t = timed("token digests (both streams)", t)
            hashes = hasher.kgram_hashes(digests, k, A._starts_touching(touching, k, len(tokens) - k + 1))
            t = timed("keyed k-gram hashes (both streams)", t)
            found = ledger.lookup(stream, list(dict.fromkeys(hashes.values())))
            t = timed("look-ups", t)
            per_record = A._hits_per_record(hashes, found, A.DF_CAP)
            lengths = ledger.record_tokens(per_record)
            matched = A._matched_chains(per_record, lengths, stream, token_lines)
            t = timed("hits per record, chains", t)
            if matched and stream == RAW:
                A._insertion_fills(matched, tokens, digests, k, hasher, stream, ledger.lookup,
                                   ends=(w, lengths, per_record))
            t = timed("gap and end accounting", t)
        ledger.close()
        ledger = Ledger.open_readonly()
        t = time.perf_counter()
        A.attribute_text(text, range(1, lines + 1), Hasher(key), ledger.lookup, ledger.record_tokens, args.file)
        timed("whole attribute_text", t)
        ledger.close()

    print(f"{args.file}: {lines} lines, {len(tokens)} tokens; median of {args.runs} runs (the first dropped)\n")
    print("| step | ms |")
    print("|---|---|")
    for name, values in steps.items():
        print(f"| {name} | {1000 * statistics.median(values[1:]):.1f} |")


if __name__ == "__main__":
    main()
