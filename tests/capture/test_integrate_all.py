"""`aiguard integrate TOOL|--all [--undo]` for every assistant with native hooks.

Each assistant's settings file is written by hand here with other settings, comments
(where the assistant reads them) and odd formatting; those files are invented for the
tests and kept small. The hook payloads follow the documented shapes in
shared/research/assistant-logs.md (§1 Claude Code, §2 Codex, §4 Gemini CLI, §5 Cline,
§8 Cursor, §9 Windsurf); the transcripts that give Claude Code's and Gemini CLI's model
are real fixtures. The end-to-end tests take the command out of the written settings,
run it as the assistant would (a shell, the payload on stdin) and commit the file it
"wrote": the commit must be stamped with that assistant and model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from conftest import FIXTURES, MERGE_INTERVALS, aiguard

CLAUDE = FIXTURES / "assistant-logs" / "claude-code"
GEMINI = FIXTURES / "assistant-logs" / "gemini-cli"
TOOLS = ["claude-code", "codex", "gemini-cli", "cursor", "copilot", "cline", "windsurf", "aider"]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="Cline hook scripts are POSIX sh")


@pytest.fixture(autouse=True)
def no_assistant_overrides(monkeypatch):
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "CURSOR_CONFIG_DIR", "COPILOT_HOME"):
        monkeypatch.delenv(name, raising=False)


# -- users' settings files: (tool, path under HOME, content, event) ---------------------------

JSON_CASES = {
    "claude-code/no-hooks": ("claude-code", ".claude/settings.json", """\
{
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run test:*)"],
                    "deny": []},
    "env": {"FOO": "1"}
}
"""),
    "claude-code/other-hooks": ("claude-code", ".claude/settings.json", """\
{"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hi"}]}],
           "Stop": []},
 "includeCoAuthoredBy": false}"""),
    "gemini-cli/comments": ("gemini-cli", ".gemini/settings.json", """\
