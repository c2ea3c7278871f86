"""Differential tests of the commit hook: every scenario runs the same git operations
in a repository without aiguard and in one with it, with identical content and
dates. With aiguard, the stored message must be the message without aiguard plus
exactly one trailer group (Assisted-by* / AI-Lines / AIGuard-Stamp) that git reads
back in `%(trailers)`. Aborted commits must stay aborted, and a broken ledger or
key file must let the commit through untouched with one `aiguard:` line."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import MERGE_INTERVALS, Repo, aiguard, run

DATE = "1704164645 +0000"
# GIT_EDITOR=false: an editor nobody asked for fails loudly instead of hanging.
BASE_ENV = {"GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE, "GIT_EDITOR": "false",
            "GIT_SEQUENCE_EDITOR": "false"}

# `v2 <key id> [<n>] <binding> <mac>`: newer stamps say how many Assisted-by lines are aiguard's.
STAMP_LINE = re.compile(rb"AIGuard-Stamp: v2 [0-9a-f]{8}(?: (\d+))? [0-9a-f]{32} [0-9a-f]{32}\r?\n?")
AI_LINES_LINE = re.compile(rb"AI-Lines: (\d+)/(\d+)\r?\n?")

SNIPPET = MERGE_INTERVALS


# --------------------------------------------------------------------------- helpers


def git(repo: Repo, *args: str, env: dict | None = None, check: bool = True):
    full = dict(BASE_ENV)
    full.update(env or {})
    return repo.git(*args, env=full, check=check, input=b"")


def is_blank(line: bytes) -> bool:
    return not line.strip()


def group_removals(msg: bytes) -> list[tuple[bytes, list[bytes]]]:
    """(message without aiguard's group, the group's lines) for each way to read the group.

    The group is the AIGuard-Stamp line, the AI-Lines line just above it and the
    Assisted-by lines above that which are aiguard's: as many as the stamp's count
    field says, or (stamps without one) any number, decided by comparing with the
    message made without aiguard. When the group is a paragraph of its own, the
    single blank line before it goes with it.
    """
    lines = msg.splitlines(keepends=True)
    stamps = [i for i, line in enumerate(lines) if line.startswith(b"AIGuard-Stamp:")]
    assert len(stamps) == 1, f"expected exactly one AIGuard-Stamp line in {msg!r}"
    s = stamps[0]
    match = STAMP_LINE.fullmatch(lines[s])
    assert match, lines[s]
    count = int(match.group(1)) if match.group(1) is not None else None
    assert sum(line.startswith(b"AI-Lines:") for line in lines) == 1, f"AI-Lines not exactly once in {msg!r}"
    assert s >= 1 and AI_LINES_LINE.fullmatch(lines[s - 1]), f"AI-Lines must sit just above the stamp: {msg!r}"
    out = []
    k = s - 1
    if count is not None:
        assert k - count >= 0 and all(line.startswith(b"Assisted-by:") for line in lines[k - count:k]), msg
        k -= count
    while True:
        before, after = lines[:k], lines[s + 1:]
        if k > 0 and is_blank(lines[k - 1]) and (not after or is_blank(after[0])):
            before = before[:-1]
        out.append((b"".join(before + after), lines[k:s + 1]))
        if count is None and k > 0 and lines[k - 1].startswith(b"Assisted-by:"):
            k -= 1
        else:
            return out


def assert_group_in_trailers(repo: Repo, rev: str, group: list[bytes]) -> None:
    seen = repo.trailers(rev)
    stamps = [v for k, v in seen if k.lower() == "aiguard-stamp"]
    ai_lines = [v for k, v in seen if k.lower() == "ai-lines"]
    assisted = [v for k, v in seen if k.lower() == "assisted-by"]
    want = {k.decode(): v.decode().strip() for k, v in (line.split(b":", 1) for line in group[-2:])}
    assert stamps == [want["AIGuard-Stamp"]], f"%(trailers) shows {seen}"
    assert ai_lines == [want["AI-Lines"]], f"%(trailers) shows {seen}"
    for line in group[:-2]:
        assert line.split(b":", 1)[1].decode().strip() in assisted, f"%(trailers) shows {seen}"


def assert_differential(plain: Repo, guarded: Repo, rev: str = "HEAD",
                        subs: list[tuple[bytes, bytes]] = ()) -> list[bytes]:
    """The guarded message is the plain one plus one aiguard group that git reads back."""
    want = plain.raw_message(rev)
    got = guarded.raw_message(rev)
    for old, new in subs:
        got = got.replace(old, new)
    candidates = group_removals(got)
    # A message without a final newline (verbatim) must gain one when a paragraph follows it.
    same = {want} | ({want + b"\n", want + b"\r\n"} if want and not want.endswith(b"\n") else set())
    groups = [group for rest, group in candidates if rest in same]
    assert groups, (
        "message with aiguard, minus its group, differs from the message without aiguard\n"
        f"without: {want!r}\nwith:    {got!r}\nremoved: {[rest for rest, _ in candidates]!r}"
    )
    assert_group_in_trailers(guarded, rev, groups[0])
    assert_stamp_bound(guarded, rev, groups[0])
    return groups[0]


def assert_stamp_bound(repo: Repo, rev: str, group: list[bytes]) -> None:
    """The stamp is bound to the change the commit really made (against its first
    parent) and to the group's claims, and signed with this user's stamp key."""
    from aiguard.store import keys
    from aiguard.core import stamp_format
    from aiguard.git import patches

    def value(line: bytes) -> str:
        return line.split(b":", 1)[1].strip().decode()

    commit = sha(repo, rev).decode()
    parent = git(repo, "rev-parse", "-q", "--verify", f"{rev}^", check=False).stdout.decode().strip() or None
    change = stamp_format.change_digest(patches.commit_diff(parent, commit, cwd=str(repo.path)))
    result = stamp_format.check(value(group[-1]), change, [value(line) for line in group[:-2]], value(group[-2]),
                         dict(keys.load().stamp_keys))
    assert result.bound and result.signature == "valid", (rev, result)


def ai_lines(repo: Repo, rev: str = "HEAD") -> tuple[int, int]:
    values = [v for k, v in repo.trailers(rev) if k == "AI-Lines"]
    assert len(values) == 1, values
    ai, total = values[0].split("/")
    return int(ai), int(total)


def added_lines(repo: Repo, rev: str = "HEAD") -> int:
    parent = git(repo, "rev-parse", "-q", "--verify", f"{rev}^", check=False).stdout.decode().strip()
    base = parent or git(repo, "hash-object", "-t", "tree", "/dev/null").stdout.decode().strip()
    out = git(repo, "diff", "--numstat", "--no-renames", base, rev).stdout.decode()
    return sum(int(line.split("\t")[0]) for line in out.splitlines() if not line.startswith("-"))


def sha(repo: Repo, rev: str) -> bytes:
    return git(repo, "rev-parse", rev).stdout.strip()


def head(repo: Repo) -> bytes:
    return git(repo, "rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()


def aiguard_lines(stderr: bytes) -> list[bytes]:
    return [line for line in stderr.splitlines() if line.startswith(b"aiguard:")]


BASE_TEXT = "base line 0\nbase line 1\nbase line 2\n"


class Pair:
    """Two repositories driven in lockstep: `plain` without aiguard, `guarded` with it.

    Both start as copies of a session template: one commit `Base` of base.txt
    (3 lines), aiguard installed in `guarded` by `aiguard install`.
    """

    def __init__(self, plain: Repo, guarded: Repo, root: Path):
        self.plain, self.guarded, self.root = plain, guarded, root
        self.files = root / "files"
        self.files.mkdir(exist_ok=True)
        self._names = itertools.count()

    @property
    def both(self) -> tuple[Repo, Repo]:
        return self.plain, self.guarded

    def git(self, *args: str, env: dict | None = None, check: bool = True, warnings: bool = False):
        p = git(self.plain, *args, env=env, check=check)
        g = git(self.guarded, *args, env=env, check=check)
        assert p.returncode == g.returncode, (
            f"git {args}: exit {p.returncode} without aiguard, {g.returncode} with it\n"
            f"without: {p.stderr!r}\nwith: {g.stderr!r}"
        )
        if not warnings:
            assert not aiguard_lines(g.stderr), g.stderr
        return p, g

    def write(self, name: str, data: str | bytes) -> None:
        for r in self.both:
            r.write(name, data)

    def config(self, key: str, value: str) -> None:
        self.git("config", key, value)

    def msgfile(self, data: bytes) -> str:
        path = self.files / f"msg{next(self._names)}"
        path.write_bytes(data)
        return str(path)

    def editor(self, body: str) -> str:
        """A GIT_EDITOR running `body` on `data` (the file's bytes), then writing data back."""
        path = self.files / f"editor{next(self._names)}.py"
        path.write_text(
            f"#!{sys.executable}\nimport sys\npath = sys.argv[1]\n"
            "with open(path, 'rb') as fh:\n    data = fh.read()\n"
            f"{body}\n"
            "with open(path, 'wb') as fh:\n    fh.write(data)\n"
        )
        path.chmod(0o755)
        return shlex.quote(str(path))

    def prepend_editor(self, text: bytes) -> str:
        return self.editor(f"data = {text!r} + data")

    def stage(self, name: str = "change.txt", text: str = "one\ntwo\n") -> None:
        self.write(name, text)
        self.git("add", name)

    def record_snippet(self) -> None:
        aiguard("record", "--tool", "claude-code", "--model", "claude-test-1", input=SNIPPET.encode())


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    """Built once: the two repositories with their Base commit, and the keys aiguard made.

    Runs before any test's isolated_user, so it sets up its own isolated environment.
    """
    root = tmp_path_factory.mktemp("template")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AIGUARD_"))}
    env.update(HOME=str(home), AIGUARD_HOME=str(home / "aiguard-state"), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
               GIT_CONFIG_NOSYSTEM="1", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / "share"), **BASE_ENV)
    for name in ("plain", "guarded"):
        path = root / name
        path.mkdir()
        run(["git", "init", "-q"], cwd=path, env=env)
        if name == "guarded":
            run([sys.executable, "-m", "aiguard", "install"], cwd=path, env=env)
        (path / "base.txt").write_text(BASE_TEXT)
        run(["git", "add", "base.txt"], cwd=path, env=env)
        run(["git", "commit", "-q", "-m", "Base"], cwd=path, env=env)
    assert (home / "aiguard-state" / "keys.json").exists()
    return root


