"""aider: the Markdown chat history it appends in each repository (.aider.chat.history.md).

A session starts at `# aider chat started at YYYY-MM-DD HH:MM:SS` (local time, the
only time in the file); `> ` lines are aider's own output, among them the model
banner (`> Models: M with diff edit format, weak model W`, `> Model: M with …`,
newer `> Main model: M with …` and, in architect mode, `> Editor model: E with
editor-diff edit format`: the editor model writes the edits); `#### ` lines are
the user's prompts; everything else is the model's reply, where code comes as
SEARCH/REPLACE blocks (the REPLACE side counts; the file name is on the line
before the fence or the marker), as whole files in a fence after their file name
(`whole` edit formats), as `+` lines of a ```diff fence (`udiff`), or as a
`*** Begin Patch` patch (`patch`). Only complete blocks count: a block still open
at the end of the data waits in `state` for the lines that finish it; one cut off
by aider's own output or a new session is skipped. The working directory is the
folder holding the history (aider writes it in the git root).

Where: per repository, so the roots are the history of the repository the command
runs in (found by looking for `.git` upwards, no git call) and aider's own
override `AIDER_CHAT_HISTORY_FILE` (absolute: that file; relative: in that
repository). Other repositories' histories come through `aiguard ingest PATH`
(a history file or a folder holding them). `.aider.llm.history` (opt-in) is not
read: it repeats the replies without the model, and its "TO LLM" parts hold the
user's files and the prompt's example edits. Facts: research §3.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Iterator

from aiguard.capture.sources.common import DIVIDER_LINE, Folders, Output, REPLACE_LINE, SEARCH_LINE, Skip, absolute, files_under
from aiguard.capture.sources.codex import patch_texts

NAME = "aider"
LABEL = "aider"
REWRITTEN = False
HOOK_REPLY = None
HISTORY = ".aider.chat.history.md"
LOG_NAMES = (HISTORY,)
HEADER = re.compile(r"^# aider chat started at (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*$")
MAIN_MODEL = re.compile(r"^> (?:Main model|Models|Model): (\S+) with (.*?)\s*edit format")
EDITOR_MODEL = re.compile(r"^> Editor model: (\S+) with (.*?)\s*edit format")
TOOL_LINE = re.compile(r"^>(?: .*)?  $")  # aider's output: quoted, with a Markdown line break
FENCE = re.compile(r"^(`{3,})\s*([\w+.#-]*)\s*$")
WHOLE_FORMATS = {"whole", "editor-whole"}


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def folders() -> Folders:
    """No settings folder aiguard writes to; the chat history is AIDER_CHAT_HISTORY_FILE when
    absolute, else that name (or .aider.chat.history.md) in the current repository."""
    return Folders([], _history_files())


def wiring() -> None:
    return None  # no hooks to wire


def _history_files() -> list[Path]:
    configured = os.environ.get("AIDER_CHAT_HISTORY_FILE")
    roots = []
    if configured and os.path.isabs(os.path.expanduser(configured)):
        roots.append(Path(configured).expanduser())
    try:
        repo = _git_root(Path.cwd())
    except OSError:  # the current folder was deleted
        repo = None
    if repo is not None:
        relative = configured if configured and not os.path.isabs(os.path.expanduser(configured)) else HISTORY
        if repo / relative not in roots:
            roots.append(repo / relative)
    return roots


def log_files(root: Path) -> Iterator[Path]:
    return files_under(root, HISTORY)


def sniff(first_line: bytes) -> bool:
    """The session header (the file itself starts with a blank line before it)."""
    return first_line.startswith(b"# aider chat started at ")


def _file_name(line: str, strict: bool) -> str | None:
    """The file named on a line before an edit block (`path/x.py`, `**x.py**`, `x.py:`)."""
    name = line.strip().strip("*`#:").strip()
    if not name or any(c.isspace() for c in name) or name.startswith(("```", "<<<", ">>>")):
        return None
    if strict and not any(c in name for c in "./\\"):
        return None  # a fence after a one-word prose line is not a whole file
    return name


def _session(state: dict) -> tuple[str, str]:
    """(model, edit format) that write the edits now: the editor model in architect mode."""
    if state.get("format") == "architect" and state.get("editor_model"):
        return state["editor_model"], state.get("editor_format", "")
    return state.get("model", "unknown"), state.get("format", "")


def _output(state: dict, text: str, file: str | None, cwd: str) -> Output:
    return Output(NAME, _session(state)[0], text, absolute(file, cwd), cwd, state.get("time"), "assistant-log")


def parse_log(path: Path, data: bytes, state: dict | None = None) -> Iterator[Output | Skip]:
    """Complete lines only; `state` carries the session (model, format, time) and an open block."""
    state = {} if state is None else state
    cwd = os.path.dirname(os.path.abspath(path))
    end = data.rfind(b"\n")
    for raw in data[:end].split(b"\n") if end >= 0 else []:
        state["line"] = state.get("line", 0) + 1
        where = f"{path}:{state['line']}"
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            block = state.pop("block", None)
            yield Skip(block["where"] if block else where,
                       "edit block with bytes that are not UTF-8" if block else "not UTF-8 text")
            continue
        yield from _line(line, where, state, cwd)


def _line(line: str, where: str, state: dict, cwd: str) -> Iterator[Output | Skip]:
    block = state.get("block")
    if block is not None:
        if not (HEADER.match(line) or TOOL_LINE.match(line)):
            yield from _in_block(line, block, state, cwd)
            return
        yield Skip(block["where"], "edit block cut off before its end")  # an interrupted reply
        state["block"] = None
    header = HEADER.match(line)
    if header:
        when = datetime.strptime(header.group(1), "%Y-%m-%d %H:%M:%S").timestamp()  # local time
        state.update(model="unknown", format="", editor_model=None, time=when, recent=[], file=None, ask=False)
        return
    if line.startswith(">"):  # aider's output
        main, editor = MAIN_MODEL.match(line), EDITOR_MODEL.match(line)
        if main:
            state.update(model=main.group(1), format=(main.group(2).split() or [""])[-1], editor_model=None)
        elif editor:
            state.update(editor_model=editor.group(1), editor_format=(editor.group(2).split() or [""])[-1])
        return
    if line.startswith("####"):  # the user's prompt: a new reply follows
        state.update(recent=[], file=None, ask=line.startswith("#### /ask"))
        return
    recent: list[str] = state.get("recent") or []
    edit_format = _session(state)[1]
    fence = FENCE.match(line)
    if SEARCH_LINE.match(line):
        candidates = recent[::-1]
        if candidates and FENCE.match(candidates[0]):
            candidates = candidates[1:]  # file name, fence, SEARCH
        file = (_file_name(candidates[0], strict=False) if candidates else None) or state.get("file")
        state["block"] = {"kind": "search", "where": where, "file": file, "lines": []}
    elif fence and not state.get("ask") and edit_format in WHOLE_FORMATS and recent \
            and _file_name(recent[-1], strict=True):
        state["block"] = {"kind": "whole", "where": where, "file": _file_name(recent[-1], strict=True),
                          "fence": fence.group(1), "lines": []}
    elif fence and not state.get("ask") and edit_format.startswith("udiff") and fence.group(2) == "diff":
        state["block"] = {"kind": "udiff", "where": where, "file": None, "fence": fence.group(1), "lines": []}
    elif line.strip() == "*** Begin Patch" and edit_format == "patch":
        state["block"] = {"kind": "patch", "where": where, "file": None, "lines": [line]}
    elif line.strip():
        state["recent"] = (recent + [line])[-2:]


def _in_block(line: str, block: dict, state: dict, cwd: str) -> Iterator[Output | Skip]:
    kind, lines = block["kind"], block["lines"]
    if kind == "search":
        if DIVIDER_LINE.match(line):
            block.update(kind="replace", lines=[])
        elif REPLACE_LINE.match(line):
            yield Skip(block["where"], "SEARCH block without its ======= line")
            state["block"] = None
    elif kind == "replace":
        if REPLACE_LINE.match(line):
            if "".join(lines).strip():
                yield _output(state, "\n".join(lines) + "\n", block["file"], cwd)
            state.update(block=None, file=block["file"], recent=[])
        else:
            lines.append(line)
    elif kind == "whole":
        if line.rstrip() == block["fence"]:
            if "".join(lines).strip():
                yield _output(state, "\n".join(lines) + "\n", block["file"], cwd)
            state.update(block=None, recent=[])
        else:
            lines.append(line)
    elif kind == "udiff":
        closing = line.rstrip() == block["fence"]
        if line.startswith("+") and not line.startswith("+++ "):
            lines.append(line[1:])
            return
        if "".join(lines).strip():  # a run of added lines ended
            yield _output(state, "\n".join(lines) + "\n", block["file"], cwd)
        block["lines"] = []
        if line.startswith("+++ "):
            block["file"] = line[4:].strip() or None
        if closing:
            state.update(block=None, recent=[])
    elif kind == "patch":
        lines.append(line)
        if line.strip() == "*** End Patch":
            for file, text in patch_texts("\n".join(lines)):
                yield _output(state, text, file, cwd)
            state.update(block=None, recent=[])
