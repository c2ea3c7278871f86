"""`aiguard verify [RANGE]`: CI enforcement of the repository policy over a commit range.

One `git log -p` pass over the range gives every commit's message and its change
against the first parent, with the same pinned diff flags the hook used, so each
stamp's binding can be recomputed: a missing stamp, a forged one, one copied
from another change, an amend without re-stamping and an edited claim are all
told apart. With the team key (AIGUARD_KEY, or the local key store) the stamp's
signature is checked too; without it the report says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from aiguard.core.errors import AiguardError
from aiguard.audit import foreign
from aiguard.store import keys
from aiguard.git import notes
from aiguard.core import stamp_format, trailers
from aiguard.audit import policy
from aiguard.git import patches, runner, signing
from aiguard.core.names import visible
from aiguard.audit.policy import Policy

ERROR, WARNING, NOTICE = "error", "warning", "notice"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARK = b"\x00\x00aiguard-commit\x00"


class VerifyError(AiguardError):
    """A usage or environment problem (exit 2)."""


class Finding(NamedTuple):
    commit: str
    rule: str
    severity: str
    message: str
    fix: str = ""


class Commit(NamedTuple):
    sha: str
    parents: list[str]
    author: str
    date: str
    message: bytes
    files: list[patches.FileDiff]
    committer: str = ""

    @property
    def subject(self) -> str:
        return self.message.split(b"\n", 1)[0].decode("utf-8", "replace")


class Report(NamedTuple):
    range: str
    checked: int
    findings: list[Finding]
    signature: str  # "checked" (keys known) or "unchecked"
    key_ids: list[str]
    commits: list[Commit]
    notes: tuple[str, ...] = ()  # one line each: what the run could not do, or ignored
    signers: dict[str, str] = {}  # commit -> principal of its personal stamp (verified)

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def to_json(self) -> dict:
        return {
            "range": self.range, "checked": self.checked, "ok": self.ok,
            "signature": self.signature,
            "signers": dict(self.signers),
            "findings": [{"commit": f.commit, "rule": f.rule, "severity": f.severity, "message": f.message}
                         for f in self.findings],
        }


# Range ---------------------------------------------------------------------------------

def default_range(cwd: str | None = None) -> tuple[str, list[str]]:
    """(label, rev-list arguments) for the current branch's commits not on the default branch.

    Under GitHub Actions the pull request's head is checked (not GitHub's synthetic
    merge commit), and merge-queue runs check the queued commits.
    """
    event = _github_event()
    name = os.environ.get("GITHUB_EVENT_NAME", "")
    if event is not None and name in ("pull_request", "pull_request_target"):
        head = _event_field(event, "pull_request", "head", "sha")
        base_ref = os.environ.get("GITHUB_BASE_REF") or _event_field(event, "pull_request", "base", "ref")
        base = None
        if base_ref and runner.rev_parse(f"origin/{base_ref}", cwd=cwd):
            base = f"origin/{base_ref}"
        base = base or _event_field(event, "pull_request", "base", "sha")
        if head and base:
            return f"{base}..{head}", [head, "--not", base]
    if event is not None and name == "merge_group":
        head, base = _event_field(event, "merge_group", "head_sha"), _event_field(event, "merge_group", "base_sha")
        if head and base:
            return f"{base}..{head}", [head, "--not", base]
    base = _default_branch(cwd)
    if base is None:
        raise VerifyError(_no_default_range(cwd))
    return f"{base}..HEAD", ["HEAD", "--not", base]


def _no_default_range(cwd: str | None) -> str:
    """Why there is no default RANGE here, and what to give instead."""
    if runner.rev_parse("HEAD", cwd=cwd) is None:
        return "this repository has no commits yet: nothing to verify"
    current = _current_branch(cwd)
    if current in ("main", "master"):
        return (f"you are on the default branch ({current}), so there is no branch to compare with it; "
                f"give a RANGE, e.g. `aiguard verify HEAD~5..HEAD` (or --base REF)")
    return "cannot tell the default branch (no origin/HEAD, main or master); give a RANGE or --base REF"


def _current_branch(cwd: str | None) -> str:
    return subprocess.run([*runner.GIT, "symbolic-ref", "-q", "--short", "HEAD"], capture_output=True, cwd=cwd,
                          stdin=subprocess.DEVNULL).stdout.decode().strip()


def _event_field(event: object, *keys: str) -> str | None:
    """event[key][key]...: None when absent; a level that is not an object means a broken event file."""
    value = event
    for depth, key in enumerate(keys):
        if not isinstance(value, dict):
            where = ".".join(keys[:depth]) or "the file"
            raise VerifyError(f"{os.environ.get('GITHUB_EVENT_PATH')}: not a GitHub event ({where} is not a JSON "
                              "object); check GITHUB_EVENT_PATH, or give a RANGE")
        value = value.get(key)
        if value is None:
            return None
    return value if isinstance(value, str) else None


def _github_event() -> object | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _default_branch(cwd: str | None) -> str | None:
    head = subprocess.run([*runner.GIT, "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
                          capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL)
    if head.returncode == 0 and head.stdout.strip():
        return head.stdout.decode().strip()
    current = _current_branch(cwd)
    for candidate in ("origin/main", "origin/master", "main", "master"):
        if candidate != current and runner.rev_parse(candidate, cwd=cwd):
            return candidate
    return None


def resolve_range(spec: str | None, cwd: str | None = None) -> tuple[str, list[str], str | None]:
    """(label, rev-list arguments, base) for a RANGE as written (A..B, A...B, a rev), or the default."""
    if not spec:
        label, args = default_range(cwd)
        return label, args, args[-1]
    if "..." in spec:
        left, right = spec.split("...", 1)
        base = runner.git(["merge-base", left or "HEAD", right or "HEAD"], cwd=cwd, check=False).decode().strip()
        return spec, [spec], base or None
    if ".." in spec:
        left = spec.split("..", 1)[0]
        return spec, [spec], left or "HEAD"
    return spec, spec.split(), None


# Reading history -----------------------------------------------------------------------

def iter_commits(rev_args: Sequence[str], no_merges: bool, cwd: str | None = None) -> Iterator[Commit]:
    """Every commit of the range with its message and first-parent change, in one git log pass."""
    args = ["log", "--no-color",
            "--format=%x00%x00aiguard-commit%x00%H%x00%P%x00%an <%ae>%x00%aI%x00%cn <%ce>%x00%B%x00",
            "-p", "--root", "--diff-merges=first-parent", *patches.DIFF_FLAGS]
    if no_merges:
        args.append("--no-merges")
    args += [*rev_args, "--"]
    try:
        for record in runner.stream_records(args, _MARK, cwd):
            yield _parse_record(record)
    except runner.GitError as exc:
        raise VerifyError(str(exc)) from None


def _parse_record(record: bytes) -> Commit:
    sha, parents, author, date, committer, message, patch = record.split(b"\x00", 6)
    return Commit(sha.decode(), parents.decode().split(), author.decode("utf-8", "replace"), date.decode(),
                  message, patches.parse_patch(patch), committer.decode("utf-8", "replace"))


# Checking --------------------------------------------------------------------------------

def team_keys() -> tuple[dict[str, bytes] | None, list[str]]:
    """Stamp keys to check signatures with: AIGUARD_KEY (comma/newline separated), else the local store."""
    env = os.environ.get("AIGUARD_KEY", "").replace(",", "\n").split()
    if env:
        found = {}
        for text in env:
            key = keys.parse_key(text)
            found[keys.key_id(key)] = key
        return found, sorted(found)
    try:
        keyset = keys.load(create=False)
    except keys.KeyUnavailable:
        return None, []
    found = dict(keyset.stamp_keys)
    return found, sorted(found)


class Signers(NamedTuple):
    """The allowed-signers (and revoked-signers) files as the policy's commit has them, on disk."""

    allowed: str | None
    revoked: str | None
    note: str = ""  # why there is none, when the policy names one


