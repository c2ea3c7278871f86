"""`aiguard ci post-merge`: after a hosting service's "Squash and merge" or "Rebase and merge".

The host makes new commits no hook ran on: a squash commit (its message the host's, often
every commit's message concatenated) or one copy of each commit replayed on the target
branch. This step pairs each of them with the pull request's own commits (a squash commit
with all of them; a rebased commit with the one of the same `git patch-id`), then checks:

- the pull request's commits, as `aiguard verify` checks them (stamps and policy);
- the merged commit adds no line its source commits do not add (`merged-change`);
- every AIGuard-Stamp its message quotes is a source commit's, with that commit's claims
  unedited (`merged-stamp`);
- its AI-Lines and Assisted-by agree with the sources': the sum and union that
  `verify --squash-trailers` writes, or the lines its re-derived note counts (`merged-claims`).

It then re-derives the merged commit's note (refs/notes/aiguard) from the sources' notes,
line by line (`carry.carry_into`), and writes it.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from typing import NamedTuple, Sequence

from aiguard.audit import verify as verifier
from aiguard.audit.policy import Policy
from aiguard.audit.verify import ERROR, NOTICE, Finding, VerifyError
from aiguard.core import note_format, trailers
from aiguard.core.names import visible
from aiguard.git import carry, notes, patches, runner

METHODS = ("auto", "squash", "rebase")


class Pair(NamedTuple):
    merged: str  # a commit the host made
    sources: list[str]  # the pull request's commits it was made from, oldest first


class Outcome(NamedTuple):
    method: str  # "squash", "rebase", or "merge" (the commits are on the branch as they were)
    pairs: list[Pair]
    findings: list[Finding]  # the sources' verify findings, then the merged commits'
    notes_state: dict[str, str]  # merged commit -> "written", "unchanged", "none" (no AI lines on record)
    run_notes: tuple[str, ...]
    sources: verifier.Report | None

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def to_json(self) -> dict:
        return {"method": self.method, "ok": self.ok,
                "merged": [{"commit": p.merged, "sources": p.sources, "note": self.notes_state.get(p.merged, "none")}
                           for p in self.pairs],
                "findings": [{"commit": f.commit, "rule": f.rule, "severity": f.severity, "message": f.message}
                             for f in self.findings],
                "signers": dict(self.sources.signers) if self.sources else {},
                "notes": list(self.run_notes)}


def github_event_revisions() -> tuple[str | None, str | None, str | None]:
    """(base, head, merged) of a merged pull request's `pull_request` event, when this runs
    under GitHub Actions on one (`on: pull_request: types: [closed]`)."""
    event = verifier._github_event()
    pull = event.get("pull_request") if isinstance(event, dict) else None
    if not isinstance(pull, dict) or not pull.get("merged"):
        return None, None, None
    return (verifier._event_field(pull, "base", "sha"), verifier._event_field(pull, "head", "sha"),
            pull.get("merge_commit_sha") if isinstance(pull.get("merge_commit_sha"), str) else None)


def _commit(rev: str, what: str, cwd: str | None) -> str:
    sha = runner.rev_parse(f"{rev}^{{commit}}", cwd)
    if sha is None:
        raise VerifyError(f"{what} {rev!r} is not a commit here (fetch it first, e.g. "
                          "`git fetch origin pull/N/head` for a pull request's head)")
    return sha


def _is_ancestor(a: str, b: str, cwd: str | None) -> bool:
    return subprocess.run([*runner.GIT, "merge-base", "--is-ancestor", a, b], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True).returncode == 0


def patch_ids(shas: Sequence[str], cwd: str | None = None) -> dict[str, str]:
    """commit -> `git patch-id --stable` of its change (commits with no change are left out),
    without context lines (the stamp's DIFF_FLAGS): a rebase over commits that changed lines
    near the change keeps it."""
    if not shas:
        return {}
    tree = runner.git(["diff-tree", "-p", *patches.DIFF_FLAGS, "--stdin"],
                      input="".join(f"{sha}\n" for sha in shas).encode(), cwd=cwd)
    out = runner.git(["patch-id", "--stable"], input=tree, cwd=cwd)
    ids = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 2:
            ids[parts[1]] = parts[0]
    return ids


def pair_up(base: str, head: str, merged: str, method: str = "auto",
            cwd: str | None = None) -> tuple[str, list[Pair], list[str]]:
    """(method, pairs, source commits). Source commits: head's commits that neither base nor
    the merged commit has (so a pull request that merged the target branch in keeps only its own)."""
    if _is_ancestor(head, merged, cwd):
        return "merge", [], []
    tip = merged
    parents = runner.parents(merged, cwd)
    if len(parents) > 1:  # GitLab's merge commit over its squash commit: the squash is the second parent
        tip = parents[1]
    sources = runner.git(["rev-list", "--reverse", "--no-merges", head, "--not", base, tip, "--"],
                         cwd=cwd).decode().split()
    if not sources:
        raise VerifyError(f"no commits in {head[:12]} that {base[:12]} and {merged[:12]} do not have: "
                          "--head must be the pull request's head and --base the branch it was merged into")
    if method in ("auto", "rebase"):
        # the host's commits, newest first, down the first-parent line until one matches no source
        candidates = runner.git(["rev-list", "--first-parent", "--no-merges", f"--max-count={len(sources)}",
                                 tip, "--not", base, "--"], cwd=cwd).decode().split()
        ids = patch_ids([*sources, *candidates], cwd)
        by_id: dict[str, list[str]] = {}
        for sha in reversed(sources):
            if sha in ids:
                by_id.setdefault(ids[sha], []).append(sha)
        pairs = []
        for sha in candidates:
            same = by_id.get(ids.get(sha, ""), [])
            if not same:
                break
            pairs.append(Pair(sha, [same.pop(0)]))
        if pairs or method == "rebase":
            if not pairs:
                raise VerifyError(f"{merged[:12]} matches no commit of the pull request by patch-id: "
                                  "not a rebase merge of it (try --method squash)")
            return "rebase", list(reversed(pairs)), sources
    return "squash", [Pair(tip, sources)], sources


# The merged commit's message --------------------------------------------------------------

class Claims(NamedTuple):
    assisted: list[str]  # every Assisted-by value
    ai: int
    total: int


def _paragraph_groups(message: bytes) -> list[trailers.Group]:
    """aiguard's groups in each paragraph of a message (a host's squash message holds one per
    commit, mid-body; a pasted `--squash-trailers` block is a group without a stamp)."""
    found = []
    for paragraph in message.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [line.lstrip(b" ").removeprefix(b"* ") for line in paragraph.split(b"\n")]
        group = trailers.read_group(b"-\n\n" + b"\n".join(lines).strip(b"\n") + b"\n")
        if group is not None and group.ai_lines is not None:
            found.append(group)
    return found


def _sum(groups: Sequence[trailers.Group]) -> Claims:
    return Claims(*trailers.summed_claims(groups))


def _claimed(groups: list[trailers.Group]) -> Claims | None:
    """What the merged commit's message claims: its last summary block (no stamp), else the
    sum of the commits' groups it quotes (each stamp once), else nothing."""
    summaries = [g for g in groups if g.stamp is None]
    if summaries:
        return _sum(summaries[-1:])
    quoted = list({g.stamp: g for g in groups}.values())
    return _sum(quoted) if quoted else None