// my Gemini settings
{
\t"ui": { "theme": "GitHub" }, // dark at night
\t/* MCP servers */
\t"mcpServers": {"files": {"command": "npx", "args": ["-y", "x // not a comment"]}}
}
"""),
    "gemini-cli/before-tool": ("gemini-cli", ".gemini/settings.json", """\
{
  "hooks": {
    "BeforeTool": [
      {"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "./check.sh"}]}
    ]
  },
  "hooksConfig": {"enabled": true}
}
"""),
    "cursor/version-only": ("cursor", ".cursor/hooks.json", '{ "version": 1 }'),
    "cursor/after-file-edit": ("cursor", ".cursor/hooks.json", """\
{
   "version": 1,
   "hooks": {
      "afterFileEdit": [ { "command": "./format.sh" } ],
      "stop": [ { "command": "./notify.sh" } ]
   }
}
"""),
    "windsurf/pre-write": ("windsurf", ".codeium/windsurf/hooks.json", """\
{"hooks":{"pre_write_code":[{"command":"python3 guard.py","show_output":true}]}}
"""),
}

EVENTS = {"claude-code": "PostToolUse", "gemini-cli": "AfterTool", "cursor": "afterFileEdit",
          "windsurf": "post_write_code"}

CODEX_CASES = {
    "plain": """\
# my Codex config
model = "gpt-5-codex"   # the default
approval_policy = "on-request"

[projects."/home/me/work"]
trust_level = "trusted"
""",
    "no-final-newline": 'model = "o3"\n\n[features]\nweb_search = true',
    "own-hooks": """\
model = "gpt-5.5"

[[hooks.PostToolUse]]
matcher = "^Bash$"

[[hooks.PostToolUse.hooks]]
type = "command"
command = "./lint.sh"

[hooks.state."/home/me/.codex/config.toml:post_tool_use:0:0"]
trusted_hash = "sha256:abc"
""",
}


def strip_comments(text: str) -> str:
    """Comments out of JSONC (as Gemini CLI's strip-json-comments does), for parsing only."""
    out, i = [], 0
    while i < len(text):
        if text[i] == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def load_json(path: Path) -> dict:
    return json.loads(strip_comments(path.read_text()))


def inserted(before: str, after: str) -> str:
    """The one contiguous piece `after` adds to `before`; fails if anything else changed."""
    prefix = len(os.path.commonprefix([before, after]))
    suffix = len(os.path.commonprefix([before[prefix:][::-1], after[prefix:][::-1]]))
    assert prefix + suffix == len(before), "bytes of the user's file changed outside aiguard's part"
    return after[prefix:len(after) - suffix]


def ours(entries: list, tool: str) -> list:
    return [e for e in entries if f"-m aiguard agent-hook {tool}" in json.dumps(e)]


def run_integrate(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return aiguard("integrate", *args, check=check)


def assert_one_line_error(done: subprocess.CompletedProcess, path: Path) -> None:
    assert done.returncode == 2
    err = done.stderr.decode()
    assert len(err.strip().splitlines()) == 1 and str(path) in err, err


# -- JSON settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_settings_keep_the_users_bytes(isolated_user, case):
    tool, relative, original = JSON_CASES[case]
    path = isolated_user / relative
    path.parent.mkdir(parents=True)
    path.write_text(original)
    before_data = load_json(path)

    run_integrate(tool)
    after = path.read_text()
    piece = inserted(original, after)
    assert f"-m aiguard agent-hook {tool}" in piece
    data = load_json(path)  # still parses (comments and all, for Gemini CLI)
    [entry] = ours(data["hooks"][EVENTS[tool]], tool)
    command = entry["command"] if "command" in entry else entry["hooks"][0]["command"]
    assert command.endswith(f"-m aiguard agent-hook {tool}")
    # Semantically too, nothing but aiguard's entry was added.
    data["hooks"][EVENTS[tool]].remove(entry)
    if not data["hooks"][EVENTS[tool]] and EVENTS[tool] not in before_data.get("hooks", {}):
        del data["hooks"][EVENTS[tool]]
    if not data["hooks"] and "hooks" not in before_data:
        del data["hooks"]
    assert data == before_data
    assert (path.parent / (path.name + ".aiguard-backup")).read_text() == original

    run_integrate(tool)  # idempotent
    assert path.read_text() == after
    run_integrate(tool, "--undo")
    assert path.read_text() == original
    run_integrate(tool, "--undo")
    assert path.read_text() == original


@pytest.mark.parametrize("tool, relative", [("claude-code", ".claude/settings.json"),
                                            ("gemini-cli", ".gemini/settings.json"),
                                            ("cursor", ".cursor/hooks.json"),
                                            ("windsurf", ".codeium/windsurf/hooks.json")])
def test_json_settings_from_nothing_and_back(isolated_user, tool, relative):
    path = isolated_user / relative
    run_integrate(tool)
    data = json.loads(path.read_text())
    assert ours(data["hooks"][EVENTS[tool]], tool)
    if tool == "cursor":
        assert data["version"] == 1
    assert not (path.parent / (path.name + ".aiguard-backup")).exists()  # nothing to back up
    run_integrate(tool, "--undo")
    assert not path.exists()


@pytest.mark.parametrize("tool, relative", [("claude-code", ".claude/settings.json"),
                                            ("gemini-cli", ".gemini/settings.json"),
                                            ("cursor", ".cursor/hooks.json"),
                                            ("codex", ".codex/config.toml")])
@pytest.mark.parametrize("blank", [b"", b"\n", b"  \n\n"])
def test_an_empty_settings_file_is_empty_again_after_undo(isolated_user, tool, relative, blank):
    """An empty file the user had (touch, an editor) is theirs: undo leaves it as it was, not
    deleted; and a later round that creates the file from nothing still removes it."""
    path = isolated_user / relative
    path.parent.mkdir(parents=True)
    path.write_bytes(blank)
    run_integrate(tool)
    assert "agent-hook" in path.read_text()
    run_integrate(tool, "--undo")
    assert path.exists() and path.read_bytes() == blank
    path.unlink()
    run_integrate(tool)
    run_integrate(tool, "--undo")
    assert not path.exists()


@pytest.mark.parametrize("tool, relative, original", [
    ("claude-code", ".claude/settings.json", '{\n  "model": "opus"\n}\n'),
    ("codex", ".codex/config.toml", 'model = "o3"\n'),
])
def test_a_settings_file_with_a_byte_order_mark_is_extended_and_keeps_it(isolated_user, tool, relative, original):
    """Windows editors save UTF-8 with a BOM, which JSON and TOML parsers refuse: aiguard reads
    past it and writes it back, so undo restores the file byte for byte."""
    path = isolated_user / relative
    path.parent.mkdir(parents=True)
    raw = b"\xef\xbb\xbf" + original.encode()
    path.write_bytes(raw)
    run_integrate(tool)
    after = path.read_bytes()
    assert after.startswith(b"\xef\xbb\xbf") and b"agent-hook" in after
    assert after.count(b"\xef\xbb\xbf") == 1
    assert (path.parent / (path.name + ".aiguard-backup")).read_bytes() == raw
    run_integrate(tool, "--undo")
    assert path.read_bytes() == raw


@pytest.mark.parametrize("tool, relative, broken", [
    ("claude-code", ".claude/settings.json", '{"model": "opus",}'),
    ("gemini-cli", ".gemini/settings.json", '{"ui": {"theme": "x"} /* unterminated'),
    ("cursor", ".cursor/hooks.json", '{"version": 1, "hooks": []}'),
    ("windsurf", ".codeium/windsurf/hooks.json", "[1, 2]"),
])
def test_broken_json_settings_are_refused_untouched(isolated_user, tool, relative, broken):
    path = isolated_user / relative
    path.parent.mkdir(parents=True)
    path.write_text(broken)
    for args in ([tool], [tool, "--undo"]):
        assert_one_line_error(run_integrate(*args, check=False), path)
        assert path.read_text() == broken
    assert not (path.parent / (path.name + ".aiguard-backup")).exists()


def test_json_undo_after_the_user_reformatted_the_file(isolated_user):
    path = isolated_user / ".cursor" / "hooks.json"
    path.parent.mkdir()
    path.write_text('{"version": 1, "hooks": {"stop": [{"command": "./notify.sh"}]}}\n')
    run_integrate("cursor")
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data, indent=8, sort_keys=True))  # an editor re-saved it
    run_integrate("cursor", "--undo")
    assert json.loads(path.read_text()) == {"version": 1, "hooks": {"stop": [{"command": "./notify.sh"}]}}
    assert "agent-hook" not in path.read_text()


# -- Codex config.toml -------------------------------------------------------------------------

def codex_commands(data: dict) -> list[str]:
    return [h["command"] for g in data.get("hooks", {}).get("PostToolUse", []) for h in g["hooks"]]


@pytest.mark.parametrize("case", sorted(CODEX_CASES))
def test_codex_config_toml_block(isolated_user, case):
    original = CODEX_CASES[case]
    path = isolated_user / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(original)
    done = run_integrate("codex")
    assert b"/hooks" in done.stdout  # Codex runs a new hook only once the user trusts it
    after = path.read_text()
    piece = inserted(original, after)
    assert piece.rstrip("\n").endswith("# <<< aiguard") and "# >>> aiguard" in piece
    data = tomllib.loads(after)
    assert codex_commands(data)[-1].endswith("-m aiguard agent-hook codex")
    assert data["hooks"]["PostToolUse"][-1]["matcher"] == "apply_patch|Bash"  # edits, and shell edits
    assert data["hooks"]["PostToolUse"][-1]["hooks"][0]["timeout"] == 30
    before = tomllib.loads(original)
    data["hooks"]["PostToolUse"].pop()
    if not data["hooks"]["PostToolUse"] and "PostToolUse" not in before.get("hooks", {}):
        del data["hooks"]["PostToolUse"]
    if not data["hooks"] and "hooks" not in before:
        del data["hooks"]
    assert data == before
    assert (path.parent / "config.toml.aiguard-backup").read_text() == original

    run_integrate("codex")
    assert path.read_text() == after
    run_integrate("codex", "--undo")
    assert path.read_text() == original


def test_codex_honours_codex_home_and_refuses_what_it_cannot_extend(isolated_user, monkeypatch, tmp_path):
    home = tmp_path / "codex-home"
    monkeypatch.setenv("CODEX_HOME", str(home))
    run_integrate("codex")
    path = home / "config.toml"
    assert codex_commands(tomllib.loads(path.read_text()))
    assert not (isolated_user / ".codex").exists()
    run_integrate("codex", "--undo")
    assert not path.exists()

    inline = '[hooks]\nPostToolUse = [{ hooks = [{ type = "command", command = "./lint.sh" }] }]\n'
    path.write_text(inline)  # a static array: a [[hooks.PostToolUse]] table cannot join it
    done = run_integrate("codex", check=False)
    assert_one_line_error(done, path)
    assert path.read_text() == inline

    path.write_text('model = "o3"\n[oops\n')
    assert_one_line_error(run_integrate("codex", check=False), path)
    assert path.read_text() == 'model = "o3"\n[oops\n'


# -- Copilot, Cline: files of aiguard's own ----------------------------------------------------

def test_copilot_hook_file(isolated_user, monkeypatch, tmp_path):
    path = isolated_user / ".copilot" / "hooks" / "aiguard.json"
    run_integrate("copilot")
    data = json.loads(path.read_text())
    assert data["version"] == 1
    [handler] = data["hooks"]["postToolUse"]
    assert handler["type"] == "command" and handler["bash"].endswith("-m aiguard agent-hook copilot")
    first = path.read_text()
    run_integrate("copilot")
    assert path.read_text() == first
    run_integrate("copilot", "--undo")
    assert not path.exists()

    path.write_text('{"version": 1, "hooks": {}}\n')  # someone else's file of that name
    assert_one_line_error(run_integrate("copilot", check=False), path)
    assert path.read_text() == '{"version": 1, "hooks": {}}\n'
    run_integrate("copilot", "--undo")
    assert path.read_text() == '{"version": 1, "hooks": {}}\n'

    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "copilot"))
    run_integrate("copilot")
    assert (tmp_path / "copilot" / "hooks" / "aiguard.json").exists()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cline_payload(repo: Path, code: str, name: str = "merge.py") -> dict:
    return {"clineVersion": "3.36.0", "hookName": "PostToolUse", "timestamp": str(int(time.time() * 1000)),
            "taskId": "t1", "workspaceRoots": [str(repo)], "userId": "u",
            "model": {"provider": "anthropic", "slug": "claude-sonnet-4-5"},
            "postToolUse": {"toolName": "write_to_file", "parameters": {"path": name, "content": code},
                            "result": "ok", "success": True, "executionTimeMs": 12}}


