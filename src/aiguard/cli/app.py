"""The `aiguard` command line (click). Each command is a thin shell over commands/."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Iterator

import click

from aiguard import __version__


def _assistants(hooked_only: bool = False) -> str:
    from aiguard.capture.sources import has_hooks, registry

    return ", ".join(name for name, module in registry().items() if has_hooks(module) or not hooked_only)


def _hook_files() -> str:
    from aiguard.capture.integrate import wirings

    def short(path: Path) -> str:
        return f"~{os.sep}{path.relative_to(Path.home())}" if path.is_relative_to(Path.home()) else str(path)

    return ", ".join(f"{name} {short(wiring.config)}" for name, wiring in wirings().items())


# Placeholders in help texts, filled in from the code's own registries when the help is shown.
_HELP_FIELDS = {"{assistants}": _assistants, "{hooked}": lambda: _assistants(hooked_only=True),
                "{hook_files}": _hook_files}


class _RegistryHelp(click.Command):
    """A command whose help names assistants: the names come from the registry, so they cannot
    drift, and only when the help is shown (importing every source costs each start)."""

    @property
    def help(self) -> str | None:  # type: ignore[override]
        text = self._help
        for field, fill in _HELP_FIELDS.items():
            if text and field in text:
                text = text.replace(field, fill())
        return text

    @help.setter
    def help(self, value: str | None) -> None:
        self._help = value


class _SourceChoice(click.Choice):
    """--source: one of the ledger's SOURCES, imported when first needed (the ledger is slow to import)."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self):  # type: ignore[override]
        from aiguard.store.ledger import SOURCES

        return SOURCES

    @choices.setter
    def choices(self, value) -> None:
        pass


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """Errors writing an output file name it (a failed write's OSError carries no file name);
    main() turns them into one line."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and path != "-":
            exc.filename = path
        raise


def fail(message: str, code: int = 2) -> None:
    click.echo(f"aiguard: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aiguard", message="%(prog)s %(version)s")
def cli() -> None:
    """Know where external-model output enters your repositories.

    aiguard keeps a private ledger of keyed fingerprints of what AI assistants
    and chat services wrote, and a git hook stamps each commit with
    `Assisted-by: TOOL:MODEL`, `AI-Lines: A/T` and a verifiable `AIGuard-Stamp`.
    """


@cli.command()
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


@cli.command()
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


@cli.command()
@click.option("--tool", help="Who wrote it: an assistant or a chat service, e.g. chatgpt (README lists them).")
@click.option("--model", help="The model, or 'unknown'.")
@click.option("--file", "file_", metavar="PATH", help="File the output was written to, when known.")
@click.option("--repo", metavar="DIR", help="Repository it was written into, when known.")
@click.option("--source", type=_SourceChoice(), default="manual", show_default=True, help="How it was captured.")
@click.option("--jsonl", type=click.File("r", encoding="utf-8", errors="replace"), default=None,
              help="Bulk: one JSON object a line (tool, model, text; optional file, repo, source, time). '-' is stdin.")
def record(tool, model, file_, repo, source, jsonl) -> None:
    """Record AI output (read from stdin) in the ledger, as keyed fingerprints only.

    \b
    Examples:
      pbpaste | aiguard record --tool chatgpt --model gpt-5
      aiguard record --tool claude-code --model claude-sonnet-4-5 --file src/x.py < snippet.py
      aiguard record --jsonl outputs.jsonl
    """
    from aiguard.store import keys
    from aiguard.capture import record as recorder
    from aiguard.store.config import ConfigError
    from aiguard.store.ledger import LedgerError

    errors: list[str] = []
    where: list[str] = []  # where each entry came from, for messages
    if jsonl is not None:
        if tool or model or file_ or repo:
            fail("--jsonl takes everything from the file; drop --tool/--model/--file/--repo")
        entries = []
        for label, item in recorder.read_jsonl(jsonl, jsonl.name):
            if isinstance(item, str):
                errors.append(f"{label}: {item}")
            else:
                entries.append(item)
                where.append(label)
    else:
        where = ["stdin"]
        if not tool or not model:
            fail("--tool and --model are required (or use --jsonl FILE)")
        from aiguard.core import names
        for option, value, kind in (("--tool", tool, "tool"), ("--model", model, "model")):
            if names.problem(value, kind):
                fail(f"{option}: {names.problem(value, kind)}")
        if sys.stdin.isatty():
            fail("pipe the model output on stdin, e.g. `pbpaste | aiguard record --tool chatgpt --model unknown`")
        entries = [recorder.entry_from_text(sys.stdin.buffer.read(), tool, model, source, file_, repo)]
    try:
        result = recorder.record(entries)
    except (keys.KeyUnavailable, LedgerError, ConfigError) as exc:
        fail(str(exc))
    for index, reason in result.skipped:
        click.echo(f"aiguard: {where[index]}: skipped: {reason}", err=True)
    for index, reason in result.renamed:
        click.echo(f"aiguard: {where[index]}: {reason}", err=True)
    for error in errors:
        click.echo(f"aiguard: {error}", err=True)
    parts = [f"recorded {result.added}"]
    if result.duplicates:
        parts.append(f"{result.duplicates} already known")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped")
    if errors:
        parts.append(f"{len(errors)} malformed")
    click.echo(", ".join(parts))
    if errors or (result.skipped and not result.added and not result.duplicates):
        sys.exit(2)


@cli.command(context_settings={"ignore_unknown_options": True})
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


@cli.command()
@click.option("--staged", "staged", is_flag=True, help="Attribute the staged change (the default).")
@click.argument("rev", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
def attribute(staged: bool, rev: str | None, as_json: bool) -> None:
    """Show which added lines match recorded AI output; changes nothing.

    \b
    Examples:
      aiguard attribute              # what is staged now
      aiguard attribute HEAD --json  # what the last commit added
    """
    from aiguard.store import keys
    from aiguard.git import runner
    from aiguard.cli import attribute as attributer
    from aiguard.store.ledger import LedgerError

    if staged and rev:
        fail("give either --staged or REV, not both")
    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")
    try:
        result = attributer.attribute(rev)
    except (runner.GitError, keys.KeyUnavailable, LedgerError) as exc:
        fail(str(exc))
    from aiguard.core.names import visible

    for note in result.notes:  # what was not matched, and why: on stderr in both modes
        click.echo(f"aiguard: {visible(note)}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(attributer.format_text(result))


@cli.command()
@click.option("--repo", type=click.Path(exists=True, file_okay=False), default=None,
              help="Repository to check the hooks and policy of.")
def doctor(repo: str | None) -> None:
    """Say, line by line, what works and what does not (exit 1 if anything fails).

    One line per part: the git hooks and the repository's policy (.aiguard.toml or
    [tool.aiguard]), the ledger, the config, the daemon, the key store, each
    assistant's logs (and how many are past the retention period) and whether its
    hook is wired, and the clipboard.
    """
    from aiguard.cli import doctor as doc

    lines = doc.run(repo)
    for line in lines:
        click.echo(str(line))
    if not all(line.ok for line in lines):
        sys.exit(1)


@cli.group()
def ledger() -> None:
    """Look after the ledger: statistics and retention."""


@ledger.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ledger_stats(as_json: bool) -> None:
    """Records, fingerprints, size, and records per tool and model."""
    from aiguard.store.ledger import Ledger, LedgerError
    from aiguard.store import paths
    from aiguard.core.names import visible

    try:
        ledger_ = Ledger.open_readonly()
    except LedgerError as exc:
        fail(str(exc))
    if ledger_ is None:
        stats = {"path": str(paths.ledger_path()), "schema": 0, "records": 0, "fingerprints": 0, "waiting": 0,
                 "common_code": 0, "oldest": None, "newest": None, "bytes": 0, "index_bytes": 0, "by_tool": []}
    else:
        with ledger_:
            stats = ledger_.stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"ledger: {stats['path']}")
    click.echo(f"records: {stats['records']}  fingerprints: {stats['fingerprints']}  size: {stats['bytes'] // 1024} KiB")
    from datetime import datetime, timezone

    for label in ("oldest", "newest"):
        if stats[label]:
            when = datetime.fromtimestamp(stats[label], timezone.utc).isoformat(timespec="seconds")
            click.echo(f"{label}: {when}")
    for row in stats["by_tool"]:
        click.echo(f"  {visible(row['tool'])}:{visible(row['model'])} ({row['source']}): {row['records']}")


@ledger.command("compact")
def ledger_compact() -> None:
    """Move recorded fingerprints from SQLite into the index file now.

    Writers do this when enough has piled up, and the daemon when recording has
    been idle; this is for scripts that record in bulk without the daemon.
    """
    from aiguard.store import paths
    from aiguard.store.ledger import Ledger, LedgerError

    if not paths.ledger_path().exists():
        click.echo("moved 0 fingerprints (no ledger yet)")
        return
    try:
        with Ledger.open() as ledger_:
            moved = ledger_.compact()
            index, size = ledger_.index_path, ledger_.stats()["index_bytes"]
    except (LedgerError, OSError) as exc:
        fail(str(exc))
    click.echo(f"moved {moved} fingerprints into {index} ({size // 1024} KiB)")


@ledger.command("prune")
@click.option("--older-than", "days", type=float, default=None,
              help="Days to keep (default: retention-days from the config, 180).")
def ledger_prune(days: float | None) -> None:
    """Delete records older than the retention period."""
    from aiguard.store import config
    from aiguard.store.ledger import Ledger, LedgerError
    from aiguard.store import paths

    try:
        keep = days if days is not None else config.load().retention_days
    except config.ConfigError as exc:
        fail(str(exc))
    if not keep > 0:  # nan too
        fail("--older-than must be a positive number of days")
    if not paths.ledger_path().exists():
        click.echo("pruned 0 records (no ledger yet)")
        return
    try:
        with Ledger.open() as ledger_:
            removed = ledger_.prune(keep)
    except (LedgerError, config.ConfigError) as exc:
        fail(str(exc))
    click.echo(f"pruned {removed} records older than {keep:g} days")


@cli.command()
@click.argument("range_", metavar="[RANGE]", required=False)
@click.option("--format", "format_", type=click.Choice(["text", "json", "github", "junit", "sarif"]), default="text",
              show_default=True, help="Output format (sarif: SARIF 2.1.0 for GitHub code scanning).")
@click.option("--base", metavar="REF", default=None,
              help="Branch or commit to compare against (default: the default branch); ignored with RANGE.")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the report to FILE.")
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
    if output:
        with _naming(output), open(output, "w", encoding="utf-8") as fh:
            fh.write(text + ("" if text.endswith("\n") else "\n"))
        if format_ in ("junit", "json", "sarif"):
            click.echo(verifier.format_text(report))
    else:
        click.echo(text)
    if not squash_trailers and not report.ok:
        sys.exit(1)


# Audit and export ------------------------------------------------------------------------------

def _require_repo() -> None:
    from aiguard.git import runner

    if not runner.in_repo():
        fail(f"{os.getcwd()} is not in a git repository")


def _entries(range_: tuple[str, ...], ledger_fallback: bool, diff: bool = True) -> list:
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    _require_repo()
    try:
        return audit.read(range_, ledger_fallback=ledger_fallback, diff=diff)
    except (history.HistoryError, runner.GitError) as exc:
        fail(str(exc))
    return []


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


@cli.command("log", cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, one object per commit (newest first).")
@_LEDGER_OPTION
@_DIFF_OPTION
def log_(range_: tuple[str, ...], as_json: bool, ledger_fallback: bool, no_diff: bool) -> None:
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

    entries = _entries(range_, ledger_fallback, diff=not no_diff)
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=1))
    else:
        audit.log_text(entries, sys.stdout)


@cli.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--format", "format_", type=click.Choice(["jsonl", "agent-trace"]), default="jsonl", show_default=True,
              help="jsonl: one commit a line (the `log --json` objects); agent-trace: Agent Trace records.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to FILE instead of stdout.")
@_LEDGER_OPTION
@_DIFF_OPTION
def export(range_: tuple[str, ...], format_: str, output: str, ledger_fallback: bool, no_diff: bool) -> None:
    """Export the AI record of a history for training-data pipelines.

    jsonl: one object a line per commit, newest first, schema `aiguard.commit/1`
    (see README); agent-trace: one Agent Trace record (spec 0.1.0) per
    AI-derived commit. RANGE is anything `git log` takes; default: all of HEAD.

    \b
    Examples:
      aiguard export --format jsonl > commits.jsonl
      aiguard export main --format agent-trace -o traces.jsonl
    """
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    _require_repo()
    with _naming(output):
        out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
        try:
            audit.export(audit.stream(range_, ledger_fallback=ledger_fallback, diff=not no_diff), format_, out)
        except (history.HistoryError, runner.GitError) as exc:
            fail(str(exc))
        finally:
            if out is not sys.stdout:
                out.close()


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--rev", default=None, help="Blame the file as of this commit (default: the working tree).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line of the file.")
def blame(file: str, rev: str | None, as_json: bool) -> None:
    """git blame, plus which lines came from which tool/model.

    A line shows TOOL:MODEL when the commit that last changed it recorded that line
    as AI output; TOOL:MODEL? when only the commit is known to be AI-assisted (no
    line record, e.g. another tool's Co-authored-by trailer).
    """
    from aiguard.audit import history
    from aiguard.git import runner
    from aiguard.audit import views as audit

    _require_repo()
    try:
        rows = audit.blame(file, rev)
    except (history.HistoryError, runner.GitError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(audit.blame_json(rows), ensure_ascii=False, indent=1))
    else:
        audit.blame_text(rows, sys.stdout)


@cli.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--depth", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Directory depth for the by-path table.")
@_LEDGER_OPTION
def stats(range_: tuple[str, ...], as_json: bool, depth: int, ledger_fallback: bool) -> None:
    """Share of AI-derived lines by month, author, tool, model and directory."""
    from aiguard.audit import views as audit

    result = audit.stats(_entries(range_, ledger_fallback), depth)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        audit.stats_text(result, sys.stdout)


@cli.command(cls=_GitLogArgs, context_settings={"ignore_unknown_options": True})
@click.argument("range_", metavar="[RANGE]", nargs=-1, type=click.UNPROCESSED)
@click.option("--html", "html_out", type=click.Path(dir_okay=False), required=True,
              help="Write the report to this HTML file.")
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
    with _naming(html_out):
        Path(html_out).write_text(reporter.render(entries, summary, name, checks), encoding="utf-8")
    click.echo(f"wrote {html_out}: {summary['commits']} commits, {summary['ai_commits']} AI-derived, "
               f"AI lines {summary['ai_lines']}/{summary['added']}")


@cli.group()
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

    _require_repo()
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
    from aiguard.git import notes as line_notes
    from aiguard.git import runner

    _require_repo()
    sha = runner.rev_parse(rev)
    if sha is None:
        fail(f"{rev!r} is not a commit here")
    data = line_notes.read_one(sha)
    if data is None:
        fail(f"{rev} has no aiguard line record", 1)
    if len([line for line in data.splitlines() if line.strip()]) > 1:
        record = line_notes.decode(data)
        if record is not None:
            data = line_notes.encode(record.added, record.files)
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


@cli.group()
def key() -> None:
    """The team's stamp key: make, move and rotate it.

    \b
    The team makes one key (`aiguard key init` then `aiguard key export`), keeps
    it as the CI secret AIGUARD_KEY, and every developer runs `aiguard key import`
    so their hooks sign with it. Rotation keeps old keys to verify old stamps.
    """


@key.command("init")
def key_init() -> None:
    """Make the keys if there are none; print the stamp key's id."""
    from aiguard.store import keys

    try:
        keyset = keys.load(create=True)
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} ({keyset.store})")


