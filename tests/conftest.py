"""Shared fixtures: an isolated user (HOME, AIGUARD_HOME, git config, no keyring)
and real git repositories in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Invented for the tests: a function an assistant might have written.
MERGE_INTERVALS = '''\
def merge_intervals(intervals):
    """Merge overlapping [start, end] intervals and return them sorted."""
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
'''


# An invented function with a comment, a call wrapped over several lines and an `else:`, and
# typing.py (real code nobody here wrote) as the big existing file to paste parts of it into
# (tests/core/test_line_evidence.py, tests/store/test_record_lines.py).
SETTINGS_READER = '''\
def load_settings(path, defaults):
    """Read the settings file, falling back to the defaults."""
    settings = dict(defaults)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                # Blank lines and comments carry no setting.
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                name, _, value = line.partition("=")
                if name.strip() in settings:
                    settings[name.strip()] = parse_value(
                        value.strip(),
                        number,
                    )
                else:
                    unknown.append((number, name))
    else:
        warnings.warn(f"no settings file at {path}", stacklevel=2)
    return settings
'''
TYPING_LINES = Path(typing.__file__).read_text(encoding="utf-8").splitlines(True)
# Where a paste goes into typing.py (0-based line): at a top-level boundary past its first
# thousand lines, outside any docstring.
TYPING_PASTE_AT = next(n for n in range(1000, len(TYPING_LINES)) if TYPING_LINES[n].startswith(("def ", "class ")))


def paste_into_typing(paste: list[str], above: list[str] = (), below: list[str] = ()) -> tuple[str, list[int]]:
    """typing.py with these lines inserted at TYPING_PASTE_AT, its other lines unchanged; the
    text and the added lines (1-based)."""
    added = [*above, *paste, *below]
    at = TYPING_PASTE_AT
    return "".join(TYPING_LINES[:at] + added + TYPING_LINES[at:]), list(range(at + 1, at + 1 + len(added)))



# A second invented function, for tests that record two.
ROLLING_MEDIAN = """\
def rolling_median(values, width):
    window, out = [], []
    for value in values:
        window.append(value)
        if len(window) > width:
            window.pop(0)
        ordered = sorted(window)
        middle = len(ordered) // 2
        out.append(ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2)
    return out
"""


class MemoryLedger:
    """The ledger's look-up side in memory, for matcher tests without SQLite: records are
    fingerprinted as the ledger does and numbered from 1."""

    def __init__(self, key: bytes, skip_empty: bool = False):
        from collections import defaultdict

        from aiguard.core.fingerprint import Hasher

        self.hasher = Hasher(key)
        self.index: dict[int, dict] = {0: defaultdict(list), 1: defaultdict(list)}
        self.tokens: dict[int, int] = {}
        self.lines: dict[int, object] = {}  # record -> fingerprint.LineHashes
        self.skip_empty = skip_empty  # a text without fingerprints gets no record id

    def add(self, text: str, path: str | None = "snippet.py", lines: bool = True) -> int | None:
        """The new record's id; without `lines`, it has no line hashes (made before the ledger kept them)."""
        from aiguard.core.fingerprint import fingerprint_record

        fingerprints, count, line_hashes = fingerprint_record(text, self.hasher, path)
        if self.skip_empty and not fingerprints:
            return None
        record = len(self.tokens) + 1
        self.tokens[record] = count
        if lines:
            self.lines[record] = line_hashes
        for f in fingerprints:
            self.index[f.stream][f.hash].append((record, f.pos))
        return record

    def lookup(self, stream, hashes):
        table = self.index[stream]
        return {h: table[h] for h in hashes if h in table}

    def record_tokens(self, ids):
        return {i: self.tokens[i] for i in ids}

    def record_lines(self, ids):
        return {i: self.lines[i] for i in ids if i in self.lines}


def unfiled_records(git_dir: Path) -> list[str]:
    """The line records in <git_dir>/aiguard-pending still waiting for their commit (the
    post-commit hook empties a record it filed; the next stamp sweeps it)."""
    folder = Path(git_dir) / "aiguard-pending"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.stat().st_size)


def run(args, cwd=None, env=None, input=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, input=input, capture_output=True)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{args} exited {done.returncode}\nstdout: {done.stdout.decode(errors='replace')}\n"
            f"stderr: {done.stderr.decode(errors='replace')}"
        )
    return done


def aiguard(*args, cwd=None, input=None, check=True) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess, as a user would."""
    return run([sys.executable, "-m", "aiguard", *args], cwd=cwd, input=input, check=check)


class Repo:
    """A real git repository in a temporary folder."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args, input=None, check=True, env=None) -> subprocess.CompletedProcess:
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update(env)
        return run(["git", *args], cwd=self.path, input=input, check=check, env=full_env)

    def out(self, *args) -> str:
        return self.git(*args).stdout.decode()

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, str):
            path.write_text(text)
        else:
            path.write_bytes(text)
        return path

    def message(self, rev: str = "HEAD") -> bytes:
        return self.git("log", "-1", "--format=%B", rev).stdout

    def raw_message(self, rev: str = "HEAD") -> bytes:
        """The message bytes exactly as stored in the commit object."""
        raw = self.git("cat-file", "commit", rev).stdout
        return raw.split(b"\n\n", 1)[1]

    def trailers(self, rev: str = "HEAD") -> list[tuple[str, str]]:
        out = self.git("log", "-1", "--format=%(trailers:unfold,only)", rev).stdout.decode("utf-8", "replace")
        pairs = []
        for line in out.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                pairs.append((key.strip(), value.strip()))
        return pairs


@pytest.fixture(autouse=True)
def isolated_user(tmp_path_factory, monkeypatch):
    """Every test gets its own HOME, AIGUARD_HOME and git identity, and no OS keyring."""
    home = tmp_path_factory.mktemp("home")
    aiguard_home = home / "aiguard-state"
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AIGUARD_HOME", str(aiguard_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "AIGUARD_KEY", "AIGUARD_DISABLE",
                 "GIT_EDITOR", "EDITOR", "VISUAL", "PRE_COMMIT_COMMIT_MSG_SOURCE",
                 "PRE_COMMIT_COMMIT_OBJECT_NAME", "GIT_REFLOG_ACTION",
                 # a developer's real clipboard must not reach the tests' daemons
                 "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def make_repo(tmp_path):
    """Factory for plain repositories (aiguard not installed)."""
    counter = iter(range(1000))

    def make(name: str | None = None) -> Repo:
        path = tmp_path / (name or f"repo{next(counter)}")
        path.mkdir()
        run(["git", "init", "-q"], cwd=path)
        return Repo(path)

    return make


@pytest.fixture
def repo(make_repo) -> Repo:
    """A repository with aiguard's hooks installed."""
    r = make_repo("repo")
    aiguard("install", cwd=r.path)
    return r
