"""The bad-input corpus: every malformed file fails with its own message and exit code 3,
names the file (and line and column where they apply), and leaves production untouched."""

from __future__ import annotations

import gzip
import os
import tomllib
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from tests.helpers import query, run_cli

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text())


def test_corpus_is_complete() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == set(CASES)
    assert len(CASES) >= 25


def _expect(case: str, err: str) -> None:
    spec = CASES[case]
    (served,) = list((CORPUS / case).iterdir())
    assert err.startswith(f"error: {served.name}"), err
    assert spec["message"] in err, err
    if "line" in spec:
        assert f"line {spec['line']}" in err, err
    if "column" in spec:
        assert f"column {spec['column']}" in err, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(
    case: str, db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "NAMES.RRF.gz").write_bytes(
        gzip.compress(b"#CUI|name|source|SUPPRESS|\nC0000001|Previous release|GTR|N|\n", mtime=1)
    )
    os.utime(good / "NAMES.RRF.gz", (1, 1))  # built before the corpus: not a step back in time
    common = ["--db-uri", db_uri, "--rejects-dir", str(tmp_path / "rejects")]
    assert run_cli("load", "--source", str(good), "--files", "NAMES.RRF.gz", *common) == 0
    (served,) = list((CORPUS / case).iterdir())
    capsys.readouterr()
    code = run_cli(
        "load",
        "--source",
        str(CORPUS / case),
        "--files",
        served.name,
        *common,
        *CASES[case].get("args", []),
    )
    assert code == ExitCode.BAD_INPUT
    _expect(case, capsys.readouterr().err)
    assert query(db_uri, 'SELECT cui, preferred_name FROM "medgen"."concepts"') == [
        ("C0000001", "Previous release")
    ]
    tables = query(
        db_uri,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'medgen' "
        "ORDER BY table_name",
    )
    assert tables == [("concepts",), ("etl_run_changes",), ("etl_run_files",), ("etl_runs",)]
    assert query(db_uri, 'SELECT status FROM "medgen"."etl_runs" ORDER BY started_at') == [
        ("succeeded",),
        ("failed",),
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_dry_run_reports_the_same_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (served,) = list((CORPUS / case).iterdir())
    code = run_cli(
        "load",
        "--dry-run",
        "--source",
        str(CORPUS / case),
        "--files",
        served.name,
        "--rejects-dir",
        str(tmp_path / "rejects"),
        *CASES[case].get("args", []),
    )
    assert code == ExitCode.BAD_INPUT
    _expect(case, capsys.readouterr().err)