@posix_only
def test_cline_script_chains_the_users_hook(isolated_user, tmp_path):
    hooks = isolated_user / "Documents" / "Cline" / "Hooks"
    hooks.mkdir(parents=True)
    theirs = hooks / "PostToolUse"
    mine = "#!/bin/sh\ncat > \"$HOME/seen.json\"\necho '{\"cancel\": false, \"contextModification\": \"mine\"}'\n"
    theirs.write_text(mine)
    theirs.chmod(0o750)

    done = run_integrate("cline")
    assert b"PostToolUse.pre-aiguard" in done.stdout
    assert "agent-hook cline" in theirs.read_text()
    assert (hooks / "PostToolUse.pre-aiguard").read_text() == mine
    first = theirs.read_text()
    run_integrate("cline")
    assert theirs.read_text() == first

    payload = json.dumps(cline_payload(tmp_path, MERGE_INTERVALS))
    ran = subprocess.run([str(theirs)], input=payload.encode(), capture_output=True, check=True)
    assert json.loads(ran.stdout) == {"cancel": False, "contextModification": "mine"}  # their reply
    assert json.loads((isolated_user / "seen.json").read_text()) == json.loads(payload)  # their stdin

    run_integrate("cline", "--undo")
    assert theirs.read_text() == mine and (theirs.stat().st_mode & 0o777) == 0o750
    assert not (hooks / "PostToolUse.pre-aiguard").exists()


