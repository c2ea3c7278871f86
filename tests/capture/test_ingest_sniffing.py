"""`aiguard ingest FILE|DIR` tells whose log a file is from its first records, not its first line
only (issue 18): Claude Code 2.x transcripts open with records of no telling shape, Gemini CLI's
legacy session-*.json is pretty-printed. Every transcript here is a real one
(tests/fixtures/assistant-logs/*/SOURCES.md); where a test changes one, it says how."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import FIXTURES, aiguard

from aiguard.capture.ingest import SNIFF_BYTES, _source_for, head_records
from aiguard.capture.sources import claude_code, registry, sniff
from aiguard.capture.sources.common import Output

LOGS = FIXTURES / "assistant-logs"
CLAUDE = LOGS / "claude-code"
GEMINI = LOGS / "gemini-cli"
EXAMPLE_CWD = "/Users/aidancunniffe/Desktop/ghq"
# The record current Claude Code transcripts may open with (its shape as public parsers of
# Claude Code transcripts read it); no source can tell a file by it alone.
PERMISSION_MODE = {"type": "permission-mode", "permissionMode": "default",
                   "sessionId": "cb947e5b-246e-4253-a953-631f7e464c6b"}


def dated_today(path: Path, drop_first: bool = False) -> list[dict]:
    """A real transcript's records with every timestamp set to now (retention keeps them)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for record in records:
        if "timestamp" in record:
            record["timestamp"] = now
    return records[1:] if drop_first else records


def write_jsonl(path: Path, records: list[dict], cwd: str | None = None) -> Path:
    """Records as Claude Code writes them (compact lines); the session's folder moved to `cwd`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
    path.write_text(text.replace(EXAMPLE_CWD, cwd) if cwd else text)
    return path


def claude_projects(home: Path, cwd: str | None = None) -> tuple[Path, dict[str, Path]]:
    """A ~/.claude/projects folder holding three real transcripts, opening as Claude Code 2.x's do:
    * `thinking`: the 2.0.69 thinking transcript without its `summary` line, so that it opens
      with its own real `file-history-snapshot` record, as 2.x sessions that were not resumed do;
    * `snapshot`: the 1.0.111 transcript (the one with edits long enough to recognise) with that
      real `file-history-snapshot` record put before its first line (built: say so);
    * `plan`: the 2.0.69 plan transcript with a `permission-mode` record put before its first line."""
    projects = home / ".claude" / "projects"
    thinking = dated_today(CLAUDE / "claude-code-with-thinking.jsonl", drop_first=True)
    assert thinking[0]["type"] == "file-history-snapshot"
    files = {
        "thinking": write_jsonl(projects / "-Users-svarlamov-projects-testing-git-2" / "thinking.jsonl", thinking),
        "snapshot": write_jsonl(projects / "-Users-aidancunniffe-Desktop-ghq" / "snapshot.jsonl",
                                [thinking[0], *dated_today(CLAUDE / "example-claude-code.jsonl")], cwd),
        "plan": write_jsonl(projects / "-Users-dev-myproject" / "plan.jsonl",
                            [PERMISSION_MODE, *dated_today(CLAUDE / "claude-code-with-plan.jsonl")]),
    }
    return projects, files


def test_a_transcript_is_told_by_its_first_records_not_its_first_line(tmp_path):
    sources = registry()
    _projects, files = claude_projects(tmp_path)
    firsts = {name: path.read_bytes().split(b"\n", 1)[0] for name, path in files.items()}
    assert json.loads(firsts["thinking"])["type"] == json.loads(firsts["snapshot"])["type"] == "file-history-snapshot"
    assert json.loads(firsts["plan"])["type"] == "permission-mode"
    # No source tells the permission-mode line alone: the records after it decide.
    assert [name for name, module in sources.items() if sniff(module, firsts["plan"])] == []
    for name, path in files.items():
        chosen = _source_for(path, sources)
        assert chosen is not None and chosen.NAME == "claude-code", name


def test_pretty_printed_json_sessions_are_told_by_their_head():
    sources = registry()
    for path in (GEMINI / "agenthistory-real-session-01.json", GEMINI / "agentsessions-legacy-small.json"):
        assert path.read_bytes().split(b"\n", 1)[0].strip() == b"{"
        chosen = _source_for(path, sources)
        assert chosen is not None and chosen.NAME == "gemini-cli", path
    chosen = _source_for(LOGS / "copilot" / "copilot_session_simple.json", sources)
    assert chosen is not None and chosen.NAME == "copilot"
    # a hook payload (pretty-printed too) is nobody's log
    assert _source_for(LOGS / "qwen-code" / "hook-post-tool-use.json", sources) is None


def test_sniffing_reads_a_bounded_head(tmp_path):
    # A first line far longer than the head: what sniffing sees is bounded, and a Claude Code
    # line is still told by its leading fields.
    record = {"parentUuid": None, "type": "user", "cwd": "/p", "sessionId": "s",
              "message": {"role": "user", "content": "x" * (4 * SNIFF_BYTES)}}
    path = write_jsonl(tmp_path / "long.jsonl", [record])
    chosen = _source_for(path, registry())
    assert chosen is not None and chosen.NAME == "claude-code"
    head = path.read_bytes()[:SNIFF_BYTES]
    assert sum(map(len, head_records(head))) <= SNIFF_BYTES


def test_ingest_of_a_claude_projects_folder_records_every_real_transcript(isolated_user, repo):
    projects, files = claude_projects(isolated_user, str(repo.path))
    done = aiguard("ingest", str(projects))
    assert b"not a log of a known assistant" not in done.stderr, done.stderr
    # every file read; the 1.0.111 session's six long edits recorded, the others' edits found
    # and judged (too short or too common to recognise in a commit: said per file)
    assert done.stdout.startswith(b"read 3 log files: recorded 6, "), done.stdout
    for name in ("thinking", "plan"):
        assert f"{files[name]}: output: ".encode() in done.stderr, (name, done.stderr)
    # From the transcript that opens with a file-history-snapshot to a stamped commit.
    history = next(o for o in claude_code.parse_log(files["snapshot"], files["snapshot"].read_bytes(), {})
                   if isinstance(o, Output) and o.file and o.file.endswith("HistoryLog.tsx"))
    repo.write("src/game/HistoryLog.tsx", history.text)
    repo.git("add", ".")
    repo.git("commit", "-q", "-m", "history log")
    assert dict(repo.trailers())["Assisted-by"] == "claude-code:claude-sonnet-4-20250514"


def test_ingest_of_gemini_chats_folder_reads_the_real_pretty_printed_session(isolated_user):
    chats = isolated_user / ".gemini" / "tmp" / "d30f9106" / "chats"
    chats.mkdir(parents=True)
    real = GEMINI / "agenthistory-real-session-01.json"
    (chats / "session-2026-06-05T04-59-dcbe78d3.json").write_bytes(real.read_bytes())
    done = aiguard("ingest", str(chats))
    # read (no tool call in that session: nothing to record), not refused as of no assistant
    assert done.stdout.startswith(b"read 1 log files: recorded 0, 0 already known"), done.stdout
    assert b"not a log of a known assistant" not in done.stderr
