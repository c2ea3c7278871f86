"""The hooks fail open in every state an install can be left in, with real installs.

Each test builds a real venv (`python -m venv`), installs aiguard into it with pip (a
wheel built once from this working tree, or editable from a copy of it), runs that
venv's own `aiguard install` in a repository, then breaks the install the way users do:
`pip uninstall aiguard`, deleting the venv, an `aiguard` on PATH whose Python is gone,
deleting the source folder of an editable install. Commits made with `-m`, with an
editor and with `--amend` must then go through with their message intact and exactly
one `aiguard:` line on stderr (prepare-commit-msg's; commit-msg, post-commit and
post-rewrite stay silent).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Repo, run

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> list[Path]:
    """aiguard's wheel from this working tree, and click's (all `aiguard install` needs)."""
    out = tmp_path_factory.mktemp("wheels")
    run([*PIP, "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT), "click"])
    built = sorted(out.glob("*.whl"))
    assert [p.name.split("-")[0] for p in built] == ["aiguard", "click"], built
    return built


def make_venv(path: Path) -> Path:
    """A real venv without pip of its own (the test's pip installs into it: --python)."""
    run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    return path / "bin" / "python"


def pip_into(python: Path, *args: str) -> None:
    run([*PIP, "--python", str(python), *args])


@pytest.fixture
def no_aiguard_on_path(monkeypatch, tmp_path) -> Path:
    """PATH without any `aiguard` (git stays); returns a folder put first on it."""
    first = tmp_path / "path-bin"
    first.mkdir()
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "aiguard").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join([str(first), *kept]))
    return first


def install_with(venv_python: Path, repo: Repo) -> None:
    """The venv's own console script installs the hooks, as a user would run it."""
    done = run([str(venv_python.parent / "aiguard"), "install"], cwd=repo.path)
    assert b"installed" in done.stdout, done.stdout
    text = (repo.path / ".git" / "hooks" / "prepare-commit-msg").read_text()
    assert f"AIGUARD_PYTHON='{venv_python}'" in text


def editor_script(tmp_path: Path) -> Path:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'Written in the editor\\n\\nA body line.\\n' > \"$1\"\n")
    os.chmod(editor, 0o755)
    return editor


def commits_fail_open(repo: Repo, tmp_path: Path, label: str) -> None:
    """-m, editor and --amend commits go through, messages intact, one `aiguard:` line each."""
    counter = len(list(repo.path.glob("f*.txt")))

    def check(done, message: bytes, how: str) -> None:
        assert done.returncode == 0, (label, how, done.stderr)
        assert repo.raw_message() == message, (label, how, repo.raw_message())
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("aiguard: "), (label, how, lines)
        assert "not installed any more" in lines[0] and "prepare-commit-msg" in lines[0], (label, how, lines)

    repo.write(f"f{counter}.txt", "one\ntwo\n")
    repo.git("add", "-A")
    head = repo.out("rev-parse", "HEAD").strip() if repo.git("rev-parse", "-q", "--verify", "HEAD",
                                                               check=False).returncode == 0 else None
    done = repo.git("commit", "-q", "-m", f"With -m ({label})", check=False)
    check(done, f"With -m ({label})\n".encode(), "-m")
    assert repo.out("rev-parse", "HEAD").strip() != head

    repo.write(f"f{counter + 1}.txt", "three\n")
    repo.git("add", "-A")
    done = repo.git("commit", "-q", check=False, env={"GIT_EDITOR": str(editor_script(tmp_path))})
    check(done, b"Written in the editor\n\nA body line.\n", "editor")

    done = repo.git("commit", "-q", "--amend", "-m", f"Amended ({label})", check=False)  # runs post-rewrite
    check(done, f"Amended ({label})\n".encode(), "--amend")
    assert "AIGuard-Stamp" not in dict(repo.trailers())


def test_installed_venv_stamps_then_pip_uninstall_fails_open(wheels, make_repo, tmp_path, no_aiguard_on_path):
    python = make_venv(tmp_path / "venv")
    pip_into(python, "install", "-q", "--no-deps", *map(str, wheels))
    repo = make_repo()
    install_with(python, repo)
    # Installed: stamped, and silent.
    repo.write("start.txt", "start\n")
    repo.git("add", "start.txt")
    done = repo.git("commit", "-q", "-m", "Start")
    assert done.stderr == b"", done.stderr
    assert dict(repo.trailers()).get("AI-Lines") == "0/1", repo.message()

    pip_into(python, "uninstall", "-q", "-y", "aiguard")
    assert python.exists()
    commits_fail_open(repo, tmp_path, "pip uninstall")

    # The venv deleted as well (its Python gone with it).
    shutil.rmtree(tmp_path / "venv")
    commits_fail_open(repo, tmp_path, "venv deleted")

    # An `aiguard` on PATH that cannot start any more (a pipx venv after a Python upgrade:
    # its interpreter is gone) is the same as none.
    broken = no_aiguard_on_path / "aiguard"
    broken.write_text(f"#!{tmp_path / 'old-python' / 'bin' / 'python3'}\nprint('never runs')\n")
    os.chmod(broken, 0o755)
    commits_fail_open(repo, tmp_path, "broken aiguard on PATH")


def test_recorded_python_without_aiguard_fails_open(wheels, make_repo, tmp_path, no_aiguard_on_path):
    """The venv is rebuilt in place (a Python upgrade, `python -m venv --clear`): the same
    interpreter path, no aiguard in it, its site-packages folder gone."""
    python = make_venv(tmp_path / "venv")
    pip_into(python, "install", "-q", "--no-deps", *map(str, wheels))
    repo = make_repo()
    install_with(python, repo)
    run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(tmp_path / "venv")])
    assert python.exists()
    commits_fail_open(repo, tmp_path, "venv rebuilt")


def test_editable_install_whose_source_folder_is_removed_fails_open(make_repo, tmp_path, no_aiguard_on_path):
    source = tmp_path / "aiguard-clone"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name in ("src", "hooks"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    python = make_venv(tmp_path / "venv")
    pip_into(python, "install", "-q", "--no-deps", "-e", str(source), "click")
    repo = make_repo()
    install_with(python, repo)
    text = (repo.path / ".git" / "hooks" / "prepare-commit-msg").read_text()
    assert f"AIGUARD_SRC='{source / 'src'}'" in text  # the editable install's own folder

    shutil.rmtree(source)
    commits_fail_open(repo, tmp_path, "editable source removed")
