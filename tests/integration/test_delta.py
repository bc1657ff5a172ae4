"""Delta loads: full(R1) then delta(R2) equals full(R2), table by table, with exact counts."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen.errors import ExitCode
from py_load_medgen.generate import derive_release, generate_release
from py_load_medgen.release.files import FILES, spec_for_table
from tests.helpers import load_release as load
from tests.helpers import query, read_file_rows, table_rows


def served(directory: Path, table: str) -> Path:
    spec = spec_for_table(table)
    return next(p for p in directory.iterdir() if p.name.lower() == spec.name.lower())


def assert_mirrors(uri: str, directory: Path, tables: list[str]) -> None:
    for table in tables:
        spec = spec_for_table(table)
        expected = Counter(read_file_rows(served(directory, table), spec))
        assert Counter(table_rows(uri, table, spec.column_names)) == expected, table


def run_counts(uri: str) -> dict[str, tuple[Any, ...]]:
    rows = query(
        uri,
        "SELECT f.table_name, f.rows_inserted, f.rows_updated, f.rows_deleted, f.rows_unchanged, "
        "f.skipped FROM medgen.etl_run_files f JOIN medgen.etl_runs r USING (run_id) "
        "WHERE r.mode = 'delta' AND r.status = 'succeeded' AND r.started_at = "
        "(SELECT max(started_at) FROM medgen.etl_runs WHERE mode = 'delta')",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("delta")
    r1, r2 = root / "r1", root / "r2"
    generate_release(r1, scale=0.0005, seed=11)
    counts = derive_release(
        r1, r2, churn=0.05, seed=5, reorder_columns=("concepts", "definitions", "pubmed_links")
    )
    return r1, r2, counts


def test_full_then_delta_equals_full(
    two_releases: tuple[Path, Path, dict[str, Any]], db_uri: str
) -> None:
    r1, r2, expected = two_releases
    assert load(r1, db_uri) == 0
    assert load(r2, db_uri, "--mode", "delta") == 0
    tables = [s.table for s in FILES]
    assert_mirrors(db_uri, r2, tables)
    counts = run_counts(db_uri)
    for table, want in expected.items():
        got = counts[table]
        assert got[:4] == (
            want["inserted"],
            want["updated"],
            want["deleted"],
            want["unchanged"],
        ), table
    churned = [t for t, c in expected.items() if c["inserted"] or c["deleted"] or c["updated"]]
    assert len(churned) >= 10


def test_duckdb_compares_big_tables_a_range_at_a_time_exactly(
    two_releases: tuple[Path, Path, dict[str, Any]],
    duckdb_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB's aggregate cannot spill, so big whole-row comparisons run in slices: forced
    here on small tables, with integer (pubmed_links.uid) and text (source_links.cui) bounds."""
    from py_load_medgen.load import duckdb as backend

    monkeypatch.setattr(backend, "_SLICE_ROWS", 100)
    sliced: dict[str, tuple[str, ...]] = {}
    original = backend.DuckDBLoader._slices_of

    def spy(self: backend.DuckDBLoader, spec: Any, rows: int) -> tuple[str, ...]:
        sliced[spec.table] = original(self, spec, rows)
        return sliced[spec.table]

    monkeypatch.setattr(backend.DuckDBLoader, "_slices_of", spy)
    r1, r2, expected = two_releases
    assert load(r1, duckdb_uri) == 0
    # Without kept files the delta compares in the database, which is what this tests.
    assert load(r2, duckdb_uri, "--mode", "delta", "--no-keep-files") == 0
    assert len(sliced["pubmed_links"]) > 20 and len(sliced["source_links"]) > 1, sliced
    assert "IS NULL" in sliced["source_links"][0] and "'" in sliced["source_links"][1]
    assert_mirrors(duckdb_uri, r2, [s.table for s in FILES])
    counts = run_counts(duckdb_uri)
    for table, want in expected.items():
        assert counts[table][:4] == tuple(
            want[k] for k in ("inserted", "updated", "deleted", "unchanged")
        ), table


