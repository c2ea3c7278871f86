"""The line-level record survives every history edit without the ledger (issue 16).

Each scenario: a fresh repository with the real installed hooks, AI commits stamped while
the ledger knew the output, then the ledger file is deleted (the keys stay) before the
history edit, so only the notes under refs/notes/aiguard can carry the record. After each
edit the new commit's note says which lines, and its trailers say the same (count and tools).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import Repo, aiguard

# Invented for the tests: blocks an assistant might have written.
CLAMP = '''\
def clamp(value, low, high):
    """Keep value inside [low, high], swapping the bounds when they come reversed."""
    if low > high:
        low, high = high, low
    if value < low:
        return low
    if value > high:
        return high
    return value
'''
CHUNKS = '''\
def chunks(items, size, pad=None):
    """Split items into lists of at most size elements; pad the last one when asked."""
    if size <= 0:
        raise ValueError(f"size must be positive, not {size!r}")
    out = []
    for start in range(0, len(items), size):
        out.append(list(items[start:start + size]))
    if pad is not None and out and len(out[-1]) < size:
        out[-1].extend([pad] * (size - len(out[-1])))
    return out
'''
SLUG = '''\
def slugify(title):
    """Lower-case words joined by dashes, for URLs."""
    words = []
    for word in title.lower().split():
        kept = "".join(ch for ch in word if ch.isalnum())
        if kept:
            words.append(kept)
    return "-".join(words)
'''
HUMAN30 = "".join(f"setting_{i} = {i}\n" for i in range(30))

TABLE = CLAMP + CHUNKS  # 19 lines, for the block that moves

CLAUDE = "claude-code:claude-sonnet-4-5"
CODEX = "codex:gpt-5-codex"


def n(text: str) -> int:
    return text.count("\n")


def record(text: str, tool_model: str) -> None:
    tool, model = tool_model.split(":")
    aiguard("record", "--tool", tool, "--model", model, "--source", "manual", input=text.encode())


def commit(repo: Repo, files: dict[str, str], message: str, *extra) -> str:
    for name, text in files.items():
        repo.write(name, text)
        repo.git("add", name)
    repo.git("commit", "-q", "-m", message, *extra)
    return repo.out("rev-parse", "HEAD").strip()


def drop_ledger() -> None:
    """The ledger is gone (another machine, pruned): only the notes can carry the record."""
    home = Path(os.environ["AIGUARD_HOME"])
    for path in home.glob("ledger.sqlite3*"):
        path.unlink()
    assert not list(home.glob("ledger.sqlite3*"))


def lines_of(text: str, block: str) -> tuple[int, int]:
    start = text.index(block)
    first = text[:start].count("\n") + 1
    return first, first + n(block) - 1


def note(repo: Repo, rev: str = "HEAD") -> dict | None:
    done = aiguard("notes", "show", rev, cwd=repo.path, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def ranges(repo: Repo, rev: str = "HEAD") -> list[tuple[str, int, int, str]]:
    entry = json.loads(aiguard("log", "--json", "--no-ledger", "-1", rev, cwd=repo.path).stdout)[0]
    return sorted((f["path"], r["start"], r["end"], f"{r['tool']}:{r['model']}")
                  for f in entry["files"] for r in f["ranges"])


def claims(repo: Repo, rev: str = "HEAD") -> tuple[int, int, list[str]]:
    """(AI lines, added lines, Assisted-by values) as the trailers say."""
    pairs = repo.trailers(rev)
    ai, added = dict(pairs)["AI-Lines"].split("/")
    return int(ai), int(added), sorted(v for k, v in pairs if k == "Assisted-by")


def assert_agree(repo: Repo, rev: str = "HEAD") -> None:
    """The trailers and the note say the same: line count and tools."""
    ai, _, assisted = claims(repo, rev)
    data = note(repo, rev)
    if data is None:
        assert (ai, assisted) == (0, []), f"trailers claim {ai} lines by {assisted} but there is no note"
        return
    tools = sorted({f"{b['tool']}:{b['model']}" for b in data["by"]})
    assert (ai, assisted) == (data["ai"], tools)


SEQ_EDITOR = """\
import sys
words = sys.argv[1].split(",")
path = sys.argv[2]
todo = [line for line in open(path).read().splitlines() if line and not line.startswith("#")]
for i, word in enumerate(words):
    todo[i] = word + " " + todo[i].split(" ", 1)[1]
