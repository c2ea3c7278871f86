"""Windows clipboard backend: AddClipboardFormatListener through ctypes (no extra package).

A message-only window receives WM_CLIPBOARDUPDATE for each change (no polling). For
each, the clipboard is opened briefly (retrying while another program holds it),
its formats are named (standard ones as ``CF_UNICODETEXT``..., registered ones by
their registered name: ``Chromium internal source URL``, ``text/x-moz-url-priv``,
``HTML Format``, ``ExcludeClipboardContentFromMonitorProcessing``...), the
provenance core reads what it needs while it is open, and it is closed again.
Without a source URL the foreground window's executable and title stand in.

The Win32 calls are confined to ``_Win32Clipboard`` and ``watch``; ``format_name``
and ``snapshot`` are pure and tested with recorded format maps.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Protocol

from aiguard.capture.clipboard.backend import BackendError, Snapshot
from aiguard.core.provenance import Decision, Window

NAME = "windows"
WM_CLIPBOARDUPDATE = 0x031D
OPEN_RETRIES = 5  # another program may hold the clipboard for a moment (Chromium retries 5 x 5 ms too)

STANDARD_FORMATS = {
    1: "CF_TEXT", 2: "CF_BITMAP", 3: "CF_METAFILEPICT", 4: "CF_SYLK", 5: "CF_DIF", 6: "CF_TIFF",
    7: "CF_OEMTEXT", 8: "CF_DIB", 9: "CF_PALETTE", 10: "CF_PENDATA", 11: "CF_RIFF", 12: "CF_WAVE",
    13: "CF_UNICODETEXT", 14: "CF_ENHMETAFILE", 15: "CF_HDROP", 16: "CF_LOCALE", 17: "CF_DIBV5",
}
_GDI_HANDLES = {2, 3, 9, 14}  # handles that are not global memory: never read as bytes


class Clipboard(Protocol):
    def formats(self) -> list[int]: ...
    def registered_name(self, fmt: int) -> str | None: ...
    def read(self, fmt: int, limit: int) -> bytes | None: ...
    def foreground(self) -> Window | None: ...


def format_name(fmt: int, registered: str | None) -> str:
    """A clipboard format's name as the provenance core knows it."""
    if fmt in STANDARD_FORMATS:
        return STANDARD_FORMATS[fmt]
    return registered or f"#{fmt}"


def snapshot(clipboard: Clipboard, when: float | None = None) -> Snapshot:
    """The open clipboard's offer; its reader is valid only while the clipboard stays open."""
    by_name: dict[str, int] = {}
    for fmt in clipboard.formats():
        by_name.setdefault(format_name(fmt, clipboard.registered_name(fmt) if fmt >= 0xC000 else None), fmt)

    def read(name: str, limit: int) -> bytes | None:
        fmt = by_name.get(name)
        if fmt is None or fmt in _GDI_HANDLES:
            return None
        return clipboard.read(fmt, limit)

    return Snapshot(tuple(by_name), read, clipboard.foreground, time.time() if when is None else when)


def unavailable() -> str | None:
    if sys.platform != "win32":
        return "not Windows"
    return None


def describe() -> str:
    return "windows (clipboard format listener)"


