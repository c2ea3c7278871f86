"""`aiguard stamp MSGFILE [SOURCE [SHA]]`: the commit hook that writes the trailers.

Runs as prepare-commit-msg (every commit, merge, cherry-pick and rebase pick, even
with --no-verify) and again as commit-msg when an editor was involved.

Message safety comes first: the only bytes that change are aiguard's own trailer
group in git's final trailer block, and only after checking that git will see it
there. Fail open: any problem leaves the message as it was, prints one line on
stderr and lets the commit through.

Keeping an aborted commit aborted: when git is about to open an editor on a
message that has no content yet (a plain `git commit`, a template), trailers
written now would survive the user quitting without writing, and git would
commit them instead of aborting. So the prepare-commit-msg run leaves such a
message alone, and the commit-msg run (after the editor) stamps it, or, when the
user left it empty or the template untouched, takes aiguard's trailers out again
so that git aborts as it would have.

Stdlib only on this path: no click, GitPython or keyring unless the keys live in
the OS keyring.
"""

from __future__ import annotations

import os
import sys

from aiguard.core import trailers
from aiguard.core.digests import sha256
from aiguard.git import patches, runner
from aiguard.core.trailers import Cleanup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence
    from aiguard.git import carry as carry_mod
    from aiguard.git import objects

PREPARE = "prepare-commit-msg"
COMMIT_MSG = "commit-msg"
USAGE = "usage: aiguard stamp [--stage prepare-commit-msg|commit-msg] MSGFILE [SOURCE [SHA]]"

# `git commit`'s options (git 2.39-2.5x). git accepts any unique prefix of a long
# option, so the command line is matched against the whole list.
_SHORT_WITH_VALUE = set("mFCct")
_SHORT_WITH_ATTACHED_VALUE = set("uS")  # -uno, -S<keyid>: the rest of the word is the value
_LONG_WITH_VALUE = {
    "message", "file", "reuse-message", "reedit-message", "template", "author", "date",
    "cleanup", "fixup", "squash", "trailer", "pathspec-from-file",
}
_LONG_FLAGS = {
    "all", "patch", "reset-author", "short", "branch", "ahead-behind", "porcelain", "long",
    "null", "signoff", "no-signoff", "verify", "no-verify", "allow-empty", "allow-empty-message",
    "edit", "no-edit", "amend", "no-amend", "no-post-rewrite", "include", "only",
    "pathspec-file-nul", "untracked-files", "verbose", "quiet", "dry-run", "status", "no-status",
    "gpg-sign", "no-gpg-sign", "interactive", "no-reuse-message", "no-template",
}
_LONG = _LONG_WITH_VALUE | _LONG_FLAGS


