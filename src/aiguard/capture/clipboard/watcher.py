"""The daemon's clipboard thread: a backend's offers through the provenance core into the ledger.

Log lines name the backend, the service and why a copy was or was not recorded;
never the text, the URL or the window title. An unexpected error on one offer is
logged by type and place only (exception messages can quote data).
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from types import ModuleType
from typing import Callable

from aiguard.capture.clipboard import choose
from aiguard.capture.clipboard.backend import BackendError, Snapshot
from aiguard.core.provenance import Decision, ServiceTable, decide
from aiguard.store.config import ClipboardConfig
from aiguard.capture.sources.common import Output

log = logging.getLogger("aiguard.capture.clipboard")
RETRY_SECONDS = 10.0  # after the display went away, look for it again this often


def _where(exc: BaseException) -> str:
    """An exception's type and the file:line it came from; never its message."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    if frame is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at {os.path.basename(frame.filename)}:{frame.lineno}"


def handler(table: ServiceTable, record: Callable[[list[Output]], None]) -> Callable[[Snapshot], Decision]:
    """What a backend calls for each offer: decide, record an AI copy, log one line."""

    def handle(snapshot: Snapshot) -> Decision:
        try:
            decision = decide(snapshot.types, snapshot.read, table, snapshot.window)
        except BackendError:
            raise
        except Exception as exc:  # a bug must not stop the watcher, nor quote the content
            log.error("clipboard: failed to read an offer (%s); skipped", _where(exc))
            return Decision("unreadable", reason="error")
        if decision.kind != "ai" or decision.service is None or decision.text is None:  # "ai" carries both
            (log.info if decision.service else log.debug)("clipboard: not recorded: a copy %s", decision.reason)
            return decision
        try:
            record([Output(tool=decision.service, model="unknown", text=decision.text, file=None, cwd=None,
                           time=snapshot.when, source="clipboard")])
        except Exception as exc:
            log.error("clipboard: failed to record a copy from %s (%s)", decision.service, _where(exc))
        else:
            log.info("clipboard: recorded a copy %s", decision.reason)
        return decision._replace(text=None)

    return handle


def start(stop: threading.Event, record: Callable[[list[Output]], None],
          settings: ClipboardConfig) -> threading.Thread | None:
    """Start watching in a thread that ends when `stop` is set; None (and one log line) when
    the clipboard is not watched."""
    if not settings.enabled:
        log.info("clipboard: not watched ([clipboard] enabled = false in the config)")
        return None
    backend, what = choose()
    if backend is None:
        log.info("clipboard: not watched: %s", what)
        return None
    table = ServiceTable.build(settings.services, settings.ignore, settings.window_titles)
    thread = threading.Thread(target=_run, args=(backend, stop, handler(table, record)),
                              name="aiguard-clipboard", daemon=True)
    thread.start()
    log.info("clipboard: watching with %s", what)
    return thread


def _run(backend: ModuleType, stop: threading.Event, handle: Callable[[Snapshot], Decision]) -> None:
    lost = False
    while not stop.is_set():
        try:
            backend.watch(stop, handle)
            return
        except BackendError as exc:
            if not lost:
                log.warning("clipboard: %s; trying again every %g s", exc, RETRY_SECONDS)
            lost = True
        except Exception as exc:
            log.error("clipboard: the %s backend failed (%s); trying again in %g s", backend.NAME, _where(exc),
                      RETRY_SECONDS)
        if stop.wait(RETRY_SECONDS):
            return
        if lost and backend.unavailable() is None:
            log.info("clipboard: the %s backend is back", backend.NAME)
            lost = False