open(path, "w").write("\\n".join(todo) + "\\n")
"""


def seq_editor(repo: Repo, *words: str) -> dict[str, str]:
    """GIT_SEQUENCE_EDITOR that sets the first todo lines' commands to `words`."""
    script = repo.path / ".git" / "seq_editor.py"
    script.write_text(SEQ_EDITOR)
    return {"GIT_SEQUENCE_EDITOR": f"{sys.executable} {script} {','.join(words)}", "GIT_EDITOR": ":"}


@pytest.fixture
def two_ai_commits(repo: Repo):
    """base, then CLAUDE's a.py, CODEX's b.py and a human's c.py, one commit each."""
    base = commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": CLAMP}, "Add clamp")
    record(CHUNKS, CODEX)
    commit(repo, {"b.py": CHUNKS}, "Add chunks")
    commit(repo, {"c.py": "x = 1\ny = 2\n"}, "Human part")
    assert claims(repo, "HEAD~2")[0] == n(CLAMP) and claims(repo, "HEAD~1")[0] == n(CHUNKS)
    drop_ledger()
    return repo, base


EXPECT_ALL = [("a.py", 1, n(CLAMP), CLAUDE), ("b.py", 1, n(CHUNKS), CODEX)]


@pytest.mark.parametrize("word", ["squash", "fixup"])
def test_rebase_i_folding_keeps_every_commits_lines(two_ai_commits, word):
    repo, base = two_ai_commits
    repo.git("rebase", "-q", "-i", base, env=seq_editor(repo, "pick", word, word))
    assert repo.out("rev-list", "--count", f"{base}..HEAD").strip() == "1"
    assert ranges(repo) == EXPECT_ALL
    assert claims(repo) == (n(CLAMP) + n(CHUNKS), n(CLAMP) + n(CHUNKS) + 2, sorted([CLAUDE, CODEX]))
    assert_agree(repo)


def test_autosquash_of_an_ai_fixup(repo: Repo):
    base = commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    target = commit(repo, {"a.py": CLAMP}, "Add clamp")
    commit(repo, {"c.py": "x = 1\n"}, "Human part")
    record(CHUNKS, CODEX)
    commit(repo, {"a.py": CLAMP + "\n\n" + CHUNKS}, "more", f"--fixup={target}")
    drop_ledger()
    repo.git("rebase", "-q", "-i", "--autosquash", base, env={"GIT_SEQUENCE_EDITOR": ":", "GIT_EDITOR": ":"})
    folded = repo.out("rev-parse", "HEAD~1").strip()
    text = CLAMP + "\n\n" + CHUNKS
    assert ranges(repo, folded) == [("a.py", 1, n(CLAMP), CLAUDE), ("a.py", *lines_of(text, CHUNKS), CODEX)]
    assert claims(repo, folded)[0] == n(CLAMP) + n(CHUNKS)
    assert_agree(repo, folded)


def test_rebase_conflict_then_continue(repo: Repo):
    commit(repo, {"lib.py": "VERSION = 1\n\n\nbase = True\n"}, "Start")
    repo.git("checkout", "-q", "-b", "feature")
    record(CLAMP, CLAUDE)
    text = "VERSION = 2\n\n\nbase = True\n\n\n" + CLAMP
    commit(repo, {"lib.py": text}, "AI change")
    repo.git("checkout", "-q", "main")
    commit(repo, {"lib.py": "VERSION = 3\n\n\nbase = True\n"}, "Main bumps")
    repo.git("checkout", "-q", "feature")
    drop_ledger()
    assert repo.git("rebase", "-q", "main", check=False).returncode != 0
    resolved = "VERSION = 3\n\n\nbase = True\n\n\n" + CLAMP
    repo.write("lib.py", resolved)
    repo.git("add", "lib.py")
    repo.git("rebase", "--continue", env={"GIT_EDITOR": ":"})
    assert ranges(repo) == [("lib.py", *lines_of(resolved, CLAMP), CLAUDE)]
    assert claims(repo)[0] == n(CLAMP) and claims(repo)[2] == [CLAUDE]
    assert_agree(repo)


def test_git_mv_then_amend(repo: Repo):
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": CLAMP}, "Add clamp")
    drop_ledger()
    repo.git("mv", "a.py", "b.py")
    repo.git("commit", "-q", "--amend", "--no-edit")
    assert ranges(repo) == [("b.py", 1, n(CLAMP), CLAUDE)]
    assert claims(repo) == (n(CLAMP), n(CLAMP), [CLAUDE])
    assert_agree(repo)


