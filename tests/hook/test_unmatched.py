"""Added text the hook does not match is never silent (issue 12).

Binary files, files over the size limit and text past the per-commit budget are named
in the stamp (`AI-Unmatched`, covered by the binding), on `attribute`'s stderr and in its
--json, in `log --json` / `export`, and by `verify` (a notice, or an error under
`unmatched = "error"`). The limits are lowered through their environment variables so
that the tests need no 64 MiB commits; one test commits several MiB, past the 1 MiB
the hook used to stop at.
"""

from __future__ import annotations

import json
import os
import sys

from conftest import MERGE_INTERVALS, aiguard, run

SNIPPET = MERGE_INTERVALS
HUMAN = "def read_config(path):\n    with open(path) as handle:\n        return handle.read().splitlines()\n"


def record(text: str = SNIPPET) -> None:
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=text.encode())


def group_lines(repo) -> list[str]:
    return [f"{k}: {v}" for k, v in repo.trailers()]


def verify_json(repo, *args, env=None):
    done = run([sys.executable, "-m", "aiguard", "verify", *args, "--format", "json"],
               cwd=repo.path, env=env, check=False)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_binary_file_is_named_in_the_stamp_and_the_stamp_verifies(repo):
    record()
    repo.write("logo.png", bytes(range(256)) * 8)
    repo.write("tools.py", HUMAN + "\n\n" + SNIPPET)
    repo.git("add", "-A")
    done = repo.git("commit", "-q", "-m", "Tools and a logo")
    lines = group_lines(repo)
    assert "AI-Unmatched: 0 lines in 1 file (binary 1)" in lines
    # The group's order: Assisted-by, AI-Lines, AI-Unmatched, AIGuard-Stamp.
    keys = [line.split(":", 1)[0] for line in lines]
    assert keys[-3:] == ["AI-Lines", "AI-Unmatched", "AIGuard-Stamp"]
    assert b"logo.png: not matched (binary content)" in done.stderr
    # The binding covers the new claim: verify accepts the stamp, and reports a notice.
    code, report = verify_json(repo, "HEAD")
    assert code == 0, report
    rules = {f["rule"]: f for f in report["findings"]}
    assert "invalid-stamp" not in rules
    assert rules["unmatched-lines"]["severity"] == "notice"


def test_an_edited_unmatched_claim_breaks_the_binding(repo):
    repo.write("logo.png", bytes(range(256)) * 8)
    repo.write("a.py", HUMAN)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Logo")
    message = repo.message().decode().replace("AI-Unmatched: 0 lines in 1 file (binary 1)",
                                               "AI-Unmatched: 0 lines in 2 files (binary 2)")
    repo.git("commit", "-q", "--amend", "--no-verify", "-m", message, env={"AIGUARD_DISABLE": "1"})
    code, report = verify_json(repo, "HEAD")
    assert code == 1
    assert [f["rule"] for f in report["findings"] if f["severity"] == "error"] == ["invalid-stamp"]


def test_unmatched_is_an_error_under_the_policy(repo):
    repo.write(".aiguard.toml", 'unmatched = "error"\n')
    repo.write("logo.png", bytes(range(256)) * 8)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Logo and policy")
    code, report = verify_json(repo, "HEAD")
    assert code == 1
    assert {f["rule"]: f["severity"] for f in report["findings"]}["unmatched-lines"] == "error"


