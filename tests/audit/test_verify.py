"""`aiguard verify`: CI enforcement of stamps and the repository policy over a commit range.

Everything runs real git and the real command line. The scenario branch of the issue
(good, missing, copied, amended, edited, forged and made-up stamps) is built once per
module; module-scoped repositories carry their own explicit environment (HOME,
AIGUARD_HOME, git config, null keyring) because `isolated_user` is per test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aiguard.store import keys
from aiguard.core import stamp_format
from aiguard.git import patches
from aiguard.audit import verify as verifier
from conftest import MERGE_INTERVALS, run

SNIPPET = MERGE_INTERVALS  # 10 lines

# A second invented assistant answer, recorded for another tool.
SNIPPET2 = '''\
def chunked(items, size):
    """Split a list into consecutive chunks of at most `size` items."""
    if size <= 0:
        raise ValueError("size must be positive")
    chunks = []
    for index in range(0, len(items), size):
        chunks.append(items[index:index + size])
    return chunks
'''

HUMAN = '''\
import os


def home_folder():
    return os.path.expanduser("~")
'''

_CI_VARS = ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_BASE_REF", "GITHUB_HEAD_REF",
            "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF")


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A private user, like conftest's isolated_user, as an explicit environment."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text(
            "[user]\n\tname = Test User\n\temail = test@example.com\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[gc]\n\tauto = 0\n"
        )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "AIGUARD_")) and k not in _CI_VARS
           and k not in ("EDITOR", "VISUAL", "PRE_COMMIT_COMMIT_MSG_SOURCE", "PRE_COMMIT_COMMIT_OBJECT_NAME")}
    env.update({
        "HOME": str(home), "AIGUARD_HOME": str(home / "aiguard-state"),
        "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    })
    env.update(extra)
    return env


class Box:
    """A real repository with aiguard installed, and the user that works in it."""

    def __init__(self, root: Path, hooks: bool = True):
        self.root = root
        self.env = user_env(root / "home")
        self.path = root / "repo"
        self.path.mkdir(parents=True)
        self.git("init", "-q")
        # Policy files are written and removed by tests; keep them out of `git add -A`.
        (self.path / ".git" / "info" / "exclude").write_text(".aiguard.toml\npyproject.toml\n")
        if hooks:
            self.ag("install")
        self._msgs = 0

    def git(self, *args, env: dict | None = None, input: bytes | None = None, check: bool = True, cwd=None):
        return run(["git", *args], cwd=cwd or self.path, env={**self.env, **(env or {})}, input=input, check=check)

    def ag(self, *args, env: dict | None = None, input: bytes | None = None, check: bool = True, cwd=None,
           base_env: dict | None = None):
        return run([sys.executable, "-m", "aiguard", *args], cwd=cwd or self.path,
                   env={**(base_env or self.env), **(env or {})}, input=input, check=check)

    def sha(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev).stdout.decode().strip()

    def write(self, name: str, text: str | bytes) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)

    def msgfile(self, message: str | bytes) -> str:
        self._msgs += 1
        path = self.root / f"msg{self._msgs}.txt"
        path.write_bytes(message.encode() if isinstance(message, str) else message)
        return str(path)

    def commit(self, message: str | bytes, files: dict[str, str] | None = None, hooks: bool = True,
               args: tuple = (), env: dict | None = None) -> str:
        for name, text in (files or {}).items():
            self.write(name, text)
        self.git("add", "-A")
        cmd = ["commit", "-q", "--allow-empty", "-F", self.msgfile(message), *args]
        if not hooks:
            cmd = ["-c", "core.hooksPath=/dev/null", *cmd]
        self.git(*cmd, env=env)
        return self.sha()

    def raw_message(self, rev: str = "HEAD") -> bytes:
        return self.git("cat-file", "commit", rev).stdout.split(b"\n\n", 1)[1]

    def record(self, text: str, tool: str = "claude-code", model: str = "m1") -> None:
        self.ag("record", "--tool", tool, "--model", model, input=text.encode())

    def team_key(self) -> str:
        return self.ag("key", "export").stdout.decode().strip()

    def verify(self, *args, env: dict | None = None, base_env: dict | None = None, cwd=None):
        return self.ag("verify", *args, env=env, base_env=base_env, check=False, cwd=cwd)

    @contextlib.contextmanager
    def policy(self, text: str, name: str = ".aiguard.toml"):
        path = self.path / name
        path.write_text(text)
        try:
            yield path
        finally:
            path.unlink()


def verify_json(box: Box, *args, **kw) -> tuple[int, dict]:
    done = box.verify(*args, "--format", "json", **kw)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def errors_by_commit(report: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report["findings"]:
        if f.get("severity", "error") == "error":
            out.setdefault(f["commit"], set()).add(f["rule"])
    return out


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aiguard: ")
    return lines[0]


def change_digest_of(box: Box, rev: str) -> tuple[bytes, int]:
    """The change digest and added-line count of a commit, from `git diff` with the pinned flags."""
    patch = box.git("diff", *patches.DIFF_FLAGS, f"{rev}~1", rev).stdout
    files = patches.parse_patch(patch)
    return stamp_format.change_digest(files), sum(len(f.added) for f in files)


@pytest.fixture(autouse=True)
def _no_ci_environment(monkeypatch):
    for name in _CI_VARS:
        monkeypatch.delenv(name, raising=False)


# The acceptance scenario ------------------------------------------------------------------

class Scenario:
    box: Box
    base: str
    shas: dict[str, str]
    kid: str
    key: str
    env_key: dict  # CI with the key: fresh AIGUARD_HOME, AIGUARD_KEY set
    env_nokey: dict  # no keys anywhere


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    root = tmp_path_factory.mktemp("scenario")
    box = Box(root)
    s = Scenario()
    s.box = box
    s.base = box.commit("Base", {"README.md": "# project\n"})
    box.git("switch", "-q", "-c", "topic")
    sh = {}
    sh["human"] = box.commit("Human change", {"human.py": HUMAN})
    box.record(SNIPPET)
    sh["ai"] = box.commit("AI change", {"ai.py": SNIPPET})
    sh["nohook"] = box.commit("Made with hooks disabled", {"nohook.py": "x = 1\n"},
                              env={"AIGUARD_DISABLE": "1"})
    # Copied: the human commit's trailer group on another change.
    group = box.raw_message(sh["human"]).split(b"\n\n", 1)[1]
    assert b"AIGuard-Stamp: v2 " in group
    sh["copied"] = box.commit(b"Copied stamp\n\n" + group, {"copied.py": "y = 2\n"}, hooks=False)
    # Amended after stamping: the content changes, the stamped message stays.
    box.commit("Amended after stamping", {"amend.py": "z = 3\n"})
    box.write("amend.py", "z = 4\n")
    box.git("add", "-A")
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--amend", "--no-edit")
    sh["amended"] = box.sha()
    # AI-Lines hand-edited: the AI share is understated in the message only.
    box.commit("Edited claim", {"edited.py": SNIPPET + "\n\nLIMIT = 10\nNAME = 'edited'\n"})
    message = box.raw_message()
    ai_lines = re.search(rb"^AI-Lines: (\d+)/(\d+)$", message, re.M)
    assert ai_lines and int(ai_lines.group(1)) >= 10, message
    edited = message.replace(ai_lines.group(0), b"AI-Lines: 1/" + ai_lines.group(2))
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--amend", "-F", box.msgfile(edited))
    sh["edited"] = box.sha()
    # Hand-written with the right binding (public) but not the team key.
    s.key = box.team_key()
    s.kid = keys.key_id(keys.parse_key(s.key))
    box.commit("Forged stamp", {"forged.py": "def f():\n    return 5\n"}, hooks=False)
    digest, added = change_digest_of(box, "HEAD")
    forged = stamp_format.make(digest, [], f"0/{added}", s.kid, secrets.token_bytes(32))
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--amend", "-F",
            box.msgfile(f"Forged stamp\n\nAI-Lines: 0/{added}\nAIGuard-Stamp: {forged}\n"))
    sh["forged"] = box.sha()
    # Fully made up.
    made_up = f"v1 {secrets.token_hex(4)} 0 {secrets.token_hex(16)} {secrets.token_hex(16)}"
    sh["madeup"] = box.commit(f"Made-up stamp\n\nAI-Lines: 0/1\nAIGuard-Stamp: {made_up}\n",
                              {"madeup.py": "w = 5\n"}, hooks=False)
    s.shas = sh
    s.env_key = user_env(root / "ci-with-key", AIGUARD_KEY=s.key)
    s.env_nokey = user_env(root / "ci-without-key")
    return s


NOKEY_EXPECTED = {"nohook": "missing-stamp", "copied": "invalid-stamp", "amended": "invalid-stamp",
                  "edited": "invalid-stamp", "madeup": "invalid-stamp"}
KEY_EXPECTED = {**NOKEY_EXPECTED, "forged": "invalid-stamp"}


def expected(s: Scenario, with_key: bool) -> dict[str, set[str]]:
    table = KEY_EXPECTED if with_key else NOKEY_EXPECTED
    return {s.shas[name]: {rule} for name, rule in table.items()}


def scenario_verify(s: Scenario, with_key: bool, *args, env: dict | None = None, optional: bool = True):
    """Without the key, under `signatures = "optional"` (the binding checks alone) unless told not to."""
    base = s.env_key if with_key else s.env_nokey
    if with_key or not optional or (s.box.path / ".aiguard.toml").exists():
        return s.box.verify(*args, base_env={**base, **(env or {})})
    with s.box.policy('signatures = "optional"\n'):
        return s.box.verify(*args, base_env={**base, **(env or {})})


def test_scenario_without_key_fails_closed(scenario):
    """Issue 15: CI without AIGUARD_KEY used to accept a hand-made stamp (the binding is public)."""
    s = scenario
    done = scenario_verify(s, False, "main..topic", "--format", "json", optional=False)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    unchecked = {name for name, sha in s.shas.items() if "unchecked-signature" in errors_by_commit(report).get(sha, ())}
    assert unchecked == {"human", "ai", "forged"}  # every bound stamp; the others are invalid anyway
    message = next(f for f in report["findings"] if f["rule"] == "unchecked-signature")["message"]
    assert "AIGUARD_KEY" in message


def test_scenario_hooks_stamped_as_expected(scenario):
    s = scenario
    box = s.box
    assert ("Assisted-by: claude-code:m1\nAI-Lines: 10/10\nAIGuard-Stamp: v2 " + s.kid).encode() \
        in box.raw_message(s.shas["ai"])
    assert re.search(rb"\nAI-Lines: 0/5\nAIGuard-Stamp: v2 ", box.raw_message(s.shas["human"]))
    assert b"AIGuard-Stamp" not in box.raw_message(s.shas["nohook"])


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "nokey"])
def test_scenario_json(scenario, with_key):
    s = scenario
    done = scenario_verify(s, with_key, "main..topic", "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["range"] == "main..topic"
    assert report["checked"] == 8
    assert report["ok"] is False
    for f in report["findings"]:
        assert re.fullmatch(r"[0-9a-f]{40}", f["commit"]) and f["rule"] and f["message"]
    assert errors_by_commit(report) == expected(s, with_key)
    # Anything else is the default "disclose" notice on the commits that name a model.
    others = [f for f in report["findings"] if f.get("severity") != "error"]
    assert {(f["commit"], f["rule"]) for f in others} <= {(s.shas["ai"], "external-model"),
                                                          (s.shas["edited"], "external-model")}
    assert report.get("signature") == ("checked" if with_key else "unchecked")
    forged = [f for f in report["findings"] if f["commit"] == s.shas["forged"]]
    if with_key:
        assert "signature" in forged[0]["message"]
    else:
        assert forged == []


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "nokey"])
def test_scenario_text(scenario, with_key):
    s = scenario
    done = scenario_verify(s, with_key, "main..topic")
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode()
    want = expected(s, with_key)
    for name, sha in s.shas.items():
        block = re.search(rf"^{sha[:12]} .*\n((?:  .*\n?)*)", out, re.M)
        if sha in want:
            assert block, (name, out)
            rules = set(re.findall(r"^  error ([a-z-]+):", block.group(1), re.M))
            assert rules == want[sha], (name, out)
        else:
            assert not block or " error " not in block.group(1), (name, out)
    last = out.strip().splitlines()[-1]
    assert f"{len(want)} errors" in last and "8 commits checked" in last
    if with_key:
        assert f"signatures checked with key(s) {s.kid}" in last
    else:
        assert "signatures NOT checked" in last


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "nokey"])
def test_scenario_github(scenario, with_key, tmp_path):
    s = scenario
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    done = scenario_verify(s, with_key, "main..topic", "--format", "github",
                           env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 1, done.stderr
    lines = done.stdout.decode().splitlines()
    found: dict[str, set[str]] = {}
    for line in lines:
        m = re.fullmatch(r"::(error|warning|notice) title=aiguard ([a-z-]+) ([0-9a-f]{12})::(.+)", line)
        if line.startswith("::"):
            assert m, line
            if m.group(1) == "error":
                full = next(sha for sha in s.shas.values() if sha.startswith(m.group(3)))
                found.setdefault(full, set()).add(m.group(2))
    assert found == expected(s, with_key)
    assert "signatures" in lines[-1]
    text = summary.read_text()
    assert text.startswith("earlier step\n## aiguard verify")
    for sha in expected(s, with_key):
        assert f"`{sha[:12]}`" in text
    assert s.shas["human"][:12] not in text
    assert ("signatures checked." in text) == with_key
    assert ("**not** checked" in text) == (not with_key)


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "nokey"])
def test_scenario_junit(scenario, with_key, tmp_path):
    s = scenario
    done = scenario_verify(s, with_key, "main..topic", "--format", "junit")
    assert done.returncode == 1, done.stderr
    root = ET.fromstring(done.stdout)
    suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
    cases = [case for suite in suites for case in suite.iter("testcase")]
    assert len(cases) == 8
    failed: dict[str, set[str]] = {}
    seen = set()
    for case in cases:
        sha = next(sha for sha in s.shas.values() if case.get("name").startswith(sha[:12]))
        seen.add(sha)
        for failure in case.findall("failure"):
            failed.setdefault(sha, set()).add(failure.get("type"))
    assert seen == set(s.shas.values())
    assert failed == expected(s, with_key)
    assert int(suites[0].get("failures")) == len(expected(s, with_key))
    # --output writes the XML to a file and prints the text summary.
    out = tmp_path / "report.xml"
    done = scenario_verify(s, with_key, "main..topic", "--format", "junit", "--output", str(out))
    assert done.returncode == 1
    assert len(ET.parse(out).getroot().findall(".//testcase")) == 8
    assert b"commits checked" in done.stdout


def test_scenario_default_range_is_the_branch(scenario):
    s = scenario
    with s.box.policy('signatures = "optional"\n'):
        rc, report = verify_json(s.box, base_env=s.env_nokey)
    assert rc == 1
    assert report["range"] == "main..HEAD"
    assert report["checked"] == 8
    assert errors_by_commit(report) == expected(s, False)


def test_scenario_local_key_store_checks_signatures(scenario):
    """No AIGUARD_KEY, but the developer's own key store holds the team key."""
    s = scenario
    rc, report = verify_json(s.box, "main..topic")
    assert rc == 1
    assert report["signature"] == "checked"
    assert errors_by_commit(report) == expected(s, True)


