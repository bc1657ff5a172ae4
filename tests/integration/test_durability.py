"""Loaded tables survive a crash of the server: they are ordinary, WAL-logged tables.

A throwaway cluster (never the shared server) is stopped with ``pg_ctl -m immediate`` right
after a load, which is a crash for the data: what was not in the write-ahead log is lost and
unlogged tables are emptied. Started again, every table must hold what it held.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_load_medgen.release.files import FILES, spec_for_table
from tests.conftest import _local_cluster, create_database
from tests.helpers import load_release, query, read_file_rows, same_multiset, table_rows


@pytest.fixture
def crashable() -> Iterator[tuple[str, dict[str, list[str]]]]:
    control: dict[str, list[str]] = {}
    cluster = _local_cluster(control)
    if cluster is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    for dsn in cluster:  # the cluster stops and is removed when the generator ends
        yield create_database(dsn, "medgen_crash"), control


def _crash_and_restart(control: dict[str, list[str]]) -> None:
    subprocess.run(control["stop"], check=True, capture_output=True)
    subprocess.run(control["start"], check=True, capture_output=True)


def _counts(uri: str) -> dict[str, int]:
    return {
        table: int(query(uri, f'SELECT count(*) FROM medgen."{table}"')[0][0])
        for (table,) in query(
            uri,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'medgen'",
        )
    }


def test_every_table_survives_a_crash_right_after_a_load(
    small_release: Path, crashable: tuple[str, dict[str, list[str]]]
) -> None:
    uri, control = crashable
    assert load_release(small_release, uri) == 0
    before = _counts(uri)
    assert len(before) == len(FILES) + 2 and all(before.values())
    persistence = query(
        uri,
        "SELECT DISTINCT relpersistence FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'medgen' AND relkind IN ('r', 'i')",
    )
    assert persistence == [("p",)]  # permanent: every table and index is WAL-logged
    _crash_and_restart(control)
    assert _counts(uri) == before
    spec = spec_for_table("concepts")
    expected = read_file_rows(small_release / "NAMES.RRF.gz", spec)
    assert same_multiset(table_rows(uri, "concepts", spec.column_names), expected)
    # The next weekly run works on the recovered tables as on any others.
    assert load_release(small_release, uri, "--mode", "delta") == 0


def test_unlogged_is_the_opt_in_that_a_crash_empties(
    small_release: Path, crashable: tuple[str, dict[str, list[str]]]
) -> None:
    uri, control = crashable
    assert load_release(small_release, uri, "--unlogged", "--files", "NAMES.RRF.gz") == 0
    assert query(
        uri, "SELECT relpersistence FROM pg_class WHERE oid = 'medgen.concepts'::regclass"
    ) == [("u",)]
    _crash_and_restart(control)
    assert _counts(uri)["concepts"] == 0  # the documented risk of --unlogged
    assert load_release(small_release, uri, "--files", "NAMES.RRF.gz") == 0
    assert query(
        uri, "SELECT relpersistence FROM pg_class WHERE oid = 'medgen.concepts'::regclass"
    ) == [("p",)]
