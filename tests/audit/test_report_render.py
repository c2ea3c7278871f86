"""`aiguard report --html` rendered by a real browser (headless Chromium), and what the
report says checked against the commands it agrees with.

In the browser: the page is not blank, the SVG charts are drawn (their colours are in
the pixels, as filled shapes), it asks the network for nothing, and at a 700 px and a
1200 px wide window nothing scrolls sideways and no label is cut: a copy of the page
gets a small measuring script (the report itself has none) that reads the laid-out
geometry, and Chromium's `--dump-dom` hands back what it measured.

The screenshot is read with a small PNG decoder below (zlib and PNG's row filters), so
that the test needs nothing beyond the standard library and a chromium binary."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import Repo, aiguard
from test_audit import commit, history, record  # noqa: F401  (the fixture: AI, clipboard, human and foreign commits)

from aiguard.audit import report
from aiguard.audit.report import COMMITS, LINES, UNKNOWN

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                 if (found := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it with apt-get)")

WIDTH, HEIGHT = 1280, 2000
# Chromium's traffic annotations for what a page loads (blink_resource_loader) and for
# navigations (navigation_url_loader); its own background requests carry other ones.
PAGE_ANNOTATIONS = {101845102, 63171670}
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND")  # whatever is asked for, nothing leaves the machine

SONNET = "claude-code:claude-sonnet-4-20250514"
LONG = ("enterprise-internal-assistant-platform:experimental-reasoning-model-2025-12-01-preview"
        "-with-a-very-long-context-window")


def screenshot(html: Path, tmp: Path, width: int = WIDTH, height: int = HEIGHT) -> tuple[Path, list[str]]:
    """Renders `html` in headless Chromium; returns the PNG and the URLs the page requested."""
    png, netlog = tmp / f"shot-{width}.png", tmp / f"netlog-{width}.json"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={netlog}",
         f"--screenshot={png}", f"--window-size={width},{height}", html.as_uri()],
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


# Geometry ----------------------------------------------------------------------------------

# Added to a copy of the page: measures once laid out, then writes the numbers into the DOM.
MEASURE = """<script>(() => {
  const box = el => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right}; };
  const out = {innerWidth: innerWidth, scrollWidth: document.documentElement.scrollWidth,
    labels: [...document.querySelectorAll('td.label')].map(el => ({text: el.textContent,
      scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, ...box(el)})),
    charts: [...document.querySelectorAll('svg')].map(svg => ({...box(svg),
      viewBox: [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height],
      texts: [...svg.querySelectorAll('text')].map(t => { const b = t.getBBox();
        return {text: t.textContent, anchor: t.getAttribute('text-anchor'), x: b.x, y: b.y, w: b.width, h: b.height}; })})),
    legends: [...document.querySelectorAll('.legend li')].map(li => li.textContent)};
  const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();</script>"""


def measure(html: Path, tmp: Path, width: int) -> dict:
    """The laid-out page at a window `width` CSS pixels wide."""
    page = tmp / f"measured-{width}.html"
    page.write_text(html.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--window-size={width},1400",
                           "--dump-dom", page.as_uri()], capture_output=True, timeout=180)
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout.decode("utf-8", "replace"), re.S)
    assert done.returncode == 0 and found, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(unescape(found.group(1)))


def layout_problems(m: dict, width: int) -> list[str]:
    """Everything that scrolls sideways or is cut off, in words."""
    problems = []
    if m["scrollWidth"] > width:
        problems.append(f"the page is {m['scrollWidth']} px wide in a {width} px window")
    for label in m["labels"]:
        if label["scrollWidth"] > label["clientWidth"]:
            problems.append(f"label {label['text']!r} overflows its cell ({label['scrollWidth']} > {label['clientWidth']})")
        if label["left"] < 0 or label["right"] > width:
            problems.append(f"label {label['text']!r} is outside the window ({label['left']:.0f}..{label['right']:.0f})")
    for chart in m["charts"]:
        if chart["left"] < 0 or chart["right"] > width:
            problems.append(f"a chart is outside the window ({chart['left']:.0f}..{chart['right']:.0f})")
        vw, vh = chart["viewBox"]
        for t in chart["texts"]:
            if t["x"] < 0 or t["y"] < 0 or t["x"] + t["w"] > vw + 0.5 or t["y"] + t["h"] > vh + 0.5:
                problems.append(f"chart text {t['text']!r} is outside its viewBox")
    return problems


# Reading the report's tables ----------------------------------------------------------------

class Cells(HTMLParser):
    """Each `<tr>` of the page as {data-k or column number: text}, by table class."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, list[dict]]] = []
        self.row: dict | None = None
        self.cell: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append((attrs.get("class") or "", []))
        elif tag == "tr":
            self.row = {}
        elif tag in ("td", "th") and self.row is not None:
            self.cell, self.text = attrs.get("data-k") or str(len(self.row)), []
        elif tag in ("br", "div") and self.cell is not None:
            self.text.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row[self.cell] = "".join(self.text).strip()
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[-1][1].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.text.append(data)


