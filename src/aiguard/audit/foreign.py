"""Other tools' marks on a commit (`evidence: foreign`), read without aiguard's record.

Pure: a commit message, its author and committer in, TOOL:MODEL values out; and
git-ai's authorship notes (`refs/notes/ai`, Git AI Standard v3) parsed into line
ranges. Identities come from shared/research/anchors.md §3.2 and §6, and the ones
added for issue 19 from public histories (tests/fixtures/real-marks/SOURCES.md).
Co-authors are matched on their e-mail address, never on a display name ("Claude
Monet" is a person); a hand-written `Assisted-by:` / `Generated-by:` is read as
`TOOL:MODEL`, `TOOL MODEL` or a bare model name, and one that names a person (`Name
<person's e-mail>`) is not a tool. Free-form model names are mapped to the
assistants' own ids by MODEL_NAMES. Each mark has a level: `trailer`, `identity`
(the agent is the author or committer) or `phrase` (a body line such as "Generated
with Claude Code", weaker: `marks()` leaves it out, `evidence()` has it).
"""

from __future__ import annotations

import bisect
import json
import re
from typing import NamedTuple

from aiguard.core import trailers

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
    # issue 19, from public histories (tests/fixtures/real-marks/SOURCES.md)
    ("amp@ampcode.com", "amp"),
    ("*+devin-ai-integration[bot]@users.noreply.github.com", "devin"),
    ("droid@factory.ai", "factory-droid"),
    ("*+factory-droid[bot]@users.noreply.github.com", "factory-droid"),
    ("*+google-labs-jules[bot]@users.noreply.github.com", "jules"),
    ("*+copilot-swe-agent[bot]@users.noreply.github.com", "copilot"),
    ("copilot-swe-agent[bot]@users.noreply.github.com", "copilot"),
]

# Free-form model names -> the assistant's own model id, and the tool a trailer that
# names only a model gets (`Assisted-by: Claude Opus 4.6` -> claude:claude-opus-4-6).
# (pattern, id template, tool when only the model is named). A pattern is matched, lower
# case, at the start of the name with parentheticals dropped; its groups fill the
# template, spaces becoming dashes. Anthropic ids use dashes for dots (claude-opus-4-6),
# OpenAI and Google ids keep the dots (gpt-5.1-codex, gemini-2.5-pro).
MODEL_NAMES: list[tuple[str, str, str]] = [
    (r"(?:claude[ -])?(opus|sonnet|haiku)[ -](\d+(?:[.-]\d+)*)((?:[ -]\d{8})?)", "claude-{0}-{1}{2}", "claude"),
    (r"claude[ -](\d+(?:[.-]\d+)*)[ -](opus|sonnet|haiku)", "claude-{0}-{1}", "claude"),
    (r"gpt[ -]?(\d+(?:\.\d+)?o?)((?:[ -](?:codex|mini|nano|max|pro|turbo|high|low))*)", "gpt-{0}{1}", "openai"),
    (r"(o[134])((?:[ -](?:mini|pro|high|low))*)", "{0}{1}", "openai"),
    (r"gemini[ -](\d+(?:\.\d+)?)((?:[ -](?:pro|flash|lite|ultra|preview|exp))*)", "gemini-{0}{1}", "gemini"),
]
_MODEL_RES = [(re.compile(r"^" + pattern + r"(?![\w.])", re.I), template, tool) for pattern, template, tool in MODEL_NAMES]
# an OpenAI model with `codex` in its id is Codex's
_CODEX = re.compile(r"\bcodex\b")

# tool names a hand-written trailer may spell differently -> aiguard's names
TOOL_ALIASES = {"github-copilot": "copilot", "copilot-agent": "copilot", "openai-codex": "codex", "codex-cli": "codex",
                "cursor-agent": "cursor", "gemini-code-assist": "gemini-cli", "factory": "factory-droid",
                "droid": "factory-droid", "google-jules": "jules", "devin-ai": "devin"}
# names that are tools, for telling `Assisted-by: Claude <me@example.com>` from a person
KNOWN_TOOLS = {"claude", "claude-code", "chatgpt", "openai", "codex", "copilot", "cursor", "gemini", "gemini-cli",
               "aider", "amp", "devin", "jules", "factory-droid", "windsurf", "cline", "entire", *TOOL_ALIASES}

