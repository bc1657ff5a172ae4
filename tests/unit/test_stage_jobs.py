"""The work after a table's COPY runs once, on whichever connection claims it first."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from py_load_medgen.pipeline import _Job


def test_a_job_runs_once_on_the_connection_that_claims_it() -> None:
    ran: list[Any] = []

    def index(conn: object) -> str:
        ran.append(conn)
        return f"indexed on {conn}"

    job = _Job(index)
    job.run_on("helper")  # type: ignore[arg-type]
    job.run_on("main")  # type: ignore[arg-type]
    assert ran == ["helper"]
    assert job.outcome() == "indexed on helper"


def test_two_connections_racing_run_it_once() -> None:
    for _ in range(50):
        ran: list[Any] = []
        start = threading.Barrier(2)
        job = _Job(ran.append)

        def claim(name: str, job: _Job = job, start: threading.Barrier = start) -> None:
            start.wait()
            job.run_on(name)  # type: ignore[arg-type]

        threads = [threading.Thread(target=claim, args=(n,)) for n in ("helper", "main")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(ran) == 1
        assert job.done.is_set()


def test_a_dropped_job_never_runs_and_a_failed_one_fails_its_caller() -> None:
    ran: list[Any] = []
    dropped = _Job(ran.append)
    dropped.drop()
    dropped.run_on("helper")  # type: ignore[arg-type]
    assert ran == [] and dropped.done.is_set()

    def fail(conn: object) -> None:
        raise RuntimeError(f"index build failed on {conn}")

    failed = _Job(fail)
    failed.run_on("helper")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="failed on helper"):
        failed.outcome()
