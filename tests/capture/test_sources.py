"""Assistant sources on real logs (tests/fixtures/assistant-logs, see SOURCES.md there)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, aiguard

from aiguard.capture.sources import claude_code
from aiguard.capture.sources.common import Output, Skip

CLAUDE = FIXTURES / "assistant-logs" / "claude-code"


def outputs(path: Path) -> list[Output]:
    return [o for o in claude_code.parse_log(path, path.read_bytes()) if isinstance(o, Output)]


def test_claude_code_transcript_edits_and_multiedit():
    found = outputs(CLAUDE / "example-claude-code.jsonl")
    # 2 Edit calls and one MultiEdit (with its edits) in this real session.
    assert {o.model for o in found} == {"claude-sonnet-4-20250514"}
    assert all(o.tool == "claude-code" and o.source == "assistant-log" for o in found)
    assert all(o.file and o.file.startswith("/") and o.cwd for o in found)
    raw = [json.loads(line) for line in (CLAUDE / "example-claude-code.jsonl").read_text().splitlines()]
    expected = []
    for record in raw:
        if record.get("type") != "assistant":
            continue
        for block in record["message"]["content"]:
            if block.get("type") == "tool_use" and block["name"] == "Edit":
                expected.append(block["input"]["new_string"])
            elif block.get("type") == "tool_use" and block["name"] == "MultiEdit":
                expected += [e["new_string"] for e in block["input"]["edits"]]
    assert [o.text for o in found] == [t for t in expected if t.strip()]
    assert all(o.time and o.time > 1.7e9 for o in found)


def test_claude_code_write_and_plans():
    found = outputs(CLAUDE / "claude-code-with-plan.jsonl")
    # The Write goes to ~/.claude/plans (the assistant's own notes): not code, not recorded.
    assert found and all("/.claude/" not in (o.file or "") for o in found)
    assert {o.model for o in found} == {"claude-sonnet-4-20250514"}


def test_malformed_and_partial_lines_are_skipped_with_reasons(tmp_path):
    good = (CLAUDE / "claude-code-with-thinking.jsonl").read_bytes()
    log = tmp_path / "s.jsonl"
    log.write_bytes(b"not json at all\n" + b"\x00\xff garbage\n" + good + b'{"type":"assistant","mess')
    items = list(claude_code.parse_log(log, log.read_bytes()))
    skips = [i for i in items if isinstance(i, Skip)]
    assert [s.reason for s in skips] == ["not JSON", "not JSON", "partial last line"]
    assert len([i for i in items if isinstance(i, Output)]) == len(outputs(CLAUDE / "claude-code-with-thinking.jsonl")) > 0


def test_ingest_records_once_and_maps_the_repository(make_repo, tmp_path):
    import re
    import sqlite3

    repo = make_repo()
    log = tmp_path / "session.jsonl"
    records = [json.loads(line) for line in (CLAUDE / "example-claude-code.jsonl").read_text().splitlines()]
    for record in records:
        if "cwd" in record:
            record["cwd"] = str(repo.path)  # the session ran in this repository
        if "timestamp" in record:
            record["timestamp"] = "2026-11-20T10:00:00Z"  # within the 180-day retention
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    first = aiguard("ingest", str(log))
    recorded = int(re.search(rb"recorded (\d+),", first.stdout).group(1))
    assert recorded >= 2
    again = aiguard("ingest", str(log))
    assert f"recorded 0, {recorded} already known".encode() in again.stdout
    stats = json.loads(aiguard("ledger", "stats", "--json").stdout)
    assert stats["by_tool"] == [{"tool": "claude-code", "model": "claude-sonnet-4-20250514",
                                 "source": "assistant-log", "records": recorded}]
    with sqlite3.connect(stats["path"]) as conn:
        assert {row[0] for row in conn.execute("SELECT repo FROM records")} == {str(repo.path)}


def test_ingest_of_unknown_and_missing_paths_says_why(tmp_path):
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": "world"}\n')
    done = aiguard("ingest", str(other))
    assert done.returncode == 0
    assert b"not a log of a known assistant" in done.stderr
    missing = aiguard("ingest", str(other), str(tmp_path / "missing.jsonl"), check=False)
    assert missing.returncode == 2 and b"missing.jsonl' does not exist" in missing.stderr


def test_agent_hook_records_a_post_tool_use_edit_and_the_commit_is_stamped(repo, tmp_path):
    transcript = tmp_path / "t.jsonl"
    transcript.write_bytes((CLAUDE / "claude-code-with-thinking.jsonl").read_bytes())
    code = ("def clamp(value, low, high):\n    if value < low:\n        return low\n"
            "    if value > high:\n        return high\n    return value\n\n\n"
            "def scale(values, factor):\n    return [clamp(v * factor, 0, 255) for v in values]\n")
    payload = {"session_id": "s", "transcript_path": str(transcript), "cwd": str(repo.path),
               "hook_event_name": "PostToolUse", "tool_name": "Write",
               "tool_input": {"file_path": str(repo.path / "pixels.py"), "content": code},
               "tool_response": {"filePath": str(repo.path / "pixels.py"), "success": True}}
    done = aiguard("agent-hook", "claude-code", input=json.dumps(payload).encode())
    assert done.returncode == 0 and done.stdout == b""
    repo.write("pixels.py", code)
    repo.git("add", "pixels.py")
    repo.git("commit", "-q", "-m", "pixels")
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "claude-code:claude-sonnet-4-5-20250929"
    assert trailers["AI-Lines"] == f"{len(code.splitlines())}/{len(code.splitlines())}"


def test_agent_hook_never_fails_the_assistant():
    for junk in (b"", b"not json", b"[1,2]", json.dumps({"tool_name": "Edit", "tool_input": 5}).encode()):
        done = aiguard("agent-hook", "claude-code", input=junk)
        assert done.returncode == 0
    assert aiguard("agent-hook", "no-such-tool", input=b"{}").returncode == 0


def test_output_older_than_retention_is_not_recorded():
    done = aiguard("ingest", str(CLAUDE / "example-claude-code.jsonl"))  # a 2025 session
    assert b"recorded 0," in done.stdout
    assert b"older than the retention period (180 days)" in done.stderr


CODEX = FIXTURES / "assistant-logs" / "codex"


def codex_outputs(path: Path) -> list[Output]:
    from aiguard.capture.sources import codex

    return [o for o in codex.parse_log(path, path.read_bytes()) if isinstance(o, Output)]


def test_codex_apply_patch_function_call_with_model_and_cwd():
    [simple] = codex_outputs(CODEX / "gitai-codex-session-simple.jsonl")
    assert simple.tool == "codex" and simple.model == "gpt-5-codex"
    assert simple.file == "/Users/test/projects/git-ai/src/main.rs"  # relative in the patch, made absolute
    assert simple.text == 'fn greet() { println!("hello"); }\nfn main() { greet(); }\n'
    [updated] = codex_outputs(CODEX / "gitai-codex-session-updated.jsonl")
    assert updated.model == "gpt-5.1-codex"  # the model of the turn the patch was made in


def test_codex_recent_rollout_with_unknown_records_is_read_without_errors():
    from aiguard.capture.sources import codex

    path = CODEX / "agentsessions-codex-small.jsonl"
    items = list(codex.parse_log(path, path.read_bytes()))
    assert not [i for i in items if isinstance(i, Skip)]


def test_codex_patch_grammar():
    from aiguard.capture.sources.codex import patch_texts

    patch = ("*** Begin Patch\n*** Add File: a.py\n+x = 1\n+y = 2\n*** Update File: b.py\n*** Move to: c.py\n"
             "@@ def f():\n-    return 1\n+    return 2\n     pass\n*** Delete File: d.py\n*** End Patch")
    assert patch_texts(patch) == [("a.py", "x = 1\ny = 2\n"), ("c.py", "    return 2\n")]


def test_codex_custom_tool_call_and_patch_apply_end(tmp_path):
    from aiguard.capture.sources import codex

    lines = [
        {"timestamp": "2026-11-20T10:00:00Z", "type": "session_meta", "payload": {"id": "x", "cwd": "/w"}},
        {"timestamp": "2026-11-20T10:00:01Z", "type": "turn_context", "payload": {"cwd": "/w", "model": "gpt-5.5"}},
        {"timestamp": "2026-11-20T10:00:02Z", "type": "response_item",
         "payload": {"type": "custom_tool_call", "name": "apply_patch", "call_id": "c1",
                     "input": "*** Begin Patch\n*** Add File: index.html\n+<p>hi</p>\n*** End Patch"}},
        {"timestamp": "2026-11-20T10:00:03Z", "type": "event_msg",
         "payload": {"type": "patch_apply_end", "call_id": "c2", "success": True,
                     "changes": {"/w/app.js": {"type": "update", "unified_diff": "@@ -1 +1 @@\n-a()\n+b()\n"}}}},
    ]
    log = tmp_path / "rollout.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    found = [(o.file, o.text, o.model) for o in codex.parse_log(log, log.read_bytes()) if isinstance(o, Output)]
    assert found == [("/w/index.html", "<p>hi</p>\n", "gpt-5.5"), ("/w/app.js", "b()\n", "gpt-5.5")]


def test_codex_hook_payload_carries_the_model():
    from aiguard.capture.sources import codex

    payload = {"hook_event_name": "PostToolUse", "model": "gpt-5-codex", "cwd": "/w", "tool_name": "apply_patch",
               "tool_input": {"command": "*** Begin Patch\n*** Add File: k.py\n+k = 1\n*** End Patch"}}
    [out] = codex.parse_hook(payload)
    assert (out.model, out.file, out.text, out.source) == ("gpt-5-codex", "/w/k.py", "k = 1\n", "assistant-hook")
    assert codex.parse_hook({"hook_event_name": "PostToolUse", "tool_input": {"command": "ls -la"}}) == []


def test_doctor_has_a_line_per_assistant(isolated_user, tmp_path):
    logs = isolated_user / ".claude" / "projects" / "-home-me-repo"
    logs.mkdir(parents=True)
    (logs / "s.jsonl").write_bytes((CLAUDE / "claude-code-with-plan.jsonl").read_bytes())
    out = aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()  # outside any repository
    claude = [line for line in out.splitlines() if "assistant claude-code" in line]
    codex = [line for line in out.splitlines() if "assistant codex" in line]
    assert claude and claude[0].startswith("ok") and "1 logs" in claude[0]
    assert codex and "no logs found" in codex[0]


SETTINGS = """{
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run test:*)"]},
    "env": {"FOO": "1"}
}
"""


def test_integrate_claude_code_keeps_other_settings_byte_for_byte(isolated_user):
    settings = isolated_user / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(SETTINGS)
    aiguard("integrate", "claude-code")
    data = json.loads(settings.read_text())
    assert {k: data[k] for k in ("model", "permissions", "env")} == json.loads(SETTINGS)
    [group] = data["hooks"]["PostToolUse"]
    assert group["matcher"] == "Write|Edit|MultiEdit|NotebookEdit|Bash"
    assert group["hooks"][0]["command"].endswith("-m aiguard agent-hook claude-code")
    assert SETTINGS[1:] in settings.read_text()  # every other byte is still there, in order
    before = settings.read_text()
    aiguard("integrate", "claude-code")  # idempotent
    assert settings.read_text() == before
    aiguard("integrate", "claude-code", "--undo")
    assert settings.read_text() == SETTINGS
    assert (settings.parent / "settings.json.aiguard-backup").exists()


def test_integrate_claude_code_with_existing_hooks_and_no_file(isolated_user):
    settings = isolated_user / ".claude" / "settings.json"
    settings.parent.mkdir()
    theirs = {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hi"}]}
    settings.write_text(json.dumps({"hooks": {"PostToolUse": [theirs]}}, indent=2) + "\n")
    aiguard("integrate", "claude-code")
    post = json.loads(settings.read_text())["hooks"]["PostToolUse"]
    assert post[0] == theirs and "agent-hook claude-code" in post[1]["hooks"][0]["command"]
    aiguard("integrate", "claude-code", "--undo")
    assert json.loads(settings.read_text()) == {"hooks": {"PostToolUse": [theirs]}}
    settings.unlink()
    aiguard("integrate", "claude-code")
    assert "agent-hook claude-code" in settings.read_text()
    settings.write_text("{not json")
    done = aiguard("integrate", "claude-code", check=False)
    assert done.returncode == 2 and settings.read_text() == "{not json"
    assert len(done.stderr.decode().strip().splitlines()) == 1


def test_codex_parses_appended_chunks_with_its_state():
    """A tailer feeds new complete lines only; the turn's model carries over in state."""
    from aiguard.capture.sources import codex
    from aiguard.capture.sources.common import complete_lines

    path = CODEX / "gitai-codex-session-updated.jsonl"
    data = path.read_bytes()
    whole = [o for o in codex.parse_log(path, data, {}) if isinstance(o, Output)]
    state: dict = {}
    pieces = []
    offset = 0
    for cut in range(1, len(data) + 1, 97):  # arbitrary appends, cutting lines in half
        chunk = complete_lines(data[offset:cut])
        pieces += [o for o in codex.parse_log(path, chunk, state) if isinstance(o, Output)]
        offset += len(chunk)
    pieces += [o for o in codex.parse_log(path, complete_lines(data[offset:] + b"\n"), state)
               if isinstance(o, Output)]
    assert pieces == whole and whole


def test_every_fixture_is_claimed_by_its_own_source_only():
    from aiguard.capture.sources import registry, sniff

    sources = registry()
    for path in sorted((FIXTURES / "assistant-logs").glob("*/*.jsonl")):
        first = path.open("rb").readline()
        claimed = [name for name, module in sources.items() if sniff(module, first)]
        # shell-writes/ holds transcripts of several assistants, each named after it
        owner = path.name.rsplit("-", 1)[0] if path.parent.name == "shell-writes" else path.parent.name
        assert claimed == [owner], (path, claimed)


def test_seen_marks_keep_the_shape_earlier_daemons_saved():
    """A daemon's tail-state keeps `seen` marks across upgrades: the mark of (id, file, text) must
    stay the digest earlier versions wrote (sha256 of the NUL-joined fields, 24 hex digits), or a
    rewritten log would be reported again after an upgrade."""
    import hashlib

    from aiguard.capture.sources.common import seen_mark

    assert seen_mark("call_1", "/w/a.py", "x = 1\n") == hashlib.sha256(b"call_1\0/w/a.py\0x = 1\n").hexdigest()[:24]
    assert seen_mark(None, "t") == hashlib.sha256(b"None\0t").hexdigest()[:24]  # a call without an id
