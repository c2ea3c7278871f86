"""Test helpers for the X11 clipboard: a real Xvfb, and a fake browser that owns CLIPBOARD.

The fake owner is a separate X client (its own connection and serving thread) that
offers several types at once, as Chromium and Firefox do, answers each conversion
(TARGETS, TIMESTAMP, any offered type), and sends large data as an INCR transfer.
It notes every target requested, so a test can tell which types the watcher read.
The offers below are modelled on what the research notes (shared/research/clipboard.md
§1.1) record of Chromium and Firefox; the texts and URLs are invented.
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import subprocess
import threading
import time

import pytest

INCR_CHUNK = 64 * 1024


def chromium_offer(text: str, url: str, html: bool = True) -> dict[str, bytes]:
    """A Chromium page copy: text under several names, HTML, the page's URL."""
    offer = {
        "text/plain": text.encode(),
        "text/plain;charset=utf-8": text.encode(),
        "UTF8_STRING": text.encode(),
        "TEXT": text.encode(),
        "STRING": text.encode("latin-1", "replace"),
        "chromium/x-internal-source-rfh-token": b"\x08\x00\x00\x00token",
        "chromium/x-source-url": url.encode(),
    }
    if html:
        offer["text/html"] = f"<meta charset='utf-8'><pre>{text}</pre>".encode()
    return offer


def firefox_offer(text: str, url: str) -> dict[str, bytes]:
    """A Firefox page copy: GTK's text names, HTML context, and the URL in UTF-16LE."""
    return {
        "text/html": f"<pre>{text}</pre>".encode(),
        "text/_moz_htmlcontext": b"<html><body></body></html>",
        "text/_moz_htmlinfo": b"0,0",
        "UTF8_STRING": text.encode(),
        "COMPOUND_TEXT": text.encode(),
        "TEXT": text.encode(),
        "STRING": text.encode("latin-1", "replace"),
        "text/plain;charset=utf-8": text.encode(),
        "text/plain": text.encode(),
        "text/x-moz-url-priv": url.encode("utf-16-le"),
    }


def password_manager_offer(text: str) -> dict[str, bytes]:
    """KeePassXC-style: the text plus x-kde-passwordManagerHint = secret."""
    return {"UTF8_STRING": text.encode(), "text/plain;charset=utf-8": text.encode(),
            "x-kde-passwordManagerHint": b"secret"}


