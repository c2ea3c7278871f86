"""X11 clipboard backend (also GNOME's Wayland session, through XWayland): python-xlib.

* change detection by XFixes SetSelectionOwnerNotify events on CLIPBOARD (no polling);
  a burst of changes is coalesced to the newest owner, whose offer is the one readable;
* the offer's types from a TARGETS conversion, each target read on demand with the
  event's selection timestamp (so a newer owner cannot answer for an older change);
* INCR transfers for large selections, bounded by the caller's size limit;
* every conversion has a deadline, so an owner that never answers cannot hang the daemon;
* the focused window (``_NET_ACTIVE_WINDOW``: class and title) only when asked for.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from typing import Any, Callable

from aiguard.capture.clipboard.backend import BackendError, Snapshot
from aiguard.core.provenance import Decision, TooLarge, Window

NAME = "x11"
READ_TIMEOUT = 2.0  # seconds an owner gets to answer one conversion (or one INCR chunk)
INCR_TIMEOUT = 10.0  # seconds for a whole INCR transfer
RETRY_DELAY = 0.15  # browsers may announce an offer before its text: look once more after this
_ATOM_CACHE_MAX = 4096

log = logging.getLogger("aiguard.capture.clipboard")


def unavailable() -> str | None:
    if sys.platform in ("win32", "darwin"):
        return "not an X11 platform"
    name = os.environ.get("DISPLAY")
    if not name:
        return "no X display (DISPLAY is not set)"
    try:
        import Xlib  # noqa: F401
    except ImportError:
        return "python-xlib is not installed (pip install python-xlib)"
    try:
        display = _open()
    except BackendError as exc:
        return str(exc)
    try:
        if not display.has_extension("XFIXES"):
            return f"the X display {name} has no XFIXES extension"
    finally:
        display.close()
    return None


def describe() -> str:
    return f"x11 on {os.environ.get('DISPLAY')} (XFixes selection events)"


def _open():
    from Xlib import display, error

    name = os.environ.get("DISPLAY")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # python-xlib prints xauth warnings
            return display.Display(name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        raise BackendError(f"cannot open the X display {name}: {exc}") from None


def watch(stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:
    from Xlib import error

    display = _open()
    try:
        _Session(display).run(stop, handle)
    except (error.ConnectionClosedError, OSError) as exc:
        raise BackendError(f"lost the X display {os.environ.get('DISPLAY')}: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            display.close()


class _Session:
    def __init__(self, display):
        from Xlib import X

        self.d = display
        self.d.set_error_handler(lambda err, request: log.debug("clipboard: X error %s", type(err).__name__))
        self.root = display.screen().root
        self.window = self.root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
        self.atoms: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.queue: deque = deque()  # events read while waiting for something else
        self.CLIPBOARD = self.atom("CLIPBOARD")
        self.TARGETS = self.atom("TARGETS")
        self.INCR = self.atom("INCR")
        self.PROPERTY = self.atom("AIGUARD_SELECTION")
        self.owner_change = tuple(display.extension_event.SetSelectionOwnerNotify)

    # atoms ---------------------------------------------------------------------------
    def atom(self, name: str) -> int:
        if name not in self.atoms:
            self.atoms[name] = self.d.intern_atom(name)
        return self.atoms[name]

    def name(self, atom: int) -> str:
        if atom not in self.names:
            if len(self.names) > _ATOM_CACHE_MAX:
                self.names.clear()
            self.names[atom] = self.d.get_atom_name(atom)
        return self.names[atom]

    # events --------------------------------------------------------------------------
    def _next(self, timeout: float):
        """The next event, from what was set aside first; None after timeout."""
        if self.queue:
            return self.queue.popleft()
        if not self.d.pending_events():
            readable, _, _ = select.select([self.d.fileno()], [], [], max(0.0, timeout))
            if not readable or not self.d.pending_events():
                return None
        return self.d.next_event()

    def _wait_for(self, match: Callable[[Any], bool], deadline: float):
        """The first display event that matches, setting others aside; None at the deadline."""
        while True:
            while self.d.pending_events():
                event = self.d.next_event()
                if match(event):
                    return event
                self.queue.append(event)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            select.select([self.d.fileno()], [], [], remaining)

    def _is_owner_change(self, event) -> bool:
        # python-xlib clones extension event classes per display: compare codes, not classes
        return ((event.type, getattr(event, "sub_code", None)) == self.owner_change
                and event.selection == self.CLIPBOARD)

    def _newer_owner_pending(self) -> bool:
        self.d.pending_events()  # pulls what has arrived into python-xlib's queue
        while self.d.pending_events():
            self.queue.append(self.d.next_event())
        return any(self._is_owner_change(e) for e in self.queue)

    def run(self, stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:
        from Xlib.ext import xfixes

        self.d.xfixes_query_version()
        mask = (xfixes.XFixesSetSelectionOwnerNotifyMask | xfixes.XFixesSelectionWindowDestroyNotifyMask
                | xfixes.XFixesSelectionClientCloseNotifyMask)
        self.d.xfixes_select_selection_input(self.root, self.CLIPBOARD, mask)
        self.d.flush()
        while not stop.is_set():
            event = self._next(0.5)
            if event is None or not self._is_owner_change(event):
                continue
            owner = _xid(event.owner)
            if not owner or owner == self.window.id or self._newer_owner_pending():
                continue  # cleared, our own, or already replaced: only the newest offer is readable
            self._offer(event, handle, stop)

    # one offer -----------------------------------------------------------------------
    def _offer(self, event, handle: Callable[[Snapshot], Decision], stop: threading.Event) -> None:
        from Xlib import error

        when = time.time()
        for attempt in (1, 2):
            try:
                targets = self._targets(event.selection_timestamp)
                if targets is None:
                    log.info("clipboard: the owner did not list its types in time; skipped")
                    return
                snapshot = Snapshot(tuple(targets), self._reader(targets, event.selection_timestamp),
                                    self._active_window, when)
                decision = handle(snapshot)
            except error.XError as exc:
                log.info("clipboard: X error while reading an offer (%s); skipped", type(exc).__name__)
                return
            if decision.kind != "no-text" or attempt == 2:
                return
            if stop.wait(RETRY_DELAY) or self._newer_owner_pending():
                return

    def _targets(self, timestamp: int) -> dict[str, int] | None:
        try:
            reply = self._convert(self.TARGETS, timestamp, 64 * 1024)
        except TooLarge:
            return None  # thousands of types: not a browser's copy
        if reply is None:
            return None
        prop_type, fmt, value = reply
        if fmt != 32:
            return {}
        atoms = list(value)[:512]
        return {self.name(a): a for a in atoms if a}

    def _reader(self, targets: dict[str, int], timestamp: int):
        def read(name: str, limit: int) -> bytes | None:
            atom = targets.get(name)
            if atom is None:
                return None
            reply = self._convert(atom, timestamp, limit)
            if reply is None:
                return None
            return _as_bytes(*reply[1:])
        return read

    def _convert(self, target: int, timestamp: int, limit: int):
        """(type, format, value) of one target, INCR included; None if refused or too slow."""
        from Xlib import X

        self.window.convert_selection(self.CLIPBOARD, target, self.PROPERTY, timestamp)
        self.d.flush()
        deadline = time.monotonic() + READ_TIMEOUT
        wid = self.window.id
        notify = self._wait_for(lambda e: e.type == X.SelectionNotify and _xid(e.requestor) == wid, deadline)
        if notify is None:
            log.info("clipboard: the owner did not answer within %g s; skipped", READ_TIMEOUT)
            return None
        if notify.property == X.NONE:
            return None
        words = limit // 4 + 1
        prop = self.window.get_property(self.PROPERTY, X.AnyPropertyType, 0, words)
        if prop is None:
            return None
        if prop.property_type == self.INCR:
            size = prop.value[0] if len(prop.value) else 0
            if size > limit:
                raise TooLarge(size)  # not started: the owner gives up on its own
            self.window.delete_property(self.PROPERTY)  # starts the transfer
            return self._incr(limit)
        self.window.delete_property(self.PROPERTY)
        self.d.flush()
        if prop.bytes_after:
            raise TooLarge(len(prop.value) + prop.bytes_after)
        return prop.property_type, prop.format, prop.value

    def _incr(self, limit: int):
        from Xlib import X

        deadline = time.monotonic() + INCR_TIMEOUT
        chunks: list[bytes] = []
        total = 0
        prop_type, fmt = 0, 8
        wid, atom = self.window.id, self.PROPERTY
        while True:
            self.d.flush()
            event = self._wait_for(lambda e: e.type == X.PropertyNotify and _xid(e.window) == wid and e.atom == atom
                                   and e.state == X.PropertyNewValue,
                                   min(deadline, time.monotonic() + READ_TIMEOUT))
            if event is None:
                log.info("clipboard: an INCR transfer stalled; skipped")
                return None
            prop = self.window.get_property(atom, X.AnyPropertyType, 0, limit // 4 + 1)
            if prop is None:
                continue
            data = _as_bytes(prop.format, prop.value)
            total += len(data) + prop.bytes_after
            if total > limit:
                raise TooLarge(total)  # the property is left alone: the owner stops sending
            self.window.delete_property(atom)  # asks for the next chunk
            if not data:
                self.d.flush()
                return prop_type, fmt, b"".join(chunks)
            prop_type, fmt = prop.property_type, prop.format
            chunks.append(data)

    def _active_window(self) -> Window | None:
        from Xlib import X, Xatom, error

        try:
            active = self.root.get_full_property(self.atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
            if not active or not len(active.value) or not active.value[0]:
                return None
            window = self.d.create_resource_object("window", active.value[0])
            title = window.get_full_property(self.atom("_NET_WM_NAME"), self.atom("UTF8_STRING"))
            if title is not None:
                text = bytes(title.value).decode("utf-8", "replace")
            else:
                legacy = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
                text = bytes(legacy.value).decode("latin-1") if legacy is not None and legacy.format == 8 else ""
            wm_class = window.get_wm_class()
            return Window(app=wm_class[1] if wm_class else "", title=text)
        except (error.XError, UnicodeError, TypeError):
            return None


def _as_bytes(fmt: int, value) -> bytes:
    """A property's value as bytes (16- and 32-bit items little-endian, as UTF-16LE expects)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    size = 2 if fmt == 16 else 4
    return b"".join(int(v).to_bytes(size, "little") for v in value)


def _xid(resource) -> int:
    """A window's id, whether python-xlib gave a resource object or a bare number."""
    return getattr(resource, "id", resource) or 0
