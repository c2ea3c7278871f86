"""The repository's AI policy (.aiguard.toml, or [tool.aiguard] in pyproject.toml).

Validation follows one schema table: every key, its type, its allowed values and
what it means. A bad key or value is one line naming the file, the key and what
is allowed (PolicyError; the CLI exits 2 with it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

from aiguard.core.errors import AiguardError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class PolicyError(AiguardError):
    pass


class Policy(NamedTuple):
    require_stamp: bool = True
    external_models: str = "disclose"
    internal_models: tuple[str, ...] = ()
    forbid_paths: tuple[str, ...] = ()
    max_ai_share: float = 1.0
    unmatched: str = "notice"  # added text the hook did not match (AI-Unmatched): "notice", "error", "allow"
    exempt_authors: tuple[str, ...] = ("*[bot]*",)
    exempt_merges: bool = True
    exempt_before: str | None = None  # an ISO date or a commit
    source: str = "defaults"  # the file it came from


class _Key(NamedTuple):
    field: str
    kind: str  # "bool", "choice", "globs", "share", "date-or-commit"
    allowed: str  # said in errors
    choices: tuple[str, ...] = ()


SCHEMA = {
    "require-stamp": _Key("require_stamp", "bool", "true or false"),
    "external-models": _Key("external_models", "choice", '"disclose", "forbid" or "allow"',
                            ("disclose", "forbid", "allow")),
    "internal-models": _Key("internal_models", "globs", 'a list of TOOL:MODEL globs, e.g. ["metacode:*"]'),
    "forbid-paths": _Key("forbid_paths", "globs", 'a list of path globs, e.g. ["data/training/**"]'),
    "max-ai-share": _Key("max_ai_share", "share", "a number from 0 to 1"),
    "unmatched": _Key("unmatched", "choice", '"notice", "error" or "allow"', ("notice", "error", "allow")),
    "exempt-authors": _Key("exempt_authors", "globs", 'a list of "Name <email>" globs, e.g. ["*[bot]*"]'),
    "exempt-merges": _Key("exempt_merges", "bool", "true or false"),
    "exempt-before": _Key("exempt_before", "date-or-commit", "an ISO date (2026-01-31) or a commit id"),
}


def _check(name: str, spec: _Key, value: Any, where: str) -> Any:
    def bad() -> PolicyError:
        return PolicyError(f"{where}: {name} = {value!r} is not valid; expected {spec.allowed}")

    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise bad()
        return value
    if spec.kind == "globs":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad()
        return tuple(value)
    if spec.kind == "share":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise bad()
        return float(value)
    if spec.kind == "date-or-commit":
        text = str(value) if not isinstance(value, str) else value
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.+-]+Z?)?|[0-9a-fA-F]{7,64}", text):
            raise bad()
        return text
    raise AssertionError(spec.kind)


def parse(data: dict, where: str) -> Policy:
    """A Policy from the TOML table `data` (from file `where`)."""
    values: dict[str, Any] = {}
    for name, value in data.items():
        spec = SCHEMA.get(name)
        if spec is None:
            known = ", ".join(SCHEMA)
            raise PolicyError(f"{where}: unknown key {name!r} (known keys: {known})")
        values[spec.field] = _check(name, spec, value, where)
    return Policy(**values, source=where)


def load(root: Path) -> Policy:
    """The policy of the repository at root: .aiguard.toml, else pyproject's [tool.aiguard]."""
    dedicated = root / ".aiguard.toml"
    if dedicated.exists():
        return parse(_read(dedicated), str(dedicated))
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        tool = _read(pyproject).get("tool", {})
        table = tool.get("aiguard") if isinstance(tool, dict) else None
        if table is not None:
            if not isinstance(table, dict):
                raise PolicyError(f"{pyproject}: [tool.aiguard] must be a table")
            return parse(table, f"{pyproject} [tool.aiguard]")
    return Policy()


def load_at(rev: str, cwd: str | None = None) -> Policy | None:
    """The policy as committed at `rev`, or None when that commit has no policy file.

    verify reads the policy from the base of the range, so a pull request cannot
    relax the rules it is checked against by editing them.
    """
    from aiguard.git import runner

    for name in (".aiguard.toml", "pyproject.toml"):
        shown = runner.git(["cat-file", "blob", f"{rev}:{name}"], cwd=cwd, check=False)
        if not shown:
            continue
        where = f"{rev}:{name}"
        try:
            data = tomllib.loads(shown.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
            raise PolicyError(f"{where}: not valid TOML: {_one_line(exc)}") from None
        if name == ".aiguard.toml":
            return parse(data, where)
        tool = data.get("tool", {})
        table = tool.get("aiguard") if isinstance(tool, dict) else None
        if table is not None:
            if not isinstance(table, dict):
                raise PolicyError(f"{where}: [tool.aiguard] must be a table")
            return parse(table, f"{where} [tool.aiguard]")
    return None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise PolicyError(f"{path}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None


def matches(value: str, globs: tuple[str, ...]) -> bool:
    """`*` and `?` wildcards only: `[bot]` in "*[bot]*" means the text "[bot]", not a class."""
    return any(_simple_glob(glob).fullmatch(value) for glob in globs)


def _simple_glob(glob: str) -> re.Pattern[str]:
    key = "simple:" + glob
    pattern = _GLOB_CACHE.get(key)
    if pattern is None:
        text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
        pattern = _GLOB_CACHE[key] = re.compile(text, re.IGNORECASE | re.DOTALL)
    return pattern


def path_matches(path: str, globs: tuple[str, ...]) -> bool:
    """Path globs where `**` spans folders and `*` stays within one."""
    return any(_path_glob(glob).fullmatch(path) for glob in globs)


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _path_glob(glob: str) -> re.Pattern[str]:
    pattern = _GLOB_CACHE.get(glob)
    if pattern is None:
        out = []
        i = 0
        while i < len(glob):
            if glob.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            elif glob.startswith("**", i):
                out.append(".*")
                i += 2
            elif glob[i] == "*":
                out.append("[^/]*")
                i += 1
            elif glob[i] == "?":
                out.append("[^/]")
                i += 1
            else:
                out.append(re.escape(glob[i]))
                i += 1
        if glob.endswith("/"):
            out.append(".*")
        pattern = _GLOB_CACHE[glob] = re.compile("".join(out))
    return pattern
