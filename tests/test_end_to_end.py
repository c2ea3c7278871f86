"""The README's story: record a snippet, paste it among your own lines, re-indent
and rename a bit, commit, and find the trailers in git log."""

from __future__ import annotations

import re

from conftest import MERGE_INTERVALS, aiguard

SNIPPET = MERGE_INTERVALS

HUMAN_BEFORE = '''\
import os
import sys


def read_config(path):
    with open(path) as handle:
        return handle.read().splitlines()

'''

HUMAN_AFTER = '''

if __name__ == "__main__":
    print(read_config(sys.argv[1]))
'''


def test_recorded_snippet_pasted_reindented_and_renamed_is_stamped(repo):
    aiguard("record", "--tool", "claude-code", "--model", "claude-sonnet-4-5-20250929", input=SNIPPET.encode())
    pasted = "class Tools:\n" + "".join("    " + line if line.strip() else line
                                        for line in SNIPPET.replace("ordered", "by_start").splitlines(True))
    repo.write("tools.py", HUMAN_BEFORE + pasted + HUMAN_AFTER)
    repo.git("add", "tools.py")
    repo.git("commit", "-q", "-m", "Add interval tools")

    trailers = repo.trailers()
    assert ("Assisted-by", "claude-code:claude-sonnet-4-5-20250929") in trailers
    ai_lines = dict(trailers)["AI-Lines"]
    ai, total = map(int, ai_lines.split("/"))
    lines = (HUMAN_BEFORE + pasted + HUMAN_AFTER).splitlines()
    assert total == len(lines)
    # Every pasted snippet line is attributed; the human lines around it are not.
    assert ai == len(SNIPPET.splitlines())
    assert re.fullmatch(r"v2 [0-9a-f]{8} [0-9]+ [0-9a-f]{32} [0-9a-f]{32}", dict(trailers)["AIGuard-Stamp"])
    # The message itself is untouched.
    assert repo.message().startswith(b"Add interval tools\n\nAssisted-by: ")


def test_human_commit_says_zero_ai_lines(repo):
    aiguard("record", "--tool", "claude-code", "--model", "m", input=SNIPPET.encode())
    repo.write("main.py", HUMAN_BEFORE + HUMAN_AFTER)
    repo.git("add", "main.py")
    repo.git("commit", "-q", "-m", "Human work")
    trailers = dict(repo.trailers())
    assert "Assisted-by" not in trailers
    assert trailers["AI-Lines"] == f"0/{len((HUMAN_BEFORE + HUMAN_AFTER).splitlines())}"


def test_binary_and_oversized_files_are_counted_not_matched(repo):
    """A binary file adds no lines; a file over the size limit counts in T, unmatched, and both
    are said: on stderr and in the stamp's AI-Unmatched (tests/hook/test_unmatched.py has the rest)."""
    aiguard("record", "--tool", "claude-code", "--model", "m", input=SNIPPET.encode())
    repo.write("blob.bin", bytes(range(256)) * 64)
    line = "value = compute(alpha, beta)\n"
    big_lines = 4000
    repo.write("generated.py", SNIPPET + line * big_lines)
    repo.write("small.py", SNIPPET)
    repo.git("add", "-A")
    done = repo.git("commit", "-q", "-m", "Vendored", env={"AIGUARD_MAX_FILE_BYTES": str(len(line) * 1000)})
    trailers = dict(repo.trailers())
    snippet_lines = len(SNIPPET.splitlines())
    # Only small.py was matched; generated.py's lines still count in T.
    assert trailers["AI-Lines"] == f"{snippet_lines}/{2 * snippet_lines + big_lines}"
    assert trailers["AI-Unmatched"] == f"{snippet_lines + big_lines} lines in 2 files (too-large 1, binary 1)"
    assert b"generated.py: " in done.stderr and b"not matched" in done.stderr


def test_attribute_json_for_a_commit_and_the_staged_change(repo):
    import json

    aiguard("record", "--tool", "codex", "--model", "gpt-5-codex", "--source", "assistant-log",
            input=SNIPPET.encode())
    repo.write("src/tools.py", HUMAN_BEFORE + SNIPPET)
    repo.git("add", "-A")
    staged = json.loads(aiguard("attribute", "--staged", "--json", cwd=repo.path).stdout)
    repo.git("commit", "-q", "-m", "tools")
    committed = json.loads(aiguard("attribute", "HEAD", "--json", cwd=repo.path).stdout)
    first = HUMAN_BEFORE.count("\n") + 1
    expected = {
        "added": HUMAN_BEFORE.count("\n") + SNIPPET.count("\n"),
        "ai": SNIPPET.count("\n"),
        "files": [{"path": "src/tools.py", "added": HUMAN_BEFORE.count("\n") + SNIPPET.count("\n"),
                   "ai": SNIPPET.count("\n"),
                   "ranges": [{"start": first, "end": first + SNIPPET.count("\n") - 1, "tool": "codex",
                               "model": "gpt-5-codex", "source": "assistant-log"}]}],
        "unmatched": [],
        "notes": [],
    }
    assert staged == expected
    assert committed == expected
    # The hook said the same in the trailers.
    assert dict(repo.trailers())["AI-Lines"] == f"{expected['ai']}/{expected['added']}"
