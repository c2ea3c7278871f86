"""`aiguard install` / `aiguard uninstall`: aiguard's git hooks in one repository.

Hooks go where git looks for them (`git rev-parse --git-path hooks`, which honours
core.hooksPath and worktrees). A hook that was there before is kept as
`<hook>.pre-aiguard` and run first by ours; uninstall puts it back. Both are
idempotent. The scripts themselves live in the top-level hooks/ folder.

The line records travel with plain `git push` / `git fetch` (unless turned off with
--no-sync-notes, which sets aiguard.syncNotes=false): each remote gets a fetch refspec
that brings its refs/notes/aiguard to refs/notes/remotes/<remote>/aiguard (read beside
ours), `notes.aiguard.mergeStrategy` is cat_sort_uniq (two records of one commit are
kept and read as their union), and the pre-push hook sends ours along.
"""

from __future__ import annotations

import os
import stat
import sys
from importlib import resources
from pathlib import Path

from aiguard.core.errors import AiguardError
from aiguard.git import runner

HOOKS = ("prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite", "pre-push")
NOTES_REF = "refs/notes/aiguard"
SYNC_KEY = "aiguard.syncNotes"
MERGE_KEY = "notes.aiguard.mergeStrategy"
MERGE_STRATEGY = "cat_sort_uniq"
MARKER = "# aiguard-hook "
CHAINED_SUFFIX = ".pre-aiguard"


class InstallError(AiguardError):
    pass


def hook_template(name: str) -> str:
    packaged = resources.files("aiguard").joinpath("_hooks").joinpath(name)
    if packaged.is_file():
        return packaged.read_text()
    source_tree = Path(__file__).resolve().parents[3] / "hooks" / name  # an editable install
    if source_tree.is_file():
        return source_tree.read_text()
    raise InstallError(f"aiguard's {name} hook script is missing from this installation; reinstall aiguard")


def _quoted(text: str) -> str:
    """Text to put between single quotes in a shell script."""
    return text.replace("'", "'\\''")


def hooks_dir(repo: str | None) -> Path:
    if not runner.in_repo(repo):
        raise InstallError(f"{os.path.abspath(repo or '.')} is not in a git repository")
    path = Path(runner.git_path("hooks", cwd=repo))
    if not path.is_absolute():
        path = Path(repo or ".").resolve() / path
    return path


def is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(4096)
    except OSError:
        return False


def install(repo: str | None = None) -> list[str]:
    """Install the hooks; returns one line per hook saying what was done."""
    directory = hooks_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    report = []
    for name in HOOKS:
        path = directory / name
        script = (hook_template(name).replace("@AIGUARD_PYTHON@", _quoted(sys.executable))
                  .replace("@AIGUARD_SRC@", _quoted(str(Path(__file__).resolve().parents[2]))))
        chained = path.with_name(name + CHAINED_SUFFIX)
        if path.exists() and not is_ours(path):
            if chained.exists():
                raise InstallError(f"{path} is not aiguard's, and {chained} exists too; move one of them away")
            os.replace(path, chained)
            action = f"installed {path} (the existing hook is kept as {chained.name} and runs first)"
        elif path.exists():
            action = f"updated {path}"
        else:
            action = f"installed {path}"
        tmp = path.with_name(f".{name}.aiguard-tmp")
        tmp.write_text(script)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        report.append(action)
    return report


def fetch_refspec(remote: str) -> str:
    return f"+{NOTES_REF}:refs/notes/remotes/{remote}/aiguard"


def remotes(repo: str | None) -> list[str]:
    return runner.git(["remote"], cwd=repo, check=False).decode("utf-8", "surrogateescape").split()


def _config_all(key: str, repo: str | None) -> list[str]:
    out = runner.git(["config", "--get-all", key], cwd=repo, check=False)
    return out.decode("utf-8", "surrogateescape").splitlines()


