"""Wayland clipboard backend: a data-control client through pywayland (the `wayland` extra).

A background program sees the Wayland clipboard only through a data-control protocol:
``ext_data_control_manager_v1`` (standard; KDE Plasma 6, Hyprland, wlroots >= 0.19)
or ``zwlr_data_control_manager_v1`` (wlroots: sway, Hyprland, KWin). The compositor
sends each new selection as an offer whose MIME types arrive first, so the types are
known atomically; each type is then read on demand through a pipe, with a deadline.
GNOME (Mutter) offers neither: there the X11 backend watches through XWayland.

Wayland has no standard way to learn the focused window, so only source-URL types
(Chromium's ``chromium/x-source-url``, Firefox's ``text/x-moz-url-priv``) count here.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from typing import Any, Callable

from aiguard.capture.clipboard.backend import BackendError, Snapshot
from aiguard.core.provenance import Decision

NAME = "wayland"
READ_TIMEOUT = 2.0  # seconds a source gets to write one type
EXT, WLR = "ext_data_control_manager_v1", "zwlr_data_control_manager_v1"

log = logging.getLogger("aiguard.capture.clipboard")


def unavailable() -> str | None:
    if sys.platform in ("win32", "darwin"):
        return "not a Wayland platform"
    name = os.environ.get("WAYLAND_DISPLAY")
    if not name:
        return "no Wayland session (WAYLAND_DISPLAY is not set)"
    try:
        import pywayland.client  # noqa: F401 (loads libwayland-client)
    except (ImportError, OSError):
        return "pywayland or libwayland-client is not installed (pip install 'aiguard[wayland]')"
    try:
        display, _, found = _connect()
    except BackendError as exc:
        return str(exc)
    display.disconnect()
    if EXT not in found and WLR not in found:
        return (f"the compositor of {name} offers no data-control protocol"
                " (GNOME: the X11 backend watches through XWayland)")
    if "wl_seat" not in found:
        return f"the compositor of {name} has no seat"
    return None


def describe() -> str:
    return f"wayland on {os.environ.get('WAYLAND_DISPLAY')} (data-control selection events)"


def _connect() -> tuple[Any, Any, dict[str, tuple[int, int]]]:
    """(display, registry, {interface: (global name, version)})."""
    import gc

    from pywayland.client import Display

    # pywayland gives objects the compositor creates to the first registry it still knows
    # of: collect connections closed earlier (a probe, a lost display) before a new one.
    gc.collect()
    display = Display()
    try:
        display.connect()
    except Exception as exc:  # pywayland raises ValueError/RuntimeError by version
        raise BackendError(f"cannot connect to the Wayland display {os.environ.get('WAYLAND_DISPLAY')}: {exc}") \
            from None
    registry = display.get_registry()
    found: dict[str, tuple[int, int]] = {}

    def on_global(_registry, name, interface, version):
        found.setdefault(interface, (name, version))

    registry.dispatcher["global"] = on_global
    display.roundtrip()
    return display, registry, found


def bind_data_control(registry: Any, found: dict[str, tuple[int, int]]) -> tuple[Any, Any]:
    """(seat, data-control manager) proxies, the standard protocol preferred."""
    from pywayland.protocol.wayland import WlSeat

    if EXT in found:
        from pywayland.protocol.ext_data_control_v1 import ExtDataControlManagerV1 as Manager
    elif WLR in found:
        # the older protocol's bindings, of the same shape
        from aiguard.capture.clipboard.wlr_data_control import ZwlrDataControlManagerV1 as Manager  # type: ignore[assignment]
    else:
        raise BackendError("the compositor offers no data-control protocol")
    if "wl_seat" not in found:
        raise BackendError("the compositor has no seat")
    seat = registry.bind(found["wl_seat"][0], WlSeat, 1)
    name, version = found[Manager.name]
    return seat, registry.bind(name, Manager, min(version, Manager.version))


def watch(stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:
    display, registry, found = _connect()
    try:
        _Session(display, registry, found).run(stop, handle)
    except RuntimeError as exc:  # pywayland: the connection failed
        raise BackendError(f"lost the Wayland display {os.environ.get('WAYLAND_DISPLAY')}: {exc}") from None
    finally:
        try:
            display.disconnect()
        except Exception:
            pass


class _Session:
    def __init__(self, display: Any, registry: Any, found: dict[str, tuple[int, int]]):
        self.display = display
        self.registry = registry  # kept referenced: pywayland needs it alive for new objects
        self.seat, self.manager = bind_data_control(registry, found)
        self.device = self.manager.get_data_device(self.seat)
        self.types: dict[Any, list[str]] = {}  # offer -> its MIME types, as announced
        self.pending: list[Any] = []  # selections not yet looked at (only the newest matters)
        self.finished = False
        self.device.dispatcher["data_offer"] = self._on_data_offer
        self.device.dispatcher["selection"] = self._on_selection
        self.device.dispatcher["primary_selection"] = self._on_primary
        self.device.dispatcher["finished"] = self._on_finished

    def _on_data_offer(self, _device, offer) -> None:
        self.types[offer] = []
        offer.dispatcher["offer"] = lambda o, mime: self.types.get(o, []).append(mime)

    def _on_selection(self, _device, offer) -> None:
        self.pending.append(offer)

    def _on_primary(self, _device, offer) -> None:
        if offer is not None:  # the primary selection (middle-click paste) is not watched
            self._drop(offer)

    def _on_finished(self, _device) -> None:
        self.finished = True

    def _drop(self, offer) -> None:
        self.types.pop(offer, None)
        offer.destroy()

    def run(self, stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:
        self.display.roundtrip()  # the current selection arrives at once: it predates watching
        for offer in self.pending:
            if offer is not None:
                self._drop(offer)
        self.pending.clear()
        fd = self.display.get_fd()
        while not stop.is_set():
            self.display.dispatch(block=False)
            self.display.flush()
            if self.finished:
                raise BackendError("the compositor ended the data-control device")
            if self.pending:
                *older, newest = self.pending
                self.pending.clear()
                for offer in older:
                    if offer is not None:
                        self._drop(offer)
                if newest is not None:
                    self._offer(newest, handle)
                continue
            readable, _, _ = select.select([fd], [], [], 0.5)
            if readable:
                self.display.read()

    def _offer(self, offer, handle: Callable[[Snapshot], Decision]) -> None:
        try:
            types = tuple(self.types.get(offer, ()))
            handle(Snapshot(types, lambda mime, limit: self._read(offer, mime, limit), None, time.time()))
        finally:
            self._drop(offer)
            self.display.flush()

    def _read(self, offer, mime: str, limit: int) -> bytes | None:
        read_end, write_end = os.pipe()
        try:
            offer.receive(mime, write_end)
            self.display.flush()
        finally:
            os.close(write_end)  # the compositor passed on its own copy
        data = bytearray()
        deadline = time.monotonic() + READ_TIMEOUT
        try:
            while len(data) <= limit:
                remaining = deadline - time.monotonic()
                readable, _, _ = select.select([read_end], [], [], max(0.0, remaining))
                if not readable:
                    log.info("clipboard: the source did not hand over %s within %g s; skipped", mime, READ_TIMEOUT)
                    return None
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(read_end)
        return bytes(data[:limit + 1])