def tables(html: str) -> dict[str, list[dict]]:
    parser = Cells()
    parser.feed(html)
    return {name: rows[1:] for name, rows in parser.tables}  # without the header row


def commit_rows(html: str) -> dict[str, dict]:
    return {row["Commit"]: row for row in tables(html)["commits"]}


# A history with long labels, a policy and a tampered stamp --------------------------------

@pytest.fixture
def audited(history):  # noqa: F811
    """The audit history, then: a commit wholly by claude-sonnet-4-20250514 (above the
    policy's max-ai-share), one with a hand-written Assisted-by of a very long name (no
    stamp), and one whose AI-Lines claim was edited after stamping."""
    repo, shas, texts = history
    shas["policy"] = commit(repo, {".aiguard.toml": 'max-ai-share = 0.9\nexternal-models = "disclose"\n'},
                            "Add the AI policy")
    sonnet = ('def moving_average(values, window):\n'
              '    """Averages of each run of `window` consecutive values."""\n'
              '    if window <= 0:\n'
              '        raise ValueError("window must be positive")\n'
              '    total, out = 0.0, []\n'
              '    for i, value in enumerate(values):\n'
              '        total += value\n'
              '        if i >= window:\n'
              '            total -= values[i - window]\n'
              '        if i >= window - 1:\n'
              '            out.append(total / window)\n'
              '    return out\n')
    record(sonnet, *SONNET.split(":"))
    shas["sonnet"] = commit(repo, {"src/deep/clamp.py": sonnet}, "Add clamp")
    shas["long"] = commit(repo, {"notes.txt": "a note\n"}, f"Add a note\n\nAssisted-by: {LONG}",
                          env={"AIGUARD_DISABLE": "1"})
    shas["tampered"] = commit(repo, {"t.py": "t = 1\n"}, "To be tampered with")
    message = repo.message().decode().replace("AI-Lines: 0/1", "AI-Lines: 0/2")
    assert "AI-Lines: 0/2" in message
    repo.git("commit", "-q", "--amend", "-m", message, env={"AIGUARD_DISABLE": "1"})
    shas["tampered"] = repo.out("rev-parse", "HEAD").strip()
    return repo, shas, texts


def write_report(repo: Repo, out: Path, *args: str) -> str:
    aiguard("report", "--html", str(out), *args, cwd=repo.path)
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and not re.search(r"(src|href|url)\s*[=(]\s*['\"]?https?:", html)
    return html


# tests ------------------------------------------------------------------------------------

@needs_chromium
def test_report_renders_with_its_charts(history, tmp_path):  # noqa: F811
    repo, shas, _ = history
    out = tmp_path / "report.html"
    write_report(repo, out)
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
    # the other charts' 14-pixel bars nor the tables' 3-pixel borders of the same colour
    bars = runs_of(image, hex_color(LINES))
    tall: dict[int, int] = {}
    for _, x, length in bars:
        if length >= 20:
            tall[x] = tall.get(x, 0) + 1
    assert max(tall.values(), default=0) >= 100, "no month chart bar in the lines colour in the screenshot"
    # the tool table drew its commit bars: lines known, and lines unknown (the co-author commit)
    assert any(length >= 10 for _, _, length in runs_of(image, hex_color(COMMITS))), "no commit bars"
    assert any(length >= 10 for _, _, length in runs_of(image, hex_color(UNKNOWN))), "no lines-unknown bars"
    # the commit table's AI rows carry the coloured border (3 CSS pixels wide)
    assert any(2 <= length <= 6 for _, _, length in bars)

    assert requested == []  # nothing from the network: no fonts, scripts or images


@needs_chromium
@pytest.mark.parametrize("width", [700, 1200])
def test_long_labels_are_whole_and_nothing_scrolls_sideways(audited, tmp_path, width):
    repo, shas, _ = audited
    out = tmp_path / "report.html"
    write_report(repo, out)
    m = measure(out, tmp_path, width)
    assert m["innerWidth"] == width
    assert layout_problems(m, width) == []
    texts = [label["text"] for label in m["labels"]]
    for name in (SONNET, LONG, "claude-code:claude-opus-4-5", "chatgpt:unknown"):
        assert name in texts, f"{name!r} is not a whole label on the page"
    assert "src/" in texts  # the directory table's labels are measured too
    # every chart's y-axis has distinct labels, and the two month charts are there
    axes = [[t["text"] for t in chart["texts"] if t["anchor"] == "end"] for chart in m["charts"]]
    assert len(axes) == 2 and all(len(axis) >= 2 and len(set(axis)) == len(axis) for axis in axes), axes
    # the legends name each colour
    for words in ("lines known", "lines unknown", "AI lines recorded by aiguard", "foreign evidence only"):
        assert any(words in legend for legend in m["legends"]), words