# body lines (a weaker `phrase` level): the whole line, an emoji or `**` around it allowed
PHRASES: list[tuple[str, str]] = [
    (r"generated (?:with|by) \[?claude code\]?(?:\([^()]*\))?", "claude-code"),
    (r"generated (?:with|by) \[?amp\]?(?:\(https?://ampcode\.com[^()]*\))?", "amp"),
    (r"generated (?:with|by) \[?devin\]?(?:\(https?://[a-z.]*devin\.ai[^()]*\))?", "devin"),
]
_PHRASE_RES = [(re.compile(r"(?im)^[^\w\n]*" + pattern + r"[^\w\n]*$"), tool) for pattern, tool in PHRASES]

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


def normalise_model(name: str) -> tuple[str, str] | None:
    """(the assistant's own model id, the tool of its family) for a free-form model name, or None.

    `Claude Opus 4.6 (1M context)` -> ("claude-opus-4-6", "claude"), `GPT-5 Codex` ->
    ("gpt-5-codex", "codex"), `Gemini 2.5 Pro` -> ("gemini-2.5-pro", "gemini").
    """
    text = re.sub(r"\s+", " ", re.sub(r"\([^()]*\)", " ", name[:200])).strip().lower()
    for regex, template, tool in _MODEL_RES:
        match = regex.match(text)
        if match:
            parts = [re.sub(r"[ -]+", "-", g) if g else "" for g in match.groups()]
            if template.startswith("claude"):
                parts = [p.replace(".", "-") for p in parts]
            model = re.sub(r"-+", "-", template.format(*parts))
            return model, ("codex" if tool == "openai" and _CODEX.search(model) else tool)
    return None


def _model_from_name(tool: str, name: str) -> str:
    """The model a co-author's display name gives, normalised (`Claude Opus 4.5` -> claude-opus-4-5)."""
    name = name.strip()
    if tool == "aider":
        inner = re.search(r"\(([^()]+)\)", name)  # aider (anthropic/claude-sonnet-4-20250514)
        return inner.group(1).strip() if inner else "unknown"
    found = normalise_model(name)
    if found is None:  # `Codex (GPT-5)`: the model in the parenthesis
        inner = re.search(r"\(([^()]+)\)", name)
        found = normalise_model(inner.group(1)) if inner else None
    return found[0] if found else "unknown"


def _tool(name: str) -> str:
    slug = _slug(name)
    return TOOL_ALIASES.get(slug, slug)


def _is_person(name: str, email: str) -> bool:
    """`Junio C Hamano <gitster@pobox.com>`: a person's address, and no tool or model in the name."""
    email = email.lower()
    if tool_of_email(email) or "noreply" in email or "no-reply" in email or "[bot]" in email or email.startswith("bot@"):
        return False
    return normalise_model(name) is None and _tool(name) not in KNOWN_TOOLS


_KEYS_SEEN = re.compile(rb"(?im)^(co-authored-by|co-developed-by|assisted-by|generated-by|made-with|entire-checkpoint"
                        rb"|amp-thread-id|amp-thread)[ \t]*:")
_PHRASE_SEEN = re.compile(rb"(?i)generated (?:with|by)")
# what _KEYS_SEEN and _PHRASE_SEEN need, as lower-case substrings: most messages hold none of
# them, and testing for substrings is much cheaper than a case-insensitive search
_KEY_WORDS = (b"co-authored-by", b"co-developed-by", b"assisted-by", b"generated-by", b"made-with",
              b"entire-checkpoint", b"amp-thread")

TRAILER, IDENTITY, PHRASE = "trailer", "identity", "phrase"


class Mark(NamedTuple):
    value: str  # TOOL:MODEL
    level: str  # trailer | identity | phrase


def marks(message: bytes, author: str = "", committer: str = "") -> list[str]:
    """TOOL:MODEL values that other tools' trailers and identities on a commit name, in order, without repeats.

    Body phrases are left out (see `evidence`)."""
    return _dedupe([m.value for m in evidence(message, author, committer) if m.level != PHRASE])


