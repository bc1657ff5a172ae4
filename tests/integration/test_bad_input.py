"""The bad-input corpus: every malformed file fails with its own message and exit code 3,
names the file (and line and column where they apply), and leaves production untouched."""

from __future__ import annotations

import gzip
import os
import shutil
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from tests.conftest import build_once, create_database, drop_database, shared_database
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


def _load_previous(shared: Path, db_uri: str) -> None:
    """The release every case follows: one concept, built before the corpus (not a step back
    in time)."""
    good = shared / "bad-input-previous"
    shutil.rmtree(good, ignore_errors=True)
    good.mkdir()
    (good / "NAMES.RRF.gz").write_bytes(
        gzip.compress(b"#CUI|name|source|SUPPRESS|\nC0000001|Previous release|GTR|N|\n", mtime=1)
    )
    os.utime(good / "NAMES.RRF.gz", (1, 1))
    common = ["--db-uri", db_uri, "--rejects-dir", str(good.parent / "bad-input-rejects")]
    assert run_cli("load", "--source", str(good), "--files", "NAMES.RRF.gz", *common) == 0


@pytest.fixture(params=["postgresql", "duckdb"])
def db_uri(request: pytest.FixtureRequest, shared_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A database holding the previous release, on each backend: a copy of one loaded once per
    run (the load is what takes the time, and it is the same for every case)."""
    if request.param == "duckdb":
        template = shared_dir / "bad-input-previous.duckdb"

        def build() -> None:
            template.unlink(missing_ok=True)
            _load_previous(shared_dir, f"duckdb:///{template.as_posix()}")

        build_once(shared_dir, "bad-input-duckdb", build)
        copy = tmp_path / "medgen-mirror.duckdb"
        shutil.copy(template, copy)
        yield f"duckdb:///{copy.as_posix()}"
        return
    admin = str(request.getfixturevalue("pg_admin_dsn"))
    source = shared_database(
        request, admin, "bad_input_previous", lambda uri: _load_previous(shared_dir, uri)
    )
    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(admin, name, template=source)
    finally:
        drop_database(admin, name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(
    case: str, db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--db-uri", db_uri, "--rejects-dir", str(tmp_path / "rejects")]
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
    from py_load_medgen.answers.views import ORDER  # the answers published from `concepts`

    assert [t for (t,) in tables if t not in ORDER] == [
        "concepts",
        "etl_run_changes",
        "etl_run_files",
        "etl_runs",
    ]
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