@key.command("export")
def key_export() -> None:
    """Print the current stamp key (a secret: store it as AIGUARD_KEY in CI)."""
    from aiguard.store import keys

    try:
        keyset = keys.load(create=False)
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(keys.format_key(keyset.stamp_keys[-1][1]))


@key.command("import")
@click.argument("value", required=False)
def key_import(value: str | None) -> None:
    """Make a team key (aiguard-key-v1:...) the signing key; read from stdin without VALUE."""
    from aiguard.store import keys

    text = value if value is not None else sys.stdin.read()
    if not text.strip():
        fail("no key given: pass the aiguard-key-v1:... that `aiguard key export` printed, as VALUE or on stdin")
    try:
        keyset = keys.add_stamp_key(keys.parse_key(text))
    except keys.KeyUnavailable as exc:
        fail(str(exc).replace("AIGUARD_KEY", "the key"))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} now signs; {len(keyset.stamp_keys)} key(s) kept")


@key.command("rotate")
def key_rotate() -> None:
    """Make a new signing key; older keys are kept so their stamps still verify."""
    from aiguard.store import keys

    try:
        keyset = keys.add_stamp_key(keys.new_stamp_key())
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} now signs; export it and update AIGUARD_KEY "
               f"(keep the old ones there too: {', '.join(k for k, _ in keyset.stamp_keys[:-1])})")


