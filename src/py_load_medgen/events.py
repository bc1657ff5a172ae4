"""What a run is doing, for whoever watches: progress bars, periodic log lines, tests.

The pipeline announces events; it neither knows nor cares who listens, so progress display
stays out of the load path and costs nothing when nobody subscribes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str
    """run_started, phase, file_started, bytes_read, rows_loaded, file_done, run_finished."""
    data: dict[str, Any] = field(default_factory=dict)


class _Fault:
    """Fault injection for the crash-safety tests, armed only by an environment variable.

    ``PY_LOAD_MEDGEN_FAULT=KILL:EVENT[@TABLE][:N]`` kills the process with SIGKILL the N-th
    time EVENT (for TABLE) is emitted (as an operator's ``kill -9`` would, at a point chosen
    exactly);
    ``PAUSE:EVENT[:N]`` writes ``PY_LOAD_MEDGEN_FAULT_FILE`` and waits there for a signal.
    """

    def __init__(self, spec: str) -> None:
        action, _, rest = spec.partition(":")
        event, _, nth = rest.partition(":")
        self.event, _, self.table = event.partition("@")
        self.action, self.nth, self.seen = action.upper(), int(nth or 1), 0

    def reached(self, kind: str, data: dict[str, Any]) -> None:
        if kind != self.event or (self.table and data.get("table") != self.table):
            return
        self.seen += 1
        if self.seen != self.nth:
            return
        if self.action == "KILL":
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        marker = os.environ.get("PY_LOAD_MEDGEN_FAULT_FILE")
        if marker:
            Path(marker).write_text(str(os.getpid()))
        for _ in range(600):  # the test signals us long before this runs out
            time.sleep(0.1)


_FAULT = (
    _Fault(os.environ["PY_LOAD_MEDGEN_FAULT"]) if os.environ.get("PY_LOAD_MEDGEN_FAULT") else None
)

Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns the function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(kind: str, **data: Any) -> None:
    if _FAULT is not None:
        _FAULT.reached(kind, data)
    if _listeners:
        event = Event(kind, data)
        for listener in list(_listeners):
            listener(event)


def bytes_reader(table: str) -> Callable[[int], None] | None:
    """A callback for raw bytes read from one file, or None when nobody listens."""
    if not _listeners and _FAULT is None:
        return None
    return lambda n: emit("bytes_read", table=table, bytes=n)
