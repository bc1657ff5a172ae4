"""An operator's week, through the command line, on every backend.

Each test drives ``py-load-medgen`` in-process as a person would type it: load a release, ask
what is loaded, verify it, break it and see verify notice, mend it, apply next week's delta
and read the history. Both the human output and the ``--json`` output are checked.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen.cli import main
from py_load_medgen.errors import ExitCode
from py_load_medgen.generate import derive_release
from py_load_medgen.load.registry import open_loader
from py_load_medgen.release.files import FILES

RELEASE = "2026-01-07 16:30 UTC"
"""The generator's build time (its gzip MTIME), which is the release's identity."""
NEXT_RELEASE = "2026-01-14 16:30 UTC"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Operator:
    """Types commands at one database, with the options a real setup would fix in the config."""

    def __init__(self, db_uri: str, capsys: pytest.CaptureFixture[str], work: Path) -> None:
        self.db_uri = db_uri
        self.capsys = capsys
        self.work = work

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        extra = ["--db-uri", self.db_uri] if args[0] != "generate" else []
        if args[0] == "load":
            extra += ["--rejects-dir", str(self.work / "rejects")]
        code = main([*args, *extra])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def execute(self, statement: str) -> None:
        loader = open_loader(self.db_uri, "medgen")
        loader.connect()
        try:
            with loader.transaction():
                loader.execute(statement)
        finally:
            loader.close()


@pytest.fixture
def op(db_uri: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Operator:
    return Operator(db_uri, capsys, tmp_path)


def table_rows(text: str, column: int = 1) -> dict[str, int]:
    """A count column of a plain text table, by table name."""
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) > column and cells[0] in {s.table for s in FILES}:
            rows[cells[0]] = int(cells[column].replace(",", ""))
    return rows


def full_load(op: Operator, release: Path) -> dict[str, Any]:
    result = op("load", "--source", str(release), "--json", "--log-format", "json")
    assert result.code == 0, result.err
    return dict(result.json())


# -- the week ---------------------------------------------------------------------------------


def test_load_status_verify_repair_history(op: Operator, small_release: Path) -> None:
    # Nothing loaded yet: status and verify say so with their own exit code.
    empty = op("status")
    assert empty.code == ExitCode.NOT_LOADED
    assert "nothing loaded" in empty.err
    assert "hint: load a release first" in empty.err
    assert op("verify").code == ExitCode.NOT_LOADED
    assert op("check-update", "--source", str(small_release)).code == ExitCode.NOT_LOADED

    # The first full load, with JSON logs: every record knows its run, release and phase.
    result = op("load", "--source", str(small_release), "--json", "--log-format", "json")
    assert result.code == 0, result.err
    summary = result.json()
    run_id = summary["run_id"]
    loaded = {t["table"]: t["rows_loaded"] for t in summary["tables"]}
    assert set(loaded) == {s.table for s in FILES}
    records = [json.loads(line) for line in result.err.splitlines()]
    assert records
    for record in records:
        assert {"run_id", "release", "phase"} <= set(record), record
    per_table = [r for r in records if r.get("table") and "rows_per_second" in r]
    assert {r["table"] for r in per_table} == set(loaded)
    assert all(r["run_id"] == run_id and r["release"] for r in per_table)
    (final,) = [r for r in records if "succeeded in" in r["message"]]
    assert final["rows"] == sum(loaded.values())
    assert final["tables"] == len(FILES)
    assert final["seconds"] > 0

    # status, for people: the release, the run, and every table counted in the database.
    status = op("status")
    assert status.code == 0, status.err
    assert f"release {RELEASE}" in status.out
    assert f"by run {run_id} (full load" in status.out
    assert table_rows(status.out) == loaded
    assert re.search(rf"^total\s+{sum(loaded.values()):,}$", status.out, re.MULTILINE)

    # status, for machines.
    status_json = op("status", "--json").json()
    assert status_json["run_id"] == run_id
    assert status_json["release_time"] == "2026-01-07T16:30:00+00:00"
    assert status_json["mixed_releases"] is False
    assert {t["table"]: t["rows"] for t in status_json["tables"]} == loaded
    assert status_json["total_rows"] == sum(loaded.values())

    # verify against the metadata, then against the files themselves.
    verified = op("verify")
    assert verified.code == 0, verified.out + verified.err
    assert "every table matches" in verified.out
    against_source = op("verify", "--source", str(small_release), "--json")
    assert against_source.code == 0, against_source.err
    report = against_source.json()
    assert report["ok"] is True
    assert {t["table"]: t["source_rows"] for t in report["tables"]} == loaded
    assert all(t["same_file"] is True for t in report["tables"])

    # check-update, as cron runs it: nothing new at the source, then next week's build.
    current = op("check-update", "--source", str(small_release))
    assert current.code == 0, current.err
    assert current.out.startswith("up to date")
    next_week = op.work / "next"
    derive_release(small_release, next_week, churn=0.02, seed=5, files=["concepts"])
    for path in small_release.iterdir():  # the other files: the same bytes, copied anew
        if not (next_week / path.name).exists():
            shutil.copy(path, next_week / path.name)
    news = op("check-update", "--source", str(next_week))
    assert news.code == ExitCode.UPDATE_AVAILABLE, news.err
    assert news.out.startswith("update available: 1 of 17 loaded files changed")
    assert re.search(r"^concepts\s.*\schanged$", news.out, re.MULTILINE)
    news_json = op("check-update", "--source", str(next_week), "--json")
    assert news_json.code == ExitCode.UPDATE_AVAILABLE
    assert news_json.json()["update_available"] is True
    assert news_json.json()["changed"] == ["concepts"]
    assert news_json.json()["loaded_release"] == "2026-01-07T16:30:00+00:00"

    # Someone deletes rows behind the tool's back: verify notices, with exit code 8.
    op.execute(
        'DELETE FROM "medgen"."concepts" WHERE "cui" IN '
        '(SELECT "cui" FROM "medgen"."concepts" ORDER BY "cui" LIMIT 3)'
    )
    broken = op("verify")
    assert broken.code == ExitCode.VERIFY_MISMATCH
    assert re.search(r"^concepts\s.*MISMATCH$", broken.out, re.MULTILINE)
    expected_line = f"{loaded['concepts'] - 3:,} rows in the table, {loaded['concepts']:,} recorded"
    assert expected_line in broken.out
    assert "1 of 17 tables differ" in broken.out
    assert "error: 1 table(s) differ: concepts" in broken.err
    broken_json = op("verify", "--json")
    assert broken_json.code == ExitCode.VERIFY_MISMATCH
    bad = [t for t in broken_json.json()["tables"] if not t["ok"]]
    assert [(t["table"], t["rows"], t["expected"]) for t in bad] == [
        ("concepts", loaded["concepts"] - 3, loaded["concepts"])
    ]

    # The documented repair: a full load of the table that differs.
    mend = op("load", "--source", str(small_release), "--files", "concepts", "--json")
    assert mend.code == 0, mend.err
    assert op("verify").code == 0

    # A load that fails (a truncated file) changes nothing and is on the record.
    bad_release = op.work / "bad"
    bad_release.mkdir()
    (bad_release / "MedGen_Sources.txt").write_bytes(b"#Source|Abbreviation|Description|URL|\n")
    failed = op("load", "--source", str(bad_release), "--files", "MedGen_Sources.txt")
    assert failed.code == ExitCode.BAD_INPUT
    assert op("verify").code == 0

    # history: newest first, the failure with its reason.
    history = op("history")
    assert history.code == 0, history.err
    lines = [line for line in history.out.splitlines() if re.match(r"^\d{8}T\d{6}Z-", line)]
    assert [line.split()[1:3] for line in lines] == [
        ["full", "failed"],
        ["full", "succeeded"],
        ["full", "succeeded"],
    ]
    assert lines[2].startswith(run_id)
    assert "failures:" in history.out
    assert "header but no data rows" in history.out

    runs = op("history", "--json").json()
    assert [r["status"] for r in runs] == ["failed", "succeeded", "succeeded"]
    assert runs[2]["run_id"] == run_id
    assert runs[2]["tables"] == len(FILES)
    assert runs[2]["rows_loaded"] == sum(loaded.values())
    assert runs[2]["duration_seconds"] > 0
    assert runs[1]["tables"] == 1
    assert runs[0]["tables"] == 0
    assert "MedGen_Sources.txt" in runs[0]["error"]

    only_failed = op("history", "--status", "failed", "--json").json()
    assert [r["run_id"] for r in only_failed] == [runs[0]["run_id"]]

    one = op("history", "--run", run_id)
    assert one.code == 0
    assert f"run {run_id} succeeded: full load (swap)" in one.out
    assert table_rows(one.out, column=2) == loaded  # table, file, rows, ...
    detail = op("history", "--run", run_id, "--json").json()
    assert {f["table"]: f["rows_loaded"] for f in detail[0]["files"]} == loaded

    unknown = op("history", "--run", "no-such-run")
    assert unknown.code == ExitCode.USAGE
    assert "no run 'no-such-run'" in unknown.err

    # status after all that: concepts now comes from the repair run.
    after = op("status", "--json").json()
    by_table = {t["table"]: t for t in after["tables"]}
    assert by_table["concepts"]["run_id"] == runs[1]["run_id"]
    assert by_table["relationships"]["run_id"] == run_id


def test_schema_as_json(op: Operator) -> None:
    result = op("schema", "--json")
    assert result.code == 0
    tables = result.json()
    assert [t["table"] for t in tables] == [s.table for s in FILES]
    concepts = tables[0]
    assert concepts["files"] == ["NAMES.RRF.gz"]
    assert concepts["natural_key"] == ["cui"]
    assert concepts["columns"][0]["source_column"] == "CUI"


def test_next_weeks_delta_shows_in_history_status_and_verify(
    op: Operator, small_release: Path, tmp_path: Path
) -> None:
    full = full_load(op, small_release)
    next_week = tmp_path / "next"
    churn = derive_release(small_release, next_week, churn=0.05, seed=11)

    delta = op("load", "--mode", "delta", "--source", str(next_week), "--json")
    assert delta.code == 0, delta.err
    delta_run = delta.json()["run_id"]

    status = op("status", "--json").json()
    assert status["run_id"] == delta_run
    assert status["mode"] == "delta"
    assert status["release_time"] == "2026-01-14T16:30:00+00:00"
    expected_rows = {t: c["unchanged"] + c["inserted"] + c["updated"] for t, c in churn.items()}
    assert {t["table"]: t["rows"] for t in status["tables"]} == expected_rows
    assert f"release {NEXT_RELEASE}" in op("status").out

    # verify derives what a delta should leave from its recorded changes.
    verified = op("verify", "--source", str(next_week))
    assert verified.code == 0, verified.out + verified.err

    runs = op("history", "--json").json()
    assert [(r["mode"], r["status"]) for r in runs] == [
        ("delta", "succeeded"),
        ("full", "succeeded"),
    ]
    assert runs[1]["run_id"] == full["run_id"]
    newest = runs[0]
    assert newest["inserted"] == sum(c["inserted"] for c in churn.values())
    assert newest["updated"] == sum(c["updated"] for c in churn.values())
    assert newest["deleted"] == sum(c["deleted"] for c in churn.values())

    history = op("history")
    first = next(line for line in history.out.splitlines() if line.startswith(delta_run))
    cells = first.split()
    assert cells[1:3] == ["delta", "succeeded"]
    assert cells[-3:] == [
        f"{newest['inserted']:,}",
        f"{newest['updated']:,}",
        f"{newest['deleted']:,}",
    ]
