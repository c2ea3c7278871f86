"""`aiguard ci post-merge`: a pull request of stamped commits merged the way a hosting service
merges it (`git merge --squash` and a commit no hook runs on; a rebase no hook runs on),
then checked against the pull request's own commits, with the merged commit's note re-derived.

Real git, the real command line; the host's squash message is built as GitHub builds its
default one (every commit's message, each after "* ")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_verify import HUMAN, SNIPPET, SNIPPET2, Box

HOST = {"GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}


class PullRequest:
    """main with one commit, a topic branch of three stamped commits (10/10 claude-code:m1,
    8/10 codex:m2, 0/5), and main moved on by an unrelated commit while it was open."""

    def __init__(self, root: Path):
        self.box = box = Box(root)
        box.commit("Base", {"a.txt": "a\n"})
        box.git("switch", "-q", "-c", "topic")
        box.record(SNIPPET)
        box.record(SNIPPET2, tool="codex", model="m2")
        self.commits = [box.commit("Add one", {"one.py": SNIPPET}),
                        box.commit("Add two", {"two.py": SNIPPET2 + "\nX = 1\n"}),
                        box.commit("Add three", {"three.py": HUMAN})]
        self.head = self.commits[-1]
        box.git("switch", "-q", "main")
        box.commit("Unrelated", {"b.txt": "b\n"})
        self.before = box.sha("main")

    def messages(self) -> list[bytes]:
        return [self.box.raw_message(sha) for sha in self.commits]

    def squash(self, message: bytes, extra: dict[str, str] | None = None) -> str:
        """What the host's "Squash and merge" does: the combined change, its message, no hooks."""
        box = self.box
        box.git("merge", "-q", "--squash", "topic")
        for name, text in (extra or {}).items():
            box.write(name, text)
            box.git("add", name)
        box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-F", box.msgfile(message), env=HOST)
        return box.sha()

    def github_message(self) -> bytes:
        """GitHub's default squash message: the title, then each commit's message after "* "."""
        return b"Add things (#1)\n\n" + b"\n".join(b"* " + m for m in self.messages())

    def rebase(self) -> list[str]:
        """What "Rebase and merge" does: the commits replayed on main, messages kept, no hooks."""
        box = self.box
        box.git("switch", "-q", "-c", "replayed", "topic")
        box.git("-c", "core.hooksPath=/dev/null", "rebase", "-q", "main", env=HOST)
        box.git("switch", "-q", "main")
        box.git("merge", "-q", "--ff-only", "replayed")
        return box.git("rev-list", "--reverse", f"{self.before}..main").stdout.decode().split()

    def post_merge(self, *args: str, env: dict | None = None):
        return self.box.ag("ci", "post-merge", "--base", self.before, "--head", self.head, *args,
                           env=env, check=False)

    def post_merge_json(self, *args: str) -> tuple[int, dict]:
        done = self.post_merge("--format", "json", *args)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)

    def note(self, rev: str = "HEAD") -> dict | None:
        done = self.box.ag("notes", "show", rev, check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None


@pytest.fixture
def pr(tmp_path) -> PullRequest:
    return PullRequest(tmp_path)


def rules(report: dict) -> list[str]:
    return sorted(f["rule"] for f in report["findings"] if f["severity"] == "error")


def test_squash_with_the_hosts_message_is_consistent_and_gets_its_note(pr):
    squash = pr.squash(pr.github_message())
    assert pr.note(squash) is None  # no hook ran: the host's commit has no line record
    rc, report = pr.post_merge_json()
    assert rc == 0, report
    assert report["method"] == "squash"
    assert report["merged"] == [{"commit": squash, "sources": pr.commits, "note": "written"}]
    note = pr.note(squash)
    assert note["ai"] == 18 and note["added"] == 25
    assert {(b["tool"], b["model"]) for b in note["by"]} == {("claude-code", "m1"), ("codex", "m2")}
    assert sorted(f["path"] for f in note["files"]) == ["one.py", "two.py"]
    # a second run finds the note there
    rc, again = pr.post_merge_json()
    assert rc == 0 and again["merged"][0]["note"] == "unchanged"


def test_squash_with_a_pasted_squash_trailers_block(pr):
    block = pr.box.verify(f"main..{pr.head}", "--squash-trailers").stdout
    squash = pr.squash(b"Add things (#1)\n\nThe description.\n\n" + block)
    rc, report = pr.post_merge_json()
    assert rc == 0, report
    assert pr.note(squash)["ai"] == 18


def test_squash_with_only_a_title_says_what_its_message_lacks(pr):
    squash = pr.squash(b"Add things (#1)\n")
    done = pr.post_merge()
    assert done.returncode == 1
    text = done.stdout.decode()
    assert (f"{squash[:12]} error merged-claims: its message carries no aiguard trailers; its commits' say "
            "Assisted-by: claude-code:m1, codex:m2; AI-Lines: 18/25") in text
    assert pr.note(squash)["ai"] == 18  # the note is re-derived all the same


def test_tampered_squash_with_ai_lines_lowered_fails(pr):
    message = pr.github_message().replace(b"AI-Lines: 10/10", b"AI-Lines: 0/10", 1)
    assert message != pr.github_message()
    squash = pr.squash(message)
    rc, report = pr.post_merge_json()
    assert rc == 1
    assert rules(report) == ["merged-claims", "merged-stamp"]
    said = {f["rule"]: f["message"] for f in report["findings"]}
    assert said["merged-stamp"].startswith(f"its message quotes {pr.commits[0][:12]}'s stamp with AI-Lines 0/10")
    assert said["merged-claims"] == "its message says AI-Lines 8/25; its commits' AI-Lines sum to 18/25 " \
                                    "(its re-derived note: 18/25)"
    assert all(f["commit"] == squash for f in report["findings"] if f["severity"] == "error")


def test_pasted_block_with_lowered_claims_fails(pr):
    block = pr.box.verify(f"main..{pr.head}", "--squash-trailers").stdout
    lowered = block.replace(b"AI-Lines: 18/25", b"AI-Lines: 3/25").replace(b"Assisted-by: codex:m2\n", b"")
    pr.squash(b"Add things (#1)\n\n" + lowered)
    rc, report = pr.post_merge_json()
    assert rc == 1
    messages = sorted(f["message"] for f in report["findings"] if f["severity"] == "error")
    assert messages == ["its message lacks Assisted-by: codex:m2, which its commits name",
                        "its message says AI-Lines 3/25; its commits' AI-Lines sum to 18/25 (its re-derived note: 18/25)"]


def test_squash_that_adds_lines_of_its_own_fails(pr):
    squash = pr.squash(pr.github_message(), extra={"sneaked.py": "import os\nos.system('true')\n"})
    rc, report = pr.post_merge_json()
    assert rc == 1
    assert [f["message"] for f in report["findings"] if f["severity"] == "error"] == [
        "it adds 2 lines (in sneaked.py ...) that the pull request's commits do not add: no stamp covers them"]
    assert [f["commit"] for f in report["findings"] if f["severity"] == "error"] == [squash]


def test_rebase_merge_pairs_by_patch_id_and_carries_each_note(pr):
    merged = pr.rebase()
    assert len(merged) == 3 and not set(merged) & set(pr.commits)
    rc, report = pr.post_merge_json("--merged", "main")
    assert rc == 0, report
    assert report["method"] == "rebase"
    assert [(m["commit"], m["sources"]) for m in report["merged"]] == [
        (new, [old]) for new, old in zip(merged, pr.commits)]
    assert [m["note"] for m in report["merged"]] == ["written", "written", "none"]
    assert pr.note(merged[0])["ai"] == 10 and pr.note(merged[1])["ai"] == 8
    assert pr.note(merged[2]) is None


def test_rebase_merge_with_an_edited_claim_fails(pr):
    merged = pr.rebase()
    pr.box.git("switch", "-q", "-c", "edited", merged[0])
    pr.box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--amend", "-F",
               pr.box.msgfile(pr.box.raw_message(merged[0]).replace(b"AI-Lines: 10/10", b"AI-Lines: 2/10")))
    pr.box.git("-c", "core.hooksPath=/dev/null", "cherry-pick", merged[1], merged[2])
    rc, report = pr.post_merge_json("--merged", "edited")
    assert rc == 1
    first = pr.box.sha("edited~2")
    assert {(f["commit"], f["rule"]) for f in report["findings"] if f["severity"] == "error"} == {
        (first, "merged-stamp"), (first, "merged-claims")}


