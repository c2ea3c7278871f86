"""End to end: `aiguard daemon` watching a real X display while a fake browser copies,
then real commits stamped by the real hook. Nothing copied may land on disk in clear."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest

from clipboard_owner import (  # noqa: F401 (fixtures)
    chromium_offer, display, firefox_offer, owner, password_manager_offer, wait_for, xvfb,
)
from conftest import aiguard

# Invented code, each with a distinctive identifier to look for on disk afterwards.
FROM_CHATGPT = '''\
def chatgpt_rolling_checksum_7d41(data, window=16):
    """Adler-style rolling checksum over a sliding window of bytes."""
    low, high = 1, 0
    for index, byte in enumerate(data):
        low = (low + byte) % 65521
        high = (high + low) % 65521
        if index >= window:
            low = (low - data[index - window]) % 65521
    return (high << 16) | low
'''
FROM_CLAUDE = '''\
def claude_topological_order_3c92(graph):
    """Kahn's algorithm: nodes of a DAG so that every edge points forward."""
    indegree = {node: 0 for node in graph}
    for targets in graph.values():
        for target in targets:
            indegree[target] = indegree.get(target, 0) + 1
    ready = [node for node, count in indegree.items() if count == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for target in graph.get(node, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return order
'''
FROM_GITHUB = '''\
def github_levenshtein_distance_88af(left, right):
    """Edit distance between two strings with a single rolling row."""
    row = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        previous, row[0] = row[0], i
        for j, b in enumerate(right, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (a != b))
    return row[-1]
'''
SECRET = "Tr0ub4dor&3-password_marker_e5f6a7"
SENTINEL = '''\
def sentinel_after_the_others_0b1c(values):
    """Copied last: once it is recorded, the copies before it have been handled."""
    total = 0
    for value in values:
        total += value * value
    return total
'''
CHATGPT_URL = "https://chatgpt.com/c/6f1e2d3c-conversation-a1b2"
CLAUDE_URL = "https://claude.ai/chat/9d8c7b6a-conversation-c3d4"
NEVER_ON_DISK = ["chatgpt_rolling_checksum_7d41", "claude_topological_order_3c92", "github_levenshtein_distance_88af",
                 "password_marker_e5f6a7", "sentinel_after_the_others_0b1c", "6f1e2d3c-conversation-a1b2",
                 "9d8c7b6a-conversation-c3d4"]


def records(home: Path) -> list[tuple[str, str, str, str | None]]:
    db = home / "aiguard-state" / "ledger.sqlite3"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT tool, model, source, file FROM records ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []


def daemon_log(home: Path) -> str:
    path = home / "aiguard-state" / "daemon.log"
    return path.read_text() if path.exists() else ""


def assert_nowhere(folder: Path, needles: list[str], allowed_in_blobs: list[str] = ()) -> None:
    """No needle in any file under folder (as UTF-8 or UTF-16), git's compressed objects inflated;
    allowed_in_blobs may be in git blobs (the committed files themselves)."""
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        blob = False
        if "objects" in path.parts and len(path.parent.name) == 2:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                pass
            blob = data.startswith(b"blob ")
        for needle in needles:
            if blob and needle in allowed_in_blobs:
                continue
            for form in (needle.encode(), needle.encode("utf-16-le")):
                assert form not in data, f"{needle!r} found in {path}"


def wait_until_watching(home: Path, owner) -> None:
    """The daemon's clipboard thread is subscribed once it asks the owner for its types."""
    assert wait_for(lambda: "clipboard: watching with x11" in daemon_log(home)), daemon_log(home)
    for _ in range(100):
        owner.offer({"application/x-probe": b""})
        if wait_for(lambda: "TARGETS" in owner.requested, timeout=0.2):
            return
    raise AssertionError("the daemon never looked at the clipboard")


@pytest.fixture
def clipboard_daemon(isolated_user, display, owner):
    aiguard("daemon", "start")
    try:
        wait_until_watching(isolated_user, owner)
        yield isolated_user
    finally:
        aiguard("daemon", "stop")


def test_copies_from_ai_chats_stamp_commits_and_nothing_leaks(clipboard_daemon, owner, repo):
    home = clipboard_daemon
    owner.offer(chromium_offer(FROM_CHATGPT, CHATGPT_URL))
    assert wait_for(lambda: ("chatgpt", "unknown", "clipboard", None) in records(home)), daemon_log(home)
    owner.offer(firefox_offer(FROM_CLAUDE, CLAUDE_URL))
    assert wait_for(lambda: ("claude-ai", "unknown", "clipboard", None) in records(home)), daemon_log(home)

    owner.offer(chromium_offer(FROM_GITHUB, "https://github.com/someone/strings/blob/main/distance.py"))
    assert wait_for(lambda: "chromium/x-source-url" in owner.requested)
    github_requests = owner.requested
    # A password manager's copy, even with an AI page's URL on it: not even looked at.
    owner.offer({**password_manager_offer(SECRET), "chromium/x-source-url": CHATGPT_URL.encode()})
    assert wait_for(lambda: "TARGETS" in owner.requested)
    secret_requests = owner.requested
    owner.offer(chromium_offer(SENTINEL, CHATGPT_URL))
    assert wait_for(lambda: len(records(home)) == 3), (records(home), daemon_log(home))
    assert github_requests == ["TARGETS", "chromium/x-source-url"]
    assert secret_requests == ["TARGETS"]

    repo.write("checksum.py", FROM_CHATGPT)
    repo.git("add", "checksum.py")
    repo.git("commit", "-q", "-m", "Add a rolling checksum")
    assert ("Assisted-by", "chatgpt:unknown") in repo.trailers()

    repo.write("graph.py", FROM_CLAUDE)
    repo.git("add", "graph.py")
    repo.git("commit", "-q", "-m", "Add a topological sort")
    trailers = repo.trailers()
    assert ("Assisted-by", "claude-ai:unknown") in trailers
    assert not any(k == "Assisted-by" and v.startswith("chatgpt") for k, v in trailers)

    repo.write("distance.py", FROM_GITHUB)
    repo.git("add", "distance.py")
    repo.git("commit", "-q", "-m", "Add edit distance")
    trailers = repo.trailers()
    assert not any(k == "Assisted-by" for k, _ in trailers), trailers
    assert ("AI-Lines", f"0/{FROM_GITHUB.count(chr(10))}") in trailers

    aiguard("daemon", "stop")  # flush everything the daemon writes before looking
    assert_nowhere(home / "aiguard-state", NEVER_ON_DISK)
    committed = NEVER_ON_DISK[:3]
    assert_nowhere(repo.path / ".git", NEVER_ON_DISK, allowed_in_blobs=committed)
    log = daemon_log(home)
    assert "recorded a copy from chatgpt (by url)" in log and "recorded a copy from claude-ai (by url)" in log


def test_user_config_adds_and_ignores_services(isolated_user, display, owner):
    state = isolated_user / "aiguard-state"
    state.mkdir(mode=0o700)
    (state / "config.toml").write_text(
        '[clipboard]\nservices = { "chat.example.com" = "example-chat" }\nignore = ["claude.ai"]\n')
    aiguard("daemon", "start")
    try:
        wait_until_watching(isolated_user, owner)
        owner.offer(firefox_offer(FROM_CLAUDE, CLAUDE_URL))
        assert wait_for(lambda: "text/x-moz-url-priv" in owner.requested)
        owner.offer(chromium_offer(FROM_CHATGPT, "https://chat.example.com/t/42"))
        assert wait_for(lambda: records(isolated_user)), daemon_log(isolated_user)
        assert records(isolated_user) == [("example-chat", "unknown", "clipboard", None)]
    finally:
        aiguard("daemon", "stop")


def test_disabled_in_config(isolated_user, display):
    state = isolated_user / "aiguard-state"
    state.mkdir(mode=0o700)
    (state / "config.toml").write_text("[clipboard]\nenabled = false\n")
    aiguard("daemon", "start")
    try:
        assert wait_for(lambda: "clipboard: not watched" in daemon_log(isolated_user))
    finally:
        aiguard("daemon", "stop")
    assert "enabled = false" in daemon_log(isolated_user)
    assert "clipboard: not watched" in aiguard("doctor", cwd=isolated_user).stdout.decode()


def test_no_display_is_one_log_line_and_one_doctor_line(isolated_user, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    aiguard("daemon", "start")
    try:
        assert wait_for(lambda: "caught up:" in daemon_log(isolated_user))
    finally:
        aiguard("daemon", "stop")
    lines = [line for line in daemon_log(isolated_user).splitlines() if "clipboard" in line]
    assert len(lines) == 1 and "not watched" in lines[0] and "DISPLAY is not set" in lines[0], lines
    doctor = aiguard("doctor", cwd=isolated_user)
    clip = [line for line in doctor.stdout.decode().splitlines() if " clipboard:" in line]
    assert len(clip) == 1 and clip[0].startswith("ok") and "not watched" in clip[0], clip


def test_doctor_names_the_backend(isolated_user, display):
    clip = [line for line in aiguard("doctor", cwd=isolated_user).stdout.decode().splitlines() if " clipboard:" in line]
    assert clip == [f"ok   clipboard: x11 on {display} (XFixes selection events); watched while the daemon runs"]


# the [clipboard] table of config.toml ---------------------------------------------------

def write_config(home: Path, text: str) -> None:
    state = home / "aiguard-state"
    state.mkdir(mode=0o700, exist_ok=True)
    (state / "config.toml").write_text(text)


def test_config_clipboard_table(isolated_user):
    from aiguard.store import config

    assert config.load().clipboard == config.ClipboardConfig()
    write_config(isolated_user, '[clipboard]\nenabled = false\nwindow-titles = false\n'
                                'services = { "chat.example.com" = "example", "example.org/llm" = "in-house" }\n'
                                'ignore = ["github.com"]\n')
    assert config.load().clipboard == config.ClipboardConfig(
        enabled=False, services=(("chat.example.com", "example"), ("example.org/llm", "in-house")),
        ignore=("github.com",), window_titles=False)


@pytest.mark.parametrize("text,message", [
    ("[clipboard]\nenable = true\n", "unknown key clipboard.enable"),
    ("[clipboard]\nenabled = 1\n", "clipboard.enabled must be true or false"),
    ('[clipboard]\nservices = ["chatgpt.com"]\n', "clipboard.services must be a table"),
    ('[clipboard]\nservices = { "chat.example.com" = "Has Space" }\n', "is not a service name"),
    ('[clipboard]\nservices = { "not a host" = "x" }\n', "is not host[/path]"),
    ('[clipboard]\nignore = "github.com"\n', "clipboard.ignore must be a list"),
    ("clipboard = 1\n", "clipboard must be a table"),
])
def test_config_clipboard_errors(isolated_user, text, message):
    from aiguard.store import config

    write_config(isolated_user, text)
    with pytest.raises(config.ConfigError) as error:
        config.load()
    assert message in str(error.value) and "config.toml" in str(error.value)
