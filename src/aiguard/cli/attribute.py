"""`aiguard attribute [--staged | REV] [--json]`: which added lines match the ledger."""

from __future__ import annotations

import json
import os

import click

from aiguard.cli.common import fail


@click.command("attribute")
@click.option("--staged", "staged", is_flag=True, help="Attribute the staged change (the default).")
@click.argument("rev", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
def attribute_command(staged: bool, rev: str | None, as_json: bool) -> None:
    """Show which added lines match recorded AI output; changes nothing.

    \b
    Examples:
      aiguard attribute              # what is staged now
      aiguard attribute HEAD --json  # what the last commit added
    """
    from aiguard.core.names import visible
    from aiguard.git import runner
    from aiguard.store import keys
    from aiguard.store.ledger import LedgerError
    from aiguard.store.session import attribute_change

    if staged and rev:
        fail("give either --staged or REV, not both")
    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
    try:
        result = attribute_change(rev)
    except (runner.GitError, keys.KeyUnavailable, LedgerError) as exc:
        fail(str(exc))
    for note in result.notes:  # what was not matched, and why: on stderr in both modes
        click.echo(f"aiguard: {visible(note)}", err=True)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else result.to_text())


COMMANDS = [attribute_command]
