"""aider, Cline (and Roo Code) and Windsurf sources.

aider runs on its real chat history (tests/fixtures/assistant-logs/aider, see SOURCES.md);
the Cline and Windsurf fixtures are synthesised from their documented shapes (their
SOURCES.md says so), and so are the few snippets written inline below.
"""

from __future__ import annotations

from aiguard.capture.sources import log_roots

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from conftest import FIXTURES, aiguard
from test_daemon import recorded_count, wait_for

from aiguard.capture.sources import aider, cline, kilo_code, registry, roo_code, sniff, windsurf
from aiguard.capture.sources.common import Output, Skip, complete_lines, replace_sides

LOGS = FIXTURES / "assistant-logs"
AIDER = LOGS / "aider" / "aider-chat-history-excerpt.md"
CLINE = LOGS / "cline"
WINDSURF = LOGS / "windsurf"


def items(module, path: Path, data: bytes | None = None, state: dict | None = None) -> list[Output | Skip]:
    return list(module.parse_log(path, path.read_bytes() if data is None else data, {} if state is None else state))


def outputs(module, path: Path, data: bytes | None = None, state: dict | None = None) -> list[Output]:
    return [o for o in items(module, path, data, state) if isinstance(o, Output)]


def now_header() -> str:
    return f"# aider chat started at {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}"


# --- aider -----------------------------------------------------------------------------------

def test_aider_real_history_search_replace_blocks():
    found = items(aider, AIDER)
    outs = [o for o in found if isinstance(o, Output)]
    skips = [s for s in found if isinstance(s, Skip)]
    # 55 SEARCH blocks start a line in assistant replies (the quoted "> <<<<<<< SEARCH" of
    # aider's failed-match reports are its own output); two replies were cut off mid-block.
    assert len(outs) == 53
    assert [(s.where.rsplit(":", 1)[1], s.reason) for s in skips] == [
        ("1611", "edit block cut off before its end"), ("2241", "edit block cut off before its end")]
    assert {(o.tool, o.model, o.source, o.cwd) for o in outs} == {
        ("aider", "claude-3-5-sonnet-20240620", "assistant-log", str(AIDER.parent.resolve()))}
    chunks = [o for o in outs if "class ChatChunks:" in o.text]
    assert chunks[0].text == ("@dataclass\nclass ChatChunks:\n" + "".join(
        f"    {name}: list = field(default_factory=list)\n"
        for name in ("system", "examples", "done", "files", "cur", "reminder")))
    assert chunks[0].file == str(AIDER.parent.resolve() / "aider" / "coders" / "base_coder.py")
    assert chunks[0].time == datetime(2024, 8, 16, 16, 34, 18).timestamp()  # the session's header, local time
    assert {Path(o.file).name for o in outs} == {"base_coder.py", "repomap.py", "models.py", "main.py", "args.py",
                                                "commands.py"}


def test_aider_parses_appended_chunks_and_waits_for_a_block_to_end():
    data = AIDER.read_bytes()
    whole = outputs(aider, AIDER, data)
    state: dict = {}
    pieces: list[Output] = []
    offset = 0
    for cut in range(1, len(data) + 1, 997):  # arbitrary appends, cutting lines and blocks in half
        chunk = complete_lines(data[offset:cut])
        pieces += outputs(aider, AIDER, chunk, state)
        json.dumps(state)  # the daemon saves it as JSON
        offset += len(chunk)
    pieces += outputs(aider, AIDER, complete_lines(data[offset:]), state)
    assert pieces == whole
    # Fed up to the middle of a REPLACE side, nothing comes out yet; the rest finishes it.
    head = data[:data.index(b"    examples: list = field(default_factory=list)\n")]
    state = {}
    before = outputs(aider, AIDER, complete_lines(head), state)
    assert all("class ChatChunks:" not in o.text for o in before) and state["block"]["kind"] == "replace"
    rest = data[len(complete_lines(head)):]
    after = outputs(aider, AIDER, rest, state)
    assert after[0].text == [o for o in whole if "class ChatChunks:" in o.text][0].text


