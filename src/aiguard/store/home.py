"""Where aiguard's per-user state lives, as plain strings: AIGUARD_HOME, else the platform's
data folder. Stdlib only and no pathlib: the hook's client (aiguard.hook.client) asks for the
server's socket before it imports anything else. aiguard.store.paths builds on this.
"""

from __future__ import annotations

import os
import sys

APP = "aiguard"
SOCKET_NAME = "hook.sock"  # the daemon's hook server (aiguard.hook.server) listens here


def home_dir() -> str:
    """AIGUARD_HOME, else the platform's data folder (aiguard.store.paths.home is this, as a Path)."""
    explicit = os.environ.get("AIGUARD_HOME")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(base, APP)
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Application Support", APP)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, APP)


def socket_path() -> str:
    return os.path.join(home_dir(), SOCKET_NAME)