def test_scenario_forbid_external_models(scenario):
    s = scenario
    with s.box.policy('external-models = "forbid"\n'):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert rc == 1
    errors = errors_by_commit(report)
    assert errors[s.shas["ai"]] == {"forbidden-model"}
    assert "claude-code:m1" in next(f["message"] for f in report["findings"]
                                    if f["commit"] == s.shas["ai"] and f["rule"] == "forbidden-model")
    assert set(errors) == set(expected(s, True)) | {s.shas["ai"]}
    assert errors[s.shas["edited"]] == {"invalid-stamp", "forbidden-model"}
    assert s.shas["human"] not in errors


@pytest.mark.parametrize("internal", ['["claude-code:*"]', '["codex:*", "claude-code:m?"]'])
def test_scenario_forbid_with_internal_models(scenario, internal):
    s = scenario
    with s.box.policy(f'external-models = "forbid"\ninternal-models = {internal}\n'):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert rc == 1
    assert errors_by_commit(report) == expected(s, True)
    assert not any(f["rule"] in ("forbidden-model", "external-model") for f in report["findings"])


def test_scenario_forbid_with_other_internal_model(scenario):
    s = scenario
    with s.box.policy('external-models = "forbid"\ninternal-models = ["codex:*", "claude-code:m2"]\n'):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert errors_by_commit(report)[s.shas["ai"]] == {"forbidden-model"}