def test_over_the_budget_is_disclosed_everywhere(repo):
    record()
    repo.write("small.py", SNIPPET)
    repo.write("large.py", HUMAN * 200 + SNIPPET)
    repo.git("add", "-A")
    env = {"AIGUARD_MAX_ADDED_BYTES": str(len(SNIPPET) + 100)}
    staged = run([sys.executable, "-m", "aiguard", "attribute", "--json"], cwd=repo.path,
                 env={**os.environ, **env})
    result = json.loads(staged.stdout)
    assert result["unmatched"] == [{"path": "large.py", "reason": "over-budget",
                                    "lines": (HUMAN * 200 + SNIPPET).count("\n")}]
    assert b"aiguard: large.py: " in staged.stderr and b"not matched" in staged.stderr
    # small.py (least added text first) was matched in full.
    assert [f["ai"] for f in result["files"] if f["path"] == "small.py"] == [SNIPPET.count("\n")]

    done = repo.git("commit", "-q", "-m", "Two files", env=env)
    assert b"large.py" in done.stderr
    unmatched_lines = (HUMAN * 200 + SNIPPET).count("\n")
    assert f"AI-Unmatched: {unmatched_lines} lines in 1 file (over-budget 1)" in group_lines(repo)
    entry = json.loads(aiguard("log", "--json", "-n", "1", cwd=repo.path).stdout)[0]
    assert entry["unmatched"] == {"lines": unmatched_lines, "files": 1, "reasons": {"over-budget": 1}}
    exported = json.loads(aiguard("export", "-n", "1", "--format", "jsonl", cwd=repo.path).stdout.splitlines()[0])
    assert exported["unmatched"] == entry["unmatched"]
    text = aiguard("log", "-n", "1", cwd=repo.path).stdout.decode()
    assert f"not matched by the hook: {unmatched_lines} added lines in 1 files (over-budget 1)" in text


def test_a_file_over_the_size_limit_is_too_large(repo):
    record()
    repo.write("big.py", HUMAN * 50 + SNIPPET)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Big", env={"AIGUARD_MAX_FILE_BYTES": "1000"})
    lines = group_lines(repo)
    assert any(line.startswith("AI-Unmatched: ") and line.endswith("(too-large 1)") for line in lines), lines
    assert "AI-Lines: 0/" + str((HUMAN * 50 + SNIPPET).count("\n")) in lines


def test_restamping_replaces_the_claim_and_drops_it_when_all_is_matched(repo):
    repo.write("logo.png", bytes(range(256)) * 8)
    repo.write("a.py", HUMAN)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Logo")
    repo.git("commit", "-q", "--amend", "--no-edit")
    assert sum(line.startswith("AI-Unmatched:") for line in group_lines(repo)) == 1
    repo.git("rm", "-q", "--cached", "logo.png")
    repo.git("commit", "-q", "--amend", "--no-edit")
    assert not any(line.startswith("AI-Unmatched:") for line in group_lines(repo))
    code, report = verify_json(repo, "HEAD")
    assert not [f for f in report["findings"] if f["severity"] == "error"], report


def stdlib_functions(count: int) -> list[str]:
    """Distinct functions and methods of 10-40 lines and 80+ tokens from a few stdlib modules (real
    code; shorter ones, mostly docstring, are below the matcher's threshold by design)."""
    import ast
    import textwrap

    from aiguard.core.fingerprint import HASH, tokenize

    found: list[str] = []
    for name in ("difflib", "argparse", "textwrap", "shutil", "tarfile", "inspect", "pickletools", "zipfile",
                 "tokenize", "subprocess", "pathlib", "calendar"):
        source = open(__import__(name).__file__, encoding="utf-8").read()
        lines = source.splitlines(keepends=True)
        tree = ast.parse(source)
        nodes = [*tree.body, *(n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body)]
        for node in nodes:
            if isinstance(node, ast.FunctionDef) and 10 <= node.end_lineno - node.lineno + 1 <= 40 \
                    and not node.decorator_list:
                text = textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
                if len(tokenize(text, HASH).tokens) >= 80:
                    found.append(text)
            if len(found) == count:
                return found
    raise AssertionError(f"only {len(found)} functions found")


def test_several_mib_of_added_text_are_all_matched(repo):
    """Past the old 1 MiB per-commit cut-off: 40 files of ~100 KB, each with a recorded function."""
    functions = stdlib_functions(40)
    for text in functions:
        record(text)
    filler = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7} - len(str(value))\n\n\n"
                     for i in range(1300))
    for n, text in enumerate(functions):
        repo.write(f"pkg/mod_{n}.py", filler + text)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Many big files")
    trailers = dict(repo.trailers())
    total = sum((filler + text).count("\n") for text in functions)
    assert trailers["AI-Lines"] == f"{sum(t.count(chr(10)) for t in functions)}/{total}"
    assert "AI-Unmatched" not in trailers