@contextmanager
def signer_files(rules: Policy, base: str | None, cwd: str | None = None) -> Iterator[Signers]:
    """The policy's allowed-signers and revoked-signers files, read at the range's base like the
    policy (a pull request cannot add its own key), else from the working tree."""
    if not rules.allowed_signers:
        yield Signers(None, None)
        return
    with tempfile.TemporaryDirectory(prefix="aiguard-signers-") as tmp:
        paths: list[str | None] = []
        for name, kind in ((rules.allowed_signers, "allowed"), (rules.revoked_signers, "revoked")):
            data = _repo_file(name, base, cwd) if name else None
            if data is None:
                paths.append(None)
                continue
            path = os.path.join(tmp, kind)
            with open(path, "wb") as fh:
                fh.write(data)
            paths.append(path)
        if paths[0] is None:
            yield Signers(None, None, f"{rules.source}: allowed-signers {rules.allowed_signers!r} is not in the "
                                      "repository: personal stamps and signed commits cannot be checked")
        elif rules.revoked_signers and paths[1] is None:
            raise VerifyError(f"{rules.source}: revoked-signers {rules.revoked_signers!r} is not in the repository; "
                              "commit it (it may be empty) or remove the key")
        else:
            yield Signers(paths[0], paths[1])


def _repo_file(name: str, base: str | None, cwd: str | None) -> bytes | None:
    if base and runner.rev_parse(base, cwd=cwd):
        shown = runner.git(["cat-file", "blob", f"{base}:{name}"], cwd=cwd, check=False)
        if shown:
            return shown
        if policy.load_at(base, cwd=cwd) is not None:
            return None  # the base has a policy: its files, not the pull request's
    root = _work_tree(cwd)
    if root is None:  # a bare repository: the file as HEAD has it
        return runner.git(["cat-file", "blob", f"HEAD:{name}"], cwd=cwd, check=False) or None
    try:
        return (root / name).read_bytes()
    except OSError:
        return None