@posix_only
def test_cline_refuses_when_both_names_are_taken(isolated_user):
    hooks = isolated_user / "Documents" / "Cline" / "Hooks"
    hooks.mkdir(parents=True)
    (hooks / "PostToolUse").write_text("#!/bin/sh\necho '{}'\n")
    (hooks / "PostToolUse.pre-aiguard").write_text("#!/bin/sh\n")
    assert_one_line_error(run_integrate("cline", check=False), hooks / "PostToolUse")
    assert (hooks / "PostToolUse").read_text() == "#!/bin/sh\necho '{}'\n"


# -- the command line ---------------------------------------------------------------------------

def test_unknown_assistant_and_aider():
    done = aiguard("integrate", "vim", check=False)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert len(err.strip().splitlines()) == 1 and all(tool in err for tool in TOOLS)
    assert aiguard("integrate", check=False).returncode == 2
    assert aiguard("integrate", "codex", "--all", check=False).returncode == 2
    done = aiguard("integrate", "aider")
    assert b"no hooks" in done.stdout


def test_all_wires_only_what_is_installed(isolated_user):
    for folder in (".claude", ".gemini", ".cursor", "Documents/Cline"):
        (isolated_user / folder).mkdir(parents=True)
    claude = isolated_user / ".claude" / "settings.json"
    claude.write_text('{"model": "opus"}\n')

    lines = run_integrate("--all").stdout.decode().splitlines()
    state = {line.split(":")[0]: line.split(":", 1)[1].split("(")[0].strip() for line in lines}
    by_hand = {tool: state.pop(tool) for tool in ("kiro", "firebender")}
    assert state == {"claude-code": "wired", "codex": "not found", "gemini-cli": "wired", "cursor": "wired",
                     "copilot": "not found", "cline": "wired" if sys.platform != "win32" else state["cline"],
                     "windsurf": "not found", "aider": "no hooks", "qwen-code": "not found", "kimi-cli": "not found",
                     "roo-code": "no hooks", "kilo-code": "no hooks",
                     "opencode": "no hooks", "goose": "no hooks",
                     "amp": "no hooks", "droid": "not found", "continue": "not found"}
    assert all(said.startswith("to wire by hand, add ") for said in by_hand.values()), by_hand
    assert not (isolated_user / ".codex").exists() and not (isolated_user / ".copilot").exists()
    assert not (isolated_user / ".codeium").exists()
    files = {p: p.read_bytes() for p in isolated_user.rglob("*") if p.is_file()}

    again = run_integrate("--all").stdout.decode()
    assert again.count("already wired") == 4
    assert {p: p.read_bytes() for p in isolated_user.rglob("*") if p.is_file()} == files

    undone = run_integrate("--all", "--undo").stdout.decode()
    assert undone.count(": removed (") == 4
    assert claude.read_text() == '{"model": "opus"}\n'
    assert not (isolated_user / ".gemini" / "settings.json").exists()
    assert not (isolated_user / ".cursor" / "hooks.json").exists()
    assert not (isolated_user / "Documents" / "Cline" / "Hooks" / "PostToolUse").exists()
    assert run_integrate("--all", "--undo").stdout.decode().count("not wired") == 4


