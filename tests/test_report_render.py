"""`aiguard report --html` rendered by a real browser (headless Chromium): the page is not
blank, the SVG charts are drawn (their bar colours are in the pixels, as filled shapes),
and the page asks the network for nothing.

The screenshot is read with a small PNG decoder below (zlib and PNG's row filters), so
that the test needs nothing beyond the standard library and a chromium binary."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import aiguard
from test_audit import history  # noqa: F401  (the fixture: AI, clipboard, human and foreign commits)

from aiguard.report import _PALETTE

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                 if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it with apt-get)")

WIDTH, HEIGHT = 1280, 2000
BAR = (0xD9, 0x48, 0x0F)  # #d9480f: the month chart's bars and the first bar of the others
# Chromium's traffic annotations for what a page loads (blink_resource_loader) and for
# navigations (navigation_url_loader); its own background requests carry other ones.
PAGE_ANNOTATIONS = {101845102, 63171670}


def screenshot(html: Path, tmp: Path) -> tuple[Path, list[str]]:
    """Renders `html` in headless Chromium; returns the PNG and the URLs the page requested."""
    png, netlog = tmp / "shot.png", tmp / "netlog.json"
    done = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # whatever is asked for, nothing leaves the machine
         f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={netlog}",
         f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", html.as_uri()],
        capture_output=True, timeout=180)
    assert done.returncode == 0 and png.is_file(), done.stderr.decode(errors="replace")[-2000:]
    return png, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    log = json.loads(netlog.read_text())
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if int(params.get("traffic_annotation", 0) or 0) in PAGE_ANNOTATIONS and "url" in params:
            if not params["url"].startswith(("file:", "data:", "blob:", "about:")):
                urls.append(params["url"])
    return urls


# PNG --------------------------------------------------------------------------------------

class Image(NamedTuple):
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        return tuple(self.rows[y][3 * x:3 * x + 3])


def decode_png(data: bytes) -> Image:
    """8-bit RGB or RGBA, not interlaced: what Chromium writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR chunk"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        unfilter(kind, line, prev, bpp)
        prev = bytes(line)
        rows.append(prev if bpp == 3 else b"".join(prev[i:i + 3] for i in range(0, stride, 4)))
    return Image(width, height, rows)


def unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> None:
    n = len(line)
    if kind == 1:  # Sub
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif kind == 2:  # Up
        line[:] = bytes((a + b) & 255 for a, b in zip(line, prev))
    elif kind == 3:  # Average
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
    elif kind == 4:  # Paeth
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    else:
        assert kind == 0, f"bad PNG filter type {kind}"


def runs_of(image: Image, color: tuple[int, int, int], tolerance: int = 3) -> list[tuple[int, int, int]]:
    """Horizontal runs of `color`: (y, first x, length)."""
    found = []
    for y, row in enumerate(image.rows):
        x = 0
        while x < image.width:
            if all(abs(row[3 * x + k] - color[k]) <= tolerance for k in range(3)):
                start = x
                while x < image.width and all(abs(row[3 * x + k] - color[k]) <= tolerance for k in range(3)):
                    x += 1
                found.append((y, start, x - start))
            x += 1
    return found


def hex_color(value: str) -> tuple[int, int, int]:
    return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))


# tests ------------------------------------------------------------------------------------

def test_report_renders_with_its_charts(history, tmp_path):  # noqa: F811
    repo, shas, _ = history
    out = tmp_path / "report.html"
    aiguard("report", "--html", str(out), cwd=repo.path)
    png, requested = screenshot(out, tmp_path)
    image = decode_png(png.read_bytes())
    assert (image.width, image.height) == (WIDTH, HEIGHT)

    # not blank: text and charts on a white page
    white = image.pixel(2, 2)
    assert white == (255, 255, 255)
    inked = sum(1 for row in image.rows for x in range(0, image.width, 2) if row[3 * x:3 * x + 3] != b"\xff\xff\xff")
    assert inked > 0.01 * image.width * image.height / 2
    assert len({image.rows[y][i:i + 3] for y in range(0, image.height, 4) for i in range(0, 3 * image.width, 12)}) > 20

    # the month chart drew its bar (one month, the tallest there is): a filled block, not
    # the other charts' 18-pixel bars nor the tables' 3-pixel borders of the same colour
    bars = runs_of(image, BAR)
    wide_rows_by_x: dict[int, int] = {}
    for _, x, length in bars:
        if length >= 100:
            wide_rows_by_x[x] = wide_rows_by_x.get(x, 0) + 1
    assert max(wide_rows_by_x.values(), default=0) >= 100, "no month chart bar of #d9480f in the screenshot"
    # the "by tool and model" chart drew its second bar in the palette's second colour
    assert any(length >= 10 for _, _, length in runs_of(image, hex_color(_PALETTE[1]))), "the bar charts did not render"
    # the commit table's AI rows carry the coloured border (3 CSS pixels wide)
    assert any(2 <= length <= 6 for _, _, length in bars)

    assert requested == []  # nothing from the network: no fonts, scripts or images


def test_the_network_check_sees_what_a_page_asks_for(tmp_path):
    """The check above is only worth something if it notices a page that loads from the web."""
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><img src='https://example.invalid/x.png'></body></html>")
    _, requested = screenshot(page, tmp_path)
    assert set(requested) == {"https://example.invalid/x.png"}


def test_png_decoder_undoes_every_filter():
    """The decoder itself, on a small invented image written with each of PNG's five filters."""
    width, height, bpp = 7, 10, 4
    pixels = [bytes((x * 37 + y * 11) % 256 if k < 3 else 200 for x in range(width) for k in range(bpp))
              for y in range(height)]
    raw, prev = b"", bytes(width * bpp)
    for y, line in enumerate(pixels):
        kind = y % 5
        raw += bytes([kind]) + bytes(filter_byte(kind, line, prev, i, bpp) for i in range(len(line)))
        prev = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    image = decode_png(png)
    assert image.rows == [b"".join(line[i:i + 3] for i in range(0, len(line), 4)) for line in pixels]


def filter_byte(kind: int, line: bytes, prev: bytes, i: int, bpp: int) -> int:
    a = line[i - bpp] if i >= bpp else 0
    b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
    p = a + b - c
    predictor = {0: 0, 1: a, 2: b, 3: (a + b) >> 1,
                 4: a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c}
    return (line[i] - predictor[kind]) & 255
