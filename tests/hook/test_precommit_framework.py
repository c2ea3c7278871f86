"""aiguard run by the REAL pre-commit framework, from this working tree as a hook repository.

The framework builds its own venv and pip-installs aiguard from the hook repository
(needs the package index). That venv is a separate install; these tests prove it finds
the same ledger and key as the user's install (`python -m aiguard` of this interpreter).
The hook repository clone and PRE_COMMIT_HOME are session-wide, so the venv is built once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, Repo, aiguard, run, unfiled_records

SNIPPET = '''\
def chunked(items, size):
    """Split items into lists of at most size elements, keeping their order."""
    if size <= 0:
        raise ValueError("size must be positive")
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
'''

# As the README says to install them.
HOOK_TYPES = ("--hook-type", "prepare-commit-msg", "--hook-type", "commit-msg", "--hook-type", "post-commit")

HUMAN = "import itertools\n\nVERSION = '1.2.3'\nNAMES = ['alpha', 'beta']\n"


def _clean_env(base: Path) -> dict[str, str]:
    """An environment isolated from the real user, for session-scoped work (the autouse
    isolated_user fixture is function-scoped and not active here)."""
    env = dict(os.environ)
    home = base / "home"
    home.mkdir(exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Hook Builder\n\temail = builder@example.com\n"
                         "[init]\n\tdefaultBranch = main\n")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
               AIGUARD_HOME=str(home / "aiguard-state"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
               XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "AIGUARD_KEY", "PRE_COMMIT"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """A git repository holding /work/main's working tree as it is now (HEAD may lag it)."""
    base = tmp_path_factory.mktemp("hook-repo")
    env = _clean_env(base)
    dest = base / "aiguard"
    # What git would track (honours .gitignore); a plain copy when ROOT is no git checkout.
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=False)
    if listed.returncode == 0:
        for name in sorted(set(listed.stdout.decode().split("\0")) - {""}):
            source = ROOT / name
            if source.is_file():
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    else:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis", ".venv",
            "venv", "build", "dist"))
    run(["git", "init", "-q"], cwd=dest, env=env)
    run(["git", "add", "-A"], cwd=dest, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "snapshot of the working tree"], cwd=dest, env=env)
    sha = run(["git", "rev-parse", "HEAD"], cwd=dest, env=env).stdout.decode().strip()
    return dest, sha


def _config(hook_repo: tuple[Path, str]) -> str:
    path, sha = hook_repo
    return (f"repos:\n- repo: {path}\n  rev: {sha}\n  hooks:\n"
            "  - id: aiguard\n  - id: aiguard-commit-msg\n  - id: aiguard-post-commit\n")


@pytest.fixture(scope="session")
def precommit_home(tmp_path_factory, hook_repo) -> Path:
    """PRE_COMMIT_HOME with aiguard's hook venv built once for the session."""
    base = tmp_path_factory.mktemp("pre-commit-home")
    store = base / "store"
    env = _clean_env(base)
    env["PRE_COMMIT_HOME"] = str(store)
    scratch = base / "scratch"
    scratch.mkdir()
    run(["git", "init", "-q"], cwd=scratch, env=env)
    (scratch / ".pre-commit-config.yaml").write_text(_config(hook_repo))
    started = time.monotonic()
    run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=scratch, env=env)
    print(f"\npre-commit hook venv built in {time.monotonic() - started:.1f}s")
    return store


@pytest.fixture
def pc_repo(make_repo, hook_repo, precommit_home, monkeypatch) -> Repo:
    """A user repository whose prepare-commit-msg, commit-msg and post-commit hooks are pre-commit's."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(precommit_home))
    repo = make_repo("user-repo")
    repo.write(".pre-commit-config.yaml", _config(hook_repo))
    run([sys.executable, "-m", "pre_commit", "install", *HOOK_TYPES], cwd=repo.path)
    for name in ("prepare-commit-msg", "commit-msg", "post-commit"):
        assert b"pre-commit" in (repo.path / ".git" / "hooks" / name).read_bytes()
    repo.git("add", ".pre-commit-config.yaml")
    repo.git("commit", "-q", "-m", "Add the pre-commit configuration")
    return repo


def _users_attribution(repo: Repo) -> dict:
    """What the user's own install attributes in the staged change."""
    return json.loads(aiguard("attribute", "--staged", "--json", cwd=repo.path).stdout)


