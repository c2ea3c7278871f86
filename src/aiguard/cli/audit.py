"""`verify`, `log`, `export`, `blame`, `stats`, `report`: what the history says, and CI enforcement."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from aiguard.cli.common import naming, require_repo, fail


@click.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--format", "format_", type=click.Choice(["text", "json", "github", "junit", "sarif"]), default="text",
              show_default=True, help="Output format (sarif: SARIF 2.1.0 for GitHub code scanning).")
@click.option("--base", metavar="REF", default=None,
              help="Branch or commit to compare against (default: the default branch); ignored with RANGE.")
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write the report to FILE ('-': stdout, as without it).")
@click.option("--summary/--no-summary", default=True, show_default=True,
              help="With --format github, append a table to $GITHUB_STEP_SUMMARY.")
@click.option("--squash-trailers", is_flag=True,
              help="Print one trailer block for the whole range (to paste into a squash-merge message).")
@click.option("--audit", is_flag=True,
              help="Audit the default branch after merge: a squash merge carrying its commits' aiguard "
                   "trailers is a warning (rule squash-merge), not a missing stamp.")
@click.option("--message-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Check one commit message's claims against the policy (warns; for a commit-msg hook).")
def verify(range_: str | None, format_: str, base: str | None, output: str | None, summary: bool,
           squash_trailers: bool, audit: bool, message_file: str | None) -> None:
    """Enforce the repository's AI policy over a range of commits (CI).

    Default RANGE: the current branch's commits not on the default branch (under
    GitHub Actions: the pull request's head, or the merge queue's commits; under
    pre-commit's pre-push stage: the pushed commits). Checks that every commit
    carries a genuine AIGuard-Stamp bound to its change and claims, and the
    policy in .aiguard.toml or [tool.aiguard]. The team key comes from
    AIGUARD_KEY (or the local key store); without it signatures are not checked.

    Exit 0: no errors; 1: errors found; 2: usage or environment error.

    \b
    Examples:
      aiguard verify                      # this branch against main
      aiguard verify origin/main..HEAD --format json
      aiguard verify --format github      # in a GitHub Actions step
    """
    from aiguard.store import keys
    from aiguard.audit import policy
    from aiguard.git import runner
    from aiguard.audit import verify as verifier

    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
    try:
        if message_file:
            rules = policy.load(Path(runner.toplevel()))
            for line in verifier.check_message_file(message_file, rules):
                click.echo(f"aiguard: warning: {line}", err=True)
            return
        default = not range_
        if not range_ and os.environ.get("PRE_COMMIT_FROM_REF") and os.environ.get("PRE_COMMIT_TO_REF"):
            range_ = f"{os.environ['PRE_COMMIT_FROM_REF']}..{os.environ['PRE_COMMIT_TO_REF']}"
        if not range_ and base:
            if not runner.rev_parse(base):
                fail(f"--base {base!r} is not a commit here")
            range_ = f"{base}..HEAD"
        label, rev_args, range_base = verifier.resolve_range(range_)
        rules = verifier.load_policy(range_base)
        report = verifier.verify(label, rev_args, rules, no_merges=default, audit=audit, base=range_base)
    except (policy.PolicyError, verifier.VerifyError, keys.KeyUnavailable, runner.GitError) as exc:
        fail(str(exc))
    if squash_trailers:
        text = verifier.squash_trailers(report)
    elif format_ == "json":
        text = json.dumps(report.to_json(), indent=2)
    elif format_ == "github":
        text = verifier.format_github(report)
        if summary:
            verifier.write_summary(report)
    elif format_ == "junit":
        text = verifier.format_junit(report)
    elif format_ == "sarif":
        text = verifier.format_sarif(report)
    else:
        text = verifier.format_text(report)
    if output and output != "-":
        with naming(output), open(output, "w", encoding="utf-8") as fh:
            fh.write(text + ("" if text.endswith("\n") else "\n"))
        if format_ in ("junit", "json", "sarif"):
            click.echo(verifier.format_text(report))
    else:
        click.echo(text)
    if not squash_trailers and not report.ok:
        sys.exit(1)


def _entries(range_: tuple[str, ...], ledger_fallback: bool, diff: bool = True) -> list:
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    require_repo()
    try:
        return audit.read(range_, ledger_fallback=ledger_fallback, diff=diff)
    except (history.HistoryError, runner.GitError) as exc:
        fail(str(exc))


class _GitLogArgs(click.Command):
    """A command whose RANGE is `git log` arguments: click drops a `--` (and would read options
    after it as its own), so everything from `--` on, paths, goes to RANGE as written."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = args.index("--") if "--" in args else len(args)
        rest = super().parse_args(ctx, args[:cut])
        ctx.params["range_"] = (*ctx.params.get("range_", ()), *args[cut:])
        return rest


