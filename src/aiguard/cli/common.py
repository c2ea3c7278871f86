"""What every command module uses: one-line failures, and naming the file a write failed on."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, NoReturn

import click


@contextlib.contextmanager
def naming(path: str) -> Iterator[None]:
    """Errors writing an output file name it (a failed write's OSError carries no file name);
    main() turns them into one line."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and path != "-":
            exc.filename = path
        raise


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"aiguard: {message}", err=True)
    sys.exit(code)


def require_repo() -> None:
    from aiguard.git import runner

    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
