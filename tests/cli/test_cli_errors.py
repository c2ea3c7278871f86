"""Errors a user can meet are one `aiguard` line on stderr, naming what is wrong, and exit 2.

Each case runs the real command line in a subprocess against real files and repositories.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import aiguard


def one_error(done, *words: str) -> str:
    """The one stderr line of a failed run; it must name each of `words`."""
    err = done.stderr.decode()
    assert done.returncode == 2, (done.returncode, err)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aiguard"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def committed(make_repo):
    r = make_repo("work")
    r.write("a.txt", "a\n")
    r.git("add", "a.txt")
    r.git("commit", "-qm", "a")
    return r


@pytest.mark.parametrize("command", ["install", "uninstall", "doctor"])
def test_repo_that_does_not_exist(tmp_path, command):
    missing = str(tmp_path / "nonexistent")
    one_error(aiguard(command, "--repo", missing, check=False), missing, "does not exist")


@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_repo_that_is_a_file(tmp_path, command):
    path = tmp_path / "file"
    path.write_text("x")
    one_error(aiguard(command, "--repo", str(path), check=False), str(path), "is a file")


@pytest.mark.parametrize("args", [
    ["report", "--html", "{missing}/x.html"],
    ["export", "-o", "{missing}/x"],
    ["verify", "HEAD", "--output", "{missing}/x"],
])
def test_output_file_in_a_missing_folder(committed, tmp_path, args):
    missing = str(tmp_path / "nonexistent-dir")
    done = aiguard(*[a.format(missing=missing) for a in args], cwd=committed.path, check=False)
    one_error(done, missing, "does not exist")


@pytest.mark.parametrize("args", [
    ["report", "--html", "{folder}"],
    ["export", "-o", "{folder}"],
    ["verify", "HEAD", "--output", "{folder}"],
])
def test_output_file_that_is_a_folder(committed, tmp_path, args):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    done = aiguard(*[a.format(folder=folder) for a in args], cwd=committed.path, check=False)
    one_error(done, str(folder), "directory")


def test_github_step_summary_in_a_missing_folder(committed, tmp_path, monkeypatch):
    missing = tmp_path / "nonexistent-dir"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(missing / "summary.md"))
    done = aiguard("verify", "HEAD", "--format", "github", cwd=committed.path, check=False)
    one_error(done, str(missing), "does not exist")


def test_hooks_path_through_a_file(committed, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    committed.git("config", "core.hooksPath", str(blocker / "hooks"))
    one_error(aiguard("install", cwd=committed.path, check=False), str(blocker / "hooks"), "not a folder")


def test_state_folder_that_is_a_file(committed, monkeypatch, tmp_path):
    blocker = tmp_path / "state-file"
    blocker.write_text("x")
    monkeypatch.setenv("AIGUARD_HOME", str(blocker))
    one_error(aiguard("key", "init", check=False), str(blocker))
    one_error(aiguard("install", cwd=committed.path, check=False), str(blocker))
    # doctor said "is mode 644; expected 700 (chmod 700 it)", which would not help
    doctor = aiguard("doctor", cwd=committed.path, check=False).stdout.decode()
    [line] = [line for line in doctor.splitlines() if "state folder" in line]
    assert line.startswith("FAIL") and "is a file, not a folder" in line and "chmod" not in line, line


def test_bad_signing_key_in_the_environment(committed, monkeypatch):
    monkeypatch.setenv("AIGUARD_KEY", "garbage")
    one_error(aiguard("install", cwd=committed.path, check=False), "AIGUARD_KEY")


@pytest.mark.parametrize("args, words", [
    (["export", "--format", "xml"], ["--format", "xml", "aiguard export --help"]),
    (["verify", "--format", "xml"], ["--format", "xml"]),
    (["stats", "--depth", "99"], ["--depth", "99"]),
    (["ledger", "prune", "--older-than", "soon"], ["--older-than", "soon"]),
    (["record", "--tool", "x", "--model", "y", "--source", "fax"], ["--source", "fax"]),
    (["no-such-command"], ["no-such-command", "aiguard --help"]),
    (["log", "--json", "--no-such-flag"], ["--no-such-flag"]),
])
def test_usage_errors_are_one_line(committed, args, words):
    one_error(aiguard(*args, cwd=committed.path, check=False), *words)


@pytest.mark.parametrize("args", [["log", "nosuchrev"], ["export", "nosuch..HEAD"], ["stats", "nosuchrev"],
                                  ["verify", "nosuchrev"], ["blame", "a.txt", "--rev", "nosuchrev"],
                                  ["attribute", "nosuchrev"], ["notes", "show", "nosuchrev"]])
def test_bad_revisions(committed, args):
    one_error(aiguard(*args, cwd=committed.path, check=False), "nosuch")


def test_output_to_a_closed_pipe_is_quiet(committed):
    import subprocess
    import sys

    committed.write("big.txt", "".join(f"line {n}\n" for n in range(20000)))  # far more than a pipe holds
    committed.git("add", "big.txt")
    committed.git("commit", "-qm", "big")
    done = subprocess.run(f"{sys.executable} -m aiguard blame big.txt | head -1", shell=True, cwd=committed.path,
                          capture_output=True)
    assert done.stdout.decode().count("\n") == 1
    assert done.stderr == b"", done.stderr


# --- words: what the messages say ------------------------------------------------------------

def test_ingest_of_a_missing_path(tmp_path):
    missing = str(tmp_path / "nonexistent")
    one_error(aiguard("ingest", missing, check=False), missing, "does not exist")


def test_ingest_says_what_the_retention_left_out(tmp_path):
    from conftest import FIXTURES

    log = FIXTURES / "assistant-logs" / "claude-code" / "example-claude-code.jsonl"  # a 2025 session
    done = aiguard("ingest", str(log))
    summary = done.stdout.decode()
    found = re.search(r"recorded 0, 0 already known, (\d+) older than the retention period", summary)
    assert found and int(found.group(1)) > 0, summary
    [note] = [line for line in done.stderr.decode().splitlines() if "retention" in line]
    assert f"{found.group(1)} outputs older than the retention period (180 days)" in note and str(log) in note


def test_verify_on_the_default_branch_asks_for_a_range(committed):
    line = one_error(aiguard("verify", cwd=committed.path, check=False), "on the default branch (main)", "RANGE")
    assert "cannot tell" not in line


def test_verify_in_a_repository_without_commits(make_repo):
    empty = make_repo("empty")
    one_error(aiguard("verify", cwd=empty.path, check=False), "no commits yet")


def test_notes_with_a_remote_that_does_not_exist(committed):
    for action in ("fetch", "push"):
        one_error(aiguard("notes", action, "nosuchremote", cwd=committed.path, check=False),
                  "'nosuchremote' is not a remote", "git remote")


def test_notes_fetch_from_an_unreachable_remote_says_why(committed, tmp_path):
    committed.git("remote", "add", "origin", str(tmp_path / "gone.git"))
    line = one_error(aiguard("notes", "fetch", cwd=committed.path, check=False), "gone.git", "origin")
    assert "and the repository exists" not in line


def test_daemon_help_says_it_watches_the_clipboard_now():
    text = aiguard("daemon", "--help").stdout.decode()
    assert "clipboard" in text and "later" not in text


@pytest.mark.parametrize("days", ["0", "-1", "nan"])
def test_prune_needs_a_positive_number_of_days(days):
    one_error(aiguard("ledger", "prune", "--older-than", days, check=False), "--older-than", "positive")


def test_key_import_without_a_key():
    one_error(aiguard("key", "import", input=b"", check=False), "no key given", "aiguard key export")
    one_error(aiguard("key", "import", "", check=False), "no key given")


def test_key_import_reads_a_key_not_all_of_stdin():
    """`aiguard key import < /dev/zero` read stdin whole, until memory ran out."""
    import subprocess
    import sys

    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "aiguard", "key", "import"], stdin=zero, capture_output=True,
                              timeout=60)
    one_error(done, "not a key")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_one_line(committed):
    import subprocess
    import sys

    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "aiguard", "log", "--json"], cwd=committed.path,
                              stdout=full, stderr=subprocess.PIPE)
    one_error(done, "disk is full")
    one_error(aiguard("export", "-o", "/dev/full", cwd=committed.path, check=False), "/dev/full", "disk is full")


def test_without_git_on_the_path(committed, monkeypatch, tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, PATH=str(tmp_path / "no-programs-here"))
    done = subprocess.run([sys.executable, "-m", "aiguard", "log"], cwd=committed.path, env=env, capture_output=True)
    one_error(done, "git is not installed")


@pytest.mark.parametrize("event", ["[1, 2]", '{"pull_request": 5}', '{"pull_request": {"head": "abc"}}'])
def test_a_github_event_file_that_is_not_an_event(committed, tmp_path, monkeypatch, event):
    path = tmp_path / "event.json"
    path.write_text(event)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    one_error(aiguard("verify", cwd=committed.path, check=False), str(path), "not a GitHub event")


def test_range_takes_paths_after_a_double_dash(committed):
    committed.write("b.txt", "b\n")
    committed.git("add", "b.txt")
    committed.git("commit", "-qm", "b")
    only_a = aiguard("log", "--json", "--", "a.txt", cwd=committed.path)
    assert [c["commit"] for c in json.loads(only_a.stdout)] == [committed.out("rev-parse", "HEAD~1").strip()]
    gone = aiguard("log", "--json", "HEAD", "--", "deleted-long-ago.txt", cwd=committed.path)
    assert json.loads(gone.stdout) == []  # a path, not a revision: no error


def test_a_dash_for_an_output_file_is_stdout(committed):
    """`report --html -` and `verify --output -` wrote a file named "-" into the work tree
    (export's -o - was already stdout)."""
    done = aiguard("report", "--html", "-", cwd=committed.path)
    assert done.stdout.startswith(b"<!DOCTYPE html>") and b"wrote" in done.stderr
    done = aiguard("verify", "HEAD", "--output", "-", "--format", "json", cwd=committed.path, check=False)
    assert json.loads(done.stdout)["range"] == "HEAD"
    assert not (committed.path / "-").exists()
