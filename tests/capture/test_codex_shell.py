"""Codex edits made through its shell tools (`shell`, `exec_command`), from a rollout or a hook
payload to a stamped commit (issue 18), and a patch Codex logs twice recorded once.

The rollout is tests/fixtures/assistant-logs/shell-writes/codex-shell.jsonl (synthesised in the
shape of the real rollouts beside it, see its SOURCES.md); the hook payload has the shape Codex
sends for its shell tools (openai/codex: `tool_name` "Bash", `tool_input` {"command": ...})."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURES, MERGE_INTERVALS, aiguard

from aiguard.capture.sources import codex
from aiguard.capture.sources.common import Output

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROLLOUT = FIXTURES / "assistant-logs" / "shell-writes" / "codex-shell.jsonl"
PROJECT = "/home/dev/blog"


def rollout_in(repo_path: Path, tmp_path: Path, extra: list[dict] = ()) -> Path:
    """The rollout, moved into the test's repository and dated today, with `extra` records appended."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    records = [json.loads(line) for line in ROLLOUT.read_text().splitlines() if line.strip()] + list(extra)
    for record in records:
        record["timestamp"] = now
    path = tmp_path / "rollout-2026-11-30T10-00-00-019c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records).replace(PROJECT, str(repo_path)))
    return path


def commit(repo, name: str, text: str) -> dict:
    repo.write(name, text)
    repo.git("add", name)
    repo.git("commit", "-q", "-m", f"add {name}")
    return dict(repo.trailers())


def test_ingest_codex_shell_and_exec_command_writes_then_commits_are_stamped(repo, tmp_path):
    rollout = rollout_in(repo.path, tmp_path)
    written = {Path(o.file).name: o for o in codex.parse_log(rollout, rollout.read_bytes(), {})
               if isinstance(o, Output)}
    assert sorted(written) == ["slugify.py", "titles.py"]  # the pytest call wrote nothing
    done = aiguard("ingest", str(rollout))
    assert done.stdout.startswith(b"read 1 log files: recorded 2, 0 already known"), (done.stdout, done.stderr)
    # `shell` with `bash -lc` and a here-document
    trailers = commit(repo, "src/slugify.py", written["slugify.py"].text)
    assert trailers["Assisted-by"] == "codex:gpt-5-codex"
    # `exec_command` running apply_patch with a here-document
    trailers = commit(repo, "src/titles.py", written["titles.py"].text)
    assert trailers["Assisted-by"] == "codex:gpt-5-codex"
    lines = len(written["titles.py"].text.splitlines())
    assert trailers["AI-Lines"] == f"{lines}/{lines}"


def test_a_patch_codex_logs_twice_is_recorded_once(repo, tmp_path):
    # Codex logs the exec_command apply_patch call and then, in newer builds, a patch_apply_end
    # event with the same change: one output in the ledger, not two.
    call = next(json.loads(line) for line in ROLLOUT.read_text().splitlines() if "exec_command" in line)
    script = json.loads(call["payload"]["arguments"])["cmd"]
    added = "".join(line[1:] + "\n" for line in script.splitlines() if line.startswith("+"))
    applied = {"type": "event_msg", "payload": {
        "type": "patch_apply_end", "call_id": call["payload"]["call_id"], "success": True,
        "changes": {f"{PROJECT}/src/titles.py": {"type": "add", "content": added}}}}
    rollout = rollout_in(repo.path, tmp_path, [applied])
    titles = [o for o in codex.parse_log(rollout, rollout.read_bytes(), {})
              if isinstance(o, Output) and o.file.endswith("titles.py")]
    assert len(titles) == 2 and titles[0].text == titles[1].text  # logged twice
    done = aiguard("ingest", str(rollout))
    assert done.stdout.startswith(b"read 1 log files: recorded 2, 1 already known"), done.stdout
    stats = json.loads(aiguard("ledger", "stats", "--json").stdout)
    assert stats["records"] == 2


def test_the_codex_hook_covers_shell_edits_and_the_commit_is_stamped(isolated_user, repo, tmp_path):
    aiguard("integrate", "codex")
    data = tomllib.loads((isolated_user / ".codex" / "config.toml").read_text())
    [group] = [g for g in data["hooks"]["PostToolUse"] if "agent-hook codex" in g["hooks"][0]["command"]]
    # Codex matches a matcher of names and `|` exactly, name by name; its shell tools are "Bash".
    assert "Bash" in group["matcher"].split("|") and "apply_patch" in group["matcher"].split("|")
    payload = {"session_id": "019c", "turn_id": "t1", "transcript_path": None, "cwd": str(repo.path),
               "hook_event_name": "PostToolUse", "model": "gpt-5-codex", "permission_mode": "default",
               "tool_name": "Bash", "tool_use_id": "call_7",
               "tool_input": {"command": f"cat > merge.py <<'EOF'\n{MERGE_INTERVALS}EOF"},
               "tool_response": ""}
    ran = subprocess.run(group["hooks"][0]["command"], shell=True, input=json.dumps(payload).encode(),
                         capture_output=True, cwd=tmp_path, env=os.environ.copy())
    assert ran.returncode == 0 and ran.stdout == b"" and ran.stderr == b"", ran.stderr
    trailers = commit(repo, "merge.py", MERGE_INTERVALS)
    assert trailers["Assisted-by"] == "codex:gpt-5-codex"
    lines = len(MERGE_INTERVALS.splitlines())
    assert trailers["AI-Lines"] == f"{lines}/{lines}"