def test_scenario_allow_is_silent(scenario):
    s = scenario
    with s.box.policy('external-models = "allow"\n'):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert not any(f["severity"] != "error" for f in report["findings"])
    assert errors_by_commit(report) == expected(s, True)


def test_scenario_only_good_commits_exit_0(scenario):
    s = scenario
    rc, report = verify_json(s.box, f"main..{s.shas['ai']}", base_env=s.env_key)
    assert rc == 0 and report["ok"] is True and report["checked"] == 2
    assert errors_by_commit(report) == {}
    # Text and exit code agree.
    done = scenario_verify(s, True, f"main..{s.shas['ai']}")
    assert done.returncode == 0, done.stdout
    assert b"0 errors" in done.stdout


def test_scenario_squash_trailers(scenario):
    s = scenario
    done = scenario_verify(s, False, f"main..{s.shas['ai']}", "--squash-trailers")
    assert done.returncode == 0
    assert done.stdout.decode().splitlines() == ["Assisted-by: claude-code:m1", "AI-Lines: 10/15"]


# Broken configuration and other exit-2 cases ---------------------------------------------

@pytest.mark.parametrize("name,text,key", [
    (".aiguard.toml", "requre-stamp = true\n", "requre-stamp"),
    (".aiguard.toml", "max-ai-share = 2\n", "max-ai-share"),
    (".aiguard.toml", 'external-models = "ban"\n', "external-models"),
    (".aiguard.toml", 'internal-models = "claude-code:*"\n', "internal-models"),
    (".aiguard.toml", "require-stamp = 1\n", "require-stamp"),
    (".aiguard.toml", 'exempt-before = "last tuesday"\n', "exempt-before"),
    (".aiguard.toml", 'external-models = "forbid\n', None),
    (".aiguard.toml", "max-ai-share =\n", None),
    ("pyproject.toml", "[tool.aiguard]\nmax-ai-share = -0.1\n", "max-ai-share"),
    ("pyproject.toml", "[tool.aiguard]\nforbid-path = []\n", "forbid-path"),
    ("pyproject.toml", "[tool.aiguard\n", None),
])
def test_broken_policy_exit_2_one_line(scenario, name, text, key):
    s = scenario
    with s.box.policy(text, name):
        for fmt in ("text", "json"):
            # optional=False: the helper's own .aiguard.toml would hide a broken pyproject.toml
            line = one_line_error(scenario_verify(s, False, "main..topic", "--format", fmt, optional=False))
            assert name in line
            if key:
                assert key in line
            else:
                assert "TOML" in line and "line" in line
        # The commit-msg check reads the same policy.
        msg = s.box.msgfile("x\n")
        one_line_error(scenario_verify(s, False, "--message-file", msg, optional=False))


def test_pyproject_policy_applies(scenario):
    s = scenario
    with s.box.policy('[project]\nname = "x"\n\n[tool.aiguard]\nexternal-models = "forbid"\n', "pyproject.toml"):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert errors_by_commit(report)[s.shas["ai"]] == {"forbidden-model"}
    # A pyproject.toml without [tool.aiguard] is the default policy.
    with s.box.policy('[project]\nname = "x"\n', "pyproject.toml"):
        rc, report = verify_json(s.box, "main..topic", base_env=s.env_key)
    assert errors_by_commit(report) == expected(s, True)


@pytest.mark.parametrize("args,needle", [
    (("no-such-branch..topic",), "git log failed"),
    (("--format", "yaml"), None),
])
def test_usage_errors_exit_2(scenario, args, needle):
    done = scenario_verify(scenario, False, *args)
    assert done.returncode == 2, done
    if needle:
        assert needle in one_line_error(done)


def test_bad_aiguard_key_exit_2(scenario):
    done = scenario_verify(scenario, False, "main..topic", env={"AIGUARD_KEY": "not-a-key"})
    assert "AIGUARD_KEY" in one_line_error(done)


def test_outside_a_repository_exit_2(scenario, tmp_path):
    done = run([sys.executable, "-m", "aiguard", "verify"], cwd=tmp_path, env=scenario.env_nokey, check=False)
    assert "not in a git repository" in one_line_error(done)


def test_empty_range_is_ok(scenario):
    rc, report = verify_json(scenario.box, "topic..topic", base_env=scenario.env_nokey)
    assert rc == 0 and report == {**report, "checked": 0, "ok": True, "findings": []}


# GitHub annotation escaping ----------------------------------------------------------------

def test_escape_property_and_data():
    assert verifier._escape_property("50% a:b,c\nd\re") == "50%25 a%3Ab%2Cc%0Ad%0De"
    assert verifier._escape_data("50% a:b,c\nd") == "50%25 a:b,c%0Ad"


