"""`status` dates each table by its own file and calls releases mixed only when they are."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from py_load_medgen.report import releases_of
from tests.helpers import run_cli

NAMES = b"#CUI|name|source|SUPPRESS|\nC0000001|a|b|N|\n"
MGDEF = b"#CUI|DEF|source|SUPPRESS|\nC0000001|a definition|MSH|N|\n"


def write(path: Path, data: bytes, built: datetime) -> None:
    stamp = int(built.timestamp())
    path.write_bytes(gzip.compress(data, mtime=stamp))
    os.utime(path, (stamp, stamp))


def status(db: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, object]]:
    capsys.readouterr()
    assert run_cli("status", "--db-uri", db) == 0
    text = capsys.readouterr().out
    assert run_cli("status", "--db-uri", db, "--json") == 0
    return text, json.loads(capsys.readouterr().out)


def load(source: Path, db: str, files: str) -> None:
    code = run_cli(
        "load", "--source", str(source), "--files", files, "--db-uri", db, "--quiet",
        "--rejects-dir", str(source.parent / "rejects"),
    )  # fmt: skip
    assert code == 0


def test_partial_loads_of_one_folder_are_one_release(
    tmp_path: Path, duckdb_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    built = datetime(2026, 1, 7, 16, 30, tzinfo=UTC)
    write(folder / "NAMES.RRF.gz", NAMES, built)
    write(folder / "MGDEF.RRF.gz", MGDEF, built + timedelta(minutes=1))
    load(folder, duckdb_uri, "NAMES.RRF.gz")
    load(folder, duckdb_uri, "MGDEF.RRF.gz")
    text, shown = status(duckdb_uri, capsys)
    assert "releases" not in text
    assert shown["mixed_releases"] is False
    times = {t["table"]: t["release_time"] for t in shown["tables"]}  # type: ignore[attr-defined]
    assert times == {
        "concepts": "2026-01-07T16:30:00+00:00",
        "definitions": "2026-01-07T16:31:00+00:00",
    }


def test_a_real_release_over_a_newer_dated_sample_shows_the_real_one(
    tmp_path: Path, duckdb_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sample, real = tmp_path / "sample", tmp_path / "real"
    sample.mkdir()
    real.mkdir()
    sample_time = datetime(2030, 1, 1, tzinfo=UTC)  # a generated release dated in the future
    real_time = datetime(2026, 1, 7, 16, 30, tzinfo=UTC)
    for name, data in (("NAMES.RRF.gz", NAMES), ("MGDEF.RRF.gz", MGDEF)):
        write(sample / name, data, sample_time)
        write(real / name, data, real_time)
    load(sample, duckdb_uri, "NAMES.RRF.gz,MGDEF.RRF.gz")
    load(real, duckdb_uri, "NAMES.RRF.gz,MGDEF.RRF.gz")
    text, shown = status(duckdb_uri, capsys)
    assert shown["release_time"] == "2026-01-07T16:30:00+00:00"
    assert shown["mixed_releases"] is False
    assert text.splitlines()[0].startswith("release 2026-01-07 16:30")
    # Then one table from the sample again: now they are truly mixed, and said to be.
    load(sample, duckdb_uri, "MGDEF.RRF.gz")
    text, shown = status(duckdb_uri, capsys)
    assert shown["mixed_releases"] is True
    assert "the tables come from 2 releases" in text


def test_release_clusters() -> None:
    t = datetime(2026, 1, 7, tzinfo=UTC)
    assert releases_of([]) == []
    assert releases_of([t, t + timedelta(minutes=1), t + timedelta(hours=3)]) == [
        t + timedelta(hours=3)
    ]
    assert len(releases_of([t, t + timedelta(days=7)])) == 2
