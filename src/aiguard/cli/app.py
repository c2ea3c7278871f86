"""The `aiguard` command line: the click group, with the commands of each module under cli/.
The commands are thin: they parse options and call the layers below."""

from __future__ import annotations

import click

from aiguard import __version__
from aiguard.cli import attribute, audit, capture, ci, daemon, doctor, hooks, key, ledger, notes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aiguard", message="%(prog)s %(version)s")
def cli() -> None:
    """Know where external-model output enters your repositories.

    aiguard keeps a private ledger of keyed fingerprints of what AI assistants
    and chat services wrote, and a git hook stamps each commit with
    `Assisted-by: TOOL:MODEL`, `AI-Lines: A/T` and a verifiable `AIGuard-Stamp`.
    """


for _module in (hooks, capture, attribute, doctor, ledger, audit, ci, notes, key, daemon):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