@needs_chromium
def test_the_layout_check_sees_clipping_and_sideways_scrolling(tmp_path):
    """The check above is only worth something if it notices a page that clips a label and
    is wider than the window (what the report did before: fixed 760 px charts, cut labels)."""
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body><svg viewBox='0 0 760 40' width='760' height='40'>"
                    f"<text x='-40' y='20'>{SONNET}</text></svg><table><tr><td class='label' "
                    f"style='display:block;width:80px;overflow:hidden;white-space:nowrap'>{LONG}</td></tr></table>"
                    "</body></html>")
    problems = layout_problems(measure(page, tmp_path, 700), 700)
    assert any("the page is" in p for p in problems)
    assert any(LONG in p and "overflows" in p for p in problems)
    assert any(SONNET in p and "viewBox" in p for p in problems)
    assert any("a chart is outside the window" in p for p in problems)


@needs_chromium
def test_the_network_check_sees_what_a_page_asks_for(tmp_path):
    """The network check is only worth something if it notices a page that loads from the web."""
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><img src='https://example.invalid/x.png'></body></html>")
    _, requested = screenshot(page, tmp_path)
    assert set(requested) == {"https://example.invalid/x.png"}


def test_stamp_and_policy_columns_agree_with_verify(audited, tmp_path):
    repo, shas, _ = audited
    rows = commit_rows(write_report(repo, tmp_path / "report.html"))
    assert set(rows) == {sha[:12] for sha in repo.out("rev-list", "HEAD").split()}
    verdict = json.loads(aiguard("verify", "HEAD", "--format", "json", cwd=repo.path, check=False).stdout)
    assert verdict["signature"] == "checked"  # the hook made a key in this user's store
    errors: dict[str, set[str]] = {}
    for f in verdict["findings"]:
        if f["severity"] == "error":
            errors.setdefault(f["commit"][:12], set()).add(f["rule"])
    for short, row in rows.items():
        rules = errors.get(short, set())
        state = row["Stamp"].split("\n")[0]
        assert state == ("invalid" if "invalid-stamp" in rules else "missing" if "missing-stamp" in rules else "valid"), row
        assert row["Policy"].split("\n")[0] == ("fail" if rules else "pass"), row
        for rule in rules:
            assert rule in row["Policy"], (rule, row)
    # and what that means for the commits made for it
    assert rows[shas["tampered"][:12]]["Stamp"].startswith("invalid\nthe stamp does not match")
    assert rows[shas["coauthor"][:12]]["Stamp"] == "missing"
    assert rows[shas["coauthor"][:12]]["Evidence"] == "foreign evidence"
    assert rows[shas["long"][:12]]["Assisted-by"] == LONG
    assert "ai-share-exceeded: AI-Lines 12/12 is above max-ai-share 0.9" in rows[shas["sonnet"][:12]]["Policy"]
    assert rows[shas["human"][:12]]["Stamp"] == "valid" and rows[shas["human"][:12]]["Policy"] == "pass"


def test_without_the_key_the_report_says_the_signature_is_not_checked(audited, tmp_path, monkeypatch):
    repo, shas, _ = audited
    monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / "another-user"))  # no key store here
    html = write_report(repo, tmp_path / "report.html")
    rows = commit_rows(html)
    assert rows[shas["claude"][:12]]["Stamp"] == "binding ok, signature not checked"
    assert rows[shas["tampered"][:12]]["Stamp"].startswith("invalid")  # the binding is still checked
    assert "their signatures are not checked" in html


