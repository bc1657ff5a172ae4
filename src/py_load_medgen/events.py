"""What a run is doing, for whoever watches: progress bars, periodic log lines, tests.

The pipeline announces events; it neither knows nor cares who listens, so progress display
stays out of the load path and costs nothing when nobody subscribes. The kinds form a closed
set (``Kind``); ``docs/architecture.md`` lists each with its data, and a test keeps that list,
this set and the calls of ``emit`` in agreement.

Examples:
    >>> seen = []
    >>> stop = subscribe(lambda event: seen.append((event.kind, event.data)))
    >>> emit("phase", phase="fetch")
    >>> stop()
    >>> emit("phase", phase="stage")  # nobody listens any more
    >>> seen
    [('phase', {'phase': 'fetch'})]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Kind = Literal[
    "phase",
    "staging_ready",
    "file_started",
    "bytes_read",
    "indexing",
    "file_done",
    "delta_apply",
    "publish_wait",
    "publish_commit",
    "published",
    "download",
    "download_chunk",
]
"""Every kind of event a run emits; see docs/architecture.md for the data each carries."""

KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True)
class Event:
    """One thing that happened: its kind and its data (table, file, bytes... by kind)."""

    kind: Kind
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns the function that removes it.

    A listener runs in the thread that emits (the parser's worker thread for ``bytes_read``)
    and should return quickly; the crash tests install one that kills the process at an exact
    point of a run (tests/fault_launcher.py).
    """
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(kind: Kind, **data: Any) -> None:
    """Tell every listener; with none, this costs one list check."""
    if _listeners:
        event = Event(kind, data)
        for listener in list(_listeners):
            listener(event)


def bytes_reader(table: str) -> Callable[[int], None] | None:
    """A callback for raw bytes read from one file, or None when nobody listens."""
    if not _listeners:
        return None
    return lambda n: emit("bytes_read", table=table, bytes=n)
