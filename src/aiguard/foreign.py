"""Other tools' marks on a commit (`evidence: foreign`), read without aiguard's record.

Pure: a commit message, its author and committer in, TOOL:MODEL values out; and
git-ai's authorship notes (`refs/notes/ai`, Git AI Standard v3) parsed into line
ranges. Identities come from shared/research/anchors.md §3.2 and §6. Co-authors are
matched on their e-mail address, never on a display name ("Claude Monet" is a
person); a hand-written `Assisted-by:` / `Generated-by:` is read as `TOOL:MODEL`
or `TOOL MODEL`.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import NamedTuple

from aiguard import trailers

# e-mail (lower case; `*` matches a GitHub noreply's numeric id) -> tool
IDENTITIES: list[tuple[str, str]] = [
    ("noreply@anthropic.com", "claude-code"),
    ("*+claude[bot]@users.noreply.github.com", "claude-code"),
    ("*+anthropic-claude[bot]@users.noreply.github.com", "claude-code"),
    ("*+claude-code-action[bot]@users.noreply.github.com", "claude-code"),
    ("noreply@openai.com", "codex"),
    ("codex@openai.com", "codex"),
    ("*+openai-codex[bot]@users.noreply.github.com", "codex"),
    ("*+chatgpt-codex-connector[bot]@users.noreply.github.com", "codex"),
    ("copilot@github.com", "copilot"),
    ("*+copilot@users.noreply.github.com", "copilot"),
    ("*+copilot[bot]@users.noreply.github.com", "copilot"),
    ("cursoragent@cursor.com", "cursor"),
    ("*+cursor[bot]@users.noreply.github.com", "cursor"),
    ("noreply@aider.chat", "aider"),
    ("aider@aider.chat", "aider"),
    ("noreply@aider.dev", "aider"),
    ("*+gemini-code-assist[bot]@users.noreply.github.com", "gemini-cli"),
    ("gemini-cli-agent@google.com", "gemini-cli"),
    ("noreply@windsurf.com", "windsurf"),
    ("noreply@codeium.com", "windsurf"),
    ("noreply@cline.bot", "cline"),
    ("*+cline[bot]@users.noreply.github.com", "cline"),
]

# git-ai's agent_id.tool -> aiguard's tool names
GIT_AI_TOOLS = {"claude": "claude-code", "codex": "codex", "cursor": "cursor", "copilot": "copilot",
                "gemini": "gemini-cli", "windsurf": "windsurf", "cline": "cline", "aider": "aider"}

_ADDRESS = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>\s]+)>\s*$")
_CO_AUTHOR_KEYS = {"co-authored-by", "co-developed-by", "co-authored-by-ai"}
_DISCLOSURE_KEYS = {"assisted-by", "generated-by"}
_MODEL_WORDS = re.compile(r"^(claude|gpt|o\d|gemini|codex)\b", re.I)


_EXACT = {pattern: tool for pattern, tool in IDENTITIES if not pattern.startswith("*")}
_NOREPLY = {pattern[1:]: tool for pattern, tool in IDENTITIES if pattern.startswith("*")}  # "+name@users..."


def tool_of_email(email: str) -> str | None:
    email = email.strip().lower()
    tool = _EXACT.get(email)
    if tool is None and email.endswith("@users.noreply.github.com"):
        number, plus, rest = email.partition("+")
        if plus and number.isdigit():
            tool = _NOREPLY.get("+" + rest)
    return tool


def _model_from_name(tool: str, name: str) -> str:
    """The model a co-author's display name gives, normalised (`Claude Opus 4.5` -> claude-opus-4-5)."""
    name = name.strip()
    if tool == "aider":
        inner = re.search(r"\(([^()]+)\)", name)  # aider (anthropic/claude-sonnet-4-20250514)
        return inner.group(1).strip() if inner else "unknown"
    if tool == "claude-code" and re.match(r"^claude\s+(opus|sonnet|haiku)\b", name, re.I):
        return re.sub(r"[\s.]+", "-", name.lower())
    return "unknown"


_KEYS_SEEN = re.compile(rb"(?im)^(co-authored-by|co-developed-by|assisted-by|generated-by|made-with|entire-checkpoint)"
                        rb"[ \t]*:")


def marks(message: bytes, author: str = "", committer: str = "") -> list[str]:
    """TOOL:MODEL values that other tools' marks on a commit name, in order, without repeats."""
    found: list[str] = []
    pairs = trailers.parse_trailers(message) if _KEYS_SEEN.search(message) else []
    for key, value in pairs:
        lower = key.lower()
        if lower in _CO_AUTHOR_KEYS:
            match = _ADDRESS.match(value)
            tool = tool_of_email(match.group("email")) if match else None
            if tool:
                found.append(f"{tool}:{_model_from_name(tool, match.group('name'))}")
            elif lower == "co-authored-by-ai":  # OpenLiberty: `Claude Code (claude-sonnet-4-6)`
                found.append(_disclosure(value))
        elif lower in _DISCLOSURE_KEYS:
            found.append(_disclosure(value))
        elif lower == "made-with" and value.strip().lower() == "cursor":
            found.append("cursor:unknown")
        elif lower == "entire-checkpoint":
            found.append("entire:unknown")
    for who in (author, committer):
        match = _ADDRESS.match(who)
        name = match.group("name") if match else who
        email = match.group("email") if match else ""
        tool = tool_of_email(email) if email else None
        if name.endswith(" (aider)"):
            found.append("aider:unknown")
        elif tool and tool != "aider":
            found.append(f"{tool}:unknown")  # the coding agent committed it itself
    return _dedupe(found)


