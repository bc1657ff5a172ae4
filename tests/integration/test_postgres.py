"""PostgreSQL specifics: concurrent readers, views and grants, locking, leftovers."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import psycopg
import pytest

from py_load_medgen.errors import ExitCode, LockedError
from py_load_medgen.load.postgres import PostgresLoader
from tests.helpers import load_release as load
from tests.helpers import names_release, query, two_table_release

OLD, NEW = 4_000, 6_000


def test_swaps_and_delta_applies_are_invisible_to_concurrent_readers(
    tmp_path: Path, pg_uri: str
) -> None:
    """Readers loop over every table while full loads swap and deltas apply: each read sees
    one whole release (all 'old' rows or all 'new' rows, never an empty or mixed table)."""
    # What is raced is the swap and the apply, not the volume: a few thousand rows a table.
    old = two_table_release(tmp_path, "old", OLD, "old")
    new = two_table_release(tmp_path, "new", NEW, "new")
    files = ("--files", "NAMES.RRF.gz,MGREL.RRF.gz")
    assert load(old, pg_uri, *files) == 0
    allowed = {
        "concepts": {(OLD, 0), (NEW, NEW)},
        "relationships": {(OLD, 0), (NEW, NEW)},
    }
    checks = {
        "concepts": "SELECT count(*), count(*) FILTER (WHERE preferred_name LIKE 'new%') "
        "FROM medgen.concepts",
        "relationships": "SELECT count(*), count(*) FILTER (WHERE rela = 'new') "
        "FROM medgen.relationships",
    }
    stop = threading.Event()
    bad: list[tuple[str, tuple[int, int]]] = []
    errors: list[BaseException] = []
    queries = [0]

    def reader() -> None:
        try:
            with psycopg.connect(pg_uri, autocommit=True) as conn:
                first = True
                while True:
                    # The stop is read before the round: a round begun after it proves the
                    # reader still read when the last load had finished.
                    last = stop.is_set()
                    for table, sql_text in checks.items():
                        row = conn.execute(sql_text.encode()).fetchone()
                        assert row is not None
                        queries[0] += 1
                        if (row[0], row[1]) not in allowed[table]:
                            bad.append((table, (row[0], row[1])))
                    if first:
                        reading.wait(timeout=120)
                        first = False
                    if last:
                        break
        except BaseException as exc:
            errors.append(exc)
            reading.abort()

    # Both readers have read once before the first load (the barrier), and once more after
    # the last: however busy the machine, every load ran while they read.
    reading = threading.Barrier(3)
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        reading.wait(timeout=120)
    try:
        for _ in range(2):
            assert load(new, pg_uri, *files) == 0  # full load: swap
            assert load(old, pg_uri, *files) == 0
            assert load(new, pg_uri, *files, "--mode", "delta") == 0  # delta: apply in place
            assert load(old, pg_uri, *files, "--mode", "delta") == 0
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(
        f"\nconcurrent reader queries: {queries[0]}, errors: {len(errors)}, bad reads: {len(bad)}"
    )
    assert not errors
    assert not bad
    assert queries[0] >= 2 * 2 * len(checks)


def test_views_and_grants_survive_a_swap(tmp_path: Path, pg_uri: str) -> None:
    release = names_release(tmp_path, "r", 100, "name")
    assert load(release, pg_uri) == 0
    role = "medgen_reader_" + pg_uri.rsplit("_", 1)[-1]
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}".encode())
        conn.execute(f"GRANT USAGE ON SCHEMA medgen TO {role}".encode())
        conn.execute(f"GRANT SELECT ON medgen.concepts TO {role}".encode())
        conn.execute(
            b"CREATE VIEW medgen.gtr_names AS "
            b"SELECT cui, preferred_name FROM medgen.concepts WHERE source = 'GTR'"
        )
        conn.execute(b"CREATE VIEW public.gtr_count AS SELECT count(*) AS n FROM medgen.gtr_names")
        conn.execute(f"GRANT SELECT ON medgen.gtr_names TO {role}".encode())
        conn.execute(b"COMMENT ON VIEW medgen.gtr_names IS 'GTR names'")
        conn.execute(
            b"CREATE INDEX my_lower_name ON medgen.concepts (lower(preferred_name)) "
            b"WHERE source = 'GTR'"
        )
    try:
        assert load(names_release(tmp_path, "r2", 150, "name"), pg_uri) == 0
        assert query(pg_uri, "SELECT n FROM public.gtr_count") == [(150,)]
        grants = query(
            pg_uri,
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            f"WHERE grantee = '{role}' ORDER BY table_name",
        )
        assert grants == [("concepts", "SELECT"), ("gtr_names", "SELECT")]
        assert query(pg_uri, "SELECT obj_description('medgen.gtr_names'::regclass)") == [
            ("GTR names",)
        ]
    finally:
        with psycopg.connect(pg_uri, autocommit=True) as conn:
            conn.execute(b"DROP VIEW public.gtr_count")
            conn.execute(b"DROP VIEW medgen.gtr_names")
            conn.execute(f"REVOKE ALL ON medgen.concepts FROM {role}".encode())
            conn.execute(f"REVOKE ALL ON SCHEMA medgen FROM {role}".encode())
            conn.execute(f"DROP ROLE {role}".encode())


def test_second_run_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path, pg_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = PostgresLoader(pg_uri, "medgen")
    holder.connect()
    holder.acquire_lock("holder-run")
    try:
        other = PostgresLoader(pg_uri, "medgen")
        other.connect()
        with pytest.raises(LockedError, match="py-load-medgen holder-run"):
            other.acquire_lock("second-run")
        other.close()
        capsys.readouterr()
        assert load(names_release(tmp_path, "r", 10, "x"), pg_uri) == ExitCode.LOCKED
        assert "another load holds the lock" in capsys.readouterr().err
    finally:
        holder.close()
    assert load(names_release(tmp_path, "r2", 10, "x"), pg_uri) == 0


def test_leftovers_of_a_killed_run_are_cleaned_up(tmp_path: Path, pg_uri: str) -> None:
    assert load(names_release(tmp_path, "r", 10, "x"), pg_uri) == 0
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(b"CREATE UNLOGGED TABLE medgen._staging_relationships (x text)")
        conn.execute(
            b"INSERT INTO medgen.etl_runs (run_id, mode, status, started_at, tool_version) "
            b"VALUES ('killed', 'full', 'running', now(), 'test')"
        )
    assert load(names_release(tmp_path, "r2", 12, "x"), pg_uri) == 0
    assert query(
        pg_uri,
        "SELECT status, error_message LIKE 'abandoned%' FROM medgen.etl_runs "
        "WHERE run_id = 'killed'",
    ) == [("failed", True)]
    assert query(pg_uri, "SELECT to_regclass('medgen._staging_relationships') IS NULL") == [(True,)]


def test_hostile_schema_name_is_quoted(tmp_path: Path, pg_uri: str) -> None:
    schema = 'odd "schema"; DROP TABLE x; --'
    assert load(names_release(tmp_path, "r", 10, "x"), pg_uri, "--schema", schema) == 0
    assert query(pg_uri, 'SELECT count(*) FROM "odd ""schema""; DROP TABLE x; --".concepts') == [
        (10,)
    ]


def test_emptied_unlogged_table_is_reported(
    tmp_path: Path, pg_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(names_release(tmp_path, "r", 10, "x"), pg_uri) == 0
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(b"TRUNCATE medgen.concepts")  # what crash recovery does to unlogged tables
    capsys.readouterr()
    assert load(names_release(tmp_path, "r2", 10, "x"), pg_uri) == 0
    assert "table concepts is empty although run metadata says it was loaded" in (
        capsys.readouterr().err
    )


def test_full_and_delta_as_a_role_owning_only_the_schema(tmp_path: Path, pg_uri: str) -> None:
    """The documented minimal grants: CONNECT and TEMPORARY on the database (PUBLIC has both
    by default) and ownership of the target schema; no superuser, no CREATE on the database."""
    from urllib.parse import urlsplit, urlunsplit

    role = "medgen_owner_" + pg_uri.rsplit("_", 1)[-1]
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE".encode())
        conn.execute(f"CREATE SCHEMA medgen AUTHORIZATION {role}".encode())
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}, PUBLIC".encode())
    parts = urlsplit(pg_uri)
    as_role = urlunsplit(
        (parts.scheme, f"{role}@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    try:
        assert load(names_release(tmp_path, "r1", 50, "x"), as_role) == 0
        assert load(names_release(tmp_path, "r2", 60, "y"), as_role, "--mode", "delta") == 0
        assert query(pg_uri, "SELECT count(*) FROM medgen.concepts") == [(60,)]
        assert query(pg_uri, "SELECT tableowner FROM pg_tables WHERE tablename = 'concepts'") == [
            (role,)
        ]
    finally:
        with psycopg.connect(pg_uri, autocommit=True) as conn:
            conn.execute(b"DROP SCHEMA medgen CASCADE")
            conn.execute(f"DROP ROLE {role}".encode())