def test_aider_model_switches_whole_files_architect_and_udiff(tmp_path):
    """A history written for this test in aider's documented shapes."""
    history = tmp_path / ".aider.chat.history.md"
    history.write_text("\n".join([
        "", now_header(), "",
        "> Aider v0.86.1  ", "> Model: gpt-4o-mini with whole edit format  ", "",
        "#### write hello.py  ", "",
        "Here it is:", "", "hello.py", "```python", "print('hello')", "```", "",
        "#### /ask what does it do?  ", "",
        "It prints:", "", "output.txt", "```", "hello", "```", "",
        "#### /model gpt-4o  ", "> Model: gpt-4o with diff edit format  ", "",
        "#### add a name  ", "",
        "hello.py", "```python", "<<<<<<< SEARCH", "print('hello')", "=======", "NAME = 'world'", ">>>>>>> REPLACE",
        "```", "", "```python", "<<<<<<< SEARCH", "NAME = 'world'", "=======", "NAME = 'you'", ">>>>>>> REPLACE", "```",
        "", now_header(), "",
        "> Main model: o3 with architect edit format  ", "> Editor model: gpt-4.1 with editor-diff edit format  ",
        "> Weak model: gpt-4.1-mini  ", "",
        "#### greet by name  ", "",
        "Change the greeting to use NAME.", "",
        "hello.py", "```python", "<<<<<<< SEARCH", "", "=======", "print(f'hello {NAME}')", ">>>>>>> REPLACE", "```",
        "", now_header(), "", "> Model: deepseek-chat with udiff edit format  ", "",
        "#### tidy  ", "",
        "```diff", "--- hello.py", "+++ hello.py", "@@ ... @@", "-print(f'hello {NAME}')", "+def main():",
        "+    print(f'hello {NAME}')", " ", "```", ""]))
    found = [(o.model, Path(o.file).name, o.text) for o in outputs(aider, history)]
    assert found == [
        ("gpt-4o-mini", "hello.py", "print('hello')\n"),  # the /ask answer's fence is not a file
        ("gpt-4o", "hello.py", "NAME = 'world'\n"),
        ("gpt-4o", "hello.py", "NAME = 'you'\n"),  # no file name: the previous block's
        ("gpt-4.1", "hello.py", "print(f'hello {NAME}')\n"),  # architect mode: the editor model edits
        ("deepseek-chat", "hello.py", "def main():\n    print(f'hello {NAME}')\n"),
    ]


def test_aider_garbage_and_broken_blocks_are_skipped_and_good_blocks_still_count(tmp_path):
    history = tmp_path / ".aider.chat.history.md"
    good = ["x.py", "```python", "<<<<<<< SEARCH", "=======", "x = 1", ">>>>>>> REPLACE", "```"]
    opening = ["", now_header(), "> Model: gpt-4o with diff edit format  ", "#### go  ", ""]
    history.write_bytes("\n".join(opening).encode()
                        + b"\n\xff\xfe not text\n"
                        + "\n".join(["y.py", "<<<<<<< SEARCH", "y = 0", ">>>>>>> REPLACE", "",  # no divider
                                     "z.py", "<<<<<<< SEARCH", "=======", "z = 1",  # cut off by aider's output
                                     "> ^C KeyboardInterrupt  ", "", *good, "",
                                     "w.py", "<<<<<<< SEARCH", "=======", "w = 1"]).encode())  # no newline yet
    found = items(aider, history)
    assert [(s.where.rsplit(":", 1)[1], s.reason) for s in found if isinstance(s, Skip)] == [
        ("6", "not UTF-8 text"), ("8", "SEARCH block without its ======= line"),
        ("13", "edit block cut off before its end")]
    assert [(Path(o.file).name, o.text) for o in found if isinstance(o, Output)] == [("x.py", "x = 1\n")]


def test_aider_roots_are_the_current_repository_and_aiders_override(tmp_path, monkeypatch):
    repo = tmp_path / "proj"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")
    monkeypatch.delenv("AIDER_CHAT_HISTORY_FILE", raising=False)
    assert log_roots(aider) == [repo / ".aider.chat.history.md"]
    monkeypatch.setenv("AIDER_CHAT_HISTORY_FILE", str(tmp_path / "all.md"))
    assert log_roots(aider) == [tmp_path / "all.md", repo / ".aider.chat.history.md"]
    monkeypatch.setenv("AIDER_CHAT_HISTORY_FILE", "notes/chat.md")
    assert log_roots(aider) == [repo / "notes" / "chat.md"]
    monkeypatch.chdir(tmp_path)
    assert log_roots(aider) == []  # not in a repository: only `ingest PATH` finds histories