def _disclosure(value: str) -> str:
    """`TOOL:MODEL`, `TOOL MODEL [tools]`, `Tool Name (model)` -> tool:model, lower case."""
    value = value.strip()
    paren = re.match(r"^(?P<tool>[^()]+?)\s*\((?P<model>[^()]+)\)\s*$", value)
    if paren:
        return f"{_slug(paren.group('tool'))}:{paren.group('model').strip()}"
    head = value.split()[0] if value.split() else "unknown"
    if ":" in head:
        tool, model = head.split(":", 1)
        return f"{_slug(tool)}:{model or 'unknown'}"
    words = value.split()
    if len(words) >= 2 and (_MODEL_WORDS.match(words[1]) or any(c.isdigit() for c in words[1])):
        return f"{_slug(words[0])}:{words[1]}"
    return f"{_slug(value)}:unknown"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.+_-]+", "-", text.strip().lower()).strip("-") or "unknown"


def _dedupe(values: list[str]) -> list[str]:
    """Without repeats; a tool named with a model drops its `tool:unknown` twin."""
    out: list[str] = []
    for value in values:
        if value in out:
            continue
        tool = value.split(":", 1)[0]
        if value.endswith(":unknown") and any(v.startswith(tool + ":") for v in out):
            continue
        out = [v for v in out if not (v == f"{tool}:unknown")]
        out.append(value)
    return out


class GitAiNote(NamedTuple):
    assisted_by: list[str]
    files: dict[str, list[tuple[int, int, str, str]]]  # path -> (start, end, tool, model)


def parse_git_ai(data: bytes) -> GitAiNote | None:
    """A git-ai authorship log (attestation, `---`, metadata JSON); None if it is not one."""
    text = data.decode("utf-8", "replace")
    attestation, sep, metadata = text.partition("\n---\n")
    if not sep:
        if text.startswith("---\n"):
            attestation, metadata = "", text[4:]
        else:
            return None
    try:
        meta = json.loads(metadata)
    except (ValueError, RecursionError):  # notes come from other people's pushes
        return None
    if not isinstance(meta, dict) or not str(meta.get("schema_version", "")).startswith("authorship/"):
        return None
    agents: dict[str, tuple[str, str]] = {}
    for table in ("sessions", "prompts"):
        entries = meta.get(table)
        for key, entry in (entries.items() if isinstance(entries, dict) else ()):
            agent = entry.get("agent_id") if isinstance(entry, dict) else None
            if isinstance(agent, dict):
                tool = GIT_AI_TOOLS.get(str(agent.get("tool", "")).lower(), _slug(str(agent.get("tool") or "unknown")))
                agents[key] = (tool, str(agent.get("model") or "unknown"))
    files: dict[str, list[tuple[int, int, str, str]]] = {}
    path = None
    for line in attestation.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            path = line.strip()
            if len(path) >= 2 and path[0] == path[-1] == '"':
                path = path[1:-1]
            continue
        parts = line.split()
        if path is None or len(parts) != 2:
            continue
        key, ranges = parts
        agent = agents.get(key) or agents.get(key.split("::", 1)[0])
        if agent is None or key.startswith("h_"):
            continue  # a known human, or a key without a session
        for piece in ranges.split(","):
            start, _, end = piece.partition("-")
            if start.isdigit() and (not end or end.isdigit()):
                files.setdefault(path, []).append((int(start), int(end or start), *agent))
    order: dict[str, int] = {}
    for spans in files.values():
        for s, e, tool, model in spans:
            order[f"{tool}:{model}"] = order.get(f"{tool}:{model}", 0) + e - s + 1
    if not order:
        order = {f"{t}:{m}": 0 for t, m in agents.values()}
    return GitAiNote(sorted(order, key=lambda k: (-order[k], k)), files)


def clip(files: dict[str, list[tuple[int, int, str, str]]],
         added: dict[str, list[tuple[int, int]]]) -> dict[str, list[tuple[int, int, str, str]]]:
    """A note's line ranges cut down to the lines the commit itself added (path -> (start, end)
    ranges): a note may name lines from earlier commits or other files, which this commit
    did not write. Files left without lines are dropped."""
    out: dict[str, list[tuple[int, int, str, str]]] = {}
    for path, spans in files.items():
        own = sorted(added.get(path, ()))
        ends = [a_end for _, a_end in own]  # increasing: a diff's hunks do not overlap
        for start, end, tool, model in spans:
            for a_start, a_end in own[bisect.bisect_left(ends, start):]:
                if a_start > end:
                    break
                lo, hi = max(start, a_start), min(end, a_end)
                if lo <= hi:
                    out.setdefault(path, []).append((lo, hi, tool, model))
    for spans in out.values():
        spans.sort()
    return out
