"""What a run is doing, for whoever watches: progress bars, periodic log lines, tests.

The pipeline announces events; it neither knows nor cares who listens, so progress display
stays out of the load path and costs nothing when nobody subscribes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str
    """run_started, phase, file_started, bytes_read, rows_loaded, file_done, run_finished."""
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns the function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(kind: str, **data: Any) -> None:
    if _listeners:
        event = Event(kind, data)
        for listener in list(_listeners):
            listener(event)


def bytes_reader(table: str) -> Callable[[int], None] | None:
    """A callback for raw bytes read from one file, or None when nobody listens."""
    if not _listeners:
        return None
    return lambda n: emit("bytes_read", table=table, bytes=n)
