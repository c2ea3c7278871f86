"""What the commit hook's process does before it imports the stamp (issue 12's hook latency)."""

from __future__ import annotations

import os
import subprocess
import sys

# main(argv) as the hook calls it but for argv given: main() itself (argv None) ends the process
# there (test_the_hooks_own_process_ends_in_main below), and the probe would print nothing.
PROBE = """import sys
from aiguard.main import main
code = main(sys.argv[1:])
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


def test_the_hooks_own_process_ends_in_main_with_its_code_and_its_output(tmp_path):
    """The hook's process (main() with no arguments, as the hook scripts and the console script
    call it) ends in main without tearing the interpreter down; its exit code and everything
    it printed still reach git."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AIGUARD_"))}
    env.update(AIGUARD_HOME=str(tmp_path / "home"), AIGUARD_NO_HOOK_SERVER="1", GIT_EDITOR="vi")
    code = "import sys\nfrom aiguard.main import main\nmain()\nprint('after main')\n"
    usage = subprocess.run([sys.executable, "-c", code, "stamp", "--stage", "commit-msg"], env=env, cwd=tmp_path,
                           capture_output=True)
    assert usage.returncode == 2 and b"usage: aiguard stamp" in usage.stderr and usage.stdout == b""
    msg = tmp_path / "MSG"
    msg.write_bytes(b"Subject\n")
    outside = subprocess.run([sys.executable, "-c", code, "stamp", "--stage", "commit-msg", str(msg)], env=env,
                             cwd=tmp_path, capture_output=True)
    assert outside.returncode == 0 and outside.stderr.startswith(b"aiguard: ") and outside.stdout == b""
    # the CLI's other commands return from main as before
    version = subprocess.run([sys.executable, "-c", code, "--version"], env=env, cwd=tmp_path, capture_output=True)
    assert version.stdout.endswith(b"after main\n")