def test_format_github_escapes_titles_and_messages():
    sha = "ab" * 20
    finding = verifier.Finding(sha, "odd:rule,50%\nx", verifier.ERROR, "line one\nline: two, 100%", "fix it")
    report = verifier.Report("a..b", 1, [finding], "unchecked", [], [])
    first = verifier.format_github(report).splitlines()[0]
    assert first == ("::error title=aiguard odd%3Arule%2C50%25%0Ax abababababab::"
                     "line one%0Aline: two, 100%25. Fix: fix it")


def test_format_github_caps_annotations_per_severity():
    findings = [verifier.Finding(f"{i:040x}", "missing-stamp", verifier.ERROR, "m") for i in range(15)]
    out = verifier.format_github(verifier.Report("r", 15, findings, "unchecked", [], []))
    assert sum(line.startswith("::error ") for line in out.splitlines()) == 10
    assert "15 errors" in out.splitlines()[-1]


# Policy rules on their own branch --------------------------------------------------------------

@pytest.fixture(scope="module")
def policy_box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("policy"))
    box.commit("Base", {"README.md": "# p\n"})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    box.record(SNIPPET2, tool="codex", model="m2")
    shas = {
        "data": box.commit("Generated training helper", {"data/gen.py": SNIPPET}),
        "src": box.commit("Human app", {"src/app.py": HUMAN, "data/notes.txt": "written by a human\n"}),
        "mixed": box.commit("Mixed", {"src/chunks.py": SNIPPET2 + "\n\n" + HUMAN * 3}),
        "datadir": box.commit("Lookalike folder", {"database/gen.py": SNIPPET.replace("merge_", "join_")}),
    }
    trailers = {name: box.raw_message(sha) for name, sha in shas.items()}
    assert b"Assisted-by: claude-code:m1\nAI-Lines: 10/10\n" in trailers["data"]
    assert b"Assisted-by: codex:m2\nAI-Lines: 8/" in trailers["mixed"]
    assert b"Assisted-by" not in trailers["src"]
    return box, shas


