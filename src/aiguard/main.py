"""Entry point. `aiguard stamp` (the commit hook) skips click: it must start fast."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None, local: bool = False) -> int:
    """local: run here even when the daemon's hook server could (what the server's child does)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not local and args[:1] in (["stamp"], ["notes"]):
        from aiguard import hookclient

        code = hookclient.call(args)
        if code is not None:
            return code
    if args[:1] == ["hook-server"]:
        from aiguard import hookserver

        return hookserver.serve()
    if args[:1] == ["stamp"] and not {"-h", "--help"} & set(args):
        from aiguard.commands.stamp import main as stamp_main

        return stamp_main(args[1:])
    if args[:1] == ["notes"] and args[1:2] in (["post-commit"], ["post-rewrite"]) and len(args) <= 3:
        return _notes_hook(args[1], args[2:])
    from aiguard.cli import cli

    try:
        cli.main(args=args, prog_name="aiguard", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0


def _notes_hook(hook: str, rest: list[str]) -> int:
    """post-commit / post-rewrite: file line-level records; never fails the git command."""
    from aiguard import notes

    try:
        if hook == "post-commit":
            notes.post_commit()
        else:
            pairs = [tuple(line.split()[:2]) for line in sys.stdin.read().splitlines() if len(line.split()) >= 2]
            notes.post_rewrite(pairs)
    except Exception as exc:  # a line record is lost, the commit is not
        print(f"aiguard: line record not written ({exc.__class__.__name__}: {exc})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