def _hook_venv_aiguard(precommit_home: Path) -> list[Path]:
    return sorted(precommit_home.glob("repo*/py_env-*/bin/aiguard"))


def test_manifest_passes_the_message_file(pc_repo, precommit_home):
    """With the manifest as written, pre-commit hands the hook the message file name:
    `aiguard stamp` without one would print its usage and fail the commit."""
    assert _hook_venv_aiguard(precommit_home), "pre-commit did not build aiguard's venv"
    # The setup commit went through both hooks and was stamped by the venv's aiguard.
    trailers = dict(pc_repo.trailers())
    assert trailers.get("AI-Lines") == f"0/{len(_config_lines(pc_repo))}", pc_repo.message()
    assert "AIGuard-Stamp" in trailers
    # Run the hooks by hand, as the git hook script does, and see what they receive.
    msg = pc_repo.path / ".git" / "COMMIT_EDITMSG"
    msg.write_text("Probe\n")
    for stage, hook_id in (("prepare-commit-msg", "aiguard"), ("commit-msg", "aiguard-commit-msg")):
        done = run([sys.executable, "-m", "pre_commit", "run", "--hook-stage", stage, "--verbose",
                    "--commit-msg-filename", str(msg), hook_id], cwd=pc_repo.path, check=False)
        out = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, out
        assert "Passed" in out and "usage:" not in out, out


def _config_lines(repo: Repo) -> list[str]:
    return (repo.path / ".pre-commit-config.yaml").read_text().splitlines()


def test_venv_hook_finds_the_users_ledger_and_key(pc_repo, precommit_home):
    aiguard("record", "--tool", "claude-code", "--model", "some-model", input=SNIPPET.encode())
    pc_repo.write("chunks.py", HUMAN + "\n" + SNIPPET)
    pc_repo.git("add", "chunks.py")
    expected = _users_attribution(pc_repo)
    total = len((HUMAN + "\n" + SNIPPET).splitlines())
    # (How many of the snippet's lines are found is the matcher's business; here it is that
    # the framework's venv finds them at all, and exactly as the user's install does.)
    assert expected["added"] == total and expected["ai"] > 0, expected
    done = pc_repo.git("commit", "-q", "-m", "Add chunked()")
    assert b"aiguard: " not in done.stderr, done.stderr
    trailers = pc_repo.trailers()
    assert ("Assisted-by", "claude-code:some-model") in trailers, pc_repo.message()
    # The venv's hook saw exactly what the user's install sees: same ledger, same ledger key.
    assert dict(trailers)["AI-Lines"] == f"{expected['ai']}/{total}"
    # Signed with the user's stamp key, which only the user's keys file holds.
    stamp_kid = dict(trailers)["AIGuard-Stamp"].split()[1]
    user_kid = aiguard("doctor", cwd=pc_repo.path, check=False).stdout.decode()
    assert f"stamp key {stamp_kid}" in user_kid, user_kid
    # The hook that ran is the framework's venv, not this interpreter.
    assert _hook_venv_aiguard(precommit_home)


def test_human_commit_says_zero_ai_lines(pc_repo):
    aiguard("record", "--tool", "claude-code", "--model", "some-model", input=SNIPPET.encode())
    pc_repo.write("human.py", HUMAN)
    pc_repo.git("add", "human.py")
    pc_repo.git("commit", "-q", "-m", "Human work")
    trailers = dict(pc_repo.trailers())
    assert "Assisted-by" not in trailers
    assert trailers["AI-Lines"] == f"0/{len(HUMAN.splitlines())}"
    assert trailers["AIGuard-Stamp"].startswith("v2 ")
    assert pc_repo.message().startswith(b"Human work\n\nAI-Lines: ")