def exempt(commit: Commit, rules: Policy, signed_by: dict[str, str] | None = None) -> str | None:
    """Why a commit is not checked, or None. Never a name the committer sets: only a
    commit signature that verifies against the allowed-signers file (exempt-signers)."""
    if rules.exempt_merges and len(commit.parents) > 1:
        return "merge commit"
    principal = (signed_by or {}).get(commit.sha)
    if principal and policy.matches(principal, rules.exempt_signers):
        return f"signed by exempt signer {principal}"
    if rules.exempt_before and "-" in rules.exempt_before and commit.date[:len(rules.exempt_before)] <= rules.exempt_before:
        return "before exempt-before"
    return None


class ForeignMark(NamedTuple):
    """A TOOL:MODEL value another tool's mark names (`evidence: foreign`, as `aiguard log` reads it)."""

    value: str
    source: str  # where it was read: the trailer line, the author, the committer, git-ai's note
    paths: frozenset[str] | None  # files its record has line ranges in; None: no per-file record


def foreign_marks(commit: Commit, group: trailers.Group | None, git_ai_note: bytes | None = None) -> list[ForeignMark]:
    """Other tools' marks on a commit that aiguard's own Assisted-by lines do not already name.

    Read as `aiguard log` reads them (foreign.marks on the message without aiguard's
    group, the author and the committer; git-ai's note). A value aiguard's record
    names with a model drops its `tool:unknown` twin, as in log.
    """
    message = trailers.strip_own(commit.message) if group is not None else commit.message
    values = foreign.marks(message, commit.author, commit.committer)
    note = foreign.parse_note(git_ai_note) if git_ai_note else None
    if not values and note is None:
        return []
    own = list(group.all_assisted_by) if group else []
    if own:
        own += foreign.marks(b"-\n\n" + "".join(f"Assisted-by: {v}\n" for v in own).encode())
    known = {v.lower() for v in own}

    def is_new(value: str) -> bool:
        tool = value.split(":", 1)[0].lower()
        return value.lower() not in known and not (
            value.endswith(":unknown") and any(v.startswith(tool + ":") for v in known))

    found: list[ForeignMark] = []
    for value in values:
        if is_new(value):
            found.append(ForeignMark(value, _mark_source(value, message, commit), None))
            known.add(value.lower())
    for value in (note.assisted_by if note is not None else ()):
        if note is not None and is_new(value):
            paths = frozenset(path for path, spans in note.files.items()
                              if any(f"{tool}:{model}" == value for _s, _e, tool, model in spans))
            found.append(ForeignMark(value, note.source, paths if note.files else None))
            known.add(value.lower())
    return found


def _mark_source(value: str, message: bytes, commit: Commit) -> str:
    """Which trailer, or whether the author or the committer, names `value`."""
    for key, text in trailers.parse_trailers(message):
        if value in foreign.marks(f"-\n\n{key}: {text}\n".encode()):
            return f"{key}: {text}"
    if value in foreign.marks(b"", commit.author):
        return f"author {commit.author}"
    if value in foreign.marks(b"", "", commit.committer):
        return f"committer {commit.committer}"
    return "another tool's mark"


