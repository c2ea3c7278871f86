"""`aiguard export --format parquet`: one row per line range, read back with pyarrow and checked
against the git history of a real repository (and against the JSONL export of the same history)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from conftest import Repo, aiguard
from test_audit import MERGE_INTERVALS, history, lines_of  # noqa: F401  (history: the fixture)

pq = pytest.importorskip("pyarrow.parquet")

from aiguard.audit import parquet  # noqa: E402


def read(path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_rows_match_the_history_and_the_jsonl_export(history, tmp_path):  # noqa: F811
    repo, shas, texts = history
    repo.git("remote", "add", "origin", "https://user:secret@example.com/team/project.git")
    out = tmp_path / "p.parquet"
    aiguard("export", "--format", "parquet", "-o", str(out), "--no-ledger", cwd=repo.path)

    table = pq.read_table(out)
    assert [(f.name, str(f.type), f.nullable) for f in table.schema] == \
        [(name, kind.replace("list<string>", "list<element: string>").replace("timestamp[ms, UTC]",
                                                                              "timestamp[ms, tz=UTC]"), nullable)
         for name, kind, nullable in parquet.COLUMNS]
    assert table.schema.metadata[b"aiguard.schema"] == b"aiguard.provenance/1"
    rows = table.to_pylist()
    assert {r["repository"] for r in rows} == {"https://example.com/team/project.git"}  # no credentials

    # every commit of the history, newest first, each with its author and date as git has them
    log = [line.split("\0") for line in repo.out("log", "--format=%H%x00%an <%ae>%x00%at").splitlines()]
    commits = list(dict.fromkeys(r["commit"] for r in rows))
    assert commits == [sha for sha, _, _ in log]
    for sha, author, seconds in log:
        mine = [r for r in rows if r["commit"] == sha]
        assert {r["author"] for r in mine} == {author}
        assert {r["date"] for r in mine} == {datetime.fromtimestamp(int(seconds), timezone.utc)}

    by_sha: dict[str, list[dict]] = {}
    for r in rows:
        by_sha.setdefault(r["commit"], []).append(r)
    first, last = lines_of(texts["lib.py"], MERGE_INTERVALS)
    [claude] = by_sha[shas["claude"]]
    assert (claude["path"], claude["start_line"], claude["end_line"], claude["tool"], claude["model"]) == \
        ("lib.py", first, last, "claude-code", "claude-sonnet-4-5")
    assert claude["ai_lines"] == last - first + 1 and claude["added"] == texts["lib.py"].count("\n")
    assert claude["evidence"] == "aiguard" and claude["stamped"] and claude["evidence_level"] is None
    # the lines named are the ones git shows in that commit's file
    shown = repo.out("show", f"{shas['claude']}:lib.py").splitlines()[first - 1:last]
    assert "\n".join(shown) == MERGE_INTERVALS.strip("\n")

    [co] = by_sha[shas["coauthor"]]  # commit-level evidence only: one row, range columns null
    assert co["assisted_by"] == ["claude-code:claude-opus-4-5"] and co["evidence_level"] == "trailer"
    assert (co["path"], co["start_line"], co["end_line"], co["tool"], co["model"]) == (None,) * 5
    [gitai] = by_sha[shas["gitai"]]
    assert (gitai["path"], gitai["start_line"], gitai["end_line"], gitai["tool"], gitai["evidence_level"]) == \
        ("gitai.py", 2, 4, "cursor", "note")
    [base] = by_sha[shas["base"]]
    assert base["evidence"] == "none" and base["assisted_by"] == [] and base["path"] is None

    # the same facts as the JSONL records, commit by commit
    jsonl = [json.loads(line) for line in aiguard("export", "--no-ledger", cwd=repo.path).stdout.splitlines()]
    for e in jsonl:
        mine = by_sha[e["commit"]]
        for r in mine:
            assert (r["stamped"], r["assisted_by"], r["ai_lines"], r["added"], r["evidence"], r["evidence_level"]) == \
                (e["stamped"], e["assisted_by"], e["ai_lines"], e["added"], e["evidence"], e["evidence_level"])
        ranges = [(f["path"], g["start"], g["end"], g["tool"], g["model"]) for f in e["files"] for g in f["ranges"]]
        assert [(r["path"], r["start_line"], r["end_line"], r["tool"], r["model"]) for r in mine] == \
            (ranges or [(None,) * 5])


def test_no_diff_repository_name_and_a_non_utf8_path(history, tmp_path):  # noqa: F811
    repo, shas, _texts = history
    out = tmp_path / "fast.parquet"
    aiguard("export", "--no-diff", "--format", "parquet", "--repository", "acme/widgets", "-o", str(out),
            "--no-ledger", "-n", "3", cwd=repo.path)
    rows = read(out)
    assert [r["commit"] for r in rows] == repo.out("rev-list", "-n", "3", "HEAD").split()
    assert {r["repository"] for r in rows} == {"acme/widgets"}
    assert [r["added"] for r in rows if r["commit"] == shas["coauthor"]] == [None]  # made without the hook: only a diff counts it

    from aiguard.audit.history import Entry
    from aiguard.core.spans import Span

    odd = b"caf\xe9.py".decode("utf-8", "surrogateescape")
    entry = Entry("a" * 40, [], "A <a@x>", "2026-01-02T03:04:05+02:00", "s", False, ["codex:gpt-5"], 2, 2, "foreign",
                  {odd: [Span(1, 2, "codex", "gpt-5", "foreign")]}, {}, {"lines": 5, "files": 1, "reasons": {}}, "trailer")
    parquet.write([entry], str(tmp_path / "odd.parquet"), "r")
    [row] = read(tmp_path / "odd.parquet")
    assert row["path_bytes"] == b"caf\xe9.py" and row["path"] == "caf\\xe9.py"
    assert row["unmatched_lines"] == 5
    assert row["date"] == datetime(2026, 1, 2, 1, 4, 5, tzinfo=timezone.utc)


def test_empty_history_writes_the_schema(tmp_path):
    parquet.write([], str(tmp_path / "empty.parquet"), "r")
    table = pq.read_table(tmp_path / "empty.parquet")
    assert table.num_rows == 0 and table.schema.names == [name for name, _, _ in parquet.COLUMNS]


def test_usage_errors_are_one_line(history, tmp_path):  # noqa: F811
    repo, _shas, _texts = history
    done = aiguard("export", "--format", "parquet", cwd=repo.path, check=False)
    assert done.returncode == 2 and done.stderr.decode() == "aiguard: --format parquet writes a file: give -o FILE\n"
    done = aiguard("export", "--repository", "x", cwd=repo.path, check=False)
    assert done.returncode == 2 and len(done.stderr.decode().splitlines()) == 1 and not done.stdout


def test_without_pyarrow_one_line_and_exit_2(history, tmp_path):  # noqa: F811
    repo, _shas, _texts = history
    out = tmp_path / "p.parquet"
    hide = ("import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None; "
            "sys.argv = ['aiguard', 'export', '--format', 'parquet', '-o', sys.argv[1]]; "
            "from aiguard.main import main; sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", hide, str(out)], cwd=repo.path, capture_output=True)
    assert done.returncode == 2
    assert done.stderr.decode() == "aiguard: --format parquet needs pyarrow: pip install 'aiguard[parquet]'\n"
    assert not out.exists()
