"""The daemon as a process: whether one runs, starting and stopping it (and a hook server left
behind), and the per-user service files (systemd, launchd) that start it at login.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiguard.hook import server as hookserver
from aiguard.store import paths

log = logging.getLogger("aiguard.daemon")


def pid_path() -> Path:
    return paths.home() / "daemon.pid"


def log_path() -> Path:
    return paths.home() / "daemon.log"


def running_pid() -> int | None:
    """The daemon's pid when one is running (its lock is held), else None."""
    import fcntl

    if not (paths.home() / "daemon.lock").exists():
        return None
    fd = os.open(paths.home() / "daemon.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            return int(pid_path().read_text().strip())
        except (OSError, ValueError):
            return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def start(timeout: float = 10) -> int:
    """Start `aiguard daemon run` in the background; returns its pid."""
    pid = running_pid()
    if pid:
        return pid
    paths.ensure_home()
    with open(log_path(), "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "aiguard", "daemon", "run"], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = running_pid()
        if pid and pid > 0:
            return pid
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited at once (exit {process.returncode}); see {log_path()}")
        time.sleep(0.05)
    raise RuntimeError(f"the daemon did not start within {timeout:g} s; see {log_path()}")


def stop(timeout: float = 10) -> bool:
    """Stop the daemon, and a hook server left running without one (a daemon killed with
    SIGKILL on a system without PR_SET_PDEATHSIG, an older aiguard's); True if either ran."""
    pid = running_pid()
    stopped = False
    if pid and pid > 0:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid() is not None:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the daemon (pid {pid}) did not stop within {timeout:g} s")
            time.sleep(0.05)
        stopped = True
    return _stop_hook_server(timeout) or stopped


def _stop_hook_server(timeout: float) -> bool:
    server = hookserver.running_pid()
    if server is None:
        return False
    log.info("stopping hook server %d, left running without a daemon", server)
    os.kill(server, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while hookserver.running_pid() == server:
        if time.monotonic() >= deadline:
            os.kill(server, signal.SIGKILL)
            for leftover in (hookserver.pid_path(), hookserver.socket_path()):  # it could not clean up
                try:
                    leftover.unlink()
                except OSError:
                    pass
            break
        time.sleep(0.05)
    return True


def service_file() -> tuple[Path, str, list[str]]:
    """(path, content, command to enable it) of a per-user service running the daemon."""
    python = sys.executable
    env_home = os.environ.get("AIGUARD_HOME")
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / "dev.aiguard.daemon.plist"
        env = (f"\n    <key>EnvironmentVariables</key>\n    <dict><key>AIGUARD_HOME</key>"
               f"<string>{_xml(env_home)}</string></dict>") if env_home else ""
        content = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key><string>dev.aiguard.daemon</string>
    <key>ProgramArguments</key>
    <array><string>{_xml(python)}</string><string>-m</string><string>aiguard</string><string>daemon</string><string>run</string></array>
    <key>RunAtLoad</key><true/>
    <key>KeepAlive</key><true/>{env}
</dict>
</plist>
"""
        return path, content, ["launchctl", "load", "-w", str(path)]
    if sys.platform == "win32":  # pragma: no cover - not testable here
        path = paths.home() / "aiguard-daemon.cmd"
        content = f'@"{python}" -m aiguard daemon run\r\n'
        return path, content, ["schtasks", "/Create", "/SC", "ONLOGON", "/TN", "aiguard daemon", "/TR", str(path), "/F"]
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = config / "systemd" / "user" / "aiguard.service"
    env = f'Environment="AIGUARD_HOME={env_home}"\n' if env_home else ""
    content = f"""[Unit]
Description=aiguard: records what AI assistants wrote (keyed fingerprints only)

[Service]
ExecStart="{python}" -m aiguard daemon run
{env}Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""
    return path, content, ["systemctl", "--user", "enable", "--now", "aiguard.service"]


def uninstall_service() -> str:
    """Undo install-service: stop and disable the service, remove its files. Idempotent;
    returns one line saying what was removed, or that nothing was installed."""
    path, _, _ = service_file()
    files = [path]
    if sys.platform == "darwin":
        disable = ["launchctl", "unload", "-w", str(path)]
    elif sys.platform == "win32":  # pragma: no cover - not testable here
        disable = ["schtasks", "/Delete", "/TN", "aiguard daemon", "/F"]
    else:
        disable = ["systemctl", "--user", "disable", "--now", path.name]
        files.append(path.parent / "default.target.wants" / path.name)  # the link `enable` made
    present = [f for f in files if f.is_symlink() or f.exists()]
    if not present:
        return f"no aiguard service to remove ({path} does not exist)"
    failed = _service_step(disable)
    for f in present:
        f.unlink(missing_ok=True)
    if disable[0] == "systemctl" and failed is None:
        failed = _service_step(["systemctl", "--user", "daemon-reload"])
    removed = " and ".join(str(f) for f in present)
    if failed:
        return f"removed {removed}; {failed} (if the daemon still runs: aiguard daemon stop)"
    return f"removed {removed}; the service is stopped and disabled"


def _service_step(command: list[str]) -> str | None:
    """Runs a service manager's command; None when it worked, else what went wrong."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return f"{command[0]} is not available here"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(command)}` did not answer in 30 s"
    if done.returncode == 0:
        return None
    said = (done.stderr or done.stdout).strip().splitlines()
    return f"`{' '.join(command)}` failed: {said[-1] if said else f'exit {done.returncode}'}"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