def test_a_merge_is_exempt_but_its_stamp_is_still_shown(repo, tmp_path):
    """With exempt-merges = true (merges are checked by default) the report says the merge is
    exempt, and still checks its stamp (here one whose claim was edited)."""
    commit(repo, {".aiguard.toml": "require-stamp = true\nexempt-merges = true\n"}, "Policy")
    repo.git("checkout", "-q", "-b", "topic")
    commit(repo, {"a.py": "a = 1\n"}, "On topic")
    repo.git("checkout", "-q", "main")
    commit(repo, {"b.py": "b = 1\n"}, "On main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    message = repo.message().decode()
    assert "AI-Lines: 0/0" in message
    repo.git("commit", "-q", "--amend", "-m", message.replace("AI-Lines: 0/0", "AI-Lines: 0/7"),
             env={"AIGUARD_DISABLE": "1"})  # an edited claim: the stamp no longer matches
    merge = repo.out("rev-parse", "HEAD").strip()
    assert len(repo.out("log", "-1", "--format=%P").split()) == 2
    rows = commit_rows(write_report(repo, tmp_path / "report.html"))
    assert rows[merge[:12]]["Policy"] == "exempt\nmerge commit"
    assert rows[merge[:12]]["Stamp"].startswith("invalid\n")
    assert all(row["Policy"] == "pass" for short, row in rows.items() if short != merge[:12])


def test_a_repository_without_a_policy_gets_no_verdicts(history, tmp_path):  # noqa: F811
    repo, shas, _ = history
    html = write_report(repo, tmp_path / "report.html")
    rows = commit_rows(html)
    assert all("Policy" not in row for row in rows.values())
    assert rows[shas["claude"][:12]]["Stamp"] == "valid"
    assert "no policy file" in html


def test_a_bad_policy_is_one_line_naming_the_file(history, tmp_path):  # noqa: F811
    repo, _, _ = history
    repo.write(".aiguard.toml", "max-ai-share = 3\n")
    done = aiguard("report", "--html", str(tmp_path / "r.html"), cwd=repo.path, check=False)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1 and ".aiguard.toml" in err and "max-ai-share" in err
    assert not (tmp_path / "r.html").exists()


def test_commit_level_evidence_is_counted_not_drawn_as_nothing(make_repo, tmp_path):
    """Commits marked only by co-author trailers (no line records): the report shows them
    per tool and per month with "lines unknown", not an empty chart."""
    repo = make_repo()
    for i, (name, mail) in enumerate([("Claude", "noreply@anthropic.com")] * 3 + [("Copilot", "")]):
        who = f"Co-authored-by: {name} <{mail or '198982749+Copilot@users.noreply.github.com'}>"
        commit(repo, {f"f{i}.py": "x = 1\ny = 2\n"}, f"Change {i}\n\n{who}")
    commit(repo, {"human.py": "z = 3\n"}, "By hand")
    log = json.loads(aiguard("log", "--json", cwd=repo.path).stdout)
    assert [e["evidence"] for e in log].count("foreign") == 4 and all(e["ai_lines"] == 0 for e in log)

    html = write_report(repo, tmp_path / "report.html")
    tools = {row["0"]: row for row in tables(html)["bars"]}
    assert set(tools) == {e["assisted_by"][0] for e in log if e["assisted_by"]}
    claude = next(row for key, row in tools.items() if key.startswith("claude-code:"))
    assert claude["1"] == "3 (60.0%)\nlines unknown" and claude["3"] == "lines unknown"  # 3 of 5 commits
    assert "No AI-derived lines are recorded in any month" in html
    assert "4 AI-derived commits carry commit-level evidence only" in html
    assert "AI-derived commits, lines unknown" in html  # the commits chart's series
    for row in commit_rows(html).values():
        if row["Evidence"] == "foreign evidence":
            assert row["AI lines"] == "?/2" and row["Lines"] == "lines unknown"


def test_axis_ticks_are_round_and_never_repeat_a_label():
    for top in (0.004, 0.03, 0.42, 1, 2.5, 7, 47.4, 60, 99.9, 100, 3, 5285, 1e-5):
        values = report.ticks(top)
        labels = report.tick_labels(values, "%")
        assert values[0] == 0 and values[-1] >= top and 3 <= len(values) <= 5, (top, values)
        assert values[-1] < 2.5 * top, (top, values)  # the data fills a good part of the axis
        assert len(set(labels)) == len(labels), (top, labels)
    assert report.tick_labels(report.ticks(0.4), "%") == ["0.0%", "0.1%", "0.2%", "0.3%", "0.4%"]
    assert report.ticks(3, whole=True) == [0, 1, 2, 3]
    assert all(float(v).is_integer() for v in report.ticks(7, whole=True))


def test_a_small_share_gets_an_axis_of_its_own():
    """The issue's "0 %, 0 %, 1 %": a month at 0.4 % of lines gets ticks from 0 to 0.4 %."""
    summary = {"commits": 2, "ai_commits": 1, "added": 1000, "ai_lines": 4, "share": 0.004, "first": "2026-01-01",
               "last": "2026-02-01", "by_path": [], "by_author": [],
               "by_month": [{"key": "2026-01", "ai_lines": 4, "added": 500, "share": 0.008},
                            {"key": "2026-02", "ai_lines": 0, "added": 500, "share": 0.0}]}
    html = report.render([], summary, "t")
    axis = re.findall(r"text-anchor='end'>([^<]*)<", html)
    assert axis == ["0.0%", "0.2%", "0.4%", "0.6%", "0.8%"]


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
