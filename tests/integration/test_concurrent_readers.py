"""Readers during loads, on every backend: each read sees one whole release."""

from __future__ import annotations

import threading
from pathlib import Path

from py_load_medgen.load.registry import open_loader
from tests.helpers import load_release as load
from tests.helpers import two_table_release

CHECKS = {
    "concepts": "SELECT count(*), count(*) FILTER (WHERE preferred_name LIKE 'new%') "
    'FROM "medgen"."concepts"',
    "relationships": "SELECT count(*), count(*) FILTER (WHERE rela = 'new') "
    'FROM "medgen"."relationships"',
}
ALLOWED = {(20_000, 0), (30_000, 30_000)}
"""All 'old' rows or all 'new' rows: never an empty, half-loaded or mixed table."""


def test_swaps_and_delta_applies_are_invisible_to_concurrent_readers(
    tmp_path: Path, db_uri: str
) -> None:
    """Readers loop over every table while full loads swap and deltas apply. (A DuckDB
    reader is a connection in the same process, which shares the database with the load.)"""
    old = two_table_release(tmp_path, "old", 20_000, "old")
    new = two_table_release(tmp_path, "new", 30_000, "new")
    assert load(old, db_uri) == 0
    stop = threading.Event()
    first_read = threading.Barrier(3)
    bad: list[tuple[str, tuple[int, int]]] = []
    errors: list[BaseException] = []
    queries = [0]

    def reader() -> None:
        try:
            with open_loader(db_uri, "medgen") as loader:
                first = True
                while not stop.is_set():
                    for table, statement in CHECKS.items():
                        total, new_rows = loader.query(statement)[0]
                        queries[0] += 1
                        if (total, new_rows) not in ALLOWED:
                            bad.append((table, (total, new_rows)))
                    if first:
                        first_read.wait(timeout=60)
                        first = False
        except BaseException as exc:
            errors.append(exc)
            first_read.abort()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        first_read.wait(timeout=60)  # both readers are reading before the loads start
        for _ in range(2):
            assert load(new, db_uri) == 0  # full load: swap
            assert load(old, db_uri) == 0
            assert load(new, db_uri, "--mode", "delta") == 0  # delta: apply in place
            assert load(old, db_uri, "--mode", "delta") == 0
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert not bad
    assert queries[0] > 8
