"""`aiguard install` / `aiguard uninstall`: aiguard's git hooks in one repository.

Hooks go where git looks for them (`git rev-parse --git-path hooks`, which honours
core.hooksPath and worktrees). A hook that was there before is kept as
`<hook>.pre-aiguard` and run first by ours; uninstall puts it back. Both are
idempotent. The scripts themselves live in the top-level hooks/ folder.
"""

from __future__ import annotations

import os
import stat
import sys
from importlib import resources
from pathlib import Path

from aiguard.core.errors import AiguardError
from aiguard.git import runner

HOOKS = ("prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite")
MARKER = "# aiguard-hook "
CHAINED_SUFFIX = ".pre-aiguard"


class InstallError(AiguardError):
    pass


def hook_template(name: str) -> str:
    packaged = resources.files("aiguard").joinpath("_hooks", name)
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
