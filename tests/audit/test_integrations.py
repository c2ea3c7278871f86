"""The CI integration files: the GitHub Action (action.yml), the GitLab CI template
(ci/gitlab-aiguard.yml) and the repository owners' guide (docs/repo-owners.md).

Besides checking their structure, the tests run the shell the action and the template
execute, in real git repositories, with a stand-in `aiguard` that records its arguments
(invented for the tests): what is under test here is how the range, the key and the
arguments reach `aiguard verify`, not verify itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from conftest import ROOT, run

ACTION = ROOT / "action.yml"
GITLAB = ROOT / "ci" / "gitlab-aiguard.yml"
DOCS = ROOT / "docs" / "repo-owners.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"

RULES = ["missing-stamp", "invalid-stamp", "forbidden-model", "forbidden-path", "ai-share-exceeded"]
POLICY_KEYS = ["require-stamp", "external-models", "internal-models", "forbid-paths", "max-ai-share",
               "exempt-authors", "exempt-merges", "exempt-before", "signatures", "stamp-signature",
               "allowed-signers", "revoked-signers", "exempt-signers"]

needs_shells = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("sh")), reason="needs bash and sh")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def action_steps() -> list[dict]:
    return load(ACTION)["runs"]["steps"]


def is_verify_step(step: dict) -> bool:
    return "aiguard verify" in step.get("run", "")


def verify_step() -> dict:
    [step] = [s for s in action_steps() if is_verify_step(s)]
    return step


def gitlab_job() -> dict:
    return load(GITLAB)["aiguard-verify"]


def gitlab_script() -> str:
    return "\n".join(gitlab_job()["script"])


# -- a stand-in aiguard and repositories ---------------------------------------------------

FAKE_AIGUARD = """\
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "key": os.environ.get("AIGUARD_KEY")}) + "\\n")
junit = "junit" in sys.argv
sys.exit(int(os.environ.get("FAKE_JUNIT_EXIT" if junit else "FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake_bin(tmp_path) -> Path:
    folder = tmp_path / "fakebin"
    folder.mkdir()
    script = folder / "aiguard"
    script.write_text(f"#!{sys.executable}\n" + FAKE_AIGUARD)
    script.chmod(0o755)
    return folder


def calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def commit(path: Path, name: str) -> str:
    (path / name).write_text(name + "\n")
    run(["git", "add", name], cwd=path)
    run(["git", "commit", "-q", "-m", f"Add {name}"], cwd=path)
    return run(["git", "rev-parse", "HEAD"], cwd=path).stdout.decode().strip()


@pytest.fixture
def upstream(tmp_path) -> Path:
    """A repository with two commits on main (the merge request's target)."""
    path = tmp_path / "upstream"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], cwd=path)
    commit(path, "a.txt")
    commit(path, "b.txt")
    return path


@pytest.fixture
def clone(tmp_path, upstream) -> Path:
    """A full clone of upstream with a feature branch of two commits."""
    path = tmp_path / "clone"
    run(["git", "clone", "-q", upstream.as_uri(), str(path)])
    run(["git", "checkout", "-q", "-b", "feature"], cwd=path)
    commit(path, "c.txt")
    commit(path, "d.txt")
    return path


@pytest.fixture
def shallow(tmp_path, upstream) -> Path:
    path = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "1", upstream.as_uri(), str(path)])
    return path


# -- action.yml --------------------------------------------------------------------------

def test_action_metadata_and_inputs():
    action = load(ACTION)
    assert action["name"] and action["description"]
    assert action["branding"]["icon"] and action["branding"]["color"]
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    for name in ("range", "key", "format", "python-version", "args", "junit-file"):
        assert name in inputs and inputs[name]["description"], name
        assert inputs[name].get("required", False) is False, name
    assert inputs["range"]["default"] == ""
    assert inputs["key"]["default"] == ""
    assert inputs["format"]["default"] == "github"
    assert inputs["python-version"]["default"] == "3.12"
    assert inputs["junit-file"]["default"] == ""


