"""Where the keys live: the 0600 fallback file, a real keyring backend, AIGUARD_KEY."""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import stat
from pathlib import Path

import pytest

from aiguard.store import keys
from aiguard.core import stamp_format
from conftest import Repo, aiguard

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
SNIPPET = (
    "def normalise_scores(scores, floor=0.0):\n"
    "    top = max(scores.values(), default=1.0) or 1.0\n"
    "    return {name: max(floor, value / top) for name, value in sorted(scores.items())}\n"
)


def home() -> Path:
    return Path(os.environ["AIGUARD_HOME"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def keystore() -> str:
    return (home() / "keystore").read_text().strip()


def stamp_key_from(output: bytes) -> str:
    match = re.search(r"stamp key ([0-9a-f]{8})", output.decode())
    assert match, output
    return match.group(1)


def commit(repo: Repo, name: str, text: str = SNIPPET, message: str = "Change"):
    repo.write(name, text)
    repo.git("add", name)
    return repo.git("commit", "-q", "-m", message)


def warnings(done) -> list[str]:
    return [line for line in done.stderr.decode().splitlines() if line.startswith("aiguard:")]


@pytest.fixture
def plaintext_keyring(tmp_path, monkeypatch) -> Path:
    """A real keyring backend (a file under a private XDG_DATA_HOME)."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data / "python_keyring" / "keyring_pass.cfg"


# --- no keyring: the fallback file -----------------------------------------------------------


def test_null_keyring_uses_private_file(repo):
    path = home() / "keys.json"
    assert path.is_file()
    assert mode(path) == 0o600
    assert mode(home()) == 0o700
    assert keystore() == "file"
    data = json.loads(path.read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", data["ledger"])
    assert len(data["stamp"]) == 1 and re.fullmatch(r"[0-9a-f]{64}", data["stamp"][0]["key"])
    kid = keys.key_id(bytes.fromhex(data["stamp"][0]["key"]))

    doctor = aiguard("doctor", cwd=repo.path)
    line = [l for l in doctor.stdout.decode().splitlines() if "key store" in l]
    assert line and line[0].startswith("ok") and "fallback file" in line[0] and f"stamp key {kid}" in line[0]

    commit(repo, "a.py")
    assert dict(repo.trailers())["AIGuard-Stamp"].split()[1] == kid
    # Using the keys changes nothing about them.
    assert json.loads(path.read_text()) == data
    assert keystore() == "file"


# --- a real keyring backend ------------------------------------------------------------------


def test_keyring_backend_holds_the_keys(make_repo, plaintext_keyring, monkeypatch):
    repo = make_repo()
    done = aiguard("install", cwd=repo.path)
    assert "keys: keyring" in done.stdout.decode(), done.stdout
    kid = stamp_key_from(done.stdout)
    assert not (home() / "keys.json").exists()
    assert keystore() == "keyring"
    assert plaintext_keyring.is_file()
    assert "aiguard" in plaintext_keyring.read_text()

    # Another process finds them there.
    doctor = aiguard("doctor", cwd=repo.path, check=False)
    out = doctor.stdout.decode()
    assert doctor.returncode == 0, out
    line = [l for l in out.splitlines() if "key store" in l]
    assert line and line[0].startswith("ok") and "OS keyring" in line[0] and f"stamp key {kid}" in line[0], out

    # Recording and committing use them; still no file key.
    aiguard("record", "--tool", "claude-code", "--model", "m", input=SNIPPET.encode())
    done = commit(repo, "a.py")
    assert warnings(done) == []
    trailers = dict(repo.trailers())
    assert trailers["Assisted-by"] == "claude-code:m"
    assert trailers["AIGuard-Stamp"].split()[1] == kid
    assert not (home() / "keys.json").exists()
    keyring_bytes = plaintext_keyring.read_bytes()

    # A process whose keyring backend is broken must not make a new file key: the commit goes
    # through unstamped, with one warning line.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    head = repo.out("rev-parse", "HEAD")
    done = commit(repo, "b.py", SNIPPET.replace("normalise_scores", "other_scores"), "Broken keyring")
    assert repo.out("rev-parse", "HEAD") != head, "the commit did not go through"
    lines = warnings(done)
    assert len(lines) == 1, done.stderr
    assert "keyring" in lines[0]
    trailers = dict(repo.trailers())
    assert "AIGuard-Stamp" not in trailers and "AI-Lines" not in trailers
    assert repo.raw_message() == b"Broken keyring\n"
    assert not (home() / "keys.json").exists()
    assert keystore() == "keyring"
    assert plaintext_keyring.read_bytes() == keyring_bytes
    # Recording with the broken backend fails plainly instead of keying records with a new key.
    rec = aiguard("record", "--tool", "codex", "--model", "m", input=SNIPPET.encode(), check=False)
    assert rec.returncode == 2 and len(rec.stderr.decode().splitlines()) == 1, rec
    assert not (home() / "keys.json").exists()
    # doctor says what is wrong.
    doctor = aiguard("doctor", cwd=repo.path, check=False)
    assert doctor.returncode == 1
    assert any(l.startswith("FAIL key store") for l in doctor.stdout.decode().splitlines()), doctor.stdout

    # With the backend back, all is as before.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    commit(repo, "c.py", "x = 1\n", "Fixed")
    assert dict(repo.trailers())["AIGuard-Stamp"].split()[1] == kid


def test_one_keyring_entry_per_aiguard_home(make_repo, plaintext_keyring, monkeypatch, tmp_path):
    seen = {}
    for name in ("first", "second"):
        monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / name))
        aiguard("record", "--tool", "codex", "--model", "m", input=SNIPPET.encode())
        assert keystore() == "keyring"
        assert not (home() / "keys.json").exists()
        assert keys.location() == "keyring"
        keyset = keys.load()
        seen[name] = (keyset.ledger_key, keyset.stamp_keys)
    assert seen["first"][0] != seen["second"][0]
    assert seen["first"][1] != seen["second"][1]
    # Each home still finds its own.
    for name in ("first", "second"):
        monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / name))
        assert keys.load().ledger_key == seen[name][0]
    stored = configparser.RawConfigParser()
    stored.read(plaintext_keyring)
    assert len(stored.options("aiguard")) == 2  # one entry per AIGUARD_HOME


def test_different_homes_get_different_file_keys(monkeypatch, tmp_path):
    found = []
    for name in ("a", "b"):
        monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / name))
        aiguard("record", "--tool", "codex", "--model", "m", input=SNIPPET.encode())
        found.append(json.loads((tmp_path / name / "keys.json").read_text()))
    assert found[0]["ledger"] != found[1]["ledger"]
    assert found[0]["stamp"] != found[1]["stamp"]


# --- AIGUARD_KEY -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["prefixed", "bare"])
def test_aiguard_key_signs_the_stamp(repo, monkeypatch, form):
    key = secrets.token_bytes(32)
    monkeypatch.setenv("AIGUARD_KEY", ("aiguard-key-v1:" if form == "prefixed" else "") + key.hex())
    commit(repo, "a.py")
    fields = dict(repo.trailers())["AIGuard-Stamp"].split()
    version, kid, bound, mac = fields[0], fields[1], fields[-2], fields[-1]
    assert version == "v2"
    assert kid == keys.key_id(bytes.fromhex(key.hex()))
    assert mac == stamp_format.mac(key, bound, "v2")
    # The user's own stamp key did not sign it.
    own = json.loads((home() / "keys.json").read_text())["stamp"][0]["key"]
    assert kid != keys.key_id(bytes.fromhex(own))
    doctor = aiguard("doctor", cwd=repo.path).stdout.decode()
    assert f"stamp key {kid}" in doctor and "AIGUARD_KEY" in doctor


def test_bad_aiguard_key_leaves_the_commit_unstamped_with_one_warning(repo, monkeypatch):
    monkeypatch.setenv("AIGUARD_KEY", "aiguard-key-v1:not-hex")
    repo.write("a.py", SNIPPET)
    repo.git("add", "a.py")
    done = repo.git("commit", "-q", "-m", "Bad key")  # goes through
    lines = warnings(done)
    assert len(lines) == 1 and "AIGUARD_KEY" in lines[0], done.stderr
    assert repo.raw_message() == b"Bad key\n"
