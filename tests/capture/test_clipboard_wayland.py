"""The Wayland clipboard backend against a real headless sway (wlr-data-control) and a
fake browser setting the selection through data-control."""

from __future__ import annotations

import time

import pytest

from aiguard.capture.clipboard import wayland
from clipboard_owner import Watching, chromium_offer, firefox_offer, password_manager_offer, wait_for
from wayland_source import sway, source, wayland_display  # noqa: F401 (fixtures)

CODE = "def perimeter(width, height):\n    return 2 * (width + height)\n"


@pytest.fixture
def watching(source):
    w = Watching(wayland.watch)
    while not w.decisions:  # ready once it has seen a copy
        source.offer({"application/x-probe": b""})
        if wait_for(lambda: w.decisions or w.errors, timeout=0.3):
            break
    assert not w.errors, w.errors
    # Probes still being handled would land in the test: offer a marker and wait for its
    # decision (offers are decided in order), then start afresh.
    marker = f"aiguard-ready-{time.monotonic_ns()}"
    source.offer(chromium_offer(marker, "https://chatgpt.com/c/ready"))
    assert wait_for(lambda: any(d.text == marker for d in w.decisions), timeout=10), "the marker was not decided"
    w.decisions.clear()
    yield w
    w.stop.set()
    w.thread.join(5)
    assert not w.thread.is_alive(), "the watcher did not stop"


def test_available_with_wlr_data_control(wayland_display, monkeypatch):
    assert wayland.unavailable() is None
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-does-not-exist")
    assert "cannot connect to the Wayland display" in wayland.unavailable()
    monkeypatch.delenv("WAYLAND_DISPLAY")
    assert wayland.unavailable() == "no Wayland session (WAYLAND_DISPLAY is not set)"


def test_chromium_copy_from_chatgpt(source, watching):
    source.offer(chromium_offer(CODE, "https://chatgpt.com/c/ab-12"))
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.text) == ("ai", "chatgpt", CODE)
    assert source.requested == ["chromium/x-source-url", "text/plain;charset=utf-8"]


def test_firefox_copy_from_claude(source, watching):
    source.offer(firefox_offer(CODE, "https://claude.ai/chat/cd-34"))
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.text) == ("ai", "claude-ai", CODE)


def test_password_manager_copy_is_not_read(source, watching):
    source.offer(password_manager_offer("correct horse battery staple"))
    assert watching.next(1).kind == "private"
    assert source.requested == []


def test_other_site_reads_no_text(source, watching):
    source.offer(chromium_offer(CODE, "https://github.com/o/r"))
    assert watching.next(1).kind == "not-ai"
    assert source.requested == ["chromium/x-source-url"]


def test_large_copy_through_the_pipe(source, watching):
    big = "".join(f"row_{n} = [{n}, {n * 2}, {n * 3}]\n" for n in range(20000))
    source.offer(chromium_offer(big, "https://chat.deepseek.com/a/chat/s/1"))
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.text) == ("ai", "deepseek", big)
    source.offer(chromium_offer("y = 2\n" * 200_000, "https://chat.deepseek.com/a/chat/s/1"))
    assert watching.next(2).kind == "too-large"


def test_daemon_records_a_copy_on_wayland(isolated_user, source):
    from conftest import aiguard
    from test_clipboard_daemon import daemon_log, records

    aiguard("daemon", "start")
    try:
        assert wait_for(lambda: "clipboard: watching with wayland" in daemon_log(isolated_user)), \
            daemon_log(isolated_user)
        for _ in range(100):  # subscribed once it asks the source for something
            source.offer(chromium_offer("probe", "https://example.com/"))
            if wait_for(lambda: source.requested, timeout=0.2):
                break
        source.offer(chromium_offer(CODE * 3, "https://chatgpt.com/c/wl-1"))
        assert wait_for(lambda: records(isolated_user) == [("chatgpt", "unknown", "clipboard", None)]), \
            daemon_log(isolated_user)
    finally:
        aiguard("daemon", "stop")
    assert "wl-1" not in daemon_log(isolated_user)