@pytest.fixture
def pair(template, isolated_user, tmp_path) -> Pair:
    for name in ("plain", "guarded"):
        shutil.copytree(template / name, tmp_path / name, symlinks=True)
    state = isolated_user / "aiguard-state"
    state.mkdir(mode=0o700, exist_ok=True)
    shutil.copy2(template / "home" / "aiguard-state" / "keys.json", state / "keys.json")
    return Pair(Repo(tmp_path / "plain"), Repo(tmp_path / "guarded"), tmp_path)


def assert_aborted(pair: Pair, results, heads) -> None:
    p, g = results
    assert p.returncode != 0 and g.returncode != 0
    assert b"Aborting commit" in p.stderr
    assert g.stderr == p.stderr, (p.stderr, g.stderr)
    assert (head(pair.plain), head(pair.guarded)) == heads


# --------------------------------------------------------------------------- -m and -F shapes

M_SHAPES = {
    "subject-only": ["-m", "Subject only"],
    "subject-body": ["-m", "Add the thing", "-m", "It does this and that.\nOver two lines."],
    "body-with-dashes": ["-m", "Subject", "-m", "Body text\n---\nafter the divider"],
    "body-with-dashes-then-trailer": ["-m", "Subject", "-m", "Body\n---\nnotes", "-m", "Fixes: #12"],
    "existing-trailers": ["-m", "Subject", "-m", "Body.",
                          "-m", "Signed-off-by: A U Thor <a@example.com>\nReviewed-by: R <r@example.com>"],
    "existing-trailers-and-s": ["-s", "-m", "Subject", "-m", "Body.",
                                "-m", "Signed-off-by: A U Thor <a@example.com>\nReviewed-by: R <r@example.com>"],
    "signoff": ["-s", "-m", "Subject", "-m", "Body."],
    "trailer-option": ["-m", "Subject", "-m", "Body.", "--trailer", "Reviewed-by: R <r@example.com>"],
    "trailer-option-twice": ["-m", "Subject", "--trailer", "Fixes: 1", "--trailer", "Helped-by: H <h@x>"],
    "url-paragraph": ["-m", "Subject", "-m", "Body.", "-m", "https://example.com/issues/1"],
    "subject-like-trailer": ["-m", "Fix: thing"],
    "title-of-trailer-lines": ["-m", "Fix: thing\nRefs: other"],
    "mixed-last-paragraph": ["-m", "Subject", "-m", "prose line\nFixes: 3\nSigned-off-by: A <a@x>"],
    "folded-trailer": ["-m", "Subject", "-m", "Body", "-m", "Long-key: first part\n  continued here"],
    "prose-after-trailer-like": ["-m", "Subject", "-m", "Note: this is prose\nand more prose"],
    "cleanup-strip-hash-lines": ["--cleanup=strip", "-m", "Subject", "-m", "# dropped by git\nkept", "-m", "Fixes: 2"],
    "hash-line-after-trailer": ["-m", "Subject", "-m", "Fixes: 1\n# kept, -m does not strip"],
}


