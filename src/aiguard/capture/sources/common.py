"""What every source uses: the records a parser yields (Output, Skip), bounded readers for
logs and payloads that may be huge or hostile, and small parsing helpers."""


from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, NamedTuple, Union


StrPath = Union[str, "os.PathLike[str]"]  # a file to open: a path as a string or a Path


class Output(NamedTuple):
    """A piece of text an external model wrote."""

    tool: str
    model: str
    text: str
    file: str | None
    cwd: str | None  # the session's working directory; the ledger stores its git repository
    time: float | None
    source: str  # "assistant-log" or "assistant-hook"


class Folders(NamedTuple):
    """Where an assistant lives on this machine, its own environment overrides applied
    (what every assistant's ``folders()`` returns)."""

    settings: list[Path]  # its configuration folders: hooks are wired here; the first existing
    #                       one (else the first) is where it counts as installed; [] if none
    logs: list[Path]  # its log roots (folders, or log files themselves)


class Skip(NamedTuple):
    where: str  # file:line
    reason: str


def complete_lines(data: bytes) -> bytes:
    """The part of appended bytes that ends with a newline (a last line being written waits)."""
    end = data.rfind(b"\n")
    return data[:end + 1] if end >= 0 else b""


# Reading logs and payloads ---------------------------------------------------------------
# Every log, transcript and payload is read through these: regular files only (a FIFO or a
# device named like a log never blocks nor streams without end), a byte cap on every read,
# an over-long line skipped with its length, JSON nested too deeply turned into a bad line.

MAX_READ = 8 << 20  # bytes of complete lines handed to a parser at once
MAX_LINE = MAX_READ  # a longer line is skipped (advancing past its newline)
MAX_WHOLE = 128 << 20  # a log read whole (a JSON document rewritten by its assistant)
MAX_PAYLOAD = 64 << 20  # a hook payload on stdin
_SCAN = 1 << 20


class Unreadable(Exception):
    """A log that cannot be read at all: the message says why (one line)."""


class Chunk(NamedTuple):
    data: bytes  # complete lines (with final, also a last line without its newline)
    end: int  # the offset to read from next time
    skipped: list[Skip]  # over-long lines, each with its length


