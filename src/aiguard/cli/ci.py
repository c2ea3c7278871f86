"""`ci post-merge`: CI steps beyond `verify`."""

from __future__ import annotations

import json
import os
import sys

import click

from aiguard.cli.common import fail


@click.group()
def ci() -> None:
    """Steps for CI jobs beyond `aiguard verify`."""


@ci.command("post-merge")
@click.option("--base", metavar="REV", default=None,
              help="The branch the pull request was merged into, before the merge (or the pull request's base). "
                   "Under GitHub Actions on a merged pull request's `closed` event: its base.")
@click.option("--head", metavar="REV", default=None,
              help="The pull request's head (its last commit). GitHub Actions: the event's head.")
@click.option("--merged", metavar="REV", default=None,
              help="The commit the host made (squash), or the last one it made (rebase). Default: the event's "
                   "merge commit, else HEAD.")
@click.option("--method", type=click.Choice(["auto", "squash", "rebase"]), default="auto", show_default=True,
              help="auto: a rebase when the merged commit's patch-id is one of the pull request's commits.")
@click.option("--write-notes/--no-write-notes", default=True, show_default=True,
              help="Write the re-derived note of each merged commit under refs/notes/aiguard.")
@click.option("--push", "push_remote", metavar="REMOTE", default=None,
              help="Then push refs/notes/aiguard to REMOTE (fetching and merging its notes first).")
@click.option("--format", "format_", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format (github: annotations, then the text report).")
def post_merge(base: str | None, head: str | None, merged: str | None, method: str, write_notes: bool,
               push_remote: str | None, format_: str) -> None:
    """After a hosted "Squash and merge" or "Rebase and merge": check the merged commits
    against the pull request's own commits, and re-derive their notes.

    Finds the source commits (--base..--head; for a rebase, each merged commit's source by
    patch-id), verifies them as `aiguard verify` does, checks that each merged commit adds
    only their lines and that its trailers agree with theirs (AI-Lines, Assisted-by, quoted
    stamps unedited), and writes its note (refs/notes/aiguard) carried from theirs. The
    team key comes from AIGUARD_KEY, as for verify.

    Exit 0: consistent; 1: a mismatch or a verify error (one line each); 2: usage or
    environment error.

    \b
    Examples:
      aiguard ci post-merge --base main@{1} --head pr-head --merged main
      aiguard ci post-merge --base "$BEFORE" --head "$PR_HEAD" --push origin
    """
    from aiguard.audit import policy
    from aiguard.audit import post_merge
    from aiguard.audit import verify as verifier
    from aiguard.git import notes as line_notes
    from aiguard.git import runner
    from aiguard.store import keys

    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
    try:
        event_base, event_head, event_merged = post_merge.github_event_revisions()
        base = base or event_base
        head = head or event_head
        merged = merged or event_merged or "HEAD"
        if not base or not head:
            fail("give --base and --head (the branch before the merge and the pull request's head); "
                 "under GitHub Actions they come from a merged pull request's `closed` event")
        assert base is not None and head is not None
        rules = verifier.load_policy(base)
        outcome = post_merge.run(base, head, merged, rules, method, write_notes)
        pushed = None
        if push_remote and any(state == "written" for state in outcome.notes_state.values()):
            if push_remote not in runner.git(["remote"]).decode("utf-8", "replace").split():
                fail(f"{push_remote!r} is not a remote of this repository (`git remote -v` lists them)")
            pushed = line_notes.push(push_remote)
    except (policy.PolicyError, verifier.VerifyError, keys.KeyUnavailable, runner.GitError) as exc:
        fail(str(exc))
    if format_ == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2))
    elif format_ == "github":
        click.echo(post_merge.format_github(outcome))
    else:
        click.echo(post_merge.format_text(outcome))
    if pushed:
        click.echo(pushed, err=format_ == "json")
    if not outcome.ok:
        sys.exit(1)


COMMANDS = [ci]