def _claims_text(claims: Claims) -> str:
    return f"Assisted-by: {', '.join(claims.assisted) or 'none'}; AI-Lines: {claims.ai}/{claims.total}"


def check_pair(pair: Pair, messages: dict[str, bytes], derived: tuple[int, int] | None,
               cwd: str | None = None) -> list[Finding]:
    """derived: (AI lines, added lines) of the merged commit's re-derived note, when there is one."""
    findings: list[Finding] = []
    sha = pair.merged
    source_groups = {s: g for s in pair.sources if (g := trailers.read_group(messages[s])) is not None}
    by_stamp = {g.stamp: (s, g) for s, g in source_groups.items() if g.stamp}
    groups = _paragraph_groups(messages[sha])
    for group in groups:
        if group.stamp is None:
            continue
        if group.stamp not in by_stamp:
            findings.append(Finding(sha, "merged-stamp", ERROR,
                                    f"its message quotes an AIGuard-Stamp ({group.stamp[:40]}...) that no commit of "
                                    "the pull request has"))
            continue
        source, theirs = by_stamp[group.stamp]
        mine = (group.assisted_by, group.ai_lines, group.unmatched)
        if mine != (theirs.assisted_by, theirs.ai_lines, theirs.unmatched):
            findings.append(Finding(sha, "merged-stamp", ERROR,
                                    f"its message quotes {source[:12]}'s stamp with AI-Lines {group.ai_lines} and "
                                    f"Assisted-by {', '.join(group.assisted_by) or 'none'}; {source[:12]} says "
                                    f"AI-Lines {theirs.ai_lines} and Assisted-by "
                                    f"{', '.join(theirs.assisted_by) or 'none'}"))
    expected = _sum(list(source_groups.values()))
    claimed = _claimed(groups)
    if claimed is None:
        if expected.ai or expected.assisted:
            findings.append(Finding(sha, "merged-claims", ERROR,
                                    f"its message carries no aiguard trailers; its commits' say {_claims_text(expected)}",
                                    "keep the host's default (concatenated) message, or paste the output of "
                                    "`aiguard verify BASE..HEAD --squash-trailers` as its last paragraph"))
        return findings
    if (claimed.ai, claimed.total) != (expected.ai, expected.total) and (claimed.ai, claimed.total) != derived:
        also = f" (its re-derived note: {derived[0]}/{derived[1]})" if derived else ""
        findings.append(Finding(sha, "merged-claims", ERROR,
                                f"its message says AI-Lines {claimed.ai}/{claimed.total}; its commits' AI-Lines "
                                f"sum to {expected.ai}/{expected.total}{also}"))
    have = {a.lower() for a in claimed.assisted}
    missing = [a for a in expected.assisted if a.lower() not in have]
    if missing:
        findings.append(Finding(sha, "merged-claims", ERROR,
                                f"its message lacks Assisted-by: {', '.join(missing)}, which its commits name"))
    return findings