def test_all_goes_on_past_a_broken_file_and_exits_2(isolated_user):
    (isolated_user / ".cursor").mkdir()
    (isolated_user / ".gemini").mkdir()
    (isolated_user / ".gemini" / "settings.json").write_text("{nope")
    done = run_integrate("--all", check=False)
    assert done.returncode == 2
    assert "cursor: wired" in done.stdout.decode()
    [error] = done.stderr.decode().splitlines()
    assert error.startswith("gemini-cli: error:") and "settings.json" in error
    assert (isolated_user / ".gemini" / "settings.json").read_text() == "{nope"


def test_env_overrides(isolated_user, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path / "gemini-home"))
    (tmp_path / "claude").mkdir()
    (tmp_path / "gemini-home" / ".gemini").mkdir(parents=True)
    out = run_integrate("--all").stdout.decode()
    assert f"claude-code: wired ({tmp_path / 'claude' / 'settings.json'})" in out
    assert f"gemini-cli: wired ({tmp_path / 'gemini-home' / '.gemini' / 'settings.json'})" in out
    assert not (isolated_user / ".claude").exists()


def test_doctor_says_which_hooks_are_wired(isolated_user, tmp_path):
    (isolated_user / ".cursor").mkdir()
    run_integrate("claude-code")
    out = aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()
    line = {m.group(1): m.group(0) for m in re.finditer(r"^\S+ +([\w-]+) hook: .*$", out, re.M)}
    assert set(line) == {"claude-code", "codex", "gemini-cli", "cursor", "copilot", "cline", "windsurf", "qwen-code",
                         "kimi-cli", "kiro", "firebender", "droid", "continue"}
    assert "add by hand" in line["kiro"] and "aiguard integrate kiro" in line["kiro"]
    assert "wired in" in line["claude-code"] and line["claude-code"].startswith("ok")
    assert "not wired" in line["cursor"] and "aiguard integrate cursor" in line["cursor"]
    assert "not wired" in line["codex"]


# -- end to end: the command written into the settings records what the assistant wrote ---------

def claude_case(repo, file, tmp_path):
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_bytes((CLAUDE / "claude-code-with-thinking.jsonl").read_bytes())
    payload = {"session_id": "s1", "transcript_path": str(transcript), "cwd": str(repo),
               "permission_mode": "default", "hook_event_name": "PostToolUse", "tool_name": "Write",
               "tool_use_id": "toolu_1", "tool_input": {"file_path": str(file), "content": MERGE_INTERVALS},
               "tool_response": {"filePath": str(file), "success": True}}
    settings = json.loads((Path(os.environ["HOME"]) / ".claude" / "settings.json").read_text())
    [entry] = ours(settings["hooks"]["PostToolUse"], "claude-code")
    return entry["hooks"][0]["command"], payload, "claude-sonnet-4-5-20250929"