def test_squash_trailers_sum_what_was_left_unmatched(repo):
    repo.write("a.py", HUMAN)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Base")
    for n in range(2):
        repo.write(f"logo{n}.png", bytes(range(256)) * (8 + n))
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", f"Logo {n}")
    block = aiguard("verify", "--squash-trailers", "HEAD~2..HEAD", cwd=repo.path).stdout.decode()
    assert "AI-Unmatched: 0 lines in 2 files (binary 2)" in block.splitlines(), block


def test_sizes_and_budget_from_one_blob_stream(repo):
    """The hook reads sizes from `cat-file --batch`'s headers: a too-large file read past
    leaves the next file's bytes in place, and past the budget a too-large file is still
    named too large, not over budget."""
    record()
    big = HUMAN * 100
    repo.write("a_big.py", big)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Big", env={"AIGUARD_DISABLE": "1"})
    limit = len(SNIPPET) + 1000
    assert len(big) > limit
    late = HUMAN * (len(SNIPPET) // len(HUMAN) + 2)
    assert len(SNIPPET) < len(late) < limit
    repo.write("a_big.py", big + "y = 2\n")  # 6 added bytes: read first, over the size limit, skipped
    repo.write("tiny.py", "x = 1\n")
    repo.write("b_paste.py", SNIPPET)  # within both limits: matched from the bytes after the skipped blob
    repo.write("c_huge.py", big)  # past the budget, and over the size limit
    repo.write("d_late.py", late)  # past the budget, under the size limit
    repo.git("add", "-A")
    env = {**os.environ, "AIGUARD_MAX_FILE_BYTES": str(limit),
           "AIGUARD_MAX_ADDED_BYTES": str(len(SNIPPET) + 50)}
    done = run([sys.executable, "-m", "aiguard", "attribute", "--json"], cwd=repo.path, env=env)
    result = json.loads(done.stdout)
    reasons = {u["path"]: u["reason"] for u in result["unmatched"]}
    assert reasons == {"a_big.py": "too-large", "c_huge.py": "too-large", "d_late.py": "over-budget"}
    ai = {f["path"]: f["ai"] for f in result["files"]}
    assert ai["b_paste.py"] == len(SNIPPET.splitlines())
    assert ai["tiny.py"] == 0


def test_a_submodule_is_not_unmatched_text(repo, make_repo):
    """A gitlink adds a commit id, not text: it was named `binary` in AI-Unmatched, so under
    `unmatched = "error"` every commit that adds or bumps a submodule failed verify."""
    sub = make_repo("sub")
    sub.write("a.txt", "a\n")
    sub.git("add", "-A")
    sub.git("commit", "-qm", "sub")
    repo.write(".aiguard.toml", 'unmatched = "error"\n')
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "sub")
    repo.git("add", "-A")
    staged = json.loads(aiguard("attribute", "--json", cwd=repo.path).stdout)
    assert staged["unmatched"] == [] and staged["notes"] == [], staged
    repo.git("commit", "-qm", "Add the submodule")
    sub.write("b.txt", "b\n")
    sub.git("add", "-A")
    sub.git("commit", "-qm", "sub 2")
    repo.git("-C", "sub", "-c", "protocol.file.allow=always", "pull", "-q", "origin", "main")
    repo.git("add", "sub")
    repo.git("commit", "-qm", "Bump the submodule")
    for rev in ("HEAD", "HEAD~1"):
        assert not any(key == "AI-Unmatched" for key, _ in repo.trailers(rev)), repo.trailers(rev)
    code, report = verify_json(repo, "HEAD")
    assert code == 0 and report["checked"] == 2, report
    assert all(f["rule"] != "unmatched-lines" for f in report["findings"]), report
