"""Fuzzing every parser of untrusted input (issue 14): no exception escapes, good records survive.

Inputs are the real fixtures (assistant logs, hook payloads) with hostile lines put among
them or parts replaced, and invented messages, notes, policies and settings files built
from random pieces. Bounded: the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from aiguard.audit import foreign
from aiguard.core import note_format
from aiguard.core import trailers
from aiguard.audit import policy
from aiguard.capture import integrate
from aiguard.capture.sources import registry
from aiguard.capture.sources.common import Output, Skip
from conftest import FIXTURES

LOGS = FIXTURES / "assistant-logs"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys the assistants' records and payloads use, so that random objects reach deep code.
KEYS = ["type", "message", "content", "model", "role", "text", "tool_name", "tool_input", "tool_response",
        "file_path", "path", "new_string", "old_string", "edits", "cwd", "payload", "name", "arguments",
        "input", "timestamp", "id", "session_id", "transcript_path", "hook_event_name", "toolCalls", "args",
        "data", "edit", "diff", "command", "messages", "ts", "response", "result", "changes", "unified_diff",
        "trajectory_id", "agent_action_name", "tool_info", "file", "toolName", "toolArgs", "parameters"]
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False)
           | st.text(max_size=30) | st.sampled_from(["", "Write", "Edit", "write_file", "apply_patch", "assistant",
                                                     "/tmp/x.py", "x.py", "claude-sonnet-4-5", "\x00", "\ud800x"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
                    max_leaves=25)


def _dumps(value) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


GARBAGE_LINE = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    JSON.map(_dumps),
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6).map(_dumps),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b"1e999999", b'"\\ud800"', b"\xff\xfe{}", b'{"type": "assistant"', b"{}", b"[]", b"null"]),
)


@st.composite
def mutated(draw, value, depth: int = 0):
    """The value with some parts replaced by random JSON (the rest kept as it was)."""
    if depth > 6 or draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    if isinstance(value, dict) and value:
        out = dict(value)
        for key in draw(st.lists(st.sampled_from(sorted(out)), max_size=3, unique=True)):
            out[key] = draw(mutated(out[key], depth + 1))
        return out
    if isinstance(value, list) and value:
        out = list(value)
        index = draw(st.integers(0, len(out) - 1))
        out[index] = draw(mutated(out[index], depth + 1))
        return out
    return value


def _outputs(items) -> list[Output]:
    return [item for item in items if isinstance(item, Output)]


def _check_items(items) -> None:
    for item in items:
        assert isinstance(item, (Output, Skip)), item
        if isinstance(item, Output):
            assert isinstance(item.text, str) and isinstance(item.tool, str) and isinstance(item.model, str)


# -- assistant logs ------------------------------------------------------------------------------

JSONL_LOGS = [(module, path) for module in ("claude-code", "codex", "gemini-cli", "copilot", "cursor", "windsurf")
              for path in sorted((LOGS / module).glob("*.jsonl"))]
WHOLE_LOGS = ([("cline", p) for p in sorted((LOGS / "cline").glob("*/api_conversation_history.json"))]
              + [("gemini-cli", p) for p in sorted((LOGS / "gemini-cli").glob("*.json"))])


def _parse(tool: str, path: Path, data: bytes) -> list:
    items = list(registry()[tool].parse_log(path, data, {}))
    _check_items(items)
    return items


@pytest.mark.parametrize("tool,path", JSONL_LOGS, ids=[f"{t}/{p.name}" for t, p in JSONL_LOGS])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_jsonl_logs_keep_every_good_record_among_hostile_lines(tool, path, data):
    original = path.read_bytes()
    lines = original.split(b"\n")
    before = _outputs(_parse(tool, path, original))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(at, data.draw(GARBAGE_LINE))
    after = _outputs(_parse(tool, path, b"\n".join(lines)))
    texts = [o.text for o in after]
    for output in before:
        assert output.text in texts, f"lost {output.text[:60]!r}"


@pytest.mark.parametrize("tool,path", JSONL_LOGS, ids=[f"{t}/{p.name}" for t, p in JSONL_LOGS])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_jsonl_logs_with_mutated_records_never_raise(tool, path, data):
    lines = path.read_bytes().split(b"\n")
    records = [i for i, line in enumerate(lines) if line.strip()]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.sampled_from(records))
        try:
            value = json.loads(lines[i])
        except ValueError:
            continue
        lines[i] = _dumps(data.draw(mutated(value)))
    _parse(tool, path, b"\n".join(lines))


@pytest.mark.parametrize("tool,path", WHOLE_LOGS, ids=[f"{t}/{p.parent.name}/{p.name}" for t, p in WHOLE_LOGS])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_whole_file_logs_with_mutated_parts_never_raise(tool, path, data):
    value = json.loads(path.read_bytes())
    _parse(tool, path, _dumps(data.draw(mutated(value))))
    _parse(tool, path, data.draw(GARBAGE_LINE))


@FAST
@given(text=st.lists(st.sampled_from(["#### ", "> ", "```python", "```", "<<<<<<< SEARCH", "=======",
                                      ">>>>>>> REPLACE", "x.py", "# aider chat started at 2025-01-01 10:00:00",
                                      "> /add x.py", "def f():", "    return 1", ""]) | st.text(max_size=20),
                     max_size=40))
def test_aider_history_never_raises(text):
    path = LOGS / "aider" / "aider-chat-history-excerpt.md"
    good = path.read_bytes()
    before = _outputs(_parse("aider", path, good))
    garbage = "\n".join(text).encode("utf-8", "surrogatepass")
    after = _outputs(_parse("aider", path, good + b"\n" + garbage))
    texts = [o.text for o in after]
    assert all(o.text in texts for o in before)  # what was there before the hostile tail stays


RECORD = st.fixed_dictionaries({"tool": st.sampled_from(["codex", "x"]), "model": st.text(max_size=8),
                                 "text": st.text(max_size=40)},
                                optional={"source": st.sampled_from(["manual", "clipboard", "bogus"]),
                                          "file": JSON, "repo": JSON, "time": JSON})


@FAST
@given(good=st.lists(RECORD, min_size=1, max_size=4), bad=st.lists(GARBAGE_LINE | RECORD.map(_dumps)
                                                                   | JSON.map(_dumps), max_size=5))
def test_record_jsonl_reads_good_lines_among_hostile_ones(good, bad):
    import io

    from aiguard.core import names
    from aiguard.capture.record import read_jsonl

    valid = [r for r in good if r.get("source", "manual") != "bogus" and "time" not in r
             and names.problem(r["model"]) is None]  # a name outside the charset is refused (README)
    lines = [json.dumps(r) for r in valid] + [b.decode("utf-8", "replace") for b in bad]
    found = list(read_jsonl(io.StringIO("\n".join(lines) + "\n"), "in.jsonl"))
    assert all(isinstance(where, str) for where, _ in found)
    entries = [entry for _, entry in found if not isinstance(entry, str)]
    assert [e.text for e in entries[:len(valid)]] == [r["text"] for r in valid]


# -- hook payloads -------------------------------------------------------------------------------

HOOK_FIXTURES = [("cline", LOGS / "cline" / "hook-post-tool-use.json"),
                 ("windsurf", LOGS / "windsurf" / "hook-post-write-code.json")]
HOOKED = sorted(name for name, module in registry().items() if hasattr(module, "parse_hook"))


@pytest.mark.parametrize("tool", HOOKED)
@FAST
@given(payload=JSON | st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8))
def test_hook_payloads_never_raise(tool, payload):
    found = registry()[tool].parse_hook(payload if isinstance(payload, dict) else {"tool_input": payload})
    assert isinstance(found, list) and all(isinstance(o, Output) for o in found)


@pytest.mark.parametrize("tool,path", HOOK_FIXTURES, ids=[t for t, _ in HOOK_FIXTURES])
@FAST
@given(data=st.data())
def test_real_hook_payloads_with_mutated_parts_never_raise(tool, path, data):
    payload = data.draw(mutated(json.loads(path.read_bytes())))
    assume(isinstance(payload, dict))
    found = registry()[tool].parse_hook(payload)
    assert isinstance(found, list)


GOOD_PAYLOADS = [
    ("claude-code", {"hook_event_name": "PostToolUse", "tool_name": "Write", "cwd": "/tmp",
                     "tool_input": {"file_path": "/tmp/a.py", "content": "def f():\n    return 42\n"}}),
    *((tool, json.loads(path.read_bytes())) for tool, path in HOOK_FIXTURES),
]
UNKNOWN_KEY = st.text(min_size=1, max_size=8).filter(lambda k: k not in KEYS and not k[:1].isalpha())


@pytest.mark.parametrize("tool,payload", GOOD_PAYLOADS, ids=[t for t, _ in GOOD_PAYLOADS])
@FAST
@given(extra=st.dictionaries(UNKNOWN_KEY, JSON, min_size=1, max_size=4))
def test_unknown_fields_in_a_good_payload_change_nothing(tool, payload, extra):
    parse = registry()[tool].parse_hook
    before = [(o.text, o.file) for o in parse(payload)]
    assert before
    assert [(o.text, o.file) for o in parse({**extra, **payload})] == before


# -- commit messages and trailers ------------------------------------------------------------------

LINE = st.one_of(
    st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=25),
    st.sampled_from(["", " ", "\t", "#", "# comment", "Signed-off-by: A <a@x>", "Fixes: 1", "Key : v", "  folded",
                     "(cherry picked from commit 0123456789012345678901234567890123456789)",
                     "# ------------------------ >8 ------------------------", "Assisted-by: other:model",
                     "---", "Not: a trailer because prose follows", "\r", "a\rb"]),
)
EOL = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"])


@st.composite
def messages(draw) -> bytes:
    lines = draw(st.lists(LINE, max_size=14))
    out = b""
    for line in lines:
        out += line.encode("utf-8", "surrogatepass") + draw(EOL)
    if draw(st.booleans()):
        out = out.rstrip(b"\n")
    return out


CLEANUPS = st.sampled_from([trailers.Cleanup(b"#"), trailers.Cleanup(None), trailers.Cleanup(b";")])
GROUP = [(trailers.ASSISTED_BY, "claude-code:m"), (trailers.AI_LINES, "3/7"),
         (trailers.STAMP, "v1 0123abcd 1 " + "0" * 32 + " " + "1" * 32)]


@settings(max_examples=300, deadline=None)
@given(msg=messages() | st.binary(max_size=200), cleanup=CLEANUPS)
def test_trailer_readers_never_raise(msg, cleanup):
    trailers.parse_trailers(msg, cleanup.comment)
    trailers.read_group(msg, cleanup.comment)
    trailers.strip_own(msg, cleanup)
    trailers.has_content(msg, cleanup)
    trailers.effective_comment(b"auto", msg)
    trailers.squashed_claims(msg)
    foreign.marks(msg, "A <a@x>", "C <c@x>")


@settings(max_examples=300, deadline=None)
@given(msg=messages(), cleanup=CLEANUPS)
def test_the_group_goes_in_and_out_without_touching_another_byte(msg, cleanup):
    assume(trailers.has_content(msg, cleanup))
    assume(b"AI-Lines" not in msg and b"AIGuard-Stamp" not in msg and b"Assisted-by" not in msg)
    new = trailers.apply(msg, GROUP, cleanup)
    back = trailers.strip_own(new, cleanup)
    # apply may only add the missing line end of the last line of content (a final CR is no line end)
    assert back in (msg, msg + b"\n", msg + b"\r\n") or (back.replace(b"\r\n", b"\n").rstrip(b"\n")
                                                      == msg.replace(b"\r\n", b"\n").rstrip(b"\n")), (msg, new, back)
    seen = trailers.parse_trailers(new, cleanup.comment)
    if seen[-3:] == GROUP:  # placed where git reads it: read back as aiguard's own
        group = trailers.read_group(new, cleanup.comment)
        assert group is not None and group.stamp == GROUP[2][1] and group.ai_lines == "3/7"


@FAST
@given(value=st.text(max_size=60) | st.sampled_from(["3 lines in 1 file (binary 1)", "1 line in 2 files ()",
                                                     "9 lines in 2 files (too-large 1, binary 1)"]))
def test_unmatched_and_counts_never_raise(value):
    parsed = trailers.parse_unmatched(value)
    assert parsed is None or isinstance(parsed["lines"], int)
    trailers.ai_counts(value)
    trailers.stamp_own_count(value)


# -- notes ---------------------------------------------------------------------------------------

PATHS = st.one_of(st.text(min_size=1, max_size=12),
                  st.binary(min_size=1, max_size=12).map(lambda b: b.replace(b"\0", b"_").decode("utf-8",
                                                                                                 "surrogateescape")))
SPANS = st.builds(lambda start, length, tool, model, source: note_format.Span(start, start + length, tool, model, source),
                  st.integers(1, 10_000), st.integers(0, 50), st.sampled_from(["claude-code", "codex", "x"]),
                  st.text(max_size=8), st.sampled_from(["manual", "assistant-log", ""]))


@FAST
@given(files=st.dictionaries(PATHS, st.lists(SPANS, min_size=1, max_size=4), max_size=5))
def test_notes_round_trip_any_file_name(files):
    data = note_format.encode(10, files)
    json.loads(data)  # valid JSON, whatever the names' bytes
    record = note_format.decode(data)
    assert record is not None
    assert {p: sorted(s) for p, s in record.files.items()} == {p: sorted(s) for p, s in files.items()}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_note_readers_never_raise(data):
    good = json.loads(note_format.encode(5, {"a.py": [note_format.Span(1, 3, "codex", "m", "manual")]}))
    for raw in (data.draw(GARBAGE_LINE), _dumps(data.draw(mutated(good))), data.draw(st.binary(max_size=100))):
        record = note_format.decode(raw)
        assert record is None or isinstance(record, note_format.LineRecord)
        foreign.parse_git_ai(raw)
        foreign.parse_git_ai(b"src/x.py\n  claude 1-3,5\n---\n" + raw)


# -- policy, user config, assistant settings --------------------------------------------------------

POLICY_KEYS = list(policy.SCHEMA) + ["unknown-key"]
TOML_VALUES = st.one_of(st.integers(-5, 200), st.floats(-1, 2, allow_nan=False), st.booleans(),
                        st.text(max_size=10), st.lists(st.text(max_size=10), max_size=3),
                        st.lists(st.integers(), max_size=2))


def _toml(table: dict) -> str:
    """TOML for flat values: JSON's spelling is TOML's for these (true/false included)."""
    return "".join(f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in table.items())


@settings(max_examples=200, deadline=None)
@given(table=st.dictionaries(st.sampled_from(POLICY_KEYS), TOML_VALUES, max_size=5))
def test_policy_parse_is_a_policy_or_one_error(table):
    try:
        result = policy.parse(table, ".aiguard.toml")
    except policy.PolicyError as exc:
        assert "\n" not in str(exc) and ".aiguard.toml" in str(exc)
    else:
        assert isinstance(result, policy.Policy)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.dictionaries(st.sampled_from(POLICY_KEYS), TOML_VALUES, max_size=5), junk=st.binary(max_size=30))
def test_policy_files_load_or_fail_with_one_error(tmp_path, table, junk):
    (tmp_path / ".aiguard.toml").write_bytes(_toml(table).encode() + junk)
    try:
        policy.load(tmp_path)
    except policy.PolicyError as exc:
        assert str(tmp_path / ".aiguard.toml") in str(exc) or ".aiguard.toml" in str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=st.dictionaries(st.sampled_from(["retention-days", "clipboard", "other"]), TOML_VALUES, max_size=3),
       clip=st.dictionaries(st.sampled_from(["enabled", "services", "ignore", "window-titles", "x"]), TOML_VALUES,
                            max_size=3), junk=st.binary(max_size=20))
def test_user_config_loads_or_fails_with_one_error(isolated_user, top, clip, junk):
    from aiguard.store import config, paths

    text = _toml({k: v for k, v in top.items() if k != "clipboard"})
    if clip:
        text += "[clipboard]\n" + _toml(clip)
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() + junk)
    try:
        config.load()
    except config.ConfigError as exc:
        assert str(path) in str(exc)


def _spec(path: Path, comments: bool) -> integrate.JsonHook:
    entry = {"matcher": "Write", "hooks": [{"type": "command", "command": "py -m aiguard agent-hook claude-code"}]}
    return integrate.JsonHook("claude-code", path, "PostToolUse", entry, {"hooks": {"PostToolUse": [entry]}},
                              comments=comments)


@settings(max_examples=150, deadline=None)
@given(settings_=st.dictionaries(st.sampled_from(["hooks", "model", "env", "PostToolUse", "x"]),
                                 JSON | st.dictionaries(st.sampled_from(["PostToolUse", "Stop"]), JSON, max_size=2),
                                 max_size=4),
       indent=st.sampled_from([None, 2, 4, "\t"]), comments=st.booleans())
def test_settings_splice_in_and_out_exactly_or_refuse(settings_, indent, comments):
    spec = _spec(Path("/nonexistent/settings.json"), comments)
    text = json.dumps(settings_, indent=indent, ensure_ascii=False) + "\n"
    try:
        plain, data, _ = integrate._parse_json(spec, text)
        if integrate._ours(spec, data):
            return
        new = integrate._json_with_hook(spec, text)
    except integrate.IntegrateError as exc:
        assert "\n" not in str(exc) and "settings.json" in str(exc)
        return
    assert integrate._ours(spec, json.loads(new))
    assert integrate._json_without_hook(spec, new) == text


@settings(max_examples=60, deadline=None)
@given(raw=GARBAGE_LINE, comments=st.booleans())
def test_settings_parser_refuses_garbage_in_one_line(raw, comments):
    spec = _spec(Path("/nonexistent/settings.json"), comments)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # _read refuses those before parsing
    try:
        integrate._parse_json(spec, text)
    except integrate.IntegrateError as exc:
        assert "\n" not in str(exc)


# -- what the fuzzing found, kept as fixed cases ---------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("tool,path", [*JSONL_LOGS[:1], *WHOLE_LOGS[:1], *WHOLE_LOGS[-1:]],
                         ids=lambda v: getattr(v, "name", v))
def test_found_a_deeply_nested_log_line_or_file_is_skipped(tool, path):
    items = _parse(tool, path, DEEP + b"\n" if path.suffix == ".jsonl" else DEEP)
    assert any(isinstance(item, Skip) for item in items)
    if path.suffix == ".jsonl":  # and the good records after it are still read
        good = _outputs(_parse(tool, path, path.read_bytes()))
        after = _outputs(_parse(tool, path, DEEP + b"\n" + path.read_bytes()))
        assert [o.text for o in after] == [o.text for o in good]


def test_found_deep_or_odd_notes_are_no_notes():
    assert note_format.decode(DEEP) is None
    assert foreign.parse_git_ai(b"x.py\n  s 1-2\n---\n" + DEEP) is None
    assert foreign.parse_git_ai(b'x.py\n  s 1-2\n---\n{"schema_version": "authorship/3", "sessions": []}') is not None


def test_found_a_hook_payload_with_a_list_for_a_tool_name():
    assert registry()["claude-code"].parse_hook({"tool_name": [], "tool_input": {}}) == []


def test_found_non_utf8_policy_and_config_files_are_one_error(tmp_path, isolated_user):
    from aiguard.store import config, paths

    (tmp_path / ".aiguard.toml").write_bytes(b"\x80")
    with pytest.raises(policy.PolicyError, match="not valid TOML"):
        policy.load(tmp_path)
    (tmp_path / ".aiguard.toml").unlink()
    (tmp_path / "pyproject.toml").write_bytes(b"tool = 1\n")
    assert policy.load(tmp_path) == policy.Policy()
    paths.config_path().parent.mkdir(parents=True, exist_ok=True)
    paths.config_path().write_bytes(b"\x80")
    with pytest.raises(config.ConfigError):
        config.load()


def test_found_settings_with_null_hooks_are_refused_in_one_line():
    spec = _spec(Path("/nonexistent/settings.json"), False)
    with pytest.raises(integrate.IntegrateError, match='"hooks" is not an object'):
        integrate._parse_json(spec, '{"hooks": null}')