# --- Cline, Roo Code -------------------------------------------------------------------------

def test_cline_xml_tool_calls_with_the_model_from_task_metadata():
    path = CLINE / "xml-tools-task" / "api_conversation_history.json"
    found = outputs(cline, path)
    assert [(o.tool, o.model, o.file, o.cwd, o.source) for o in found] == [
        ("cline", "claude-3-7-sonnet-20250219", "/home/dev/shop/src/slug.py", "/home/dev/shop", "assistant-log"),
        ("cline", "claude-3-7-sonnet-20250219", "/home/dev/shop/src/product.py", "/home/dev/shop", "assistant-log")]
    assert found[0].text.startswith("import re\n\n\ndef slugify(title):\n") and "</content>" not in found[0].text
    assert found[1].text == "    return slugify(self.title)\n"  # the REPLACE side only


def test_cline_native_tool_use_with_model_info_and_times():
    found = outputs(cline, CLINE / "native-tools-task" / "api_conversation_history.json")
    assert [(o.model, o.file, o.time) for o in found] == [
        ("claude-sonnet-4-5-20250929", "/home/dev/shop/src/util.py", 1763980105.0),
        ("claude-sonnet-4-5-20250929", "/home/dev/shop/src/util.py", 1763980110.0)]  # execute_command: not code
    assert found[0].text.startswith("def clamp(value, low, high):\n")
    assert found[1].text == ("    return max(low, min(value, high))\n\n\ndef clamp_all(values, low, high):\n"
                             '    """Clamp every value of a sequence."""\n'
                             "    return [clamp(v, low, high) for v in values]\n")


def test_roo_code_apply_diff_and_insert_content():
    found = outputs(roo_code, LOGS / "roo-code" / "apply-diff-task" / "api_conversation_history.json")
    assert [(o.tool, o.model, o.file, o.text) for o in found] == [
        ("roo-code", "unknown", "/home/dev/shop/src/checkout.py",
         '    total = sum(prices)\n    log.info("checkout total %s", total)\n'),  # not :start_line: or -------
        ("roo-code", "unknown", "/home/dev/shop/src/checkout.py", "import logging\n\nlog = logging.getLogger(__name__)")]


def test_replace_sides_of_both_marker_styles():
    diff = ("------- SEARCH\na\n=======\nb\n+++++++ REPLACE\n\n<<<<<<< SEARCH\n:start_line:3\n-------\nc\n=======\n"
            "d\ne\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nf\n=======\n\n>>>>>>> REPLACE\n<<<<<<< SEARCH\ng\n=======\nh")
    assert replace_sides(diff) == ["b\n", "d\ne\n"]  # a deletion and an unfinished block give nothing


def test_cline_rewritten_history_reports_each_call_once(tmp_path):
    history = json.loads((CLINE / "native-tools-task" / "api_conversation_history.json").read_text())
    path = tmp_path / "api_conversation_history.json"
    path.write_text(json.dumps(history[:2]))
    state: dict = {}
    assert len(outputs(cline, path, state=state)) == 1
    path.write_text(json.dumps(history))  # the next save: the same messages and one more
    [new] = outputs(cline, path, state=state)
    assert "def clamp_all" in new.text
    assert outputs(cline, path, state=state) == []
    path.write_text(json.dumps(history[:1] + history[3:]))  # messages deleted: nothing new, nothing again
    assert outputs(cline, path, state=state) == [] and len(json.loads(json.dumps(state))["seen"]) == 2


