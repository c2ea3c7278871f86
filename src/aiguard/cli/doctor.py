"""`aiguard doctor`: one line per part, saying what works and what does not (the checks are aiguard/doctor.py)."""

from __future__ import annotations

import sys

import click


@click.command("doctor")
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=None,
              help="Repository to check the hooks and policy of.")
def doctor_command(repo: str | None) -> None:
    """Say, line by line, what works and what does not (exit 1 if anything fails).

    One line per part: the git hooks and the repository's policy (.aiguard.toml or
    [tool.aiguard]), the ledger, the config, the daemon, the key store, each
    assistant's logs (and how many are past the retention period) and whether its
    hook is wired, and the clipboard.
    """
    from aiguard import doctor

    lines = doctor.run(repo)
    for line in lines:
        click.echo(str(line))
    if not all(line.ok for line in lines):
        sys.exit(1)


COMMANDS = [doctor_command]
