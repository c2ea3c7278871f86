"""Thin wrappers over the `git` command: each question is one call with fixed flags.

Stdlib only (the commit hook imports this). Calls inherit the environment, so
inside a hook they honour GIT_INDEX_FILE (`commit -a`, `commit <paths>`),
GIT_DIR and GIT_WORK_TREE. Flags are pinned so that user configuration
(diff.algorithm, diff.noprefix, color.ui, diff.external, core.quotePath,
diff.relative, ...) cannot change what aiguard reads: the stamp's change digest
must come out the same on the developer's machine and in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Iterable, Iterator, NamedTuple, Sequence


class GitError(Exception):
    """A git command failed; the message names the command and git's first complaint."""


# One definition of "the change", shared by the hook and by verification.
# --text: whether git calls a file binary depends on .gitattributes as checked out,
# which may differ between the commit and a later verification; aiguard decides by
# content instead (a NUL byte in an added line), the same way everywhere.
DIFF_FLAGS = (
    "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--full-index", "--text",
    "-U0", "--inter-hunk-context=0", "--diff-algorithm=myers", "--no-indent-heuristic",
    "--src-prefix=a/", "--dst-prefix=b/", "--ignore-submodules=none", "--submodule=short",
)
GIT = ("git", "-c", "core.quotePath=false", "-c", "diff.relative=false")


def _failed(args: Sequence[str], code: int, stderr: bytes) -> GitError:
    """The error for a git command that exited non-zero: its first complaint, or the exit code."""
    complaint = stderr.decode("utf-8", "replace").strip().splitlines()
    return GitError(f"git {args[0]} failed: {complaint[0] if complaint else f'exit {code}'}")