@pytest.mark.parametrize("args", list(M_SHAPES.values()), ids=list(M_SHAPES))
def test_dash_m_shapes(pair, args):
    pair.stage()
    pair.git("commit", "-q", *args)
    assert_differential(pair.plain, pair.guarded)


def test_dash_m_with_ai_lines_and_assisted_by(pair):
    pair.record_snippet()
    pair.stage("clamp.py", "import math\n\n" + SNIPPET)
    pair.git("commit", "-q", "-s", "-m", "Add clamp", "-m", "Body.")
    group = assert_differential(pair.plain, pair.guarded)
    assert group[0] == b"Assisted-by: claude-code:claude-test-1\n"
    assert ai_lines(pair.guarded) == (len(SNIPPET.splitlines()), len(SNIPPET.splitlines()) + 2)


def test_hand_written_assisted_by_is_kept(pair):
    """The author's own Assisted-by line (another tool) must survive stamping and re-stamping."""
    pair.record_snippet()
    pair.stage("clamp.py", SNIPPET)
    pair.git("commit", "-q", "-m", "Add clamp", "-m", "Assisted-by: other-tool:some-model")
    assert_differential(pair.plain, pair.guarded)
    pair.git("commit", "-q", "--amend", "--no-edit")
    assert_differential(pair.plain, pair.guarded)
    assert ("Assisted-by", "other-tool:some-model") in pair.guarded.trailers("HEAD")


F_SHAPES = {
    "crlf": (b"Subject\r\n\r\nBody line\r\nsecond\r\n\r\nSigned-off-by: A <a@x>\r\n", []),
    "crlf-verbatim": (b"Subject\r\n\r\nBody line\r\nsecond\r\n\r\nSigned-off-by: A <a@x>\r\n", ["--cleanup=verbatim"]),
    "crlf-no-trailers-verbatim": (b"Subject\r\n\r\nBody\r\n", ["--cleanup=verbatim"]),
    "no-final-newline": (b"Subject\n\nBody without a final newline", []),
    "no-final-newline-trailers": (b"Subject\n\nBody\n\nFixes: 1", []),
    "no-final-newline-verbatim": (b"Subject\n\nBody without a final newline", ["--cleanup=verbatim"]),
    "subject-only-no-newline": (b"Subject", []),
    "trailing-blank-lines": (b"Subject\n\nBody\n\n\n\n", []),
    "trailing-blank-lines-verbatim": (b"Subject\n\nBody\n\n\n", ["--cleanup=verbatim"]),
    "leading-blank-lines": (b"\n\nSubject\n\nBody\n", []),
    "trailing-spaces": (b"Subject   \n\nBody  \n\nFixes: 1  \n", []),
    "hash-line-whitespace": (b"Subject\n\n#123 is fixed\n", ["--cleanup=whitespace"]),
    "hash-line-in-trailers-verbatim": (b"Subject\n\nBody\n\nFixes: 1\n# a note\n", ["--cleanup=verbatim"]),
    # Only LF ends a line for git: a CR-only message is one long subject.
    "cr-only": (b"Subject\rBody line\r\rSigned-off-by: A <a@x>\r", []),
    "cr-only-verbatim": (b"Subject\rBody line\r\rFixes: 1\r", ["--cleanup=verbatim"]),
    "cr-inside-lines": (b"Subject\r\n\nBody\rwith a CR\n\nFixes: 1\r\n", []),
    "leading-blank-lines-verbatim": (b"\n\nSubject\n\nBody\n", ["--cleanup=verbatim"]),
    "leading-blank-then-trailer-subject": (b"\n\nFixes: 1\n", []),
    "leading-blank-then-trailer-subject-verbatim": (b"\n\nFixes: 1\n", ["--cleanup=verbatim"]),
}


