"""The datatrove block on a real repository: `aiguard export --format jsonl`, then the
example pipeline (examples/datatrove_filter.py) on datatrove's local executor drops
exactly the AI-derived documents, or exactly those whose lines overlap AI ranges, or
tags them all; documents that carry only a commit message are judged by it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, aiguard, run
from test_audit import history  # noqa: F401  (the fixture: AI, clipboard, human and foreign commits)

from aiguard.datatrove import Keys, Provenance, provenance
from aiguard.training import ExportIndex

EXAMPLE = ROOT / "examples" / "datatrove_filter.py"
AI_COMMITS = ("claude", "chat", "coauthor", "aider", "gitai")  # what `aiguard log` calls AI-derived


def export(repo, path: Path, *rev) -> list[dict]:
    path.write_bytes(aiguard("export", "--format", "jsonl", *rev, cwd=repo.path).stdout)
    return [json.loads(line) for line in path.read_text().splitlines()]


def example(repo, export_file: Path, out: Path, *args) -> dict[str, list[dict]]:
    """Runs the example as a user would; returns its input, kept and removed documents."""
    done = run([sys.executable, str(EXAMPLE), str(repo.path), str(export_file), str(out), *args])
    assert "documents:" in done.stdout.decode()
    return {name: read_docs(out / name) for name in ("input", "kept", "removed")}


def read_docs(folder: Path) -> list[dict]:
    docs = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
        docs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return docs


def ids(docs: list[dict]) -> set[str]:
    found = [d["id"] for d in docs]
    assert len(found) == len(set(found))
    return set(found)


def overlaps(entry: dict, meta: dict) -> bool:
    return any(f["path"] == meta["path"] and r["start"] <= meta["end_line"] and meta["start_line"] <= r["end"]
               for f in entry["files"] for r in f["ranges"])


@pytest.fixture
def exported(history, tmp_path):  # noqa: F811
    pytest.importorskip("datatrove")
    repo, shas, texts = history
    entries = export(repo, tmp_path / "repo.jsonl")
    assert {e["commit"] for e in entries if e["assisted_by"] or e["ai_lines"]} == {shas[k] for k in AI_COMMITS}
    return repo, shas, tmp_path / "repo.jsonl", {e["commit"]: e for e in entries}


def test_commit_level_drops_exactly_the_ai_commits(exported, tmp_path):
    repo, shas, export_file, _ = exported
    docs = example(repo, export_file, tmp_path / "out")
    ai = {shas[k] for k in AI_COMMITS}
    assert {d["metadata"]["commit"] for d in docs["input"]} == set(shas.values())  # one doc per file per commit
    assert ids(docs["removed"]) == {d["id"] for d in docs["input"] if d["metadata"]["commit"] in ai}
    assert ids(docs["kept"]) == {d["id"] for d in docs["input"] if d["metadata"]["commit"] not in ai}
    kept = {d["id"]: d for d in docs["kept"]}
    assert all("ai_derived" not in d["metadata"] for d in kept.values())  # drop mode leaves kept ones alone
    for doc in docs["removed"]:  # the exclusion writer gets them tagged, with datatrove's reason
        assert doc["metadata"]["ai_derived"] is True and doc["metadata"]["filter_reason"] == "ai_commit"
    claude = next(d for d in docs["removed"] if d["metadata"]["commit"] == shas["claude"])
    assert claude["metadata"]["assisted_by"] == ["claude-code:claude-sonnet-4-5"]
    assert claude["metadata"]["ai_evidence"] == "aiguard"
    aider = next(d for d in docs["removed"] if d["metadata"]["commit"] == shas["aider"])
    assert aider["metadata"]["ai_evidence"] == "foreign" and aider["metadata"]["assisted_by"] == ["aider:unknown"]
    stats = json.loads((tmp_path / "out" / "logs" / "stats.json").read_text())
    block = next(s for s in stats if "AI provenance" in s["name"])
    assert block["stats"]["dropped"] == block["stats"]["ai_derived"] == len(docs["removed"])
    assert block["stats"]["forwarded"] == len(docs["kept"])


def test_lines_level_drops_exactly_the_overlapping_chunks(exported, tmp_path):
    """Two tasks in two worker processes: the block pickles and loads the export in each."""
    repo, shas, export_file, by_sha = exported
    docs = example(repo, export_file, tmp_path / "out", "--level", "lines", "--unit", "chunk",
                   "--chunk-lines", "2", "--tasks", "2")
    expected = set()
    for doc in docs["input"]:
        entry = by_sha[doc["metadata"]["commit"]]
        ai_commit = bool(entry["assisted_by"] or entry["ai_lines"])
        # a commit known to be AI-derived without a line record counts as a whole
        if ai_commit and (not entry["files"] or overlaps(entry, doc["metadata"])):
            expected.add(doc["id"])
    assert ids(docs["removed"]) == expected
    assert ids(docs["kept"]) == {d["id"] for d in docs["input"]} - expected
    # and, spelled out on the fixture: lines 1-2 of lib.py ("import os" and a blank) stay,
    # the chunks holding the assistant's function go; the co-author commit has no lines
    kept = ids(docs["kept"])
    assert f"{shas['claude'][:12]}:lib.py:1-2" in kept and f"{shas['claude'][:12]}:lib.py:5-6" not in kept
    assert f"{shas['gitai'][:12]}:gitai.py:1-2" not in kept  # git-ai's range 2-4 overlaps
    assert not any(i.startswith(shas["coauthor"][:12]) for i in kept)
    assert any(i.startswith(shas["human"][:12]) for i in kept)
    reasons = {d["metadata"]["filter_reason"] for d in docs["removed"]}
    assert reasons == {"ai_lines", "ai_commit"}


def test_tag_mode_keeps_everything_and_tags_it(exported, tmp_path):
    repo, shas, export_file, by_sha = exported
    docs = example(repo, export_file, tmp_path / "out", "--mode", "tag", "--level", "lines", "--unit", "chunk",
                   "--chunk-lines", "3")
    assert ids(docs["kept"]) == ids(docs["input"]) and docs["removed"] == []
    for doc in docs["kept"]:
        meta = doc["metadata"]
        entry = by_sha[meta["commit"]]
        if meta["ai_basis"] == "lines":
            hit = [f"{r['tool']}:{r['model']}" for f in entry["files"] if f["path"] == meta["path"]
                   for r in f["ranges"] if r["start"] <= meta["end_line"] and meta["start_line"] <= r["end"]]
            assert meta["ai_derived"] is bool(hit) and meta["assisted_by"] == list(dict.fromkeys(hit))
            assert meta["ai_evidence"] == (entry["evidence"] if hit else "none")
        else:
            assert meta["ai_basis"] == "commit"
            assert meta["ai_derived"] is bool(entry["assisted_by"] or entry["ai_lines"])
            assert meta["assisted_by"] == entry["assisted_by"] and meta["ai_evidence"] == entry["evidence"]
    tagged = {d["id"]: d["metadata"] for d in docs["kept"]}
    assert tagged[f"{shas['chat'][:12]}:util.py:1-3"]["assisted_by"] == ["chatgpt:unknown"]
    assert tagged[f"{shas['claude'][:12]}:lib.py:1-3"]["ai_derived"] is False
    assert tagged[f"{shas['human'][:12]}:human.py:1-3"] == {**tagged[f"{shas['human'][:12]}:human.py:1-3"],
                                                           "ai_derived": False, "ai_evidence": "none"}


def test_commits_the_export_does_not_know_are_judged_by_their_message(exported, tmp_path):
    """The export covers only the last three commits; older ones carry their messages."""
    repo, shas, _, _ = exported
    partial = export(repo, tmp_path / "recent.jsonl", "HEAD~3..HEAD")
    assert {e["commit"] for e in partial} == {shas["coauthor"], shas["aider"], shas["gitai"]}
    docs = example(repo, tmp_path / "recent.jsonl", tmp_path / "out", "--mode", "tag", "--message")
    tagged = {d["metadata"]["commit"]: d["metadata"] for d in docs["kept"]}
    for key in ("base", "claude", "chat", "human"):
        assert tagged[shas[key]]["ai_basis"] == "message"
    assert tagged[shas["claude"]]["assisted_by"] == ["claude-code:claude-sonnet-4-5"]
    assert tagged[shas["chat"]]["ai_derived"] is True
    assert tagged[shas["human"]]["ai_derived"] is False and tagged[shas["base"]]["ai_derived"] is False
    for key in ("coauthor", "aider", "gitai"):
        assert tagged[shas[key]]["ai_basis"] == "commit" and tagged[shas[key]]["ai_derived"] is True


def test_documents_with_only_a_message(history, tmp_path):  # noqa: F811
    """No export at all: the message (and the author, for aider's suffix) decides."""
    pytest.importorskip("datatrove")
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    from aiguard.datatrove import AIProvenanceFilter

    repo, shas, _ = history
    docs = []
    for key, sha in shas.items():
        author, body = repo.out("log", "-1", "--format=%an <%ae>%x00%B", sha).split("\0", 1)
        docs.append(Document(text=f"text of {key}", id=key, metadata={"msg": body, "who": author}))
    docs.append(Document(text="no source", id="orphan", metadata={}))

    def ran(mode: str, unknown: str = "keep") -> dict[str, dict]:
        out = tmp_path / f"{mode}-{unknown}"
        LocalPipelineExecutor([
            [Document(d.text, d.id, metadata=dict(d.metadata)) for d in docs],
            AIProvenanceFilter(mode=mode, unknown=unknown, message_key="msg", author_key="who",
                               exclusion_writer=JsonlWriter(str(out / "removed"), compression=None)),
            JsonlWriter(str(out / "kept"), compression=None),
        ], logging_dir=str(out / "logs")).run()
        return {d["id"]: d.get("metadata", {}) for d in read_docs(out / "kept")}  # the writer leaves out empty ones

    kept = ran("drop")
    # the git-ai note is not in the message: from a message alone that commit looks human
    assert set(kept) == {"base", "human", "gitai", "orphan"}
    assert set(ran("drop", unknown="drop")) == {"base", "human", "gitai"}
    tagged = ran("tag")
    assert set(tagged) == set(shas) | {"orphan"}
    assert tagged["aider"]["assisted_by"] == ["aider:unknown"] and tagged["aider"]["ai_basis"] == "message"
    assert tagged["coauthor"]["ai_evidence"] == "foreign" and tagged["coauthor"]["ai_derived"] is True
    assert tagged["claude"]["ai_evidence"] == "aiguard"
    assert tagged["orphan"] == {"ai_derived": None, "assisted_by": [], "ai_evidence": "unknown", "ai_basis": "unknown"}


# the pure core, on invented export records --------------------------------------------------

SHA = "ab" * 20
RECORD = {"commit": SHA, "assisted_by": ["codex:gpt-5"], "ai_lines": 3, "evidence": "aiguard",
          "files": [{"path": "a.py", "ranges": [{"start": 5, "end": 7, "tool": "codex", "model": "gpt-5"}]}]}


def index_of(*records: dict, repo: str = "proj") -> ExportIndex:
    index = ExportIndex()
    index.add([json.dumps(r) for r in records], repo)
    return index


@pytest.mark.parametrize(("start", "end", "ai"), [(1, 4, False), (1, 5, True), (7, 9, True), (8, 9, False),
                                                  (None, None, True), (6, None, True), (None, 4, False)])
def test_line_spans_are_inclusive(start, end, ai):
    meta = {"commit": SHA, "path": "a.py", "start_line": start, "end_line": end}
    found = provenance(meta, index_of(RECORD), "lines")
    assert found.ai_derived is ai and found.basis == "lines"
    assert found.assisted_by == (["codex:gpt-5"] if ai else [])


def test_lookup_rules():
    index = index_of(RECORD)
    other_path = provenance({"commit": SHA, "path": "b.py"}, index, "lines")
    assert other_path == Provenance(False, [], "none", "lines")
    assert provenance({"commit": SHA[:12].upper(), "repo": "proj"}, index).ai_derived is True
    assert provenance({"commit": SHA, "repo": "owner/elsewhere"}, index).ai_derived is True  # a full id is enough
    assert provenance({"commit": "cd" * 20}, index).basis == "unknown"
    keys = Keys(commit="sha", path="file", start_line="from", end_line="to")
    assert provenance({"sha": SHA, "file": "a.py", "from": "8", "to": "9"}, index, "lines", keys).ai_derived is False
    with pytest.raises(ValueError, match="'start_line' is 'x'"):
        provenance({"commit": SHA, "path": "a.py", "start_line": "x"}, index, "lines")


def test_imports_without_datatrove():
    code = ("import sys; sys.modules['datatrove'] = None\n"
            "import aiguard.datatrove as m\n"
            "assert m.provenance({'message': 'x'}, None).basis == 'message'\n"
            "try:\n    m.AIProvenanceFilter()\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'aiguard[datatrove]'" in done.stdout


def test_a_broken_datatrove_install_names_what_is_missing():
    # datatrove importable but one of its own imports not (regex, before the extra pulled it in).
    code = ("import sys; sys.modules['regex'] = None\n"
            "import aiguard.datatrove as m\n"
            "try:\n    m.AIProvenanceFilter()\nexcept ImportError as e:\n    print(e)\n")
    pytest.importorskip("datatrove")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "datatrove is installed but cannot be imported" in done.stdout, done.stdout
    assert "regex" in done.stdout


def test_the_extra_pulls_what_datatrove_imports():
    # Every module the datatrove extra's code path imports is importable in the test install.
    pytest.importorskip("datatrove")
    from aiguard.datatrove import AIProvenanceFilter, BaseFilter

    assert BaseFilter is not None
    assert issubclass(AIProvenanceFilter, BaseFilter)


def test_bad_arguments_name_what_is_allowed():
    pytest.importorskip("datatrove")
    from aiguard.datatrove import AIProvenanceFilter

    with pytest.raises(ValueError, match="level='line': use one of commit, lines"):
        AIProvenanceFilter(level="line")
