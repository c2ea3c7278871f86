"""Entry point. `aiguard stamp` (the commit hook) skips click: it must start fast."""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["stamp"] and not {"-h", "--help"} & set(args):
        from aiguard.commands.stamp import main as stamp_main

        return stamp_main(args[1:])
    from aiguard.cli import cli

    try:
        cli.main(args=args, prog_name="aiguard", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
