"""Every delta load keeps its change report with the run; `history --changes RUN_ID` shows it."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from py_load_medgen.compare.report import diff_releases
from py_load_medgen.errors import ExitCode
from py_load_medgen.source.local import LocalSource
from tests.helpers import load_release as load
from tests.helpers import query, run_cli

SUBSET = ("--files", "NAMES.RRF.gz,MGREL.RRF.gz")


def _runs(uri: str, mode: str) -> list[str]:
    rows = query(
        uri,
        f"SELECT run_id FROM medgen.etl_runs WHERE mode = '{mode}' AND status = 'succeeded' "
        "ORDER BY started_at",
    )
    return [str(r[0]) for r in rows]


def _changes(uri: str, run_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert run_cli("history", "--db-uri", uri, "--changes", run_id, "--json") == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


@pytest.fixture
def builds(real_data: Path, tmp_path: Path) -> list[Path]:
    out = []
    for name in ("2021-08-11", "2021-08-18", "2022-05-11"):
        copy = tmp_path / name
        shutil.copytree(real_data / "releases" / name, copy)
        out.append(copy)
    return out


def test_each_delta_keeps_the_report_diff_prints(
    builds: list[Path], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(builds[0], db_uri, *SUBSET) == 0
    for old, new in itertools.pairwise(builds):
        assert load(new, db_uri, "--mode", "delta", *SUBSET) == 0
        run_id = _runs(db_uri, "delta")[-1]
        kept = _changes(db_uri, run_id, capsys)
        expected = diff_releases(LocalSource(old), LocalSource(new)).to_json()
        assert kept["tables"] == expected["tables"]
        assert kept["concepts"] == expected["concepts"]
        if new.name == "2021-08-18":
            assert kept["tables"]["concepts"] == {  # type: ignore[index]
                "inserted": 10,
                "updated": 8,
                "deleted": 1,
                "unchanged": 204_573,
            }
    # The text form a curator reads.
    capsys.readouterr()
    assert run_cli("history", "--db-uri", db_uri, "--changes", run_id) == 0
    text = capsys.readouterr().out
    assert "concepts added" in text and "preferred name changed" in text
    assert "relationships" in text


def test_runs_without_a_report_say_so(
    builds: list[Path], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(builds[0], db_uri, *SUBSET) == 0
    full = _runs(db_uri, "full")[-1]
    capsys.readouterr()
    assert run_cli("history", "--db-uri", db_uri, "--changes", full) == ExitCode.NOT_LOADED
    assert f"run {full} kept no change report" in capsys.readouterr().err
    assert run_cli("history", "--db-uri", db_uri, "--changes", "no-such-run") == (
        ExitCode.NOT_LOADED
    )


def test_a_schema_from_before_the_report_gains_its_table(
    builds: list[Path], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(builds[0], db_uri, *SUBSET) == 0
    # A schema an older version made has no etl_run_changes: reading finds no report, and
    # the next delta creates the table and keeps its report.
    from py_load_medgen.load.registry import open_loader

    loader = open_loader(db_uri, "medgen")
    loader.connect()
    try:
        with loader.transaction():
            loader.execute('DROP TABLE "medgen"."etl_run_changes"')
    finally:
        loader.close()
    full = _runs(db_uri, "full")[-1]
    assert run_cli("history", "--db-uri", db_uri, "--changes", full) == ExitCode.NOT_LOADED
    assert load(builds[1], db_uri, "--mode", "delta", *SUBSET) == 0
    kept = _changes(db_uri, _runs(db_uri, "delta")[-1], capsys)
    assert kept["tables"]["concepts"]["inserted"] == 10  # type: ignore[index]


def test_a_failed_delta_keeps_no_report(
    builds: list[Path], db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(builds[0], db_uri, *SUBSET) == 0
    broken = builds[1] / "NAMES.RRF.gz"
    # A row with a CUI of the wrong shape fails the whole run (strict: no bad row allowed).
    import gzip

    data = gzip.decompress(broken.read_bytes()) + b"NOT-A-CUI|x|MSH|N|\n"
    broken.write_bytes(gzip.compress(data))
    assert load(builds[1], db_uri, "--mode", "delta", "--max-bad-rows", "0", *SUBSET) != 0
    assert _runs(db_uri, "delta") == []
    assert query(db_uri, "SELECT count(*) FROM medgen.etl_run_changes") == [(0,)]