# The merged commit's change ---------------------------------------------------------------

def _added_text(files: Sequence[patches.FileDiff]) -> Counter[tuple[bytes, bytes]]:
    return Counter((f.path, line[1:]) for f in files for line in f.changes if line.startswith(b"+"))


def check_change(pair: Pair, merged_files: list[patches.FileDiff], cwd: str | None = None) -> list[Finding]:
    """The merged commit's added lines must all be added lines of its sources' change."""
    if len(pair.sources) == 1:
        source = pair.sources[0]
        theirs = patches.commit_diff(runner.rev_parse(f"{source}^", cwd), source, cwd)
    else:
        first_parent = runner.rev_parse(f"{pair.merged}^", cwd)
        fork = runner.git(["merge-base", first_parent or pair.merged, pair.sources[-1]], cwd=cwd,
                          check=False).decode().strip() or None
        theirs = patches.commit_diff(fork, pair.sources[-1], cwd)
    extra = _added_text(merged_files) - _added_text(theirs)
    if not extra:
        return []
    count = sum(extra.values())
    path = next(iter(extra))[0].decode("utf-8", "replace")
    return [Finding(pair.merged, "merged-change", ERROR,
                    f"it adds {count} line{'s' if count != 1 else ''} (in {path} ...) that the pull request's "
                    "commits do not add: no stamp covers them")]


# The merged commit's note -----------------------------------------------------------------

def derive_note(pair: Pair, merged_files: list[patches.FileDiff],
                cwd: str | None = None) -> tuple[bytes | None, tuple[int, int] | None]:
    """The merged commit's note carried from its sources' notes, and its (AI, added) lines."""
    records = list(carry.records_of(pair.sources, cwd))
    if not records:
        return None, None
    carried = carry.carry_into(merged_files, records, cwd, new_rev=pair.merged)
    added = sum(len(d.added) for d in merged_files if not d.binary and d.new_oid)
    if not carried:
        return None, (0, added)
    data = note_format.encode(added, carried)
    record = note_format.decode(data)
    return data, (record.ai if record else 0, added)


