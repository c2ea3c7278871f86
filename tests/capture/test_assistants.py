"""The Assistant protocol and its registry: every assistant module has every member, its
folders come from one function (logs, hooks and doctor agree), and each native hook, fed
the payload its assistant documents, prints exactly what that assistant expects back and
gets the edit into a stamped commit."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, MERGE_INTERVALS, ROOT, aiguard

from aiguard.capture import integrate
from aiguard.capture.sources import Folders, by_hand, has_hooks, log_roots, missing_members, registry, wiring

LOGS = FIXTURES / "assistant-logs"
CODE = MERGE_INTERVALS


@pytest.fixture(autouse=True)
def no_assistant_overrides(monkeypatch):
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "CURSOR_CONFIG_DIR", "COPILOT_HOME",
                 "AIDER_CHAT_HISTORY_FILE", "VSCODE_PORTABLE", "CLINE_DATA_DIR", "CLINE_DIR", "QWEN_RUNTIME_DIR",
                 "KIMI_SHARE_DIR", "FACTORY_HOME_OVERRIDE", "CONTINUE_GLOBAL_DIR"):
        monkeypatch.delenv(name, raising=False)


# -- the protocol ------------------------------------------------------------------------------

def test_every_assistant_has_every_member_of_the_protocol():
    for name, module in registry().items():
        assert missing_members(module) == [], name
        assert module.NAME == name and module.LABEL
        assert isinstance(module.folders(), Folders), name
        assert log_roots(module) == module.folders().logs, name
        # native hooks and wiring go together: agent-hook reads what integrate writes (or what
        # the user adds by hand, as integrate tells them: then there is no wiring)
        assert has_hooks(module) == (wiring(module) is not None or by_hand(module) is not None), name
        assert not (wiring(module) is not None and by_hand(module)), name
        if by_hand(module):
            assert f"agent-hook {name}" in by_hand(module), name
        reply = getattr(module, "HOOK_REPLY", None)  # None by default
        assert reply is None or isinstance(reply, str), name


def test_every_assistant_has_fixtures_with_their_sources():
    for name in registry():
        folder = LOGS / name
        assert (folder / "SOURCES.md").is_file(), f"{folder}/SOURCES.md"
        assert [p for p in folder.rglob("*") if p.is_file() and p.name != "SOURCES.md"], folder


def test_wiring_goes_into_the_assistants_own_settings_folder():
    for name, module in registry().items():
        wired = wiring(module)
        if wired is None:
            continue
        assert wired.folder in module.folders().settings, name
        assert wired.folder in wired.config.parents, name


# -- one function for folders: the drift that was -----------------------------------------------

def test_copilot_home_moves_the_logs_and_the_hook_together(isolated_user, monkeypatch, tmp_path):
    from aiguard.capture.sources import copilot

    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "copilot-home"))
    assert log_roots(copilot)[0] == tmp_path / "copilot-home" / "session-state"
    assert copilot.wiring().config == tmp_path / "copilot-home" / "hooks" / "aiguard.json"
    # and the hook's payload finds the session's model there too
    session = tmp_path / "copilot-home" / "session-state" / "s-1" / "events.jsonl"
    session.parent.mkdir(parents=True)
    session.write_text('{"type":"session.model_change","data":{"newModel":"gpt-5.1"},"id":"2",'
                       '"timestamp":"2026-11-26T10:00:01Z"}\n')
    [out] = copilot.parse_hook({"cwd": "/w", "sessionId": "s-1", "toolName": "create",
                                "toolArgs": {"path": "a.py", "file_text": "print(1)\n"}})
    assert out.model == "gpt-5.1"


def test_every_claude_config_dir_is_read_and_wired(isolated_user, monkeypatch, tmp_path):
    from aiguard.capture.sources import claude_code

    first, second = tmp_path / "claude-a", tmp_path / "claude-b"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{first},{second}")
    assert log_roots(claude_code) == [first / "projects", second / "projects"]
    out = aiguard("integrate", "claude-code").stdout.decode()
    for folder in (first, second):
        settings = json.loads((folder / "settings.json").read_text())
        assert "agent-hook claude-code" in json.dumps(settings["hooks"]["PostToolUse"]), out
    assert "wired in" in aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()
    aiguard("integrate", "claude-code", "--undo")
    assert not (first / "settings.json").exists() and not (second / "settings.json").exists()


def test_a_claude_config_dir_not_there_yet_is_wired_first_only(isolated_user, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    aiguard("integrate", "claude-code")
    assert (tmp_path / "a" / "settings.json").is_file() and not (tmp_path / "b").exists()


# -- lists of assistants come from the registry ----------------------------------------------

def test_ingest_help_names_every_assistant():
    out = " ".join(aiguard("ingest", "--help").stdout.decode().split())
    for name in registry():
        assert name in out, name


def test_readme_table_of_assistants_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Assistants\n", 1)
    assert len(section) == 2, "README lost its '## Assistants' section"
    rows = [line for line in section[1].split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0].strip("`")] = cells
    assert list(table) == list(registry()), "README's assistants table and the registry differ"
    for name, module in registry().items():
        label, hooks = table[name][1], table[name][3]
        assert label == module.LABEL, name
        assert hooks.startswith("yes") == has_hooks(module), f"{name}: hooks column says {hooks!r}"


def test_integrate_names_every_assistant_when_the_name_is_unknown():
    done = aiguard("integrate", "no-such-tool", check=False)
    assert done.returncode == 2
    assert all(name in done.stderr.decode() for name in registry())


# -- each native hook: the payload its assistant documents, and the reply it expects -----------

def _claude(repo, tmp_path):
    transcript = tmp_path / "t.jsonl"
    transcript.write_bytes((LOGS / "claude-code" / "claude-code-with-thinking.jsonl").read_bytes())
    # code.claude.com/docs/en/hooks: PostToolUse input; exit 0 with no stdout goes on
    return ({"session_id": "s", "transcript_path": str(transcript), "cwd": str(repo.path),
             "hook_event_name": "PostToolUse", "tool_name": "Write",
             "tool_input": {"file_path": str(repo.path / "merge.py"), "content": CODE},
             "tool_response": {"filePath": str(repo.path / "merge.py"), "success": True}},
            b"", "claude-code:claude-sonnet-4-5-20250929")


def _codex(repo, tmp_path):
    patch = "*** Begin Patch\n*** Add File: merge.py\n" + "".join(f"+{line}\n" for line in CODE.splitlines()) \
        + "*** End Patch"
    # developers.openai.com/codex/hooks: PostToolUse input carries the model; no stdout needed
    return ({"session_id": "s", "hook_event_name": "PostToolUse", "model": "gpt-5-codex", "cwd": str(repo.path),
             "tool_name": "apply_patch", "tool_input": {"command": patch}}, b"", "codex:gpt-5-codex")


def _gemini(repo, tmp_path):
    transcript = tmp_path / "session.jsonl"
    transcript.write_bytes((LOGS / "gemini-cli" / "agentsessions-jsonl_v040.jsonl").read_bytes())
    # geminicli.com/docs/hooks: AfterTool input; stdout is JSON or nothing (nothing: go on)
    return ({"session_id": "s", "transcript_path": str(transcript), "cwd": str(repo.path),
             "hook_event_name": "AfterTool", "timestamp": datetime.now().astimezone().isoformat(),
             "tool_name": "write_file", "tool_input": {"file_path": "merge.py", "content": CODE}},
            b"", "gemini-cli:gemini-3-flash-preview")


def _cursor(repo, tmp_path):
    # cursor.com/docs/agent/hooks: afterFileEdit input; its output is not read
    return ({"conversation_id": "c", "generation_id": "g", "hook_event_name": "afterFileEdit",
             "file_path": str(repo.path / "merge.py"), "workspace_roots": [str(repo.path)],
             "edits": [{"old_string": "", "new_string": CODE}]}, b"", "cursor")


def _copilot(repo, tmp_path):
    # Copilot SDK PostToolUseHookInput (toolArgs a JSON string); its output is not read
    return ({"timestamp": int(time.time() * 1000), "cwd": str(repo.path), "toolName": "create",
             "toolArgs": json.dumps({"path": "merge.py", "file_text": CODE}),
             "toolResult": {"resultType": "success"}}, b"", "copilot")


def _cline(repo, tmp_path):
    payload = json.loads((LOGS / "cline" / "hook-post-tool-use.json").read_text())
    payload.update(workspaceRoots=[str(repo.path)], timestamp=str(int(time.time() * 1000)))
    payload["postToolUse"]["parameters"] = {"path": "merge.py", "content": CODE}
    # docs.cline.bot hooks: the hook must answer one JSON object; cancel false lets the task go on
    return payload, b'{"cancel": false}\n', "cline:claude-sonnet-4-5-20250929"


def _windsurf(repo, tmp_path):
    payload = json.loads((LOGS / "windsurf" / "hook-post-write-code.json").read_text())
    payload["timestamp"] = datetime.now().astimezone().isoformat()
    payload["tool_info"] = {"file_path": str(repo.path / "merge.py"), "edits": [{"old_string": "",
                                                                                 "new_string": CODE}]}
    # docs.windsurf.com cascade hooks: post_write_code; its output is not read
    return payload, b"", "windsurf:SWE-1.5"


def _qwen(repo, tmp_path):
    transcript = tmp_path / "chats" / "s.jsonl"
    transcript.parent.mkdir()
    transcript.write_bytes((LOGS / "qwen-code" / "session-5c3f7a1e.jsonl").read_bytes())
    payload = json.loads((LOGS / "qwen-code" / "hook-post-tool-use.json").read_text())
    payload.update(transcript_path=str(transcript), cwd=str(repo.path),
                   timestamp=datetime.now().astimezone().isoformat(),
                   tool_input={"file_path": "merge.py", "content": CODE})
    # qwen-code docs/users/features/hooks.md: Claude Code's PostToolUse; the model from the transcript
    return payload, b"", "qwen-code:qwen3-coder-plus"


def _kimi(repo, tmp_path):
    payload = json.loads((LOGS / "kimi-cli" / "hook-post-tool-use.json").read_text())
    payload.update(cwd=str(repo.path), tool_input={"path": "merge.py", "content": CODE, "mode": "overwrite"})
    # kimi-cli hooks/events.py: PostToolUse names no model; its output is not read
    return payload, b"", "kimi-cli"


def _kiro(repo, tmp_path):
    payload = json.loads((LOGS / "kiro" / "hook-post-tool-use-create.json").read_text())
    payload.update(cwd=str(repo.path), tool_input={"command": "create", "path": "merge.py", "file_text": CODE})
    # kiro.dev/docs/cli/hooks: postToolUse names no model; exit 0 goes on
    return payload, b"", "kiro"


def _firebender(repo, tmp_path):
    payload = json.loads((LOGS / "firebender" / "hook-post-tool-use.json").read_text())
    payload.update(repo_working_dir=str(repo.path), workspace_roots=[str(repo.path)],
                   tool_input={"file_path": "merge.py", "content": CODE})
    return payload, b"", "firebender:claude-sonnet-4-5"


def _droid(repo, tmp_path):
    session = next((LOGS / "droid" / "sessions").rglob("*.jsonl"))
    transcript = tmp_path / session.name
    transcript.write_bytes(session.read_bytes())
    settings = session.name.removesuffix(".jsonl") + ".settings.json"
    transcript.with_name(settings).write_bytes(session.with_name(settings).read_bytes())
    payload = json.loads((LOGS / "droid" / "hook-post-tool-use.json").read_text())
    payload.update(transcript_path=str(transcript), cwd=str(repo.path),
                   tool_input={"file_path": str(repo.path / "merge.py"), "content": CODE})
    # docs.factory.ai/reference/hooks-reference: PostToolUse; exit 0, stdout only shown in the transcript
    return payload, b"", "droid:claude-sonnet-4-5-20250929"


def _continue(repo, tmp_path):
    payload = json.loads((LOGS / "continue" / "hook-post-tool-use.json").read_text())
    payload.update(cwd=str(repo.path), tool_input={"filepath": "merge.py", "content": CODE})
    # continuedev/continue extensions/cli/src/hooks: cn's PostToolUse (no model); exit 0 goes on
    return payload, b"", "continue"


HOOKS = {"claude-code": _claude, "codex": _codex, "gemini-cli": _gemini, "cursor": _cursor,
         "copilot": _copilot, "cline": _cline, "windsurf": _windsurf, "qwen-code": _qwen, "kimi-cli": _kimi,
         "kiro": _kiro, "firebender": _firebender, "droid": _droid, "continue": _continue}


def test_every_hooked_assistant_has_a_payload_test():
    assert sorted(HOOKS) == sorted(name for name, module in registry().items() if has_hooks(module))


@pytest.mark.parametrize("tool", sorted(HOOKS))
def test_agent_hook_prints_what_the_assistant_expects_and_the_commit_names_it(tool, repo, tmp_path):
    payload, reply, assisted = HOOKS[tool](repo, tmp_path)
    done = aiguard("agent-hook", tool, input=json.dumps(payload).encode())
    assert (done.returncode, done.stdout, done.stderr) == (0, reply, b"")
    repo.write("merge.py", CODE)
    repo.git("add", "merge.py")
    repo.git("commit", "-q", "-m", "merge")
    trailers = dict(repo.trailers())
    assert re.fullmatch(re.escape(assisted) + (r":\S+" if ":" not in assisted else ""),
                        trailers["Assisted-by"]), trailers
    assert trailers["AI-Lines"] == f"{len(CODE.splitlines())}/{len(CODE.splitlines())}"


# -- doctor: every assistant, its logs and its hook ----------------------------------------------

def test_doctor_names_every_assistant_with_its_logs_and_hook_state(tmp_path):
    out = aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()
    for name, module in registry().items():
        logs = [line for line in out.splitlines() if f"assistant {name}:" in line]
        assert len(logs) == 1, (name, out)
        hook = [line for line in out.splitlines() if re.search(rf"\b{re.escape(name)} hook:", line)]
        if has_hooks(module):
            assert len(hook) == 1 and "not wired" in hook[0], (name, out)
            assert ("by hand" in hook[0]) == bool(by_hand(module)), (name, out)
        else:
            assert not hook and "no hooks" in logs[0], (name, out)
        if has_hooks(module) and not log_roots(module):
            assert "hooks only" in logs[0], (name, out)


def test_integrate_all_covers_every_assistant(isolated_user):
    for name, module in registry().items():
        for folder in module.folders().settings[:1]:
            Path(folder).mkdir(parents=True, exist_ok=True)
    done = aiguard("integrate", "--all", check=False)
    lines = done.stdout.decode().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(registry()), done
    for line, (name, module) in zip(lines, registry().items()):
        if by_hand(module):
            assert line == by_hand(module), line
        else:
            assert (" wired (" in line) if has_hooks(module) else ("no hooks" in line), line
    assert list(integrate.wirings()) == [n for n, m in registry().items() if has_hooks(m) and not by_hand(m)]