@pytest.mark.parametrize("data,opts", list(F_SHAPES.values()), ids=list(F_SHAPES))
def test_dash_f_shapes(pair, data, opts):
    pair.stage()
    pair.git("commit", "-q", *opts, "-F", pair.msgfile(data))
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("data", [b"   \n", b"\n\n", b" \t\r\n"], ids=["spaces", "newlines", "mixed"])
def test_whitespace_only_verbatim_is_kept_and_said(pair, data):
    """git commits a whitespace-only message under --cleanup=verbatim; git log reads no
    trailers without a subject, so aiguard leaves it as is and says so in one line."""
    pair.stage()
    p, g = pair.git("commit", "-q", "--cleanup=verbatim", "-F", pair.msgfile(data), warnings=True)
    assert pair.plain.raw_message() == data
    assert pair.guarded.raw_message() == data
    (line,) = aiguard_lines(g.stderr)
    assert b"not stamped" in line and b"whitespace" in line


def test_group_in_a_cr_only_subject_is_not_a_stamp(pair):
    """A commit whose group sits in a CR-only subject (as aiguard once wrote it) is not stamped
    for `aiguard log` and `verify`, as it is not for `git log %(trailers)`."""
    pair.stage()
    msg = b"Subject\rBody\r\rAI-Lines: 0/2\rAIGuard-Stamp: v1 0123abcd 0 " + b"0" * 32 + b" " + b"1" * 32 + b"\r"
    git(pair.plain, "commit", "-q", "--cleanup=verbatim", "-F", pair.msgfile(msg))
    assert pair.plain.trailers() == []
    (entry,) = [e for e in json.loads(aiguard("log", "--json", cwd=pair.plain.path).stdout)
                if e["commit"] == sha(pair.plain, "HEAD").decode()]
    assert entry["stamped"] is False
    done = aiguard("verify", "HEAD^..HEAD", "--format", "json", cwd=pair.plain.path, check=False)
    rules = [f["rule"] for f in json.loads(done.stdout)["findings"]]
    assert "missing-stamp" in rules, done.stdout


def test_very_long_message(pair):
    body = "".join(f"line {i} of a long explanation\n" for i in range(10_000))
    pair.stage()
    pair.git("commit", "-q", "-F", pair.msgfile(f"Long one\n\n{body}\nSigned-off-by: A <a@x>\n".encode()))
    assert_differential(pair.plain, pair.guarded)


def test_latin1_message_with_commit_encoding(pair):
    pair.config("i18n.commitEncoding", "ISO-8859-1")
    pair.stage()
    data = "Résumé des changements\n\nCorrigé: élève, garçon, naïve.\n\nRevu-par: Zoë <z@x>\n".encode("latin-1")
    pair.git("commit", "-q", "-F", pair.msgfile(data))
    assert b"\xe9" in pair.guarded.raw_message()
    assert_differential(pair.plain, pair.guarded)
    cat = git(pair.guarded, "cat-file", "commit", "HEAD").stdout
    assert b"\nencoding ISO-8859-1\n" in cat


# --------------------------------------------------------------------------- templates

TEMPLATE = b"[area] \n\nWhy:\n\nTicket: \n# Fill in the area, the why and the ticket.\n"