def test_cline_malformed_histories_are_skipped_with_reasons(tmp_path):
    path = tmp_path / "api_conversation_history.json"
    good = (CLINE / "native-tools-task" / "api_conversation_history.json").read_text()
    path.write_text(good[:-30])  # caught mid-write
    assert [(type(i).__name__, i.reason) for i in items(cline, path)] == [("Skip", "not JSON (caught mid-write?)")]
    path.write_text('{"role": "assistant"}')
    assert [i.reason for i in items(cline, path)] == ["not a JSON array of messages"]
    path.write_text(json.dumps([5, "x"] + json.loads(good) + [{"role": "assistant", "content": 7}]))
    found = items(cline, path)
    assert [(i.where.rsplit(":", 1)[1], i.reason) for i in found if isinstance(i, Skip)] == [
        ("message 1", "not a message object"), ("message 2", "not a message object")]
    assert len([i for i in found if isinstance(i, Output)]) == 2


def test_cline_hook_post_tool_use():
    payload = json.loads((CLINE / "hook-post-tool-use.json").read_text())
    [out] = cline.parse_hook(payload)
    assert (out.tool, out.model, out.file, out.cwd, out.text, out.time, out.source) == (
        "cline", "claude-sonnet-4-5-20250929", "/home/dev/shop/src/money.py", "/home/dev/shop",
        payload["postToolUse"]["parameters"]["content"], 1763980200.0, "assistant-hook")
    post = payload["postToolUse"]
    assert cline.parse_hook(dict(payload, postToolUse=dict(post, success=False))) == []
    assert cline.parse_hook(dict(payload, postToolUse=dict(post, toolName="read_file"))) == []
    assert cline.parse_hook({"hookName": "PreToolUse", "preToolUse": post}) == []
    diff = {"path": "/abs/a.py", "diff": "------- SEARCH\nx = 1\n=======\nx = 2\n+++++++ REPLACE"}
    [edit] = cline.parse_hook({"postToolUse": {"toolName": "replace_in_file", "parameters": diff}})
    assert (edit.model, edit.file, edit.text) == ("unknown", "/abs/a.py", "x = 2\n")
    assert json.loads(cline.HOOK_REPLY) == {"cancel": False}


def test_cline_roots_cover_vscode_builds_extensions_and_portable(isolated_user, monkeypatch):
    roots = log_roots(cline)
    config = isolated_user / ".config"
    assert config / "Code" / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "tasks" in roots
    # Cline's forks are assistants of their own (their modules' roots, not Cline's).
    assert config / "VSCodium" / "User" / "globalStorage" / "rooveterinaryinc.roo-cline" / "tasks" in log_roots(roo_code)
    assert config / "Cursor" / "User" / "globalStorage" / "kilocode.kilo-code" / "tasks" in log_roots(kilo_code)
    assert not any("roo-cline" in str(root) or "kilo-code" in str(root) for root in roots)
    assert isolated_user / ".cline" / "data" / "tasks" in roots
    monkeypatch.setenv("VSCODE_PORTABLE", str(isolated_user / "vscode-data"))
    assert log_roots(cline)[0] == isolated_user / "vscode-data" / "user-data" / "User" / "globalStorage" / \
        "saoudrizwan.claude-dev" / "tasks"
    task = roots[0] / "1763980000000"
    task.mkdir(parents=True)
    for name in ("api_conversation_history.json", "ui_messages.json", "task_metadata.json"):
        (task / name).write_text("[]")
    assert list(cline.log_files(roots[0])) == [task / "api_conversation_history.json"]


# --- Windsurf --------------------------------------------------------------------------------

def test_windsurf_transcript_accepted_code_actions_only_their_new_lines():
    [out] = outputs(windsurf, WINDSURF / "transcript-code-action.jsonl")
    # The rejected action is not read; of the accepted one, what original_content did not have.
    assert (out.tool, out.model, out.file, out.cwd, out.source) == (
        "windsurf", "unknown", "/home/dev/shop/app/hello.py", "/home/dev/shop/app", "assistant-log")
    assert out.text == '\n\ndef greet(name):\n    return f"Hello, {name} & welcome"\n'


def test_windsurf_transcript_garbage_and_partial_lines(tmp_path):
    good = (WINDSURF / "transcript-code-action.jsonl").read_bytes()
    log = tmp_path / "t.jsonl"
    log.write_bytes(b"garbage\n" + b'{"status":"done","type":"code_action"}\n' + good + b'{"status":"done","ty')
    found = items(windsurf, log)
    assert [i.reason for i in found if isinstance(i, Skip)] == [
        "not JSON", "code_action step without its action", "partial last line"]
    assert len([i for i in found if isinstance(i, Output)]) == 1


