"""The judgements behind check-update and verify, without a database."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from py_load_medgen import checkupdate, report
from py_load_medgen.errors import NotLoadedError
from py_load_medgen.load.base import Loader
from py_load_medgen.load.metadata import FileRow
from py_load_medgen.verify import _count_after

BUILD = datetime(2026, 1, 7, 16, 30, tzinfo=UTC)
LANDED = BUILD + timedelta(minutes=4, seconds=17)
"""A file lands on NCBI's server minutes after its build time."""


class FakeLoader:
    schema = "medgen"

    def __init__(self, state: dict[str, dict[str, Any]]) -> None:
        self.state = state

    def loaded_state(self) -> dict[str, FileRow]:
        empty = dict.fromkeys(f.name for f in fields(FileRow))
        return {
            table: FileRow(**{**empty, "run_id": "r", "table_name": table, **record})
            for table, record in self.state.items()
        }

    def describe(self) -> str:
        return "a fake database"


def loaded(**record: Any) -> Loader:
    base = {"file_name": "NAMES.RRF.gz", "size": 100, "gzip_mtime": BUILD, "modified": LANDED}
    return cast(Loader, FakeLoader({"concepts": {**base, **record}}))


def state_of(loader: Loader, *listing: checkupdate.Listed) -> str:
    result = checkupdate.check(loader, "https://example.org/medgen/", listing)
    (file,) = result.files
    return file.state


def test_the_same_file_listed_to_the_minute_is_not_an_update() -> None:
    minute = LANDED.replace(second=0)
    assert state_of(loaded(), checkupdate.Listed("NAMES.RRF.gz", 100, minute)) == "same"


def test_a_server_time_is_compared_with_the_server_time_not_the_build_time() -> None:
    # The listing (14:34) is later than the build (14:30) for the very same file.
    listing = checkupdate.Listed("NAMES.RRF.gz", 100, LANDED)
    assert state_of(loaded(), listing) == "same"


def test_next_weeks_build_is_an_update() -> None:
    listing = checkupdate.Listed("NAMES.RRF.gz", 100, LANDED + timedelta(days=7))
    assert state_of(loaded(), listing) == "changed"


def test_a_different_size_is_an_update_whatever_the_time() -> None:
    listing = checkupdate.Listed("NAMES.RRF.gz", 101, LANDED)
    assert state_of(loaded(), listing) == "changed"


def test_build_times_compare_when_the_listing_knows_them() -> None:
    later_copy = LANDED + timedelta(days=30)  # copied later; the build inside is the same
    same = checkupdate.Listed("names.rrf.gz", 100, later_copy, build_time=BUILD)
    assert state_of(loaded(), same) == "same"
    newer = checkupdate.Listed("NAMES.RRF.gz", 100, later_copy, build_time=BUILD + timedelta(7))
    assert state_of(loaded(), newer) == "changed"


def test_a_local_copy_is_judged_by_its_content(tmp_path: Path) -> None:
    from py_load_medgen.source.base import sha256_file

    copy = tmp_path / "MedGen_Sources.txt"
    copy.write_bytes(b"#Source|\nx|\n")
    record = {"file_name": copy.name, "size": 12, "gzip_mtime": None, "modified": LANDED}
    fresh_time = LANDED + timedelta(days=3)
    listing = checkupdate.Listed(copy.name, 12, fresh_time, path=copy)
    same = cast(Loader, FakeLoader({"sources": {**record, "sha256": sha256_file(copy)}}))
    assert state_of(same, listing) == "same"
    other = cast(Loader, FakeLoader({"sources": {**record, "sha256": "0" * 64}}))
    assert state_of(other, listing) == "changed"


def test_only_loaded_tables_count_and_a_vanished_file_is_no_update() -> None:
    result = checkupdate.check(loaded(), "here", [checkupdate.Listed("MGREL.RRF.gz", 5, LANDED)])
    assert [(f.table, f.state) for f in result.files] == [("concepts", "missing")]
    assert result.update_available is False
    assert result.to_json()["changed"] == []


def test_nothing_loaded_is_its_own_answer() -> None:
    with pytest.raises(NotLoadedError):
        checkupdate.check(cast(Loader, FakeLoader({})), "here", [])


def test_listing_a_local_directory(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "NAMES.RRF.gz").write_bytes(gzip.compress(b"#CUI|\n", mtime=1_767_803_400))
    (tmp_path / "notes.txt").write_text("not a MedGen file")
    (entry,) = checkupdate.list_source(str(tmp_path))
    assert entry.name == "NAMES.RRF.gz"
    assert entry.build_time == BUILD
    assert entry.path == tmp_path / "NAMES.RRF.gz"


# -- what verify expects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "record", "previous", "expected"),
    [
        ("full", {"rows_loaded": 10}, None, 10),
        ("full", {"rows_loaded": 10}, 99, 10),
        (
            "delta",
            {"rows_loaded": 12, "rows_inserted": 3, "rows_updated": 2, "rows_unchanged": 7},
            10,
            12,
        ),
        ("delta", {"rows_loaded": 0, "rows_inserted": 3, "rows_deleted": 1}, 10, 12),
        ("delta", {"rows_loaded": 11}, None, 11),
    ],
)
def test_rows_a_run_leaves(
    mode: str, record: dict[str, Any], previous: int | None, expected: int
) -> None:
    assert _count_after(record, mode, previous) == expected


# -- formatting ---------------------------------------------------------------------------------


def test_durations_and_tables_for_people() -> None:
    assert report.duration(None) == "-"
    assert report.duration(2.345) == "2.3s"
    assert report.duration(843) == "14m03s"
    assert report.duration(7384) == "2h03m04s"
    text = report.table_text(["table", "rows"], [["concepts", "1,234"], ["x", "5"]], {1})
    assert text.splitlines() == ["table      rows", "concepts  1,234", "x             5"]
    assert report.utc(datetime(2026, 1, 7, 16, 30)) == BUILD  # naive DuckDB values are UTC


def test_an_older_build_is_not_an_update_and_says_so() -> None:
    older = checkupdate.Listed("NAMES.RRF.gz", 101, LANDED, build_time=BUILD - timedelta(7))
    result = checkupdate.check(loaded(), "https://example.org/medgen/", [older])
    assert [f.state for f in result.files] == ["older"]
    assert result.update_available is False
    assert "OLDER than the loaded release" in result.render()
    assert result.to_json()["older"] == ["concepts"] and result.to_json()["changed"] == []


def test_an_older_server_time_is_not_an_update() -> None:
    listing = checkupdate.Listed("NAMES.RRF.gz", 90, LANDED - timedelta(days=7))
    assert state_of(loaded(), listing) == "older"


def test_newer_same_and_older_are_told_apart_by_build_time() -> None:
    at = LANDED + timedelta(days=30)
    for build, state in (
        (BUILD + timedelta(7), "changed"),
        (BUILD, "same"),
        (BUILD - timedelta(7), "older"),
    ):
        assert state_of(loaded(), checkupdate.Listed("NAMES.RRF.gz", 100, at, build)) == state


def test_a_difference_without_times_is_said_to_be_undatable() -> None:
    record = cast(Loader, FakeLoader({"concepts": {"file_name": "NAMES.RRF.gz", "size": 100}}))
    result = checkupdate.check(record, "here", [checkupdate.Listed("NAMES.RRF.gz", 120, None)])
    (file,) = result.files
    assert file.state == "changed" and file.undated
    assert "cannot tell whether concepts are newer or older" in result.render()
    assert result.to_json()["undated"] == ["concepts"]