@cli.command(cls=_RegistryHelp)
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(exists=True))
def ingest(paths: tuple[str, ...]) -> None:
    """Read assistant logs once into the ledger (default: every known log location).

    Assistants read: {assistants}. Ingesting the same log again adds nothing; output
    older than the retention period (retention-days in the config) is not recorded,
    and the summary says how much was left out.

    \b
    Examples:
      aiguard ingest
      aiguard ingest ~/.claude/projects/-home-me-repo/0b7c....jsonl
    """
    from aiguard.store import keys
    from aiguard.store import paths as state
    from aiguard.capture.ingest import ingest as run_ingest
    from aiguard.store.config import ConfigError
    from aiguard.store.ledger import LedgerError

    try:
        result = run_ingest(paths)
    except (keys.KeyUnavailable, LedgerError, ConfigError) as exc:
        fail(str(exc))
    for reason in result.skipped:
        click.echo(f"aiguard: skipped {reason}", err=True)
    for reason in result.renamed:
        click.echo(f"aiguard: {reason}", err=True)
    if result.too_old:
        logs = result.too_old_logs
        more = f" and {len(logs) - 1} more logs" if len(logs) > 1 else ""
        click.echo(f"aiguard: not recorded: {result.too_old} outputs older than the retention period "
                   f"({result.retention_days:g} days) in {logs[0]}{more} "
                   f"(retention-days in {state.config_path()} keeps them longer)", err=True)
    click.echo(f"read {result.files} log files: recorded {result.added}, {result.duplicates} already known, "
               f"{result.too_old} older than the retention period, {len(result.skipped)} skipped")


