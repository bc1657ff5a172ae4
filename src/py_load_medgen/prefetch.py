"""Run a producer in a background thread so parsing overlaps with the database's work.

Inflating (ISA-L and zlib release the GIL) and block checks run while the main thread waits
on the socket, which on a two-core machine is the difference between one busy core and two.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 3) -> Iterator[T]:
    """Iterate ``items`` in a worker thread, at most ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; a consumer that stops early
    (or fails) stops the producer.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    buffer.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    # The worker runs in a copy of the caller's context, so its log lines and progress events
    # carry the run id, release and phase like the main thread's.
    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(produce,), name="py-load-medgen-parse", daemon=True
    )
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join()
