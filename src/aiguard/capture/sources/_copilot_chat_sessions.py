"""VS Code Copilot Chat's older session files: `workspaceStorage/<hash>/chatSessions/<id>.json[l]`.

`<id>.json` (2024-2025) is one object, rewritten whole: `{version: 3, sessionId,
requests: [{requestId, timestamp (ms), modelId: "copilot/<model>", response: [parts],
result: {metadata: {resolvedModel?}}}]}`. The text the model put into a file is in
`textEditGroup` parts: `{"kind": "textEditGroup", "uri": {fsPath, path, ...}, "edits":
[[{"text", "range"}], ...], "done": true}`. `<id>.jsonl` (copilot-chat 0.3x-0.5x) is a
journal of the same document: `{"kind": 0, "v": snapshot}`, then `{"kind": 1, "k": path,
"v": value}` (set at a key path) and `{"kind": 2, "k": path, "v": [items]}` (append);
each line is read on its own (requests and response parts appended or set), keeping
only the requests' models in `state`. Facts: shared/research/assistant-logs.md §7a; the
JSON shape is a real session (tests/fixtures/assistant-logs/copilot/SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from aiguard.capture.sources.common import Output, Skip, json_document, jsonl_objects, listed, local_path, seen_mark


def _model(request: dict) -> str:
    result = request.get("result")
    metadata = result.get("metadata") if isinstance(result, dict) else None
    resolved = metadata.get("resolvedModel") if isinstance(metadata, dict) else None
    if isinstance(resolved, str) and resolved:
        return resolved
    model = request.get("modelId")
    if not isinstance(model, str) or not model:
        return "unknown"
    model = model.removeprefix("copilot/")
    return "unknown" if model == "auto" else model


def _when(request: dict) -> float | None:
    stamp = request.get("timestamp")
    return stamp / 1000 if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None


def _edits(parts: object) -> Iterator[tuple[str | None, str]]:
    for part in listed(parts):
        if not isinstance(part, dict) or part.get("kind") != "textEditGroup":
            continue
        uri = part.get("uri")
        file = None
        if isinstance(uri, dict):
            file = uri.get("fsPath") if isinstance(uri.get("fsPath"), str) else local_path(uri.get("external"))
        for group in listed(part.get("edits")):
            for edit in listed(group):
                text = edit.get("text") if isinstance(edit, dict) else None
                if isinstance(text, str) and text.strip():
                    yield file, text


def _outputs(tool: str, requests: list, seen: set[str], models: dict | None = None, first: int = 0) -> Iterator[Output]:
    for index, request in enumerate(requests, first):
        if not isinstance(request, dict):
            continue
        model = _model(request)
        if models is not None:
            models[str(index)] = model
        yield from _new(tool, _edits(request.get("response")), seen, model, _when(request))


def _new(tool: str, edits: Iterator[tuple[str | None, str]], seen: set[str], model: str,
         when: float | None) -> Iterator[Output]:
    for file, text in edits:
        # A rewritten session (or a journal's set after its appends) holds earlier edits again.
        key = seen_mark(file, text)
        if key in seen:
            continue
        seen.add(key)
        yield Output(tool, model, text, file, None, when, "assistant-log")


def parse_log(path: Path, data: bytes, state: dict, tool: str) -> Iterator[Output | Skip]:
    """What a session file holds, as `tool`'s (copilot's) outputs."""
    seen = set(state.get("seen", []))
    if Path(path).suffix == ".json":
        session = json_document(path, data)
        if isinstance(session, Skip):
            yield session
            return
        requests = session.get("requests") if isinstance(session, dict) else None
        if not isinstance(requests, list):
            yield Skip(f"{path}:1", "no requests (not a chat session)")
            return
        yield from _outputs(tool, requests, seen)
    else:
        models = state.setdefault("models", {})
        for item in jsonl_objects(path, data):
            if isinstance(item, Skip):
                yield item
                continue
            where, record = item
            yield from _journal_line(tool, where, record, seen, models)
    state["seen"] = sorted(seen)  # lists: the daemon saves state as JSON


def _journal_line(tool: str, where: str, record: dict, seen: set[str], models: dict) -> Iterator[Output | Skip]:
    kind, key, value = record.get("kind"), record.get("k"), record.get("v")
    if kind == 0:
        requests = value.get("requests") if isinstance(value, dict) else None
        yield from _outputs(tool, listed(requests), seen, models)
        return
    if kind not in (1, 2) or not isinstance(key, list) or not key or key[0] != "requests":
        return  # other keys (title, input state, ...) hold no model output
    if key == ["requests"]:
        if kind == 2:
            yield from _outputs(tool, listed(value), seen, models, first=len(models))
        else:
            models.clear()
            yield from _outputs(tool, listed(value), seen, models)
        return
    index = key[1] if len(key) > 1 else None
    if not isinstance(index, int) or isinstance(index, bool):
        yield Skip(where, "a request path without its index")
        return
    if key[2:] == ["response"]:
        yield from _new(tool, _edits(value), seen, models.get(str(index), "unknown"), None)
    elif len(key) == 2 and isinstance(value, dict):
        yield from _outputs(tool, [value], seen, models, first=index)
