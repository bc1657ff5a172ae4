"""Failures of the environment are clean errors with their own exit codes, never "internal error".

Each fault is one the environment really produces (a terminated session, a full disk, a file
the user may not read, memory running out, a driver error); where the test cannot produce it
for real (ENOSPC without filling a real disk, a permission a root user ignores) it is raised
at the exact call the kernel would fail, with the errno the kernel gives.
"""

from __future__ import annotations

import builtins
import errno
import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen import cli
from py_load_medgen.errors import ExitCode
from py_load_medgen.load.postgres import PostgresLoader
from py_load_medgen.source import mirror as mirror_module
from tests.helpers import query, run_cli
from tests.servers.http_files import serve

NAMES = b"#CUI|name|source|SUPPRESS|\n" + b"".join(
    f"C{i:07d}|name {i}|GTR|N|\n".encode() for i in range(5000)
)


@pytest.fixture
def names_dir(tmp_path: Path) -> Path:
    source = tmp_path / "release"
    source.mkdir()
    (source / "NAMES.RRF.gz").write_bytes(gzip.compress(NAMES))
    return source


def _load(source: Path, uri: str, *extra: str) -> int:
    return run_cli(
        "load",
        "--source",
        str(source),
        "--files",
        "NAMES.RRF.gz",
        "--db-uri",
        uri,
        "--rejects-dir",
        str(source.parent / "rejects"),
        "--quiet",
        *extra,
    )