def git(args: Sequence[str], input: bytes | None = None, cwd: str | None = None, check: bool = True) -> bytes:
    try:
        done = subprocess.run(
            [*GIT, *args], input=input, capture_output=True, cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        raise _failed(args, done.returncode, done.stderr)
    return done.stdout


def stream_records(args: Sequence[str], mark: bytes, cwd: str | None = None,
                   input: bytes | None = None) -> Iterator[bytes]:
    """Run git and yield its output split on `mark`, as it streams (for `git log` over long
    ranges: nothing holds the whole output). Empty records are dropped; GitError on failure."""
    try:
        proc = subprocess.Popen([*GIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    assert proc.stdout is not None
    if input is not None:
        assert proc.stdin is not None
        proc.stdin.write(input)
        proc.stdin.close()
    pending = b""
    while True:
        chunk = proc.stdout.read(1 << 20)
        if chunk:
            pending += chunk
        records = pending.split(mark)
        pending = records.pop() if chunk else b""
        for record in records:
            if record.strip(b"\0\n"):
                yield record
        if not chunk:
            break
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise _failed(args, proc.returncode, err)


def rev_parse(rev: str, cwd: str | None = None) -> str | None:
    """Full object name of a commit, or None when it does not exist (unborn HEAD)."""
    out = subprocess.run(
        [*GIT, "rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"],
        capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL,
    )
    return out.stdout.decode().strip() or None if out.returncode == 0 else None


_HEAD_ARGS = ("rev-parse", "--absolute-git-dir", "-q", "--verify", "--end-of-options", "HEAD^{commit}")


def head_commit(cwd: str | None = None, started: "Started | None" = None) -> str | None:
    """HEAD's commit (None when unborn), learning the git dir for state_path in the same call.

    `started`: the same command, started earlier with start_head().
    """
    code, out, _err = (started or Started(_HEAD_ARGS, cwd)).result()
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if not lines:
        return None  # not a repository: state_path will say so if it is asked
    _GIT_DIRS.setdefault(_git_dir_key(cwd), lines[0])
    return lines[1].strip() or None if code == 0 and len(lines) > 1 else None


def start_head(cwd: str | None = None) -> "Started":
    return Started(_HEAD_ARGS, cwd)


class Started:
    """A git command running in the background: started early, read when needed.

    Lets the commit hook run its first git calls at once instead of one after another.
    """

    def __init__(self, args: Sequence[str], cwd: str | None = None):
        self.args = tuple(args)
        self._result: tuple[int, bytes, bytes] | None = None
        try:
            self.proc: subprocess.Popen | None = subprocess.Popen(
                [*GIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd)
        except FileNotFoundError:
            self.proc = None

    def result(self) -> tuple[int, bytes, bytes]:
        if self.proc is None:
            raise GitError("git is not installed or not on PATH")
        if self._result is None:
            out, err = self.proc.communicate()
            self._result = (self.proc.returncode, out, err)
        return self._result

    def output(self) -> bytes:
        """stdout, as git() returns it (GitError on failure)."""
        code, out, err = self.result()
        if code != 0:
            raise _failed(self.args, code, err)
        return out

    def cancel(self) -> None:
        """Stop it if it still runs (its answer was not needed) and reap it."""
        if self.proc is None or self._result is not None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        self._result = (self.proc.returncode, b"", b"")


def parents(commit: str, cwd: str | None = None) -> list[str]:
    return git(["rev-list", "--parents", "-n", "1", commit, "--"], cwd=cwd).decode().split()[1:]


def git_path(name: str, cwd: str | None = None) -> str:
    """Path of a file in the git directory (honours worktrees and core.hooksPath for `hooks`)."""
    return git(["rev-parse", "--git-path", name], cwd=cwd).decode().strip()


_GIT_DIRS: dict[tuple[str, str | None], str] = {}


def state_path(name: str, cwd: str | None = None) -> str:
    """Absolute path of a per-worktree state file (MERGE_HEAD, CHERRY_PICK_HEAD,
    rebase-merge/done, ...): one `git rev-parse` per process instead of one per file."""
    key = _git_dir_key(cwd)
    base = _GIT_DIRS.get(key)
    if base is None:
        base = _GIT_DIRS[key] = git(["rev-parse", "--absolute-git-dir"], cwd=cwd).decode().strip()
    return os.path.join(base, name)


def _git_dir_key(cwd: str | None) -> tuple[str, str | None]:
    return os.path.abspath(cwd or "."), os.environ.get("GIT_DIR")


def config(cwd: str | None = None) -> dict[str, bytes]:
    """All effective configuration, last value wins, keys lower-cased as git prints them."""
    out = git(["config", "-z", "--list"], cwd=cwd, check=False)
    values: dict[str, bytes] = {}
    for item in out.split(b"\0"):
        if item:
            key, _, value = item.partition(b"\n")
            values[key.decode("utf-8", "replace")] = value
    return values


def empty_tree(cwd: str | None = None) -> str:
    return git(["hash-object", "-t", "tree", "--stdin"], input=b"", cwd=cwd).decode().strip()


class FileDiff(NamedTuple):
    path: bytes
    new_oid: str | None  # None when the file was deleted
    binary: bool
    added: list[int]  # 1-based line numbers in the new version
    changes: list[bytes]  # the -/+ lines (and "\ No newline" marks) in diff order


_HUNK_RE = re.compile(rb"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_patch(patch: bytes) -> list[FileDiff]:
    """Parse `git diff -U0 --full-index` output (as DIFF_FLAGS make it) into files."""
    files: list[FileDiff] = []
    current: dict | None = None
    old_left = new_left = 0
    new_line = 0

    def finish() -> None:
        if current is not None:
            files.append(FileDiff(current["path"], current["oid"], current["binary"], current["added"], current["changes"]))

    for line in patch.split(b"\n"):
        if old_left or new_left:
            if line.startswith(b"+"):
                current["added"].append(new_line)
                current["changes"].append(line)
                if b"\0" in line:
                    current["binary"] = True
                new_line += 1
                new_left -= 1
            elif line.startswith(b"-"):
                current["changes"].append(line)
                old_left -= 1
            elif line.startswith(b"\\"):
                current["changes"].append(line)
            elif line.startswith(b" "):  # context (only with diff.interHunkContext outside DIFF_FLAGS)
                new_line += 1
                old_left -= 1
                new_left -= 1
            continue
        if line.startswith(b"diff --git "):
            finish()
            current = {"path": _header_path(line[11:]), "oid": None, "binary": False, "added": [], "changes": []}
        elif current is None:
            continue
        elif line.startswith(b"@@ "):
            match = _HUNK_RE.match(line)
            if match:
                old_left = int(match.group(1)) if match.group(1) is not None else 1
                new_line = int(match.group(2))
                new_left = int(match.group(3)) if match.group(3) is not None else 1
                if new_left == 0:
                    new_line += 1
        elif line.startswith(b"\\"):
            current["changes"].append(line)  # "\ No newline at end of file" after a hunk's last line
        elif line.startswith(b"index "):
            fields = line[6:].split(b" ")
            oids = fields[0].split(b"..")
            if len(oids) == 2 and oids[1].strip(b"0"):
                current["oid"] = oids[1].decode()
            if fields[1:2] == [b"160000"]:
                current["binary"] = True  # a submodule: its "lines" are commit ids, not text
        elif line.startswith((b"new file mode 160000", b"deleted file mode 160000")):
            current["binary"] = True
        elif line.startswith(b"Binary files ") or line == b"GIT binary patch":
            current["binary"] = True
    finish()
    return files


def _header_path(rest: bytes) -> bytes:
    """The path from `a/P b/P` (no renames, so both halves are equal), unquoting C-style quotes."""
    if rest.startswith(b'"'):
        first, _ = _unquote(rest)
        return first[2:]
    half = (len(rest) - 3) // 2
    return rest[2:half + 1] if rest[half + 1:half + 4] == b" b/" else rest[2:].split(b" b/", 1)[0]


_ESCAPES = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
            ord("f"): 12, ord("r"): 13, ord("v"): 11}


def _unquote(text: bytes) -> tuple[bytes, bytes]:
    """Decode one C-quoted string at the start of text; returns it and the rest."""
    out = bytearray()
    i = 1
    while i < len(text) and text[i] != 34:
        c = text[i]
        if c == 92 and i + 1 < len(text):
            nxt = text[i + 1]
            if 48 <= nxt <= 55:
                out.append(int(text[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out), text[i + 1:]


def staged_diff(base: str | None, cwd: str | None = None, started: Started | None = None) -> list[FileDiff]:
    """The staged change against `base` (a commit or tree); None means against HEAD/empty.

    `started`: start_staged_diff(), started earlier (against HEAD/empty).
    """
    if started is not None:
        return parse_patch(started.output())
    args = ["diff", "--cached", *DIFF_FLAGS]
    if base:
        args.append(base)
    return parse_patch(git(args, cwd=cwd))


def start_staged_diff(cwd: str | None = None) -> Started:
    """`git diff --cached` against HEAD (the empty tree when unborn), in the background."""
    return Started(["diff", "--cached", *DIFF_FLAGS], cwd)


def commit_diff(parent: str | None, commit: str, cwd: str | None = None) -> list[FileDiff]:
    """The change a commit made against its first parent (or the empty tree)."""
    base = parent or empty_tree(cwd)
    return parse_patch(git(["diff", *DIFF_FLAGS, base, commit, "--"], cwd=cwd))


def read_blobs(oids: Iterable[str], cwd: str | None = None) -> dict[str, bytes]:
    """Contents of blobs, in one `git cat-file --batch` call."""
    oids = list(dict.fromkeys(oids))
    if not oids:
        return {}
    out = git(["cat-file", "--batch"], input="".join(f"{oid}\n" for oid in oids).encode(), cwd=cwd)
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in oids:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        blobs[oid] = out[pos:pos + size]
        pos += size + 1
    return blobs


def blob_sizes(oids: Iterable[str], cwd: str | None = None) -> dict[str, int]:
    oids = list(dict.fromkeys(oids))
    if not oids:
        return {}
    out = git(["cat-file", "--batch-check"], input="".join(f"{oid}\n" for oid in oids).encode(), cwd=cwd)
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    return sizes


def toplevel(cwd: str | None = None) -> str:
    return git(["rev-parse", "--show-toplevel"], cwd=cwd).decode().strip()


def in_repo(cwd: str | None = None) -> bool:
    return subprocess.run(
        [*GIT, "rev-parse", "--git-dir"], capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL
    ).returncode == 0


def merge_heads(cwd: str | None = None) -> list[str]:
    """Commits being merged in (MERGE_HEAD), when a merge is being concluded."""
    try:
        with open(state_path("MERGE_HEAD", cwd), "rb") as fh:
            return [line.decode().strip() for line in fh if line.strip()]
    except OSError:
        return []


class _Session:
    """One long-lived git process fed on stdin, started on first use (see its subclasses)."""

    args: tuple[str, ...] = ()

    def __init__(self, cwd: str | None = None):
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def _pipes(self) -> tuple:
        """(stdin, stdout) of the running process, started if need be."""
        if self.proc is None:
            try:
                self.proc = subprocess.Popen([*GIT, *self.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, cwd=self.cwd)
            except FileNotFoundError:
                raise GitError("git is not installed or not on PATH") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc.wait()
            self.proc = None


class BlobReader(_Session):
    """Blobs read one at a time through one long-lived `git cat-file --batch`."""

    args = ("cat-file", "--batch")

    def read(self, oid: str) -> bytes | None:
        stdin, stdout = self._pipes()
        stdin.write(f"{oid}\n".encode())
        stdin.flush()
        header = stdout.readline().split()
        if len(header) < 3:
            return None  # "<oid> missing" (or git went away)
        data = stdout.read(int(header[2]) + 1)
        return data[:-1]


_RENAME_DIFF = (*(f for f in DIFF_FLAGS if f != "--no-renames"), "-M")
_END = b"aiguard-end-of-commit"


def added_ranges(parent: str | None, commit: str, cwd: str | None = None) -> dict[bytes, list[tuple[int, int]]]:
    """Per path (as of `commit`), the line ranges the commit added against its first parent,
    with git's rename detection (`-M`): a moved file's unchanged lines are not added."""
    base = parent or empty_tree(cwd)
    return _added_from_patch(git(["diff", *_RENAME_DIFF, base, commit, "--"], cwd=cwd).split(b"\n"))


class AddedLines(_Session):
    """added_ranges for many commits through one long-lived `git diff-tree --stdin` (a commit
    with one parent or none; a merge gets its own `git diff` against its first parent)."""

    args = ("diff-tree", "--stdin", "--root", "-p", *_RENAME_DIFF)

    def of(self, commit: str, parents: Sequence[str]) -> dict[bytes, list[tuple[int, int]]]:
        if len(parents) > 1:
            return added_ranges(parents[0], commit, self.cwd)
        stdin, stdout = self._pipes()
        # diff-tree echoes (and flushes) a line that is not a commit: it marks the diff's end
        stdin.write(commit.encode() + b"\n" + _END + b"\n")
        stdin.flush()
        lines = []
        while True:
            line = stdout.readline()
            if not line:
                raise GitError(f"git diff-tree failed on {commit}")
            if line == _END + b"\n":
                break
            lines.append(line[:-1])
        return _added_from_patch(lines)


def _added_from_patch(lines: Iterable[bytes]) -> dict[bytes, list[tuple[int, int]]]:
    """Per new path, the (start, end) line ranges of a -U0 patch's hunks."""
    ranges: dict[bytes, list[tuple[int, int]]] = {}
    path: bytes | None = None
    old_left = new_left = 0
    for line in lines:
        if old_left or new_left:  # a hunk's own lines: skipped by count, whatever they start with
            if line.startswith(b"+"):
                new_left -= 1
            elif line.startswith(b"-"):
                old_left -= 1
            continue
        if line.startswith(b"diff --git "):
            path = None
        elif line.startswith(b"+++ "):
            rest = line[4:]
            # git ends the name with a tab when it holds a space
            name = _unquote(rest)[0] if rest.startswith(b'"') else rest.removesuffix(b"\t")
            path = name[2:] if name.startswith(b"b/") else None  # /dev/null: a deleted file
        elif line.startswith(b"@@ ") and path is not None:
            match = _HUNK_RE.match(line)
            if match:
                old_left = int(match.group(1)) if match.group(1) is not None else 1
                start = int(match.group(2))
                new_left = int(match.group(3)) if match.group(3) is not None else 1
                if new_left:
                    ranges.setdefault(path, []).append((start, start + new_left - 1))
    return ranges