def test_windsurf_hook_post_write_code():
    payload = json.loads((WINDSURF / "hook-post-write-code.json").read_text())
    [out] = windsurf.parse_hook(payload)
    assert (out.tool, out.model, out.file, out.cwd, out.source) == (
        "windsurf", "SWE-1.5", "/home/dev/shop/app/tax.py", "/home/dev/shop/app", "assistant-hook")
    assert out.text == payload["tool_info"]["edits"][0]["new_string"] and "def with_tax(" in out.text
    assert out.time == 1763980200.0
    # The docs' example has no model_name: "unknown"; other events carry no written code.
    assert windsurf.parse_hook({k: v for k, v in payload.items() if k != "model_name"})[0].model == "unknown"
    assert windsurf.parse_hook(dict(payload, agent_action_name="pre_write_code")) == []
    assert windsurf.parse_hook({"agent_action_name": "post_write_code", "tool_info": {"edits": 3}}) == []
    uri = dict(payload, tool_info={"file_path": "file:///home/dev/my%20shop/a.py",
                                   "edits": [{"new_string": "a = 1\n"}]})
    assert windsurf.parse_hook(uri)[0].file == "/home/dev/my shop/a.py"


# --- every source claims only its own fixtures -----------------------------------------------

def first_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        line = fh.readline(65536)
        while line and not line.strip():
            line = fh.readline(65536)
    return line


def test_new_fixtures_are_claimed_by_their_own_source_only():
    sources = registry()
    logs = [*CLINE.glob("*/api_conversation_history.json"), *WINDSURF.glob("*.jsonl"), AIDER]
    for path in logs:
        claimed = [name for name, module in sources.items() if sniff(module, first_line(path))]
        assert claimed == [path.relative_to(LOGS).parts[0]], (path, claimed)
    for path in [*CLINE.glob("*.json"), *WINDSURF.glob("*.json"), CLINE / "xml-tools-task" / "task_metadata.json"]:
        assert [name for name, module in sources.items() if sniff(module, first_line(path))] == [], path
    # An aider history opens with a blank line before its header.
    assert aider.sniff(first_line(AIDER)) and not aider.sniff(b"\n")


# --- end to end: recorded, then a real commit is stamped --------------------------------------

def test_ingest_aider_history_in_a_repository_then_commit_is_stamped(repo):
    today = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    text = re.sub(r"^# aider chat started at .*$", f"# aider chat started at {today}", AIDER.read_text(), flags=re.M)
    history = repo.write(".aider.chat.history.md", "\n" + text)
    chunks = [o for o in outputs(aider, history) if "class ChatChunks:" in o.text][0]
    done = aiguard("ingest", str(repo.path))  # the folder: its .aider.chat.history.md is found
    assert done.stdout.startswith(b"read 1 log files: recorded ")  # its 53 outputs, less the ledger's dedupe
    code = "from dataclasses import dataclass, field\n\n\n" + chunks.text
    repo.write("aider/coders/chunks.py", code)
    repo.git("add", "aider/coders/chunks.py")
    repo.git("commit", "-q", "-m", "chat chunks")
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "aider:claude-3-5-sonnet-20240620"
    assert trailers["AI-Lines"] == f"{len(chunks.text.splitlines())}/{len(code.splitlines())}"


def test_ingest_cline_task_then_commit_is_stamped(repo, tmp_path):
    history = json.loads((CLINE / "native-tools-task" / "api_conversation_history.json").read_text())
    now_ms = int(time.time() * 1000)
    for message in history:
        message["ts"] = now_ms
        for block in message["content"]:
            if isinstance(block.get("text"), str):
                block["text"] = block["text"].replace("/home/dev/shop", str(repo.path))
    task = tmp_path / "tasks" / str(now_ms)
    task.mkdir(parents=True)
    (task / "api_conversation_history.json").write_text(json.dumps(history, separators=(",", ":")))
    assert b"recorded 2," in aiguard("ingest", str(task / "api_conversation_history.json")).stdout
    write, edit = outputs(cline, task / "api_conversation_history.json")
    code = write.text + edit.text.split("\n", 1)[1]  # the file once the edit replaced its last line
    repo.write("src/util.py", code)
    repo.git("add", "src/util.py")
    repo.git("commit", "-q", "-m", "clamp")
    assert dict(repo.trailers())["Assisted-by"] == "cline:claude-sonnet-4-5-20250929"


