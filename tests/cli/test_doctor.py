"""`aiguard doctor`'s policy, daemon and retention lines, against real repositories, a real
daemon and real assistant logs."""

from __future__ import annotations

import os
import re
import time

from conftest import FIXTURES, aiguard

CLAUDE = FIXTURES / "assistant-logs" / "claude-code"


def doctor(cwd) -> tuple[int, dict[str, str]]:
    """(exit code, {part: the whole line}) of one doctor run."""
    done = aiguard("doctor", cwd=cwd, check=False)
    assert "Traceback" not in done.stderr.decode(), done.stderr
    lines = {}
    for line in done.stdout.decode().splitlines():
        part = re.match(r"(?:ok  |FAIL) ([^:]+):", line)
        assert part, line
        lines[part.group(1)] = line
    return done.returncode, lines


def test_a_malformed_policy_fails_doctor(repo):
    code, lines = doctor(repo.path)
    assert code == 0 and lines["policy"].startswith("ok") and "defaults" in lines["policy"], lines
    repo.write(".aiguard.toml", 'require-stamp = "sometimes"\n')
    code, lines = doctor(repo.path)
    assert code == 1
    assert lines["policy"].startswith("FAIL") and ".aiguard.toml" in lines["policy"], lines["policy"]
    assert "require-stamp" in lines["policy"]
    assert [part for part, line in lines.items() if line.startswith("FAIL")] == ["policy"]


def test_policy_that_is_not_toml_is_named(repo):
    repo.write(".aiguard.toml", "require-stamp = [\n")
    code, lines = doctor(repo.path)
    assert code == 1 and "not valid TOML" in lines["policy"], lines["policy"]


def test_a_valid_policy_is_named(repo):
    repo.write("pyproject.toml", '[project]\nname = "x"\n\n[tool.aiguard]\nmax-ai-share = 0.5\n')
    code, lines = doctor(repo.path)
    assert code == 0 and "pyproject.toml [tool.aiguard] is valid" in lines["policy"], lines
    repo.write(".aiguard.toml", 'external-models = "forbid"\n')  # this one wins, as for verify
    code, lines = doctor(repo.path)
    assert code == 0 and ".aiguard.toml is valid" in lines["policy"], lines
    repo.write("pyproject.toml", '[tool.aiguard]\nmax-ai-share = 5\n')  # not read: .aiguard.toml is there
    assert doctor(repo.path)[0] == 0


def test_no_policy_line_outside_a_repository(tmp_path):
    code, lines = doctor(tmp_path)
    assert "policy" not in lines and "daemon" in lines


def test_daemon_line_says_whether_it_runs(isolated_user, tmp_path):
    code, lines = doctor(tmp_path)
    assert lines["daemon"].startswith("ok") and "not running" in lines["daemon"], lines["daemon"]
    assert "aiguard daemon start" in lines["daemon"]
    aiguard("daemon", "start")
    try:
        pid = re.search(r"pid (\d+)", aiguard("daemon", "status").stdout.decode()).group(1)
        code, lines = doctor(tmp_path)
        assert f"running (pid {pid})" in lines["daemon"], lines["daemon"]
    finally:
        aiguard("daemon", "stop")
    assert "not running" in doctor(tmp_path)[1]["daemon"]


def test_logs_past_the_retention_are_said(isolated_user, tmp_path):
    logs = isolated_user / ".claude" / "projects" / "-home-me-repo"
    logs.mkdir(parents=True)
    fresh = logs / "fresh.jsonl"
    stale = logs / "stale.jsonl"
    for path in (fresh, stale):
        path.write_bytes((CLAUDE / "claude-code-with-plan.jsonl").read_bytes())
    code, lines = doctor(tmp_path)
    assert "older than the retention" not in lines["assistant claude-code"], lines["assistant claude-code"]
    year_ago = time.time() - 365 * 86400
    os.utime(stale, (year_ago, year_ago))
    code, lines = doctor(tmp_path)
    line = lines["assistant claude-code"]
    assert line.startswith("ok") and "2 logs" in line, line
    assert "1 of them older than the retention period (180 days)" in line, line