def watch(stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:  # pragma: no cover - Windows
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)
    user32.CreateWindowExW.restype = wintypes.HWND
    user32.CreateWindowExW.argtypes = [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD,
                                       ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.HWND,
                                       wintypes.HMENU, wintypes.HINSTANCE, wintypes.LPVOID]
    user32.PeekMessageW.argtypes = [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT,
                                    wintypes.UINT]
    user32.MsgWaitForMultipleObjects.argtypes = [wintypes.DWORD, ctypes.c_void_p, wintypes.BOOL, wintypes.DWORD,
                                                 wintypes.DWORD]
    HWND_MESSAGE = wintypes.HWND(-3)
    hwnd = user32.CreateWindowExW(0, "STATIC", "aiguard clipboard", 0, 0, 0, 0, 0, HWND_MESSAGE, None, None, None)
    if not hwnd:
        raise BackendError(f"cannot create a message window (error {ctypes.get_last_error()})")
    try:
        if not user32.AddClipboardFormatListener(hwnd):
            raise BackendError(f"AddClipboardFormatListener failed (error {ctypes.get_last_error()})")
        board = _Win32Clipboard(hwnd)
        msg = wintypes.MSG()
        QS_ALLINPUT, PM_REMOVE = 0x04FF, 0x0001
        while not stop.is_set():
            user32.MsgWaitForMultipleObjects(0, None, False, 500, QS_ALLINPUT)
            changed = False
            while user32.PeekMessageW(ctypes.byref(msg), hwnd, 0, 0, PM_REMOVE):
                changed = changed or msg.message == WM_CLIPBOARDUPDATE
            if changed and board.open():
                try:
                    handle(snapshot(board))
                finally:
                    board.close()
    finally:
        user32.RemoveClipboardFormatListener(hwnd)
        user32.DestroyWindow(hwnd)


class _Win32Clipboard:  # pragma: no cover - needs Windows
    def __init__(self, hwnd) -> None:
        import ctypes
        from ctypes import wintypes

        self.ctypes = ctypes
        self.user32 = ctypes.WinDLL("user32", use_last_error=True)
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        self.user32.GetClipboardData.restype = wintypes.HANDLE
        self.kernel32.GlobalLock.restype = ctypes.c_void_p
        self.kernel32.GlobalLock.argtypes = [wintypes.HGLOBAL]
        self.kernel32.GlobalSize.restype = ctypes.c_size_t
        self.kernel32.GlobalSize.argtypes = [wintypes.HGLOBAL]
        self.kernel32.GlobalUnlock.argtypes = [wintypes.HGLOBAL]
        self.user32.GetForegroundWindow.restype = wintypes.HWND
        self.hwnd = hwnd

    def open(self) -> bool:
        for _ in range(OPEN_RETRIES):
            if self.user32.OpenClipboard(self.hwnd):
                return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        self.user32.CloseClipboard()

    def formats(self) -> list[int]:
        found: list[int] = []
        fmt = 0
        while True:
            fmt = self.user32.EnumClipboardFormats(fmt)
            if not fmt or len(found) > 512:
                return found
            found.append(fmt)

    def registered_name(self, fmt: int) -> str | None:
        buffer = self.ctypes.create_unicode_buffer(256)
        length = self.user32.GetClipboardFormatNameW(fmt, buffer, 256)
        return buffer.value[:length] if length else None

    def read(self, fmt: int, limit: int) -> bytes | None:
        handle = self.user32.GetClipboardData(fmt)
        if not handle:
            return None
        pointer = self.kernel32.GlobalLock(handle)
        if not pointer:
            return None
        try:
            size = min(self.kernel32.GlobalSize(handle), limit + 1)
            return self.ctypes.string_at(pointer, size)
        finally:
            self.kernel32.GlobalUnlock(handle)

    def foreground(self) -> Window | None:
        from ctypes import wintypes

        hwnd = self.user32.GetForegroundWindow()
        if not hwnd:
            return None
        title = self.ctypes.create_unicode_buffer(512)
        self.user32.GetWindowTextW(hwnd, title, 512)
        pid = wintypes.DWORD()
        self.user32.GetWindowThreadProcessId(hwnd, self.ctypes.byref(pid))
        exe = ""
        process = self.kernel32.OpenProcess(0x1000, False, pid.value)  # PROCESS_QUERY_LIMITED_INFORMATION
        if process:
            try:
                path = self.ctypes.create_unicode_buffer(1024)
                size = wintypes.DWORD(1024)
                if self.kernel32.QueryFullProcessImageNameW(process, 0, path, self.ctypes.byref(size)):
                    exe = path.value.rsplit("\\", 1)[-1]
            finally:
                self.kernel32.CloseHandle(process)
        return Window(app=exe, title=title.value)
