"""The X11 clipboard backend against a real Xvfb and a fake browser owning CLIPBOARD."""

from __future__ import annotations

import os
import threading
import time

import pytest

from aiguard.capture.clipboard import x11
from aiguard.capture.clipboard.backend import BackendError
from aiguard.core.provenance import ServiceTable
from clipboard_owner import (  # noqa: F401 (fixtures)
    ClipboardOwner, Watching, chromium_offer, display, firefox_offer, owner, password_manager_offer, set_active_window,
    wait_for, xvfb,
)

CODE = "def area(width, height):\n    return width * height\n"


@pytest.fixture
def watching(display, owner):
    w = Watching(x11.watch, ServiceTable.build())
    # Ready once it has seen a copy: offer a probe until one is decided on, then start afresh.
    deadline = time.monotonic() + 10
    while not w.decisions and time.monotonic() < deadline:
        owner.offer({"application/x-probe": b""})
        wait_for(lambda: w.decisions, timeout=0.2)
    assert w.decisions, "the watcher never saw a copy"
    # Probes still being handled would land in the test: offer a marker and wait for its
    # decision (offers are decided in order), then start afresh.
    marker = f"aiguard-ready-{time.monotonic_ns()}"
    owner.offer(chromium_offer(marker, "https://chatgpt.com/c/ready"))
    assert wait_for(lambda: any(d.text == marker for d in w.decisions), timeout=10), "the marker was not decided"
    w.decisions.clear()
    yield w
    w.stop.set()
    w.thread.join(5)
    assert not w.thread.is_alive(), "the watcher did not stop"


def test_unavailable_says_why(display, monkeypatch):
    assert x11.unavailable() is None
    assert "x11 on" in x11.describe()
    monkeypatch.setenv("DISPLAY", ":999")
    assert "cannot open the X display :999" in x11.unavailable()
    with pytest.raises(BackendError):
        x11.watch(threading.Event(), lambda s: None)
    monkeypatch.delenv("DISPLAY")
    assert x11.unavailable() == "no X display (DISPLAY is not set)"


def test_chromium_copy_from_chatgpt(owner, watching):
    owner.offer(chromium_offer(CODE, "https://chatgpt.com/c/0c1d-2e3f"))
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.via, decision.text) == ("ai", "chatgpt", "url", CODE)
    # Only what the decision needs was converted: the types, the URL, one text target.
    assert owner.requested == ["TARGETS", "chromium/x-source-url", "text/plain;charset=utf-8"]


def test_firefox_copy_from_claude(owner, watching):
    owner.offer(firefox_offer(CODE, "https://claude.ai/chat/5a6b"))
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.text) == ("ai", "claude-ai", CODE)
    assert owner.requested == ["TARGETS", "text/x-moz-url-priv", "text/plain;charset=utf-8"]


def test_password_manager_copy_is_not_read(owner, watching):
    owner.offer(password_manager_offer("correct horse battery staple"))
    assert watching.next(1).kind == "private"
    assert owner.requested == ["TARGETS"]


def test_copy_from_another_site_reads_no_text(owner, watching):
    owner.offer(chromium_offer(CODE, "https://github.com/owner/repo/blob/main/area.py"))
    assert watching.next(1).kind == "not-ai"
    assert owner.requested == ["TARGETS", "chromium/x-source-url"]


def test_large_copy_arrives_by_incr(owner, watching):
    big = "".join(f"value_{n} = compute({n}, factor={n % 7})\n" for n in range(20000))  # ~700 KB
    assert len(big) > owner.incr_threshold
    owner.offer(chromium_offer(big, "https://gemini.google.com/app/77"))
    decision = watching.next(1)
    assert (decision.kind, decision.service) == ("ai", "gemini")
    assert decision.text == big
    assert owner.incr_done == 1


def test_too_large_incr_is_refused_and_the_watcher_goes_on(owner, watching):
    huge = "x = 1\n" * 200_000  # 1.2 MB: above the 1 MiB limit, announced by the INCR size
    owner.offer(chromium_offer(huge, "https://chatgpt.com/c/1"))
    assert watching.next(1).kind == "too-large"
    assert owner.incr_done == 0
    owner.offer(chromium_offer(CODE, "https://chatgpt.com/c/2"))
    assert watching.next(2).text == CODE


