"""macOS clipboard backend: NSPasteboard through pyobjc (the optional `macos` extra).

macOS has no clipboard-change notification: the general pasteboard's changeCount is
polled every POLL_SECONDS (cheap: no data is read until it changes). Types are UTIs;
Chromium and Electron apps write ``org.chromium.source-url``, password managers
``org.nspasteboard.ConcealedType`` & co, which the provenance core handles. Without a
source URL the frontmost application's bundle id stands in (ChatGPT.app is
``com.openai.chat``). Safari writes no source URL, so copies from AI chats in Safari
are not recognised.

macOS 26 asks the user before an app reads the pasteboard outside a paste: allow
aiguard's daemon under System Settings > Privacy & Security > Paste from Other Apps.

The pyobjc calls are confined to ``_AppKitBoard``; ``poll`` and ``snapshot`` are pure
and tested with recorded type lists.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Protocol

from aiguard.capture.clipboard.backend import Snapshot
from aiguard.core.provenance import Decision, Window

NAME = "macos"
POLL_SECONDS = 0.5  # what CopyQ uses; Maccy polls every second


class Board(Protocol):
    def change_count(self) -> int: ...
    def types(self) -> list[str]: ...
    def read(self, uti: str, limit: int) -> bytes | None: ...
    def frontmost(self) -> Window | None: ...


def unavailable() -> str | None:
    if sys.platform != "darwin":
        return "not macOS"
    try:
        import AppKit  # noqa: F401
    except ImportError:
        return "pyobjc is not installed (pip install 'aiguard[macos]')"
    return None


def describe() -> str:
    return f"macos (NSPasteboard change count, every {POLL_SECONDS:g} s)"


def snapshot(board: Board) -> Snapshot:
    return Snapshot(tuple(board.types()), board.read, board.frontmost, time.time())


def poll(stop: threading.Event, board: Board, handle: Callable[[Snapshot], Decision],
         interval: float = POLL_SECONDS) -> None:
    """Call handle for each change of the pasteboard until stop is set (what was on it
    before watching started is not looked at)."""
    last = board.change_count()
    while not stop.wait(interval):
        count = board.change_count()
        if count != last:
            last = count
            handle(snapshot(board))


def watch(stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:  # pragma: no cover - macOS
    poll(stop, _AppKitBoard(), handle)


class _AppKitBoard:  # pragma: no cover - needs macOS
    def __init__(self) -> None:
        from AppKit import NSPasteboard, NSWorkspace

        self.board = NSPasteboard.generalPasteboard()
        self.workspace = NSWorkspace.sharedWorkspace()

    def change_count(self) -> int:
        return int(self.board.changeCount())

    def types(self) -> list[str]:
        return [str(t) for t in (self.board.types() or [])]

    def read(self, uti: str, limit: int) -> bytes | None:
        data = self.board.dataForType_(uti)
        if data is None:
            return None
        size = int(data.length())
        return bytes(data.subdataWithRange_((0, min(size, limit + 1))))

    def frontmost(self) -> Window | None:
        app = self.workspace.frontmostApplication()
        if app is None:
            return None
        return Window(app=str(app.bundleIdentifier() or ""), title=str(app.localizedName() or ""))