def test_source_commits_are_verified_too(pr):
    """A pull request commit no hook stamped is the verify error it always was."""
    pr.box.git("switch", "-q", "topic")
    pr.head = pr.box.commit("Unstamped", {"four.py": "FOUR = 4\n"}, hooks=False)
    pr.box.git("switch", "-q", "main")
    pr.squash(pr.github_message())
    (pr.box.path / ".aiguard.toml").write_text("require-stamp = true\n")
    pr.box.git("add", "-f", ".aiguard.toml")
    pr.box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "policy")
    rc, report = pr.post_merge_json("--merged", "HEAD~1")
    assert rc == 1
    assert [(f["commit"], f["rule"]) for f in report["findings"] if f["severity"] == "error"] == [
        (pr.head, "missing-stamp")]


def test_arguments_from_a_merged_pull_requests_github_event(pr, tmp_path):
    squash = pr.squash(pr.github_message())
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "closed", "pull_request": {
        "merged": True, "merge_commit_sha": squash, "base": {"sha": pr.before}, "head": {"sha": pr.head}}}))
    done = pr.box.ag("ci", "post-merge", "--format", "json", env={"GITHUB_EVENT_PATH": str(event)}, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["merged"][0]["commit"] == squash


def test_true_merge_has_nothing_to_rederive(pr):
    pr.box.git("-c", "core.hooksPath=/dev/null", "merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    done = pr.post_merge()
    assert done.returncode == 0, done.stderr
    assert "the pull request's commits are on the branch as they were" in done.stdout.decode()


def test_usage_errors_are_one_line(pr):
    done = pr.box.ag("ci", "post-merge", "--base", pr.before, check=False)
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1
    assert "give --base and --head" in done.stderr.decode()
    done = pr.box.ag("ci", "post-merge", "--base", pr.before, "--head", "no-such-branch", check=False)
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1
    assert "--head 'no-such-branch' is not a commit here" in done.stderr.decode()


def test_push_sends_the_rederived_note(pr, tmp_path):
    remote = tmp_path / "remote.git"
    pr.box.git("init", "-q", "--bare", str(remote))
    pr.box.git("remote", "add", "origin", str(remote))
    squash = pr.squash(pr.github_message())
    done = pr.post_merge("--push", "origin")
    assert done.returncode == 0, done.stderr
    assert "pushed refs/notes/aiguard to origin" in done.stdout.decode()
    shown = pr.box.git("--git-dir", str(remote), "notes", "--ref", "refs/notes/aiguard", "show", squash)
    assert json.loads(shown.stdout)["ai"] == 18


def test_rebase_over_changes_next_to_the_pull_requests_lines(tmp_path):
    """main changed a line two lines above the pull request's change: the rebased commit's
    patch has other context, and is still paired with its source."""
    box = Box(tmp_path)
    numbers = "".join(f"{i}\n" for i in range(1, 21))
    box.commit("Base", {"n.txt": numbers})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    source = box.commit("Edit", {"n.txt": numbers.replace("10\n", "ten\n"), "one.py": SNIPPET})
    box.git("switch", "-q", "main")
    before = box.commit("Near", {"n.txt": numbers.replace("8\n", "eight\n")})
    box.git("switch", "-q", "-c", "replayed", "topic")
    box.git("-c", "core.hooksPath=/dev/null", "rebase", "-q", "main", env=HOST)
    merged = box.sha()
    done = box.ag("ci", "post-merge", "--base", before, "--head", source, "--merged", merged, "--format", "json",
                  check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["method"] == "rebase" and report["merged"] == [
        {"commit": merged, "sources": [source], "note": "written"}]


def test_the_actions_post_merge_step_end_to_end(pr, tmp_path):
    """The Action's own step script, with the real aiguard, in a fresh clone of a remote where
    the pull request was squash-merged and its branch deleted: the head is fetched as
    refs/pull/N/head, the sources' notes from origin, and the squash commit's note pushed."""
    import subprocess
    import sys

    import yaml

    from test_verify import user_env

    box = pr.box
    remote = tmp_path / "origin.git"
    box.git("init", "-q", "--bare", str(remote))
    box.git("remote", "add", "origin", str(remote))
    box.git("push", "-q", "origin", "main", "topic")  # aiguard's pre-push hook sends the notes too
    box.git("push", "-q", "origin", f"{pr.head}:refs/pull/7/head")
    squash = pr.squash(pr.github_message())
    box.git("push", "-q", "origin", "main", ":topic")
    ci_home = tmp_path / "ci"
    env = user_env(ci_home)
    clone = tmp_path / "clone"
    # a file:// URL: a transport, so only reachable objects come (a path would copy them all)
    subprocess.run(["git", "clone", "-q", remote.as_uri(), str(clone)], env=env, check=True)
    assert subprocess.run(["git", "cat-file", "-e", f"{pr.head}^{{commit}}"], cwd=clone, env=env).returncode != 0
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "closed", "pull_request": {
        "number": 7, "merged": True, "merge_commit_sha": squash,
        "base": {"sha": pr.before, "ref": "main"}, "head": {"sha": pr.head}}}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aiguard").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aiguard "$@"\n')
    (bin_dir / "aiguard").chmod(0o755)
    action = yaml.safe_load((Path(__file__).resolve().parents[2] / "action.yml").read_text())
    [step] = [s for s in action["runs"]["steps"] if "aiguard ci post-merge" in s.get("run", "")]
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    env.update({"AIGUARD_MODE": "post-merge", "AIGUARD_PUSH_NOTES": "true", "AIGUARD_PR_NUMBER": "7",
                "AIGUARD_PR_HEAD": pr.head, "AIGUARD_KEY": box.team_key(), "AIGUARD_REQUIRE_KEY": "true",
                "AIGUARD_BIN_DIR": str(bin_dir), "AIGUARD_RANGE": "", "AIGUARD_FORMAT": "github",
                "AIGUARD_ARGS": "", "AIGUARD_JUNIT_FILE": "", "GITHUB_EVENT_PATH": str(event),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script)], cwd=clone,
                          env=env, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"signatures checked" in done.stdout and b"::error" not in done.stdout
    shown = subprocess.run(["git", "--git-dir", str(remote), "notes", "--ref", "refs/notes/aiguard", "show", squash],
                           capture_output=True, check=True, env=env)
    assert json.loads(shown.stdout)["ai"] == 18
    fetched = subprocess.run(["git", "rev-parse", "refs/remotes/origin/pull/7/head"], cwd=clone, env=env,
                             capture_output=True, check=True)
    assert fetched.stdout.decode().strip() == pr.head


def test_rebase_that_drops_a_commit_says_so(pr):
    pr.box.git("-c", "core.hooksPath=/dev/null", "cherry-pick", pr.commits[2])  # main already has the third change
    pr.before = pr.box.sha("main")
    merged = pr.rebase()
    assert len(merged) == 2
    rc, report = pr.post_merge_json("--merged", "main")
    assert rc == 0, report
    assert [m["sources"] for m in report["merged"]] == [[pr.commits[0]], [pr.commits[1]]]
    assert report["notes"] == [f"1 of the pull request's commits have no counterpart among the merged commits "
                               f"(by patch-id): {pr.commits[2][:12]}"]
