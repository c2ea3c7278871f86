"""`aiguard attribute [--staged | REV] [--json]`: which added lines match the ledger."""

from __future__ import annotations

from aiguard.core.names import visible
from aiguard.git import patches, runner
from aiguard.git.changes import ChangeResult, merge_own_lines
from aiguard.store.session import Session


def attribute(rev: str | None, cwd: str | None = None) -> ChangeResult:
    """Attribute the staged change (rev None) or a commit's change against its first parent."""
    restrict = None
    if rev is None:
        head = runner.rev_parse("HEAD", cwd=cwd)
        files = patches.staged_diff(head or runner.empty_tree(cwd), cwd=cwd)
        heads = runner.merge_heads(cwd)
        if heads:
            restrict = merge_own_lines(files, (patches.staged_diff(h, cwd=cwd) for h in heads))
    else:
        commit = runner.rev_parse(rev, cwd=cwd)
        if commit is None:
            raise runner.GitError(f"{rev!r} is not a commit")
        parents = runner.parents(commit, cwd=cwd)
        files = patches.commit_diff(parents[0] if parents else None, commit, cwd=cwd)
        if len(parents) > 1:
            restrict = merge_own_lines(files, (patches.commit_diff(p, commit, cwd=cwd) for p in parents[1:]))
    with Session() as session:
        return session.attribute(files, restrict, cwd=cwd)


def format_text(result: ChangeResult) -> str:
    out = []
    for f in result.files:
        if not f.added:
            continue
        out.append(f"{visible(f.path)}: {f.ai}/{f.added} added lines from recorded AI output")
        for r in f.ranges:
            span = f"{r.start}" if r.start == r.end else f"{r.start}-{r.end}"
            out.append(f"  lines {span}: {visible(f'{r.tool}:{r.model} ({r.source})')}")
    out.append(f"AI-Lines: {result.ai}/{result.added}")
    for value in result.assisted_by:
        out.append(f"Assisted-by: {visible(value)}")
    return "\n".join(out)