@pytest.mark.parametrize("how", ["option", "config"])
def test_template_filled_in(pair, how):
    tmpl = pair.msgfile(TEMPLATE)
    opts = ["-t", tmpl] if how == "option" else []
    if how == "config":
        pair.config("commit.template", tmpl)
    pair.stage()
    edit = pair.editor("data = data.replace(b'[area] ', b'[core] fix the crash', 1)"
                       ".replace(b'Why:\\n', b'Why: it crashed\\n', 1).replace(b'Ticket: ', b'Ticket: ABC-1', 1)")
    pair.git("commit", "-q", *opts, env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("how", ["option", "config"])
def test_template_untouched_aborts(pair, how):
    tmpl = pair.msgfile(TEMPLATE)
    opts = ["-t", tmpl] if how == "option" else []
    if how == "config":
        pair.config("commit.template", tmpl)
    pair.stage()
    heads = (head(pair.plain), head(pair.guarded))
    results = pair.git("commit", *opts, env={"GIT_EDITOR": "true"}, check=False)
    assert_aborted(pair, results, heads)
    assert b"you did not edit the message" in results[0].stderr
    # And the next commit is stamped normally.
    pair.git("commit", "-q", "-m", "Next")
    assert_differential(pair.plain, pair.guarded)


# --------------------------------------------------------------------------- editor

def test_editor_writes_message(pair):
    pair.stage()
    pair.git("commit", "-q", env={"GIT_EDITOR": pair.prepend_editor(b"Edited subject\n\nEdited body.\n")})
    assert_differential(pair.plain, pair.guarded)


def test_editor_writes_message_with_trailers(pair):
    pair.stage()
    edit = pair.prepend_editor(b"Edited subject\n\nBody.\n\nSigned-off-by: A <a@x>\n")
    pair.git("commit", "-q", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("editor", ["true", "empty-file", "blank-lines", "only-comments"])
def test_editor_writes_nothing_aborts(pair, editor):
    pair.stage()
    scripts = {
        "true": "true",
        "empty-file": pair.editor("data = b''"),
        "blank-lines": pair.editor("data = b'\\n\\n  \\n' + data"),
        "only-comments": pair.editor("data = b'# just a comment\\n' + data"),
    }
    heads = (head(pair.plain), head(pair.guarded))
    results = pair.git("commit", env={"GIT_EDITOR": scripts[editor]}, check=False)
    assert_aborted(pair, results, heads)
    assert b"empty commit message" in results[0].stderr


@pytest.mark.parametrize("how", ["m-e", "amend"])
def test_editor_empties_existing_message_aborts(pair, how):
    """The message has content (and trailers) before the editor; the user deletes the text."""
    if how == "amend":
        pair.stage()
        pair.git("commit", "-q", "-m", "To amend")
    pair.stage("more.txt", "m\n")
    heads = (head(pair.plain), head(pair.guarded))
    # Keep only comment lines: what deleting the whole message in an editor leaves.
    edit = pair.editor("data = b'\\n'.join(l for l in data.split(b'\\n') if l.startswith(b'#'))")
    args = ["-e", "-m", "Draft"] if how == "m-e" else ["--amend"]
    results = pair.git("commit", *args, env={"GIT_EDITOR": edit}, check=False)
    assert_aborted(pair, results, heads)


def test_allow_empty_message(pair):
    """--allow-empty-message -m '': git commits an empty message; aiguard leaves it empty."""
    pair.stage()
    pair.git("commit", "-q", "--allow-empty-message", "-m", "")
    assert pair.plain.raw_message() == b""
    assert pair.guarded.raw_message() == b""


def test_verbose_editor(pair):
    pair.stage()
    pair.git("commit", "-q", "-v", env={"GIT_EDITOR": pair.prepend_editor(b"Verbose subject\n\nBody.\n")})
    assert_differential(pair.plain, pair.guarded)


def test_verbose_config_with_m_and_e(pair):
    pair.config("commit.verbose", "true")
    pair.stage()
    pair.git("commit", "-q", "-e", "-m", "Subject", env={"GIT_EDITOR": "true"})
    assert_differential(pair.plain, pair.guarded)


def test_cleanup_scissors_editor(pair):
    pair.stage()
    edit = pair.prepend_editor(b"Scissors subject\n\n# kept: scissors mode keeps hash lines\n")
    pair.git("commit", "-q", "--cleanup=scissors", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


def test_cleanup_verbatim_m(pair):
    pair.stage()
    pair.git("commit", "-q", "--cleanup=verbatim", "-m", "Subject  ", "-m", "# not a comment\n\n\nBody  ")
    assert_differential(pair.plain, pair.guarded)


def test_cleanup_verbatim_editor(pair):
    pair.stage()
    edit = pair.prepend_editor(b"Verbatim subject\n\nBody.\n")
    pair.git("commit", "-q", "--cleanup=verbatim", env={"GIT_EDITOR": edit})
    assert b"# Please enter" in pair.plain.raw_message()
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("cleanup", ["verbatim", "whitespace", "strip"])
def test_verbose_editor_with_cleanup(pair, cleanup):
    pair.stage()
    edit = pair.prepend_editor(b"Verbose subject\n\nBody.\n\nFixes: 5\n")
    pair.git("commit", "-q", "-v", f"--cleanup={cleanup}", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


def test_cleanup_whitespace_editor(pair):
    pair.stage()
    edit = pair.prepend_editor(b"Whitespace subject  \n\n\n\nBody.\n\nFixes: 1\n")
    pair.git("commit", "-q", "--cleanup=whitespace", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


def test_comment_char_semicolon(pair):
    pair.config("core.commentChar", ";")
    pair.stage()
    edit = pair.prepend_editor(b"Subject\n\n#42 is fixed by this\n\nFixes: #42\n")
    pair.git("commit", "-q", env={"GIT_EDITOR": edit})
    assert b"#42 is fixed" in pair.plain.raw_message()
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("verbose", [True, False], ids=["verbose", "plain"])
def test_comment_char_auto_hash_lines(pair, verbose):
    pair.config("core.commentChar", "auto")
    pair.stage()
    msg = pair.msgfile(b"#12 fix the parser\n\n#tag body line\n")
    edit = pair.editor("data = data.replace(b'#tag body line\\n', b'#tag body line\\nand one more\\n', 1)")
    pair.git("commit", "-q", *(["-v"] if verbose else []), "-e", "-F", msg, env={"GIT_EDITOR": edit})
    assert pair.plain.raw_message().startswith(b"#12 fix the parser\n\n#tag body line\nand one more\n")
    assert_differential(pair.plain, pair.guarded)


# --------------------------------------------------------------------------- amend, -c, -C

def test_amend_no_edit_twice(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "Subject", "-m", "Signed-off-by: A <a@x>")
    pair.stage("more.txt", "x\ny\nz\n")
    pair.git("commit", "-q", "--amend", "--no-edit")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 5)
    pair.git("commit", "-q", "--amend", "--no-edit")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 5)


def test_amend_signoff_no_edit(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "Subject", "-m", "Body.")
    pair.git("commit", "-q", "--amend", "--no-edit", "-s")
    assert_differential(pair.plain, pair.guarded)
    assert pair.guarded.trailers("HEAD")[-1][0] == "Signed-off-by"


@pytest.mark.parametrize("how", ["amend", "reedit"])
def test_editor_appends_paragraph_after_old_group(pair, how):
    """Amending in the editor and adding a paragraph at the end: the old group is no longer
    in the final block, and must not stay behind as a second group."""
    pair.stage()
    pair.git("commit", "-q", "-m", "Subject", "-m", "Body.")
    pair.stage("more.txt", "m\n")
    edit = pair.editor("i = data.index(b'\\n#')\ndata = data[:i] + b'\\n\\nAnother paragraph.\\n' + data[i:]")
    args = ["--amend"] if how == "amend" else ["-c", "HEAD"]
    pair.git("commit", "-q", *args, env={"GIT_EDITOR": edit})
    assert pair.plain.raw_message() == b"Subject\n\nBody.\n\nAnother paragraph.\n"
    assert_differential(pair.plain, pair.guarded)


def test_amend_abbreviated_option(pair):
    """git accepts unambiguous abbreviations of long options: `--amen` is `--amend`."""
    pair.stage("three.txt", "a\nb\nc\n")
    pair.git("commit", "-q", "-m", "Three lines")
    pair.git("commit", "-q", "--amen", "--no-edit")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 3) == (0, added_lines(pair.guarded))


def test_amend_with_m(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "First")
    pair.git("commit", "-q", "--amend", "-m", "Second", "-m", "New body.")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 2)


def test_amend_with_editor(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "First")
    edit = pair.editor("data = data.replace(b'First', b'First, edited', 1)")
    pair.git("commit", "-q", "--amend", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)


def test_reuse_message_C_HEAD(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "Reused", "-m", "Fixes: 7")
    pair.stage("other.txt", "a\nb\nc\n")
    pair.git("commit", "-q", "-C", "HEAD")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 3)