def sync_enabled(repo: str | None) -> bool:
    value = runner.git(["config", "--bool", SYNC_KEY], cwd=repo, check=False).decode().strip()
    return value != "false"


def sync_notes(repo: str | None = None, enable: bool | None = None) -> list[str]:
    """Make the line records travel with push/fetch (enable None: as configured, on by default)."""
    if enable is False:
        runner.git(["config", SYNC_KEY, "false"], cwd=repo)
        removed = unsync_notes(repo)
        return [f"line records: not synced ({SYNC_KEY}=false){'; ' + removed if removed else ''}"]
    if enable is None and not sync_enabled(repo):
        return [f"line records: not synced ({SYNC_KEY}=false; `aiguard install --sync-notes` turns it on)"]
    if enable:
        runner.git(["config", "--unset-all", SYNC_KEY], cwd=repo, check=False)
    added = []
    for remote in remotes(repo):
        spec = fetch_refspec(remote)
        if spec not in _config_all(f"remote.{remote}.fetch", repo):
            runner.git(["config", "--add", f"remote.{remote}.fetch", spec], cwd=repo)
            added.append(remote)
    strategy = _config_all(MERGE_KEY, repo)
    if not strategy:
        runner.git(["config", MERGE_KEY, MERGE_STRATEGY], cwd=repo)
    elif strategy[-1] != MERGE_STRATEGY:
        return [f"line records: {MERGE_KEY} is {strategy[-1]!r}, left as it is (aiguard reads {MERGE_STRATEGY}'s "
                "union of two records; `ours`/`theirs` keep one)"]
    where = f"fetch refspec added for {', '.join(added)}" if added else (
        "every remote already fetches them" if remotes(repo) else "no remotes yet: run install again after adding one")
    return [f"line records: pushed with every git push (pre-push), fetched with git fetch ({where})"]


def unsync_notes(repo: str | None) -> str:
    """Remove the fetch refspecs sync_notes added; returns what was done, or ''."""
    removed = []
    for remote in remotes(repo):
        spec = fetch_refspec(remote)
        if spec in _config_all(f"remote.{remote}.fetch", repo):
            runner.git(["config", "--fixed-value", "--unset-all", f"remote.{remote}.fetch", spec], cwd=repo)
            removed.append(remote)
    return f"fetch refspec removed for {', '.join(removed)}" if removed else ""


def uninstall(repo: str | None = None) -> list[str]:
    directory = hooks_dir(repo)
    report = []
    for name in HOOKS:
        path = directory / name
        chained = path.with_name(name + CHAINED_SUFFIX)
        if is_ours(path):
            path.unlink()
            if chained.exists():
                os.replace(chained, path)
                report.append(f"removed aiguard from {path} (restored the hook it had chained)")
            else:
                report.append(f"removed {path}")
        else:
            report.append(f"{path}: not aiguard's, left alone" if path.exists() else f"{path}: nothing to remove")
    from aiguard.git import pending
    unfiled = pending.remove_all(repo)  # the post-commit hook that would file them is gone
    if unfiled:
        report.append(f"removed {unfiled} line record(s) left by commits that never happened ({pending.PENDING})")
    removed = unsync_notes(repo)
    if removed:
        report.append(f"line records: {removed} (refs/notes/aiguard itself is kept)")
    return report


def status(repo: str | None = None) -> dict[str, str]:
    """Per hook: "aiguard", "aiguard+chained", "other", "missing" or "not-executable"."""
    directory = hooks_dir(repo)
    result = {}
    for name in HOOKS:
        path = directory / name
        if not path.exists():
            result[name] = "missing"
        elif not os.stat(path).st_mode & stat.S_IXUSR:
            result[name] = "not-executable"
        elif is_ours(path):
            result[name] = "aiguard+chained" if path.with_name(name + CHAINED_SUFFIX).exists() else "aiguard"
        else:
            result[name] = "other"
    return result
