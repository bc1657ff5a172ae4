"""The publishing transaction, retried until it can take its locks without a deadlock.

Readers hold shared locks on the tables they query, in their own order. Publishing asks for
every lock it needs first, waiting only a fraction of a second (see
``Loader.lock_for_publish``); when readers are in the way it rolls back, so it holds nothing
while it waits, and tries again after a pause that grows and is jittered, so neither side is
ever killed as a deadlock victim. How long it waited is logged and recorded with the run.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from py_load_medgen import events
from py_load_medgen.errors import DatabaseError
from py_load_medgen.load.base import Loader, LockWaitError, RunRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 0.05
"""Seconds before the second attempt; each later pause doubles, up to MAX_PAUSE."""
MAX_PAUSE = 2.0
GIVE_UP_AFTER = 900.0
"""Seconds of trying before the run fails: readers that never let go for this long are
holding a transaction open, which no retry can outwait."""
SWAP_PATIENCE = 20.0
"""Seconds a full load tries to swap before it refills the tables in place instead (see
``pipeline._full``): readers that keep locking the tables in different orders can hold off a
swap forever, never a refill, which changes rows under the locks readers take anyway."""


class LocksBusyError(DatabaseError):
    """Publishing tried for its whole patience without getting its locks."""


def publish(
    loader: Loader,
    run: RunRecord,
    body: Callable[[], T],
    *,
    replaced: Sequence[str],
    changed: Sequence[str] = (),
    give_up_after: float = GIVE_UP_AFTER,
    waited_before: float = 0.0,
) -> T:
    """Run ``body`` in one transaction that first takes the locks on ``replaced`` tables (and
    their staging and views) and ``changed`` tables; retried whole while the locks are busy.

    ``body`` must be safe to run again after a rollback. The seconds spent waiting (plus
    ``waited_before``, an earlier try's) go to ``run.lock_wait_seconds`` before ``body``
    runs, so the run's record carries them.
    """
    started = time.monotonic()
    pause = FIRST_PAUSE
    attempt = 0
    while True:
        attempt += 1
        try:
            with loader.transaction():
                loader.lock_for_publish(replaced, changed)
                run.lock_wait_seconds = round(waited_before + time.monotonic() - started, 3)
                result = body()
        except LockWaitError as exc:
            waited = time.monotonic() - started
            if waited >= give_up_after:
                raise LocksBusyError(
                    f"could not take the locks to publish in {waited:.0f}s ({attempt} attempts): "
                    f"{exc.message}",
                    hint="a reader keeps a transaction open on the MedGen tables; "
                    "end it (pg_stat_activity shows who) and run the load again",
                ) from None
            log.debug("publish attempt %d: %s; retrying in %.2fs", attempt, exc.message, pause)
            events.emit("publish_wait", attempt=attempt, seconds=waited)
            time.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not secrecy
            pause = min(pause * 2, MAX_PAUSE)
            continue
        if attempt > 1 or run.lock_wait_seconds >= 1:
            log.info(
                "publishing waited %.2fs for readers to let go of the tables (%d attempts)",
                run.lock_wait_seconds,
                attempt,
                extra={"lock_wait_seconds": run.lock_wait_seconds, "attempts": attempt},
            )
        return result