def _no_internal_error(err: str) -> None:
    assert "internal error" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_session_terminated_during_copy_is_exit_4_and_the_run_is_marked_failed_at_once(
    pg_uri: str,
    names_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    import psycopg

    assert _load(names_dir, pg_uri) == 0
    before = query(pg_uri, "SELECT count(*) FROM medgen.concepts")
    capsys.readouterr()
    original = PostgresLoader.bulk_load

    def killed(self: PostgresLoader, spec: Any, encoded: Any) -> int:
        # What an operator's pg_terminate_backend does to the loader in the middle of its COPY.
        with psycopg.connect(pg_uri, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (self.conn.info.backend_pid,))
        return original(self, spec, encoded)

    monkeypatch.setattr(PostgresLoader, "bulk_load", killed)
    code = _load(names_dir, pg_uri, "--log-format", log_format)
    err = capsys.readouterr().err
    assert code == ExitCode.DATABASE
    _no_internal_error(err)
    assert "connection to the database was lost" in err
    assert "nothing was published" in err
    if log_format == "json":
        lines = [json.loads(line) for line in err.splitlines() if line.strip()]
        assert lines[-1]["level"] == "error"
        assert lines[-1]["exit_code"] == ExitCode.DATABASE
        assert lines[-1]["hint"]
    # Reachable again at once: the run is recorded as failed by this run, not a later one.
    runs = query(pg_uri, "SELECT status, error_message FROM medgen.etl_runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["succeeded", "failed"]
    assert "connection to the database was lost" in runs[-1][1]
    assert query(pg_uri, "SELECT count(*) FROM medgen.concepts") == before


def test_server_gone_for_good_leaves_the_run_to_the_next_one(
    pg_uri: str,
    names_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import psycopg

    original = PostgresLoader.bulk_load

    def killed(self: PostgresLoader, spec: Any, encoded: Any) -> int:
        with psycopg.connect(pg_uri, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (self.conn.info.backend_pid,))

        def unreachable(*_args: Any, **_kwargs: Any) -> Any:
            raise psycopg.OperationalError("connection refused")

        monkeypatch.setattr(psycopg, "connect", unreachable)
        return original(self, spec, encoded)

    monkeypatch.setattr(PostgresLoader, "bulk_load", killed)
    assert _load(names_dir, pg_uri) == ExitCode.DATABASE
    err = capsys.readouterr().err
    _no_internal_error(err)
    assert "next run marks this run failed" in err
    monkeypatch.undo()
    assert query(pg_uri, "SELECT status FROM medgen.etl_runs") == [("running",)]
    assert _load(names_dir, pg_uri) == 0
    statuses = query(pg_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    assert statuses[0][0] == "failed" and statuses[-1][0] == "succeeded"


def test_disk_full_in_the_download_cache_is_exit_5_and_the_partial_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "srv" / "pub" / "medgen"
    root.mkdir(parents=True)
    body = gzip.compress(NAMES * 20, compresslevel=0)
    (root / "NAMES.RRF.gz").write_bytes(body)
    cache = tmp_path / "cache"
    written = [0]

    real_write = mirror_module._write

    class NearlyFull:
        """The partial file on a disk with room for one chunk: the next write() fails."""

        def __init__(self, out: Any) -> None:
            self.out = out

        def write(self, chunk: bytes) -> int:
            if written[0]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written[0] += len(chunk)
            return int(self.out.write(chunk))

    def write(out: Any, chunk: bytes, where: Path, remaining: int) -> None:
        real_write(NearlyFull(out), chunk, where, remaining)  # type: ignore[arg-type]

    monkeypatch.setattr(mirror_module, "_write", write)
    with serve(root) as (url, _state):
        code = run_cli(
            "download", "--source", url, "--files", "NAMES.RRF.gz", "--download-dir", str(cache)
        )
    err = capsys.readouterr().err
    assert code == ExitCode.SOURCE
    _no_internal_error(err)
    assert f"no space left on the device of {cache}" in err
    assert "more bytes are needed" in err
    assert not (cache / "NAMES.RRF.gz").exists()
    part = cache / "NAMES.RRF.gz.part"
    assert part.exists() and 0 < part.stat().st_size <= len(body)


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Paths that open() refuses with EACCES, as for any user but root; chmod 000 too, which
    is what stops a non-root user."""
    refused: list[Path] = []
    real_open = builtins.open

    def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | Path) and Path(file) in refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)
    yield refused
    for path in refused:
        path.chmod(0o644)


def test_unreadable_source_file_is_exit_5_naming_it(
    duckdb_uri: str,
    names_dir: Path,
    unreadable: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = names_dir / "NAMES.RRF.gz"
    target.chmod(0)
    unreadable.append(target)
    code = _load(names_dir, duckdb_uri)
    err = capsys.readouterr().err
    assert code == ExitCode.SOURCE
    _no_internal_error(err)
    assert str(target) in err and "permission denied" in err


def test_out_of_memory_is_exit_9(
    duckdb_uri: str,
    names_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from py_load_medgen import pipeline

    def exhausted(*_args: Any, **_kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(pipeline, "encode", exhausted)
    code = _load(names_dir, duckdb_uri)
    err = capsys.readouterr().err
    assert code == ExitCode.RESOURCES
    _no_internal_error(err)
    assert "out of memory" in err


def test_duckdb_file_in_a_place_that_cannot_hold_it_is_exit_4(
    tmp_path: Path, names_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    code = _load(names_dir, f"duckdb:///{blocker}/medgen.duckdb")
    err = capsys.readouterr().err
    assert code == ExitCode.DATABASE
    assert "cannot create the directory of DuckDB file" in err
    _no_internal_error(err)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (OSError(errno.EIO, "Input/output error", "/data/x"), ExitCode.SOURCE),
        (OSError(errno.ENOSPC, "No space left on device", "/data"), ExitCode.SOURCE),
        (PermissionError(errno.EACCES, "Permission denied", "/data/x"), ExitCode.SOURCE),
        (MemoryError(), ExitCode.RESOURCES),
    ],
)
def test_every_environment_fault_reaching_the_cli_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fault: BaseException,
    expected: ExitCode,
) -> None:
    from py_load_medgen import runner

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise fault

    monkeypatch.setattr(runner, "load", failing)
    code = cli.main(["load", "--source", "x", "--db-uri", "duckdb:///x.duckdb", "--quiet"])
    err = capsys.readouterr().err
    assert code == expected
    _no_internal_error(err)


def test_driver_errors_are_database_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb
    import psycopg

    from py_load_medgen import runner

    for fault in (
        psycopg.OperationalError("server closed the connection unexpectedly"),
        # What a server restart sends the sessions it ends (smart/fast/immediate shutdown).
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CrashShutdown("terminating connection because of crash"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.DiskFull("could not extend file"),
        duckdb.IOException("could not write file"),
    ):

        def failing(*_args: Any, _fault: BaseException = fault, **_kwargs: Any) -> Any:
            raise _fault

        monkeypatch.setattr(runner, "load", failing)
        code = cli.main(["load", "--source", "x", "--db-uri", "duckdb:///x.duckdb", "--quiet"])
        err = capsys.readouterr().err
        assert code == ExitCode.DATABASE, err
        _no_internal_error(err)
        lost = isinstance(fault, psycopg.OperationalError) and not isinstance(
            fault, psycopg.errors.DiskFull
        )
        assert ("connection to the database was lost" in err) == lost, err


def test_a_real_bug_is_still_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from py_load_medgen import runner

    def buggy(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr(runner, "load", buggy)
    code = cli.main(["load", "--source", "x", "--db-uri", "duckdb:///x.duckdb", "--quiet"])
    assert code == ExitCode.FAILURE
    assert "internal error: KeyError" in capsys.readouterr().err


def test_connection_lost_at_the_commit_says_the_outcome_is_unknown(
    pg_uri: str,
    names_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import psycopg

    assert _load(names_dir, pg_uri) == 0
    before = query(pg_uri, "SELECT count(*) FROM medgen.concepts")
    capsys.readouterr()
    original = PostgresLoader.record_success

    def cut(self: PostgresLoader, run: Any, loads: Any) -> None:
        original(self, run, loads)  # the last statement before the publishing commit
        with psycopg.connect(pg_uri, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (self.conn.info.backend_pid,))

    monkeypatch.setattr(PostgresLoader, "record_success", cut)
    assert _load(names_dir, pg_uri) == ExitCode.DATABASE
    err = capsys.readouterr().err
    _no_internal_error(err)
    assert "lost while committing" in err and "unknown" in err
    assert "nothing was published" not in err
    # Here the server rolled back: the run is recorded failed, the old release is intact.
    statuses = query(pg_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    assert [s for (s,) in statuses] == ["succeeded", "failed"]
    assert query(pg_uri, "SELECT count(*) FROM medgen.concepts") == before