def test_reedit_message_c_HEAD(pair):
    pair.stage()
    pair.git("commit", "-q", "-m", "Reused", "-m", "Fixes: 7")
    pair.stage("other.txt", "a\nb\nc\n")
    edit = pair.editor("data = data.replace(b'Reused', b'Reused again', 1)")
    pair.git("commit", "-q", "-c", "HEAD", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 3)


# --------------------------------------------------------------------------- merges

def _diverge(pair: Pair, conflict: bool = False) -> None:
    pair.git("checkout", "-q", "-b", "feature")
    pair.write("feature.txt", "f1\nf2\n")
    if conflict:
        pair.write("base.txt", "feature version\n")
    pair.git("add", "-A")
    pair.git("commit", "-q", "-m", "Feature work")
    pair.git("checkout", "-q", "main")
    pair.write("main.txt", "m1\n")
    if conflict:
        pair.write("base.txt", "main version\n")
    pair.git("add", "-A")
    pair.git("commit", "-q", "-m", "Main work")


def test_merge_no_ff(pair):
    _diverge(pair)
    pair.git("merge", "-q", "--no-ff", "feature")
    assert git(pair.plain, "rev-parse", "HEAD^2").returncode == 0
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 0)  # a clean merge adds no lines of its own


def test_amend_merge_keeps_ai_lines(pair):
    """Amending a merge without changing it must not change what the stamp claims."""
    _diverge(pair)
    pair.git("merge", "-q", "--no-ff", "feature")
    before = ai_lines(pair.guarded)
    pair.git("commit", "-q", "--amend", "--no-edit")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == before == (0, 0)


def test_merge_no_ff_log(pair):
    _diverge(pair)
    pair.git("merge", "-q", "--no-ff", "--log", "feature")
    assert b"* feature:" in pair.plain.raw_message()
    assert_differential(pair.plain, pair.guarded)


def test_merge_editor_emptied_aborts(pair):
    _diverge(pair)
    heads = (head(pair.plain), head(pair.guarded))
    edit = pair.editor("data = b'\\n'.join(l for l in data.split(b'\\n') if l.startswith(b'#'))")
    p, g = pair.git("merge", "--no-ff", "-e", "feature", env={"GIT_EDITOR": edit}, check=False)
    assert p.returncode != 0 and b"Empty commit message" in p.stderr
    assert g.stderr == p.stderr
    assert (head(pair.plain), head(pair.guarded)) == heads


def test_merge_no_ff_with_message_and_signoff(pair):
    _diverge(pair)
    pair.git("merge", "-q", "--no-ff", "--signoff", "-m", "Merge feature", "-m", "Why: because", "feature")
    assert_differential(pair.plain, pair.guarded)


def test_merge_conflict_concluded_with_commit(pair):
    _diverge(pair, conflict=True)
    pair.git("merge", "feature", check=False)
    pair.write("base.txt", "resolved\nboth\n")
    pair.git("add", "base.txt")
    pair.git("commit", "-q", env={"GIT_EDITOR": "true"})
    assert git(pair.plain, "rev-parse", "HEAD^2").returncode == 0
    assert_differential(pair.plain, pair.guarded)


def test_merge_conflict_concluded_with_commit_no_edit(pair):
    _diverge(pair, conflict=True)
    pair.git("merge", "feature", check=False)
    pair.write("base.txt", "resolved\n")
    pair.git("add", "base.txt")
    pair.git("commit", "-q", "--no-edit")
    assert_differential(pair.plain, pair.guarded)


@pytest.mark.parametrize("how", ["editor", "m"])
def test_merge_squash_then_commit(pair, how):
    _diverge(pair)
    pair.git("merge", "-q", "--squash", "feature")
    if how == "editor":
        pair.git("commit", "-q", env={"GIT_EDITOR": "true"})
    else:
        pair.git("commit", "-q", "-m", "Squashed feature")
    # SQUASH_MSG quotes the squashed commits' messages (indented), aiguard's group included.
    quoted = pair.guarded.raw_message("feature")[len(b"Feature work\n"):]
    quoted = b"".join(b"    " + line if line.strip() else line for line in quoted.splitlines(True))
    subs = [(sha(pair.guarded, "feature"), sha(pair.plain, "feature")), (quoted, b"")]
    assert_differential(pair.plain, pair.guarded, subs=subs)
    assert ai_lines(pair.guarded) == (0, 2)


# --------------------------------------------------------------------------- sequencer

def _feature_commit(pair: Pair) -> None:
    pair.git("checkout", "-q", "-b", "feature")
    pair.stage("feature.txt", "f1\nf2\nf3\n")
    pair.git("commit", "-q", "-m", "Feature", "-m", "Body.", "-m", "Fixes: 9")
    pair.git("checkout", "-q", "main")
    pair.stage("main.txt", "m1\n")
    pair.git("commit", "-q", "-m", "Main moves")


@pytest.mark.parametrize("x", [False, True], ids=["plain", "x"])
def test_cherry_pick(pair, x):
    _feature_commit(pair)
    subs = [(sha(pair.guarded, "feature"), sha(pair.plain, "feature"))]
    pair.git("cherry-pick", *(["-x"] if x else []), "feature")
    group = assert_differential(pair.plain, pair.guarded, subs=subs)
    assert ai_lines(pair.guarded) == (0, 3)
    if x:
        assert b"(cherry picked from commit " in pair.plain.raw_message()