def test_agent_hooks_of_windsurf_and_cline_then_commits_are_stamped(repo):
    windsurf_payload = json.loads((WINDSURF / "hook-post-write-code.json").read_text())
    windsurf_payload["tool_info"]["file_path"] = str(repo.path / "app" / "tax.py")
    windsurf_payload["timestamp"] = datetime.now().astimezone().isoformat()
    done = aiguard("agent-hook", "windsurf", input=json.dumps(windsurf_payload).encode())
    assert done.returncode == 0 and done.stderr == b""
    repo.write("app/tax.py", windsurf_payload["tool_info"]["edits"][0]["new_string"])
    repo.git("add", "app/tax.py")
    repo.git("commit", "-q", "-m", "tax")
    assert dict(repo.trailers())["Assisted-by"] == "windsurf:SWE-1.5"

    cline_payload = json.loads((CLINE / "hook-post-tool-use.json").read_text())
    cline_payload.update(workspaceRoots=[str(repo.path)], timestamp=str(int(time.time() * 1000)))
    done = aiguard("agent-hook", "cline", input=json.dumps(cline_payload).encode())
    assert done.returncode == 0 and done.stderr == b""
    repo.write("src/money.py", cline_payload["postToolUse"]["parameters"]["content"])
    repo.git("add", "src/money.py")
    repo.git("commit", "-q", "-m", "money")
    assert dict(repo.trailers())["Assisted-by"] == "cline:claude-sonnet-4-5-20250929"


def test_doctor_has_a_line_for_each_new_assistant(isolated_user, tmp_path):
    task = isolated_user / ".config" / "Code" / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "tasks" / "1"
    task.mkdir(parents=True)
    (task / "api_conversation_history.json").write_bytes(
        (CLINE / "native-tools-task" / "api_conversation_history.json").read_bytes())
    out = aiguard("doctor", cwd=tmp_path, check=False).stdout.decode()
    lines = {name: [line for line in out.splitlines() if f"assistant {name}" in line]
             for name in ("cline", "windsurf", "aider")}
    assert lines["cline"][0].startswith("ok") and "1 logs" in lines["cline"][0]
    assert "no logs found" in lines["windsurf"][0] and ".windsurf" in lines["windsurf"][0]
    assert "no logs found" in lines["aider"][0]  # outside a repository, no AIDER_CHAT_HISTORY_FILE


# --- the daemon and histories rewritten by rename --------------------------------------------

def cline_history(calls: int) -> bytes:
    """A Cline history with `calls` write_to_file calls, dated now (retention keeps it)."""
    now_ms = int(time.time() * 1000)
    messages = [{"role": "user", "content": [{"type": "text", "text": "<task>\nwrite helpers\n</task>"}], "ts": now_ms}]
    for n in range(calls):
        messages.append({"role": "assistant", "ts": now_ms, "modelInfo": {"modelId": "claude-sonnet-4-5-20250929"},
                         "content": [{"type": "tool_use", "id": f"t{n}", "name": "write_to_file",
                                      "input": {"path": f"/w/helper{n}.py",
                                                "content": f"def helper{n}(values):\n"
                                                           f"    return sorted(values)[{n}]\n"}}]})
    return json.dumps(messages, separators=(",", ":")).encode()


def replace_atomically(path: Path, data: bytes, folder: Path | None = None) -> None:
    """What Cline does: write a temp file beside it, then rename it over the history."""
    tmp = (folder or path.parent) / f"{path.name}.tmp.{time.monotonic_ns()}.json"
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_tailer_reads_a_rewritten_history_whole_and_reports_new_calls_once(isolated_user):
    from aiguard.daemon.tailer import Tailer

    task = log_roots(cline)[0] / "1763980000000"
    task.mkdir(parents=True)
    history = task / "api_conversation_history.json"
    tailer = Tailer(registry())
    replace_atomically(history, cline_history(1))
    assert [o.file for o in tailer.read(history)] == ["/w/helper0.py"]
    assert tailer.read(history) == []  # unchanged
    replace_atomically(history, cline_history(2))
    assert [o.file for o in tailer.read(history)] == ["/w/helper1.py"]
    assert tailer.source_for(task / "api_conversation_history.json.tmp.1.json") is None
    assert tailer.source_for(task / "ui_messages.json") is None


