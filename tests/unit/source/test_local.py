"""A release in a local directory: matched by name, unknown files reported, missing ones named."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from py_load_medgen.errors import SourceError
from py_load_medgen.release.files import spec_for_table
from py_load_medgen.source.local import LocalSource


def test_files_are_matched_case_insensitively_and_strangers_reported(
    release: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (release / "NAMES.RRF.gz").rename(release / "names.rrf.gz")
    for extra in ("README.txt", "MGNEW.RRF.gz", ".hidden", "NAMES.RRF.gz.part"):
        (release / extra).write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        (names,) = LocalSource(release).fetch([spec_for_table("concepts")])
    assert names.name == "names.rrf.gz" and len(names.sha256) == 64
    assert names.url == (release / "names.rrf.gz").resolve().as_uri()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.endswith("not loaded): MGNEW.RRF.gz, README.txt")


def test_a_missing_file_or_directory_is_named(release: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="missing MGDEF.RRF.gz"):
        LocalSource(release).fetch([spec_for_table("definitions")])
    with pytest.raises(SourceError, match="does not exist"):
        LocalSource(tmp_path / "nowhere").fetch([spec_for_table("concepts")])


@pytest.mark.parametrize(
    ("first", "second"),
    [("MONDO_CUI_history.txt", "Mondo_CUI_history.txt"), ("NAMES.RRF.gz", "names.rrf.gz")],
)
def test_two_spellings_of_one_file_are_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str, second: str
) -> None:
    from py_load_medgen.cli import main

    for name in (first, second):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(SourceError, match="ambiguous") as caught:
        LocalSource(tmp_path).listing()
    assert first in str(caught.value) and second in str(caught.value)
    code = main(["load", "--source", str(tmp_path), "--dry-run", "--quiet"])
    assert code == 5
    err = capsys.readouterr().err
    assert first in err and second in err
