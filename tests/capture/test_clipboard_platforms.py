"""The macOS and Windows backends through their pure parts, with recorded type/format maps.

There is no macOS or Windows here: the pasteboard and clipboard are fakes holding the
types and formats that shared/research/clipboard.md records browsers and password
managers writing (§3.2, §3.3, §4.2, §5); the texts and URLs are invented. The fakes
note what was read, so privacy can be checked the same way as on X11."""

from __future__ import annotations

import threading

import pytest

from aiguard.capture.clipboard import macos, registry, windows
from aiguard.core.provenance import ServiceTable, Window, decide

CODE = "def mean(values):\n    return sum(values) / len(values)\n"
TABLE = ServiceTable.build()


class FakePasteboard:
    """NSPasteboard as pyobjc shows it: a change count, UTIs, data per UTI."""

    def __init__(self):
        self.count = 7
        self.items: dict[str, bytes] = {}
        self.front = Window("com.apple.Terminal", "Terminal")
        self.seen: list[str] = []

    def put(self, items: dict[str, bytes], front: Window | None = None) -> None:
        self.items = items
        self.count += 1
        if front:
            self.front = front

    def change_count(self) -> int:
        return self.count

    def types(self) -> list[str]:
        return list(self.items)

    def read(self, uti: str, limit: int) -> bytes | None:
        self.seen.append(uti)
        data = self.items.get(uti)
        return None if data is None else data[:limit + 1]

    def frontmost(self) -> Window | None:
        return self.front


CHROME_MAC = {  # Chrome, page selection copy
    "public.html": b"<pre>x</pre>", "public.utf8-plain-text": CODE.encode(),
    "NSStringPboardType": CODE.encode(), "org.chromium.source-url": b"https://chatgpt.com/c/77aa",
    "org.chromium.internal.source-rfh-token": b"\x01\x02",
}
ONEPASSWORD_MAC = {"public.utf8-plain-text": b"s3cret", "org.nspasteboard.ConcealedType": b"",
                   "com.agilebits.onepassword": b""}
SAFARI_MAC = {"public.html": b"<pre>x</pre>", "public.utf8-plain-text": CODE.encode(),
              "com.apple.WebKit.custom-pasteboard-data": b"\x00bin"}
CHATGPT_APP = {"public.utf8-plain-text": CODE.encode()}


def decide_mac(board: FakePasteboard):
    snap = macos.snapshot(board)
    return decide(snap.types, snap.read, TABLE, snap.window)


def test_macos_chrome_copy():
    board = FakePasteboard()
    board.put(CHROME_MAC)
    d = decide_mac(board)
    assert (d.kind, d.service, d.via, d.text) == ("ai", "chatgpt", "url", CODE)
    assert board.seen == ["org.chromium.source-url", "public.utf8-plain-text"]


def test_macos_password_manager_is_not_read():
    board = FakePasteboard()
    board.put(ONEPASSWORD_MAC, Window("com.openai.chat", "ChatGPT"))
    assert decide_mac(board).kind == "private"
    assert board.seen == []


def test_macos_desktop_app_by_bundle_id():
    board = FakePasteboard()
    board.put(CHATGPT_APP, Window("com.openai.chat", "ChatGPT"))
    d = decide_mac(board)
    assert (d.kind, d.service, d.via) == ("ai", "chatgpt", "app")


def test_macos_safari_has_no_source_url():
    board = FakePasteboard()
    board.put(SAFARI_MAC, Window("com.apple.Safari", "Safari"))
    assert decide_mac(board).kind == "no-source"
    assert board.seen == []


def test_macos_poll_reports_changes_only():
    board = FakePasteboard()
    board.put(CHROME_MAC)  # already there when watching starts: not looked at
    stop = threading.Event()
    seen = []

    def handle(snap):
        seen.append(decide(snap.types, snap.read, TABLE, snap.window))
        if len(seen) == 2:
            stop.set()
        return seen[-1]

    thread = threading.Thread(target=macos.poll, args=(stop, board, handle, 0.01))
    thread.start()
    board.put(ONEPASSWORD_MAC)
    while len(seen) < 1:
        stop.wait(0.01)
    board.put(CHATGPT_APP, Window("com.anthropic.claudefordesktop", "Claude"))
    thread.join(5)
    assert [d.kind for d in seen] == ["private", "ai"] and seen[1].service == "claude-ai"


