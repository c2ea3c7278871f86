"""`notes push|fetch|show` (and the hooks' post-commit/post-rewrite): the line-level record."""

from __future__ import annotations

import sys

import click

from aiguard.cli.common import require_repo, fail


@click.group()
def notes() -> None:
    """The line-level record (git notes under refs/notes/aiguard): share it and look at it.

    `aiguard install` makes them travel with plain `git push` (its pre-push hook) and
    `git fetch` (a refspec per remote, into refs/notes/remotes/REMOTE/aiguard, read beside
    yours); `aiguard notes fetch` merges a remote's into refs/notes/aiguard.
    """


@notes.command("push")
@click.argument("remote", default="origin")
def notes_push(remote: str) -> None:
    """Push refs/notes/aiguard to REMOTE (fetching and merging theirs first)."""
    _notes_with_remote("push", remote)


@notes.command("fetch")
@click.argument("remote", default="origin")
def notes_fetch(remote: str) -> None:
    """Fetch REMOTE's refs/notes/aiguard and merge it into yours."""
    _notes_with_remote("fetch", remote)


def _notes_with_remote(action: str, remote: str) -> None:
    from aiguard.git import notes as line_notes
    from aiguard.git import runner

    require_repo()
    # A remote's name, not a URL: their notes are kept under refs/notes/remotes/<name>/aiguard.
    if remote not in runner.git(["remote"]).decode("utf-8", "replace").split():
        fail(f"{remote!r} is not a remote of this repository (`git remote -v` lists them, "
             "`git remote add NAME URL` adds one)")
    try:
        click.echo(getattr(line_notes, action)(remote))
    except runner.GitError as exc:
        fail(str(exc))


@notes.command("show")
@click.argument("rev", default="HEAD")
def notes_show(rev: str) -> None:
    """Print a commit's line record (JSON). A note holding two records of the commit
    (concurrent notes merged with cat_sort_uniq) prints as their union."""
    from aiguard.core import note_format
    from aiguard.git import notes as line_notes
    from aiguard.git import runner

    require_repo()
    sha = runner.rev_parse(rev)
    if sha is None:
        fail(f"{rev!r} is not a commit here")
    data = line_notes.read_one(sha)
    if data is None:
        fail(f"{rev} has no aiguard line record", 1)
    if len([line for line in data.splitlines() if line.strip()]) > 1:
        record = note_format.decode(data)
        if record is not None:
            data = note_format.encode(record.added, record.files)
    click.echo(data.decode("utf-8", "replace").rstrip("\n"))


@notes.command("post-commit", hidden=True)
def notes_post_commit() -> None:
    """What the post-commit hook runs."""
    from aiguard.hook import run as hook

    sys.exit(hook.run(["notes", "post-commit"]))


@notes.command("post-rewrite", hidden=True)
@click.argument("kind", required=False)
def notes_post_rewrite(kind: str | None) -> None:
    """What the post-rewrite hook runs (old/new pairs on stdin)."""
    from aiguard.hook import run as hook

    sys.exit(hook.run(["notes", "post-rewrite"]))


COMMANDS = [notes]