_LEDGER_OPTION = click.option(
    "--ledger/--no-ledger", "ledger_fallback", default=True, show_default=True,
    help="For stamped commits without a line record (note), find their lines again against your ledger.")


_DIFF_OPTION = click.option(
    "--no-diff", "no_diff", is_flag=True,
    help="Read trailers and notes only, no diff (the fast path for training-data filters): "
         "`added` is null where only the diff would count it.")


_SIGNERS_OPTION = click.option(
    "--signers", "show_signers", is_flag=True,
    help="Name who made each personal stamp (v2 ssh) whose signature verifies against the allowed-signers "
         "file the policy names at HEAD (one ssh-keygen run per such commit).")


def _signers(shas: list[str]) -> dict[str, str]:
    from aiguard.audit import policy
    from aiguard.audit import verify as verifier
    from aiguard.git import runner

    try:
        found, why = verifier.personal_signers(shas)
    except (policy.PolicyError, verifier.VerifyError, runner.GitError) as exc:
        fail(str(exc))
        return {}
    if why:
        click.echo(f"aiguard: note: {why}", err=True)
    return found


@click.command("log", cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, one object per commit (newest first).")
@_LEDGER_OPTION
@_DIFF_OPTION
@_SIGNERS_OPTION
def log_(range_: tuple[str, ...], as_json: bool, ledger_fallback: bool, no_diff: bool, show_signers: bool) -> None:
    """What each commit says about AI output: tools, models, lines, evidence.

    Reads aiguard's trailers and line records (notes under refs/notes/aiguard) and
    other tools' marks (assistants' Co-authored-by, aider's author suffix, git-ai
    notes). RANGE is anything `git log` takes (A..B, a branch, -n 20, --since=...);
    default: all of HEAD's history.

    \b
    Examples:
      aiguard log origin/main..HEAD
      aiguard log --json v1.0..v2.0 > ai.json
    """
    from aiguard.audit import views as audit

    if show_signers:
        entries = _entries(range_, ledger_fallback, diff=not no_diff)
        signers = _signers([e.commit for e in entries if e.stamped])
        if as_json:
            audit.log_json(entries, sys.stdout, signers)
        else:
            audit.log_text(entries, sys.stdout, signers)
    elif as_json:
        from aiguard.audit import history
        from aiguard.git import runner

        require_repo()
        try:
            audit.log_json(audit.stream(range_, ledger_fallback=ledger_fallback, diff=not no_diff), sys.stdout)
        except (history.HistoryError, runner.GitError) as exc:
            fail(str(exc))
    else:
        audit.log_text(_entries(range_, ledger_fallback, diff=not no_diff), sys.stdout)


@click.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--format", "format_", type=click.Choice(["jsonl", "agent-trace", "parquet"]), default="jsonl",
              show_default=True, help="jsonl: one commit a line (the `log --json` objects); agent-trace: Agent Trace "
                                      "records; parquet: one row per line range (needs -o FILE and pyarrow).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to FILE instead of stdout.")
@click.option("--repository", metavar="NAME", default=None,
              help="With --format parquet, the `repository` column (default: origin's URL without credentials, "
                   "else the work tree's folder name).")
@_LEDGER_OPTION
@_DIFF_OPTION
def export(range_: tuple[str, ...], format_: str, output: str, repository: str | None, ledger_fallback: bool,
           no_diff: bool) -> None:
    """Export the AI record of a history for training-data pipelines.

    jsonl: one object a line per commit, newest first, schema `aiguard.commit/1`
    (see README); agent-trace: one Agent Trace record (spec 0.1.0) per
    AI-derived commit; parquet: one row per line range, schema
    `aiguard.provenance/1` (docs/audit-and-export.md). RANGE is anything
    `git log` takes; default: all of HEAD.

    \b
    Examples:
      aiguard export --format jsonl > commits.jsonl
      aiguard export main --format agent-trace -o traces.jsonl
      aiguard export --no-diff --format parquet -o provenance.parquet
    """
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    require_repo()
    if format_ == "parquet":
        _export_parquet(range_, output, repository, ledger_fallback, no_diff)
        return
    if repository is not None:
        fail("--repository goes with --format parquet (the JSON records do not name the repository)")
    with naming(output):
        out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
        try:
            audit.export(audit.stream(range_, ledger_fallback=ledger_fallback, diff=not no_diff), format_, out)
        except (history.HistoryError, runner.GitError) as exc:
            fail(str(exc))
        finally:
            if out is not sys.stdout:
                out.close()


