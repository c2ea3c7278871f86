"""`aiguard record`: put model output into the ledger by hand or from scripts."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import IO, Iterable, Iterator

from aiguard.core.errors import AiguardError
from aiguard.store import config, keys
from aiguard.core import names
from aiguard.core.fingerprint import Hasher
from aiguard.store.ledger import MAX_TEXT_BYTES, SOURCES, AddResult, Entry, Ledger


class RecordError(AiguardError):
    pass


def parse_time(value: object) -> float | None:
    """Unix seconds, or an ISO 8601 string (a trailing Z is UTC); what no date can show
    (JSON's 1e400 or NaN, a 400-digit number, year 10000 in UTC) is an error."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _a_date(float(value), value)
        except OverflowError:
            raise RecordError(f"time {value!r} is not a date") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(f"time {value!r} is not ISO 8601 or unix seconds") from None
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()
        return _a_date(parsed.timestamp(), value)
    raise RecordError(f"time {value!r} is not ISO 8601 or unix seconds")


def _a_date(seconds: float, value: object) -> float:
    try:
        datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, ValueError, OSError):
        raise RecordError(f"time {value!r} is not a date") from None
    return seconds


# The most characters read from stdin or a JSONL line: the largest text the ledger keeps,
# each character escaped (`\\uXXXX`), fits with room to spare; a longer one is not read whole.
MAX_INPUT = 6 * MAX_TEXT_BYTES + (1 << 20)


def read_jsonl(stream: IO[str], name: str) -> Iterator[tuple[str, Entry | str]]:
    """(where, entry) for each line of a JSONL file; a malformed line's entry is its error."""
    number = 0
    while line := stream.readline(MAX_INPUT + 1):
        number += 1
        if len(line) > MAX_INPUT:
            while line and not line.endswith("\n"):  # step over the rest of it, a bounded piece at a time
                line = stream.readline(MAX_INPUT)
            yield f"{name}:{number}", f"line over {MAX_INPUT >> 20} MiB: not read"
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise RecordError("not a JSON object")
            missing = [k for k in ("tool", "model", "text") if not isinstance(data.get(k), str)]
            if missing:
                raise RecordError(f"missing or non-string {', '.join(missing)}")
            for kind in ("tool", "model"):
                if names.problem(data[kind], kind):
                    raise RecordError(names.problem(data[kind], kind))
            source = data.get("source", "manual")
            if source not in SOURCES:
                raise RecordError(f"source {source!r} is not one of {', '.join(SOURCES)}")
            yield f"{name}:{number}", Entry(
                tool=data["tool"], model=data["model"], text=data["text"], source=source,
                file=_opt_str(data.get("file")), repo=_repo(_opt_str(data.get("repo"))),
                time=parse_time(data.get("time")),
            )
        except (json.JSONDecodeError, RecordError) as exc:
            yield f"{name}:{number}", str(exc)
        except RecursionError:
            yield f"{name}:{number}", "nested too deeply to be a record"


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _repo(path: str | None) -> str | None:
    return os.path.abspath(os.path.expanduser(path)) if path else None


def record(entries: Iterable[Entry]) -> AddResult:
    retention = config.load().retention_days  # a broken config fails before anything is written
    keyset = keys.load(create=True)
    with Ledger.open() as ledger:
        result = ledger.add(entries, Hasher(keyset.ledger_key), keyset.ledger_key, keyset.ledger_id, retention)
        ledger.prune_if_due(retention)
    return result


def read_text(stream: IO[bytes]) -> bytes:
    """Model output from a stream (stdin), refused past MAX_INPUT bytes instead of read whole."""
    data = stream.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise RecordError(f"more than {MAX_INPUT >> 20} MiB: not read (the ledger keeps model output up to "
                          f"{MAX_TEXT_BYTES} characters)")
    return data


def entry_from_text(data: bytes, tool: str, model: str, source: str, file: str | None, repo: str | None) -> Entry:
    return Entry(tool=tool, model=model, text=data.decode("utf-8", "replace"), source=source,
                 file=file, repo=_repo(repo))