@cli.command("agent-hook", cls=_RegistryHelp)
@click.argument("tool")
def agent_hook(tool: str) -> None:
    """What an assistant's native hook runs: record what it wrote (JSON payload on stdin).

    TOOL is one of: {hooked}
    (`aiguard integrate TOOL` writes the hook). Never blocks the assistant: always
    exits 0, prints what the assistant expects back (if anything), and problems are
    one line on stderr.
    """
    from aiguard.capture.ingest import answer_hook

    reply, problem = answer_hook(tool, sys.stdin.buffer)
    if problem:
        click.echo(problem, err=True)
    if reply:
        click.echo(reply)


@cli.command(cls=_RegistryHelp)
@click.argument("tool", required=False)
@click.option("--undo", is_flag=True, help="Remove aiguard's entries instead.")
@click.option("--all", "all_", is_flag=True,
              help="Every assistant whose settings folder exists here; one line each.")
def integrate(tool: str | None, undo: bool, all_: bool) -> None:
    """Wire aiguard into an assistant's own hooks, so that what its model writes is recorded.

    TOOL is one of: {assistants}.
    The hook runs `aiguard agent-hook TOOL` after each file write; it goes into:
    {hook_files} (CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_CLI_HOME, CURSOR_CONFIG_DIR
    and COPILOT_HOME honoured; trust Codex's once in its /hooks). An assistant without
    hooks says so, exit 0.

    The user's other settings keep their bytes, a changed file is backed up beside
    itself (.aiguard-backup), running it twice changes nothing, and --undo gives back
    the file as it was. A settings file the assistant could not read either: exit 2.

    \b
    Examples:
      aiguard integrate claude-code
      aiguard integrate codex --undo
      aiguard integrate --all            # wired / already wired / not found / no hooks
      aiguard integrate --all --undo
    """
    from aiguard.capture.integrate import IntegrateError, integrate_all, integrate_one
    from aiguard.capture.sources import registry

    if all_ and tool:
        fail("give either an assistant or --all, not both")
    if all_:
        lines = integrate_all(undo=undo)
        for ok, line in lines:
            click.echo(line, err=not ok)
        sys.exit(0 if all(ok for ok, _ in lines) else 2)
    if tool not in registry():
        fail((f"unknown assistant {tool!r}" if tool else "name an assistant or give --all")
             + f"; one of: {', '.join(registry())}")
    try:
        click.echo(integrate_one(tool, undo=undo))
    except IntegrateError as exc:
        fail(str(exc))


