"""`--json` outputs as the contract and README shape them, for inputs a new user meets
(odd file names, odd history shapes). Real CLI, real repositories."""

from __future__ import annotations

import json

from conftest import MERGE_INTERVALS, aiguard


def test_attribute_writes_a_non_utf8_file_name_as_log_does(repo):
    """git allows any bytes in a name; a lone surrogate in the JSON (`"\\udcff"`) is refused by
    strict parsers (serde_json, Go's encoding/json replaces it), so `attribute --json` writes
    the name like `log --json`: `\\xNN` in "path", the exact bytes in "path_bytes"."""
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=MERGE_INTERVALS.encode())
    repo.write("caf\xe9.py".encode("latin-1").decode("utf-8", "surrogateescape"), MERGE_INTERVALS)
    (repo.path / "pic\xe9.bin".encode("latin-1").decode("utf-8", "surrogateescape")).write_bytes(b"\0\1" * 100)
    repo.git("add", "-A")
    out = aiguard("attribute", "--json", cwd=repo.path).stdout
    out.decode("utf-8")  # strict: no surrogates
    result = json.loads(out)
    assert "\\ud" not in out.decode()
    [file] = result["files"]
    assert file["path"] == "caf\\xe9.py" and file["path_bytes"] == b"caf\xe9.py".hex()
    assert file["ai"] == file["added"] == 10
    [unmatched] = result["unmatched"]
    assert unmatched["path"] == "pic\\xe9.bin" and unmatched["path_bytes"] == b"pic\xe9.bin".hex()
    assert all("\\x" in note for note in result["notes"] if "pic" in note)

    repo.git("commit", "-qm", "odd names")
    [entry] = json.loads(aiguard("log", "--json", cwd=repo.path).stdout)
    assert entry["files"][0]["path"] == file["path"] and entry["files"][0]["path_bytes"] == file["path_bytes"]