def evidence(message: bytes, author: str = "", committer: str = "") -> list[Mark]:
    """Every mark with its level, trailers first, then identities, then body phrases; without repeats.

    A value a stronger mark already names (or names with a model) is not repeated at a weaker level."""
    found: list[Mark] = []
    low = message.lower()
    keys_seen = any(word in low for word in _KEY_WORDS)
    pairs = trailers.parse_trailers(message) if keys_seen and _KEYS_SEEN.search(message) else []
    for key, value in pairs:
        lower = key.lower()
        tool_model = None
        if lower in _CO_AUTHOR_KEYS:
            match = _ADDRESS.match(value)
            tool = tool_of_email(match.group("email")) if match else None
            if tool and match:
                tool_model = f"{tool}:{_model_from_name(tool, match.group('name'))}"
            elif lower == "co-authored-by-ai":  # OpenLiberty: `Claude Code (claude-sonnet-4-6)`
                tool_model = _disclosure(value)
        elif lower in _DISCLOSURE_KEYS:
            tool_model = _disclosure(value)
        elif lower == "made-with" and value.strip().lower() == "cursor":
            tool_model = "cursor:unknown"
        elif lower == "entire-checkpoint":
            tool_model = "entire:unknown"
        elif lower in ("amp-thread-id", "amp-thread") and "ampcode.com" in value.lower():
            tool_model = "amp:unknown"
        if tool_model:
            found.append(Mark(tool_model, TRAILER))
    for who in (author, committer):
        mark = identity(who)
        if mark is not None:
            found.append(mark)
    if b"generated " in low and _PHRASE_SEEN.search(message):
        text = message.decode("utf-8", "replace")
        for regex, tool in _PHRASE_RES:
            if regex.search(text):
                found.append(Mark(f"{tool}:unknown", PHRASE))
    return _dedupe_marks(found)


_IDENTITY_CACHE: dict[str, Mark | None] = {}  # a history has few authors and committers, each seen often


MARK_WORDS = (b"co-authored-by", b"co-developed-by", b"generated", b"made-with", b"entire-checkpoint", b"amp-thread")


def may_have_marks(low: bytes) -> bool:
    """False when a lower-cased message holds no trailer key or phrase `evidence` reads (the
    author and committer aside; `assisted-by` is left to the caller, who looks for it anyway):
    most commits of a long history, told apart with a few substring scans."""
    for word in MARK_WORDS:
        if word in low:
            return True
    return False


def identity(who: str) -> Mark | None:
    """The mark an author or committer ("Name <email>") is, when it is a coding agent."""
    try:
        return _IDENTITY_CACHE[who]
    except KeyError:
        pass
    match = _ADDRESS.match(who)
    name = match.group("name") if match else who
    email = match.group("email") if match else ""
    tool = tool_of_email(email) if email else None
    mark = None
    if name.endswith(" (aider)"):
        mark = Mark("aider:unknown", IDENTITY)
    elif tool and tool != "aider":
        mark = Mark(f"{tool}:unknown", IDENTITY)  # the coding agent committed it itself
    if len(_IDENTITY_CACHE) > 100_000:
        _IDENTITY_CACHE.clear()
    _IDENTITY_CACHE[who] = mark
    return mark


def _disclosure(value: str) -> str | None:
    """`TOOL:MODEL`, `TOOL MODEL`, `Tool Name (model)`, a model name -> tool:model, lower case; None for a person."""
    value = value.strip()
    address = _ADDRESS.match(value)
    if address:
        tool = tool_of_email(address.group("email"))
        if tool:  # `Assisted-by: Claude Opus 4.6 <noreply@anthropic.com>`
            return f"{tool}:{_model_from_name(tool, address.group('name'))}"
        if _is_person(address.group("name"), address.group("email")):
            return None
        value = address.group("name").strip()
    head = value.split()[0] if value.split() else "unknown"
    if ":" in head and not head.endswith(":"):
        tool, model = head.split(":", 1)
        return f"{_tool(tool)}:{model or 'unknown'}"
    paren = re.match(r"^(?P<tool>[^()]+?)\s*\((?P<model>[^()]+)\)\s*$", value)
    if paren and normalise_model(paren.group("tool")) is None:
        inner = paren.group("model").strip()
        known = normalise_model(inner)
        if known or (" " not in inner and any(c.isdigit() for c in inner)):
            return f"{_tool(paren.group('tool'))}:{known[0] if known else inner}"
        value = paren.group("tool")  # `Tool (some note)`: the note is not a model
    words = re.sub(r"\([^()]*\)", " ", value).split()
    for i in range(min(len(words), 6)):  # `Claude Opus 4.6`, `Cursor Claude Sonnet 4.5`, `ChatGPT gpt-4o`
        known = normalise_model(" ".join(words[i:]))
        if known:
            return f"{_tool(' '.join(words[:i])) if i else known[1]}:{known[0]}"
    if len(words) >= 2 and (_MODEL_WORDS.match(words[1]) or any(c.isdigit() for c in words[1])):
        return f"{_tool(words[0])}:{words[1]}"
    return f"{_tool(' '.join(words) or value)}:unknown"


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


