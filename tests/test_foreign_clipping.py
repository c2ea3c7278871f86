"""History on real repositories: only the notes of the commits in range are read."""

from __future__ import annotations

import json
import tracemalloc

from conftest import Repo, aiguard

from aiguard import history, notes


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