def test_rebase_over_an_upstream_rename(repo: Repo):
    body = "".join(f"value_{i} = {i}\n" for i in range(12))
    commit(repo, {"lib.py": body}, "Start")
    repo.git("checkout", "-q", "-b", "feature")
    record(CLAMP, CLAUDE)
    commit(repo, {"lib.py": body + "\n\n" + CLAMP}, "AI change")
    repo.git("checkout", "-q", "main")
    repo.git("mv", "lib.py", "core.py")
    repo.git("commit", "-q", "-m", "Rename")
    repo.git("checkout", "-q", "feature")
    drop_ledger()
    repo.git("rebase", "-q", "main")
    assert (repo.path / "core.py").exists() and not (repo.path / "lib.py").exists()
    assert ranges(repo) == [("core.py", *lines_of(body + "\n\n" + CLAMP, CLAMP), CLAUDE)]
    assert claims(repo)[0] == n(CLAMP)
    assert_agree(repo)


def test_block_moved_below_unchanged_lines_then_amended(repo: Repo):
    commit(repo, {"README": "project\n"}, "Start")
    record(TABLE, CLAUDE)
    commit(repo, {"t.py": TABLE + HUMAN30}, "Table")
    assert claims(repo) == (n(TABLE), n(TABLE) + 30, [CLAUDE])
    drop_ledger()
    repo.write("t.py", HUMAN30 + TABLE)
    repo.git("commit", "-q", "-a", "--amend", "--no-edit")
    assert ranges(repo) == [("t.py", 31, 30 + n(TABLE), CLAUDE)]
    assert claims(repo) == (n(TABLE), n(TABLE) + 30, [CLAUDE])
    assert_agree(repo)


@pytest.fixture
def ai_feature(repo: Repo):
    """main: lib.py; feature: one AI commit adding CLAMP to it. Ledger gone."""
    base = "header = 1\nsecond = 2\n"
    commit(repo, {"lib.py": base}, "Start")
    repo.git("checkout", "-q", "-b", "feature")
    record(CLAMP, CLAUDE)
    text = base + "\n\n" + CLAMP
    commit(repo, {"lib.py": text}, "AI change")
    repo.git("checkout", "-q", "main")
    commit(repo, {"other.py": "z = 0\n"}, "Main moves on")
    drop_ledger()
    return repo, text


def test_cherry_pick_no_commit(ai_feature):
    repo, text = ai_feature
    repo.git("cherry-pick", "-n", "feature")
    repo.git("commit", "-q", "-m", "Picked by hand")
    assert ranges(repo) == [("lib.py", *lines_of(text, CLAMP), CLAUDE)]
    assert claims(repo)[0] == n(CLAMP)
    assert_agree(repo)


@pytest.mark.parametrize("mode", ["--soft", "--mixed"])
def test_reset_then_recommit(repo: Repo, mode):
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": CLAMP}, "Add clamp")
    record(CHUNKS, CODEX)
    commit(repo, {"b.py": CHUNKS}, "Add chunks")
    drop_ledger()
    repo.git("reset", "-q", mode, "HEAD~2")
    repo.git("add", "a.py", "b.py")
    repo.git("commit", "-q", "-m", "Both, squashed by hand")
    assert ranges(repo) == EXPECT_ALL
    assert claims(repo) == (n(CLAMP) + n(CHUNKS), n(CLAMP) + n(CHUNKS), sorted([CLAUDE, CODEX]))
    assert_agree(repo)


def test_stash_and_pop(repo: Repo):
    """The AI commit undone into the work tree, stashed, popped and committed again."""
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": "VERSION = 1\n\n\n" + CLAMP}, "Add clamp")
    drop_ledger()
    repo.git("reset", "-q", "HEAD~1")
    repo.git("add", "a.py")
    repo.git("stash", "-q")
    assert not (repo.path / "a.py").exists()
    commit(repo, {"README": "project, again\n"}, "Meanwhile")
    repo.git("stash", "pop", "-q")
    repo.git("add", "a.py")
    repo.git("commit", "-q", "-m", "Clamp, back from the stash")
    assert ranges(repo) == [("a.py", 4, 3 + n(CLAMP), CLAUDE)]
    assert claims(repo)[0] == n(CLAMP)
    assert_agree(repo)


