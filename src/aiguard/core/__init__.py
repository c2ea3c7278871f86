"""The pure core: tokenising and keyed fingerprints, the matcher, trailers, the stamp format,
clipboard provenance rules and names. No I/O, no git, no files: everything else builds on it,
and it imports nothing from the rest of aiguard (tests/test_layout.py)."""
