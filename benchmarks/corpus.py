"""Deterministic benchmark corpora from Python code installed on this machine.

Sources: the CPython stdlib (``sysconfig.get_paths()["stdlib"]``) and
site-packages. Every top-level function and every method of a top-level class
is extracted with ``ast`` into a snippet. Snippets are split **by package** into
two disjoint sets:

* "ai": snippets that benchmarks record into the ledger (stand-ins for model
  output). The whole stdlib is here, plus most site-packages packages.
* "human": held-out code. A seeded choice of small and mid-sized site-packages
  packages, filled until it holds about ``human_functions`` functions.

Excluded: tests (``test``/``tests``/``testing`` folders, ``test_*.py``,
``*_test.py``, ``conftest.py``), vendored copies (``_vendor``, ``vendored``, and
setuptools' ``_distutils`` copy of the stdlib), aiguard itself, and ``__pycache__``.
A text that occurs more than once (after collapsing whitespace) is kept once,
in the "ai" set if it occurs there.

Parsing all of site-packages takes ~10-20 s, so the result is cached (pickle)
under benchmarks/data/ (git-ignored); the cache key covers the interpreter,
the seed and the split parameters.

Run ``python benchmarks/corpus.py`` for a summary.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import pickle
import random
import sys
import sysconfig
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CACHE_VERSION = 5

EXCLUDED_DIRS = {"test", "tests", "testing", "idle_test", "_vendor", "vendored", "_distutils",
                 "__pycache__", "site-packages", "lib-dynload", "aiguard", "_aiguard"}
EXCLUDED_PACKAGES = {"aiguard", "test", "tests", "idlelib", "lib2to3", "__phello__", "turtledemo"}
# Generated build data named after the platform (config-3.11-x86_64-linux-gnu/,
# _sysconfigdata__linux_x86_64-linux-gnu.py); left out of the stdlib-only corpus.
PLATFORM_NAMED = ("config-", "_sysconfigdata")
# Packages too large to be held out: they would swallow the human set.
MAX_HUMAN_PACKAGE_FUNCTIONS = 3000


@dataclass
class Snippet:
    package: str  # "stdlib:json", "site:requests"
    path: str  # absolute path of the source file
    line: int  # 1-based first line (first decorator, if any)
    text: str  # dedented source, ends with a newline
    lines: int


@dataclass
class Corpus:
    seed: int
    ai: list[Snippet]  # seeded shuffle
    human: list[Snippet]  # seeded shuffle
    ai_packages: list[str]
    human_packages: list[str]
    human_files: list[str]  # source files of the human packages (sorted)
    build_seconds: float = 0.0
    stats: dict = field(default_factory=dict)


def _excluded_file(name: str) -> bool:
    return (not name.endswith(".py") or name.startswith("test_") or name.endswith("_test.py")
            or name in ("conftest.py", "setup.py"))


def pinned_root(package: str) -> str:
    """The folder holding an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"corpus: package {package!r} is not installed (pip install -e '.[test]' pins it)")
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def pinned_files(packages: tuple[str, ...]) -> dict[str, list[str]]:
    """Unit name -> its .py files, for pinned packages: each sub-package or module two levels
    down is a unit ("pinned:networkx/algorithms/flow"), so that the split has units to choose."""
    units: dict[str, list[str]] = {}
    for package in packages:
        root = pinned_root(package)
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, package)):
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and "vendor" not in d)
            for name in sorted(filenames):
                if _excluded_file(name):
                    continue
                full = os.path.join(dirpath, name)
                parts = os.path.relpath(full, root)[:-3].split(os.sep)
                units.setdefault("pinned:" + "/".join(parts[:3]), []).append(full)
    return units


