"""CPU used by `aiguard daemon run` for the clipboard: idle, and while the clipboard changes.

Runs a real daemon (subprocess) against a real Xvfb, and the test suite's fake browser
(tests/clipboard_owner.py) as the clipboard owner. Three phases, each `--seconds` long:

* idle: nothing is copied;
* other sites: `--rate` copies a second from a non-AI page (github.com): the daemon
  reads the types and the source URL, never the text;
* AI chat: `--rate` copies a second of distinct ~30-line snippets from chatgpt.com:
  each is read, fingerprinted and written to the ledger.

CPU is the daemon process's user+system time (from /proc/PID/stat) over the phase's
wall time, in percent of one core. Everything runs with AIGUARD_HOME and HOME in a
temporary folder and the null keyring backend. Linux only (Xvfb, /proc).

    python benchmarks/clipboard_cpu.py [--seconds 30] [--rate 10]
                                       [--out benchmarks/results/clipboard_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from clipboard_owner import ClipboardOwner, chromium_offer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_end, write_end = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-nolisten",
                                "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_end], [], [], 20)
        chunk = os.read(read_end, 64) if ready else b""
        if not chunk:
            raise SystemExit("Xvfb did not start")
        number += chunk
    os.close(read_end)
    return process, f":{number.decode().strip()}"


def snippet(n: int) -> str:
    lines = [f"def handler_{n}(request, retries={n % 5 + 1}):",
             f'    """Invented snippet {n}: what a chat answer might hold."""']
    for i in range(28):
        lines.append(f"    value_{i} = request.get('field_{(n * 31 + i) % 97}', {i}) * {n % 13 + i}")
    lines.append("    return locals()")
    return "\n".join(lines) + "\n"


def phase(pid: int, seconds: float, rate: float, offer) -> dict:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    copies = 0
    while time.monotonic() - start < seconds:
        if offer is not None:
            offer(copies)
            copies += 1
            next_at = start + copies / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        else:
            time.sleep(min(1.0, seconds - (time.monotonic() - start)))
    wall = time.monotonic() - start
    used = cpu_seconds(pid) - start_cpu
    return {"seconds": round(wall, 2), "copies": copies, "cpu_seconds": round(used, 3),
            "cpu_percent_of_one_core": round(100 * used / wall, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10, help="copies a second in the busy phases")
    parser.add_argument("--out", default=str(HERE / "results" / "clipboard_cpu.json"))
    args = parser.parse_args()

    xvfb, display = start_xvfb()
    work = Path(tempfile.mkdtemp(prefix="aiguard-clipboard-cpu-"))
    env = dict(os.environ, DISPLAY=display, HOME=str(work), AIGUARD_HOME=str(work / "state"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", XDG_CONFIG_HOME=str(work / ".config"))
    env.pop("WAYLAND_DISPLAY", None)
    daemon = subprocess.Popen([sys.executable, "-m", "aiguard", "daemon", "run"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    owner = None
    try:
        log = work / "state" / "daemon.log"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "clipboard: watching with x11" not in (
                log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        owner = ClipboardOwner(display)
        for _ in range(100):  # subscribed once it asks for the types
            owner.offer({"application/x-probe": b""})
            time.sleep(0.1)
            if "TARGETS" in owner.requested:
                break
        time.sleep(2)  # let start-up work (imports, catch-up scan) finish before measuring idle
        results = {
            "idle": phase(daemon.pid, args.seconds, args.rate, None),
            "other_site_copies": phase(daemon.pid, args.seconds, args.rate, lambda n: owner.offer(
                chromium_offer(snippet(n), f"https://github.com/someone/repo/blob/main/f{n}.py"))),
            "ai_chat_copies": phase(daemon.pid, args.seconds, args.rate, lambda n: owner.offer(
                chromium_offer(snippet(n + 1_000_000), f"https://chatgpt.com/c/bench-{n}"))),
        }
        deadline = time.monotonic() + 30
        expected = results["ai_chat_copies"]["copies"]
        recorded = 0
        while time.monotonic() < deadline:
            with sqlite3.connect(work / "state" / "ledger.sqlite3") as conn:
                recorded = conn.execute("SELECT count(*) FROM records").fetchone()[0]
            if recorded >= expected:
                break
            time.sleep(0.2)
        results["ai_chat_copies"]["recorded"] = recorded
        results["daemon_rss_kib"] = int(next(line.split()[1] for line in
                                             Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
                                             if line.startswith("VmRSS:")))
    finally:
        if owner is not None:
            owner.close()
        daemon.terminate()
        daemon.wait(10)
        xvfb.terminate()
        xvfb.wait(10)
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "rate_per_second": args.rate, **results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
