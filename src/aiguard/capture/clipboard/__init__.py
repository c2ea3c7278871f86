"""The clipboard: which copies came from AI chat services, one backend per platform.

``provenance`` is the pure core (privacy markers, source URLs, the service table);
``watcher`` runs a backend in the daemon and records what the core accepts. Every
backend module has the same small shape (``backend.Backend``).

The registry below lists them in the order they are tried on this platform.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def registry() -> list[ModuleType]:
    """Backends for this platform, in the order they are tried."""
    if sys.platform == "darwin":
        from aiguard.capture.clipboard import macos

        return [macos]
    if sys.platform == "win32":
        from aiguard.capture.clipboard import windows

        return [windows]
    # Wayland first (a native data-control client sees Wayland apps); X11 covers X11
    # sessions and GNOME's Wayland session through XWayland, which Mutter keeps in sync.
    from aiguard.capture.clipboard import wayland, x11

    return [wayland, x11]


def choose() -> tuple[ModuleType | None, str]:
    """(backend, what it is) or (None, why none can run here)."""
    reasons = []
    for module in registry():
        why = module.unavailable()
        if why is None:
            return module, module.describe() if hasattr(module, "describe") else module.NAME
        reasons.append(f"{module.NAME}: {why}")
    return None, "; ".join(reasons)


def headless() -> bool:
    """No graphical session to watch (a server, CI): not a fault, unlike a session aiguard cannot watch."""
    if sys.platform in ("darwin", "win32"):
        return False
    return not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