def test_revert_and_revert_of_the_revert(repo: Repo):
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    ai = commit(repo, {"a.py": "VERSION = 1\n\n\n" + CLAMP}, "Add clamp")
    drop_ledger()
    repo.git("revert", "--no-edit", ai)
    assert claims(repo) == (0, 0, []) and note(repo) is None  # the reverted lines leave
    assert_agree(repo)
    repo.git("revert", "--no-edit", "HEAD")  # and come back with their owner
    assert ranges(repo) == [("a.py", 4, 3 + n(CLAMP), CLAUDE)]
    assert claims(repo)[0] == n(CLAMP)
    assert_agree(repo)


def test_checkout_merge_carries_undone_lines(repo: Repo):
    """An AI commit undone into the work tree, carried to another branch by checkout -m."""
    commit(repo, {"README": "project\n", "lib.py": "a = 1\n"}, "Start")
    repo.git("branch", "other")
    record(CLAMP, CLAUDE)
    commit(repo, {"lib.py": "a = 1\n\n\n" + CLAMP}, "Add clamp")
    drop_ledger()
    repo.git("reset", "-q", "HEAD~1")
    repo.git("checkout", "-q", "-m", "other")
    repo.git("commit", "-q", "-a", "-m", "Clamp, on the other branch")
    assert ranges(repo) == [("lib.py", 4, 3 + n(CLAMP), CLAUDE)]
    assert_agree(repo)


def test_plain_rebase_pick_still_agrees(ai_feature):
    repo, text = ai_feature
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main")
    assert ranges(repo) == [("lib.py", *lines_of(text, CLAMP), CLAUDE)]
    assert_agree(repo)


def test_human_commit_after_a_checkout_carries_nothing(ai_feature):
    """Lines on record in a branch just left are not lent to a new, different change."""
    repo, _ = ai_feature
    repo.git("checkout", "-q", "feature")
    repo.git("checkout", "-q", "main")
    commit(repo, {"lib.py": "header = 1\nsecond = 2\nthird = 3\n"}, "Human")
    assert note(repo) is None and claims(repo)[0] == 0


# --- notes travel with plain push and fetch -------------------------------------------------

def test_notes_reach_a_second_clone_through_plain_push_and_fetch(repo: Repo, tmp_path):
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    said = aiguard("install", cwd=repo.path).stdout.decode()
    assert "fetch refspec added for origin" in said
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    ai = commit(repo, {"a.py": CLAMP}, "Add clamp")
    repo.git("push", "-q", "origin", "main")
    assert repo.out("ls-remote", str(remote), "refs/notes/aiguard").split()[:1] == [repo.out("rev-parse", "refs/notes/aiguard").strip()]
    clone = Repo(tmp_path / "clone")
    repo.git("clone", "-q", str(remote), str(clone.path))
    aiguard("install", cwd=clone.path)
    clone.git("fetch", "-q")
    assert note(clone, ai)["ai"] == n(CLAMP)
    assert ranges(clone, ai) == [("a.py", 1, n(CLAMP), CLAUDE)]
    assert "ok   line records" in aiguard("doctor", cwd=clone.path, check=False).stdout.decode()


def test_concurrent_notes_merge_as_a_union(repo: Repo, tmp_path):
    """Two clones each record lines of the same commit (a post-rewrite on each side): both kept."""
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    aiguard("install", cwd=repo.path)
    target = commit(repo, {"a.py": CLAMP, "b.py": CHUNKS}, "Both, by hand")
    repo.git("push", "-q", "origin", "main")
    clone = Repo(tmp_path / "clone")
    repo.git("clone", "-q", str(remote), str(clone.path))
    aiguard("install", cwd=clone.path)
    mine = b'{"aiguard":1,"added":19,"ai":9,"by":[{"tool":"claude-code","model":"m","source":"s"}],' \
           b'"files":[{"path":"a.py","ranges":[[1,9,0]]}]}\n'
    theirs = b'{"aiguard":1,"added":19,"ai":10,"by":[{"tool":"codex","model":"m","source":"s"}],' \
             b'"files":[{"path":"b.py","ranges":[[1,10,0]]}]}\n'
    repo.git("notes", "--ref", "refs/notes/aiguard", "add", "-F", "-", target, input=mine)
    clone.git("notes", "--ref", "refs/notes/aiguard", "add", "-F", "-", target, input=theirs)
    repo.git("push", "-q", "origin", "main")  # the pre-push hook sends the notes
    clone.git("push", "-q", "origin", "main")  # fetches and merges theirs first, then pushes the union
    assert clone.git("push", "-q", "origin", "main").stderr == b""
    assert note(clone, target)["ai"] == 19
    repo.git("fetch", "-q")
    assert note(repo, target)["ai"] == 9  # ours first; the merged copy sits beside it
    aiguard("notes", "fetch", cwd=repo.path)
    assert sorted(r[0] for r in ranges(repo, target)) == ["a.py", "b.py"]