def test_action_sets_up_python_and_installs_from_its_own_checkout():
    steps = action_steps()
    [setup] = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    [install] = [s for s in steps if "pip install" in s.get("run", "")]
    assert "GITHUB_ACTION_PATH" in install["run"] or "github.action_path" in install["run"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash"


def test_action_passes_the_key_only_as_env_and_never_interpolates_inputs_into_scripts():
    step = verify_step()
    assert step["env"]["AIGUARD_KEY"] == "${{ inputs.key }}"
    for other in action_steps():
        if not is_verify_step(other):
            assert "inputs.key" not in json.dumps(other)
        # Inputs reach scripts through env only: no ${{ }} inside any run script.
        assert "${{" not in other.get("run", "")


def run_action(cwd: Path, fake_bin: Path, tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess:
    """Run the verify step's script as GitHub runs a bash step (bash -e -o pipefail)."""
    step = verify_step()
    script = tmp_path / "verify-step.sh"
    script.write_text(step["run"])
    env = dict(os.environ, FAKE_LOG=str(tmp_path / "calls.jsonl"), AIGUARD_BIN_DIR=str(fake_bin))
    defaults = {name: spec.get("default", "") for name, spec in load(ACTION)["inputs"].items()}
    if "key" not in inputs:  # the tests about ranges and formats run without a key
        defaults["require-key"] = "false"
    defaults.update(inputs)
    for name, value in step["env"].items():
        match = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value)
        if match:
            env[name] = defaults[match.group(1)]
    for name in ("FAKE_EXIT", "FAKE_JUNIT_EXIT"):
        if name in inputs:
            env[name] = inputs[name]
    return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script)],
                          cwd=cwd, env=env, capture_output=True, text=True)


