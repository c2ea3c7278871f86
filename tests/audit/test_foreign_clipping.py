"""History on real repositories: a git-ai note counts only the lines its commit added, only
the notes of the commits in range are read, and `added` follows renames (`-M`)."""

from __future__ import annotations

import json
import tracemalloc

from conftest import Repo, aiguard

from aiguard.audit import foreign, history
from aiguard.git import notes


def git_ai_note(files: dict[str, str]) -> str:
    """A git-ai authorship log naming `path -> "1-2,5"` for one Claude session."""
    body = "".join(f"{path}\n  s_0123456789abcd::t_0123456789abcd {spans}\n" for path, spans in files.items())
    return (body + '---\n{"schema_version":"authorship/3.0.0","base_commit_sha":"x","prompts":{},'
            '"sessions":{"s_0123456789abcd":{"agent_id":{"tool":"claude","id":"c","model":"opus"}}}}\n')


def commit(repo: Repo, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        repo.write(name, text)
        repo.git("add", name)
    repo.git("commit", "-q", "-m", message)
    return repo.out("rev-parse", "HEAD").strip()


def log_json(repo: Repo, *args) -> list[dict]:
    return json.loads(aiguard("log", "--json", "--no-ledger", *args, cwd=repo.path).stdout)


def test_the_issues_repro_a_note_is_clipped_to_the_commits_own_lines(make_repo):
    repo = make_repo()
    sha = commit(repo, {"g.txt": "one\ntwo\n"}, "two lines")
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m",
             git_ai_note({"g.txt": "1-2", "other.txt": "1-500"}), sha)
    [entry] = log_json(repo)
    assert (entry["ai_lines"], entry["added"], entry["evidence"]) == (2, 2, "foreign")
    assert [(f["path"], [(r["start"], r["end"]) for r in f["ranges"]]) for f in entry["files"]] == [("g.txt", [(1, 2)])]
    stats = json.loads(aiguard("stats", "--json", "--no-ledger", cwd=repo.path).stdout)
    assert (stats["ai_lines"], stats["added"]) == (2, 2)


def test_a_note_naming_earlier_lines_keeps_only_this_commits(make_repo):
    repo = make_repo()
    base = "".join(f"line {i}\n" for i in range(1, 11))
    commit(repo, {"g.txt": base}, "ten lines by hand")
    changed = base.replace("line 4\n", "line 4\nnew a\nnew b\n") + "new c\n"
    sha = commit(repo, {"g.txt": changed}, "three more")
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m", git_ai_note({"g.txt": "1-13"}), sha)
    entry = log_json(repo)[0]
    assert (entry["ai_lines"], entry["added"]) == (3, 3)
    assert [(r["start"], r["end"]) for r in entry["files"][0]["ranges"]] == [(5, 6), (13, 13)]


def test_clip_cuts_spans_to_added_ranges():
    spans = {"a.py": [(1, 10, "claude", "m"), (20, 30, "claude", "m")], "b.py": [(1, 5, "cursor", "x")]}
    added = {"a.py": [(3, 4), (8, 22), (40, 41)]}
    assert foreign.clip(spans, added) == {"a.py": [(3, 4, "claude", "m"), (8, 10, "claude", "m"),
                                                   (20, 22, "claude", "m")]}


