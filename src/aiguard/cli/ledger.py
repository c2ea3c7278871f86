"""`ledger stats|compact|prune`: the local ledger."""

from __future__ import annotations

import json
from typing import Any

import click

from aiguard.cli.common import fail


@click.group()
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
    stats: dict[str, Any]
    if ledger_ is None:
        stats = {"path": str(paths.ledger_path()), "schema": 0, "records": 0, "fingerprints": 0, "waiting": 0,
                 "common_code": 0, "records_with_lines": 0, "line_hashes": 0, "oldest": None, "newest": None, "bytes": 0, "index_bytes": 0, "by_tool": []}
    else:
        with ledger_:
            stats = ledger_.stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"ledger: {stats['path']}")
    click.echo(f"records: {stats['records']}  fingerprints: {stats['fingerprints']}  size: {stats['bytes'] // 1024} KiB")
    click.echo(f"line hashes: {stats['line_hashes']} (of {stats['records_with_lines']} records)")
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


COMMANDS = [ledger]
