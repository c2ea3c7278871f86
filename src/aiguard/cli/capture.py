"""`record`, `ingest`, `agent-hook`, `integrate`: model output into the ledger."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import click

from aiguard.cli.common import fail


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
    def help(self) -> str | None:
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
    def choices(self) -> tuple[str, ...]:
        from aiguard.store.ledger import SOURCES

        return SOURCES

    @choices.setter
    def choices(self, value: object) -> None:
        pass


@click.command()
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
        if _endless(jsonl):
            fail(f"{jsonl.name}: a device, not a file or pipe of JSON lines")
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
        try:
            data = recorder.read_text(sys.stdin.buffer)
        except recorder.RecordError as exc:
            fail(f"stdin: {exc}")
        entries = [recorder.entry_from_text(data, tool, model, source, file_, repo)]
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


def _endless(stream) -> bool:
    """A device other than a terminal or /dev/null (/dev/zero, /dev/urandom): its lines may never end."""
    try:
        info = os.fstat(stream.fileno())
        empty = os.path.samestat(info, os.stat(os.devnull))
    except (OSError, ValueError):
        return False
    return (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)) and not empty and not stream.isatty()


@click.command(cls=_RegistryHelp)
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


@click.command("agent-hook", cls=_RegistryHelp)
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


@click.command(cls=_RegistryHelp)
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


COMMANDS = [record, ingest, agent_hook, integrate]
