"""Test helpers for Wayland: a real headless sway, and a fake browser that sets the selection.

sway runs with the headless wlroots backend. It refuses to run as root, so under root
(CI) the fixture runs it as the unprivileged `nobody` (setpriv) and the tests, as root,
connect to its socket. The fake browser is a data-control client (its own connection and serving
thread) offering several MIME types at once and writing each one asked for.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest


class WaylandSource:
    """Sets the clipboard selection on a Wayland display and serves its types.

    It runs in a subprocess (this file run as a script): pywayland associates objects
    the compositor creates with the first live connection of the process, so one
    process must not hold two (the watcher's and this one)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.requests: list[list[str]] = []
        self._set = threading.Semaphore(0)
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self._ready.wait(10), "the fake source did not connect"

    @property
    def requested(self) -> list[str]:
        return self.requests[-1] if self.requests else []

    def offer(self, targets: dict[str, bytes]) -> None:
        line = json.dumps({k: base64.b64encode(v).decode() for k, v in targets.items()})
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        assert self._set.acquire(timeout=10), "the fake source did not set the selection"

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _read(self) -> None:
        for raw in self.process.stdout:
            word, _, rest = raw.decode().rstrip("\n").partition(" ")
            if word == "ready":
                self._ready.set()
            elif word == "set":
                self._grow(int(rest))
                self._set.release()
            elif word == "asked":  # may come before "set": the watcher reads while the source is set
                number, _, mime = rest.partition(" ")
                self._grow(int(number))
                self.requests[int(number)].append(mime)

    def _grow(self, number: int) -> None:
        while len(self.requests) <= number:
            self.requests.append([])


def _serve() -> None:
    """The subprocess: one JSON line per offer on stdin ({mime: base64}); reports on stdout."""
    from aiguard.capture.clipboard import wayland

    display, registry, found = wayland._connect()
    seat, manager = wayland.bind_data_control(registry, found)
    device = manager.get_data_device(seat)
    display.roundtrip()
    lock = threading.Lock()
    sources = []

    def say(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def send(number: int, targets: dict[str, bytes], mime: str, fd: int) -> None:
        say(f"asked {number} {mime}")
        data = targets.get(mime, b"")

        def write() -> None:  # a thread: a large type must not block the event loop
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            except OSError:
                pass  # the reader stopped (too large)

        threading.Thread(target=write, daemon=True).start()

    say("ready")
    fd = display.get_fd()
    stdin = sys.stdin.buffer
    number = 0
    while True:
        display.dispatch(block=False)
        display.flush()
        readable, _, _ = select.select([fd, stdin], [], [], 1.0)
        if fd in readable:
            display.read()
        if stdin in readable:
            line = stdin.readline()
            if not line:
                break
            targets = {k: base64.b64decode(v) for k, v in json.loads(line).items()}
            source = manager.create_data_source()
            for mime in targets:
                source.offer(mime)
            source.dispatcher["send"] = lambda _s, mime, out, n=number, t=targets: send(n, t, mime, out)
            source.dispatcher["cancelled"] = lambda s: s.destroy()
            sources.append(source)
            device.set_selection(source)
            display.roundtrip()
            say(f"set {number}")
            number += 1
    display.flush()
    os._exit(0)  # pywayland proxies collected at interpreter exit can crash it


@pytest.fixture(scope="module")
def sway():
    """A headless sway (as `nobody`) and the (XDG_RUNTIME_DIR, WAYLAND_DISPLAY) to reach it."""
    if shutil.which("sway") is None or os.geteuid() == 0 and shutil.which("setpriv") is None:
        if os.environ.get("CI"):
            pytest.fail("sway is missing in CI: .ci/run must install it")
        pytest.skip("sway is not installed (apt-get install sway; .ci/run installs it)")
    try:
        import pywayland.client  # noqa: F401
    except (ImportError, OSError):
        if os.environ.get("CI"):
            pytest.fail("pywayland is missing in CI (the test extra installs it)")
        pytest.skip("pywayland is not installed")
    runtime = Path(tempfile.mkdtemp(prefix="aiguard-sway-"))
    as_root = os.geteuid() == 0
    if as_root:  # sway refuses to run as root: it runs as nobody, the tests reach its socket as root
        os.chown(runtime, 65534, 65534)
    os.chmod(runtime, 0o700)
    config = runtime.parent / f"{runtime.name}.conf"
    config.write_text("xwayland disable\n")
    config.chmod(0o644)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(runtime), "XDG_RUNTIME_DIR": str(runtime),
           "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman"}
    errors = tempfile.TemporaryFile()  # not a pipe: sway logs a lot, and a full pipe would stop it
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_root else []
    process = subprocess.Popen([*drop, "sway", "-c", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=errors)
    deadline = time.monotonic() + 20
    socket = None
    while socket is None and time.monotonic() < deadline and process.poll() is None:
        socket = next((p.name for p in runtime.glob("wayland-*") if not p.name.endswith(".lock")), None)
        time.sleep(0.05)
    if socket is None:
        process.kill()
        errors.seek(0)
        pytest.fail(f"sway did not start: {errors.read().decode(errors='replace')[-2000:]}")
    yield str(runtime), socket
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    errors.close()
    shutil.rmtree(runtime, ignore_errors=True)
    config.unlink(missing_ok=True)


@pytest.fixture
def wayland_display(sway, monkeypatch):
    runtime, socket = sway
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.setenv("WAYLAND_DISPLAY", socket)
    monkeypatch.delenv("DISPLAY", raising=False)
    return socket


@pytest.fixture
def source(wayland_display):
    s = WaylandSource()
    yield s
    s.close()


if __name__ == "__main__":
    _serve()
