"""git, run with pinned flags: the runner, what a change adds (patches), blobs (objects), the
line-level record in refs/notes/aiguard (notes), and a change attributed against the ledger
(changes). Imports only the core."""