def _path_without_aiguard() -> str:
    path = os.pathsep.join(d for d in ("/usr/local/bin", "/usr/bin", "/bin") if not (Path(d) / "aiguard").exists())
    assert shutil.which("git", path=path) and not shutil.which("aiguard", path=path)
    return path


@pytest.mark.parametrize("aiguard_on_path", [True, False])
def test_editor_commit_is_stamped(pc_repo, tmp_path, aiguard_on_path):
    """aiguard-commit-msg is a shell script (language: script): after the editor it runs
    aiguard from the venv the framework built for the aiguard id. With no aiguard on PATH
    the stamp can only come from there."""
    aiguard("record", "--tool", "claude-code", "--model", "some-model", input=SNIPPET.encode())
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'Written in the editor\\n\\nA body line.\\n' > \"$1\"\n")
    os.chmod(editor, 0o755)
    pc_repo.write("chunks.py", SNIPPET)
    pc_repo.git("add", "chunks.py")
    expected = _users_attribution(pc_repo)
    env = {"GIT_EDITOR": str(editor)} if aiguard_on_path else {"GIT_EDITOR": str(editor), "PATH": _path_without_aiguard()}
    done = pc_repo.git("commit", "-q", env=env)
    assert b"aiguard: " not in done.stderr, done.stderr
    message = pc_repo.message().decode()
    assert message.startswith("Written in the editor\n\nA body line.\n\n"), message
    trailers = dict(pc_repo.trailers())
    assert trailers.get("Assisted-by") == "claude-code:some-model", message
    n = len(SNIPPET.splitlines())
    assert expected["added"] == n and expected["ai"] > 0, expected
    assert trailers.get("AI-Lines") == f"{expected['ai']}/{n}", message
    assert "AIGuard-Stamp" in trailers