def _policy_name(rules: Policy) -> str:
    return ".aiguard.toml" if rules.source == "defaults" else rules.source


def _check_stamp(commit: Commit, group: trailers.Group, rules: Policy, team: dict[str, bytes] | None,
                 signers: Signers | None, signer_out: dict[str, str] | None) -> tuple[str | None, str | None]:
    """(why the stamp is invalid, why its signature could not be checked); None for each when fine."""
    assert group.stamp is not None
    version = stamp_format.version_of(group.stamp)
    change = stamp_format.change_digest(commit.files, version if version in stamp_format.VERSIONS else "v2")
    result = stamp_format.check(group.stamp, change, group.assisted_by, group.ai_lines or "", team, group.unmatched)
    if not result.bound:
        return ("the stamp does not match this commit's change and claims: copied from another "
                "commit, amended after stamping, a file's mode changed (v2), or a claim (Assisted-by, "
                "AI-Lines, AI-Unmatched) was edited"), None
    if result.signature == "personal":
        if rules.stamp_signature == "team":
            return "a personal stamp where the policy says stamp-signature = \"team\"", None
        if signers is None or signers.allowed is None:
            return None, ("a personal stamp, but no allowed-signers file to check it against "
                          f"(allowed-signers in {_policy_name(rules)})")
        checked = signing.verify(stamp_format.signed_message(result.bound_value, result.version),
                                 result.personal_signature, stamp_format.SSH_NAMESPACE, signers.allowed,
                                 signers.revoked)
        if not checked.ok:
            return f"the personal stamp's signature is not valid: {checked.reason}", None
        if signer_out is not None:
            signer_out[commit.sha] = checked.principal
        return None, None
    if rules.stamp_signature == "personal":
        return ("a team-key stamp where the policy says stamp-signature = \"personal\": "
                "re-stamp with your own key (git config aiguard.signing ssh)"), None
    if result.signature == "invalid":
        return "the stamp's signature is not valid: it was not made with the team's key", None
    if result.signature == "unknown-key":
        kid = group.stamp.split()[1]
        return (f"the stamp was signed with key {kid}, which is not a team key "
                "(import the team key with `aiguard key import`, then re-stamp)"), None
    if result.signature == "unchecked":
        return None, "the stamp's team-key signature was not checked: no team key (AIGUARD_KEY)"
    return None, None


