"""Per-user state: where it lives (home, paths), the ledger and its fingerprint index, the
shipped common-code list, the keys, and the user configuration."""