def _long_option(name: str) -> str | None:
    """The git commit option a (possibly abbreviated) long option names."""
    if name in _LONG:
        return name
    matches = [option for option in _LONG if option.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def main(argv: Sequence[str], caller: int | None = None) -> int:
    """The hook command. caller: the pid of the process git ran the hook from, when that is not
    this process's parent (the hook server's child runs it on the hook's behalf)."""
    args = list(argv)
    stage = PREPARE
    if args[:1] == ["--stage"] and len(args) >= 2:
        stage, args = args[1], args[2:]
    elif args and args[0].startswith("--stage="):
        stage, args = args[0].split("=", 1)[1], args[1:]
    if stage not in (PREPARE, COMMIT_MSG) or not 1 <= len(args) <= 3:
        print(USAGE, file=sys.stderr)
        return 2
    if os.environ.get("AIGUARD_DISABLE", "") not in ("", "0"):
        return 0
    if stage == COMMIT_MSG and os.environ.get("GIT_EDITOR") == ":":
        return 0  # no editor ran: the message is as prepare-commit-msg stamped it
    msgfile = args[0]
    source = args[1] if len(args) > 1 else os.environ.get("PRE_COMMIT_COMMIT_MSG_SOURCE") or None
    sha = args[2] if len(args) > 2 else os.environ.get("PRE_COMMIT_COMMIT_OBJECT_NAME") or None
    if stage == COMMIT_MSG:
        source = sha = None
    try:
        warning = stamp_message_file(msgfile, source, sha, stage, caller)
    except Exception as exc:  # fail open, whatever went wrong
        warning = f"commit not stamped: {exc.__class__.__name__}: {exc}"
    if warning:
        print(f"aiguard: {warning}", file=sys.stderr)
    return 0


class GitCommitArgs:
    """What the `git commit` command line says, read from /proc where there is one."""

    def __init__(self) -> None:
        self.found = False
        self.cleanup: str | None = None
        self.amend = False
        self.no_verify = False


def _ancestor_git_commit(caller: int | None = None) -> GitCommitArgs:
    """The `git commit` among the hook's ancestors, from `caller` (default: our parent) up."""
    result = GitCommitArgs()
    if not os.path.isdir("/proc/self"):
        return result
    pid = caller or os.getppid()
    for _ in range(8):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = [a.decode("utf-8", "surrogateescape") for a in fh.read().split(b"\0")[:-1]]
            with open(f"/proc/{pid}/stat", "rb") as fh:
                parent = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return result
        if argv and os.path.basename(argv[0]) in ("git", "git.exe"):
            _parse_git_argv(argv[1:], result)
            return result
        if pid <= 1:
            return result
        pid = parent
    return result


def _parse_git_argv(argv: list[str], result: GitCommitArgs) -> None:
    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # global options: -c k=v, -C dir, --git-dir=...
        i += 2 if argv[i] in ("-c", "-C", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(argv) or argv[i] != "commit":
        return
    result.found = True
    i += 1
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            option = _long_option(name)
            if option == "cleanup":
                if not has_value and i < len(argv):
                    value, i = argv[i], i + 1
                result.cleanup = value
            elif option in ("amend", "no-amend"):
                result.amend = option == "amend"
            elif option in ("no-verify", "verify"):
                result.no_verify = option == "no-verify"
            elif option in _LONG_WITH_VALUE and not has_value:
                i += 1
        elif arg.startswith("-") and len(arg) > 1:
            for pos, char in enumerate(arg[1:], 1):
                if char in _SHORT_WITH_ATTACHED_VALUE:
                    break
                if char == "n":
                    result.no_verify = True
                if char in _SHORT_WITH_VALUE:
                    if pos == len(arg) - 1:
                        i += 1
                    break


def _is_amend(source: str | None, sha: str | None, cli: GitCommitArgs) -> bool:
    if cli.found:
        return cli.amend
    action = os.environ.get("GIT_REFLOG_ACTION", "")
    if any(word in action for word in ("(reword)", "(squash)", "(fixup)", "amend")):
        return True
    if source == "message" and _rebase_step_amends():
        return True
    return source == "commit" and sha == "HEAD"


def _rebase_step_amends() -> bool:
    """Inside `rebase -i`, a fixup or squash step amends the commit before it.

    git runs those in-process, with no command line or environment that says so;
    the step being done is the last line of rebase-merge/done.
    """
    try:
        with open(runner.state_path("rebase-merge/done"), "rb") as fh:
            lines = [line.split() for line in fh.read().splitlines() if line.strip()]
    except (OSError, runner.GitError):
        return False
    return bool(lines) and lines[-1][0] in (b"fixup", b"f", b"squash", b"s")


def _cleanup_mode(cfg: dict[str, bytes], cli: GitCommitArgs, editor: bool) -> str:
    mode = (cli.cleanup or cfg.get("commit.cleanup", b"default").decode("ascii", "replace")).lower()
    if mode == "default":
        mode = "strip" if editor else "whitespace"
    return mode


WHITESPACE_ONLY = ("commit not stamped: its message is whitespace only, which --cleanup=verbatim keeps;"
                   " git reads no trailers without a subject line")


def _kept_blank(msg: bytes, cleanup: Cleanup, mode: str) -> bool:
    """A message git commits although it has no content: --cleanup=verbatim keeps whitespace."""
    return mode == "verbatim" and trailers.strip_own(msg, cleanup) != b"" and not trailers.has_content(msg, cleanup)


def _final_message(msg: bytes, cleanup: Cleanup) -> bytes:
    """Roughly what git stores after its cleanup, enough to read the trailers back."""
    lines = trailers.split_lines(msg)
    scissors = trailers.find_scissors(lines, cleanup.comment)  # cut even in verbatim mode with -v
    if scissors is not None:
        lines = lines[:scissors]
    if cleanup.comment is not None:
        lines = [line for line in lines if not line.startswith(cleanup.comment)]
    return b"".join(lines)


def _template_digest(msg: bytes, cleanup: Cleanup) -> str:
    lines = trailers.split_lines(trailers.strip_own(msg, cleanup))
    lines = lines[: trailers.content_end(lines, cleanup.comment)]
    kept = [line.strip() for line in lines if cleanup.comment is None or not line.startswith(cleanup.comment)]
    return sha256(b"\n".join(line for line in kept if line)).hexdigest()


def _template_marker() -> str:
    return runner.state_path("aiguard-template")


def stamp_message_file(msgfile: str, source: str | None, sha: str | None, stage: str,
                       caller: int | None = None) -> str | None:
    """Stamp the message file in place; returns a warning line, or None."""
    with open(msgfile, "rb") as fh:
        msg = fh.read()
    editor = os.environ.get("GIT_EDITOR") != ":"
    # `git commit -m` and the run after the editor stamp at once: start their git calls
    # now, side by side with the config read (they are dropped if not needed). The blob
    # reader reads the index's blobs, whatever the diff's base turns out to be.
    # The hook script may have started the first three already, while Python started.
    piped = runner.take_early(patches.STAGED_DIFF_ARGS)
    early = None
    if stage == COMMIT_MSG or not editor:
        from aiguard.git import objects

        config: runner.Started
        head: runner.Started
        diff: runner.Started
        if piped is not None:
            config, head, diff = piped
        else:
            config = runner.start_config()  # needed first
            head, diff = runner.start_head(), patches.start_staged_diff()
        reader = objects.BlobReader()
        reader.start()
        early = Early(head, diff, reader, config)
    elif piped is not None:
        for started in piped:
            started.cancel()
    try:
        return _stamp_message(msgfile, msg, editor, source, sha, stage, early, caller)
    finally:
        if early is not None:
            early.head.cancel()
            early.diff.cancel()
            early.config.cancel()
            early.reader.close()


class Early:
    """The git processes a stamp starts before it knows it needs them."""

    def __init__(self, head: runner.Started, diff: runner.Started, reader: objects.BlobReader,
                 config: runner.Started) -> None:
        self.head, self.diff, self.reader, self.config = head, diff, reader, config


def _stamp_message(msgfile: str, msg: bytes, editor: bool, source: str | None, sha: str | None, stage: str,
                   early: Early | None, caller: int | None) -> str | None:
    cfg = runner.config(started=early.config if early else None)
    cli = _ancestor_git_commit(caller)
    mode = _cleanup_mode(cfg, cli, editor)
    configured = cfg.get("core.commentstring") or cfg.get("core.commentchar")
    comment = trailers.effective_comment(configured, msg)
    cleanup = Cleanup(comment if mode == "strip" else None)

    if stage == COMMIT_MSG:
        untouched = False
        marker = _template_marker()
        if os.path.exists(marker):
            with open(marker) as fh:
                untouched = fh.read().strip() == _template_digest(msg, cleanup)
            os.unlink(marker)
        if untouched or not trailers.has_content(msg, cleanup):
            stripped = trailers.strip_own(msg, cleanup)
            if stripped != msg:
                _write(msgfile, stripped)
            if not untouched and _kept_blank(msg, cleanup, mode):
                return WHITESPACE_ONLY
            return None  # git aborts the commit, as it would have without aiguard
    elif editor and (source == "template" or not trailers.has_content(msg, cleanup)):
        if cli.no_verify:
            return "commit not stamped: --no-verify skips the commit-msg hook that stamps messages written in the editor"
        if source == "template":
            with open(_template_marker(), "w") as fh:
                fh.write(_template_digest(msg, cleanup) + "\n")
        return None  # the message is written in the editor; the commit-msg run stamps it
    elif not trailers.has_content(msg, cleanup):
        if _kept_blank(msg, cleanup, mode):
            return WHITESPACE_ONLY
        return None  # an empty message: git aborts, or commits it empty as asked

    return _stamp(msgfile, msg, cleanup, source, sha, cli, configured, early, cfg)


def _stamp(msgfile: str, msg: bytes, cleanup: Cleanup, source: str | None, sha: str | None,
           cli: GitCommitArgs, configured: bytes | None,
           early: Early | None = None, cfg: dict[str, bytes] | None = None) -> str | None:
    from aiguard.git import carry

    head = runner.head_commit(started=early.head if early else None)  # first: it learns the git dir
    amend = _is_amend(source, sha, cli)
    prefetch = carry.Prefetch(amend)  # the earlier commits' records, asked now, read after matching
    try:
        return _stamp_change(msgfile, msg, cleanup, cli, configured, early, cfg, head, amend, prefetch)
    finally:
        prefetch.cancel()


def _stamp_change(msgfile: str, msg: bytes, cleanup: Cleanup, cli: GitCommitArgs, configured: bytes | None,
                  early: Early | None, cfg: dict[str, bytes] | None, head: str | None, amend: bool,
                  prefetch: carry_mod.Prefetch) -> str | None:
    from aiguard.core import names, stamp_format
    from aiguard.git.changes import merge_own_lines, unmatched_value
    from aiguard.store import keys
    from aiguard.store.ledger import LedgerError
    from aiguard.store.session import Session

    early_diff = early.diff if early else None
    if amend and head:
        base = runner.rev_parse("HEAD^") or runner.empty_tree()
        others = runner.parents(head)[1:]  # amending a merge: still only its own lines
        early_diff = None  # that one was against HEAD
    else:
        base = head or runner.empty_tree()
        others = runner.merge_heads()
    files = patches.staged_diff(base, started=early_diff)
    restrict = merge_own_lines(files, (patches.staged_diff(h) for h in others)) if others else None

    try:
        keyset = keys.load(create=True)
    except keys.KeyUnavailable as exc:
        return f"commit not stamped: {exc}"
    try:
        session = Session(keyset)
    except LedgerError as exc:
        return f"commit not stamped: {exc}"
    with session:
        result = session.attribute(files, restrict, reader=early.reader if early else None)
    try:
        result = _carry(result, files, restrict, prefetch, early.reader if early else None)
    except Exception as exc:  # the stamp still goes on, with what the ledger says
        result = result._replace(notes=[*result.notes, f"earlier line record not carried ({exc})"])

    existing = trailers.parse_trailers(trailers.strip_own(msg, cleanup), cleanup.comment)
    theirs = {value.lower() for key, value in existing if key.lower() == trailers.ASSISTED_BY.lower()}
    # A ledger from before the name charset may hold a name with a newline or an escape: never in a trailer.
    ours = [value for value in dict.fromkeys(names.assisted_value(v) for v in result.assisted_by)
            if value.lower() not in theirs]  # never repeat the author's
    ai_lines = f"{result.ai}/{result.added}"
    unmatched = unmatched_value(result.unmatched)
    change = stamp_format.change_digest(files)
    if (cfg or {}).get("aiguard.signing", b"").strip().lower() == b"ssh":
        # A personal stamp: signed with the key git signs with, so the claims name their maker.
        from aiguard.git import signing
        bound = stamp_format.binding(change, ours, ai_lines, unmatched)
        try:
            signature = signing.sign(stamp_format.signed_message(bound), stamp_format.SSH_NAMESPACE, cfg or {})
        except signing.SigningError as exc:
            return f"commit not stamped: {exc}"
        value = stamp_format.make_personal(bound, len(ours), signature)
    else:
        kid, key = keyset.signing_key()
        value = stamp_format.make(change, ours, ai_lines, kid, key, unmatched)
    group = ([(trailers.ASSISTED_BY, v) for v in ours] + [(trailers.AI_LINES, ai_lines)]
             + ([(trailers.AI_UNMATCHED, unmatched)] if unmatched else []) + [(trailers.STAMP, value)])
    new = trailers.apply(msg, group, cleanup)

    # Read it back as git log will: the whole group must be in the final trailer block.
    final = _final_message(new, cleanup)
    reading = configured if configured and configured != b"auto" else b"#"  # git log sees auto as #
    seen = [f"{k}: {v}" for k, v in trailers.parse_trailers(final, reading)]
    expected = [f"{k}: {v}" for k, v in group]
    if not any(seen[i:i + len(expected)] == expected for i in range(len(seen))):
        return "commit not stamped: could not place the trailers where git would read them"
    # Everything that can fail comes before the message is written, so that a
    # "not stamped" warning is never printed for a message that is stamped.
    record = None
    record_error = None
    if result.ai:
        # The line-level record: post-commit files it as a git note (see aiguard.git.pending).
        from aiguard.core import note_format
        try:
            record = note_format.encode(result.added, result.spans())
        except Exception as exc:  # the stamp goes on; the warning says what was lost
            record_error = f"{exc.__class__.__name__}: {exc}"
    from aiguard.git import pending
    try:
        if record is not None:
            # Before the message: post-commit reads the stamp from COMMIT_EDITMSG only when
            # that file is as new as the record (else it asks git log).
            pending.save_pending(value, record)  # and sweeps the records post-commit consumed
    except Exception as exc:
        record_error = f"{exc.__class__.__name__}: {exc}"
    else:
        if record is None:
            pending.sweep()  # one failed listdir, until a commit has AI lines
    if new != msg:
        _write(msgfile, new)
    elif record is not None:
        os.utime(msgfile)  # stamped as it was (commit-msg after prepare-commit-msg): as new as the record
    if record_error is not None:
        return f"commit stamped, but its line record was not kept ({record_error})"
    note = "; ".join(result.notes)
    return note or None


def _carry(result, files: list, restrict: dict[bytes, set[int]] | None, prefetch: carry_mod.Prefetch,
           reader: objects.BlobReader | None):
    """Add the lines an amended, cherry-picked, rebased or squashed commit had on record.

    The ledger may not know them (another machine's, pruned, another author's), and
    a history edit must not drop a disclosure; lines found afresh keep their owner.
    prefetch: carry.Prefetch, started before the attribution; reader: the running blob
    reader, if any (else one is started here when there are records to read).
    """
    from aiguard.core.note_format import to_lines, to_spans
    from aiguard.git import carry, objects
    from aiguard.git.changes import ChangeResult, FileResult

    sources = prefetch.sources
    behind = prefetch.behind()
    if not sources and not behind:
        return result
    with objects.reading(reader) as blob_reader:  # one reader for the notes and the blobs
        records = prefetch.records([*sources, *behind], blob_reader)
        carried = carry.carry_into(files, records, weak=set(behind) - set(sources), reader=blob_reader) \
            if records else {}
    if not carried:
        return result
    merged = []
    ai_total = 0
    for f in result.files:
        lines = to_lines(f.ranges)
        allowed = restrict.get(f.path.encode("utf-8", "surrogateescape")) if restrict is not None else None
        for line, span in to_lines(carried.get(f.path, [])).items():
            if allowed is None or line in allowed:
                lines.setdefault(line, span)
        ranges = to_spans(lines)
        ai_total += len(lines)
        merged.append(FileResult(f.path, f.added, len(lines), ranges))
    return ChangeResult(result.added, ai_total, merged, result.notes, result.unmatched)


def _write(path: str, data: bytes) -> None:
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.aiguard-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:  # a full disk, a message file that cannot be replaced: no copy left in .git
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