def source_files(stdlib_only: bool = False) -> dict[str, list[str]]:
    """Package name -> its .py files (sorted), for the stdlib and (unless stdlib_only) site-packages."""
    paths = sysconfig.get_paths()
    stdlib = paths["stdlib"]
    roots = [("stdlib", stdlib)]
    for key in ("purelib", "platlib"):
        if not stdlib_only and paths[key] not in [r for _, r in roots]:
            roots.append(("site", paths[key]))
    packages: dict[str, list[str]] = {}
    for label, root in roots:
        if not os.path.isdir(root):
            continue
        for entry in sorted(os.listdir(root)):
            full = os.path.join(root, entry)
            if os.path.isdir(full):
                name = entry
                if name in EXCLUDED_DIRS or name in EXCLUDED_PACKAGES or name.endswith((".dist-info", ".egg-info")):
                    continue
                files = []
                for dirpath, dirnames, filenames in os.walk(full):
                    dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and "vendor" not in d)
                    files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not _excluded_file(f))
            elif entry.endswith(".py") and not _excluded_file(entry):
                name = entry[:-3]
                if name in EXCLUDED_PACKAGES or name.startswith("_hypothesis"):
                    continue
                files = [full]
            else:
                continue
            if stdlib_only and name.startswith(PLATFORM_NAMED):
                continue  # named after the build's platform: the split must not depend on it
            if files:
                packages.setdefault(f"{label}:{name}", []).extend(files)
    return packages


