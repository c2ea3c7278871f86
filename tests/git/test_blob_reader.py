"""The commit hook's one `git cat-file --batch` (git.objects.BlobReader) answering many object
names at once, and the carry's questions asked before the attribution (git.carry.Prefetch)."""

from __future__ import annotations

from conftest import Repo


def commit_files(repo: Repo, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        repo.write(name, text)
    repo.git("add", *files)
    repo.git("commit", "-q", "-m", message)
    return repo.out("rev-parse", "HEAD").strip()


def test_many_names_answered_in_order_with_spaces_and_missing_ones(make_repo, monkeypatch):
    from aiguard.git import objects

    repo = make_repo()
    files = {f"dir {i}/file {i}.txt": f"content {i}\n" * (i % 7 + 1) for i in range(1500)}
    head = commit_files(repo, files, "many files")
    # missing names among the found ones, some ending in what looks like a size: "<name> missing"
    # then splits into three fields, and must not be read as a header
    names = []
    for i, path in enumerate(files):
        names.append(f"{head}:{path}")
        if i % 100 == 0:
            names += [f"{head}:no such {i}", f"{head}:gone 12", "line\nbreak"]
    names.append(f"{head}^{{commit}}")
    monkeypatch.chdir(repo.path)
    reader = objects.BlobReader()
    try:
        found = reader.read_objects(names)
    finally:
        reader.close()
    # far more than one batch of names went out (objects._PIPELINED bytes each)
    assert sum(len(name) + 1 for name in names) > 3 * objects._PIPELINED
    assert {name for name in names if "no such" in name or "gone" in name or "\n" in name}.isdisjoint(found)
    expected = objects.read_blobs(repo.out("rev-parse", *(f"{head}:{p}" for p in files)).split(), cwd=str(repo.path))
    for path in files:
        oid, kind, data = found[f"{head}:{path}"]
        assert kind == "blob" and data == expected[oid] == files[path].encode()
    oid, kind, data = found[f"{head}^{{commit}}"]
    assert (oid, kind) == (head, "commit") and data.startswith(b"tree ")


def test_a_plain_commit_starts_no_carry_process(repo: Repo, monkeypatch):
    """Nothing in git's state names an earlier commit: the carry asks git nothing."""
    from aiguard.git import carry

    commit_files(repo, {"a.txt": "a\n"}, "first")
    repo.git("reflog", "expire", "--expire=now", "--all")
    monkeypatch.chdir(repo.path)
    prefetch = carry.Prefetch(amend=False)
    assert prefetch.sources == [] and prefetch._behind is None and prefetch._refs is None
    assert prefetch.behind() == [] and prefetch.records(["HEAD"], reader=None) == []  # type: ignore[arg-type]


def test_prefetch_after_a_reset_reads_the_undone_commits_records_through_the_reader(make_repo, monkeypatch):
    from aiguard.git import carry, objects

    repo = make_repo()
    base = commit_files(repo, {"README": "x\n"}, "start")
    undone = commit_files(repo, {"a.py": "print(1)\n"}, "undone")
    data = (b'{"aiguard":1,"added":1,"ai":1,"by":[{"tool":"t","model":"m","source":"s"}],'
            b'"files":[{"path":"a.py","ranges":[[1,1,0]]}]}\n')
    repo.git("notes", "--ref", "refs/notes/aiguard", "add", "-F", "-", undone, input=data)
    repo.git("update-ref", "refs/notes/remotes/origin/aiguard", "refs/notes/aiguard")
    repo.git("reset", "-q", "--soft", base)
    monkeypatch.chdir(repo.path)
    prefetch = carry.Prefetch(amend=False)
    reader = objects.BlobReader()
    try:
        behind = prefetch.behind()
        records = prefetch.records(behind, reader)
    finally:
        reader.close()
        prefetch.cancel()
    assert behind == [undone]
    assert [(sha, record.ai) for sha, record in records] == [(undone, 1)]
    # the same answer as the path without a running reader (three git calls)
    assert [(sha, r.ai) for sha, r in carry.records_of([undone])] == [(undone, 1)]


def test_prefetch_defers_its_errors_to_the_carry(repo: Repo, monkeypatch):
    """Prefetch runs before the stamp's own try: a failure there must not cost the stamp, only the
    carry (which the stamp runs fail-open)."""
    from aiguard.git import carry
    from aiguard.git.runner import GitError

    def broken(amend, cwd=None):
        raise GitError("git rev-parse failed: simulated")

    monkeypatch.chdir(repo.path)
    monkeypatch.setattr(carry, "carry_sources", broken)
    prefetch = carry.Prefetch(amend=True)
    try:
        prefetch.behind()
    except GitError as exc:
        assert "simulated" in str(exc)
    else:
        raise AssertionError("the error was lost")
    prefetch.cancel()
