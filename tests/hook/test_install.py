"""`aiguard install` / `uninstall` / `doctor` against real git repositories."""

from __future__ import annotations

import os
import re
import stat
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import Repo, aiguard

HOOKS = ("prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite")
MESSAGE_HOOKS = HOOKS[:2]  # the ones whose failure aborts a commit
STAMP_RE = re.compile(r"v[12] [0-9a-f]{8}( \S+)+")  # the rest is the implementers' format

# A prepare-commit-msg hook a user might already have: adds a trailer of its own.
APPENDING_HOOK = b"#!/bin/sh\n# the user's own hook\nprintf '\\nHook-Ran: yes\\n' >> \"$1\"\n"


def hooks_dir(repo: Repo) -> Path:
    return repo.path / ".git" / "hooks"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every non-sample file of a hooks folder: its bytes and mode."""
    return {p.name: (p.read_bytes(), mode(p)) for p in sorted(directory.iterdir())
            if p.is_file() and not p.name.endswith(".sample")}


def commit_file(repo: Repo, name: str = "a.txt", text: str = "one\ntwo\n", message: str = "Add a file",
                check: bool = True, cwd: Path | None = None):
    target = Repo(cwd) if cwd else repo
    target.write(name, text)
    target.git("add", name)
    return target.git("commit", "-q", "-m", message, check=check)


def assert_stamped(repo: Repo, added: int) -> None:
    trailers = dict(repo.trailers())
    assert trailers.get("AI-Lines") == f"0/{added}", repo.message()
    assert STAMP_RE.fullmatch(trailers.get("AIGuard-Stamp", "")), repo.message()


# --- install / uninstall ---------------------------------------------------------------------


def test_install_writes_executable_hooks_and_is_idempotent(make_repo):
    repo = make_repo()
    done = aiguard("install", cwd=repo.path)
    assert done.stderr == b""
    directory = hooks_dir(repo)
    for name in HOOKS:
        path = directory / name
        assert path.is_file()
        assert mode(path) & 0o111 == 0o111, f"{name} is not executable"
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n")
        assert f"# aiguard-hook {name}" in text
        if name != "post-commit":  # post-commit is plain shell: no Python on every commit
            assert f"AIGUARD_PYTHON='{sys.executable}'" in text
    first = snapshot(directory)

    aiguard("install", cwd=repo.path)
    assert snapshot(directory) == first, "a second install changed the hooks"
    assert not list(directory.glob("*.pre-aiguard")), "install chained its own hook"
    assert not list(directory.glob(".*aiguard-tmp")), "install left a temporary file"

    commit_file(repo)
    assert_stamped(repo, 2)


def test_uninstall_removes_hooks_and_is_idempotent(make_repo):
    repo = make_repo()
    before = snapshot(hooks_dir(repo))
    aiguard("install", cwd=repo.path)
    aiguard("uninstall", cwd=repo.path)
    assert snapshot(hooks_dir(repo)) == before
    again = aiguard("uninstall", cwd=repo.path)
    assert again.returncode == 0
    assert snapshot(hooks_dir(repo)) == before

    commit_file(repo)
    assert "AIGuard-Stamp" not in dict(repo.trailers())


def test_existing_hooks_are_chained_run_first_and_restored(make_repo, tmp_path):
    repo = make_repo()
    directory = hooks_dir(repo)
    marker = tmp_path / "commit-msg-ran"
    commit_msg_hook = f"#!/bin/sh\necho \"$1\" > '{marker}'\n".encode()
    (directory / "prepare-commit-msg").write_bytes(APPENDING_HOOK)
    (directory / "commit-msg").write_bytes(commit_msg_hook)
    os.chmod(directory / "prepare-commit-msg", 0o755)
    os.chmod(directory / "commit-msg", 0o700)
    before = snapshot(directory)

    aiguard("install", cwd=repo.path)
    assert (directory / "prepare-commit-msg.pre-aiguard").read_bytes() == APPENDING_HOOK
    assert (directory / "commit-msg.pre-aiguard").read_bytes() == commit_msg_hook
    # A second install keeps the chained hooks and does not chain itself.
    aiguard("install", cwd=repo.path)
    assert (directory / "prepare-commit-msg.pre-aiguard").read_bytes() == APPENDING_HOOK
    assert (directory / "commit-msg.pre-aiguard").read_bytes() == commit_msg_hook
    assert sorted(p.name for p in directory.glob("*.pre-aiguard")) == [
        "commit-msg.pre-aiguard", "prepare-commit-msg.pre-aiguard"]

    commit_file(repo)
    message = repo.message().decode()
    trailers = repo.trailers()
    # The user's hook ran first: its trailer is there, and aiguard's group follows it.
    assert ("Hook-Ran", "yes") in trailers
    assert message.startswith("Add a file\n\nHook-Ran: yes\n")
    assert_stamped(repo, 2)
    assert marker.exists(), "the chained commit-msg hook did not run"

    aiguard("uninstall", cwd=repo.path)
    assert snapshot(directory) == before  # byte-for-byte, same modes (executable)
    aiguard("uninstall", cwd=repo.path)
    assert snapshot(directory) == before


def test_install_refuses_to_lose_a_hook(make_repo):
    """Both a foreign hook and a chained one: install must not overwrite either."""
    repo = make_repo()
    directory = hooks_dir(repo)
    (directory / "prepare-commit-msg").write_bytes(APPENDING_HOOK)
    os.chmod(directory / "prepare-commit-msg", 0o755)
    aiguard("install", cwd=repo.path)
    replacement = b"#!/bin/sh\n# another tool wrote this over aiguard's hook\nexit 0\n"
    (directory / "prepare-commit-msg").write_bytes(replacement)
    before = snapshot(directory)
    done = aiguard("install", cwd=repo.path, check=False)
    assert done.returncode == 2
    assert len(done.stderr.decode().splitlines()) == 1, done.stderr
    assert snapshot(directory) == before


@pytest.mark.parametrize("hook", MESSAGE_HOOKS)
def test_failing_chained_hook_aborts_the_commit(make_repo, hook):
    repo = make_repo()
    commit_file(repo, "base.txt", "base\n", "base")
    head = repo.out("rev-parse", "HEAD")
    path = hooks_dir(repo) / hook
    path.write_text("#!/bin/sh\necho 'user hook says no' >&2\nexit 3\n")
    os.chmod(path, 0o755)
    # Without aiguard, the commit is refused...
    refused = commit_file(repo, check=False)
    assert refused.returncode != 0
    assert repo.out("rev-parse", "HEAD") == head

    aiguard("install", cwd=repo.path)
    # ... and with aiguard it still is.
    refused = repo.git("commit", "-q", "-m", "Add a file", check=False)
    assert refused.returncode != 0
    assert b"user hook says no" in refused.stderr
    assert repo.out("rev-parse", "HEAD") == head


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_core_hooks_path(make_repo, tmp_path, kind):
    repo = make_repo()
    if kind == "relative":
        target = repo.path / ".githooks"
        repo.git("config", "core.hooksPath", ".githooks")
    else:
        target = tmp_path / "shared-hooks"
        repo.git("config", "core.hooksPath", str(target))
    (repo.path / "sub").mkdir()
    aiguard("install", cwd=repo.path / "sub")  # from a subfolder: relative paths must still resolve
    for name in HOOKS:
        assert (target / name).is_file(), f"{name} not in {target}"
        assert mode(target / name) & 0o111
        assert not (hooks_dir(repo) / name).exists()
    assert not (repo.path / "sub" / ".githooks").exists()

    commit_file(repo)
    assert_stamped(repo, 2)

    aiguard("uninstall", cwd=repo.path)
    for name in HOOKS:
        assert not (target / name).exists()


def test_install_with_repo_option_from_outside(make_repo, tmp_path):
    repo = make_repo()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    aiguard("install", "--repo", str(repo.path), cwd=outside)
    for name in HOOKS:
        assert (hooks_dir(repo) / name).is_file()
    assert not (outside / ".git").exists()
    commit_file(repo)
    assert_stamped(repo, 2)

    aiguard("uninstall", "--repo", str(repo.path), cwd=outside)
    assert not (hooks_dir(repo) / "prepare-commit-msg").exists()


def test_worktree_commits_are_stamped(make_repo, tmp_path):
    repo = make_repo()
    commit_file(repo, "base.txt", "base\n", "base")
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "side", str(worktree))
    # Installed from inside the worktree: hooks go to the common git dir, shared by both.
    aiguard("install", cwd=worktree)
    for name in HOOKS:
        assert (hooks_dir(repo) / name).is_file()
    wt = Repo(worktree)
    commit_file(wt, "in-worktree.txt", "x\ny\nz\n", "From the worktree")
    assert_stamped(wt, 3)
    commit_file(repo, "in-main.txt", "m\n", "From the main checkout")
    assert_stamped(repo, 1)


def test_install_outside_a_repository_fails_with_one_line(tmp_path):
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    for command in ("install", "uninstall"):
        done = aiguard(command, cwd=plain, check=False)
        assert done.returncode == 2
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("aiguard: ") and "not in a git repository" in lines[0]
        assert b"Traceback" not in done.stderr
    done = aiguard("install", "--repo", str(plain), cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert len(done.stderr.decode().splitlines()) == 1


def _path_without_aiguard() -> list[str]:
    return [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "aiguard").exists()]


def test_hook_falls_back_to_aiguard_on_path_when_its_python_is_gone(make_repo, tmp_path, monkeypatch):
    repo = make_repo()
    aiguard("install", cwd=repo.path)
    for name in HOOKS:
        path = hooks_dir(repo) / name
        text = path.read_text()
        if name != "post-commit":  # post-commit is plain shell: no Python on every commit
            assert f"AIGUARD_PYTHON='{sys.executable}'" in text
        path.write_text(text.replace(f"AIGUARD_PYTHON='{sys.executable}'",
                                     f"AIGUARD_PYTHON='{tmp_path / 'gone' / 'bin' / 'python'}'"))
    # `aiguard` on PATH: a wrapper that notes it ran, then the real console script.
    console = Path(sysconfig.get_path("scripts")) / "aiguard"
    assert console.is_file()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    used = tmp_path / "fallback-used"
    (bindir / "aiguard").write_text(f"#!/bin/sh\necho \"$@\" >> '{used}'\nexec '{console}' \"$@\"\n")
    os.chmod(bindir / "aiguard", 0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bindir), *_path_without_aiguard()]))

    commit_file(repo)
    assert_stamped(repo, 2)
    assert used.read_text().startswith("stamp ")

    # With no aiguard anywhere, the commit still goes through, unstamped, with one warning
    # line (from prepare-commit-msg; commit-msg has nothing to do without an editor).
    monkeypatch.setenv("PATH", os.pathsep.join(_path_without_aiguard()))
    done = commit_file(repo, "b.txt", "b\n", "Another")
    assert "AIGuard-Stamp" not in dict(repo.trailers())
    warnings = [line for line in done.stderr.decode().splitlines() if line.startswith("aiguard:")]
    assert len(warnings) == 1, done.stderr
    assert warnings[0].endswith("prepare-commit-msg)")


# --- doctor ----------------------------------------------------------------------------------


def test_doctor_with_hooks(repo):
    done = aiguard("doctor", cwd=repo.path, check=False)
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")], out
    for name in HOOKS:
        assert any(line.startswith("ok") and f"hook {name}" in line for line in lines), out
    assert any(line.startswith("ok") and "ledger" in line for line in lines), out
    key_lines = [line for line in lines if "key store" in line]
    assert len(key_lines) == 1 and key_lines[0].startswith("ok"), out
    assert "fallback file" in key_lines[0] and "keys.json" in key_lines[0], out

    # After something is recorded, the ledger line counts it.
    aiguard("record", "--tool", "codex", "--model", "gpt-5",
            input=b"def f(values):\n    return sorted(set(values), reverse=True)[:10]\n")
    out = aiguard("doctor", cwd=repo.path).stdout.decode()
    assert any(line.startswith("ok") and "ledger" in line and "1 records" in line for line in out.splitlines()), out


def test_doctor_flags_a_hook_that_is_not_executable(repo):
    os.chmod(hooks_dir(repo) / "commit-msg", 0o644)
    done = aiguard("doctor", cwd=repo.path, check=False)
    assert done.returncode == 1
    fails = [line for line in done.stdout.decode().splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "commit-msg" in fails[0] and "executable" in fails[0], fails


def test_doctor_without_hooks_fails(make_repo):
    repo = make_repo()
    done = aiguard("doctor", cwd=repo.path, check=False)
    out = done.stdout.decode()
    assert done.returncode == 1, out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert fails, out
    assert all("hook" in line for line in fails), out
    assert any("prepare-commit-msg" in line for line in fails), out