def extract(path: str, package: str) -> list[Snippet]:
    """Top-level functions and methods of top-level classes of one file."""
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
        return []
    lines = source.splitlines(keepends=True)
    nodes = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes.append(node)
        elif isinstance(node, ast.ClassDef):
            nodes.extend(n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    out = []
    for node in nodes:
        if node.end_lineno is None:
            continue
        # Whole lines from the first decorator to the end of the body: what
        # ast.get_source_segment(padded=True) returns for the def, plus its
        # decorators. (get_source_segment itself re-splits the whole file on
        # every call, which made extraction quadratic: 9 minutes instead of 15 s.)
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        text = textwrap.dedent("".join(lines[first - 1:node.end_lineno])).rstrip() + "\n"
        if not text.strip():
            continue
        out.append(Snippet(package, path, first, text, text.count("\n")))
    return out


def _normal(text: str) -> str:
    return " ".join(text.split())


def _cache_key(seed: int, human_functions: int, stdlib_only: bool, pinned: tuple[str, ...] = ()) -> str:
    paths = sysconfig.get_paths()
    ident = repr((CACHE_VERSION, sys.version, paths["stdlib"], paths["purelib"], seed, human_functions,
                  sorted(EXCLUDED_DIRS), sorted(EXCLUDED_PACKAGES), MAX_HUMAN_PACKAGE_FUNCTIONS)
                 + ((True,) if stdlib_only else ()) + ((pinned,) if pinned else ()))
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def build(seed: int = 1, human_functions: int = 6000, use_cache: bool = True, stdlib_only: bool = False,
          pinned: tuple[str, ...] = (), held_out: tuple[str, ...] = ()) -> Corpus:
    """The corpus for this seed; deterministic for a given machine and interpreter.

    stdlib_only: only the stdlib, split by top-level module (the human set is then
    a seeded choice of stdlib modules); the same on every machine with the same
    Python version, and parsed in ~2 s.
    pinned, held_out: only these installed packages (pinned to exact versions by the test
    extra), the "ai" set from `pinned` and the "human" set from `held_out`, split by
    sub-package. The same files on every Python build, so the CI gate's numbers do not
    move with the stdlib of the Python that runs it. Two projects, not one split in two:
    a project copies code between its own modules, which would count as false positives.
    """
    cache = DATA / f"corpus-{_cache_key(seed, human_functions, stdlib_only, pinned + held_out)}.pickle"
    if use_cache and cache.exists():
        with open(cache, "rb") as fh:
            return _from_plain(pickle.load(fh))
    started = time.perf_counter()
    files_by_package = pinned_files(pinned + held_out) if pinned else source_files(stdlib_only)
    by_package = {name: [s for f in files for s in extract(f, name)] for name, files in files_by_package.items()}

    rng = random.Random(seed)
    if pinned:
        held_out_from = tuple(f"pinned:{name}/" for name in held_out)
    else:
        held_out_from = ("stdlib:",) if stdlib_only else ("site:",)
    candidates = sorted(p for p in by_package if p.startswith(held_out_from)
                        and 0 < len(by_package[p]) <= MAX_HUMAN_PACKAGE_FUNCTIONS)
    rng.shuffle(candidates)
    human_packages: list[str] = []
    count = 0
    for name in candidates:
        if count >= human_functions:
            break
        human_packages.append(name)
        count += len(by_package[name])
    human_set = set(human_packages)
    ai_packages = sorted(p for p in by_package if p not in human_set and by_package[p])
    human_packages.sort()

    seen: set[str] = set()
    ai: list[Snippet] = []
    for name in ai_packages:
        for s in by_package[name]:
            key = _normal(s.text)
            if key not in seen:
                seen.add(key)
                ai.append(s)
    human: list[Snippet] = []
    for name in human_packages:
        for s in by_package[name]:
            key = _normal(s.text)
            if key not in seen:
                seen.add(key)
                human.append(s)
    rng.shuffle(ai)
    rng.shuffle(human)
    human_files = sorted(f for name in human_packages for f in files_by_package[name])
    corpus = Corpus(seed, ai, human, ai_packages, human_packages, human_files)
    corpus.build_seconds = time.perf_counter() - started
    corpus.stats = {
        "ai_snippets": len(ai), "human_snippets": len(human),
        "ai_packages": len(ai_packages), "human_packages": len(human_packages),
        "ai_lines": sum(s.lines for s in ai), "human_lines": sum(s.lines for s in human),
        "human_files": len(human_files),
    }
    if use_cache:
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(_to_plain(corpus), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    return corpus


def _to_plain(corpus: Corpus) -> dict:
    """Plain data for the cache (a pickled class would be tied to how this module was imported)."""
    data = dict(vars(corpus))
    data["ai"] = [tuple(vars(s).values()) for s in corpus.ai]
    data["human"] = [tuple(vars(s).values()) for s in corpus.human]
    return data


def _from_plain(data: dict) -> Corpus:
    data = dict(data)
    data["ai"] = [Snippet(*t) for t in data["ai"]]
    data["human"] = [Snippet(*t) for t in data["human"]]
    return Corpus(**data)


def read_lines(path: str) -> list[str]:
    """A file's lines (newline-terminated); [] when unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError):
        return []
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines()]


def human_hunks(corpus: Corpus, count: int, size: int = 40, seed: int = 1) -> list[tuple[str, int, str]]:
    """`count` disjoint hunks of `size` consecutive lines of held-out files: (path, first line, text).

    Hunks with fewer than size/4 non-blank lines are skipped.
    """
    rng = random.Random(f"hunks-{seed}")
    files = list(corpus.human_files)
    rng.shuffle(files)
    candidates = []
    for path in files:
        lines = read_lines(path)
        for start in range(0, len(lines) - size + 1, size):
            chunk = lines[start:start + size]
            if sum(1 for l in chunk if l.strip()) >= size // 4:
                candidates.append((path, start + 1, "".join(chunk)))
        if len(candidates) >= 4 * count:
            break
    rng.shuffle(candidates)
    return candidates[:count]


def human_lines(corpus: Corpus, seed: int = 1, files: int = 200) -> list[list[str]]:
    """Line lists of a seeded sample of held-out files (for context lines)."""
    rng = random.Random(f"lines-{seed}")
    chosen = list(corpus.human_files)
    rng.shuffle(chosen)
    out = []
    for path in chosen:
        lines = read_lines(path)
        if len(lines) >= 40:
            out.append(lines)
        if len(out) >= files:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--human-functions", type=int, default=6000)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    corpus = build(args.seed, args.human_functions, use_cache=not args.no_cache)
    print(f"loaded in {time.perf_counter() - started:.1f} s (built in {corpus.build_seconds:.1f} s)")
    for key, value in corpus.stats.items():
        print(f"{key}: {value}")
    print("human packages:", ", ".join(p.split(":", 1)[1] for p in corpus.human_packages))


if __name__ == "__main__":
    main()