def test_delta_of_the_loaded_release_changes_nothing(
    two_releases: tuple[Path, Path, dict[str, Any]], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, _, _ = two_releases
    assert load(r1, db_uri) == 0
    capsys.readouterr()
    assert load(r1, db_uri, "--mode", "delta", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert all(t["skipped"] for t in summary["tables"])
    assert sum(t["inserted"] + t["updated"] + t["deleted"] for t in summary["tables"]) == 0
    assert_mirrors(db_uri, r1, ["concepts", "pubmed_links"])


def test_dry_run_counts_without_applying(
    two_releases: tuple[Path, Path, dict[str, Any]], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, r2, expected = two_releases
    assert load(r1, db_uri) == 0
    capsys.readouterr()
    assert load(r2, db_uri, "--mode", "delta", "--dry-run", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    by_table = {t["table"]: t for t in summary["tables"]}
    assert by_table["concepts"]["deleted"] == expected["concepts"]["deleted"]
    assert by_table["relationships"]["updated"] == expected["relationships"]["updated"]
    assert_mirrors(db_uri, r1, ["concepts", "relationships", "definitions"])
    assert query(db_uri, "SELECT count(*) FROM medgen.etl_runs") == [(1,)]
    assert load(r2, db_uri, "--mode", "delta", "--dry-run") == 0
    assert "dry run (nothing applied)" in capsys.readouterr().out


def test_delta_needs_a_loaded_release(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "r"
    generate_release(release, scale=0.0002, seed=1, files=["concepts"])
    assert (
        load(release, db_uri, "--mode", "delta", "--files", "NAMES.RRF.gz") == ExitCode.NOT_LOADED
    )
    assert "run a full load first" in capsys.readouterr().err


def test_failed_delta_rolls_back(tmp_path: Path, db_uri: str) -> None:
    r1 = tmp_path / "r1"
    generate_release(r1, scale=0.0002, seed=1, files=["concepts", "relationships"])
    subset = ("--files", "NAMES.RRF.gz,MGREL.RRF.gz")
    assert load(r1, db_uri, *subset) == 0
    r2 = tmp_path / "r2"
    derive_release(r1, r2, churn=0.1, seed=2)
    with (r2 / "NAMES.RRF.gz").open("ab") as fh:
        fh.write(b"broken")  # trailing garbage after the gzip stream: the whole file is bad
    assert load(r2, db_uri, "--mode", "delta", *subset) == ExitCode.BAD_INPUT
    assert_mirrors(db_uri, r1, ["concepts", "relationships"])
    statuses = query(db_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    assert statuses == [("succeeded",), ("failed",)]


def _keyed_counts(old: Path, new: Path, table: str, key: str) -> tuple[int, int, int, int]:
    spec = spec_for_table(table)
    index = spec.column_names.index(key)
    before = {r[index]: r for r in read_file_rows(old, spec)}
    after = {r[index]: r for r in read_file_rows(new, spec)}
    inserted = len(after.keys() - before.keys())
    deleted = len(before.keys() - after.keys())
    updated = sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
    return inserted, updated, deleted, len(after) - inserted - updated


@pytest.mark.slow
def test_genuine_consecutive_builds(real_data: Path, db_uri: str, tmp_path: Path) -> None:
    builds = [real_data / "releases" / b for b in ("2021-08-11", "2021-08-18", "2022-05-11")]
    local = []
    for build in builds:
        copy = tmp_path / build.name
        shutil.copytree(build, copy)
        local.append(copy)
    assert load(local[0], db_uri, "--files", "NAMES.RRF.gz,MGREL.RRF.gz") == 0
    for old, new in itertools.pairwise(local):
        assert load(new, db_uri, "--mode", "delta", "--files", "NAMES.RRF.gz,MGREL.RRF.gz") == 0
        assert_mirrors(db_uri, new, ["concepts", "relationships"])
        counts = run_counts(db_uri)
        names = _keyed_counts(old / "NAMES.RRF.gz", new / "NAMES.RRF.gz", "concepts", "cui")
        rels = _keyed_counts(old / "MGREL.RRF.gz", new / "MGREL.RRF.gz", "relationships", "rui")
        assert counts["concepts"][:4] == names
        assert counts["relationships"][:4] == rels
        if new.name == "2021-08-18":
            assert names == (10, 8, 1, 204_572 + 1)  # 19 of 204,591 rows changed
        methods = query(
            db_uri,
            "SELECT DISTINCT f.compare_method FROM medgen.etl_run_files f JOIN medgen.etl_runs r "
            "USING (run_id) WHERE r.started_at = (SELECT max(started_at) FROM medgen.etl_runs)",
        )
        assert methods == [("file",)]  # both tables from the kept files, none in the database


def test_views_grants_and_indexes_survive_delta(
    two_releases: tuple[Path, Path, dict[str, Any]], pg_uri: str
) -> None:
    import psycopg

    r1, r2, _ = two_releases
    assert load(r1, pg_uri) == 0
    role = "medgen_delta_" + pg_uri.rsplit("_", 1)[-1]
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}".encode())
        conn.execute(f"GRANT SELECT ON medgen.concepts TO {role}".encode())
        conn.execute(b"CREATE VIEW medgen.v AS SELECT cui FROM medgen.concepts")
        conn.execute(b"CREATE INDEX mine ON medgen.concepts (lower(preferred_name))")
    try:
        assert load(r2, pg_uri, "--mode", "delta") == 0
        n = query(pg_uri, "SELECT count(*) FROM medgen.v")[0][0]
        assert n == len(read_file_rows(served(r2, "concepts"), spec_for_table("concepts")))
        assert query(
            pg_uri, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('mine', 'concepts_pkey')"
        ) == [(2,)]
        grants = query(
            pg_uri,
            "SELECT privilege_type FROM information_schema.role_table_grants "
            f"WHERE grantee = '{role}'",
        )
        assert grants == [("SELECT",)]
    finally:
        with psycopg.connect(pg_uri, autocommit=True) as conn:
            conn.execute(b"DROP VIEW medgen.v")
            conn.execute(f"REVOKE ALL ON medgen.concepts FROM {role}".encode())
            conn.execute(f"DROP ROLE {role}".encode())


def _release(root: Path, name: str, file: str, header: str, rows: list[str]) -> Path:
    out = root / name
    out.mkdir()
    data = (header + "".join(row + "|\n" for row in rows)).encode()
    (out / file).write_bytes(gzip.compress(data) if file.endswith(".gz") else data)
    return out


PUBMED = ("medgen_pubmed_lnk.txt.gz", "#UID|CUI|NAME|PMID|\n")
BEFORE = [
    *("1|C0000001|one|100", "1|C0000001|one|150"),  # one row changes, the CUI keeps 2 rows
    *["2|C0000002|two|200"] * 2,  # a duplicate gains a copy
    *["3|C0000003|three|300"] * 3,  # ... or loses two
    "3|C0000003|three|301",
    *("4|C0000004|four|400", "4|C0000004|four|401"),  # the whole CUI goes
    "6|C0000006||600",  # an empty name, unchanged
]
AFTER = [
    *("1|C0000001|one|101", "1|C0000001|one|150"),
    *["2|C0000002|two|200"] * 3,
    *("3|C0000003|three|300", "3|C0000003|three|301"),
    *["5|C0000005|five|500"] * 2,  # a new CUI, twice
    "6|C0000006||600",
]


@pytest.mark.parametrize("few", [False, True], ids=["scan", "lookup"])
def test_whole_rows_keep_exact_multiplicities(
    tmp_path: Path, db_uri: str, few: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from py_load_medgen.load import changes

    # PostgreSQL finds a big change set's rows by a scan of the table, a small one by
    # lookups: here the change set is half the table, so "lookup" forces the second way.
    monkeypatch.setattr(changes, "_FEW_ROWS", 0 if few else changes._FEW_ROWS)
    r1 = _release(tmp_path, "r1", *PUBMED, BEFORE)
    r2 = _release(tmp_path, "r2", *PUBMED, AFTER)
    files = ("--files", PUBMED[0])
    assert load(r1, db_uri, *files) == 0
    assert load(r2, db_uri, "--mode", "delta", *files) == 0
    assert_mirrors(db_uri, r2, ["pubmed_links"])
    # inserted: 101, a third 200, two 500; deleted: 100, two 300, 400 and 401
    assert run_counts(db_uri)["pubmed_links"][:4] == (4, 0, 5, len(AFTER) - 4)
    assert load(r1, db_uri, "--mode", "delta", *files) == 0  # and back
    assert_mirrors(db_uri, r1, ["pubmed_links"])
    assert run_counts(db_uri)["pubmed_links"][:4] == (5, 0, 4, len(BEFORE) - 5)


@pytest.mark.parametrize("copies", [1, 2], ids=["keyed", "whole-rows"])
def test_null_and_empty_string_differ(tmp_path: Path, db_uri: str, copies: int) -> None:
    """A source without the optional URL column loads NULL; one with it empty loads ''."""
    name = "MedGen_Sources.txt"
    r1 = _release(tmp_path, "r1", name, "#Source|Abbreviation|Description|\n", ["S|X|d"] * copies)
    r2 = _release(
        tmp_path, "r2", name, "#Source|Abbreviation|Description|URL|\n", ["S|X|d|"] * copies
    )
    assert load(r1, db_uri, "--files", name) == 0
    assert table_rows(db_uri, "sources", ["url"]) == [(None,)] * copies
    assert load(r2, db_uri, "--mode", "delta", "--files", name) == 0
    assert table_rows(db_uri, "sources", ["url"]) == [("",)] * copies
    changed = (0, 1, 0, 0) if copies == 1 else (copies, 0, copies, 0)
    assert run_counts(db_uri)["sources"][:4] == changed
    matched = query(
        db_uri,
        "SELECT f.match_key FROM medgen.etl_run_files f JOIN medgen.etl_runs r USING (run_id) "
        "WHERE r.mode = 'delta'",
    )
    assert matched == [("abbreviation" if copies == 1 else None,)]
