"""`aiguard daemon install-service` / `uninstall-service` on Linux: the systemd user unit.

The unit is written under the test's XDG_CONFIG_HOME. systemctl itself is never the real
one: `systemctl --user disable` acts on the user's real service manager (over D-Bus),
whatever XDG_CONFIG_HOME says, so each test puts its own `systemctl` first on PATH (one
that records what it was asked, one that cannot reach the bus, or none at all).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import aiguard

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd user unit is Linux's")


def unit_path(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / "aiguard.service"


@pytest.fixture
def fake_bin(tmp_path, monkeypatch) -> Path:
    """PATH holds only this folder: no systemctl unless a test writes one."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def write_systemctl(folder: Path, body: str) -> Path:
    log = folder / "systemctl.calls"
    script = folder / "systemctl"
    script.write_text(f"#!/bin/sh\necho \"$*\" >> '{log}'\n{body}\n")
    os.chmod(script, 0o755)
    return log


def one_line(done) -> str:
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    assert done.stderr == b"", done.stderr
    return lines[0]


def test_uninstall_service_stops_disables_and_removes_the_unit(isolated_user, fake_bin):
    calls = write_systemctl(fake_bin, "exit 0")
    aiguard("daemon", "install-service")  # enables it: the (recording) systemctl is asked
    unit = unit_path(isolated_user)
    assert unit.is_file()
    assert calls.read_text().splitlines() == ["--user enable --now aiguard.service"]
    # What a real `systemctl --user enable` leaves besides the unit.
    wants = unit.parent / "default.target.wants" / "aiguard.service"
    wants.parent.mkdir()
    wants.symlink_to(unit)

    line = one_line(aiguard("daemon", "uninstall-service"))
    assert line == f"removed {unit} and {wants}; the service is stopped and disabled"
    assert not unit.exists() and not wants.is_symlink()
    assert calls.read_text().splitlines()[1:] == ["--user disable --now aiguard.service", "--user daemon-reload"]

    # Idempotent: a second run changes nothing and asks systemd nothing.
    again = aiguard("daemon", "uninstall-service")
    assert one_line(again) == f"no aiguard service to remove ({unit} does not exist)"
    assert len(calls.read_text().splitlines()) == 3


@pytest.mark.parametrize("systemctl", ["missing", "no-bus"])
def test_uninstall_service_without_a_reachable_systemd_still_removes_the_unit(isolated_user, fake_bin, systemctl):
    if systemctl == "no-bus":
        write_systemctl(fake_bin, "echo 'Failed to connect to bus: No medium found' >&2\nexit 1")
    aiguard("daemon", "install-service", "--no-enable")
    unit = unit_path(isolated_user)
    assert unit.is_file()

    done = aiguard("daemon", "uninstall-service")
    assert done.returncode == 0
    line = one_line(done)
    assert line.startswith(f"removed {unit}; "), line
    said = ("systemctl is not available here" if systemctl == "missing"
            else "`systemctl --user disable --now aiguard.service` failed: Failed to connect to bus: No medium found")
    assert said in line and line.endswith("(if the daemon still runs: aiguard daemon stop)"), line
    assert not unit.exists()
    assert one_line(aiguard("daemon", "uninstall-service")).startswith("no aiguard service to remove")
