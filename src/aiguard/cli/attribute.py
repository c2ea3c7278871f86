"""`aiguard attribute [--staged | REV] [--json]`: which added lines match the ledger."""

from __future__ import annotations

import json
import os

import click

from aiguard.cli.common import fail
from aiguard.core.names import visible
from aiguard.git import patches, runner
from aiguard.git.changes import ChangeResult, merge_own_lines
from aiguard.store.session import Session


def attribute(rev: str | None, cwd: str | None = None) -> ChangeResult:
    """Attribute the staged change (rev None) or a commit's change against its first parent."""
    restrict = None
    if rev is None:
        head = runner.rev_parse("HEAD", cwd=cwd)
        files = patches.staged_diff(head or runner.empty_tree(cwd), cwd=cwd)
        heads = runner.merge_heads(cwd)
        if heads:
            restrict = merge_own_lines(files, (patches.staged_diff(h, cwd=cwd) for h in heads))
    else:
        commit = runner.rev_parse(rev, cwd=cwd)
        if commit is None:
            raise runner.GitError(f"{rev!r} is not a commit")
        parents = runner.parents(commit, cwd=cwd)
        files = patches.commit_diff(parents[0] if parents else None, commit, cwd=cwd)
        if len(parents) > 1:
            restrict = merge_own_lines(files, (patches.commit_diff(p, commit, cwd=cwd) for p in parents[1:]))
    with Session() as session:
        return session.attribute(files, restrict, cwd=cwd)


def format_text(result: ChangeResult) -> str:
    out = []
    for f in result.files:
        if not f.added:
            continue
        out.append(f"{visible(f.path)}: {f.ai}/{f.added} added lines from recorded AI output")
        for r in f.ranges:
            span = f"{r.start}" if r.start == r.end else f"{r.start}-{r.end}"
            out.append(f"  lines {span}: {visible(f'{r.tool}:{r.model} ({r.source})')}")
    out.append(f"AI-Lines: {result.ai}/{result.added}")
    for value in result.assisted_by:
        out.append(f"Assisted-by: {visible(value)}")
    return "\n".join(out)


# The command -----------------------------------------------------------------------------------

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
    from aiguard.store import keys
    from aiguard.git import runner
    from aiguard.store.ledger import LedgerError

    if staged and rev:
        fail("give either --staged or REV, not both")
    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
    try:
        result = attribute(rev)
    except (runner.GitError, keys.KeyUnavailable, LedgerError) as exc:
        fail(str(exc))
    from aiguard.core.names import visible

    for note in result.notes:  # what was not matched, and why: on stderr in both modes
        click.echo(f"aiguard: {visible(note)}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(format_text(result))


COMMANDS = [attribute_command]