def _export_parquet(range_: tuple[str, ...], output: str, repository: str | None, ledger_fallback: bool,
                    no_diff: bool) -> None:
    from aiguard.audit import history
    from aiguard.audit import parquet
    from aiguard.git import runner
    from aiguard.audit import views as audit

    if output == "-":
        fail("--format parquet writes a file: give -o FILE")
    try:
        parquet.require()
        name = repository or parquet.repository_name()
        with naming(output):
            parquet.write(audit.stream(range_, ledger_fallback=ledger_fallback, diff=not no_diff), output, name)
    except (history.HistoryError, runner.GitError, parquet.ParquetUnavailable) as exc:
        fail(str(exc))


@click.command()
@click.argument("file", type=click.Path())
@click.option("--rev", default=None, help="Blame the file as of this commit (default: the working tree).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line of the file.")
@_SIGNERS_OPTION
def blame(file: str, rev: str | None, as_json: bool, show_signers: bool) -> None:
    """git blame, plus which lines came from which tool/model.

    A line shows TOOL:MODEL when the commit that last changed it recorded that line
    as AI output; TOOL:MODEL? when only the commit is known to be AI-assisted (no
    line record, e.g. another tool's Co-authored-by trailer). With --signers, a column
    names who made the commit's personal stamp, where its signature verifies.
    """
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    require_repo()
    try:
        rows = audit.blame(file, rev)
    except (history.HistoryError, runner.GitError) as exc:
        fail(str(exc))
    signers = _signers(sorted({r.commit for r in rows if set(r.commit) != {"0"}})) if show_signers else None
    if as_json:
        click.echo(json.dumps(audit.blame_json(rows, signers), ensure_ascii=False, indent=1))
    else:
        audit.blame_text(rows, sys.stdout, signers)


@click.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--depth", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Directory depth for the by-path table.")
@_LEDGER_OPTION
@click.option("--no-diff", "no_diff", is_flag=True,
              help="Trailers and notes only, no diff (fast): commit-level shares only; added lines, line "
                   "shares and by-directory are not counted.")
def stats(range_: tuple[str, ...], as_json: bool, depth: int, ledger_fallback: bool, no_diff: bool) -> None:
    """Share of AI-derived lines by month, author, tool, model and directory."""
    from aiguard.audit import views as audit

    if no_diff:
        result = audit.commit_level(audit.stats(_entries(range_, ledger_fallback, diff=False), depth))
    else:
        result = audit.stats(_entries(range_, ledger_fallback), depth)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        audit.stats_text(result, sys.stdout)


@click.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--html", "html_out", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="Write the report to this HTML file ('-': stdout).")
@click.option("--title", default=None, help="The report's title (default: the repository's name).")
@click.option("--depth", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Directory depth for the by-directory chart.")
@_LEDGER_OPTION
def report(range_: tuple[str, ...], html_out: str, title: str | None, depth: int, ledger_fallback: bool) -> None:
    """One self-contained HTML report (no network): AI share and AI-derived commits over
    time, by tool/model and by directory, and a table of commits with each one's stamp
    and policy verdict, checked as `aiguard verify` checks them."""
    from aiguard.store import keys
    from aiguard.audit import policy
    from aiguard.git import runner
    from aiguard.audit import report as reporter
    from aiguard.audit import views as audit
    from aiguard.audit import verify as verifier

    entries = _entries(range_, ledger_fallback)
    summary = audit.stats(entries, depth)
    try:
        checks = audit.stamp_checks(range_)
    except (policy.PolicyError, verifier.VerifyError, keys.KeyUnavailable) as exc:
        fail(str(exc))
    name = title or f"AI provenance: {os.path.basename(runner.toplevel())}" + (f" ({' '.join(range_)})" if range_ else "")
    html = reporter.render(entries, summary, name, checks)
    if html_out == "-":  # not a file named "-" in the work tree
        sys.stdout.write(html)
    else:
        with naming(html_out):
            Path(html_out).write_text(html, encoding="utf-8")
    click.echo(f"wrote {html_out}: {summary['commits']} commits, {summary['ai_commits']} AI-derived, "
               f"AI lines {summary['ai_lines']}/{summary['added']}", err=html_out == "-")


COMMANDS = [verify, log_, export, blame, stats, report]
