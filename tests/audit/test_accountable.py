"""Issue 15: accountable stamps (each developer's own SSH key, an allowed-signers file the
repository commits, one revoked key), exemptions only by a verified commit signature,
modes bound by v2 stamps, and merges checked on their own lines. Real ssh-keygen, real git."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from test_verify import SNIPPET, Box, errors_by_commit, user_env

pytestmark = pytest.mark.skipif(subprocess.run(["ssh-keygen", "-?"], capture_output=True).returncode == 127,
                                reason="ssh-keygen is not installed")


def ssh_key(folder: Path, name: str) -> Path:
    path = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return path


def public(path: Path) -> str:
    return path.with_suffix(".pub").read_text().strip()


def as_signer(key: Path) -> tuple:
    """`git -c ...` options that make the hook stamp with this key (a developer's own config)."""
    return ("-c", "aiguard.signing=ssh", "-c", f"user.signingkey={key}.pub")


def commit_as(box: Box, key: Path | None, message: str, files: dict[str, str], hooks: bool = True) -> str:
    for name, text in files.items():
        box.write(name, text)
    box.git("add", "-A")
    opts = as_signer(key) if key else ()
    if not hooks:
        opts = (*opts, "-c", "core.hooksPath=/dev/null")
    box.git(*opts, "commit", "-q", "-F", box.msgfile(message))
    return box.sha()


def commit_policy(box: Box, policy: str, files: dict[str, str]) -> None:
    box.write(".aiguard.toml", policy)
    for name, text in files.items():
        box.write(name, text)
    box.git("add", "-f", ".aiguard.toml", *files)
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "Policy and signers")


def verify(box: Box, env: dict, *args: str) -> tuple[int, dict]:
    done = box.verify("main..topic", "--format", "json", *args, base_env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """Two developers and one rotation: bob's old key is revoked, his new one listed."""
    root = tmp_path_factory.mktemp("accountable")
    keys = root / "keys"
    keys.mkdir()
    k = {name: ssh_key(keys, name) for name in ("alice", "bob_old", "bob", "mallory")}
    box = Box(root)
    allowed = "".join(f"{who}@example.org {public(k[name])}\n"
                      for who, name in (("alice", "alice"), ("bob", "bob_old"), ("bob", "bob")))
    commit_policy(box, 'stamp-signature = "personal"\nallowed-signers = ".aiguard/allowed_signers"\n'
                       'revoked-signers = ".aiguard/revoked_signers"\n',
                  {".aiguard/allowed_signers": allowed, ".aiguard/revoked_signers": public(k["bob_old"]) + "\n"})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    shas = {"alice": commit_as(box, k["alice"], "Alice's AI change", {"ai.py": SNIPPET}),
            "bob": commit_as(box, k["bob"], "Bob's change", {"bob.py": "b = 1\n"}),
            "bob_old": commit_as(box, k["bob_old"], "With the revoked key", {"old.py": "o = 1\n"}),
            "mallory": commit_as(box, k["mallory"], "A stranger's key", {"m.py": "m = 1\n"}),
            "team": commit_as(box, None, "Team key only", {"t.py": "t = 1\n"})}
    # Amended after stamping with a mode change only: v2 binds modes.
    shas["chmod"] = commit_as(box, k["alice"], "Script", {"run.sh": "echo hi\n"})
    box.git("update-index", "--chmod=+x", "run.sh")
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--amend", "--no-edit")
    shas["chmod"] = box.sha()
    ci = user_env(root / "ci")  # no team key anywhere: personal stamps need none
    return box, shas, k, ci


def test_each_stamp_names_its_signer(team):
    box, shas, _, ci = team
    message = box.raw_message(shas["alice"]).decode()
    assert "Assisted-by: claude-code:m1" in message and "AIGuard-Stamp: v2 ssh 1 " in message
    rc, report = verify(box, ci)
    assert rc == 1
    assert report["signers"] == {shas["alice"]: "alice@example.org", shas["bob"]: "bob@example.org"}
    errors = errors_by_commit(report)
    for name in ("bob_old", "mallory", "team", "chmod"):
        assert errors[shas[name]] == {"invalid-stamp"}, name
    assert shas["alice"] not in errors and shas["bob"] not in errors
    messages = {f["commit"]: f["message"] for f in report["findings"] if f["severity"] == "error"}
    assert "revoked" in messages[shas["bob_old"]] and "bob@example.org" in messages[shas["bob_old"]]
    assert "does not list" in messages[shas["mallory"]]
    assert 'stamp-signature = "personal"' in messages[shas["team"]]
    assert "mode" in messages[shas["chmod"]]
    text = box.verify("main..topic", base_env=ci).stdout.decode()
    assert f"{shas['alice'][:12]} stamped by alice@example.org" in text


def test_a_branch_cannot_add_its_own_signer(team, tmp_path):
    """The allowed-signers file is read at the range's base, like the policy."""
    box, shas, k, ci = team
    box.git("switch", "-q", "-c", "sneaky", "topic")
    try:
        with open(box.path / ".aiguard" / "allowed_signers", "a") as fh:
            fh.write(f"mallory@example.org {public(k['mallory'])}\n")
        box.git("add", "-A")
        box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "Trust me")
        done = box.verify("main..sneaky", "--format", "json", base_env=ci)
        report = json.loads(done.stdout)
        assert errors_by_commit(report)[shas["mallory"]] == {"invalid-stamp"}
    finally:
        box.git("switch", "-q", "topic")