def run(base: str, head: str, merged: str, rules: Policy, method: str = "auto", write_notes: bool = True,
        cwd: str | None = None) -> Outcome:
    base, head, merged = (_commit(rev, what, cwd) for rev, what in
                          ((base, "--base"), (head, "--head"), (merged, "--merged")))
    kind, pairs, sources = pair_up(base, head, merged, method, cwd)
    if kind == "merge":
        return Outcome(kind, [], [], {}, (f"{head[:12]} is in {merged[:12]}'s history: the pull request's commits "
                                          "are on the branch as they were (merge or fast-forward); "
                                          "`aiguard verify` checks them",), None)
    report = verifier.verify(f"{base[:12]}..{head[:12]}", [head, "--not", base, pairs[0].merged], rules,
                             cwd=cwd, base=base)
    findings = list(report.findings)
    run_notes = list(report.notes)
    paired = {s for pair in pairs for s in pair.sources}
    unpaired = [s for s in sources if s not in paired]
    if unpaired:  # a rebase that dropped a commit whose change the branch already had
        run_notes.append(f"{len(unpaired)} of the pull request's commits have no counterpart among the merged "
                         f"commits (by patch-id): {', '.join(s[:12] for s in unpaired[:5])}")
    messages = {c.sha: c.message for c in report.commits}
    for pair in pairs:
        messages[pair.merged] = runner.git(["cat-file", "commit", pair.merged], cwd=cwd).partition(b"\n\n")[2]
    states: dict[str, str] = {}
    for pair in pairs:
        files = patches.commit_diff(runner.rev_parse(f"{pair.merged}^", cwd), pair.merged, cwd)
        findings += check_change(pair, files, cwd)
        data, derived = derive_note(pair, files, cwd)
        findings += check_pair(pair, messages, derived, cwd)
        with_ai = [s for s in pair.sources if _ai_lines(messages.get(s, b""))]
        if data is None:
            states[pair.merged] = "none"
            if derived is None and with_ai:
                run_notes.append(f"{', '.join(s[:12] for s in with_ai)} claim AI lines but have no line record here "
                                 f"(fetch refs/notes/aiguard first): {pair.merged[:12]}'s note is not re-derived")
            continue
        if notes.read_one(pair.merged, cwd=cwd) == data:
            states[pair.merged] = "unchanged"
        elif write_notes:
            notes.write(pair.merged, data, cwd)
            states[pair.merged] = "written"
        else:
            states[pair.merged] = "not written (--no-write-notes)"
    return Outcome(kind, pairs, findings, states, tuple(run_notes), report)


def _ai_lines(message: bytes) -> int:
    group = trailers.read_group(message)
    counts = trailers.ai_counts(group.ai_lines) if group else None
    return counts[0] if counts else 0


def format_text(outcome: Outcome) -> str:
    out = []
    for f in outcome.findings:
        out.append(f"{f.commit[:12]} {f.severity} {f.rule}: {visible(f.message)}")
        if f.fix:
            out.append(f"    fix: {visible(f.fix)}")
    for pair in outcome.pairs:
        state = outcome.notes_state.get(pair.merged, "none")
        note = {"none": "no AI lines on record", "written": f"note written to {notes.REF}",
                "unchanged": f"note in {notes.REF} already up to date"}.get(state, state)
        out.append(f"{pair.merged[:12]} from {len(pair.sources)} commit{'s' if len(pair.sources) != 1 else ''} "
                   f"({', '.join(s[:12] for s in pair.sources[:5])}{' ...' if len(pair.sources) > 5 else ''}): {note}")
    for sha, principal in (outcome.sources.signers if outcome.sources else {}).items():
        out.append(f"{sha[:12]} stamped by {visible(principal)} (personal stamp, allowed-signers)")
    out.extend(f"note: {visible(line)}" for line in outcome.run_notes)
    errors = sum(f.severity == ERROR for f in outcome.findings)
    signature = ""
    if outcome.sources is not None:
        signature = ("; signatures checked" if outcome.sources.signature == "checked"
                     else "; signatures NOT checked (no key: set AIGUARD_KEY to the team key)")
    out.append(f"aiguard ci post-merge ({outcome.method}): {len(outcome.pairs)} merged commit"
               f"{'s' if len(outcome.pairs) != 1 else ''} checked, {errors} errors{signature}")
    return "\n".join(out)


def format_github(outcome: Outcome) -> str:
    lines = [f"::{'error' if f.severity == ERROR else 'warning' if f.severity != NOTICE else 'notice'} "
             f"title=aiguard {f.rule} ({f.commit[:12]})::{verifier._escape_data(f.message)}"
             for f in outcome.findings]
    return "\n".join([*lines, format_text(outcome)])
