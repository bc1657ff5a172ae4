"""The one-load-at-a-time lock cannot be bypassed by spelling a schema two ways.

PostgreSQL cuts identifiers to 63 bytes, so ``m...m_v2`` (67 bytes) and ``m...m`` (63) were
one schema under two advisory-lock keys: two loads ran at once and mixed two releases.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from py_load_medgen import events
from py_load_medgen.errors import ExitCode, UsageError
from py_load_medgen.load.postgres import PostgresLoader, lock_key
from tests.helpers import load_release, query

SHORT = "m" * 63
LONG = "m" * 63 + "_v2"


def _names(tmp_path: Path, name: str, n: int) -> Path:
    out = tmp_path / name
    out.mkdir()
    rows = b"".join(f"C{i:07d}|{name} {i}|GTR|N|\n".encode() for i in range(n))
    (out / "NAMES.RRF.gz").write_bytes(gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + rows))
    return out


def _load(source: Path, uri: str, *extra: str) -> int:
    return load_release(source, uri, "--files", "NAMES.RRF.gz", *extra)


def test_a_schema_name_postgres_would_cut_is_refused(
    tmp_path: Path, pg_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release = _names(tmp_path, "r", 10)
    code = _load(release, pg_uri, "--schema", LONG)
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert LONG in err and "66 bytes" in err and "63" in err
    with pytest.raises(UsageError):
        PostgresLoader(pg_uri, "é" * 32)  # 64 bytes in UTF-8, though 32 characters
    PostgresLoader(pg_uri, "é" * 31)  # 62 bytes: fine
    assert query(pg_uri, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'mmm%'") == [(0,)]


def test_the_lock_key_is_the_schema_the_server_resolved(pg_uri: str) -> None:
    first = PostgresLoader(pg_uri, SHORT)
    first.connect()
    try:
        first.acquire_lock("one")
        oid = query(pg_uri, f"SELECT oid FROM pg_namespace WHERE nspname = '{SHORT}'")[0][0]
        assert first._lock_key == lock_key(int(oid))
    finally:
        first.close()


def _other_process(source: Path, uri: str, schema: str) -> int:
    """A load in a process of its own, as a second cron job would run it."""
    args = ["load", "--source", str(source), "--db-uri", uri, "--files", "NAMES.RRF.gz"]
    args += ["--schema", schema, "--rejects-dir", str(source.parent / "rejects"), "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "py_load_medgen.cli", *args], capture_output=True, check=False
    )
    return done.returncode


def test_two_loads_with_names_that_used_to_collide(tmp_path: Path, pg_uri: str) -> None:
    """While one load holds the lock, a load naming the schema the other way is refused
    before it touches anything, and one naming it the same way meets the lock."""
    r1 = _names(tmp_path, "r1", 2_000)
    r2 = _names(tmp_path, "r2", 2_000)
    assert _load(r1, pg_uri, "--schema", SHORT) == 0
    others: dict[str, int] = {}

    def on_event(event: events.Event) -> None:
        if event.kind == "staging_ready" and not others:
            others["long"] = _other_process(r1, pg_uri, LONG)
            others["short"] = _other_process(r1, pg_uri, SHORT)

    unsubscribe = events.subscribe(on_event)
    try:
        assert _load(r2, pg_uri, "--schema", SHORT) == 0
    finally:
        unsubscribe()
    assert others == {"long": ExitCode.USAGE, "short": ExitCode.LOCKED}
    rows = query(
        pg_uri, f"SELECT DISTINCT split_part(preferred_name, ' ', 1) FROM \"{SHORT}\".concepts"
    )
    assert rows == [("r2",)]
    runs = query(pg_uri, f'SELECT status FROM "{SHORT}".etl_runs ORDER BY started_at')
    assert runs == [("succeeded",), ("succeeded",)]