def test_cherry_pick_conflict_continue(pair):
    _feature_commit(pair)
    pair.write("feature.txt", "main's own f1\n")
    pair.git("add", "feature.txt")
    pair.git("commit", "-q", "-m", "Conflicting")
    subs = [(sha(pair.guarded, "feature"), sha(pair.plain, "feature"))]
    pair.git("cherry-pick", "-x", "feature", check=False)
    pair.write("feature.txt", "resolved\nf2\nf3\n")
    pair.git("add", "feature.txt")
    pair.git("cherry-pick", "--continue", env={"GIT_EDITOR": "true"})
    assert pair.plain.raw_message().startswith(b"Feature\n")
    assert_differential(pair.plain, pair.guarded, subs=subs)
    assert ai_lines(pair.guarded)[1] == added_lines(pair.guarded)


def test_revert_no_edit(pair):
    _feature_commit(pair)
    pair.git("merge", "-q", "feature", "-m", "Merge feature")
    subs = [(sha(pair.guarded, "feature"), sha(pair.plain, "feature"))]
    pair.git("revert", "--no-edit", "feature")
    assert_differential(pair.plain, pair.guarded, subs=subs)
    assert ai_lines(pair.guarded) == (0, 0)


def test_rebase_onto_moved_main(pair):
    _feature_commit(pair)
    pair.git("checkout", "-q", "feature")
    pair.stage("feature2.txt", "g1\n")
    pair.git("commit", "-q", "-m", "Feature two", "-m", "Signed-off-by: A <a@x>")
    pair.git("rebase", "-q", "main")
    for rev in ("HEAD", "HEAD~1"):
        assert_differential(pair.plain, pair.guarded, rev=rev)
        assert ai_lines(pair.guarded, rev)[1] == added_lines(pair.guarded, rev)


def _three_on_feature(pair: Pair) -> None:
    pair.git("checkout", "-q", "-b", "feature")
    for i, (name, body) in enumerate([("One", "Body one."), ("Two", "Body two."), ("Three", "Body three.")]):
        pair.stage(f"f{i}.txt", "".join(f"{name} {n}\n" for n in range(i + 1)))
        pair.git("commit", "-q", "-m", name, "-m", body)


def _todo_editor(pair: Pair, action: str, line: int) -> str:
    return pair.editor(
        "lines = data.split(b'\\n')\n"
        f"lines[{line}] = lines[{line}].replace(b'pick', {action.encode()!r}, 1)\n"
        "data = b'\\n'.join(lines)"
    )


def test_rebase_i_reword(pair):
    _three_on_feature(pair)
    env = {"GIT_SEQUENCE_EDITOR": _todo_editor(pair, "reword", 1),
           "GIT_EDITOR": pair.editor("data = data.replace(b'Two', b'Two reworded', 1)")}
    pair.git("rebase", "-q", "-i", "main", env=env)
    assert pair.plain.raw_message("HEAD~1").startswith(b"Two reworded")
    for rev in ("HEAD", "HEAD~1", "HEAD~2"):
        assert_differential(pair.plain, pair.guarded, rev=rev)


@pytest.mark.parametrize("action", ["squash", "fixup"])
def test_rebase_i_squash_fixup(pair, action):
    _three_on_feature(pair)
    env = {"GIT_SEQUENCE_EDITOR": _todo_editor(pair, action, 1), "GIT_EDITOR": "true"}
    pair.git("rebase", "-q", "-i", "main", env=env)
    assert git(pair.plain, "rev-list", "--count", "main..HEAD").stdout.strip() == b"2"
    for rev in ("HEAD", "HEAD~1"):
        assert_differential(pair.plain, pair.guarded, rev=rev)
        assert ai_lines(pair.guarded, rev)[1] == added_lines(pair.guarded, rev)


def test_rebase_i_fixup_autosquash(pair):
    _three_on_feature(pair)
    pair.stage("f0.txt", "One 0\nfixed\n")
    pair.git("commit", "-q", "--fixup", "HEAD~2")
    pair.git("rebase", "-q", "-i", "--autosquash", "main", env={"GIT_SEQUENCE_EDITOR": "true"})
    for rev in ("HEAD", "HEAD~1", "HEAD~2"):
        assert_differential(pair.plain, pair.guarded, rev=rev)
        assert ai_lines(pair.guarded, rev)[1] == added_lines(pair.guarded, rev)


def test_fixup_amend_autosquash(pair):
    """`commit --fixup=amend:` copies the target's message (and group); autosquash's
    `fixup -C` then uses it as the squashed commit's message."""
    _three_on_feature(pair)
    pair.stage("f1.txt", "Two 0\nTwo 1\nfixed\n")
    edit = pair.editor("data = data.replace(b'Body two.', b'Body two, reworded.', 1)")
    pair.git("commit", "-q", "--fixup=amend:HEAD~1", env={"GIT_EDITOR": edit})
    assert_differential(pair.plain, pair.guarded)
    pair.git("rebase", "-q", "-i", "--autosquash", "main", env={"GIT_SEQUENCE_EDITOR": "true"})
    assert pair.plain.raw_message("HEAD~1") == b"Two\n\nBody two, reworded.\n"
    for rev in ("HEAD", "HEAD~1", "HEAD~2"):
        assert_differential(pair.plain, pair.guarded, rev=rev)


# --------------------------------------------------------------------------- what gets committed

def test_commit_all(pair):
    pair.write("base.txt", BASE_TEXT + "new 1\nnew 2\n")
    pair.git("commit", "-q", "-a", "-m", "All of it")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 2) and added_lines(pair.guarded) == 2


def test_commit_paths_uses_temporary_index(pair):
    pair.stage("b.txt", "b1\nb2\nb3\nb4\nb5\n")  # staged, but not part of `git commit base.txt`
    pair.write("base.txt", BASE_TEXT + "a new 1\na new 2\na new 3\n")
    pair.git("commit", "-q", "-m", "Only base.txt", "base.txt")
    assert_differential(pair.plain, pair.guarded)
    assert added_lines(pair.guarded) == 3
    assert ai_lines(pair.guarded) == (0, 3)
    # b.txt is still staged, and the next commit counts it.
    pair.git("commit", "-q", "-m", "Now b")
    assert ai_lines(pair.guarded) == (0, 5)