def test_an_owner_that_never_answers_cannot_hang_the_watcher(owner, watching, monkeypatch):
    monkeypatch.setattr(x11, "READ_TIMEOUT", 0.3)
    owner.stall = True
    owner.offer(chromium_offer(CODE, "https://chatgpt.com/c/1"))
    assert wait_for(lambda: owner.requested == ["TARGETS"])
    owner.stall = False
    owner.offer(chromium_offer(CODE, "https://claude.ai/chat/2"))
    decision = watching.next(1)
    assert (decision.kind, decision.service) == ("ai", "claude-ai")


def test_window_title_when_no_url(display, owner, watching):
    set_active_window(display, "ChatGPT - Chromium")
    owner.offer({"UTF8_STRING": CODE.encode(), "text/plain": CODE.encode()})
    decision = watching.next(1)
    assert (decision.kind, decision.service, decision.via) == ("ai", "chatgpt", "title")
    set_active_window(display, "notes.txt - gedit", ("gedit", "Gedit"))
    owner.offer({"UTF8_STRING": CODE.encode()})
    assert watching.next(2).kind == "no-source"
    assert owner.requested == ["TARGETS"]


def test_an_offer_without_text_is_looked_at_again(owner, watching):
    owner.offer({"chromium/x-source-url": b"https://claude.ai/chat/3", "chromium/x-internal-source-rfh-token": b"t"})
    assert watching.next(1).kind == "no-text"
    assert watching.next(2).kind == "no-text"  # once more after a short delay, then left alone
    assert owner.requested.count("TARGETS") == 2
    assert not wait_for(lambda: len(watching.decisions) > 2, timeout=0.5)


def test_bursts_are_coalesced_to_the_newest_offer(owner, watching):
    for n in range(30):
        owner.offer(chromium_offer(f"value = {n}\n" * 5, "https://chatgpt.com/c/burst"))
    assert wait_for(lambda: watching.decisions and watching.decisions[-1].text == "value = 29\n" * 5)
    assert len(watching.decisions) <= 30


def test_stops_promptly(display):
    w = Watching(x11.watch, ServiceTable.build())
    started = time.monotonic()
    w.stop.set()
    w.thread.join(5)
    assert not w.thread.is_alive() and time.monotonic() - started < 2


def test_the_watcher_survives_the_display_going_away(monkeypatch, caplog):
    """watcher.start: the X server dies, the thread logs it once, waits, and watches again
    when a server is back on that display."""
    import logging
    import shutil
    import subprocess

    from aiguard.store import config
    from aiguard.capture.clipboard import watcher

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    number = 90 + (os.getpid() % 500)
    name = f":{number}"

    def xvfb():
        process = subprocess.Popen(["Xvfb", name, "-screen", "0", "320x240x24", "-nolisten", "tcp", "-noreset"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{number}") and x11.unavailable() is None,
                        timeout=20), "Xvfb did not start"
        return process

    monkeypatch.setenv("DISPLAY", name)
    monkeypatch.setattr(watcher, "RETRY_SECONDS", 0.2)
    caplog.set_level(logging.INFO, logger="aiguard")
    server = xvfb()
    recorded: list = []
    stop = threading.Event()
    thread = watcher.start(stop, recorded.extend, config.ClipboardConfig())
    try:
        assert thread is not None and "clipboard: watching with x11 on" in caplog.text
        probe = ClipboardOwner(name)
        deadline = time.monotonic() + 10
        while "TARGETS" not in probe.requested and time.monotonic() < deadline:  # subscribed
            probe.offer({"application/x-probe": b""})
            wait_for(lambda: "TARGETS" in probe.requested, timeout=0.2)
        probe.close()
        server.terminate()
        server.wait(10)
        assert wait_for(lambda: "clipboard: lost the X display" in caplog.text), caplog.text
        server = xvfb()
        assert wait_for(lambda: "clipboard: the x11 backend is back" in caplog.text), caplog.text
        owner = ClipboardOwner(name)
        try:
            deadline = time.monotonic() + 10
            while not recorded and time.monotonic() < deadline:
                owner.offer(chromium_offer(CODE, "https://chatgpt.com/c/again"))
                wait_for(lambda: recorded, timeout=0.3)
            assert [o.tool for o in recorded][:1] == ["chatgpt"]
        finally:
            owner.close()
        assert caplog.text.count("clipboard: lost the X display") == 1
    finally:
        stop.set()
        thread.join(5)
        server.terminate()
        server.wait(10)
    assert not thread.is_alive()
