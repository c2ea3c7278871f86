"""What the commit hook's process does before it imports the stamp (issue 12's hook latency)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """import sys
from aiguard.main import main
code = main()
print(code, "aiguard.hook.stamp" in sys.modules)
"""


def probe(argv: list[str], editor: str | None, tmp_path) -> tuple[str, str, bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AIGUARD_"))}
    env["AIGUARD_HOME"] = str(tmp_path / "home")
    env["AIGUARD_NO_HOOK_SERVER"] = "1"
    if editor is not None:
        env["GIT_EDITOR"] = editor
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, cwd=tmp_path, capture_output=True)
    code, imported = done.stdout.decode().split()
    return code, imported, done.stderr


def test_commit_msg_without_an_editor_exits_before_importing_the_stamp(tmp_path):
    msg = tmp_path / "MSG"
    msg.write_bytes(b"Subject\n")
    for argv in (["stamp", "--stage", "commit-msg", str(msg)], ["stamp", "--stage=commit-msg", str(msg)]):
        code, imported, stderr = probe(argv, ":", tmp_path)
        assert (code, imported, stderr) == ("0", "False", b"")
    assert msg.read_bytes() == b"Subject\n"


def test_other_runs_still_reach_the_stamp(tmp_path):
    msg = tmp_path / "MSG"
    msg.write_bytes(b"Subject\n")
    # After an editor: the stamp runs (here outside a repository, so it fails open and says so).
    code, imported, stderr = probe(["stamp", "--stage", "commit-msg", str(msg)], "vi", tmp_path)
    assert (code, imported) == ("0", "True")
    assert stderr.startswith(b"aiguard: ")
    # A usage error is still the stamp's to report, editor or not.
    code, imported, stderr = probe(["stamp", "--stage", "commit-msg"], ":", tmp_path)
    assert (code, imported) == ("2", "True")
    assert b"usage: aiguard stamp" in stderr
    # prepare-commit-msg of a -m commit is the stamp's work.
    code, imported, _ = probe(["stamp", str(msg), "message"], ":", tmp_path)
    assert imported == "True"