def test_personal_stamp_without_signing_key_is_not_stamped(team):
    box, _, _, _ = team
    box.git("switch", "-q", "-c", "nokey", "topic")
    try:
        box.write("n.py", "n = 1\n")
        box.git("add", "-A")
        done = box.git("-c", "aiguard.signing=ssh", "commit", "-q", "-m", "No key")
        assert b"commit not stamped" in done.stderr and b"user.signingkey" in done.stderr
        assert b"AIGuard-Stamp" not in box.raw_message()
    finally:
        box.git("switch", "-q", "topic")


def test_personal_stamp_with_no_allowed_signers_file_fails_closed(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    alice = ssh_key(keys, "alice")
    box = Box(tmp_path)
    box.commit("Base", {"README.md": "# r\n"})
    box.git("switch", "-q", "-c", "topic")
    sha = commit_as(box, alice, "Alice", {"a.py": "a = 1\n"})
    rc, report = verify(box, user_env(tmp_path / "ci"))
    assert rc == 1 and errors_by_commit(report) == {sha: {"unchecked-signature"}}
    assert "allowed-signers" in report["findings"][0]["message"]


# Exemptions by verified identity only ------------------------------------------------------------

def test_exempt_signers_need_a_verified_commit_signature(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    bot, alice = ssh_key(keys, "bot"), ssh_key(keys, "alice")
    box = Box(tmp_path)
    allowed = f"release-bot@example.org {public(bot)}\nalice@example.org {public(alice)}\n"
    commit_policy(box, 'allowed-signers = ".aiguard/allowed_signers"\nexempt-signers = ["release-bot@*"]\n',
                  {".aiguard/allowed_signers": allowed})
    box.git("switch", "-q", "-c", "topic")

    def signed(key: Path, name: str, author: str) -> str:
        box.write(name, "x = 1\n")
        box.git("add", "-A")
        box.git("-c", "core.hooksPath=/dev/null", "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
                "commit", "-q", "-S", "-m", f"Change {name}", "--author", author)
        return box.sha()

    shas = {"bot": signed(bot, "a.txt", "release-bot <release-bot@example.org>"),
            "alice": signed(alice, "b.txt", "release-bot <release-bot@example.org>")}
    box.write("c.txt", "c\n")
    box.git("add", "-A")
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "Claims to be the bot",
            "--author", "release-bot <release-bot@example.org>")
    shas["unsigned"] = box.sha()
    rc, report = verify(box, user_env(tmp_path / "ci"))
    assert errors_by_commit(report) == {shas["alice"]: {"missing-stamp"}, shas["unsigned"]: {"missing-stamp"}}
    assert report["checked"] == 2


# Merges on their own lines ----------------------------------------------------------------------

def test_merge_is_checked_on_its_own_lines(tmp_path):
    box = Box(tmp_path)
    box.commit("Base", {"README.md": "# m\n", "src/app.py": "app = 1\n"})
    with box.policy('forbid-paths = ["data/**"]\nexternal-models = "allow"\n'):
        box.git("switch", "-q", "-c", "side")
        box.commit("Human data", {"data/table.py": "ROWS = [1, 2, 3]\n"})
        box.git("switch", "-q", "-c", "topic", "main")
        box.commit("Topic work", {"src/app.py": "app = 2\n"})
        # A merge whose own work (the resolution) is AI code outside data/: the side
        # branch's human lines in data/ are not the merge's.
        box.record(SNIPPET)
        box.git("merge", "-q", "--no-ff", "--no-commit", "side")
        box.write("src/merged.py", SNIPPET)
        box.git("add", "-A")
        box.git("commit", "-q", "--no-edit")
        clean = box.sha()
        assert b"Assisted-by: claude-code:m1" in box.raw_message(clean)
        # An evil merge: AI lines land under data/ in the merge itself.
        box.git("switch", "-q", "-c", "side2", "main")
        box.commit("More human data", {"data/more.py": "MORE = 1\n"})
        box.git("switch", "-q", "topic")
        box.git("merge", "-q", "--no-ff", "--no-commit", "side2")
        box.write("data/gen.py", SNIPPET.replace("merge_intervals", "merge_ranges"))
        box.record(SNIPPET.replace("merge_intervals", "merge_ranges"))
        box.git("add", "-A")
        box.git("commit", "-q", "--no-edit")
        evil = box.sha()
        rc, report = verify(box, box.env)
    errors = errors_by_commit(report)
    assert clean not in errors
    assert errors[evil] == {"forbidden-path"}
    assert "data/gen.py" in next(f["message"] for f in report["findings"] if f["commit"] == evil)


@pytest.mark.parametrize("text", ['exempt-signers = ["bot@*"]\n', 'stamp-signature = "personal"\n',
                                  'revoked-signers = "r"\n'])
def test_signer_keys_need_an_allowed_signers_file(tmp_path, text):
    box = Box(tmp_path)
    box.commit("Base", {"README.md": "# r\n"})
    with box.policy(text):
        done = box.verify("HEAD~0..HEAD")
    assert done.returncode == 2 and b"allowed-signers" in done.stderr and b".aiguard.toml" in done.stderr


# SARIF -------------------------------------------------------------------------------------------

def _check_sarif(log: dict) -> None:
    """The SARIF 2.1.0 schema's required properties and enums for what aiguard writes
    (sarifLog, run, tool, toolComponent, reportingDescriptor, result, message, location)."""
    assert log["version"] == "2.1.0" and isinstance(log["runs"], list)
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        ids = [rule["id"] for rule in driver.get("rules", [])]
        assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
        for result in run["results"]:
            message = result["message"]
            assert isinstance(message.get("text"), str) or isinstance(message.get("id"), str)
            assert result.get("level", "warning") in ("none", "note", "warning", "error")
            if "ruleIndex" in result:
                assert ids[result["ruleIndex"]] == result["ruleId"]
            for location in result["locations"]:  # GitHub code scanning needs one
                physical = location["physicalLocation"]
                assert isinstance(physical["artifactLocation"]["uri"], str)
                assert physical["region"]["startLine"] >= 1
            assert all(isinstance(v, str) for v in result.get("partialFingerprints", {}).values())


def test_verify_sarif(team):
    box, shas, _, ci = team
    done = box.verify("main..topic", "--format", "sarif", base_env=ci)
    assert done.returncode == 1
    log = json.loads(done.stdout)
    _check_sarif(log)
    results = log["runs"][0]["results"]
    assert {(r["properties"]["commit"], r["ruleId"]) for r in results if r["level"] == "error"} == {
        (shas[name], "invalid-stamp") for name in ("bob_old", "mallory", "team", "chmod")}
    assert all(r["message"]["text"].startswith(r["properties"]["commit"][:12]) for r in results)


# log and blame name the signer ----------------------------------------------------------------

def test_log_and_blame_name_the_signer_when_asked(team):
    box, shas, _, ci = team
    plain = json.loads(box.ag("log", "--json", "main..topic", base_env=ci).stdout)
    assert all("signer" not in entry for entry in plain)  # the default path checks no signature
    entries = json.loads(box.ag("log", "--json", "--signers", "main..topic", base_env=ci).stdout)
    signer = {entry["commit"]: entry["signer"] for entry in entries}
    assert signer[shas["alice"]] == "alice@example.org" and signer[shas["bob"]] == "bob@example.org"
    for name in ("bob_old", "mallory", "team", "chmod"):  # revoked, unlisted, team key, binding broken
        assert signer[shas[name]] is None, name
    text = box.ag("log", "--signers", "main..topic", base_env=ci).stdout.decode()
    assert "stamped by alice@example.org (personal stamp, allowed-signers)" in text
    assert text.count("stamped by") == 2
    rows = json.loads(box.ag("blame", "--json", "--signers", "ai.py", base_env=ci).stdout)
    assert {row["signer"] for row in rows} == {"alice@example.org"}
    line = box.ag("blame", "--signers", "ai.py", base_env=ci).stdout.decode().splitlines()[0]
    assert line.startswith(shas["alice"][:8]) and " claude-code:m1 alice@example.org  1) " in line  # 10 lines: width 2
    assert "alice" not in box.ag("blame", "ai.py", base_env=ci).stdout.decode().splitlines()[0]


def test_log_signers_without_an_allowed_signers_file_says_so(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    box = Box(tmp_path)
    box.commit("Base", {"README.md": "# r\n"})
    sha = commit_as(box, ssh_key(keys, "alice"), "Alice", {"a.py": "a = 1\n"})
    done = box.ag("log", "--json", "--signers", "-n", "1")
    assert json.loads(done.stdout)[0] == {**json.loads(done.stdout)[0], "commit": sha, "signer": None}
    assert done.stderr.decode() == ("aiguard: note: 1 commits have personal stamps, but .aiguard.toml names no "
                                    "allowed-signers file: their signers are not shown\n")