@cli.group()
def daemon() -> None:
    """The background process: follows the assistants' logs, watches the clipboard and
    keeps the commit hook's server warm."""


@daemon.command("run")
def daemon_run() -> None:
    """Run in the foreground until SIGTERM or SIGINT."""
    from aiguard.daemon import loop

    sys.exit(loop.run())


@daemon.command("start")
def daemon_start() -> None:
    """Start in the background (one instance per user)."""
    from aiguard.daemon import service as d

    try:
        pid = d.start()
    except RuntimeError as exc:
        fail(str(exc))
    click.echo(f"aiguard daemon running (pid {pid}); log: {d.log_path()}")


@daemon.command("stop")
def daemon_stop() -> None:
    """Stop the background daemon."""
    from aiguard.daemon import service as d

    try:
        stopped = d.stop()
    except RuntimeError as exc:
        fail(str(exc))
    click.echo("aiguard daemon stopped" if stopped else "aiguard daemon was not running")


@daemon.command("status")
def daemon_status() -> None:
    """Exit 0 when the daemon is running, 1 when it is not."""
    from aiguard.daemon import service as d

    pid = d.running_pid()
    if pid:
        click.echo(f"aiguard daemon running (pid {pid}); log: {d.log_path()}")
    else:
        click.echo("aiguard daemon not running")
        sys.exit(1)


@daemon.command("install-service")
@click.option("--enable/--no-enable", default=True, show_default=True,
              help="Also enable and start it (systemctl --user, launchctl, or a Scheduled Task).")
def daemon_install_service(enable: bool) -> None:
    """Run the daemon at login: a systemd user unit (Linux), a launchd agent (macOS)
    or a Scheduled Task (Windows)."""
    import subprocess

    from aiguard.daemon import service as d

    path, content, command = d.service_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    click.echo(f"wrote {path}")
    if not enable:
        click.echo(f"enable it with: {' '.join(command)}")
        return
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        fail(f"{command[0]} is not available here; the service file is written, enable it by hand")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        fail(f"`{' '.join(command)}` failed: {said[-1] if said else f'exit {done.returncode}'}; "
             "the service file is written, enable it by hand")
    click.echo(f"enabled: {' '.join(command)}")


@daemon.command("uninstall-service")
def daemon_uninstall_service() -> None:
    """Undo install-service: stop and disable the service and remove its file
    (nothing to do when none is installed)."""
    from aiguard.daemon import service as d

    click.echo(d.uninstall_service())