def test_editor_quit_without_writing_still_aborts(pc_repo, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nexit 0\n")  # leaves git's template untouched
    os.chmod(editor, 0o755)
    head = pc_repo.out("rev-parse", "HEAD")
    pc_repo.write("human.py", HUMAN)
    pc_repo.git("add", "human.py")
    done = pc_repo.git("commit", "-q", env={"GIT_EDITOR": str(editor)}, check=False)
    assert done.returncode != 0
    assert pc_repo.out("rev-parse", "HEAD") == head


def test_unstaged_changes_are_kept_and_the_staged_change_is_stamped(pc_repo):
    """The framework stashes unstaged changes around every hook stage: the stamp must
    describe what is staged, and the work tree must come back as it was."""
    aiguard("record", "--tool", "claude-code", "--model", "some-model", input=SNIPPET.encode())
    pc_repo.write("chunks.py", SNIPPET)
    pc_repo.git("add", "chunks.py")
    expected = _users_attribution(pc_repo)
    unstaged = SNIPPET + "\n\nprint(list(chunked(range(10), 3)))\n"
    pc_repo.write("chunks.py", unstaged)
    pc_repo.write("notes.txt", "untracked notes\n")
    pc_repo.git("commit", "-q", "-m", "Staged part only")
    trailers = dict(pc_repo.trailers())
    assert trailers.get("Assisted-by") == "claude-code:some-model"
    assert trailers.get("AI-Lines") == f"{expected['ai']}/{expected['added']}"
    assert (pc_repo.path / "chunks.py").read_text() == unstaged
    assert (pc_repo.path / "notes.txt").read_text() == "untracked notes\n"
    assert pc_repo.out("show", "HEAD:chunks.py") == SNIPPET


def test_post_commit_files_the_line_record_and_a_quiet_commit_prints_one_line_per_hook(pc_repo):
    """aiguard-post-commit is the plain shell script of `aiguard install` (language: script).
    With -q, what the framework prints is its one status line per hook run: the README
    quotes these three lines."""
    aiguard("record", "--tool", "claude-code", "--model", "some-model", input=SNIPPET.encode())
    pc_repo.write("chunks.py", SNIPPET)
    pc_repo.git("add", "chunks.py")
    done = pc_repo.git("commit", "-q", "-m", "Add chunked()")
    lines = (done.stdout + done.stderr).decode().splitlines()
    assert [line.split(".")[0] for line in lines] == [
        "aiguard stamp (AI provenance trailers)", "aiguard stamp (after the editor)", "aiguard line record (git note)"
    ], lines
    assert all(line.endswith("Passed") for line in lines), lines
    note = json.loads(pc_repo.out("notes", "--ref", "refs/notes/aiguard", "show", "HEAD"))
    assert "chunks.py" in json.dumps(note), note
    assert unfiled_records(pc_repo.path / ".git") == [], "the pending record was not filed"


def test_a_warning_shows_only_when_the_id_is_verbose(pc_repo, tmp_path, monkeypatch):
    """pre-commit shows a passing hook's output only with `verbose: true` (the README says
    so): aiguard's fail-open line is hidden without it."""
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("a file where the state folder should be\n")
    monkeypatch.setenv("AIGUARD_HOME", str(not_a_folder))
    pc_repo.write("a.txt", "a\n")
    pc_repo.git("add", "a.txt")
    quiet = pc_repo.git("commit", "-q", "-m", "Unstamped, silently")
    assert "AIGuard-Stamp" not in dict(pc_repo.trailers())
    out = (quiet.stdout + quiet.stderr).decode()
    assert "aiguard: " not in out and len(out.splitlines()) == 3, out

    config = pc_repo.path / ".pre-commit-config.yaml"
    config.write_text(config.read_text().replace("  - id: aiguard\n", "  - id: aiguard\n    verbose: true\n"))
    pc_repo.write("b.txt", "b\n")
    pc_repo.git("add", "b.txt", ".pre-commit-config.yaml")
    verbose = pc_repo.git("commit", "-q", "-m", "Unstamped, said")
    out = (verbose.stdout + verbose.stderr).decode()
    assert "AIGuard-Stamp" not in dict(pc_repo.trailers())
    said = [line for line in out.splitlines() if line.startswith("aiguard: ")]
    assert len(said) == 1 and "commit not stamped" in said[0], out
    assert "- hook id: aiguard" in out, out


def test_a_venv_that_lost_aiguard_lets_the_commit_through(pc_repo, precommit_home):
    """The aiguard id runs `python -S -c ...` in pre-commit's venv: a venv whose aiguard can
    no longer be imported (half-deleted, a broken upgrade) says so in one line and the
    commit goes on, unstamped, instead of failing it."""
    packages = sorted(precommit_home.glob("repo*/py_env-*/lib/python*/site-packages/aiguard"))
    assert packages, "pre-commit did not build aiguard's venv"
    moved = [p.rename(p.with_name("aiguard-moved-away")) for p in packages]
    try:
        pc_repo.write("notes.txt", "a human line\n")
        pc_repo.git("add", "notes.txt")
        done = pc_repo.git("commit", "-m", "Without aiguard", check=False)
        assert done.returncode == 0, done.stderr
        assert "AIGuard-Stamp" not in dict(pc_repo.trailers())
        msg = pc_repo.path / ".git" / "COMMIT_EDITMSG"
        msg.write_text("Probe\n")
        shown = run([sys.executable, "-m", "pre_commit", "run", "--hook-stage", "prepare-commit-msg", "--verbose",
                     "--commit-msg-filename", str(msg), "aiguard"], cwd=pc_repo.path, check=False)
        out = shown.stdout.decode() + shown.stderr.decode()
        assert shown.returncode == 0, out
        assert [line for line in out.splitlines() if line.startswith("aiguard:")] == [
            line for line in out.splitlines() if "cannot start" in line], out
        assert "aiguard: cannot start (No module named 'aiguard')" in out, out
    finally:
        for path, original in zip(moved, packages):
            path.rename(original)
