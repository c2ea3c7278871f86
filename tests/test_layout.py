"""The package layout is the architecture: each layer imports only the layers below it, and
no modules import each other in a circle (function-level imports count too: a cycle that
only works because one side imports late is still a cycle to read)."""

from __future__ import annotations

import ast
from pathlib import Path

import aiguard

SRC = Path(aiguard.__file__).resolve().parent

# Each package and what it may import besides itself. Top-level modules: main (the entry
# point the installed hooks import), training and datatrove (the documented Python API),
# doctor (what `aiguard doctor` checks: the state of every layer).
ALLOWED = {
    "core": set(),
    "git": {"core"},
    "store": {"core", "git"},
    "hook": {"core", "git", "store"},
    "capture": {"core", "git", "store"},
    "audit": {"core", "git", "store"},
    "daemon": {"core", "git", "store", "hook", "capture"},
    "training": {"core", "git", "store", "audit"},
    "datatrove": {"core", "git", "store", "audit", "training"},
    "doctor": {"core", "git", "store", "hook", "capture", "audit", "daemon"},
    "cli": {"core", "git", "store", "hook", "capture", "audit", "daemon", "training", "doctor"},
    "main": {"hook", "cli"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("aiguard", *parts))] = path
    return found


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """Nodes under `if TYPE_CHECKING:`: imports for annotations, never run."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                inside.update(ast.walk(child))
    return inside


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The aiguard modules a file imports when it runs, anywhere in it."""
    out = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_only(tree)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aiguard":
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.split(".")[0] == "aiguard")
    return {name for name in out if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("_") else None


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for module, imported in sorted(_graph().items()):
        layer = _layer(module)
        if layer is None:
            continue
        assert layer in ALLOWED, f"{module}: a new package or top-level module; add it to ALLOWED"
        for other in sorted(imported):
            target = _layer(other)
            if target not in (None, layer) and target not in ALLOWED[layer]:
                wrong.append(f"{module} imports {other}")
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_one():
    """The check above can fail: a made-up circle a -> b -> c -> a is found, a tail is not."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_layer_rule_sees_function_level_imports_but_not_type_only_ones(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aiguard.git import runner\n"
                    "def f():\n    from aiguard.cli import app\n")
    modules = {"aiguard.cli.app": path, "aiguard.git.runner": path}
    assert _imports(path, modules) == {"aiguard.cli.app"}


def test_the_readme_architecture_names_every_module():
    """A newcomer's map: every module is named in the README's architecture table, except the
    assistants and the clipboard backends (one per assistant/platform, listed by their registries)."""
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Architecture"):]
    section = section[:section.find("\n## ")]
    per_item = ("aiguard.capture.sources.", "aiguard.capture.clipboard.")
    missing = []
    for module in sorted(_modules()):
        leaf = module.rsplit(".", 1)[-1]
        if module.count(".") < 1 or leaf in ("__main__",) or module in ("aiguard",):
            continue
        if module.startswith(per_item) and leaf not in ("common", "backend", "watcher"):
            continue
        if f"`{leaf}" not in section and f"`{leaf}/" not in section:
            missing.append(module)
    assert not missing, f"not in the README's architecture section: {missing}"
