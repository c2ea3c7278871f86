"""What a change adds, read from git's patches: the staged change, a commit's change, and
the line ranges each commit added.

The diff flags are one definition of "the change", shared by the hook and by verification.
"""

from __future__ import annotations

from aiguard.git.runner import GitError, Session, Started, empty_tree, git
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence

# One definition of "the change", shared by the hook and by verification.
# --text: whether git calls a file binary depends on .gitattributes as checked out,
# which may differ between the commit and a later verification; aiguard decides by
# content instead (a NUL byte in an added line), the same way everywhere.
DIFF_FLAGS = (
    "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--full-index", "--text",
    "-U0", "--inter-hunk-context=0", "--diff-algorithm=myers", "--no-indent-heuristic",
    "--src-prefix=a/", "--dst-prefix=b/", "--ignore-submodules=none", "--submodule=short",
)


class FileDiff(NamedTuple):
    path: bytes
    new_oid: str | None  # None when the file was deleted
    binary: bool
    added: list[int]  # 1-based line numbers in the new version
    changes: list[bytes]  # the -/+ lines (and "\ No newline" marks) in diff order
    old_mode: str = ""  # "100644", "100755", "120000", "160000"; "" when the file is new
    new_mode: str = ""  # "" when the file was deleted


def hunk_header(line: bytes) -> tuple[int, int, int] | None:
    """(old count, new start, new count) of a `@@ -a[,b] +c[,d] @@` line (a count left out is 1),
    or None. Parsed by hand: re would cost every commit ~4 ms of imports."""
    if not line.startswith(b"@@ -"):
        return None
    old, found, rest = line[4:].partition(b" +")
    new, found_end, _ = rest.partition(b" @@")
    if not (found and found_end):
        return None
    old_start, old_comma, old_count = old.partition(b",")
    new_start, new_comma, new_count = new.partition(b",")
    # bytes.isdigit() is true for ASCII digits only, as re's \d is for bytes
    if not (old_start.isdigit() and new_start.isdigit() and (not old_comma or old_count.isdigit())
            and (not new_comma or new_count.isdigit())):
        return None
    return int(old_count) if old_comma else 1, int(new_start), int(new_count) if new_comma else 1


def parse_patch(patch: bytes, bulk: bool = True) -> list[FileDiff]:
    """Parse `git diff -U0 --full-index` output (as DIFF_FLAGS make it) into files.
    bulk=False reads every line one by one (the reference the bulk step is tested against)."""
    files: list[FileDiff] = []
    current: Any = None  # the file being read (a dict), None before the first `diff --git`
    old_left = new_left = 0
    new_line = 0

    def finish() -> None:
        if current is not None:
            files.append(FileDiff(current["path"], current["oid"], current["binary"], current["added"], current["changes"],
                                  current["old_mode"], current["new_mode"]))

    lines = patch.split(b"\n")
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        if bulk and new_left and not old_left:
            # A hunk's added lines, in one step when they are all there is (a new file, an
            # insertion: most of a big change's text): no "\ No newline" among them.
            block = lines[at - 1:at - 1 + new_left]
            joined = b"\n".join(block)
            if len(block) == new_left and joined[:1] == b"+" and joined.count(b"\n+") == new_left - 1:
                current["added"].extend(range(new_line, new_line + new_left))
                current["changes"].extend(block)
                if b"\0" in joined:
                    current["binary"] = True
                new_line += new_left
                at += new_left - 1
                new_left = 0
                continue
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
            current = {"path": _header_path(line[11:]), "oid": None, "binary": False, "added": [], "changes": [],
                       "old_mode": "", "new_mode": ""}
        elif current is None:
            continue
        elif line.startswith(b"@@ "):
            header = hunk_header(line)
            if header:
                old_left, new_line, new_left = header
                if new_left == 0:
                    new_line += 1
        elif line.startswith(b"\\"):
            current["changes"].append(line)  # "\ No newline at end of file" after a hunk's last line
        elif line.startswith(b"index "):
            fields = line[6:].split(b" ")
            oids = fields[0].split(b"..")
            if len(oids) == 2 and oids[1].strip(b"0"):
                current["oid"] = oids[1].decode()
            if len(fields) > 1:  # the mode, when it did not change
                current["old_mode"] = current["new_mode"] = fields[1].strip().decode()
            if fields[1:2] == [b"160000"]:
                current["binary"] = True  # a submodule: its "lines" are commit ids, not text
        elif line.startswith((b"old mode ", b"deleted file mode ")):
            current["old_mode"] = line.rsplit(b" ", 1)[1].decode()
            current["binary"] = current["binary"] or line.endswith(b" 160000") and line.startswith(b"deleted")
        elif line.startswith((b"new mode ", b"new file mode ")):
            current["new_mode"] = line.rsplit(b" ", 1)[1].decode()
            current["binary"] = current["binary"] or line == b"new file mode 160000"
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
    args = list(STAGED_DIFF_ARGS)
    if base:
        args.append(base)
    return parse_patch(git(args, cwd=cwd))


STAGED_DIFF_ARGS = ("diff", "--cached", *DIFF_FLAGS)


def start_staged_diff(cwd: str | None = None) -> Started:
    """`git diff --cached` against HEAD (the empty tree when unborn), in the background."""
    return Started(STAGED_DIFF_ARGS, cwd)


def commit_diff(parent: str | None, commit: str, cwd: str | None = None) -> list[FileDiff]:
    """The change a commit made against its first parent (or the empty tree)."""
    base = parent or empty_tree(cwd)
    return parse_patch(git(["diff", *DIFF_FLAGS, base, commit, "--"], cwd=cwd))


_RENAME_DIFF = (*(f for f in DIFF_FLAGS if f != "--no-renames"), "-M")
_END = b"aiguard-end-of-commit"


def added_ranges(parent: str | None, commit: str, cwd: str | None = None) -> dict[bytes, list[tuple[int, int]]]:
    """Per path (as of `commit`), the line ranges the commit added against its first parent,
    with git's rename detection (`-M`): a moved file's unchanged lines are not added."""
    base = parent or empty_tree(cwd)
    return _added_from_patch(git(["diff", *_RENAME_DIFF, base, commit, "--"], cwd=cwd).split(b"\n"))


class AddedLines(Session):
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
            header = hunk_header(line)
            if header:
                old_left, start, new_left = header
                if new_left:
                    ranges.setdefault(path, []).append((start, start + new_left - 1))
    return ranges
