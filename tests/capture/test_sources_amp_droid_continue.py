"""Amp (threads), Factory Droid (sessions and PostToolUse hooks) and Continue (IDE and cn
sessions, cn's PostToolUse hooks): each from its log or payload to a stamped commit.

Every fixture here is built from the assistant's source, docs or the shape of real files
(each folder's SOURCES.md says which); expected values are read from the fixtures.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from aiguard.capture.sources import log_roots
from conftest import FIXTURES, aiguard

from aiguard.capture.sources import amp, continue_dev, droid, registry, sniff
from aiguard.capture.sources.common import Output, Skip

LOGS = FIXTURES / "assistant-logs"
AMP = next((LOGS / "amp").glob("T-*.json"))
DROID = next((LOGS / "droid" / "sessions").rglob("*.jsonl"))
DROID_SETTINGS = DROID.with_name(DROID.name.removesuffix(".jsonl") + ".settings.json")
CONTINUE = LOGS / "continue" / "sessions"
IDE = CONTINUE / "3f6a9c1e-2b4d-4e8f-9a0b-1c2d3e4f5a6b.json"
CN = CONTINUE / "9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d.json"
NOW = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    for name in ("FACTORY_HOME_OVERRIDE", "CONTINUE_GLOBAL_DIR"):
        monkeypatch.delenv(name, raising=False)


def outputs(module, path: Path, data: bytes | None = None, state: dict | None = None) -> list[Output]:
    return [o for o in module.parse_log(path, path.read_bytes() if data is None else data,
                                        {} if state is None else state) if isinstance(o, Output)]


def commit(repo, name: str, text: str) -> dict:
    repo.write(name, text)
    repo.git("add", name)
    repo.git("commit", "-q", "-m", name)
    return dict(repo.trailers())


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- Amp ----------------------------------------------------------------------------------------

def amp_calls() -> list[tuple[dict, dict]]:
    thread = json.loads(AMP.read_text())
    return [(message, block) for message in thread["messages"] if message["role"] == "assistant"
            for block in message["content"] if block["type"] == "tool_use"]


def test_amp_thread_create_edit_and_shell_heredoc():
    (m1, create), (m3, _read), (_, edit), (m5, bash), (_, streaming) = amp_calls()
    assert streaming["complete"] is False  # still being streamed: waits for the next rewrite
    found = outputs(amp, AMP)
    notes = bash["input"]["cmd"].split("\n", 1)[1].rsplit("EOF", 1)[0]
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("amp", m1["usage"]["model"], create["input"]["path"], create["input"]["content"]),
        ("amp", m3["usage"]["model"], edit["input"]["path"], edit["input"]["new_str"]),
        ("amp", m5["usage"]["model"], f"{bash['input']['cwd']}/NOTES.md", notes)]
    assert {o.cwd for o in found} == {"/home/dev/shop"}  # the thread's tree, a file:// URI
    assert found[0].time == datetime.fromisoformat(m1["usage"]["timestamp"].replace("Z", "+00:00")).timestamp()


def test_amp_thread_rewritten_reports_only_what_is_new():
    state: dict = {}
    assert len(outputs(amp, AMP, state=state)) == 3
    thread = json.loads(AMP.read_text())
    thread["messages"][-1]["content"][-1]["complete"] = True  # the streamed call finished
    rewritten = json.dumps(thread, indent=2).encode()
    assert [o.file for o in outputs(amp, AMP, rewritten, state)] == ["/home/dev/shop/src/half.py"]
    assert outputs(amp, AMP, rewritten, state) == []
    [skip] = list(amp.parse_log(AMP, rewritten[:200], {}))
    assert isinstance(skip, Skip) and "mid-write" in skip.reason


def test_amp_folders_honour_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert log_roots(amp) == [tmp_path / "data" / "amp" / "threads"]
    threads = log_roots(amp)[0]
    threads.mkdir(parents=True)
    (threads / AMP.name).write_bytes(AMP.read_bytes())
    (threads / "index.json").write_text("{}")
    assert list(amp.log_files(threads)) == [threads / AMP.name]
    assert amp.sniff(AMP.read_bytes()[:200]) and not amp.sniff(b"{\n")


def test_amp_ingest_then_commit_is_stamped(repo, isolated_user):
    thread = json.loads(AMP.read_text().replace("/home/dev/shop", str(repo.path)))
    for message in thread["messages"]:
        if "usage" in message:
            message["usage"]["timestamp"] = NOW
    threads = log_roots(amp)[0]
    threads.mkdir(parents=True)
    (threads / AMP.name).write_text(json.dumps(thread, indent=2))
    done = aiguard("ingest")
    assert done.returncode == 0, done.stderr
    create = next(o for o in outputs(amp, threads / AMP.name) if o.file.endswith("pricing.py"))
    trailers = commit(repo, "src/pricing.py", create.text)
    assert trailers["Assisted-by"] == "amp:claude-opus-4-6"
    assert trailers["AI-Lines"] == f"{len(create.text.splitlines())}/{len(create.text.splitlines())}"


# --- Factory Droid -------------------------------------------------------------------------------

def test_droid_session_create_edit_multiedit_patch_and_shell():
    records = lines(DROID)
    calls = {block["name"]: block["input"] for record in records if record["type"] == "message"
             for block in record["message"]["content"] if block["type"] == "tool_use"}
    model = json.loads(DROID_SETTINGS.read_text())["model"]
    cwd = records[0]["cwd"]
    found = outputs(droid, DROID)
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("droid", model, calls["Create"]["file_path"], calls["Create"]["content"]),
        ("droid", model, calls["Edit"]["file_path"], calls["Edit"]["new_str"]),
        *[("droid", model, f"{cwd}/{calls['MultiEdit']['file_path']}", change["new_str"])
          for change in calls["MultiEdit"]["changes"]],
        ("droid", model, f"{cwd}/src/cart_total.py",
         "".join(line[1:] + "\n" for line in calls["ApplyPatch"]["input"].splitlines() if line.startswith("+"))),
        ("droid", model, f"{cwd}/CHANGELOG.md", calls["Execute"]["command"].split("\n", 1)[1].rsplit("EOF", 1)[0])]
    assert {o.cwd for o in found} == {cwd} and all(o.time for o in found)


def test_droid_appended_lines_keep_the_sessions_cwd_and_model(tmp_path):
    session = tmp_path / "-p" / DROID.name
    session.parent.mkdir()
    head, rest = DROID.read_bytes().split(b"\n", 1)
    state: dict = {}
    assert outputs(droid, session, head + b"\n", state) == []
    # no settings.json beside it (yet): the model is unknown, the cwd is the session_start's
    assert {(o.model, o.cwd) for o in outputs(droid, session, rest, state)} == {("unknown", "/home/dev/shop")}
    session.with_name(DROID_SETTINGS.name).write_text('{"model": "custom:BYOK-GPT-5"}')
    assert {o.model for o in outputs(droid, session, rest, state)} == {"custom:BYOK-GPT-5"}


def test_droid_hook_payloads():
    hook = json.loads((LOGS / "droid" / "hook-post-tool-use.json").read_text())
    hook["transcript_path"] = str(DROID)
    [out] = droid.parse_hook(hook)
    assert (out.tool, out.model, out.file, out.text, out.source) == (
        "droid", json.loads(DROID_SETTINGS.read_text())["model"], hook["tool_input"]["file_path"],
        hook["tool_input"]["content"], "assistant-hook")
    camel = {"hookEventName": "PostToolUse", "cwd": "/w", "transcriptPath": str(DROID), "toolName": "Edit",
             "toolInput": {"file_path": "a.py", "old_string": "x", "new_string": "y = 2\n"}}
    assert [(o.file, o.text) for o in droid.parse_hook(camel)] == [("/w/a.py", "y = 2\n")]
    assert droid.parse_hook(hook | {"hook_event_name": "PreToolUse"}) == []
    assert droid.parse_hook(hook | {"tool_name": "Read"}) == []
    assert droid.parse_hook(hook | {"transcript_path": "/nowhere/s.jsonl"})[0].model == "unknown"
    assert droid.parse_hook(hook | {"tool_input": "garbage"}) == []


def test_droid_ingest_then_commit_is_stamped(repo, isolated_user):
    folder = log_roots(droid)[0] / "-repo"
    folder.mkdir(parents=True)
    records = lines(DROID)
    for record in records:
        if "timestamp" in record:
            record["timestamp"] = NOW
    session = folder / DROID.name
    session.write_text("".join(json.dumps(r) + "\n" for r in records).replace("/home/dev/shop", str(repo.path)))
    (folder / DROID_SETTINGS.name).write_bytes(DROID_SETTINGS.read_bytes())
    done = aiguard("ingest")
    assert done.returncode == 0, done.stderr
    cart = outputs(droid, session)[0]
    assert commit(repo, "src/cart.py", cart.text)["Assisted-by"] == "droid:claude-sonnet-4-5-20250929"


def test_droid_factory_home_override_moves_logs_and_hook(monkeypatch, tmp_path, isolated_user):
    monkeypatch.setenv("FACTORY_HOME_OVERRIDE", str(tmp_path / "alt"))
    assert log_roots(droid) == [tmp_path / "alt" / ".factory" / "sessions"]
    assert droid.wiring().config == tmp_path / "alt" / ".factory" / "settings.json"


def test_integrate_droid_keeps_comments_notes_hooks_json_and_undoes(isolated_user):
    settings = isolated_user / ".factory" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  // mine\n  "model": "claude-sonnet-4-5-20250929"\n}\n')
    before = settings.read_text()
    out = aiguard("integrate", "droid").stdout.decode()
    assert "added a PostToolUse hook" in out and "hooks.json" not in out
    text = settings.read_text()
    assert "// mine" in text and "agent-hook droid" in text
    aiguard("integrate", "droid", "--undo")
    assert settings.read_text() == before
    (settings.parent / "hooks.json").write_text("{}\n")
    out = aiguard("integrate", "droid").stdout.decode()
    assert f"Droid reads {settings.parent / 'hooks.json'} instead" in out, out


# --- Continue ------------------------------------------------------------------------------------

def session_calls(path: Path) -> list[tuple[str, dict, str]]:
    session = json.loads(path.read_text())
    return [(state["toolCall"]["function"]["name"], state["parsedArgs"], state["status"])
            for item in session["history"] for state in item.get("toolCallStates", [])]


def test_continue_ide_session_tools_and_what_is_not_read():
    (_, create, _), (_, edit, _), (_, replace, _), (_, rejected, status) = session_calls(IDE)
    assert status == "canceled"
    found = outputs(continue_dev, IDE)
    model = json.loads(IDE.read_text())["chatModelTitle"]
    kept = "".join(line + "\n" for line in edit["changes"].splitlines() if "existing code" not in line)
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("continue", model, "/home/dev/shop/" + create["filepath"], create["contents"]),
        ("continue", model, edit["filepath"].removeprefix("file://"), kept),
        ("continue", model, "/home/dev/shop/" + replace["filepath"], replace["new_string"])]
    assert rejected["filepath"] not in " ".join(o.file for o in found)
    assert {o.cwd for o in found} == {"/home/dev/shop"}


def test_continue_cn_session_write_multiedit_and_shell():
    (_, write, _), (_, multi, _), (_, bash, _) = session_calls(CN)
    found = outputs(continue_dev, CN)
    assert [(o.model, o.file, o.text) for o in found] == [
        ("unknown", write["filepath"], write["content"]),
        ("unknown", multi["file_path"], multi["edits"][0]["new_string"]),
        ("unknown", "/home/dev/shop/docs/stock.md", bash["command"].split("\n", 1)[1].rsplit("EOF", 1)[0])]
    state: dict = {}
    assert len(outputs(continue_dev, CN, state=state)) == 3
    assert outputs(continue_dev, CN, CN.read_bytes() + b"\n", state) == []  # saved again: nothing new


def test_continue_folders_honour_continue_global_dir(monkeypatch, tmp_path):
    assert log_roots(continue_dev) == [Path.home() / ".continue" / "sessions"]
    monkeypatch.setenv("CONTINUE_GLOBAL_DIR", str(tmp_path / "cont"))
    assert continue_dev.folders() == ([tmp_path / "cont"], [tmp_path / "cont" / "sessions"])
    assert continue_dev.wiring().config == tmp_path / "cont" / "settings.json"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTINUE_GLOBAL_DIR", "rel")  # relative: against the current directory
    assert log_roots(continue_dev) == [tmp_path / "rel" / "sessions"]
    assert [p.name for p in continue_dev.log_files(CONTINUE)] == sorted([IDE.name, CN.name])  # not sessions.json


def test_continue_hook_reads_the_model_from_the_session(monkeypatch, tmp_path):
    hook = json.loads((LOGS / "continue" / "hook-post-tool-use.json").read_text())
    [out] = continue_dev.parse_hook(hook)
    assert (out.tool, out.model, out.file, out.text) == (
        "continue", "unknown", "/home/dev/shop/src/stock.py", hook["tool_input"]["content"])
    monkeypatch.setenv("CONTINUE_GLOBAL_DIR", str(tmp_path))
    (tmp_path / "sessions").mkdir()
    session = json.loads(CN.read_text()) | {"chatModelTitle": "gpt-5.1"}
    (tmp_path / "sessions" / CN.name).write_text(json.dumps(session))
    assert continue_dev.parse_hook(hook)[0].model == "gpt-5.1"
    assert continue_dev.parse_hook(hook | {"session_id": "../../etc/passwd"})[0].model == "unknown"
    assert continue_dev.parse_hook(hook | {"hook_event_name": "PreToolUse"}) == []


def test_continue_ingest_then_commit_is_stamped(repo, isolated_user):
    sessions = log_roots(continue_dev)[0]
    sessions.mkdir(parents=True)
    (sessions / IDE.name).write_text(IDE.read_text().replace("/home/dev/shop", str(repo.path)))
    (sessions / "sessions.json").write_bytes((CONTINUE / "sessions.json").read_bytes())
    done = aiguard("ingest")
    assert done.returncode == 0, done.stderr
    assert b"sessions.json" not in done.stderr
    slug = outputs(continue_dev, sessions / IDE.name)[0]
    assert commit(repo, "src/slug.py", slug.text)["Assisted-by"] == "continue:claude-sonnet-4-5"


def test_integrate_continue_writes_cn_settings_and_undoes(isolated_user):
    settings = isolated_user / ".continue" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  "disableAllHooks": false\n}\n')
    before = settings.read_text()
    aiguard("integrate", "continue")
    hooks = json.loads(settings.read_text())["hooks"]["PostToolUse"]
    assert any("agent-hook continue" in hook["command"] for group in hooks for hook in group["hooks"])
    aiguard("integrate", "continue", "--undo")
    assert settings.read_text() == before


# --- all three -----------------------------------------------------------------------------------

def test_fixtures_are_claimed_by_their_own_source_only():
    heads = {AMP: "amp", IDE: "continue", CN: "continue"}
    for path, name in heads.items():
        assert [n for n, m in registry().items() if sniff(m, path.read_bytes()[:300])] == [name], path
    first = DROID.read_bytes().split(b"\n", 1)[0]
    assert [n for n, m in registry().items() if sniff(m, first)] == ["droid"]
    for path in [LOGS / "droid" / "hook-post-tool-use.json", LOGS / "continue" / "hook-post-tool-use.json",
                 CONTINUE / "sessions.json", DROID_SETTINGS]:
        assert [n for n, m in registry().items() if sniff(m, path.read_bytes()[:300])] == [], path


def test_tailer_reads_threads_and_sessions_the_way_each_is_written(isolated_user):
    from aiguard.daemon.tailer import Tailer

    tailer = Tailer(registry())
    threads = log_roots(amp)[0]
    threads.mkdir(parents=True)
    (threads / AMP.name).write_bytes(AMP.read_bytes())
    assert tailer.source_for(threads / AMP.name) is amp
    assert len(tailer.read(threads / AMP.name)) == 3
    (threads / AMP.name).write_bytes(AMP.read_bytes() + b"\n")  # rewritten, nothing new
    assert tailer.read(threads / AMP.name) == []
    sessions = log_roots(continue_dev)[0]
    sessions.mkdir(parents=True)
    (sessions / CN.name).write_bytes(CN.read_bytes())
    assert tailer.source_for(sessions / CN.name) is continue_dev
    assert tailer.source_for(sessions / "sessions.json") is None
    assert len(tailer.read(sessions / CN.name)) == 3
    folder = log_roots(droid)[0] / "-p"
    folder.mkdir(parents=True)
    head, rest = DROID.read_bytes().split(b"\n", 2)[:2], DROID.read_bytes().split(b"\n", 2)[2]
    (folder / DROID.name).write_bytes(b"\n".join(head) + b"\n")
    assert tailer.source_for(folder / DROID.name) is droid and tailer.read(folder / DROID.name) == []
    with (folder / DROID.name).open("ab") as fh:
        fh.write(rest)
    assert [o.cwd for o in tailer.read(folder / DROID.name)] == ["/home/dev/shop"] * 6
    assert tailer.source_for(folder / DROID_SETTINGS.name) is None


def test_cn_running_claude_codes_hook_is_not_recorded_as_claude_code(repo, monkeypatch):
    # cn also runs ~/.claude/settings.json's hooks, with CONTINUE_PROJECT_DIR set
    # (continuedev/continue extensions/cli/src/hooks/hookRunner.ts)
    hook = json.loads((LOGS / "continue" / "hook-post-tool-use.json").read_text())
    text = hook["tool_input"]["content"]
    hook.update(cwd=str(repo.path), tool_name="Write", tool_input={"file_path": "src/stock.py", "content": text})
    monkeypatch.setenv("CONTINUE_PROJECT_DIR", str(repo.path))
    assert aiguard("agent-hook", "claude-code", input=json.dumps(hook).encode()).stdout == b""
    assert "Assisted-by" not in commit(repo, "src/stock.py", text)
    monkeypatch.delenv("CONTINUE_PROJECT_DIR")
    aiguard("agent-hook", "continue", input=json.dumps(hook | {"tool_input": {"filepath": "src/stock2.py",
                                                                               "content": text}}).encode())
    assert commit(repo, "src/stock2.py", text)["Assisted-by"] == "continue:unknown"


def test_ingest_of_a_pretty_printed_thread_or_session_by_name(repo, tmp_path):
    # the first line is "{": ingest reads the document's opening to tell whose it is
    thread = json.loads(AMP.read_text().replace("/home/dev/shop", str(repo.path)))
    for message in thread["messages"]:
        if "usage" in message:
            message["usage"]["timestamp"] = NOW
    (tmp_path / AMP.name).write_text(json.dumps(thread, indent=2))
    (tmp_path / CN.name).write_text(CN.read_text().replace("/home/dev/shop", str(repo.path)))
    (tmp_path / "other.json").write_text('{\n  "sessionId": "x"\n}\n')
    done = aiguard("ingest", str(tmp_path / AMP.name), str(tmp_path / CN.name), str(tmp_path / "other.json"))
    assert b"read 2 log files" in done.stdout, done.stdout
    assert f"{tmp_path / 'other.json'}: not a log of a known assistant".encode() in done.stderr
    stock = outputs(continue_dev, tmp_path / CN.name)[0].text
    assert commit(repo, "src/stock.py", stock)["Assisted-by"] == "continue:unknown"