def test_forbid_paths(policy_box):
    box, shas = policy_box
    with box.policy('forbid-paths = ["data/**"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {shas["data"]: {"forbidden-path"}}
    message = next(f["message"] for f in report["findings"] if f["rule"] == "forbidden-path")
    assert "data/gen.py" in message


def test_forbid_paths_ignores_internal_models(policy_box):
    box, shas = policy_box
    with box.policy('forbid-paths = ["data/**"]\ninternal-models = ["claude-code:*"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 0 and errors_by_commit(report) == {}


def test_max_ai_share(policy_box):
    box, shas = policy_box
    with box.policy("max-ai-share = 0.5\n"):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    # data/gen.py and database/gen.py are 10/10; the mixed commit is 8/(8+2+3*5) = 0.32.
    assert errors_by_commit(report) == {shas["data"]: {"ai-share-exceeded"},
                                        shas["datadir"]: {"ai-share-exceeded"}}
    with box.policy("max-ai-share = 1\n"):
        assert verify_json(box, "main..topic")[0] == 0


def test_max_ai_share_zero_fails_any_ai_line(policy_box):
    box, shas = policy_box
    with box.policy("max-ai-share = 0\n"):
        rc, report = verify_json(box, "main..topic")
    assert set(errors_by_commit(report)) == {shas["data"], shas["mixed"], shas["datadir"]}


def test_forbid_in_pyproject(policy_box):
    box, shas = policy_box
    with box.policy('[tool.aiguard]\nexternal-models = "forbid"\ninternal-models = ["codex:*"]\n', "pyproject.toml"):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {shas["data"]: {"forbidden-model"}, shas["datadir"]: {"forbidden-model"}}


def test_message_file_warns_on_forbidden_model(policy_box):
    box, _ = policy_box
    msg = box.msgfile("Add helper\n\nAssisted-by: claude-code:m1\nAI-Lines: 4/10\nAIGuard-Stamp: v1 00000000 1 "
                      + "0" * 32 + " " + "0" * 32 + "\n")
    with box.policy('external-models = "forbid"\n'):
        done = box.verify("--message-file", msg)
    assert done.returncode == 0
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "forbidden-model" in lines[0] and "claude-code:m1" in lines[0]
    # Allowed as internal: silent.
    with box.policy('external-models = "forbid"\ninternal-models = ["claude-code:*"]\n'):
        done = box.verify("--message-file", msg)
    assert done.returncode == 0 and done.stderr == b""


def test_message_file_warns_on_hand_written_assisted_by(policy_box):
    """An author's own `Assisted-by: claude-code:m1` (no aiguard group yet) is a claim too."""
    box, _ = policy_box
    msg = box.msgfile("Add helper\n\nAssisted-by: claude-code:m1\n")
    with box.policy('external-models = "forbid"\n'):
        done = box.verify("--message-file", msg)
    assert done.returncode == 0
    assert b"forbidden-model" in done.stderr and b"claude-code:m1" in done.stderr


def test_hand_written_assisted_by_without_stamp_is_forbidden(policy_box):
    """With require-stamp = false, a commit made without the hook that says
    `Assisted-by: chatgpt:unknown` must still fail external-models = "forbid", as the
    same trailer does on a stamped commit."""
    box, shas = policy_box
    box.git("switch", "-q", "-c", "handwritten", "main")
    try:
        plain = box.commit("Chat answer\n\nAssisted-by: chatgpt:unknown\n", {"chat.py": "q = 1\n"}, hooks=False)
        stamped = box.commit("Chat answer 2\n\nAssisted-by: chatgpt:unknown\n", {"chat2.py": "q = 2\n"})
        with box.policy('require-stamp = false\nexternal-models = "forbid"\n'):
            rc, report = verify_json(box, "main..handwritten")
    finally:
        box.git("switch", "-q", "topic")
    assert errors_by_commit(report).get(stamped) == {"forbidden-model"}
    assert errors_by_commit(report).get(plain) == {"forbidden-model"}
    assert rc == 1


# Other tools' marks (evidence: foreign) meet the same policy ----------------------------------------

GIT_AI_NOTE = """\
src/gen.py
  s_1a2b3c4d5e6f70::t_0011223344556a 1-3
---
{"schema_version":"authorship/3.0.0","base_commit_sha":"x","prompts":{},
 "sessions":{"s_1a2b3c4d5e6f70":{"agent_id":{"tool":"cursor","id":"c1","model":"gpt-5"}}}}
"""


@pytest.fixture(scope="module")
def foreign_box(tmp_path_factory):
    """Stamped commits whose only AI evidence is another tool's mark (AI-Lines 0/T)."""
    box = Box(tmp_path_factory.mktemp("foreign"))
    box.commit("Base", {"README.md": "# f\n"})
    box.git("switch", "-q", "-c", "topic")
    shas = {
        "claude": box.commit("Add loader\n\nCo-authored-by: Claude <noreply@anthropic.com>\n",
                             {"data/load.py": HUMAN}),
        "aider": box.commit("Add reader", {"src/read.py": HUMAN.replace("home_folder", "reader")},
                            env={"GIT_AUTHOR_NAME": "Jane Doe (aider)", "GIT_AUTHOR_EMAIL": "jane@example.com"}),
        "gitai": box.commit("Add generator", {"src/gen.py": "a = 1\nb = 2\nc = 3\n", "data/table.txt": "x\n"}),
        "human": box.commit("Human change", {"data/notes.txt": "by hand\n"}),
    }
    box.git("notes", "--ref", "refs/notes/ai", "add", "-m", GIT_AI_NOTE, shas["gitai"])
    for sha in shas.values():
        assert b"AIGuard-Stamp: " in box.raw_message(sha) and b"Assisted-by" not in box.raw_message(sha)
    return box, shas


def test_foreign_marks_are_forbidden(foreign_box):
    box, shas = foreign_box
    with box.policy('external-models = "forbid"\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {shas["claude"]: {"forbidden-model"}, shas["aider"]: {"forbidden-model"},
                                        shas["gitai"]: {"forbidden-model"}}
    messages = {f["commit"]: f["message"] for f in report["findings"]}
    assert "claude-code:unknown (another tool's mark: Co-authored-by: Claude <noreply@anthropic.com>)" \
        in messages[shas["claude"]]
    assert "aider:unknown (another tool's mark: author Jane Doe (aider) <jane@example.com>)" in messages[shas["aider"]]
    assert "cursor:gpt-5 (another tool's mark: git-ai note in refs/notes/ai)" in messages[shas["gitai"]]
    with box.policy('external-models = "forbid"\n'):
        text = box.verify("main..topic", "--format", "text").stdout.decode()
    assert "error forbidden-model: external model output is not allowed here: claude-code:unknown" in text


def test_foreign_marks_are_disclosed(foreign_box):
    box, shas = foreign_box
    rc, report = verify_json(box, "main..topic")
    assert rc == 0
    notices = {f["commit"]: f["message"] for f in report["findings"] if f["rule"] == "external-model"}
    assert set(notices) == {shas["claude"], shas["aider"], shas["gitai"]}
    assert all(f["severity"] == "notice" for f in report["findings"] if f["rule"] == "external-model")
    assert "Co-authored-by: Claude <noreply@anthropic.com>" in notices[shas["claude"]]


def test_foreign_marks_matching_internal_models_are_silent(foreign_box):
    box, shas = foreign_box
    with box.policy('external-models = "forbid"\ninternal-models = ["claude-code:*", "aider:*", "cursor:gpt-*"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 0
    assert not [f for f in report["findings"] if f["rule"] in ("forbidden-model", "external-model")]
    with box.policy('external-models = "forbid"\ninternal-models = ["claude-code:*"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1 and set(errors_by_commit(report)) == {shas["aider"], shas["gitai"]}


def test_foreign_marks_and_forbid_paths(foreign_box):
    """A commit-level mark has no per-file record: the whole commit counts. git-ai's note
    has line ranges: only the files it names count."""
    box, shas = foreign_box
    with box.policy('external-models = "allow"\nforbid-paths = ["data/**"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {shas["claude"]: {"forbidden-path"}}  # gitai's data/table.txt is not in its note
    message = next(f["message"] for f in report["findings"] if f["rule"] == "forbidden-path")
    assert "data/load.py" in message and "Co-authored-by: Claude <noreply@anthropic.com>" in message
    with box.policy('external-models = "allow"\nforbid-paths = ["src/gen.py"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1 and errors_by_commit(report) == {shas["gitai"]: {"forbidden-path"}}
    with box.policy('forbid-paths = ["data/**"]\ninternal-models = ["claude-code:*"]\n'):
        rc, report = verify_json(box, "main..topic")
    assert rc == 0


def test_report_verdicts_read_foreign_marks_as_verify(foreign_box, monkeypatch):
    """`aiguard report`'s policy column comes from the same check, git-ai notes included."""
    from aiguard.audit import views as audit

    box, shas = foreign_box
    for name, value in box.env.items():
        monkeypatch.setenv(name, value)
    with box.policy('external-models = "allow"\nforbid-paths = ["src/gen.py"]\n'):
        checks = audit.stamp_checks("main..topic", cwd=str(box.path))
    verdicts = {sha: check.verdict for sha, check in checks.by_commit.items()}
    assert verdicts == {shas["claude"]: "pass", shas["aider"]: "pass", shas["gitai"]: "fail", shas["human"]: "pass"}


def test_message_file_warns_on_co_author(foreign_box):
    box, _ = foreign_box
    msg = box.msgfile("Add helper\n\nCo-authored-by: Claude <noreply@anthropic.com>\n")
    with box.policy('external-models = "forbid"\n'):
        done = box.verify("--message-file", msg)
    assert done.returncode == 0
    assert "forbidden-model" in done.stderr.decode() and "claude-code:unknown" in done.stderr.decode()
    unmatched = box.msgfile("Add\n\nAI-Lines: 0/3\nAI-Unmatched: 3 lines in 1 file (binary)\n"
                            "AIGuard-Stamp: v1 00000000 0 " + "0" * 32 + " " + "0" * 32 + "\n")
    with box.policy('unmatched = "error"\n'):
        done = box.verify("--message-file", unmatched)
    assert done.returncode == 0 and "unmatched-lines" in done.stderr.decode()


# Exemptions -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exempt_box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("exempt"))
    box.commit("Base", {"README.md": "# e\n"})
    box.git("switch", "-q", "-c", "topic")
    old_dates = {"GIT_AUTHOR_DATE": "2020-06-01T12:00:00+00:00", "GIT_COMMITTER_DATE": "2020-06-01T12:00:00+00:00"}
    shas = {"old": box.commit("Old unstamped", {"old.py": "o = 1\n"}, hooks=False, env=old_dates)}
    shas["good"] = box.commit("Stamped", {"good.py": "g = 1\n"})
    shas["bot"] = box.commit("Bump deps", {"deps.txt": "x==2\n"}, hooks=False,
                             args=("--author", "dependabot[bot] <x@y>"))
    shas["human_bot_letters"] = box.commit("Robert's change", {"rob.py": "r = 1\n"}, hooks=False,
                                           args=("--author", "Robert Otto <bob.tot@example.org>"))
    box.git("switch", "-q", "-c", "side")
    shas["side"] = box.commit("Side work", {"side.py": "s = 1\n"})
    box.git("switch", "-q", "topic")
    box.git("-c", "core.hooksPath=/dev/null", "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    shas["merge"] = box.sha()
    assert len(box.git("rev-list", "--parents", "-n1", "HEAD").stdout.split()) == 3
    return box, shas


def test_default_exemptions(exempt_box):
    """No exemption by a name anyone sets (`--author "mallory [bot]"`), and merges are checked."""
    box, shas = exempt_box
    for args in (("main..topic",), ()):
        rc, report = verify_json(box, *args)
        assert rc == 1
        assert errors_by_commit(report) == {shas["old"]: {"missing-stamp"}, shas["bot"]: {"missing-stamp"},
                                            shas["human_bot_letters"]: {"missing-stamp"},
                                            shas["merge"]: {"missing-stamp"}}, args
        assert report["checked"] == 6  # old, good, bot, human_bot_letters, side, merge


def test_merges_exempt_when_the_policy_says_so(exempt_box):
    box, shas = exempt_box
    with box.policy("exempt-merges = true\n"):
        rc, report = verify_json(box, "main..topic")
    assert shas["merge"] not in errors_by_commit(report) and report["checked"] == 5


def test_exempt_authors_is_no_longer_honoured(exempt_box):
    box, shas = exempt_box
    with box.policy('exempt-authors = ["*[bot]*"]\n'):
        rc, report = verify_json(box, "main..topic")
        text = box.verify("main..topic").stdout.decode()
    assert shas["bot"] in errors_by_commit(report)
    assert "exempt-authors is no longer honoured" in text and "exempt-signers" in text


@pytest.mark.parametrize("value", ["sha", "short-sha", '"2021-01-01"', "2021-01-01"])
def test_exempt_before(exempt_box, value):
    box, shas = exempt_box
    if value == "sha":
        value = f'"{shas["old"]}"'
    elif value == "short-sha":
        value = f'"{shas["old"][:10]}"'
    with box.policy(f"exempt-before = {value}\n"):
        rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {shas["human_bot_letters"]: {"missing-stamp"}, shas["bot"]: {"missing-stamp"},
                                        shas["merge"]: {"missing-stamp"}}
    assert report["checked"] == 5


def test_exempt_before_date_keeps_later_commits(exempt_box):
    box, shas = exempt_box
    with box.policy('exempt-before = "2019-12-31"\n'):
        rc, report = verify_json(box, "main..topic")
    assert shas["old"] in errors_by_commit(report)


def test_exempt_before_unknown_commit_exit_2(exempt_box):
    box, _ = exempt_box
    with box.policy('exempt-before = "deadbeefdeadbeef"\n'):
        line = one_line_error(box.verify("main..topic"))
    assert ".aiguard.toml" in line and "exempt-before" in line


# Default range: branch, pull request, merge queue, pre-commit ------------------------------

@pytest.fixture(scope="module")
def branchy(tmp_path_factory):
    root = tmp_path_factory.mktemp("branchy")
    box = Box(root)
    shas = {"base": box.commit("Base", {"a.txt": "a\n"})}
    box.git("switch", "-q", "-c", "topic")
    shas["t1"] = box.commit("Topic one", {"t1.txt": "one\n"})
    shas["t2"] = box.commit("Topic two, no hooks", {"t2.txt": "two\n"}, hooks=False)
    box.git("switch", "-q", "main")
    shas["m2"] = box.commit("Main moves on, no hooks", {"m2.txt": "m\n"}, hooks=False)
    box.git("switch", "-q", "topic")
    # What actions/checkout gives a pull_request run: GitHub's merge commit, detached.
    pr = root / "pr-checkout"
    box.git("worktree", "add", "-q", "--detach", str(pr), "main")
    box.git("-c", "core.hooksPath=/dev/null", "merge", "-q", "--no-ff", "-m", "Merge abc into def", shas["t2"], cwd=pr)
    box.write("../pr-checkout/extra.txt", "not part of the PR\n")
    box.git("add", "-A", cwd=pr)
    box.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "Not in the PR", cwd=pr)
    shas["extra"] = box.git("rev-parse", "HEAD", cwd=pr).stdout.decode().strip()
    return box, shas, pr


def test_default_range_on_branch(branchy):
    box, shas, _ = branchy
    rc, report = verify_json(box)
    assert report["range"] == "main..HEAD"
    assert report["checked"] == 2
    assert errors_by_commit(report) == {shas["t2"]: {"missing-stamp"}}


def test_default_range_prefers_origin_head(branchy):
    box, shas, _ = branchy
    box.git("update-ref", "refs/remotes/origin/main", shas["base"])
    box.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    try:
        rc, report = verify_json(box)
    finally:
        box.git("symbolic-ref", "--delete", "refs/remotes/origin/HEAD")
        box.git("update-ref", "-d", "refs/remotes/origin/main")
    assert report["range"] == "origin/main..HEAD"
    assert report["checked"] == 2


def github_env(tmp_path: Path, name: str, event: dict, **extra: str) -> dict:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": name, "GITHUB_ACTIONS": "true", **extra}


def test_pull_request_checks_the_pr_head(branchy, tmp_path):
    box, shas, pr = branchy
    event = {"pull_request": {"head": {"sha": shas["t2"], "ref": "topic"},
                              "base": {"sha": shas["m2"], "ref": "main"}}}
    env = github_env(tmp_path, "pull_request", event, GITHUB_BASE_REF="main")
    rc, report = verify_json(box, env=env, cwd=pr)
    assert report["range"] == f"{shas['m2']}..{shas['t2']}"
    assert report["checked"] == 2
    assert errors_by_commit(report) == {shas["t2"]: {"missing-stamp"}}
    # With the base branch fetched as origin/main, that is the base.
    box.git("update-ref", "refs/remotes/origin/main", shas["m2"])
    try:
        rc, report = verify_json(box, env=env, cwd=pr)
    finally:
        box.git("update-ref", "-d", "refs/remotes/origin/main")
    assert report["range"] == f"origin/main..{shas['t2']}"
    assert errors_by_commit(report) == {shas["t2"]: {"missing-stamp"}}
    # pull_request_target too.
    env = github_env(tmp_path, "pull_request_target", event)
    rc, report = verify_json(box, env=env, cwd=pr)
    assert report["range"].endswith(f"..{shas['t2']}") and report["checked"] == 2


def test_merge_group_checks_base_to_head(branchy, tmp_path):
    box, shas, pr = branchy
    event = {"merge_group": {"base_sha": shas["base"], "head_sha": shas["t1"], "head_ref": "gh-readonly-queue/main/x"}}
    rc, report = verify_json(box, env=github_env(tmp_path, "merge_group", event), cwd=pr)
    assert rc == 0
    assert report["range"] == f"{shas['base']}..{shas['t1']}"
    assert report["checked"] == 1


def test_push_event_uses_default_branch_range(branchy, tmp_path):
    box, shas, _ = branchy
    rc, report = verify_json(box, env=github_env(tmp_path, "push", {"ref": "refs/heads/topic"}))
    assert report["range"] == "main..HEAD" and report["checked"] == 2


def test_pre_commit_pre_push_range(branchy):
    box, shas, _ = branchy
    rc, report = verify_json(box, env={"PRE_COMMIT_FROM_REF": shas["base"], "PRE_COMMIT_TO_REF": shas["t1"]})
    assert rc == 0 and report["range"] == f"{shas['base']}..{shas['t1']}" and report["checked"] == 1
    rc, report = verify_json(box, env={"PRE_COMMIT_FROM_REF": shas["t1"], "PRE_COMMIT_TO_REF": shas["t2"]})
    assert rc == 1 and report["checked"] == 1
    assert errors_by_commit(report) == {shas["t2"]: {"missing-stamp"}}
    # An explicit RANGE wins over the environment.
    rc, report = verify_json(box, f"{shas['base']}..{shas['t1']}",
                             env={"PRE_COMMIT_FROM_REF": shas["t1"], "PRE_COMMIT_TO_REF": shas["t2"]})
    assert rc == 0


def test_default_range_on_main_without_remote_exit_2(branchy):
    box, _, _ = branchy
    box.git("switch", "-q", "main")
    try:
        done = box.verify()
    finally:
        box.git("switch", "-q", "topic")
    assert "RANGE" in one_line_error(done)


# Keys ----------------------------------------------------------------------------------------------

KEY_RE = re.compile(r"aiguard-key-v1:[0-9a-f]{64}")


def test_key_init_export_import(tmp_path):
    alice = user_env(tmp_path / "alice")
    bob = user_env(tmp_path / "bob")

    def ag(env, *args, input=None, check=True):
        return run([sys.executable, "-m", "aiguard", "key", *args], cwd=tmp_path, env=env, input=input, check=check)

    assert ag(alice, "export", check=False).returncode == 2
    kid = re.search(r"stamp key ([0-9a-f]{8})", ag(alice, "init").stdout.decode()).group(1)
    assert ag(alice, "init").stdout.decode().startswith(f"stamp key {kid}")  # idempotent
    key = ag(alice, "export").stdout.decode().strip()
    assert KEY_RE.fullmatch(key) and keys.key_id(keys.parse_key(key)) == kid
    ag(bob, "import", key)
    assert ag(bob, "export").stdout.decode().strip() == key
    carol = user_env(tmp_path / "carol")
    ag(carol, "import", input=(key + "\n").encode())
    assert ag(carol, "export").stdout.decode().strip() == key
    bad = ag(carol, "import", "aiguard-key-v1:zz", check=False)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


def test_rotation_keeps_old_stamps_verifiable(tmp_path):
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "a\n"})
    box.git("switch", "-q", "-c", "topic")
    old_key = box.team_key()
    old = box.commit("Signed with the old key", {"b.txt": "b\n"})
    rotated = box.ag("key", "rotate").stdout.decode()
    new_key = box.team_key()
    assert new_key != old_key
    old_id, new_id = (keys.key_id(keys.parse_key(k)) for k in (old_key, new_key))
    assert new_id in rotated and old_id in rotated
    new = box.commit("Signed with the new key", {"c.txt": "c\n"})
    assert f" {old_id} ".encode() in box.raw_message(old)
    assert f" {new_id} ".encode() in box.raw_message(new)
    ci = user_env(tmp_path / "ci")
    for value in (f"{old_key},{new_key}", f"{new_key}\n{old_key}\n", f" {old_key} , {new_key} "):
        rc, report = verify_json(box, "main..topic", base_env={**ci, "AIGUARD_KEY": value})
        assert rc == 0 and report["signature"] == "checked", value
    # The local store keeps both.
    done = box.verify("main..topic")
    assert done.returncode == 0, done.stdout
    assert old_id in done.stdout.decode() and new_id in done.stdout.decode()
    # Only the new key given: the old stamp names a key that is not given.
    rc, report = verify_json(box, "main..topic", base_env={**ci, "AIGUARD_KEY": new_key})
    assert rc == 1
    assert errors_by_commit(report) == {old: {"invalid-stamp"}}
    message = report["findings"][0]["message"]
    assert old_id in message and "not a team key" in message
    # No key at all: bindings hold, signatures unchecked (an error unless the policy makes them optional).
    rc, report = verify_json(box, "main..topic", base_env=ci)
    assert rc == 1 and report["signature"] == "unchecked"
    assert errors_by_commit(report) == {old: {"unchecked-signature"}, new: {"unchecked-signature"}}
    with box.policy('signatures = "optional"\n'):
        rc, report = verify_json(box, "main..topic", base_env=ci)
    assert rc == 0 and report["signature"] == "unchecked"


def test_stamp_signed_by_a_stranger_key(tmp_path):
    """A developer who never imported the team key: their hook signs with their own key."""
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "a\n"})
    team = box.team_key()
    stranger = keys.format_key(secrets.token_bytes(32))
    box.git("switch", "-q", "-c", "topic")
    sha = box.commit("Stranger", {"s.txt": "s\n"}, env={"AIGUARD_KEY": stranger})
    ci = user_env(tmp_path / "ci")
    rc, report = verify_json(box, "main..topic", base_env={**ci, "AIGUARD_KEY": team})
    assert rc == 1 and errors_by_commit(report) == {sha: {"invalid-stamp"}}
    assert verify_json(box, "main..topic", base_env=ci)[1]["findings"][0]["rule"] == "unchecked-signature"
    with box.policy('signatures = "optional"\n'):
        assert verify_json(box, "main..topic", base_env=ci)[0] == 0


# Squash trailers -----------------------------------------------------------------------------------

def test_squash_trailers_union_and_sum(tmp_path):
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "a\n"})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    box.record(SNIPPET2, tool="codex", model="m2")
    box.commit("One", {"one.py": SNIPPET})                               # 10/10 claude-code:m1
    box.commit("Two", {"two.py": SNIPPET2 + "\nX = 1\n"})                # 8/10 codex:m2
    box.commit("Three", {"three.py": HUMAN})                             # 0/5
    box.commit("Four", {"four.py": SNIPPET.replace("merge_", "fuse_")})  # 10/10 claude-code:m1 again
    done = box.verify("main..topic", "--squash-trailers")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert sorted(lines[:-1]) == ["Assisted-by: claude-code:m1", "Assisted-by: codex:m2"]
    assert lines[-1] == "AI-Lines: 28/35"