def test_a_host_that_refuses_notes_gets_one_line_and_the_push_goes_on(repo: Repo, tmp_path):
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    (remote / "hooks" / "pre-receive").write_text(
        "#!/bin/sh\nwhile read old new ref; do case $ref in refs/notes/*) echo 'notes refused' >&2; exit 1;; esac; done\n")
    (remote / "hooks" / "pre-receive").chmod(0o755)
    repo.git("remote", "add", "origin", str(remote))
    aiguard("install", cwd=repo.path)
    commit(repo, {"README": "project\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": CLAMP}, "Add clamp")
    done = repo.git("push", "-q", "origin", "main")
    said = [line for line in done.stderr.decode().splitlines() if line.startswith("aiguard:")]
    assert len(said) == 1 and "not pushed to origin" in said[0] and "aiguard.syncNotes" in said[0]
    assert repo.out("ls-remote", str(remote), "refs/heads/main")


def test_sync_notes_opt_out(repo: Repo, tmp_path):
    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    aiguard("install", cwd=repo.path)
    assert "+refs/notes/aiguard:refs/notes/remotes/origin/aiguard" in repo.out("config", "--get-all", "remote.origin.fetch")
    said = aiguard("install", "--no-sync-notes", cwd=repo.path).stdout.decode()
    assert "not synced" in said and "refs/notes" not in repo.out("config", "--get-all", "remote.origin.fetch")
    record(CLAMP, CLAUDE)
    commit(repo, {"a.py": CLAMP}, "Add clamp")
    repo.git("push", "-q", "origin", "main")
    assert repo.out("ls-remote", str(remote), "refs/notes/aiguard") == ""
    assert "not synced" in aiguard("install", cwd=repo.path).stdout.decode()  # stays off
    doctor = aiguard("doctor", cwd=repo.path, check=False).stdout.decode()
    assert "ok   line records: not synced" in doctor


def test_records_are_found_in_a_fanned_out_notes_tree(make_repo, tmp_path):
    """Past a few hundred notes git splits the notes tree by the commits' first hex digits."""
    from aiguard.git import carry as line_notes

    repo = make_repo()
    commit(repo, {"README": "x\n"}, "Start")
    paths = []
    for i in range(300):
        path = tmp_path / f"obj{i}"
        path.write_text(f"object {i}\n")
        paths.append(str(path))
    oids = repo.git("hash-object", "-w", "--stdin-paths", input="\n".join(paths).encode()).stdout.decode().split()
    data = b'{"aiguard":1,"added":3,"ai":2,"by":[{"tool":"t","model":"m","source":"s"}],' \
           b'"files":[{"path":"a.py","ranges":[[1,2,0]]}]}\n'
    for oid in oids:
        repo.git("notes", "--ref", "refs/notes/aiguard", "add", "-F", "-", oid, input=data)
    tree = repo.out("ls-tree", "refs/notes/aiguard").splitlines()
    assert all(line.split()[1] == "tree" for line in tree)  # fanned out: no note at the top level
    found = dict(line_notes.records_of([oids[7], oids[250], "HEAD"], cwd=str(repo.path)))
    assert set(found) == {oids[7], oids[250]} and found[oids[7]].ai == 2


# --- other tools' line records: agent-trace-cli's notes ----------------------------------------

def agent_trace_note(path: str, start: int, end: int, model: str = "claude-sonnet-4-5") -> bytes:
    """A note as agent-trace-cli writes it (schema 2.0, with its inline ledger)."""
    return json.dumps({"version": "2.0", "trace_ids": ["t1"], "ledger_hash": "sha256:00", "stats": {"ai_lines": end - start + 1},
                       "ledger": {"files": {path: {"line_attributions": [
                           {"start_line": start, "end_line": end, "type": "ai", "trace_id": "t1", "model_id": model}]}}}}).encode()