def codex_case(repo, file, tmp_path):
    patch = "*** Begin Patch\n*** Add File: merge.py\n" + "".join(
        "+" + line + "\n" for line in MERGE_INTERVALS.splitlines()) + "*** End Patch"
    payload = {"session_id": "019a", "turn_id": "t1", "transcript_path": None, "cwd": str(repo),
               "hook_event_name": "PostToolUse", "model": "gpt-5-codex", "permission_mode": "default",
               "tool_name": "apply_patch", "tool_use_id": "call_1", "tool_input": {"command": patch},
               "tool_response": "Success. Updated the following files:\nA merge.py\n"}
    data = tomllib.loads((Path(os.environ["HOME"]) / ".codex" / "config.toml").read_text())
    [command] = [c for c in codex_commands(data) if "agent-hook codex" in c]
    return command, payload, "gpt-5-codex"


def gemini_case(repo, file, tmp_path):
    transcript = tmp_path / "session.jsonl"
    transcript.write_bytes((GEMINI / "agentsessions-jsonl_v040.jsonl").read_bytes())
    payload = {"session_id": "s1", "transcript_path": str(transcript), "cwd": str(repo),
               "hook_event_name": "AfterTool", "timestamp": now_iso(), "tool_name": "write_file",
               "tool_input": {"file_path": "merge.py", "content": MERGE_INTERVALS},
               "tool_response": {"llmContent": "Successfully created merge.py", "returnDisplay": "ok"}}
    settings = load_json(Path(os.environ["HOME"]) / ".gemini" / "settings.json")
    [group] = ours(settings["hooks"]["AfterTool"], "gemini-cli")
    assert re.fullmatch(group["matcher"], "write_file") and re.fullmatch(group["matcher"], "replace")
    return group["hooks"][0]["command"], payload, "gemini-3-flash-preview"


def cursor_case(repo, file, tmp_path):
    payload = {"conversation_id": "c1", "generation_id": "g1", "hook_event_name": "afterFileEdit",
               "file_path": str(file), "edits": [{"old_string": "", "new_string": MERGE_INTERVALS}],
               "workspace_roots": [str(repo)]}
    hooks = json.loads((Path(os.environ["HOME"]) / ".cursor" / "hooks.json").read_text())
    [entry] = ours(hooks["hooks"]["afterFileEdit"], "cursor")
    return entry["command"], payload, "unknown"


def windsurf_case(repo, file, tmp_path):
    payload = {"agent_action_name": "post_write_code", "trajectory_id": "t1", "execution_id": "e1",
               "timestamp": now_iso(), "model_name": "swe-1.5",
               "tool_info": {"file_path": str(file), "edits": [{"old_string": "", "new_string": MERGE_INTERVALS}]}}
    hooks = json.loads((Path(os.environ["HOME"]) / ".codeium" / "windsurf" / "hooks.json").read_text())
    [entry] = ours(hooks["hooks"]["post_write_code"], "windsurf")
    return entry["command"], payload, "swe-1.5"


def cline_case(repo, file, tmp_path):
    script = Path(os.environ["HOME"]) / "Documents" / "Cline" / "Hooks" / "PostToolUse"
    return str(script), cline_payload(repo, MERGE_INTERVALS), "claude-sonnet-4-5"


E2E = {"claude-code": claude_case, "codex": codex_case, "gemini-cli": gemini_case, "cursor": cursor_case,
       "windsurf": windsurf_case, "cline": cline_case}


@pytest.mark.parametrize("tool", sorted(E2E))
def test_the_written_hook_records_and_the_commit_is_stamped(repo, tmp_path, tool):
    if tool == "cline" and (sys.platform == "win32" or not shutil.which("sh")):
        pytest.skip("Cline hook scripts are POSIX sh")
    run_integrate(tool)
    file = repo.path / "merge.py"
    command, payload, model = E2E[tool](repo.path, file, tmp_path)
    ran = subprocess.run(command, shell=True, input=json.dumps(payload).encode(), capture_output=True,
                         cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    if tool == "cline":
        assert json.loads(ran.stdout) == {"cancel": False}
    stats = json.loads(aiguard("ledger", "stats", "--json").stdout)
    assert [(row["tool"], row["model"]) for row in stats["by_tool"]] == [(tool, model)], stats

    repo.write("merge.py", MERGE_INTERVALS)
    repo.git("add", "merge.py")
    repo.git("commit", "-q", "-m", "Add merge_intervals")
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == f"{tool}:{model}"
    lines = len(MERGE_INTERVALS.splitlines())
    assert trailers["AI-Lines"] == f"{lines}/{lines}"