# Rebase -----------------------------------------------------------------------------------------------

def test_clean_rebase_without_hooks_keeps_stamps_valid(tmp_path):
    box = Box(tmp_path)
    lines = [f"line {i}\n" for i in range(1, 21)]
    box.commit("Base", {"a.txt": "".join(lines)})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    changed = list(lines)
    changed[15] = "line 16 changed on the branch\n"
    box.commit("Branch edits a.txt", {"a.txt": "".join(changed)})
    box.commit("Branch adds AI code", {"ai.py": SNIPPET})
    box.git("switch", "-q", "main")
    moved = list(lines)
    moved[1] = "line 2 changed on main\n"
    moved.insert(0, "a new first line\n")
    box.commit("Main moves", {"a.txt": "".join(moved), "other.txt": "o\n"})
    box.git("switch", "-q", "topic")
    before = [box.raw_message(f"topic~{i}") for i in (1, 0)]
    box.git("-c", "core.hooksPath=/dev/null", "rebase", "-q", "main")
    assert [box.raw_message(f"topic~{i}") for i in (1, 0)] == before  # untouched by any hook
    assert box.git("merge-base", "--is-ancestor", "main", "topic", check=False).returncode == 0
    ci = user_env(tmp_path / "ci", AIGUARD_KEY=box.team_key())
    rc, report = verify_json(box, "main..topic", base_env=ci)
    assert rc == 0, report
    assert report["checked"] == 2