def check_commit(commit: Commit, rules: Policy, team: dict[str, bytes] | None,
                 audit: bool = False, git_ai_note: bytes | None = None, signers: Signers | None = None,
                 signer_out: dict[str, str] | None = None,
                 own_lines: dict[bytes, set[int]] | None = None) -> list[Finding]:
    """own_lines: for a merge, the lines new against every parent (its own work)."""
    findings: list[Finding] = []
    sha = commit.sha
    group = trailers.read_group(commit.message)
    stamp_fix = "run `aiguard install`, then re-stamp: `git rebase --exec 'git commit --amend --no-edit' <base>`"
    squashed = trailers.squashed_claims(commit.message) if audit and (group is None or group.stamp is None) else None
    if squashed is not None:
        assisted_text = ", ".join(squashed[0]) or "none"
        findings.append(Finding(sha, "squash-merge", WARNING,
                                f"a squash merge without a stamp of its own; its commits' trailers say "
                                f"Assisted-by: {assisted_text}; AI-Lines: {squashed[1]}/{squashed[2]}",
                                "verify the pull request's own commits before merging"))
        group = trailers.Group([], None, None, 0, squashed[0])
    elif group is None or group.stamp is None:
        if rules.require_stamp:
            findings.append(Finding(sha, "missing-stamp", ERROR, "no AIGuard-Stamp trailer: the aiguard hook did not run",
                                    stamp_fix))
    else:
        problem = None
        if group.stamps > 1:
            problem = "more than one AIGuard-Stamp in the trailer block"
        elif group.ai_lines is None or trailers.ai_counts(group.ai_lines) is None:
            problem = "the stamp has no valid AI-Lines trailer directly above it"
        else:
            problem, unchecked = _check_stamp(commit, group, rules, team, signers, signer_out)
            if unchecked and rules.require_stamp and rules.signatures == "required":
                findings.append(Finding(sha, "unchecked-signature", ERROR, unchecked,
                                        "give CI the team key (secret AIGUARD_KEY), commit the allowed-signers "
                                        f"file, or set signatures = \"optional\" in {_policy_name(rules)}"))
        if problem:
            findings.append(Finding(sha, "invalid-stamp", ERROR, problem, stamp_fix))
    assisted = group.all_assisted_by if group else []
    external = [value for value in assisted if not policy.matches(value, rules.internal_models)]
    theirs = [m for m in foreign_marks(commit, group, git_ai_note)
              if not policy.matches(m.value, rules.internal_models)]
    named = external + [f"{m.value} (another tool's mark: {m.source})" for m in theirs]
    counts = trailers.ai_counts(group.ai_lines) if group else None
    if named and rules.external_models == "forbid":
        findings.append(Finding(sha, "forbidden-model", ERROR,
                                f"external model output is not allowed here: {', '.join(named)}",
                                "rewrite those lines yourself, or ask the owners to list the model in internal-models"))
    elif named and rules.external_models == "disclose":
        findings.append(Finding(sha, "external-model", NOTICE, f"contains external model output: {', '.join(named)}"))
    if named and rules.forbid_paths:
        protected = {gitio_path(f) for f in commit.files
                     if (own_lines.get(f.path) if own_lines is not None else f.added)
                     and policy.path_matches(gitio_path(f), rules.forbid_paths)}
        touched: set[str] = set()
        whose: list[str] = []
        if external and (counts is None or counts[0] > 0):
            touched |= protected  # trailers carry no per-file record: the whole commit counts
        for mark in theirs:
            hit = protected if mark.paths is None else protected & mark.paths
            if hit:
                touched |= hit
                whose.append(f"{mark.value} ({mark.source})")
        if touched:
            listed = sorted(touched)
            because = f"; other tools' marks: {', '.join(whose)}" if whose else ""
            findings.append(Finding(sha, "forbidden-path", ERROR,
                                    f"external-model output in a commit that adds lines under protected paths: "
                                    f"{', '.join(listed[:5])}" + (" ..." if len(listed) > 5 else "") + because,
                                    "keep AI-written lines out of these paths"))
    if group is not None and group.unmatched and rules.unmatched != "allow":
        findings.append(Finding(sha, "unmatched-lines", ERROR if rules.unmatched == "error" else NOTICE,
                                f"the hook did not match all added text: AI-Unmatched: {group.unmatched}",
                                "split the commit, or check those files by hand (`aiguard attribute` lists them)"))
    if counts and counts[1] and counts[0] / counts[1] > rules.max_ai_share:
        findings.append(Finding(sha, "ai-share-exceeded", ERROR,
                                f"AI-Lines {counts[0]}/{counts[1]} is above max-ai-share {rules.max_ai_share:g}",
                                "split the commit or write more of it yourself"))
    return findings


def gitio_path(diff: patches.FileDiff) -> str:
    return diff.path.decode("utf-8", "surrogateescape")


def load_policy(base: str | None, cwd: str | None = None) -> Policy:
    """The policy at the range's base if it has one there, else the working tree's."""
    if base and runner.rev_parse(base, cwd=cwd):
        at_base = policy.load_at(base, cwd=cwd)
        if at_base is not None:
            return at_base
    root = _work_tree(cwd)
    if root is None:  # a bare repository (a server's pre-receive hook): the policy HEAD has
        return policy.load_at("HEAD", cwd=cwd) or Policy()
    return policy.load(root)


def _work_tree(cwd: str | None) -> Path | None:
    """The work tree's root; None in a bare repository, where `git rev-parse --show-toplevel` fails."""
    top = runner.git(["rev-parse", "--show-toplevel"], cwd=cwd, check=False).strip()
    return Path(os.fsdecode(top)) if top else None


