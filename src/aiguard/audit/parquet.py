"""`aiguard export --format parquet`: the history's AI record as one flat Parquet table, for
joining provenance onto a dataset of many repositories (schema `aiguard.provenance/1`,
docs/audit-and-export.md).

One row per line range of a commit (a commit's files and ranges, in path and line order);
a commit without ranges (commit-level evidence only, or no AI output) has one row whose
range columns are null. Every row carries its repository and its commit's facts, so a
dataset of (repository, commit, path, line) joins on it directly. Rows are written in
batches: memory stays constant in the length of the history. pyarrow is an optional
dependency (`aiguard[parquet]`), imported only here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

from aiguard import __version__
from aiguard.audit import history
from aiguard.audit.history import Entry
from aiguard.core.errors import AiguardError
from aiguard.git import runner

if TYPE_CHECKING:
    import pyarrow

SCHEMA = "aiguard.provenance/1"
BATCH_ROWS = 10_000

# (column, pyarrow type name, nullable): the documented schema, in order
COLUMNS: list[tuple[str, str, bool]] = [
    ("repository", "string", False),
    ("commit", "string", False),
    ("author", "string", False),
    ("date", "timestamp[ms, UTC]", False),
    ("stamped", "bool", False),
    ("evidence", "string", False),
    ("evidence_level", "string", True),
    ("assisted_by", "list<string>", False),
    ("ai_lines", "int64", False),
    ("added", "int64", True),
    ("unmatched_lines", "int64", True),
    ("path", "string", True),
    ("path_bytes", "binary", True),
    ("start_line", "int64", True),
    ("end_line", "int64", True),
    ("tool", "string", True),
    ("model", "string", True),
]


class ParquetUnavailable(AiguardError):
    pass


def require() -> Any:
    """pyarrow's modules (pyarrow, pyarrow.parquet), or one line saying how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ParquetUnavailable("--format parquet needs pyarrow: pip install 'aiguard[parquet]'") from None
    return pyarrow


def arrow_schema() -> pyarrow.Schema:
    pa = require()
    types = {"string": pa.string(), "bool": pa.bool_(), "int64": pa.int64(), "binary": pa.binary(),
             "list<string>": pa.list_(pa.string()), "timestamp[ms, UTC]": pa.timestamp("ms", tz="UTC")}
    return pa.schema([pa.field(name, types[kind], nullable=nullable) for name, kind, nullable in COLUMNS],
                     metadata={"aiguard.schema": SCHEMA, "aiguard.version": __version__,
                               "aiguard.commit_schema": history.SCHEMA})


_CREDENTIALS = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.I)


def repository_name(cwd: str | None = None) -> str:
    """The repository's identity for the `repository` column: the `origin` remote's URL without
    credentials (`https://host/owner/name.git`), else the name of the work tree's folder."""
    url = runner.git(["config", "--get", "remote.origin.url"], cwd=cwd, check=False).decode("utf-8", "replace").strip()
    if url:
        return _CREDENTIALS.sub(r"\1", url)
    top = runner.git(["rev-parse", "--show-toplevel"], cwd=cwd, check=False).strip() or \
        runner.git(["rev-parse", "--absolute-git-dir"], cwd=cwd).strip()  # a bare repository: its folder
    name = top.decode("utf-8", "replace").rstrip("/")
    return name.rsplit("/", 1)[-1] or name


def rows(e: Entry, repository: str) -> Iterable[tuple]:
    """The rows of one commit, as tuples in COLUMNS' order."""
    date = datetime.fromisoformat(e.date)
    head = (repository, e.commit, e.author, date, e.stamped, e.evidence,
            e.evidence_level, e.assisted_by, e.ai_lines, e.added, e.unmatched["lines"] if e.unmatched else None)
    written = False
    for path, ranges in sorted(e.files.items()):
        try:
            path.encode("utf-8")
            shown, raw = path, None
        except UnicodeEncodeError:
            raw = path.encode("utf-8", "surrogateescape")
            shown = raw.decode("utf-8", "backslashreplace")
        for r in ranges:
            written = True
            yield (*head, shown, raw, r.start, r.end, r.tool, r.model)
    if not written:
        yield (*head, None, None, None, None, None, None)


def write(entries: Iterable[Entry], path: str, repository: str) -> int:
    """Write the entries' rows to a Parquet file at `path`; the number of commits written."""
    pa = require()
    schema = arrow_schema()
    commits = 0
    batch: list[tuple] = []
    with pa.parquet.ParquetWriter(path, schema, compression="zstd") as writer:
        for e in entries:
            commits += 1
            batch.extend(rows(e, repository))
            if len(batch) >= BATCH_ROWS:
                writer.write_table(_table(pa, schema, batch))
                batch = []
        if batch or not commits:
            writer.write_table(_table(pa, schema, batch))
    return commits


def _table(pa: Any, schema: pyarrow.Schema, batch: list[tuple]) -> pyarrow.Table:
    columns = list(zip(*batch)) if batch else [() for _ in COLUMNS]
    return pa.Table.from_arrays([pa.array(list(values), type=field.type) for values, field in zip(columns, schema)],
                                schema=schema)