# Stamps must not depend on the verifier's git configuration or working tree ------------------------

def test_stamp_made_under_diff_interhunkcontext_verifies(tmp_path):
    """A developer with `diff.interHunkContext` set: the hook's diff must not change."""
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "".join(f"{i}\n" for i in range(1, 11)), "b.txt": "b\n"})
    box.git("switch", "-q", "-c", "topic")
    box.git("config", "diff.interHunkContext", "5")
    try:
        box.commit("Two close hunks", {"a.txt": "".join(f"{i}\n" for i in (1, "X", 3, 4, "Y", 6, 7, 8, 9, 10)),
                                       "b.txt": "b2\n"})
    finally:
        box.git("config", "--unset", "diff.interHunkContext")
    done = box.verify("main..topic")
    assert done.returncode == 0, done.stdout
    assert b"AI-Lines: 0/3\n" in box.raw_message()  # X, Y and b2 (the hook counted `+++ b/b.txt`)


def test_root_commit_verifies_with_log_showroot_false(tmp_path):
    box = Box(tmp_path)
    box.commit("Root", {"a.txt": "a\n"})
    assert box.verify("HEAD").returncode == 0
    box.git("config", "log.showRoot", "false")
    done = box.verify("HEAD")
    assert done.returncode == 0, done.stdout


