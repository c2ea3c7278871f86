"""What a clipboard backend is: the shape every backend module has, and what it hands over.

* ``NAME``: ``x11``, ``wayland``, ``macos``, ``windows``;
* ``unavailable() -> str | None``: why it cannot run here (no display, no library,
  another platform), or None when it can; cheap enough for ``aiguard doctor``;
* ``watch(stop, handle) -> None``: waits for clipboard changes until ``stop`` (a
  ``threading.Event``) is set, and for each calls ``handle(Snapshot)``, which reads
  what it needs through ``Snapshot.read`` while the offer is valid. Raises
  ``BackendError`` when it cannot go on (the display went away).
"""

from __future__ import annotations

import threading
from typing import Callable, NamedTuple, Protocol

from aiguard.core.provenance import Reader, Window


class BackendError(Exception):
    """A backend cannot watch (any more); the message says why, without clipboard content."""


class Snapshot(NamedTuple):
    """One clipboard offer: its types, a reader for them, and the focused window, lazily."""

    types: tuple[str, ...]
    read: Reader
    window: Callable[[], Window | None] | None
    when: float  # unix time of the change


class Backend(Protocol):
    """A backend module (checked by type checkers where a module is passed as one)."""

    NAME: str

    def unavailable(self) -> str | None: ...

    def watch(self, stop: threading.Event, handle: Callable[[Snapshot], None]) -> None: ...