def test_daemon_records_a_cline_history_rewritten_by_rename_exactly_once(isolated_user):
    home = isolated_user
    task = log_roots(cline)[0] / "1763980000000"
    task.mkdir(parents=True)  # Cline is installed: its tasks folder exists
    history = task / "api_conversation_history.json"
    aiguard("daemon", "start")
    try:
        replace_atomically(history, cline_history(1))
        assert wait_for(lambda: recorded_count(home) == 1)
        replace_atomically(history, cline_history(2))  # watchdog: moved, to the history's name
        assert wait_for(lambda: recorded_count(home) == 2)
        replace_atomically(history, cline_history(3), folder=home)  # from outside the watched tree: created
        assert wait_for(lambda: recorded_count(home) == 3)

        def saved() -> dict:
            try:
                return json.loads((home / "aiguard-state" / "tail-state.json").read_text()).get(str(history), {})
            except (OSError, ValueError):
                return {}

        assert wait_for(lambda: saved().get("inode") == history.stat().st_ino)
    finally:
        aiguard("daemon", "stop")
    assert len(saved()["state"]["seen"]) == 3
    log = (home / "aiguard-state" / "daemon.log").read_text()
    passes = [(int(a), int(b)) for a, b in re.findall(r"recorded (\d+), (\d+) already known", log)]
    assert sum(a for a, _ in passes) == 3 and all(b == 0 for _, b in passes), passes  # never reported twice
    assert recorded_count(home) == 3


def test_copilot_hook_payload_with_the_sessions_model(tmp_path, monkeypatch):
    """Copilot CLI's postToolUse payload (shape from the Copilot SDK docs, invented values);
    the model comes from the session's event log."""
    from aiguard.capture.sources import copilot

    monkeypatch.setenv("HOME", str(tmp_path))
    session = tmp_path / ".copilot" / "session-state" / "s-1" / "events.jsonl"
    session.parent.mkdir(parents=True)
    session.write_text(
        '{"type":"session.start","data":{"copilotVersion":"0.0.400","context":{"cwd":"/w"}},"id":"1","timestamp":"2026-11-26T10:00:00Z"}\n'
        '{"type":"session.model_change","data":{"newModel":"gpt-5.1"},"id":"2","timestamp":"2026-11-26T10:00:01Z"}\n')
    payload = {"timestamp": 1764151200000, "cwd": "/w", "sessionId": "s-1", "toolName": "create",
               "toolArgs": '{"path": "a.py", "file_text": "print(1)\\n"}', "toolResult": {"resultType": "success"}}
    [out] = copilot.parse_hook(payload)
    assert (out.tool, out.model, out.file, out.text, out.source) == ("copilot", "gpt-5.1", "/w/a.py", "print(1)\n",
                                                                     "assistant-hook")
    assert out.time == 1764151200.0
    assert copilot.parse_hook({**payload, "sessionId": "../x"})[0].model == "unknown"
    assert copilot.parse_hook({**payload, "toolName": "bash"}) == []
    assert copilot.parse_hook({"toolName": "create", "toolArgs": "not json"}) == []


def test_agent_hook_prints_the_reply_and_survives_garbage(tmp_path):
    from conftest import aiguard

    done = aiguard("agent-hook", "cline", input=b"\x00\xffnot json")
    assert done.returncode == 0 and done.stdout.decode().strip() == '{"cancel": false}'
    assert done.stderr.decode().count("\n") == 1
    unknown = aiguard("agent-hook", "nope", input=b"{}")
    assert unknown.returncode == 0 and "unknown assistant" in unknown.stderr.decode()
    # a raw control character inside a string (Windsurf) is still read
    raw = b'{"agent_action_name": "post_write_code", "tool_info": {"file_path": "/w/a.py", "edits": [{"old_string": "", "new_string": "x\x01y"}]}}'
    assert aiguard("agent-hook", "windsurf", input=raw).stderr == b""
