"""Losing the ledger key (keys.json deleted, a keyring entry gone) over a ledger with records:
nothing makes new keys silently; every command says what happened and how to proceed."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from conftest import Repo, aiguard
from test_keys import SNIPPET, commit, plaintext_keyring, warnings  # noqa: F401 (a fixture)


def home() -> Path:
    return Path(os.environ["AIGUARD_HOME"])


def recorded_repo(make_repo) -> Repo:
    repo = make_repo()
    aiguard("install", cwd=repo.path)
    aiguard("record", "--tool", "claude-code", "--model", "m", input=SNIPPET.encode())
    return repo


def assert_refuses_to_rekey(repo: Repo, keys_missing) -> None:
    ledger = home() / "ledger.sqlite3"
    ledger_bytes = ledger.read_bytes()

    # The commit hook fails open with one line naming the missing key and the way out.
    head = repo.out("rev-parse", "HEAD") if repo.git("rev-parse", "-q", "--verify", "HEAD", check=False).stdout else ""
    done = commit(repo, "a.py")
    assert repo.out("rev-parse", "HEAD") != head
    lines = warnings(done)
    assert len(lines) == 1, done.stderr
    assert "ledger key is missing" in lines[0] and "--new-keys" in lines[0], lines
    assert "AIGuard-Stamp" not in dict(repo.trailers())
    assert keys_missing()

    # `install` refuses to make new keys: one line, exit 2.
    done = aiguard("install", cwd=repo.path, check=False)
    assert done.returncode == 2, done
    err = done.stderr.decode().splitlines()
    assert len(err) == 1 and "ledger key is missing" in err[0] and "1 records" in err[0], err
    assert keys_missing()

    # `record` and `attribute` say the same, not "run `aiguard install`".
    for args in (("record", "--tool", "codex", "--model", "m"), ("attribute", "HEAD")):
        done = aiguard(*args, cwd=repo.path, input=b"x = 1\n", check=False)
        assert done.returncode == 2, done
        assert "ledger key is missing" in done.stderr.decode() and "run `aiguard install`" not in done.stderr.decode()
    assert keys_missing()

    # `doctor` fails with the fix.
    done = aiguard("doctor", cwd=repo.path, check=False)
    assert done.returncode == 1
    fails = [line for line in done.stdout.decode().splitlines() if line.startswith("FAIL")]
    assert any("ledger key" in line and "--new-keys" in line for line in fails), done.stdout
    assert ledger.read_bytes() == ledger_bytes

    # Starting over is explicit and keeps the old ledger, renamed.
    done = aiguard("install", "--new-keys", cwd=repo.path)
    kept = [p for p in home().iterdir() if p.name.startswith("ledger.sqlite3.set-aside-")]
    assert kept and any(p.read_bytes() == ledger_bytes for p in kept), list(home().iterdir())
    assert not ledger.exists()
    assert not keys_missing()
    assert aiguard("doctor", cwd=repo.path, check=False).returncode == 0


def test_deleted_keys_json_never_rekeys_the_ledger(make_repo):
    repo = recorded_repo(make_repo)
    (home() / "keys.json").unlink()
    assert_refuses_to_rekey(repo, lambda: not (home() / "keys.json").exists())


def test_deleted_keys_json_and_marker_never_rekey_the_ledger(make_repo):
    repo = recorded_repo(make_repo)
    (home() / "keys.json").unlink()
    (home() / "keystore").unlink()
    assert_refuses_to_rekey(repo, lambda: not (home() / "keys.json").exists())


def test_lost_keyring_entry_never_rekeys_the_ledger(make_repo, plaintext_keyring):
    repo = recorded_repo(make_repo)
    assert (home() / "keystore").read_text().strip() == "keyring"
    store = configparser.RawConfigParser()
    store.read(plaintext_keyring)
    assert store.remove_section("aiguard")
    with open(plaintext_keyring, "w") as fh:
        store.write(fh)

    def missing() -> bool:
        check = configparser.RawConfigParser()
        check.read(plaintext_keyring)
        return not check.has_section("aiguard") and not (home() / "keys.json").exists()

    assert_refuses_to_rekey(repo, missing)


def test_key_import_does_not_rekey_the_ledger(make_repo):
    repo = recorded_repo(make_repo)
    (home() / "keys.json").unlink()
    done = aiguard("key", "import", "aiguard-key-v1:" + "ab" * 32, cwd=repo.path, check=False)
    assert done.returncode == 2 and "ledger key is missing" in done.stderr.decode(), done
    assert not (home() / "keys.json").exists()


def test_keys_that_did_not_make_the_records_fail_doctor(make_repo):
    repo = recorded_repo(make_repo)
    (home() / "keys.json").unlink()
    (home() / "keystore").unlink()
    (home() / "ledger.sqlite3").rename(home() / "held")
    aiguard("key", "init")  # new keys, then the old ledger comes back
    (home() / "held").rename(home() / "ledger.sqlite3")
    done = aiguard("doctor", cwd=repo.path, check=False)
    assert done.returncode == 1
    assert any(line.startswith("FAIL ledger key") and "--new-keys" in line
               for line in done.stdout.decode().splitlines()), done.stdout