def verify(label: str, rev_args: list[str], rules: Policy, no_merges: bool = False,
           cwd: str | None = None, audit: bool = False, base: str | None = None) -> Report:
    """base: the commit whose allowed-signers file is trusted (the range's base, as for the policy)."""
    if rules.exempt_before and "-" not in rules.exempt_before:
        if not runner.rev_parse(rules.exempt_before, cwd=cwd):
            raise VerifyError(f"{rules.source}: exempt-before {rules.exempt_before!r} is not a commit here")
        rev_args = [*rev_args, "--not", rules.exempt_before]
    team, kids = team_keys()
    git_ai = notes.read_foreign(cwd)  # git-ai's and agent-trace's line records, when fetched
    run_notes = []
    if rules.exempt_authors:
        run_notes.append(f"{rules.source}: exempt-authors is no longer honoured (an author is a name anyone can "
                         "set); list verified signers in exempt-signers instead")
    findings: list[Finding] = []
    commits = []
    checked = 0
    signer_out: dict[str, str] = {}
    with signer_files(rules, base, cwd) as signers:
        if signers.note:
            run_notes.append(signers.note)
        signed_by: dict[str, str] = {}
        if rules.exempt_signers and signers.allowed:
            shas = runner.git(["rev-list", *rev_args, "--"], cwd=cwd).decode().split()
            signed_by = signing.commit_signers(shas, signers.allowed, signers.revoked, cwd=cwd)
        edges = _shallow_edges(cwd)
        for commit in iter_commits(rev_args, no_merges=no_merges and rules.exempt_merges, cwd=cwd):
            if not exempt(commit, rules, signed_by):
                if commit.sha in edges:
                    raise VerifyError(f"{commit.sha[:12]} is the edge of a shallow clone (its parents were not "
                                      "fetched), so its change, and the stamp bound to it, cannot be checked: fetch "
                                      "the full history (`git fetch --unshallow`, or fetch-depth: 0 in actions/checkout)")
                checked += 1
                own = _merge_own_lines(commit, cwd) if len(commit.parents) > 1 else None
                findings.extend(check_commit(commit, rules, team, audit, git_ai.get(commit.sha), signers,
                                             signer_out, own))
            commits.append(commit._replace(files=[]))  # the diff is done with: keep memory flat
    return Report(label, checked, findings, "checked" if team else "unchecked", kids, commits,
                  tuple(run_notes), signer_out)


def _shallow_edges(cwd: str | None) -> set[str]:
    """The commits a shallow clone shows without their parents: `git log` diffs them against
    nothing, so a genuine stamp would look copied or forged."""
    try:
        with open(os.path.join(cwd or ".", runner.git_path("shallow", cwd)), "rb") as fh:
            return set(fh.read().decode().split())
    except FileNotFoundError:
        return set()


def personal_signers(shas: Sequence[str], cwd: str | None = None) -> tuple[dict[str, str], str]:
    """commit -> principal, for the commits among `shas` whose personal stamp (v2 ssh) is bound
    to their change and verifies against the allowed-signers (and revoked-signers) file the
    policy names at HEAD; and a line saying why nothing could be checked, or "". Costs one
    `git log` over the commits and, only for commits with a personal stamp, their diff and
    one ssh-keygen run each."""
    if not shas:
        return {}, ""
    found = runner.git(["log", "--no-walk=unsorted", "--stdin", "--format=%H", "--fixed-strings",
                        f"--grep={trailers.STAMP}: v2 {stamp_format.PERSONAL} "],
                       input="".join(f"{sha}\n" for sha in shas).encode(), cwd=cwd).decode().split()
    if not found:
        return {}, ""
    head = "HEAD" if runner.rev_parse("HEAD", cwd) else None
    rules = load_policy(head, cwd)._replace(stamp_signature="any")
    out: dict[str, str] = {}
    with signer_files(rules, head, cwd) as signers:
        if signers.allowed is None:
            return {}, signers.note or (f"{len(found)} commits have personal stamps, but {_policy_name(rules)} names "
                                        "no allowed-signers file: their signers are not shown")
        for commit in iter_commits(["--no-walk=unsorted", *found], no_merges=False, cwd=cwd):
            group = trailers.read_group(commit.message)
            if group is not None and group.stamp and group.stamps == 1 and trailers.ai_counts(group.ai_lines):
                _check_stamp(commit, group, rules, None, signers, out)
    return out, ""


def _merge_own_lines(commit: Commit, cwd: str | None) -> dict[bytes, set[int]]:
    """A merge's lines that no parent has: what the merge itself added (conflict resolutions,
    evil merges); checked as any commit's lines are."""
    from aiguard.git.changes import merge_own_lines

    return merge_own_lines(commit.files, (patches.commit_diff(parent, commit.sha, cwd=cwd)
                                          for parent in commit.parents[1:]))


# Output ----------------------------------------------------------------------------------

