"""Never back in time by accident: an older release is refused by loads and is no update
for check-update; where the source gives no times, both say so instead of guessing."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from py_load_medgen.generate import BUILD_TIME, generate_release
from tests.helpers import load_release, query, run_cli

WEEK = 7 * 24 * 3600
FILES = "NAMES.RRF.gz,MGSTY.RRF.gz"


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same release built last week, this week and next week (gzip header times)."""
    root = tmp_path_factory.mktemp("weeks")
    out = {}
    for name, shift, seed in (("last", -WEEK, 1), ("this", 0, 2), ("next", WEEK, 3)):
        out[name] = root / name
        generate_release(
            out[name],
            scale=0.0005,
            seed=seed,
            files=["concepts", "semantic_types"],
            gzip_mtime=BUILD_TIME + shift,
        )
    return out


def _loaded_names(uri: str) -> int:
    return int(query(uri, "SELECT count(*) FROM medgen.concepts")[0][0])


@pytest.mark.parametrize("mode", ["full", "delta"])
def test_a_load_of_an_older_release_is_refused_unless_allowed(
    weeks: dict[str, Path], db_uri: str, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_release(weeks["this"], db_uri, "--files", FILES) == 0
    before = query(db_uri, "SELECT cui, preferred_name FROM medgen.concepts ORDER BY cui")
    capsys.readouterr()
    code = load_release(weeks["last"], db_uri, "--files", FILES, "--mode", mode)
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "older than the one loaded" in err
    assert "2026-01-07T16:30:00+00:00" in err  # this week's build, loaded
    assert "2025-12-31T16:30:00+00:00" in err  # last week's, refused
    assert "--allow-older" in err
    after = query(db_uri, "SELECT cui, preferred_name FROM medgen.concepts ORDER BY cui")
    assert after == before
    # A deliberate rollback, then forward again.
    extra = ["--mode", mode, "--allow-older", "--allow-shrink"]
    assert load_release(weeks["last"], db_uri, "--files", FILES, *extra) == 0
    assert query(db_uri, "SELECT cui, preferred_name FROM medgen.concepts ORDER BY cui") != before
    assert load_release(weeks["next"], db_uri, "--files", FILES, "--mode", mode) == 0


def _check(weeks_dir: Path, uri: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli("check-update", "--source", str(weeks_dir), "--db-uri", uri)
    return code, capsys.readouterr().out


def test_check_update_tells_newer_same_and_older_apart(
    weeks: dict[str, Path], duckdb_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_release(weeks["this"], duckdb_uri, "--files", FILES) == 0
    code, out = _check(weeks["next"], duckdb_uri, capsys)
    assert code == ExitCode.UPDATE_AVAILABLE and out.startswith("update available")
    code, out = _check(weeks["this"], duckdb_uri, capsys)
    assert code == ExitCode.OK and out.startswith("up to date")
    code, out = _check(weeks["last"], duckdb_uri, capsys)
    assert code == ExitCode.OK
    assert out.startswith("the source is OLDER than the loaded release"), out


def test_files_without_times_are_said_to_be_undatable(
    tmp_path: Path, duckdb_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No gzip time and no trustworthy file time: the load warns that it cannot tell."""

    def release(name: str, rows: int) -> Path:
        out = tmp_path / name
        out.mkdir()
        body = b"".join(f"C{i:07d}|n {i}|GTR|N|\n".encode() for i in range(rows))
        path = out / "NAMES.RRF.gz"
        path.write_bytes(gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + body, mtime=0))
        return out

    first = release("first", 10)
    assert load_release(first, duckdb_uri, "--files", "NAMES.RRF.gz") == 0
    second = release("second", 12)
    # The file's time on disk is the loaded one's: nothing tells which build is newer.
    stat = (first / "NAMES.RRF.gz").stat()
    os.utime(second / "NAMES.RRF.gz", (stat.st_atime, stat.st_mtime))
    code, out = _check(second, duckdb_uri, capsys)
    assert "cannot tell whether concepts are newer or older" in out
    capsys.readouterr()
    assert load_release(second, duckdb_uri, "--files", "NAMES.RRF.gz") == 0
    assert "cannot tell whether NAMES.RRF.gz" in capsys.readouterr().err
    assert _loaded_names(duckdb_uri) == 12
