"""Audit views and exports: `aiguard log`, `blame`, `stats`, `report`, `export`.

All of them read the same per-commit records (aiguard.audit.history), so their numbers
agree: a line is AI-derived in `blame` exactly when `log --json` lists a range
holding it, and `stats`/`report` add up what `log` says.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from typing import IO, TYPE_CHECKING, Iterable, Iterator, NamedTuple, Sequence

from aiguard import __version__
from aiguard.audit import history
from aiguard.core import note_format
from aiguard.git import notes
from aiguard.git import runner
from aiguard.audit.history import Entry
from aiguard.core.names import visible

if TYPE_CHECKING:
    from aiguard.audit.verify import Commit
    from aiguard.audit.policy import Policy

AGENT_TRACE_VERSION = "0.1.0"
_TRACE_NAMESPACE = uuid.UUID("6f1c7c3e-4d1b-5b8e-9a51-0d4e2a7f3c11")


class Progress:
    """A commit counter on stderr, only when stderr is a terminal."""

    def __init__(self, what: str = "commits", stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.what = what
        self.count = 0
        self.shown = 0.0

    def __call__(self) -> None:
        self.count += 1
        if self.enabled and time.monotonic() - self.shown > 0.2:
            self.shown = time.monotonic()
            self.stream.write(f"\raiguard: {self.count} {self.what} read")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def read(spec: Sequence[str] | str | None, cwd: str | None = None, ledger_fallback: bool = True, diff: bool = True) -> list[Entry]:
    progress = Progress()
    try:
        return list(history.entries(history.rev_args(spec), cwd, ledger_fallback, progress, diff=diff))
    finally:
        progress.done()


def stream(spec: Sequence[str] | str | None, cwd: str | None = None, ledger_fallback: bool = True,
           diff: bool = True) -> Iterator[Entry]:
    progress = Progress()
    try:
        yield from history.entries(history.rev_args(spec), cwd, ledger_fallback, progress, diff=diff)
    finally:
        progress.done()


# log ---------------------------------------------------------------------------------------

def log_text(entries: Iterable[Entry], out: IO[str], signers: dict[str, str] | None = None) -> None:
    """signers: commit -> principal of its verified personal stamp (log --signers)."""
    for e in entries:
        share = f"{e.ai_lines}/{'?' if e.added is None else e.added}"
        who = visible(", ".join(e.assisted_by) or "-")
        mark = {"aiguard": "AI", "foreign": "AI?", "none": "  "}[e.evidence]
        stamp = "stamped" if e.stamped else "unstamped"
        out.write(f"{e.commit[:12]} {mark:3} {share:>9} {stamp:9} {visible(e.date[:10])} {visible(e.subject[:60])}\n")
        if e.unmatched:
            u = e.unmatched
            reasons = ", ".join(f"{name} {n}" for name, n in u["reasons"].items())
            out.write(f"{'':17}not matched by the hook: {u['lines']} added lines in {u['files']} files ({reasons})\n")
        if signers and e.commit in signers:
            out.write(f"{'':17}stamped by {visible(signers[e.commit])} (personal stamp, allowed-signers)\n")
        if e.ai_derived:
            level = f" ({e.evidence_level})" if e.evidence_level else ""  # foreign (trailer), foreign (phrase), ...
            out.write(f"{'':17}{e.evidence}{level}: {who}\n")
            for path, ranges in sorted(e.files.items()):
                spans = ", ".join(f"{r.start}-{r.end}" if r.end != r.start else str(r.start) for r in ranges)
                out.write(f"{'':17}  {visible(path)}: {spans}\n")


# export --------------------------------------------------------------------------------------

def agent_trace(e: Entry) -> dict:
    """An Agent Trace record (agent-trace.dev, spec 0.1.0) for one commit's AI-derived lines."""
    files = []
    for path, ranges in sorted(e.files.items()):
        conversations: dict[str, list[dict]] = defaultdict(list)
        for r in ranges:
            conversations[f"{r.tool}:{r.model}"].append({"start_line": r.start, "end_line": r.end})
        files.append({**note_format.path_json(path), "conversations": [
            {"contributor": {"type": "ai", **_model_id(name)}, "ranges": spans}
            for name, spans in conversations.items()]})
    return {
        "version": AGENT_TRACE_VERSION,
        "id": str(uuid.uuid5(_TRACE_NAMESPACE, e.commit)),
        "timestamp": e.date,
        "vcs": {"type": "git", "revision": e.commit},
        "tool": {"name": "aiguard", "version": __version__},
        "files": files,
        "metadata": {"dev.aiguard": {"schema": history.SCHEMA, "evidence": e.evidence, "stamped": e.stamped,
                                     "assisted_by": e.assisted_by, "ai_lines": e.ai_lines, "added": e.added}},
    }


