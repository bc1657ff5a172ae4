"""A password given in the DSN or through PGPASSWORD never reaches any output or table."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import query

SECRET = "Sup3r-S3cret-pw"


def with_password(uri: str) -> str:
    parts = urlsplit(uri)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{SECRET}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real executable so every byte it writes, tracebacks included, is captured."""
    return subprocess.run(
        [sys.executable, "-m", "py_load_medgen.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_password_never_printed_or_stored(pg_uri: str, tmp_path: Path, log_format: str) -> None:
    import os

    good = tmp_path / "good"
    good.mkdir()
    (good / "NAMES.RRF.gz").write_bytes(
        gzip.compress(b"#CUI|name|source|SUPPRESS|\nC0000001|a|b|N|\n")
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "NAMES.RRF.gz").write_bytes(b"not gzip")
    uri = with_password(pg_uri)
    env = {**os.environ, "PGPASSWORD": SECRET + "-env"}
    unreachable = uri.replace(urlsplit(uri).netloc, f"postgres:{SECRET}@127.0.0.1:1")
    runs = [
        cli(
            "load",
            "--source",
            str(good),
            "--files",
            "NAMES.RRF.gz",
            "--db-uri",
            uri,
            "--log-format",
            log_format,
            "--log-level",
            "DEBUG",
            env=env,
        ),
        cli(
            "load",
            "--source",
            str(bad),
            "--files",
            "NAMES.RRF.gz",
            "--db-uri",
            uri,
            "--log-format",
            log_format,
            "--log-level",
            "DEBUG",
            env=env,
        ),
        cli(
            "load",
            "--source",
            str(good),
            "--files",
            "NAMES.RRF.gz",
            "--db-uri",
            unreachable,
            "--log-format",
            log_format,
            "--log-level",
            "DEBUG",
            env=env,
        ),
        cli("load", "--help", env=env),
        cli("--help", env=env),
    ]
    assert [r.returncode for r in runs] == [0, 3, 4, 0, 0]
    for run in runs:
        assert SECRET not in run.stdout + run.stderr
    assert "***" in runs[2].stderr  # the failed connection names the URI, redacted
    dumped = query(pg_uri, "SELECT row_to_json(r)::text FROM medgen.etl_runs r") + query(
        pg_uri, "SELECT row_to_json(f)::text FROM medgen.etl_run_files f"
    )
    assert dumped
    assert all(SECRET not in row[0] for row in dumped)
