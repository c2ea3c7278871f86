"""The hook commands themselves: `aiguard stamp ...` and `aiguard notes post-commit|post-rewrite`.

Run in the hook's own process (aiguard.main) or, on its behalf, in a child of the daemon's
hook server (aiguard.hook.server); both come here, so neither imports the other.
Stdlib only: this is the commit hook's import path.
"""

from __future__ import annotations

import sys


def run(args: list[str], caller: int | None = None) -> int:
    """Run a hook command (hook.client.served(args) holds). caller: see hook.stamp.main."""
    if args[0] == "stamp":
        from aiguard.hook.stamp import main as stamp_main

        return stamp_main(args[1:], caller)
    return _notes_hook(args[1])


def _notes_hook(hook: str) -> int:
    """post-commit / post-rewrite: file line-level records; never fails the git command."""
    from aiguard.git import pending

    try:
        if hook == "post-commit":
            pending.post_commit()
        else:
            pairs = [tuple(line.split()[:2]) for line in sys.stdin.read().splitlines() if len(line.split()) >= 2]
            pending.post_rewrite(pairs)
    except Exception as exc:  # a line record is lost, the commit is not
        print(f"aiguard: line record not written ({exc.__class__.__name__}: {exc})", file=sys.stderr)
    return 0
