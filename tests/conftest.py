"""Shared fixtures: the genuine NCBI data, a PostgreSQL server, throwaway databases.

PostgreSQL comes from MEDGEN_TEST_DSN (a maintenance database the tests may create databases
from); without it, from testcontainers when a Docker engine answers. Without either the
integration tests skip, unless MEDGEN_REQUIRE_DB=1, which turns the skip into a failure so a
CI run can never pass without having reached the database.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
RUN_ID = pytest.StashKey[str]()
SHARED_PREFIX = "medgen_shared_"
"""Databases built once per run and shared by every worker start with this and the run's id."""


def pytest_configure(config: pytest.Config) -> None:
    """One id for the whole run, the same in every xdist worker: names of what the workers
    build once and share (``build_once``) carry it, so the controller can drop them at the end."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[RUN_ID] = str(workerinput["testrunuid"])
        return
    run_id = getattr(config.option, "testrunuid", None) or uuid.uuid4().hex
    if hasattr(config.option, "testrunuid"):
        config.option.testrunuid = run_id  # xdist hands this one to its workers
    config.stash[RUN_ID] = run_id


def _shared_database_prefix(config: pytest.Config) -> str:
    return f"{SHARED_PREFIX}{config.stash[RUN_ID][:16]}_"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (or the only process) drops the shared databases once every worker is
    done; a worker's own throwaway cluster goes away with the worker."""
    if hasattr(session.config, "workerinput") or RUN_ID not in session.config.stash:
        return
    dsn = os.environ.get("MEDGEN_TEST_DSN")
    if not dsn:
        return
    import psycopg

    prefix = _shared_database_prefix(session.config)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            names = [
                name
                for (name,) in conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
                )
            ]
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    except psycopg.OperationalError:
        pass  # no server: nothing was created on it


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


def _server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def _local_cluster(control: dict[str, list[str]] | None = None) -> Iterator[str] | None:
    """A throwaway cluster on a free port, when PostgreSQL's server binaries are installed.

    ``control``, when given, receives the ``stop`` and ``start`` commands of the cluster, for
    a test that crashes it (``stop`` is ``pg_ctl -m immediate``: a crash, for the data).
    """
    bindir = _server_binaries()
    if bindir is None:
        return None

    def gen() -> Iterator[str]:
        datadir = Path(tempfile.mkdtemp(prefix="medgen-pg-"))
        prefix: list[str] = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # initdb refuses to run as root: run the cluster as the postgres account.
            import pwd

            account = pwd.getpwnam("postgres")
            os.chown(datadir, account.pw_uid, account.pw_gid)
            prefix = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        run = functools.partial(subprocess.run, check=True, capture_output=True)
        run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]
        )
        options = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        # The server must not inherit our pipes, or waiting for pg_ctl would never end.
        log = str(datadir / "server.log")
        pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir)]
        start = [*pg_ctl, "-l", log, "-o", options, "-w", "start"]
        if control is not None:
            control["start"] = start
            control["stop"] = [*pg_ctl, "-m", "immediate", "-w", "stop"]
        run(start)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
            shutil.rmtree(datadir, ignore_errors=True)

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
    cluster = _local_cluster()
    if cluster is not None:
        yield from cluster
        return
    reason = (
        "no PostgreSQL: set MEDGEN_TEST_DSN, provide a Docker engine for testcontainers, "
        "or install the PostgreSQL server binaries"
    )
    if os.environ.get("MEDGEN_REQUIRE_DB") == "1":
        pytest.fail(reason + " (MEDGEN_REQUIRE_DB=1)")
    pytest.skip(reason)


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    import psycopg

    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}'.encode())
    return with_database(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def pg_uri(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(pg_admin_dsn, name)
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def duckdb_uri(tmp_path: Path) -> str:
    return f"duckdb:///{(tmp_path / 'medgen-mirror.duckdb').as_posix()}"


@pytest.fixture(params=["postgresql", "duckdb"])
def db_uri(request: pytest.FixtureRequest) -> str:
    """The same scenario against every built-in backend."""
    if request.param == "duckdb":
        return str(request.getfixturevalue("duckdb_uri"))
    return str(request.getfixturevalue("pg_uri"))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A directory every worker of this run sees: the parent of the workers' own temporary
    trees under xdist, the run's temporary tree without it."""
    base = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):
        base = base.parent
    out = base / f"shared-{request.config.stash[RUN_ID][:16]}"
    out.mkdir(exist_ok=True)
    return out


def build_once(shared: Path, name: str, build: Callable[[], None]) -> None:
    """Run ``build`` once per run, whichever worker asks first; the others wait for it.

    For setups that cost many seconds (loading a release to copy databases from): built once,
    instead of once in every worker that happens to run one of the tests needing it. A failed
    build leaves nothing done, so the next worker to ask tries again and reports its own error.
    """
    from filelock import FileLock

    done = shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            build()
            done.touch()


def shared_database(
    request: pytest.FixtureRequest, admin_dsn: str, what: str, build: Callable[[str], None]
) -> str:
    """The name of a database ``build(uri)`` fills once per run and server, for tests that only
    read it or copy it (``CREATE DATABASE ... TEMPLATE``); dropped when the run ends. A
    worker's own throwaway cluster (no MEDGEN_TEST_DSN) gets its own."""
    import hashlib

    shared: Path = request.getfixturevalue("shared_dir")
    name = _shared_database_prefix(request.config) + what
    server = hashlib.sha256(admin_dsn.encode()).hexdigest()[:12]

    def make() -> None:
        drop_database(admin_dsn, name)  # a half-built one from a failed attempt
        build(create_database(admin_dsn, name))

    build_once(shared, f"db-{what}-{server}", make)
    return name


@pytest.fixture(scope="session")
def docs_site(shared_dir: Path) -> Path:
    """The docs site, built with ``mkdocs build --strict`` once per run: the test that the
    site builds and the browser tests read the same build."""
    out = shared_dir / "site"
    log = shared_dir / "site-build.log"
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed")

    def build() -> None:
        result = subprocess.run(
            [mkdocs, "build", "--strict", "--site-dir", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            check=False,
            timeout=300,
        )
        log.write_text(result.stderr)
        assert result.returncode == 0, result.stderr[-3000:]

    build_once(shared_dir, "site", build)
    return out


@pytest.fixture(scope="session")
def small_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated release of every file, small enough for a fast test."""
    from py_load_medgen.generate import generate_release

    out = tmp_path_factory.mktemp("release-small")
    generate_release(out, scale=0.0005, seed=3)
    return out


@pytest.fixture(autouse=True)
def _kept_files_under_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Files kept for deltas go under the test's temporary tree, never the user's data dir."""
    base = tmp_path_factory.mktemp("kept")
    previous = os.environ.get("MEDGEN_KEPT_DIR")
    os.environ["MEDGEN_KEPT_DIR"] = str(base)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MEDGEN_KEPT_DIR", None)
        else:
            os.environ["MEDGEN_KEPT_DIR"] = previous


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first: with parallel workers, a long test handed out last would keep one
    worker busy while the others sit idle. Slow-marked tests, then the integration tests (a
    database each, many seconds for some), then the unit tests, most of them short, which fill
    the workers at the end. The order within each is kept."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("slow") is None,
            item.get_closest_marker("integration") is None,
        )
    )
