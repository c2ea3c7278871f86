#!/usr/bin/env python3
"""Filter a code dataset built from a git repository by AI provenance, with datatrove.

    pip install 'aiguard[datatrove]'
    python examples/datatrove_filter.py REPO EXPORT OUT [--level lines --unit chunk] [--mode tag]

1. Builds documents from REPO's history into OUT/input/: for every non-merge commit of
   --range, each file it added or changed, as of that commit (--unit file: one document
   per file per commit), or the lines it added to each file in pieces of at most
   --chunk-lines lines (--unit chunk), with metadata `repo`, `commit`, `path`,
   `start_line`/`end_line` (chunks), and `message`/`author` (with --message).
2. Runs a datatrove pipeline on the local executor:
   JsonlReader(OUT/input) -> AIProvenanceFilter(EXPORT) -> JsonlWriter(OUT/kept),
   dropped documents going to OUT/removed (tagged with why).

EXPORT is `aiguard export --format jsonl` of REPO; when the file does not exist it is
made by running exactly that in REPO. Name it after the repository (REPO's folder
name + .jsonl) so that `repo` narrows lookups when many exports are loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Iterator, Sequence

_HUNK = re.compile(rb"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def git(repo: str, *args: str) -> bytes:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True).stdout


def commits(repo: str, rev_range: str) -> list[str]:
    return git(repo, "rev-list", "--no-merges", *rev_range.split(), "--").decode().split()


def changed_files(repo: str, sha: str) -> list[str]:
    out = git(repo, "diff-tree", "-r", "--root", "--no-renames", "--no-commit-id", "-z",
              "--diff-filter=AM", "--name-only", sha)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def added_runs(repo: str, sha: str, path: str) -> list[tuple[int, int]]:
    """The runs of lines `sha` added to `path`, 1-based inclusive, in the file as of `sha`."""
    patch = git(repo, "diff-tree", "-p", "-U0", "--root", "--no-renames", "--no-commit-id", "--no-color",
                "--no-ext-diff", sha, "--", path)
    runs = []
    for m in _HUNK.finditer(patch):
        start, count = int(m.group(1)), int(m.group(2) or 1)
        if count:
            runs.append((start, start + count - 1))
    return runs


def documents(repo: str, rev_range: str = "HEAD", unit: str = "file", chunk_lines: int = 20,
              message: bool = False) -> Iterator[dict]:
    """Documents (datatrove's JSONL shape: id, text, metadata) from a repository's history."""
    name = os.path.basename(os.path.abspath(repo))
    for sha in commits(repo, rev_range):
        base = {"repo": name, "commit": sha}
        if message:
            author, _, body = git(repo, "log", "-1", "--format=%an <%ae>%x00%B", sha).partition(b"\0")
            base |= {"author": author.decode("utf-8", "replace"), "message": body.decode("utf-8", "replace")}
        for path in changed_files(repo, sha):
            blob = git(repo, "cat-file", "blob", f"{sha}:{path}")
            if b"\0" in blob:
                continue  # binary
            text = blob.decode("utf-8", "replace")
            if unit == "file":
                yield {"id": f"{sha[:12]}:{path}", "text": text, "metadata": {**base, "path": path}}
                continue
            lines = text.split("\n")  # git's lines: \r and form feeds do not end one
            for first, last in added_runs(repo, sha, path):
                for start in range(first, last + 1, chunk_lines):
                    end = min(start + chunk_lines - 1, last)
                    piece = "\n".join(lines[start - 1:end]) + ("\n" if end < len(lines) else "")
                    yield {"id": f"{sha[:12]}:{path}:{start}-{end}", "text": piece,
                           "metadata": {**base, "path": path, "start_line": start, "end_line": end}}


def clear(folder: str) -> None:
    """Remove a previous run's JSONL files (they would be read, or counted, again)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".jsonl"):
            os.remove(os.path.join(folder, name))


def write_input(docs: Iterator[dict], folder: str, shards: int) -> int:
    """The documents as `shards` JSONL files, so that each datatrove task reads its own."""
    clear(folder)
    files = [open(os.path.join(folder, f"{i:05d}.jsonl"), "w", encoding="utf-8") for i in range(shards)]
    count = 0
    try:
        for count, doc in enumerate(docs, 1):
            files[(count - 1) % shards].write(json.dumps(doc, ensure_ascii=False) + "\n")
    finally:
        for fh in files:
            fh.close()
    return count


def ensure_export(repo: str, export: str) -> None:
    if os.path.exists(export):
        return
    with open(export + ".part", "wb") as fh:
        subprocess.run([sys.executable, "-m", "aiguard", "export", "--format", "jsonl"], cwd=repo,
                       stdout=fh, check=True)
    os.replace(export + ".part", export)


def run_pipeline(input_dir: str, export: str | None, out: str, mode: str, level: str, tasks: int) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from aiguard.datatrove import AIProvenanceFilter

    for sub in ("kept", "removed"):
        clear(os.path.join(out, sub))
    removed = JsonlWriter(os.path.join(out, "removed"), compression=None) if mode == "drop" else None
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(input_dir),
            AIProvenanceFilter(exports=export, mode=mode, level=level, exclusion_writer=removed),
            JsonlWriter(os.path.join(out, "kept"), compression=None),
        ],
        tasks=tasks,
        logging_dir=os.path.join(out, "logs"),
        skip_completed=False,  # a rerun into the same OUT redoes the work
    ).run()


def count_lines(folder: str) -> int:
    if not os.path.isdir(folder):
        return 0
    total = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            total += sum(1 for line in fh if line.strip())
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", help="a git repository")
    parser.add_argument("export", help="its `aiguard export --format jsonl` file (made when missing)")
    parser.add_argument("out", help="output folder: input/, kept/, removed/, logs/")
    parser.add_argument("--range", default="HEAD", help="the commits to build documents from (git rev-list syntax)")
    parser.add_argument("--unit", choices=("file", "chunk"), default="file")
    parser.add_argument("--chunk-lines", type=int, default=20, help="lines per document with --unit chunk")
    parser.add_argument("--message", action="store_true",
                        help="put each commit's message and author in the metadata (judged when no export knows it)")
    parser.add_argument("--mode", choices=("drop", "tag"), default="drop")
    parser.add_argument("--level", choices=("commit", "lines"), default="commit")
    parser.add_argument("--tasks", type=int, default=1, help="datatrove tasks (and worker processes)")
    args = parser.parse_args(argv)
    if args.chunk_lines < 1 or args.tasks < 1:
        parser.error("--chunk-lines and --tasks must be at least 1")

    ensure_export(args.repo, args.export)
    input_dir = os.path.join(args.out, "input")
    count = write_input(documents(args.repo, args.range, args.unit, args.chunk_lines, args.message),
                        input_dir, args.tasks)
    run_pipeline(input_dir, args.export, args.out, args.mode, args.level, args.tasks)
    kept, removed = count_lines(os.path.join(args.out, "kept")), count_lines(os.path.join(args.out, "removed"))
    print(f"{count} documents: {kept} kept, {removed} removed ({args.mode}, level {args.level})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
