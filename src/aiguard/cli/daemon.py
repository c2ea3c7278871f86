"""`daemon run|start|stop|status|install-service|uninstall-service`."""

from __future__ import annotations

import sys

import click

from aiguard.cli.common import fail


@click.group()
def daemon() -> None:
    """The background process: follows the assistants' logs, watches the clipboard and
    keeps the commit hook's server warm."""


@daemon.command("run")
def daemon_run() -> None:
    """Run in the foreground until SIGTERM or SIGINT."""
    from aiguard.daemon import loop

    sys.exit(loop.run())


@daemon.command("start")
def daemon_start() -> None:
    """Start in the background (one instance per user)."""
    from aiguard.daemon import service as d

    try:
        pid = d.start()
    except RuntimeError as exc:
        fail(str(exc))
    click.echo(f"aiguard daemon running (pid {pid}); log: {d.log_path()}")


@daemon.command("stop")
def daemon_stop() -> None:
    """Stop the background daemon."""
    from aiguard.daemon import service as d

    try:
        stopped = d.stop()
    except RuntimeError as exc:
        fail(str(exc))
    click.echo("aiguard daemon stopped" if stopped else "aiguard daemon was not running")


@daemon.command("status")
def daemon_status() -> None:
    """Exit 0 when the daemon is running, 1 when it is not."""
    from aiguard.daemon import service as d

    pid = d.running_pid()
    if pid:
        click.echo(f"aiguard daemon running (pid {pid}); log: {d.log_path()}")
    else:
        click.echo("aiguard daemon not running")
        sys.exit(1)


@daemon.command("install-service")
@click.option("--enable/--no-enable", default=True, show_default=True,
              help="Also enable and start it (systemctl --user, launchctl, or a Scheduled Task).")
def daemon_install_service(enable: bool) -> None:
    """Run the daemon at login: a systemd user unit (Linux), a launchd agent (macOS)
    or a Scheduled Task (Windows)."""
    import subprocess

    from aiguard.daemon import service as d

    path, content, command = d.service_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    click.echo(f"wrote {path}")
    if not enable:
        click.echo(f"enable it with: {' '.join(command)}")
        return
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        fail(f"{command[0]} is not available here; the service file is written, enable it by hand")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        fail(f"`{' '.join(command)}` failed: {said[-1] if said else f'exit {done.returncode}'}; "
             "the service file is written, enable it by hand")
    click.echo(f"enabled: {' '.join(command)}")


@daemon.command("uninstall-service")
def daemon_uninstall_service() -> None:
    """Undo install-service: stop and disable the service and remove its file
    (nothing to do when none is installed)."""
    from aiguard.daemon import service as d

    click.echo(d.uninstall_service())


COMMANDS = [daemon]
