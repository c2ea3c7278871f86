"""The command line documents itself, and the README's Commands table keeps up with it
(after sqlite-utils' test_docs): every command has help and a README entry, and every list
of assistants or sources in a help text or the README is the code's own registry."""

from __future__ import annotations

import re

import click
import pytest

from aiguard.cli.app import cli
from aiguard.store.ledger import SOURCES
from aiguard.capture.sources import has_hooks, registry
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ASSISTANTS = list(registry())
HOOKED = [name for name, module in registry().items() if has_hooks(module)]


def commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    """(path, command) for every visible command and group under `group`."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from commands(command, path + (name,))


ALL = list(commands())
IDS = [" ".join(path) for path, _ in ALL]


def readme_commands() -> set[tuple[str, ...]]:
    """Command paths named by the Commands table's first column: `aiguard daemon run\\|stop`, ..."""
    table = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in table.splitlines():
        if not row.startswith("| `aiguard"):
            continue
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        for span in re.findall(r"`aiguard ([^`]*)`", first_cell):
            words: list[list[str]] = []
            for word in span.split():
                if not re.fullmatch(r"[a-z][a-z-]*(\\\|[a-z][a-z-]*)*", word):
                    break  # arguments and options: RANGE, [--repo DIR], --format ...
                words.append(word.split("\\|"))
            paths = [()]
            for alternatives in words:
                paths = [p + (a,) for p in paths for a in alternatives]
            documented.update(path for path in paths if path)  # `aiguard --version` names none
    return documented


def test_the_walk_sees_the_whole_tree():
    assert {"install", "verify", "ingest"} <= {path[0] for path, _ in ALL}
    assert ("ledger", "prune") in [path for path, _ in ALL]
    assert ("notes", "post-commit") not in [path for path, _ in ALL]  # hidden: the hook's own


@pytest.mark.parametrize("path, command", ALL, ids=IDS)
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"`aiguard {' '.join(path)}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"`aiguard {' '.join(path)} {param.opts[0]}` has no help text"


@pytest.mark.parametrize("path, command", ALL, ids=IDS)
def test_every_command_is_in_the_readme(path, command):
    documented = readme_commands()
    if isinstance(command, click.Group):  # a group is documented by its subcommands' rows
        assert any(d[:len(path)] == path for d in documented), f"no README row for `aiguard {' '.join(path)} ...`"
    else:
        assert path in documented, f"README's Commands table has no row for `aiguard {' '.join(path)}`"


def test_the_readme_table_names_no_command_that_is_gone():
    known = {path for path, _ in ALL}
    assert readme_commands() - known == set()


def help_texts():
    """(where, text) for every command's help and every option's help."""
    for path, command in ALL:
        yield f"aiguard {' '.join(path)}", command.help or ""
        for param in command.params:
            if isinstance(param, click.Option):
                yield f"aiguard {' '.join(path)} {param.opts[0]}", param.help or ""


def named(text: str, names: list[str]) -> list[str]:
    return [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def test_help_texts_that_list_assistants_list_the_registry():
    """A help text naming two assistants or more names them all (or all with hooks): no stale list."""
    lists = 0
    for where, text in help_texts():
        mentioned = named(text, ASSISTANTS)
        if len(mentioned) >= 2:
            lists += 1
            assert set(mentioned) in (set(ASSISTANTS), set(HOOKED)), \
                f"{where} lists {mentioned}; the registry has {ASSISTANTS}"
    assert lists >= 3  # ingest, agent-hook, integrate


@pytest.mark.parametrize("command, pattern, expected", [
    ("ingest", r"Assistants read: ([^.]*)\.", ASSISTANTS),
    ("agent-hook", r"TOOL is one of: ([a-z, -]*)", HOOKED),
    ("integrate", r"TOOL is one of: ([^.]*)\.", ASSISTANTS),
])
def test_help_lists_are_the_registry(command, pattern, expected):
    text = " ".join(cli.commands[command].help.split())
    found = re.search(pattern, text)
    assert found, text
    assert [name.strip() for name in found.group(1).split(",")] == expected


def test_help_lists_the_sources():
    option = next(p for p in cli.commands["record"].params if p.name == "source")
    assert list(option.type.choices) == list(SOURCES)
    ctx = click.Context(cli.commands["record"], info_name="record")
    assert "|".join(SOURCES) in cli.commands["record"].get_help(ctx)


def test_readme_lists_the_registry_and_the_sources():
    prose = " ".join(README.split())
    tools = re.search(r"Tool names: (.*?) for assistants;", prose)
    assert tools, "README lost its 'Tool names: ... for assistants;' sentence"
    assert sorted(re.findall(r"`([^`]+)`", tools.group(1))) == sorted(ASSISTANTS)
    sources = re.search(r"Sources: (.*?)\.", prose)
    assert sources and sorted(re.findall(r"`([^`]+)`", sources.group(1))) == sorted(SOURCES)


def test_no_help_text_promises_later():
    for where, text in help_texts():
        assert not re.search(r"\blater\b|\bso far\b", text), f"{where}: {text}"


def test_integrate_help_names_the_files_it_writes_here(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    text = " ".join(cli.commands["integrate"].help.split())
    assert f"claude-code {tmp_path / 'claude-config' / 'settings.json'}," in text, text
    assert "codex ~/.codex/config.toml," in text, text  # under HOME: shown as ~


def test_integrate_knows_the_same_assistants():
    """integrate's own lists (its messages name them) are the registry's assistants."""
    from aiguard.capture.integrate import BY_HAND, INTEGRATIONS, NO_HOOKS, TOOLS

    assert sorted(TOOLS) == sorted(ASSISTANTS)
    assert sorted([*INTEGRATIONS, *BY_HAND]) == sorted(HOOKED)
    assert sorted(NO_HOOKS) == sorted(set(ASSISTANTS) - set(HOOKED))