def test_later_gitattributes_do_not_break_earlier_stamps(tmp_path):
    """CI verifies old commits with today's working tree; a later `.gitattributes`
    marking a file type binary must not change how earlier changes are read."""
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "a\n"})
    box.git("switch", "-q", "-c", "topic")
    box.commit("Data as text", {"table.dat": "1,2\n3,4\n"})
    box.commit("Mark .dat binary", {".gitattributes": "*.dat binary\n"})
    done = box.verify("main..topic")
    assert done.returncode == 0, done.stdout


def test_junit_is_valid_xml_with_control_characters_in_a_subject(tmp_path):
    box = Box(tmp_path)
    box.commit("Base", {"a.txt": "a\n"})
    box.git("switch", "-q", "-c", "topic")
    box.commit("Fix \x1b[1mbold\x1b[0m \x01 & <tags> \"q\" \u00e9", {"b.txt": "b\n"}, args=("--cleanup=verbatim",))
    assert b"\x1b" in box.raw_message()
    done = box.verify("main..topic", "--format", "junit")
    assert done.returncode == 0
    assert len(ET.fromstring(done.stdout).findall(".//testcase")) == 1
    out = tmp_path / "report.xml"
    assert box.verify("main..topic", "--format", "junit", "--output", str(out)).returncode == 0
    assert len(ET.parse(out).getroot().findall(".//testcase")) == 1


# The policy is read at the range's base ----------------------------------------------------------

def test_policy_committed_at_base_cannot_be_relaxed_by_the_branch(tmp_path):
    box = Box(tmp_path)
    box.write(".aiguard.toml", 'external-models = "forbid"\n')
    box.git("add", "-f", ".aiguard.toml")
    box.commit("Base with policy", {"a.txt": "a\n"})
    box.git("switch", "-q", "-c", "topic")
    box.record(SNIPPET)
    box.write(".aiguard.toml", 'external-models = "allow"\n')
    box.git("add", "-f", ".aiguard.toml")
    relax = box.commit("Relax the policy")
    ai = box.commit("AI change", {"ai.py": SNIPPET})
    rc, report = verify_json(box, "main..topic")
    assert rc == 1
    assert errors_by_commit(report) == {ai: {"forbidden-model"}}
    assert relax not in errors_by_commit(report)
    # The same through the default range and from a subdirectory.
    (box.path / "sub").mkdir()
    rc, report = verify_json(box, cwd=box.path / "sub")
    assert errors_by_commit(report) == {ai: {"forbidden-model"}}
    # A broken policy at the base is an exit-2 error naming where it is.
    box.git("switch", "-q", "main")
    box.write(".aiguard.toml", "max-ai-share = 7\n")
    box.git("add", "-f", ".aiguard.toml")
    box.commit("Break the policy", hooks=False)
    line = one_line_error(box.verify("main..topic"))
    assert ".aiguard.toml" in line and "max-ai-share" in line


def test_base_option_and_no_summary(branchy, tmp_path):
    box, shas, _ = branchy
    summary = tmp_path / "summary.md"
    rc, report = verify_json(box, "--base", shas["t1"])
    assert report["range"] == f"{shas['t1']}..HEAD" and report["checked"] == 1
    done = box.verify("--format", "github", "--no-summary", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 1 and not summary.exists()
    assert "is not a commit" in one_line_error(box.verify("--base", "no-such-ref"))


def test_audit_mode_reports_squash_merges_as_warnings(make_repo):
    """A GitHub-style squash merge: the commits' messages (with their groups) in one body."""
    from conftest import aiguard

    repo = make_repo()
    repo.write("base.txt", "base\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    base = repo.out("rev-parse", "HEAD").strip()
    aiguard("install", cwd=repo.path)
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=MERGE_INTERVALS.encode())
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("tools.py", MERGE_INTERVALS)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Add tools")
    stamped = repo.message()
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "topic")
    body = b"Add tools (#1)\n\n* " + stamped + b"\n---------\n\nCo-authored-by: A <a@example.com>\n"
    repo.write(".git/squash-msg", body)
    repo.git("-c", "core.hooksPath=/dev/null", "commit", "-q", "-F", ".git/squash-msg")
    plain = aiguard("verify", f"{base}..HEAD", "--format", "json", cwd=repo.path, check=False)
    assert plain.returncode == 1
    assert [f["rule"] for f in json.loads(plain.stdout)["findings"]] == ["missing-stamp"]
    audit = aiguard("verify", f"{base}..HEAD", "--audit", "--format", "json", cwd=repo.path, check=False)
    assert audit.returncode == 0, audit.stdout
    findings = json.loads(audit.stdout)["findings"]
    assert [f["rule"] for f in findings] == ["squash-merge", "external-model"]
    n = len(MERGE_INTERVALS.splitlines())
    assert f"AI-Lines: {n}/{n}" in findings[0]["message"] and "claude-code:m1" in findings[0]["message"]


def test_shallow_clone_edge_is_an_environment_error_not_a_forgery(repo, tmp_path):
    """A shallow clone shows its edge commit without parents, so `git log` diffs it against
    nothing: its genuine stamp looked copied or forged (invalid-stamp, exit 1). The edge's
    change cannot be known; verify says to fetch the history (exit 2), and a range that stops
    before the edge is checked as usual."""
    for n in range(3):
        repo.write(f"f{n}.py", f"value_{n} = {n}\n")
        repo.git("add", "-A")
        repo.git("commit", "-qm", f"commit {n}")
    clone = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone)])
    done = run([sys.executable, "-m", "aiguard", "verify", "HEAD", "--format", "json"], cwd=clone, check=False)
    err = done.stderr.decode()
    assert done.returncode == 2 and "invalid-stamp" not in done.stdout.decode(), (done.stdout, err)
    assert len(err.splitlines()) == 1 and "shallow clone" in err and "--unshallow" in err, err
    inside = run([sys.executable, "-m", "aiguard", "verify", "HEAD~1..HEAD", "--format", "json"], cwd=clone,
                 check=False)
    assert inside.returncode == 0, (inside.stdout, inside.stderr)
    assert json.loads(inside.stdout)["checked"] == 1


def test_verify_in_a_bare_repository_reads_the_policy_head_has(repo, tmp_path):
    """A server's pre-receive hook runs in a bare repository: verify failed there with
    `git rev-parse failed: this operation must be run in a work tree` looking for the
    policy in the work tree; it reads the policy (and its files) as HEAD has them."""
    repo.write(".aiguard.toml", "max-ai-share = 0.5\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "policy")
    run([sys.executable, "-m", "aiguard", "record", "--tool", "claude-code", "--model", "m1"],
        input=SNIPPET.encode())
    repo.write("intervals.py", SNIPPET)
    repo.git("add", "-A")
    repo.git("commit", "-qm", "AI code")
    bare = tmp_path / "server.git"
    run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)])
    done = run([sys.executable, "-m", "aiguard", "verify", "HEAD", "--format", "json"], cwd=bare, check=False)
    assert done.returncode == 1, (done.stdout, done.stderr)
    report = json.loads(done.stdout)
    assert report["checked"] == 2
    assert {f["rule"] for f in report["findings"]} >= {"ai-share-exceeded"}, report
