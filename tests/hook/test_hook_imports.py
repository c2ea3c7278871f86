"""The commit hook's import path stays lean (issue 12's latency target): the real
prepare-commit-msg hook of a normal `-m` commit that matches ledger records, run with
`-X importtime` (PYTHONPROFILEIMPORTTIME), imports none of the modules it was freed of."""

from __future__ import annotations

import os
import subprocess

from conftest import aiguard

MERGE_INTERVALS = '''def merge_intervals(intervals):
    """Merge overlapping [start, end] intervals."""
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = [list(ordered[0])]
    for start, end in ordered[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
'''

# Each costs a commit 0.5-3 ms to import (with what it imports in turn).
HEAVY = ("typing", "pathlib", "urllib.parse", "ipaddress", "fnmatch", "subprocess", "selectors", "threading",
         "signal", "locale", "hashlib", "hmac", "_hashlib", "logging", "contextlib",
         "re", "enum", "json",  # re (with enum and functools) ~4 ms, json (which imports re) ~1.4 ms more
         # the ledger uses _sqlite3 itself: sqlite3's wrapper adds only datetime adapters (~1.5 ms).
         # collections and functools stay: _sqlite3 imports functools, which imports collections.
         "sqlite3", "sqlite3.dbapi2", "datetime", "_datetime")


def imported_by_the_hook(repo) -> tuple[set[str], bytes]:
    msg = repo.path / ".git" / "COMMIT_EDITMSG"
    msg.write_bytes(b"Add merge_intervals\n")
    env = dict(os.environ, GIT_EDITOR=":", AIGUARD_NO_HOOK_SERVER="1", PYTHONPROFILEIMPORTTIME="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([str(repo.path / ".git" / "hooks" / "prepare-commit-msg"), str(msg), "message"],
                          cwd=repo.path, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.decode().splitlines()
    modules = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    others = [line for line in lines if not line.startswith("import time:")]
    assert others == [], others
    return modules, msg.read_bytes()


def test_a_stamping_commit_imports_none_of_the_heavy_modules(repo):
    aiguard("record", "--tool", "claude-code", "--model", "m", input=MERGE_INTERVALS.encode())
    repo.write("intervals.py", MERGE_INTERVALS)
    repo.git("add", "intervals.py")
    modules, message = imported_by_the_hook(repo)
    # the whole stamp ran: the ledger was read, the change matched and the message stamped
    assert {"aiguard.hook.stamp", "aiguard.store.ledger", "aiguard.git.changes", "aiguard.core.attribution",
            "aiguard.git.pending", "_sqlite3"} <= modules
    assert b"AI-Lines: 10/10\n" in message and b"AIGuard-Stamp: v2 " in message
    assert sorted(modules & set(HEAVY)) == []
