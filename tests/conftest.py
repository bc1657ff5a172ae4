"""Shared fixtures: the genuine NCBI data, a PostgreSQL server, throwaway databases.

PostgreSQL comes from MEDGEN_TEST_DSN (a maintenance database the tests may create databases
from); without it, from testcontainers when a Docker engine answers. Without either the
integration tests skip, unless MEDGEN_REQUIRE_DB=1, which turns the skip into a failure so a
CI run can never pass without having reached the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def _real_data_dir() -> Path:
    env = os.environ.get("MEDGEN_REAL_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "real-data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The genuine NCBI files kept outside the repository."""
    path = _real_data_dir()
    if not (path / "NAMES.RRF.gz").exists():
        if os.environ.get("MEDGEN_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"genuine MedGen data not found at {path} (MEDGEN_REQUIRE_REAL_DATA=1)")
        pytest.skip(f"genuine MedGen data not found at {path}; set MEDGEN_REAL_DATA")
    return path


def _docker_dsn() -> Iterator[str] | None:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return None
    from testcontainers.postgres import PostgresContainer

    def gen() -> Iterator[str]:
        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()

    return gen()


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """A DSN with the right to create databases."""
    dsn = os.environ.get("MEDGEN_TEST_DSN")
    if dsn:
        yield dsn
        return
    container = _docker_dsn()
    if container is not None:
        yield from container
        return
    reason = "no PostgreSQL: set MEDGEN_TEST_DSN or provide a Docker engine for testcontainers"
    if os.environ.get("MEDGEN_REQUIRE_DB") == "1":
        pytest.fail(reason + " (MEDGEN_REQUIRE_DB=1)")
    pytest.skip(reason)


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@pytest.fixture
def pg_uri(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    import psycopg

    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def duckdb_uri(tmp_path: Path) -> str:
    return f"duckdb:///{(tmp_path / 'medgen.duckdb').as_posix()}"


@pytest.fixture(params=["postgresql", "duckdb"])
def db_uri(request: pytest.FixtureRequest) -> str:
    """The same scenario against every built-in backend."""
    if request.param == "duckdb":
        pytest.importorskip("py_load_medgen.load.duckdb", reason="DuckDB backend not built yet")
        return str(request.getfixturevalue("duckdb_uri"))
    return str(request.getfixturevalue("pg_uri"))


@pytest.fixture(scope="session")
def small_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated release of every file, small enough for a fast test."""
    from py_load_medgen.generate import generate_release

    out = tmp_path_factory.mktemp("release-small")
    generate_release(out, scale=0.0005, seed=3)
    return out