_PROVIDERS = (("claude", "anthropic"), ("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
              ("codex", "openai"), ("gemini", "google"), ("grok", "xai"), ("deepseek", "deepseek"),
              ("mistral", "mistral"), ("codestral", "mistral"))


def _model_id(name: str) -> dict:
    """Agent Trace's contributor.model_id (models.dev "provider/model"), when the model is known."""
    model = name.split(":", 1)[1] if ":" in name else "unknown"
    if model == "unknown":
        return {}
    if "/" in model:
        return {"model_id": model[:250]}
    for prefix, provider in _PROVIDERS:
        if model.lower().startswith(prefix):
            return {"model_id": f"{provider}/{model}"[:250]}
    return {"model_id": model[:250]}


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps with options builds an encoder per call
_STRING = json.encoder.encode_basestring  # a JSON string as that encoder writes it


def jsonl_line(e: Entry) -> str:
    """`json.dumps(e.to_json(), ensure_ascii=False)`, written directly for the most common record
    (no marks, no lines): on a long history that is most commits, and 5x faster."""
    if e.files or e.assisted_by or e.unmatched or e.evidence_level or e.ai_lines:
        return _JSON.encode(e.to_json())
    added = "null" if e.added is None else str(e.added)
    return (f'{{"commit": "{e.commit}", "author": {_STRING(e.author)}, "date": {_STRING(e.date)}, '
            f'"stamped": {"true" if e.stamped else "false"}, "assisted_by": [], "ai_lines": 0, "added": {added}, '
            f'"evidence": "{e.evidence}", "files": [], "unmatched": null, "evidence_level": null, '
            f'"schema": "{history.SCHEMA}"}}')


def log_json(entries: Iterable[Entry], out: IO[str], signers: dict[str, str] | None = None) -> None:
    """`log --json`: `json.dumps([e.to_json() ...], ensure_ascii=False, indent=1)` and a newline,
    written as the entries stream (json's indenting encoder is pure Python: on a long history
    it cost more than reading the history); the most common record is written directly.
    signers (log --signers): commit -> principal, added to every object as `signer`."""
    first = True
    for e in entries:
        out.write("[\n " if first else ",\n ")
        first = False
        if signers is not None or e.files or e.assisted_by or e.unmatched or e.evidence_level or e.ai_lines:
            record = e.to_json() if signers is None else {**e.to_json(), "signer": signers.get(e.commit)}
            out.write(json.dumps(record, ensure_ascii=False, indent=1).replace("\n", "\n "))
            continue
        added = "null" if e.added is None else str(e.added)
        out.write(f'{{\n  "commit": "{e.commit}",\n  "author": {_STRING(e.author)},\n  "date": {_STRING(e.date)},\n  '
                  f'"stamped": {"true" if e.stamped else "false"},\n  "assisted_by": [],\n  "ai_lines": 0,\n  '
                  f'"added": {added},\n  "evidence": "{e.evidence}",\n  "files": [],\n  "unmatched": null,\n  '
                  f'"evidence_level": null,\n  "schema": "{history.SCHEMA}"\n }}')
    out.write("[]\n" if first else "\n]\n")


def export(entries: Iterable[Entry], fmt: str, out: IO[str]) -> int:
    written = 0
    for e in entries:
        if fmt == "jsonl":
            out.write(jsonl_line(e) + "\n")
        else:
            if not e.ai_derived:
                continue  # Agent Trace records describe AI contributions only
            out.write(json.dumps(agent_trace(e), ensure_ascii=False) + "\n")
        written += 1
    return written


# blame ---------------------------------------------------------------------------------------

class BlameLine(NamedTuple):
    line: int
    commit: str
    orig_path: str
    orig_line: int
    author: str
    date: str
    content: str
    tool: str | None  # tool:model, or None
    level: str  # "line" (a recorded range), "commit" (only the commit is known to be AI-derived), ""
    evidence: str


def blame(path: str, rev: str | None = None, cwd: str | None = None) -> list[BlameLine]:
    args = ["blame", "--line-porcelain"]
    if rev:
        args.append(rev)
    raw = runner.git([*args, "--", path], cwd=cwd)
    lines: list[tuple[str, int, int, dict[str, str], str]] = []
    info: dict[str, str] = {}
    head: tuple[str, int, int] | None = None
    for row in raw.split(b"\n"):
        if head is None:
            parts = row.split()
            if len(parts) >= 3:
                head = (parts[0].decode(), int(parts[1]), int(parts[2]))
                info = {}
            continue
        if row.startswith(b"\t"):
            lines.append((head[0], head[1], head[2], info, row[1:].decode("utf-8", "replace")))
            head = None
            continue
        key, _, value = row.partition(b" ")
        # a file name is bytes to git: keep it exact (surrogate escapes), to find it in the notes
        info[key.decode()] = value.decode("utf-8", "surrogateescape" if key == b"filename" else "replace")
    shas = sorted({sha for sha, *_ in lines if set(sha) != {"0"}})
    known = {e.commit: e for e in history.entries(["--no-walk=unsorted"], cwd, revs=shas)} if shas else {}
    out = []
    for sha, orig, final, fields, content in lines:
        e = known.get(sha)
        orig_path = fields.get("filename", path)
        tool, level = None, ""
        if e is not None and e.ai_derived:
            for r in e.files.get(orig_path, []):
                if r.start <= orig <= r.end:
                    tool, level = f"{r.tool}:{r.model}", "line"
                    break
            if tool is None and not e.files and e.assisted_by:
                tool, level = ",".join(e.assisted_by), "commit"
        author = f"{fields.get('author', '')} {fields.get('author-mail', '')}".strip()
        when = time.strftime("%Y-%m-%d", time.gmtime(int(fields.get("author-time", "0") or 0)))
        out.append(BlameLine(final, sha, orig_path, orig, author, when, content, tool, level,
                             e.evidence if (e is not None and tool) else "none"))
    return out


def blame_text(rows: Sequence[BlameLine], out: IO[str], signers: dict[str, str] | None = None) -> None:
    """signers (blame --signers): commit -> principal, shown in a column of its own."""
    width = max((len(r.tool or "") + (1 if r.level == "commit" else 0) for r in rows), default=0)
    digits = len(str(len(rows)))
    names = {sha: visible(name) for sha, name in (signers or {}).items()}
    signed = max((len(names.get(r.commit, "")) for r in rows), default=0) if signers is not None else -1
    for r in rows:
        who = visible(r.tool or "") + ("?" if r.level == "commit" else "")
        by = f" {names.get(r.commit, ''):<{signed}}" if signed >= 0 else ""
        content = visible(r.content[:-1]) + "\r" if r.content.endswith("\r") else visible(r.content)  # CRLF stays
        out.write(f"{r.commit[:8]} {visible(r.date)} {who:<{width}}{by} {r.line:>{digits}}) {content}\n")


def blame_json(rows: Sequence[BlameLine], signers: dict[str, str] | None = None) -> list[dict]:
    extra = (lambda r: {"signer": signers.get(r.commit)}) if signers is not None else (lambda r: {})
    return [{"line": r.line, "commit": r.commit, **note_format.path_json(r.orig_path), "orig_line": r.orig_line,
             "author": r.author, "date": r.date, "assisted_by": r.tool, "level": r.level or None,
             "evidence": r.evidence, "content": r.content, **extra(r)} for r in rows]


# stats ---------------------------------------------------------------------------------------

def lines_by_model(e: Entry) -> Counter[str]:
    """A commit's AI lines per TOOL:MODEL: its line ranges, and the lines only counted at
    commit level (AI-Lines beyond the ranges) for its first Assisted-by value."""
    counts: Counter[str] = Counter()
    for ranges in e.files.values():
        for r in ranges:
            counts[f"{r.tool}:{r.model}"] += r.end - r.start + 1
    rest = e.ai_lines - sum(counts.values())
    if rest > 0 and e.assisted_by:
        counts[e.assisted_by[0]] += rest
    return counts


def lines_known(e: Entry) -> bool:
    """Whether an AI-derived commit's AI lines are known: placed in files, or counted by a stamp.
    A commit with commit-level evidence only (a co-author trailer, an agent's identity) has
    its lines unknown: it counts as an AI-derived commit, not as 0 AI lines."""
    return bool(e.files) or e.ai_lines > 0


_TOOL_SUFFIX = re.compile(r"\s+\((?:aider|claude|claude code|codex|copilot|cursor|gemini|amp|devin)\)(?=\s*<|$)", re.I)


def person(author: str) -> str:
    """One key per person: "Paul (aider) <p@x>" is Paul as aider commits for him (stats by_author)."""
    return _TOOL_SUFFIX.sub("", author, count=1)


def stats(entries: Iterable[Entry], depth: int = 1) -> dict:
    """AI lines and added lines by month, author, tool, model and directory, and AI-derived commits
    beside them: per tool and model, the commits naming it (`commits`, of which `lines_unknown`
    have commit-level evidence only), their share of all commits, and the lines' share of all
    added lines. Authors are merged by identity (`.mailmap`, a tool's suffix on the name)."""
    tables: dict[str, dict[str, list[int]]] = {k: defaultdict(lambda: [0, 0, 0, 0]) for k in
                                               ("month", "author", "tool", "model", "path")}
    commits = ai_commits = added = ai = unknown = 0
    first = last = None
    for e in entries:
        commits += 1
        ai_commits += e.ai_derived
        known = lines_known(e)
        unknown += e.ai_derived and not known
        added += e.added or 0
        ai += e.ai_lines
        first = e.date if first is None or e.date < first else first
        last = e.date if last is None or e.date > last else last
        for key, value in (("month", e.date[:7]), ("author", person(e.identity or e.author))):
            cell = tables[key][value]
            cell[0] += e.ai_lines
            cell[1] += e.added or 0
            cell[2] += e.ai_derived
            cell[3] += e.ai_derived and not known
        here = lines_by_model(e)
        for name, count in here.items():
            tables["tool"][name.partition(":")[0]][0] += count
            tables["model"][name][0] += count
        if e.ai_derived:
            names = list(dict.fromkeys([*e.assisted_by, *here]))
            for table, keys in (("model", names), ("tool", dict.fromkeys(n.partition(":")[0] for n in names))):
                for key in keys:
                    tables[table][key][2] += 1
                    tables[table][key][3] += not known
        paths = set(e.added_by_path) | set(e.files)
        for path in paths:
            directory = _directory(path, depth)
            tables["path"][directory][1] += e.added_by_path.get(path, 0)
            tables["path"][directory][0] += sum(r.end - r.start + 1 for r in e.files.get(path, []))

    def as_row(name: str, key: str, v: list[int]) -> dict:
        if name in ("tool", "model"):
            return {"key": key, "ai_lines": v[0], "line_share": round(v[0] / added, 4) if added else 0.0,
                    "commits": v[2], "commit_share": round(v[2] / commits, 4) if commits else 0.0,
                    "lines_unknown": v[3]}
        out = {"key": key, "ai_lines": v[0], "added": v[1], "share": round(v[0] / v[1], 4) if v[1] else 0.0}
        if name != "path":
            out.update({"ai_commits": v[2], "lines_unknown": v[3]})
        return out

    return {
        "commits": commits, "ai_commits": ai_commits, "added": added, "ai_lines": ai,
        "share": round(ai / added, 4) if added else 0.0, "first": first, "last": last,
        "commit_share": round(ai_commits / commits, 4) if commits else 0.0, "lines_unknown": unknown,
        **{f"by_{name}": [as_row(name, key, v) for key, v in sorted(table.items(), key=lambda kv: (-kv[1][0], -kv[1][2], kv[0]))]
           for name, table in tables.items()},
    }


def _directory(path: str, depth: int) -> str:
    parts = path.split("/")[:-1]
    return "/".join(parts[:depth]) + "/" if parts else "./"


def commit_level(result: dict) -> dict:
    """`stats --no-diff`: the commit-level shares only. Without a diff no commit's added lines
    are known, so `added`, `share` and `line_share` are null and by_path is empty; `ai_lines`
    stays what stamps and notes count (a lower bound). `lines` says which it is."""
    out = {**result, "added": None, "share": None, "lines": "commit-level", "by_path": []}
    for name in ("month", "author", "tool", "model"):
        out[f"by_{name}"] = [{**row, **{k: None for k in ("added", "share", "line_share") if k in row}}
                             for row in result[f"by_{name}"]]
    return out


def _percent(value: float | None, width: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{100 * value:{width}.1f}%"


def stats_text(result: dict, out: IO[str]) -> None:
    unknown = result["lines_unknown"]
    if result["added"] is None:
        lines = f"AI lines {result['ai_lines']} counted by stamps and notes (--no-diff: added lines not counted)"
    else:
        lines = (f"AI lines {result['ai_lines']}/{result['added']} ({100 * result['share']:.1f}%"
                 + (", a lower bound" if unknown else "") + ")")
    out.write(f"{result['commits']} commits ({result['first'] or '-'} .. {result['last'] or '-'}), "
              f"{result['ai_commits']} AI-derived ({100 * result['commit_share']:.1f}%"
              + (f", {unknown} with lines unknown" if unknown else "") + "); " + lines + "\n")
    for name in ("month", "tool", "model", "author", "path"):
        rows = result[f"by_{name}"]
        if not rows:
            continue
        if name in ("tool", "model"):
            out.write(f"\nby {name}: AI-derived commits (share of all), of them lines unknown; AI lines (share of all added)\n")
        else:
            out.write(f"\nby {name}:\n")
        for row in rows[:30]:
            if "commit_share" in row:
                out.write(f"  {row['commits']:>7} ({100 * row['commit_share']:5.1f}%) {row['lines_unknown']:>7}"
                          f"  {row['ai_lines']:>7} ({_percent(row['line_share'], 5)})  {visible(row['key'])}\n")
                continue
            if result["added"] is None:  # --no-diff: the commits only
                out.write(f"  {row['ai_commits']:>7} AI-derived commits, {row['lines_unknown']:>7} with lines unknown"
                          f"  {visible(row['key'])}\n")
                continue
            extra = f" of {row['added']:>7} ({100 * row['share']:5.1f}%)" if "added" in row else ""
            out.write(f"  {row['ai_lines']:>7}{extra}  {visible(row['key'])}\n")


# report --------------------------------------------------------------------------------------

class StampCheck(NamedTuple):
    """What `aiguard verify` says about one commit, for the report's table."""

    stamp: str  # "valid", "bound" (binding ok, signature not checked), "invalid", "missing"
    problem: str  # why an invalid stamp is invalid
    verdict: str  # "pass", "fail", "exempt", or "" when the repository has no policy file
    findings: list[tuple[str, str, str]]  # (rule, severity, message) of each policy finding, notices included
    exempt: str  # why the policy exempts the commit ("merge commit", ...), or ""


class Checks(NamedTuple):
    by_commit: dict[str, StampCheck]
    policy: str | None  # where the policy came from; None when the repository has none
    signature: str  # "checked" or "unchecked", as in `verify --format json`
    key_ids: list[str]


def stamp_checks(spec: Sequence[str] | str | None, cwd: str | None = None) -> Checks:
    """Every commit of the range checked the way `aiguard verify` checks it, with the
    working tree's policy: its stamp (valid, invalid, missing) and its policy verdict.

    Unlike verify, exempt commits (merges, bots, exempt-before) get their stamp checked
    too; their verdict says they are exempt. Raises policy.PolicyError, verify.VerifyError
    and keys.KeyUnavailable (a bad AIGUARD_KEY) with a message for the user.
    """
    from pathlib import Path

    from aiguard.audit import policy
    from aiguard.audit import verify as verifier

    rules = policy.load(Path(runner.toplevel(cwd)))
    team, key_ids = verifier.team_keys()
    before: set[str] = set()
    if rules.exempt_before and "-" not in rules.exempt_before:
        if not runner.rev_parse(rules.exempt_before, cwd=cwd):
            raise verifier.VerifyError(f"{rules.source}: exempt-before {rules.exempt_before!r} is not a commit here")
        before = set(runner.git(["rev-list", rules.exempt_before], cwd=cwd).decode().split())
    has_policy = rules.source != "defaults"
    checks = Checks({}, rules.source if has_policy else None, "checked" if team else "unchecked", key_ids)
    args = history.rev_args(spec)
    if args == ["HEAD"] and runner.rev_parse("HEAD", cwd) is None:
        return checks  # no commits yet
    git_ai = notes.read_foreign(cwd)  # other tools' line records, as verify reads them
    progress = Progress("commits checked")
    try:
        for commit in verifier.iter_commits(args, no_merges=False, cwd=cwd):
            progress()
            exempt = verifier.exempt(commit, rules) or ("before exempt-before" if commit.sha in before else "")
            checks.by_commit[commit.sha] = _stamp_check(commit, rules, team, has_policy, exempt,
                                                        git_ai.get(commit.sha))
    finally:
        progress.done()
    return checks


def _stamp_check(commit: Commit, rules: Policy, team: dict[str, bytes] | None, has_policy: bool,
                 exempt: str, git_ai_note: bytes | None = None) -> StampCheck:
    from aiguard.core import trailers
    from aiguard.audit import verify as verifier

    findings = verifier.check_commit(commit, rules, team, git_ai_note=git_ai_note)
    invalid = [f.message for f in findings if f.rule == "invalid-stamp"]
    group = trailers.read_group(commit.message)
    if invalid:
        state = "invalid"
    elif group is None or group.stamp is None:
        state = "missing"
    else:
        state = "valid" if team else "bound"
    if not has_policy:
        return StampCheck(state, invalid[0] if invalid else "", "", [], "")
    if exempt:
        return StampCheck(state, invalid[0] if invalid else "", "exempt", [], exempt)
    verdict = "fail" if any(f.severity == verifier.ERROR for f in findings) else "pass"
    return StampCheck(state, invalid[0] if invalid else "", verdict,
                      [(f.rule, f.severity, f.message) for f in findings], "")