def open_regular(path: StrPath, flags: int = 0) -> BinaryIO:
    """A regular file opened for reading; Unreadable for anything else or an OS error.

    O_NONBLOCK so that opening a FIFO returns at once (then fstat says what it is).
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_BINARY", 0) | flags)
    except OSError as exc:
        raise Unreadable(f"cannot read ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Unreadable("not a regular file" + (" (a FIFO)" if stat.S_ISFIFO(mode) else ""))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_lines(path: StrPath, offset: int = 0, budget: int = MAX_READ, final: bool = False) -> Chunk:
    """Complete lines from `offset`, at most `budget` bytes of them.

    A line longer than MAX_LINE is left out (reported once, with its length, when its
    newline is found) and reading goes on after it. Without `final`, a last line with no
    newline yet is left for next time (a tailer); with it, it is handed over as it is.
    """
    skipped: list[Skip] = []
    budget = max(budget, MAX_LINE)  # a shorter budget would take a long line for an over-long one
    try:
        with open_regular(path) as fh:
            while True:
                fh.seek(offset)
                data = fh.read(budget)
                end = data.rfind(b"\n")
                if end >= 0:
                    data = data[:end + 1]
                    return Chunk(_drop_long_lines(path, offset, data, skipped), offset + end + 1, skipped)
                if len(data) < budget and len(data) <= MAX_LINE:  # at the end of the file
                    return Chunk(data if final else b"", offset + len(data) if final else offset, skipped)
                newline = _find_newline(fh, offset + len(data))
                if newline is None and not final:
                    return Chunk(b"", offset, skipped)  # still being written: its newline decides
                stop = newline + 1 if newline is not None else fh.tell()
                skipped.append(_long_line(path, offset, stop - offset))
                offset = stop
                if newline is None:
                    return Chunk(b"", offset, skipped)
    except OSError as exc:
        raise Unreadable(f"cannot read ({exc.strerror})") from None


def iter_lines(path: StrPath, offset: int = 0, budget: int = MAX_READ) -> Iterator[Chunk]:
    """A whole file as Chunks of complete lines (the last one may lack its newline)."""
    while True:
        chunk = read_lines(path, offset, budget, final=True)
        if chunk.end == offset and not chunk.skipped:
            return
        yield chunk
        offset = chunk.end


def read_whole(path: StrPath, limit: int = MAX_WHOLE) -> bytes:
    """A whole (regular) file of at most `limit` bytes."""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(limit + 1) if size <= limit else b""
    except OSError as exc:
        raise Unreadable(f"cannot read ({exc.strerror})") from None
    if size > limit or len(data) > limit:
        raise Unreadable(f"{max(size, len(data))} bytes, over the {limit >> 20} MiB limit for a file read whole")
    return data


def read_tail(path: StrPath, size: int) -> bytes:
    """The last `size` bytes of a regular file (b"" when it is none or cannot be read)."""
    try:
        with open_regular(path) as fh:
            length = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, length - size))
            return fh.read(size)
    except (Unreadable, OSError):
        return b""


def read_payload(stream: BinaryIO, limit: int = MAX_PAYLOAD) -> bytes:
    """A hook payload from a stream, refused beyond `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"payload over the {limit >> 20} MiB limit; not read")
    return data


def loads(raw: bytes | str, strict: bool = True) -> object:
    """json.loads, with JSON nested deeper than Python can parse as a ValueError (`strict`
    False: raw control characters allowed in strings)."""
    try:
        return json.loads(raw, strict=strict)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def tool_arguments(value: object) -> dict:
    """A tool call's arguments, given as an object or as its JSON text (both forms occur in
    the same logs); {} for anything else."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def json_document(path: object, data: bytes) -> object:
    """A log read whole as one JSON document (Amp's threads, Continue's sessions, Cline's task
    histories, Copilot's chat sessions), or a Skip when it is not JSON: most often a file caught
    mid-write, read again when it next changes."""
    try:
        return loads(data)
    except ValueError:
        return Skip(f"{path}:1", "not JSON (caught mid-write?)")


def seen_mark(*parts: object) -> str:
    """What a source keeps in `state["seen"]` for an output it reported from a log or store read
    whole again each time (the call's id, file and text, say): a short digest, not the text."""
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()[:24]


def column_json(raw: object) -> object:
    """The JSON value a database column holds as text or bytes (SQLite stores: Cursor's,
    OpenCode's, Goose's); None when it holds no text or no JSON."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    try:
        return loads(raw)
    except ValueError:
        return None


def _find_newline(fh: BinaryIO, position: int) -> int | None:
    fh.seek(position)
    while True:
        block = fh.read(_SCAN)
        if not block:
            return None
        found = block.find(b"\n")
        if found >= 0:
            return position + found
        position += len(block)


def _long_line(path: object, offset: int, length: int) -> Skip:
    return Skip(f"{path}: byte {offset}", f"a line of {length} bytes, over the {MAX_LINE >> 20} MiB limit; skipped")


def _drop_long_lines(path: object, offset: int, data: bytes, skipped: list[Skip]) -> bytes:
    """Complete lines with any longer than MAX_LINE emptied (their newline kept)."""
    if len(data) <= MAX_LINE:
        return data
    kept, start = [], 0
    for line in data.splitlines(keepends=True):
        if len(line) > MAX_LINE:
            skipped.append(_long_line(path, offset + start, len(line)))
            line = b"\n"
        kept.append(line)
        start += len(line)
    return b"".join(kept)


# Helpers every source shares -------------------------------------------------------------

def jsonl_objects(path: object, data: bytes) -> Iterator[tuple[str, dict] | Skip]:
    """(file:line, object) for each line of JSONL bytes; bad lines come out as Skip.

    A last line without its newline is still being written: a tailer reads it next time.
    """
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = loads(raw)
        except ValueError as exc:
            yield Skip(where, "partial last line" if number == len(lines) else
                       str(exc) if "nested" in str(exc) else "not JSON")
            continue
        if not isinstance(record, dict):
            yield Skip(where, "not a JSON object")
            continue
        yield where, record


def keyed_records(path: object, data: bytes, key: str) -> Iterator[tuple[object, dict, dict] | Skip]:
    """(record type, the object under `key`, the record) for each JSONL record of an event
    log whose `key` holds an object (Codex's `payload`, Copilot's `data`); bad lines as Skip,
    records of other shapes passed over (a newer log's, not errors)."""
    for item in jsonl_objects(path, data):
        if isinstance(item, Skip):
            yield item
            continue
        record = item[1]
        body = record.get(key)
        if isinstance(body, dict):
            yield record.get("type"), body, record


def files_under(root: Path, pattern: str = "*.jsonl", *, recursive: bool = True,
                where: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """A log file itself, or the files named `pattern` in a folder (and its subfolders unless
    not `recursive`) that `where` keeps, in a stable order: most assistants' log_files."""
    if root.is_file():
        yield root
    elif root.is_dir():
        found = root.rglob(pattern) if recursive else root.glob(pattern)
        yield from sorted(p for p in found if where is None or where(p))


def jsonl_files(root: Path) -> Iterator[Path]:
    """A log file itself, or the *.jsonl files under a folder, in a stable order."""
    return files_under(root)


def named(value: object, default: str = "unknown") -> str:
    """A name from a log or payload (a model's): the value when it is a non-empty string, else `default`."""
    return value if isinstance(value, str) and value else default


def listed(value: object) -> list:
    """A log field that should be a list, or [] when it is anything else (a hostile or newer log)."""
    return value if isinstance(value, list) else []


def parse_time(value: object) -> float | None:
    """Unix time of an ISO 8601 timestamp (a trailing Z is UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def absolute(file: str | None, cwd: str | None) -> str | None:
    """A path from a log made absolute against the session's working directory."""
    return file if not file or os.path.isabs(file) or not cwd else os.path.join(cwd, file)


def hook_outputs(tool: str, payload: dict, event: str,
                 texts: Callable[[object, object], list[tuple[str | None, str]]]) -> list[Output]:
    """What a post-tool-use hook payload of the common shape says the model wrote (Kiro,
    Firebender, Kimi CLI): `{"hook_event_name": event, "tool_name", "tool_input", ...}` read by
    `texts(tool_name, tool_input)`; the working directory from `cwd`, else `repo_working_dir`,
    else the first of `workspace_roots`; the model from `model`, else "unknown". Another event
    wrote nothing."""
    if payload.get("hook_event_name") != event:
        return []
    roots = payload.get("workspace_roots")
    places = [payload.get("cwd"), payload.get("repo_working_dir"), *(roots[:1] if isinstance(roots, list) else [])]
    cwd = next((place for place in places if isinstance(place, str) and place.strip()), None)
    named = payload.get("model")
    model = named.strip() if isinstance(named, str) and named.strip() else "unknown"
    return [Output(tool, model, text, absolute(file, cwd), cwd, None, "assistant-hook")
            for file, text in texts(payload.get("tool_name"), payload.get("tool_input"))]


def last_model(path: str | None, model_of: Callable[[dict], object], tail_bytes: int = 256 * 1024) -> str:
    """The model named by the last record of a transcript's tail that `model_of` finds one in."""
    if not path or not isinstance(path, str):
        return "unknown"
    tail = read_tail(path, tail_bytes)
    for raw in reversed(tail.split(b"\n")):
        if b'"model"' not in raw:
            continue
        try:
            record = loads(raw)
        except ValueError:
            continue
        model = model_of(record) if isinstance(record, dict) else None
        if isinstance(model, str) and model and model != "<synthetic>":
            return model
    return "unknown"


# SEARCH/REPLACE edit blocks: aider's (<<<<<<< SEARCH / ======= / >>>>>>> REPLACE, also
# Roo Code's apply_diff) and Cline's newer replace_in_file form (------- SEARCH / =======
# / +++++++ REPLACE). Only the REPLACE side is what the model wrote.
SEARCH_LINE = re.compile(r"^(?:<{5,9}|-{3,}) SEARCH>?\s*$")
DIVIDER_LINE = re.compile(r"^={5,9}\s*$")
REPLACE_LINE = re.compile(r"^(?:>{5,9}|\+{3,}) REPLACE>?\s*$")


def replace_sides(diff: str) -> list[str]:
    """The REPLACE side of each complete SEARCH/REPLACE block in a diff, in order."""
    texts: list[str] = []
    side: list[str] | None = None  # None: outside a block; collecting once past the divider
    in_search = False
    for line in diff.splitlines():
        if SEARCH_LINE.match(line):
            in_search, side = True, None
        elif in_search and DIVIDER_LINE.match(line):
            in_search, side = False, []
        elif side is not None and REPLACE_LINE.match(line):
            if "".join(side).strip():
                texts.append("\n".join(side) + "\n")
            side = None
        elif side is not None:
            side.append(line)
    return texts


def local_path(value: object) -> str | None:
    """A file path from a log, which may be a file:// URI (Windsurf writes those)."""
    if not isinstance(value, str) or not value:
        return None
    if not value.lower().startswith("file://"):
        return value
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(value)
    path = unquote(parts.path)
    if parts.netloc and parts.netloc != "localhost":
        return f"//{parts.netloc}{path}"  # a network share
    if re.match(r"^/[A-Za-z]:", path):
        path = path[1:]  # file:///C:/x is C:/x
    return path or None