class ClipboardOwner:
    """Owns CLIPBOARD on a display and serves whatever it was last told to offer."""

    def __init__(self, display_name: str, incr_threshold: int = 256 * 1024):
        from Xlib import X, display

        self.d = display.Display(display_name)
        self.incr_threshold = incr_threshold
        root = self.d.screen().root
        self.window = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
        self.window.set_wm_class("fakebrowser", "FakeBrowser")
        self.window.change_property(self.d.intern_atom("_NET_WM_NAME"), self.d.intern_atom("UTF8_STRING"), 8,
                                    b"Fake Browser")
        self.CLIPBOARD = self.d.intern_atom("CLIPBOARD")
        self.TARGETS = self.d.intern_atom("TARGETS")
        self.TIMESTAMP = self.d.intern_atom("TIMESTAMP")
        self.INCR = self.d.intern_atom("INCR")
        self.ATOM = self.d.intern_atom("ATOM")
        self.INTEGER = self.d.intern_atom("INTEGER")
        self.offer_data: dict[int, tuple[str, bytes]] = {}
        self.requests: list[list[str]] = []  # per offer, the names of the targets asked for, in order
        self.incr_done = 0  # INCR transfers that completed
        self.stall = False  # when set, never answer (a misbehaving owner)
        self._commands: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._transfers: dict[tuple[int, int], list] = {}  # (window, property) -> [data, offset, type]
        self.d.flush()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # the test's side ---------------------------------------------------------------
    def offer(self, targets: dict[str, bytes]) -> None:
        """Take ownership of CLIPBOARD offering these targets (and wait until it is done)."""
        done = threading.Event()
        self._commands.put((targets, done))
        os.write(self._wake_w, b"x")
        assert done.wait(5), "the fake owner did not take the selection"

    @property
    def requested(self) -> list[str]:
        """The targets asked for since the last offer."""
        return self.requests[-1] if self.requests else []

    def close(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        self.d.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # the serving thread ------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            while self.d.pending_events():
                self._event(self.d.next_event())
            readable, _, _ = select.select([self.d.fileno(), self._wake_r], [], [], 1.0)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
                while not self._commands.empty():
                    targets, done = self._commands.get()
                    self.offer_data = {self.d.intern_atom(name): (name, data) for name, data in targets.items()}
                    self.requests.append([])
                    self.window.set_selection_owner(self.CLIPBOARD, 0)  # CurrentTime
                    self.d.flush()
                    done.set()

    def _event(self, event) -> None:
        from Xlib import X

        if event.type == X.SelectionRequest:
            self._request(event)
        elif event.type == X.PropertyNotify and event.state == X.PropertyDelete:
            self._incr_next(event.window, event.atom)

    def _request(self, req) -> None:
        from Xlib import X
        from Xlib.protocol import event as xevent

        name = self.d.get_atom_name(req.target)
        if self.requests:
            self.requests[-1].append(name)
        if self.stall:
            return
        prop = req.property or req.target
        requestor = req.requestor
        if req.target == self.TARGETS:
            atoms = [self.TARGETS, self.TIMESTAMP, *self.offer_data]
            requestor.change_property(prop, self.ATOM, 32, atoms)
        elif req.target == self.TIMESTAMP:
            requestor.change_property(prop, self.INTEGER, 32, [0])
        elif req.target in self.offer_data:
            data = self.offer_data[req.target][1]
            if len(data) > self.incr_threshold:
                requestor.change_attributes(event_mask=X.PropertyChangeMask)
                self._transfers[(requestor.id, prop)] = [data, 0, req.target, requestor]
                requestor.change_property(prop, self.INCR, 32, [len(data)])
            else:
                requestor.change_property(prop, req.target, 8, data)
        else:
            prop = X.NONE
        notify = xevent.SelectionNotify(time=req.time, requestor=requestor, selection=req.selection,
                                        target=req.target, property=prop)
        requestor.send_event(notify)
        self.d.flush()

    def _incr_next(self, window, atom) -> None:
        transfer = self._transfers.get((window.id, atom))
        if transfer is None:
            return
        data, offset, target, requestor = transfer
        chunk = data[offset:offset + INCR_CHUNK]
        requestor.change_property(atom, target, 8, chunk)
        if not chunk:
            del self._transfers[(window.id, atom)]
            self.incr_done += 1
        else:
            transfer[1] = offset + len(chunk)
        self.d.flush()


def set_active_window(display_name: str, title: str, wm_class: tuple[str, str] = ("", "")) -> None:
    """Pretend a window with this title has the focus (Xvfb has no window manager)."""
    from Xlib import X, display

    d = display.Display(display_name)
    root = d.screen().root
    window = root.create_window(0, 0, 10, 10, 0, X.CopyFromParent)
    window.change_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"), 8, title.encode())
    if any(wm_class):
        window.set_wm_class(*wm_class)
    root.change_property(d.intern_atom("_NET_ACTIVE_WINDOW"), d.intern_atom("WINDOW"), 32, [window.id])
    d.sync()
    # The window must outlive this connection: keep the client's resources after close.
    d.set_close_down_mode(X.RetainPermanent)
    d.close()


@pytest.fixture(scope="module")
def xvfb():
    """A real Xvfb on a free display (it picks the number itself: -displayfd); its name, e.g. ':5'."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing in CI: .ci/run must install it")
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24",
                                "-nolisten", "tcp", "-noreset"],
                               pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], 1.0)
        if ready:
            chunk = os.read(read_end, 64)
            if not chunk:
                break
            number += chunk
    os.close(read_end)
    if not number.strip():
        process.kill()
        raise AssertionError("Xvfb did not report its display number")
    name = f":{number.decode().strip()}"
    yield name
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def display(xvfb, monkeypatch):
    """DISPLAY set to the test's Xvfb (for the code under test and its subprocesses)."""
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


@pytest.fixture
def owner(display):
    o = ClipboardOwner(display)
    yield o
    o.close()


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05):
    """Poll a real outcome until it holds (bounded), instead of sleeping a guessed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Watching:
    """A backend's watch() in a thread, collecting the provenance core's decisions."""

    def __init__(self, watch, table=None):
        from aiguard.core.provenance import ServiceTable, decide

        table = table or ServiceTable.build()
        self.decisions: list = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

        def handle(snapshot):
            decision = decide(snapshot.types, snapshot.read, table, snapshot.window)
            self.decisions.append(decision)
            return decision

        def run():
            try:
                watch(self.stop, handle)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def next(self, count: int, timeout: float = 10.0):
        assert wait_for(lambda: len(self.decisions) >= count or self.errors, timeout), "no decision in time"
        assert not self.errors, self.errors
        return self.decisions[count - 1]
