"""Retrying transient failures with exponential backoff and jitter.

A transport raises ``TransientSourceError`` for what a retry may cure (timeouts, resets, 5xx,
429) and a plain ``SourceError`` for what it cannot (404, 403, TLS); only the first is retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from py_load_medgen.errors import TransientSourceError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Tries per request, the first included."""
    timeout: float = 60.0
    """Seconds to wait for a connection or for the next bytes of a response."""
    base_delay: float = 1.0
    max_delay: float = 120.0
    """No wait is longer, a server's Retry-After included: beyond it, the run fails."""


class RetryAfterError(TransientSourceError):
    """A transient failure whose server said how long to wait (429 or 503 with Retry-After)."""

    def __init__(self, message: str, seconds: float, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.seconds = seconds


def retrying(
    policy: RetryPolicy,
    call: Callable[[], T],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried up to ``policy.attempts`` times while it fails transiently."""
    delay = policy.base_delay
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except TransientSourceError as exc:
            if attempt == policy.attempts:
                raise
            wait = delay + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto
            if isinstance(exc, RetryAfterError):
                if exc.seconds > policy.max_delay:
                    raise TransientSourceError(
                        f"{exc.message}; the server asks to wait {exc.seconds:.0f}s, "
                        f"longer than the {policy.max_delay:.0f}s this run waits",
                        hint="try again later",
                    ) from None
                wait = max(exc.seconds, 0.0)
            log.warning(
                "%s (attempt %d of %d); retrying in %.1fs",
                exc.message,
                attempt,
                policy.attempts,
                wait,
            )
            sleep(wait)
            delay = min(delay * 2, policy.max_delay)
    raise AssertionError("unreachable")  # pragma: no cover