_STRENGTH = {TRAILER: 0, IDENTITY: 1, PHRASE: 2}


def _dedupe_marks(found: list[Mark]) -> list[Mark]:
    """As `_dedupe`; a value seen at two levels keeps the stronger one."""
    out: list[Mark] = []
    for mark in found:
        tool = mark.value.split(":", 1)[0]
        same = [m for m in out if m.value == mark.value or (m.value.startswith(tool + ":") and
                                                            (m.value.endswith(":unknown") or mark.value.endswith(":unknown")))]
        if not same:
            out.append(mark)
            continue
        level = min([mark.level, *(m.level for m in same)], key=_STRENGTH.__getitem__)
        keep = next((v for v in [mark.value, *(m.value for m in same)] if not v.endswith(":unknown")), mark.value)
        at = out.index(same[0])
        out = [m for m in out if m not in same]
        out.insert(min(at, len(out)), Mark(keep, level))
    return out


class GitAiNote(NamedTuple):
    """Another tool's line record of a commit (git-ai's or agent-trace's)."""
    assisted_by: list[str]
    files: dict[str, list[tuple[int, int, str, str]]]  # path -> (start, end, tool, model)
    source: str = "git-ai note in refs/notes/ai"


AGENT_TRACE_SOURCE = "agent-trace note in refs/notes/agent-trace"


def parse_note(data: bytes) -> GitAiNote | None:
    """Another tool's note, whichever of the formats read here it is: git-ai's authorship
    log, or agent-trace-cli's JSON."""
    return parse_git_ai(data) or parse_agent_trace(data)


def parse_agent_trace(data: bytes) -> GitAiNote | None:
    """agent-trace-cli's note (`refs/notes/agent-trace`, JSON, versions 1.x/2.x): its optional
    inline ledger gives line ranges (`ledger.files[path].line_attributions`: start_line,
    end_line, type "ai", model_id); without it only `stats.ai_lines` says there were AI
    lines. The note does not name the assistant: the tool is the model's family, as for
    an `Assisted-by:` that names only a model (unknown when the model is not known)."""
    try:
        note = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(note, dict) or not isinstance(note.get("trace_ids"), list) or "version" not in note:
        return None
    files: dict[str, list[tuple[int, int, str, str]]] = {}
    ledger = note.get("ledger")
    entries = ledger.get("files") if isinstance(ledger, dict) else None
    for path, entry in (entries.items() if isinstance(entries, dict) else ()):
        segments = entry.get("line_attributions") if isinstance(entry, dict) else None
        for seg in segments if isinstance(segments, list) else ():
            if not isinstance(seg, dict) or str(seg.get("type", "")).lower() != "ai":
                continue
            start, end = seg.get("start_line"), seg.get("end_line")
            if isinstance(start, int) and isinstance(end, int) and 1 <= start <= end:
                files.setdefault(str(path), []).append((start, end, *_agent_trace_model(seg.get("model_id"))))
    order: dict[str, int] = {}
    for spans in files.values():
        spans.sort()
        for start, end, tool, model in spans:
            order[f"{tool}:{model}"] = order.get(f"{tool}:{model}", 0) + end - start + 1
    stats = note.get("stats")
    if not order and isinstance(stats, dict) and isinstance(stats.get("ai_lines"), int) and stats["ai_lines"] > 0:
        order = {"unknown:unknown": 0}  # AI lines, but which lines and whose the note does not say
    if not order:
        return None
    return GitAiNote(sorted(order, key=lambda k: (-order[k], k)), files, AGENT_TRACE_SOURCE)


def _agent_trace_model(model_id) -> tuple[str, str]:
    name = str(model_id or "").strip()
    found = normalise_model(name.rsplit("/", 1)[-1]) if name else None
    if found is not None:
        return found[1], found[0]
    return "unknown", _slug(name) if name else "unknown"


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