def format_text(report: Report) -> str:
    out = []
    by_commit: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_commit.setdefault(f.commit, []).append(f)
    subjects = {c.sha: c.subject for c in report.commits}
    for sha, found in by_commit.items():
        out.append(f"{sha[:12]} {visible(subjects.get(sha, ''))}")
        for f in found:
            out.append(f"  {f.severity} {f.rule}: {visible(f.message)}")
            if f.fix:
                out.append(f"    fix: {visible(f.fix)}")
    errors = sum(f.severity == ERROR for f in report.findings)
    if report.signature == "checked":
        sig = f"signatures checked with key(s) {', '.join(report.key_ids)}"
    else:
        sig = "signatures NOT checked (no key: set AIGUARD_KEY to the team key)"
    for sha, principal in report.signers.items():
        out.append(f"{sha[:12]} stamped by {visible(principal)} (personal stamp, allowed-signers)")
    out.extend(f"note: {visible(line)}" for line in report.notes)
    out.append(f"aiguard verify {report.range}: {report.checked} commits checked, {errors} errors; {sig}")
    return "\n".join(out)


def _escape_data(text: str) -> str:
    # the runner's log is a terminal too: other control characters are shown as escapes
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(report: Report, limit: int = 10) -> str:
    lines = []
    shown = {ERROR: 0, WARNING: 0, NOTICE: 0}
    for f in report.findings:
        if shown[f.severity] >= limit:
            continue
        shown[f.severity] += 1
        title = _escape_property(f"aiguard {f.rule} {f.commit[:12]}")
        message = _escape_data(f"{f.message}" + (f". Fix: {f.fix}" if f.fix else ""))
        lines.append(f"::{f.severity} title={title}::{message}")
    lines.append(format_text(report))
    return "\n".join(lines)


def github_summary(report: Report) -> str:
    subjects = {c.sha: c.subject for c in report.commits}
    rows = ["## aiguard verify", "",
            f"{report.checked} commits checked in `{report.range}`; "
            + ("signatures checked." if report.signature == "checked" else "signatures **not** checked (no AIGUARD_KEY)."),
            ""]
    if report.findings:
        rows += ["| commit | subject | severity | rule | message |", "|---|---|---|---|---|"]
        for f in report.findings:
            cells = [f"`{f.commit[:12]}`", subjects.get(f.commit, ""), f.severity, f.rule, f.message]
            rows.append("| " + " | ".join(visible(c.replace("|", "\\|").replace("\n", " ")) for c in cells) + " |")
    else:
        rows.append("No findings.")
    return "\n".join(rows) + "\n"


def format_junit(report: Report) -> str:
    from xml.sax.saxutils import escape as xml_escape, quoteattr as xml_quoteattr

    def clean(text: str) -> str:  # characters XML 1.0 cannot hold at all
        return _XML_INVALID.sub("\ufffd", text)

    def escape(text: str) -> str:
        return xml_escape(clean(text))

    def quoteattr(text: str) -> str:
        return xml_quoteattr(clean(text))

    by_commit: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_commit.setdefault(f.commit, []).append(f)
    failures = sum(1 for found in by_commit.values() if any(f.severity == ERROR for f in found))
    cases = []
    for commit in report.commits:
        name = quoteattr(f"{commit.sha[:12]} {commit.subject}")
        body = ""
        for f in by_commit.get(commit.sha, []):
            if f.severity == ERROR:
                body += (f"<failure type={quoteattr(f.rule)} message={quoteattr(f.message)}>"
                         f"{escape(f.fix)}</failure>")
            else:
                body += f"<system-out>{escape(f'{f.severity} {f.rule}: {f.message}')}</system-out>"
        cases.append(f'  <testcase classname="aiguard.verify" name={name}>{body}</testcase>')
    stamp_time = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites><testsuite name="aiguard verify" tests="{len(report.commits)}" failures="{failures}" '
        f'errors="0" timestamp="{stamp_time}">\n' + "\n".join(cases) + "\n</testsuite></testsuites>\n"
    )