def test_agent_trace_notes_are_foreign_evidence(repo: Repo):
    commit(repo, {"README": "x\n"}, "Start")
    sha = commit(repo, {"lib.py": "a = 1\n" + CLAMP}, "Written with agent-trace recording")
    repo.git("notes", "--ref", "refs/notes/agent-trace", "add", "-F", "-", sha,
             input=agent_trace_note("lib.py", 2, 1 + n(CLAMP), "anthropic/claude-sonnet-4-5"))
    entry = json.loads(aiguard("log", "--json", "-1", cwd=repo.path).stdout)[0]
    assert entry["evidence"] == "foreign" and entry["evidence_level"] == "note"
    assert entry["assisted_by"] == ["claude:claude-sonnet-4-5"] and entry["ai_lines"] == n(CLAMP)
    assert entry["files"] == [{"path": "lib.py", "ranges": [
        {"start": 2, "end": 1 + n(CLAMP), "tool": "claude", "model": "claude-sonnet-4-5"}]}]
    said = aiguard("verify", "--audit", "HEAD~1..HEAD", cwd=repo.path, check=False)
    assert "agent-trace note in refs/notes/agent-trace" in (said.stdout + said.stderr).decode()


def test_agent_trace_note_without_its_ledger_and_other_json():
    from aiguard.audit import foreign

    bare = foreign.parse_note(json.dumps({"version": "2.0", "trace_ids": [], "ledger_hash": "sha256:0",
                                          "stats": {"ai_lines": 4}}).encode())
    assert bare is not None and bare.files == {} and bare.assisted_by == ["unknown:unknown"]
    assert foreign.parse_note(json.dumps({"version": "2.0", "trace_ids": [], "stats": {"ai_lines": 0}}).encode()) is None
    assert foreign.parse_note(b'{"aiguard":1}') is None and foreign.parse_note(b"[1,2]") is None
    assert foreign.parse_note(b"{" * 100000) is None


def test_map_lines_follows_moved_blocks_not_lone_lines():
    from aiguard.git import carry as line_notes

    block = [f"row_{i} = {i} * {i}" for i in range(5)]
    rest = [f"setting_{i} = {i}" for i in range(20)]
    old = "\n".join(block + rest + ["return value"]).encode() + b"\n"
    new = "\n".join(["return value"] + rest + block).encode() + b"\n"
    mapped = line_notes.map_lines(old, new, range(1, 6))  # the block moved below the rest
    assert mapped == {i: 21 + i for i in range(1, 6)}
    assert line_notes.map_lines(old, new, [26]) == {}  # one line moved alone keeps no owner


def test_work_thrown_away_by_reset_hard_lends_no_lone_lines(repo: Repo):
    """A discarded AI commit's lines are carried only as runs: a human's `return value` or
    blank line that happens to match one of them stays the human's."""
    commit(repo, {"f.py": "a = 1\n"}, "Start")
    record(CLAMP, CLAUDE)
    commit(repo, {"f.py": "a = 1\n\n\n" + CLAMP}, "Add clamp")
    drop_ledger()
    repo.git("reset", "-q", "--hard", "HEAD~1")
    commit(repo, {"f.py": "a = 1\n\n\ndef other(value):\n    value += 1\n    return value\n"}, "Human")
    assert note(repo) is None and claims(repo) == (0, 5, [])


def test_an_unchanged_blob_maps_its_lines_as_the_diff_would():
    """carry_into skips the line diff when a file's old and new versions are one blob (a commit
    undone by `git reset --soft` and made again: the diff was 100 of the hook's 150 ms on a
    1,000-line change); the shortcut must give what map_lines gives for the same text."""
    from hypothesis import given, settings, strategies as st

    from aiguard.git import carry

    rows = st.lists(st.sampled_from([b"x = 1", b"", b"    return x", b"y = x\r", b"}"]), max_size=30)

    @settings(max_examples=300, deadline=None)
    @given(rows, st.sets(st.integers(-2, 34), max_size=20), st.sampled_from([1, carry.MOVE_MIN]),
           st.sampled_from([b"\n", b"\r\n"]), st.booleans())
    def check(lines, wanted, min_run, eol, final_eol):
        text = eol.join(lines) + (eol if final_eol and lines else b"")
        assert carry.unchanged_lines(text, wanted, min_run) == carry.map_lines(text, text, wanted, min_run)

    check()