def test_only_the_notes_of_the_range_are_read(make_repo):
    repo = make_repo()
    big = git_ai_note({"f.txt": "1"}) + "x" * (4 << 20) + "\n"  # 4 MB each: no longer a git-ai note
    shas = []
    for i in range(4):
        shas.append(commit(repo, {"f.txt": f"{i}\n"}, f"commit {i}"))
        if i < 3:
            path = repo.write(f"../note{i}", big + f"{i}\n")  # each its own blob
            repo.git("notes", "--ref", "refs/notes/ai", "add", "-F", str(path), shas[-1])
            repo.git("notes", "--ref", "refs/notes/aiguard", "add", "-F", str(path), shas[-1])
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m", git_ai_note({"f.txt": "1"}), shas[-1])

    listed = notes.Notes(notes.GIT_AI_REF, str(repo.path))
    try:
        assert set(listed.blobs) == set(shas)
        assert listed.get(shas[-1]).startswith(b"f.txt\n")
        assert listed.read == [shas[-1]]
    finally:
        listed.close()

    tracemalloc.start()
    try:
        [entry] = history.entries(["-n", "1", "HEAD"], str(repo.path), ledger_fallback=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.commit == shas[-1] and entry.ai_lines == 1
    assert peak < 2 << 20, f"log -n 1 held {peak} bytes: the other commits' 24 MB of notes (3 on each ref) were read"
    [shown] = log_json(repo, "-n", "1")
    assert (shown["commit"], shown["ai_lines"], shown["added"]) == (shas[-1], 1, 1)


def test_added_follows_renames(make_repo):
    repo = make_repo()
    text = "".join(f"row {i} of the table\n" for i in range(100))
    commit(repo, {"old/table.txt": text}, "a table")
    (repo.path / "new").mkdir()
    repo.git("mv", "old/table.txt", "new/table.txt")
    repo.git("commit", "-q", "-m", "move it")
    moved = repo.out("rev-parse", "HEAD").strip()
    edited = commit(repo, {"new/table.txt": text.replace("row 7 ", "row seven ") + "row 100\n"}, "edit")
    repo.git("mv", "new/table.txt", "the last.txt")
    repo.write("the last.txt", text.replace("row 7 ", "row seven ") + "row 100\nrow 101\n")
    repo.git("add", "the last.txt")
    repo.git("commit", "-q", "-m", "move and add a row")
    both = repo.out("rev-parse", "HEAD").strip()
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m", git_ai_note({"the last.txt": "1-102"}), both)

    by_sha = {e["commit"]: e for e in log_json(repo)}
    assert by_sha[moved]["added"] == 0
    assert by_sha[edited]["added"] == 2
    assert (by_sha[both]["added"], by_sha[both]["ai_lines"]) == (1, 1)
    assert [(r["start"], r["end"]) for r in by_sha[both]["files"][0]["ranges"]] == [(102, 102)]
    stats = json.loads(aiguard("stats", "--json", "--no-ledger", cwd=repo.path).stdout)
    assert stats["added"] == 100 + 0 + 2 + 1
    exported = [json.loads(line) for line in
                aiguard("export", "--format", "jsonl", "--no-ledger", cwd=repo.path).stdout.decode().splitlines()]
    assert {e["commit"]: e["added"] for e in exported} == {sha: e["added"] for sha, e in by_sha.items()}


def test_a_merge_note_counts_what_log_shows_for_the_merge(make_repo):
    repo = make_repo()
    commit(repo, {"a.txt": "base\n"}, "base")
    trunk = repo.out("rev-parse", "--abbrev-ref", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "side")
    commit(repo, {"b.txt": "one\ntwo\nthree\n"}, "side work")
    repo.git("checkout", "-q", trunk)
    commit(repo, {"a.txt": "base\nmore\n"}, "trunk work")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = repo.out("rev-parse", "HEAD").strip()
    repo.git("notes", "--ref", "refs/notes/ai", "add", "-m", git_ai_note({"b.txt": "1-3"}), merge)

    plain = {e["commit"]: e for e in log_json(repo)}[merge]
    assert (plain["ai_lines"], plain["added"], plain["files"]) == (0, 0, [])
    first = log_json(repo, "--first-parent", "-n", "1")[0]
    assert (first["commit"], first["ai_lines"], first["added"]) == (merge, 3, 3)


def test_added_lines_through_one_diff_tree_agree_with_git_diff(make_repo):
    from aiguard.git import patches

    repo = make_repo()
    commit(repo, {"a.txt": "x\ny\n", 'odd "name"\t.txt': "q\n"}, "root")
    commit(repo, {"a.txt": "x\naiguard-end-of-commit\ny\n+++ b/fake\n"}, "lines that look like markers")
    repo.git("mv", "a.txt", "b c.txt")
    commit(repo, {"b c.txt": "x\naiguard-end-of-commit\ny\n+++ b/fake\nz\n"}, "move and add")
    shas = repo.out("rev-list", "--reverse", "HEAD").split()
    reader = patches.AddedLines(str(repo.path))
    try:
        got = [reader.of(sha, repo.out("rev-list", "--parents", "-n", "1", sha).split()[1:]) for sha in shas]
    finally:
        reader.close()
    parents = [None, *shas[:-1]]
    assert got == [patches.added_ranges(p, sha, str(repo.path)) for p, sha in zip(parents, shas)]
    assert got == [{b"a.txt": [(1, 2)], b'odd "name"\t.txt': [(1, 1)]}, {b"a.txt": [(2, 2), (4, 4)]},
                   {b"b c.txt": [(5, 5)]}]