_SARIF_LEVEL = {ERROR: "error", WARNING: "warning", NOTICE: "note"}
_RULE_TEXT = {
    "missing-stamp": "A commit without an AIGuard-Stamp: the aiguard hook did not run",
    "invalid-stamp": "A stamp that is forged, copied, tampered with, or signed by an unknown or revoked key",
    "unchecked-signature": "A stamp whose signature could not be checked (no team key, no allowed-signers file)",
    "forbidden-model": "External model output where the policy forbids it",
    "external-model": "External model output (disclosed)",
    "forbidden-path": "External model output under a protected path",
    "ai-share-exceeded": "A commit's AI-Lines share is above max-ai-share",
    "unmatched-lines": "Added text the hook did not match",
    "squash-merge": "A squash merge without a stamp of its own",
}


def format_sarif(report: Report, policy_file: str = ".aiguard.toml") -> str:
    """SARIF 2.1.0 for GitHub code scanning: one result per finding. A finding is about a
    commit, so its location is the protected file it names (forbidden-path), else the policy
    file; the commit is in the message and in partialFingerprints."""
    from aiguard import __version__

    rules = sorted({f.rule for f in report.findings})
    index = {rule: i for i, rule in enumerate(rules)}
    results = []
    for f in report.findings:
        uri = policy_file
        if f.rule == "forbidden-path":
            named = f.message.split(": ", 1)[-1].split(",")[0].split(";")[0].split(" ...")[0].strip()
            uri = named or uri
        results.append({
            "ruleId": f.rule, "ruleIndex": index[f.rule], "level": _SARIF_LEVEL[f.severity],
            "message": {"text": visible(f"{f.commit[:12]}: {f.message}" + (f" Fix: {f.fix}" if f.fix else ""))},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}}}],
            "partialFingerprints": {"aiguardFinding/v1": f"{f.commit}:{f.rule}"},
            "properties": {"commit": f.commit},
        })
    run = {
        "tool": {"driver": {"name": "aiguard", "version": __version__, "informationUri": "https://example.invalid/aiguard",
                            "rules": [{"id": rule, "name": rule,
                                       "shortDescription": {"text": _RULE_TEXT.get(rule, rule)}} for rule in rules]}},
        "results": results,
        "properties": {"range": report.range, "checked": report.checked, "signature": report.signature},
    }
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": [run]}, indent=2)


def squash_trailers(report: Report) -> str:
    """One trailer block for a squash merge of the range: every Assisted-by, summed AI-Lines
    (and summed AI-Unmatched, when any commit left text unmatched)."""
    groups = [group for commit in report.commits if (group := trailers.read_group(commit.message)) is not None]
    assisted, ai, total = trailers.summed_claims(groups)
    lines_left = files_left = 0
    reasons: dict[str, int] = {}
    for group in groups:
        left = trailers.parse_unmatched(group.unmatched)
        if left:
            lines_left += left["lines"]
            files_left += left["files"]
            for reason, n in left["reasons"].items():
                reasons[reason] = reasons.get(reason, 0) + n
    lines = [f"Assisted-by: {value}" for value in assisted] + [f"AI-Lines: {ai}/{total}"]
    if files_left:
        value = trailers.format_unmatched(lines_left, files_left, reasons)
        lines.append(f"{trailers.AI_UNMATCHED}: {value}")
    return "\n".join(lines)


def write_summary(report: Report) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(Path(path), "a", encoding="utf-8") as fh:
            fh.write(github_summary(report))


def check_message_file(path: str, rules: Policy) -> list[str]:
    """Policy warnings for one commit message, before the commit exists (commit-msg hook)."""
    with open(path, "rb") as fh:
        message = fh.read()
    group = trailers.read_group(message)
    theirs = [m.value for m in foreign_marks(Commit("", [], "", "", message, []), group)]
    if group is None and not theirs:
        return []
    warnings = []
    external = [v for v in (group.all_assisted_by if group else []) + theirs
                if not policy.matches(v, rules.internal_models)]
    if external and rules.external_models == "forbid":
        warnings.append(f"forbidden-model: this repository does not allow {', '.join(external)}; CI will fail")
    if group is None:
        return warnings
    counts = trailers.ai_counts(group.ai_lines)
    if group.unmatched and rules.unmatched == "error":
        warnings.append(f"unmatched-lines: AI-Unmatched: {group.unmatched}; CI will fail")
    if counts and counts[1] and counts[0] / counts[1] > rules.max_ai_share:
        warnings.append(f"ai-share-exceeded: AI-Lines {group.ai_lines} is above {rules.max_ai_share:g}; CI will fail")
    return warnings