@needs_shells
def test_action_default_run(clone, fake_bin, tmp_path):
    done = run_action(clone, fake_bin, tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == [{"argv": ["verify", "--format", "github"], "key": None}]


@needs_shells
def test_action_range_key_args_and_junit(clone, fake_bin, tmp_path):
    key = "aiguard-key-v1:" + "ab" * 32
    done = run_action(clone, fake_bin, tmp_path, range="origin/main..HEAD", key=key, format="text",
                      args="--base origin/main  --no-summary", **{"junit-file": "out/junit.xml"})
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout + done.stderr
    assert calls(tmp_path) == [
        {"argv": ["verify", "origin/main..HEAD", "--format", "text", "--base", "origin/main", "--no-summary"],
         "key": key},
        {"argv": ["verify", "origin/main..HEAD", "--base", "origin/main", "--no-summary",
                  "--format", "junit", "--output", "out/junit.xml"], "key": key},
    ]


@needs_shells
@pytest.mark.parametrize("main_exit, junit_exit, expected", [("1", "1", 1), ("0", "2", 2), ("1", "0", 1)])
def test_action_exit_status(clone, fake_bin, tmp_path, main_exit, junit_exit, expected):
    done = run_action(clone, fake_bin, tmp_path, FAKE_EXIT=main_exit, FAKE_JUNIT_EXIT=junit_exit,
                      **{"junit-file": "junit.xml"})
    assert done.returncode == expected
    assert len(calls(tmp_path)) == 2  # the JUnit report is written even when verify fails


@needs_shells
def test_action_refuses_a_shallow_clone(shallow, fake_bin, tmp_path):
    done = run_action(shallow, fake_bin, tmp_path)
    assert done.returncode == 2
    assert "::error" in done.stdout and "fetch-depth: 0" in done.stdout
    assert calls(tmp_path) == []


# -- ci/gitlab-aiguard.yml ----------------------------------------------------------------

def test_gitlab_template_essentials():
    job = gitlab_job()
    assert str(job["image"]).startswith("python:")
    assert str(job["variables"]["GIT_DEPTH"]) == "0"
    assert job["variables"]["AIGUARD_INSTALL"].startswith("git+")
    # The key comes from the project's masked variable: the template must not define it.
    assert "AIGUARD_KEY" not in job["variables"]
    assert "AIGUARD_KEY" in GITLAB.read_text()
    assert any("merge_request_event" in rule.get("if", "") for rule in job["rules"])
    assert any("pip install" in line and "$AIGUARD_INSTALL" in line for line in job["before_script"])
    script = gitlab_script()
    assert "CI_MERGE_REQUEST_DIFF_BASE_SHA" in script and "CI_COMMIT_SHA" in script
    assert "CI_MERGE_REQUEST_TARGET_BRANCH_NAME" in script
    # One run: with --output, verify writes the JUnit file and prints the text report.
    assert re.search(r'aiguard verify "\$RANGE" .*--format junit --output aiguard-junit\.xml', script)
    assert job["artifacts"]["reports"]["junit"] == "aiguard-junit.xml"
    assert job["artifacts"]["when"] == "always"


def run_gitlab(cwd: Path, fake_bin: Path, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    script = tmp_path / "gitlab-script.sh"
    script.write_text(gitlab_script())
    env = dict(os.environ, FAKE_LOG=str(tmp_path / "calls.jsonl"))
    env["PATH"] = str(fake_bin) + os.pathsep + env["PATH"]
    for name, value in gitlab_job()["variables"].items():
        env[name] = str(value)
    env.update(variables)
    return subprocess.run(["sh", "-e", str(script)], cwd=cwd, env=env, capture_output=True, text=True)


@needs_shells
def test_gitlab_range_against_the_target_branch(clone, fake_bin, tmp_path):
    head = run(["git", "rev-parse", "HEAD"], cwd=clone).stdout.decode().strip()
    key = "aiguard-key-v1:" + "cd" * 32
    done = run_gitlab(clone, fake_bin, tmp_path, CI_COMMIT_SHA=head, CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                      CI_MERGE_REQUEST_DIFF_BASE_SHA="0" * 40, AIGUARD_KEY=key)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == [
        {"argv": ["verify", f"origin/main..{head}", "--format", "junit", "--output", "aiguard-junit.xml"],
         "key": key},
    ]


@needs_shells
def test_gitlab_merged_results_and_diff_base_fallback(clone, fake_bin, tmp_path):
    base = run(["git", "rev-parse", "main"], cwd=clone).stdout.decode().strip()
    head = run(["git", "rev-parse", "HEAD"], cwd=clone).stdout.decode().strip()
    run(["git", "remote", "remove", "origin"], cwd=clone)  # the target cannot be fetched
    done = run_gitlab(clone, fake_bin, tmp_path, CI_COMMIT_SHA="f" * 40, CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=head,
                      CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", CI_MERGE_REQUEST_DIFF_BASE_SHA=base,
                      AIGUARD_KEY="", AIGUARD_REQUIRE_KEY="0", AIGUARD_ARGS="--base  main", FAKE_JUNIT_EXIT="1")
    assert done.returncode == 1
    assert calls(tmp_path) == [  # an empty variable is no key
        {"argv": ["verify", f"{base}..{head}", "--base", "main", "--format", "junit", "--output",
                  "aiguard-junit.xml"], "key": None},
    ]


@needs_shells
def test_gitlab_refuses_a_shallow_clone(shallow, fake_bin, tmp_path):
    done = run_gitlab(shallow, fake_bin, tmp_path, CI_COMMIT_SHA="HEAD", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                      AIGUARD_REQUIRE_KEY="0")
    assert done.returncode == 2
    assert "GIT_DEPTH" in done.stderr
    assert calls(tmp_path) == []


# -- docs/repo-owners.md -----------------------------------------------------------------

def test_docs_cover_rules_policy_keys_and_keys():
    text = DOCS.read_text(encoding="utf-8")
    for word in RULES + ["external-model"]:
        assert f"`{word}`" in text, word
    for word in POLICY_KEYS:
        assert f"\n{word} = " in text or f"\n# {word} = " in text, word
    assert "disclosure notice" in text.lower()
    assert "[tool.aiguard]" in text and ".aiguard.toml" in text
    for sub in ("init", "export", "import", "rotate"):
        assert f"aiguard key {sub}" in text, sub
    assert "AIGUARD_KEY" in text
    assert "--squash-trailers" in text and "exempt-before" in text
    assert "git rebase --exec 'git commit --amend --no-edit'" in text


def test_docs_snippets_need_full_history():
    text = DOCS.read_text(encoding="utf-8")
    assert "fetch-depth: 0" in text and 'GIT_DEPTH: "0"' in text
    assert "pull_request:" in text and "merge_group:" in text
    assert "secrets.AIGUARD_KEY" in text
    assert "ci/gitlab-aiguard.yml" in text
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        yaml.safe_load(block)  # every snippet can be pasted as is
    for block in re.findall(r"```toml\n(.*?)```", text, re.S):
        tomllib.loads(block)


def test_docs_hook_ids_exist_in_pre_commit_hooks():
    """aiguard-verify and aiguard-pre-push come with `aiguard verify`; until they are in
    .pre-commit-hooks.yaml this test fails on purpose."""
    text = DOCS.read_text(encoding="utf-8")
    mentioned = set(re.findall(r"^\s*- id: ([\w.-]+)", text, re.M))
    mentioned |= set(re.findall(r"--hook-stage manual ([\w.-]+)", text))
    assert {"aiguard", "aiguard-commit-msg", "aiguard-verify", "aiguard-pre-push"} <= mentioned
    hooks = {hook["id"]: hook for hook in load(HOOKS)}
    assert sorted(mentioned - hooks.keys()) == []
    # verify takes a RANGE, not file names: pre-commit must not pass any.
    verify = hooks["aiguard-verify"]
    assert verify["stages"] == ["manual"]
    assert verify["entry"].startswith("aiguard verify")
    assert verify.get("pass_filenames") is False and verify.get("always_run") is True
    push = hooks["aiguard-pre-push"]
    assert push["stages"] == ["pre-push"]
    assert push["entry"].startswith("aiguard verify")
    assert push.get("pass_filenames") is False and push.get("always_run") is True


def test_docs_policy_examples_are_valid():
    policy = pytest.importorskip("aiguard.audit.policy")
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    dedicated, pyproject = (tomllib.loads(block) for block in blocks)
    policy.parse(dedicated, ".aiguard.toml")
    policy.parse(pyproject["tool"]["aiguard"], "pyproject.toml [tool.aiguard]")


@needs_shells
def test_gitlab_fails_loudly_without_the_key(clone, fake_bin, tmp_path):
    done = run_gitlab(clone, fake_bin, tmp_path, CI_COMMIT_SHA="HEAD", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                      AIGUARD_KEY="")
    assert done.returncode == 2
    assert "AIGUARD_KEY is not set" in done.stderr and calls(tmp_path) == []


@needs_shells
def test_action_fails_loudly_without_the_key(clone, fake_bin, tmp_path):
    done = run_action(clone, fake_bin, tmp_path, key="")
    assert done.returncode == 2
    assert "::error title=aiguard::the key input is empty" in done.stdout and calls(tmp_path) == []


# -- the post-merge step (aiguard ci post-merge) ---------------------------------------------

@needs_shells
def test_action_post_merge_mode_passes_the_key_and_pushes_notes(clone, fake_bin, tmp_path):
    key = "aiguard-key-v1:" + "cd" * 32
    done = run_action(clone, fake_bin, tmp_path, mode="post-merge", key=key, range="ignored..HEAD")
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == [{"argv": ["ci", "post-merge", "--format", "github", "--push", "origin"], "key": key}]


@needs_shells
def test_action_post_merge_mode_args_no_push_and_exit_status(clone, fake_bin, tmp_path):
    done = run_action(clone, fake_bin, tmp_path, mode="post-merge", format="json", args="--base main --head feature",
                      FAKE_EXIT="1", **{"push-notes": "false"})
    assert done.returncode == 1
    assert calls(tmp_path) == [{"argv": ["ci", "post-merge", "--format", "json", "--base", "main", "--head", "feature"],
                                "key": None}]


@needs_shells
def test_action_post_merge_mode_keeps_require_key(clone, fake_bin, tmp_path):
    done = run_action(clone, fake_bin, tmp_path, mode="post-merge", key="")
    assert done.returncode == 2
    assert "::error title=aiguard::the key input is empty" in done.stdout and calls(tmp_path) == []


@needs_shells
def test_action_post_merge_fetches_a_gone_pull_request_head(clone, upstream, fake_bin, tmp_path, monkeypatch):
    run(["git", "checkout", "-q", "-b", "gone"], cwd=upstream)
    head = commit(upstream, "pr.txt")
    run(["git", "update-ref", "refs/pull/7/head", head], cwd=upstream)
    run(["git", "checkout", "-q", "main"], cwd=upstream)
    run(["git", "branch", "-q", "-D", "gone"], cwd=upstream)
    assert run(["git", "cat-file", "-e", f"{head}^{{commit}}"], cwd=clone, check=False).returncode != 0
    monkeypatch.setenv("AIGUARD_PR_NUMBER", "7")
    monkeypatch.setenv("AIGUARD_PR_HEAD", head)
    done = run_action(clone, fake_bin, tmp_path, mode="post-merge")
    assert done.returncode == 0, done.stderr
    assert run(["git", "rev-parse", "refs/remotes/origin/pull/7/head"], cwd=clone).stdout.decode().strip() == head


def gitlab_post_merge_script() -> str:
    return "\n".join(load(GITLAB)["aiguard-post-merge"]["script"])


def run_gitlab_post_merge(cwd: Path, fake_bin: Path, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    script = tmp_path / "gitlab-post-merge.sh"
    script.write_text(gitlab_post_merge_script())
    env = dict(os.environ, FAKE_LOG=str(tmp_path / "calls.jsonl"), AIGUARD_KEY="k")
    env["PATH"] = str(fake_bin) + os.pathsep + env["PATH"]
    for name, value in load(GITLAB)["aiguard-post-merge"]["variables"].items():
        env[name] = str(value)
    env.update(variables)
    return subprocess.run(["sh", "-e", str(script)], cwd=cwd, env=env, capture_output=True, text=True)


def test_gitlab_post_merge_job_shares_the_preflight():
    job = load(GITLAB)["aiguard-post-merge"]
    assert job["script"][0] == gitlab_job()["script"][0]  # the key and shallow-clone checks, one text
    assert "AIGUARD_KEY" not in job["variables"] and str(job["variables"]["GIT_DEPTH"]) == "0"
    assert any("$CI_DEFAULT_BRANCH" in rule.get("if", "") for rule in job["rules"])


@needs_shells
def test_gitlab_post_merge_finds_the_merge_request_from_the_message(clone, upstream, fake_bin, tmp_path):
    run(["git", "checkout", "-q", "-b", "mr"], cwd=upstream)
    head = commit(upstream, "mr.txt")
    run(["git", "update-ref", "refs/merge-requests/12/head", head], cwd=upstream)
    run(["git", "checkout", "-q", "main"], cwd=upstream)
    before = run(["git", "rev-parse", "HEAD~1"], cwd=clone).stdout.decode().strip()
    message = "Merge branch 'mr' into 'main'\n\nAdd mr\n\nSee merge request group/project!12"
    done = run_gitlab_post_merge(clone, fake_bin, tmp_path, CI_COMMIT_SHA="HEAD", CI_COMMIT_BEFORE_SHA=before,
                                 CI_COMMIT_MESSAGE=message)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == [{"argv": ["ci", "post-merge", "--base", before, "--head",
                                         "refs/remotes/origin/merge-requests/12", "--merged", "HEAD"], "key": "k"}]


@needs_shells
def test_gitlab_post_merge_without_a_merge_request_does_nothing(clone, fake_bin, tmp_path):
    done = run_gitlab_post_merge(clone, fake_bin, tmp_path, CI_COMMIT_SHA="HEAD", CI_COMMIT_BEFORE_SHA="HEAD~1",
                                 CI_COMMIT_MESSAGE="Direct push")
    assert done.returncode == 0 and "names no merge request" in done.stdout and calls(tmp_path) == []