class FakeClipboard:
    """The Windows clipboard while open: format ids, registered names, global memory."""

    def __init__(self, formats: list[tuple[int, str | None, bytes]], front: Window | None = None):
        self.table = {fmt: (name, data) for fmt, name, data in formats}
        self.front = front
        self.seen: list[int] = []

    def formats(self) -> list[int]:
        return list(self.table)

    def registered_name(self, fmt: int) -> str | None:
        return self.table[fmt][0]

    def read(self, fmt: int, limit: int) -> bytes | None:
        self.seen.append(fmt)
        return self.table[fmt][1][:limit + 1]

    def foreground(self) -> Window | None:
        return self.front


def utf16z(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\0\0"


def cf_html(url: str) -> bytes:
    """CF_HTML with correct offsets, as Chromium's HtmlToCFHtml writes it."""
    body = "<html><body><!--StartFragment--><pre>x</pre><!--EndFragment--></body></html>"
    head = "Version:0.9\r\nStartHTML:{:010d}\r\nEndHTML:{:010d}\r\nStartFragment:{:010d}\r\n" \
           "EndFragment:{:010d}\r\nSourceURL:" + url + "\r\n"
    start = len(head.format(0, 0, 0, 0))
    return (head.format(start, start + len(body), start + 31, start + len(body) - 31) + body).encode()


# Registered format ids vary per session (0xC000-0xFFFF); these are examples.
CHROME_WIN = [(0xC0F1, "Chromium internal source URL", b"https://claude.ai/chat/4e5f\0"),
              (0xC0F2, "Chromium internal source RFH token", b"\x01"),
              (0xC0A4, "HTML Format", cf_html("https://claude.ai/chat/4e5f")),
              (13, None, utf16z(CODE)), (1, None, CODE.encode() + b"\0"), (16, None, b"\x09\x04\0\0"),
              (7, None, CODE.encode() + b"\0")]
FIREFOX_WIN = [(0xC0B0, "text/x-moz-url-priv", "https://gemini.google.com/app/1".encode("utf-16-le")),
               (0xC0A4, "HTML Format", cf_html("https://gemini.google.com/app/1")), (13, None, utf16z(CODE))]
KEEPASS_WIN = [(13, None, utf16z("hunter2")), (0xC0C0, "Clipboard Viewer Ignore", b""),
               (0xC0C1, "ExcludeClipboardContentFromMonitorProcessing", b"\0")]
BITWARDEN_WIN = [(13, None, utf16z("hunter2")), (0xC0D0, "CanIncludeInClipboardHistory", b"\0\0\0\0")]
EDGE_LEGACY_HTML_ONLY = [(0xC0A4, "HTML Format", cf_html("https://copilot.microsoft.com/chats/1")),
                         (13, None, utf16z(CODE))]


def decide_win(clipboard: FakeClipboard):
    snap = windows.snapshot(clipboard, when=0.0)
    return decide(snap.types, snap.read, TABLE, snap.window)


def test_format_names():
    assert windows.format_name(13, None) == "CF_UNICODETEXT"
    assert windows.format_name(0xC0F1, "Chromium internal source URL") == "Chromium internal source URL"
    assert windows.format_name(0xC999, None) == f"#{0xC999}"


def test_windows_chrome_copy():
    board = FakeClipboard(CHROME_WIN)
    d = decide_win(board)
    assert (d.kind, d.service, d.text) == ("ai", "claude-ai", CODE)
    assert board.seen == [0xC0F1, 13]  # the URL format, then the Unicode text; not the HTML


def test_windows_firefox_copy():
    board = FakeClipboard(FIREFOX_WIN)
    d = decide_win(board)
    assert (d.kind, d.service, d.text) == ("ai", "gemini", CODE)


@pytest.mark.parametrize("formats,read", [(KEEPASS_WIN, []), (BITWARDEN_WIN, [0xC0D0])])
def test_windows_password_managers(formats, read):
    board = FakeClipboard(formats, Window("ChatGPT.exe", "ChatGPT"))
    assert decide_win(board).kind == "private"
    assert board.seen == read  # at most the 4-byte DWORD marker itself


def test_windows_cf_html_source_url():
    board = FakeClipboard(EDGE_LEGACY_HTML_ONLY)
    d = decide_win(board)
    assert (d.kind, d.service) == ("ai", "copilot-chat")


def test_windows_desktop_app_by_executable():
    board = FakeClipboard([(13, None, utf16z(CODE))], Window("Claude.exe", "Claude"))
    d = decide_win(board)
    assert (d.kind, d.service, d.via) == ("ai", "claude-ai", "app")


def test_backends_say_why_not_here():
    assert macos.unavailable() == "not macOS"
    assert windows.unavailable() == "not Windows"
    assert [m.NAME for m in registry()] == ["wayland", "x11"]
