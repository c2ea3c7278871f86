"""`install`, `uninstall`, `stamp`: aiguard's git hooks in a repository."""

from __future__ import annotations

import sys

import click

from aiguard.cli.common import fail


@click.command()
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=None,
              help="Repository (default: the current one).")
@click.option("--new-keys", is_flag=True,
              help="The keys are lost: move the ledger aside (kept, renamed) and make new keys.")
@click.option("--sync-notes/--no-sync-notes", default=None,
              help="Send the line records (refs/notes/aiguard) with every git push and fetch them with "
                   "git fetch (the default), or not (sets aiguard.syncNotes=false).")
def install(repo: str | None, new_keys: bool, sync_notes: bool | None) -> None:
    """Install aiguard's git hooks in a repository.

    Honours core.hooksPath; a hook that was already there is kept and runs first.
    Running it again updates the hooks. Also makes the keys if none exist; never over
    a ledger holding records (their key would be lost): restore the keys, or start
    over with --new-keys.

    The line records travel by themselves: each remote fetches its refs/notes/aiguard into
    refs/notes/remotes/REMOTE/aiguard (read beside yours), the pre-push hook pushes yours,
    and notes.aiguard.mergeStrategy=cat_sort_uniq keeps both records of a commit.

    Example: aiguard install
    """
    from aiguard.store import keys
    from aiguard.hook import install as installer

    if new_keys:
        _start_over()
    try:
        report = installer.install(repo)
        report += installer.sync_notes(repo, sync_notes)
        keyset = keys.load(create=True)
    except (installer.InstallError, keys.KeyUnavailable) as exc:
        fail(str(exc))
    for line in report:
        click.echo(line)
    click.echo(f"keys: {keys.location()} (stamp key {keyset.signing_key()[0]})")


def _start_over() -> None:
    from aiguard.store import keys

    for moved in keys.start_over():
        click.echo(f"moved {moved.name.split('.set-aside-')[0]} aside to {moved}")


@click.command()
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=None,
              help="Repository (default: the current one).")
def uninstall(repo: str | None) -> None:
    """Remove aiguard's git hooks, restoring any hook they had chained."""
    from aiguard.hook import install as installer

    try:
        for line in installer.uninstall(repo):
            click.echo(line)
    except installer.InstallError as exc:
        fail(str(exc))


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--stage", type=click.Choice(["prepare-commit-msg", "commit-msg"]), default="prepare-commit-msg",
              show_default=True, help="Which git hook is running.")
@click.argument("msgfile")
@click.argument("source", required=False)
@click.argument("sha", required=False)
def stamp(stage: str, msgfile: str, source: str | None, sha: str | None) -> None:
    """What the git hook runs: stamp the commit message file with trailers.

    SOURCE and SHA are prepare-commit-msg's arguments (the pre-commit framework
    passes them as PRE_COMMIT_COMMIT_MSG_SOURCE / PRE_COMMIT_COMMIT_OBJECT_NAME).
    Never blocks a commit: problems are one warning line on stderr.
    Set AIGUARD_DISABLE=1 to skip it for one command.
    """
    from aiguard.hook.stamp import main

    sys.exit(main(["--stage", stage, msgfile, *[a for a in (source, sha) if a]]))


COMMANDS = [install, uninstall, stamp]