def test_commit_paths_with_ai_snippet(pair):
    pair.record_snippet()
    pair.stage("clamp.py", SNIPPET)  # staged AI code that is NOT committed below
    pair.write("base.txt", BASE_TEXT + "human line\n")
    pair.git("commit", "-q", "-m", "Only base.txt", "base.txt")
    group = assert_differential(pair.plain, pair.guarded)
    assert not group[0].startswith(b"Assisted-by:")
    assert ai_lines(pair.guarded) == (0, 1)


def test_no_verify_still_stamped(pair):
    pair.stage()
    pair.git("commit", "-q", "--no-verify", "-m", "Skip hooks", "-m", "Body.")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 2)


def test_allow_empty(pair):
    pair.git("commit", "-q", "--allow-empty", "-m", "x")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 0)


def test_root_commit(make_repo, tmp_path):
    pair = Pair(make_repo("plain"), make_repo("guarded"), tmp_path)
    aiguard("install", cwd=pair.guarded.path)
    pair.stage("first.txt", "1\n2\n")
    pair.git("commit", "-q", "-m", "Root", "-m", "Signed-off-by: A <a@x>")
    assert_differential(pair.plain, pair.guarded)
    assert ai_lines(pair.guarded) == (0, 2)


# --------------------------------------------------------------------------- fail open

def _break_ledger(home: Path) -> None:
    (home / "aiguard-state" / "ledger.sqlite3").write_bytes(bytes(range(256)) * 64)


def _break_keys(home: Path) -> None:
    (home / "aiguard-state" / "keys.json").write_bytes(b"\xff\xfe{not json at all")


def _break_keys_json(home: Path) -> None:
    (home / "aiguard-state" / "keys.json").write_text('{"version": 1, "ledger": "zz"}')


@pytest.mark.parametrize("breakage,how", [
    (_break_ledger, "m"), (_break_keys, "m"), (_break_keys_json, "m"),
    (_break_ledger, "editor"), (_break_keys, "editor"), (_break_ledger, "amend"),
], ids=["garbage-ledger-m", "garbage-keys-m", "damaged-keys-m", "garbage-ledger-editor",
        "garbage-keys-editor", "garbage-ledger-amend"])
def test_fail_open(pair, isolated_user, breakage, how):
    pair.stage()
    if how == "amend":
        pair.git("commit", "-q", "-m", "To amend")
        pair.stage("more.txt", "m\n")
    breakage(isolated_user)
    if how == "m":
        p, g = pair.git("commit", "-q", "-m", "Subject", "-m", "Body.", warnings=True)
    elif how == "editor":
        p, g = pair.git("commit", "-q", env={"GIT_EDITOR": pair.prepend_editor(b"Subject\n\nBody.\n")},
                        warnings=True)
    else:
        p, g = pair.git("commit", "-q", "--amend", "-m", "Amended", warnings=True)
    assert pair.guarded.raw_message() == pair.plain.raw_message()
    warnings = aiguard_lines(g.stderr)
    assert len(warnings) == 1, g.stderr
    assert g.stderr.count(b"\n") == 1, g.stderr
    assert b"not stamped" in warnings[0]


# --------------------------------------------------------------------------- generated shapes

_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("éßж€"), min_size=1, max_size=30)
_SPECIAL = st.sampled_from([
    "---", "--- not a divider?", "-----------", "Signed-off-by: A U Thor <a@example.com>",
    "Reviewed-by: R <r@example.com>", "Fixes: #12", "Key : value", "https://example.com/a/b",
    "  continued line", "(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)",
    "Co-authored-by: C <c@example.com>", "Not a trailer", "", "   ", "a lone CR\rinside", "\r",
])
_LINE = (_TEXT | _SPECIAL).filter(lambda s: not s.lstrip().startswith("#"))
_SUBJECT = _TEXT.filter(lambda s: s.strip() and not s.lstrip().startswith("#"))


_HASH_LINE = st.sampled_from(["# a hash line", "#", "#12 is fixed", "# Fixes: 3"])
_TRAILERS = st.sampled_from([
    "Signed-off-by: A U Thor <a@example.com>", "Fixes: 1", "Helped-by: H <h@x>",
    "Link: https://example.com", "  folded value", "\tTab-folded value", "Key:no-space",
])


@st.composite
def messages(draw):
    """(message bytes, cleanup options, --no-verify?) for `git commit -F`.

    Lines starting with `#` only come with --cleanup=verbatim/whitespace, where git keeps them.
    """
    cleanup = draw(st.sampled_from([[], [], ["--cleanup=verbatim"], ["--cleanup=whitespace"]]))
    line = _LINE | _HASH_LINE if cleanup else _LINE
    subject = draw(_SUBJECT)
    paragraphs = draw(st.lists(st.lists(line, min_size=1, max_size=4), max_size=4))
    if draw(st.booleans()):
        paragraphs.append(draw(st.lists(_TRAILERS | line if cleanup else _TRAILERS, min_size=1, max_size=3)))
    lines = [subject] + [item for para in paragraphs for item in [""] + para]
    lines += [""] * draw(st.integers(0, 2))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))  # CR alone: one long line for git
    text = eol.join(lines)
    if draw(st.booleans()):
        text += eol
    return text.encode("utf-8"), cleanup, draw(st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=messages())
def test_generated_messages(pair, case):
    """One pair of repositories for all examples: each example commits a new change."""
    data, cleanup, no_verify = case
    n = next(pair._names)
    pair.stage("gen.txt", f"generation {n}\n")
    pair.git("commit", "-q", *cleanup, *(["--no-verify"] if no_verify else []), "-F", pair.msgfile(data))
    assert_differential(pair.plain, pair.guarded)
