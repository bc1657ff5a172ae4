"""A run whose file yields no good rows, or far fewer than the loaded release, does not
publish: the tables keep what they held."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from tests.helpers import load_release, query

HEADER = b"#CUI|name|source|SUPPRESS|\n"


def _names(root: Path, name: str, body: bytes, file: str = "NAMES.RRF.gz") -> Path:
    out = root / name
    out.mkdir()
    (out / file).write_bytes(gzip.compress(body, mtime=1_767_803_400))
    return out


def _rows(n: int, label: str = "r") -> bytes:
    return b"".join(f"C{i:07d}|{label} {i}|GTR|N|\n".encode() for i in range(n))


def _load(source: Path, uri: str, *extra: str) -> int:
    """Load the one file the directory holds."""
    (file,) = [p.name for p in source.iterdir()]
    return load_release(source, uri, "--files", file, *extra)


def _state(uri: str) -> list[tuple[object, ...]]:
    return query(uri, "SELECT cui, preferred_name FROM medgen.concepts ORDER BY cui")


@pytest.fixture
def loaded(tmp_path: Path, db_uri: str) -> str:
    assert _load(_names(tmp_path, "good", HEADER + _rows(1_170)), db_uri) == 0
    return db_uri


@pytest.mark.parametrize("mode", ["full", "delta"])
@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("truncated", HEADER + b"\n"),  # the header and one empty line
        ("all_rejected", HEADER + b"C0000001|only three fields|GTR\n" * 20),
    ],
)
def test_a_file_without_one_good_row_never_replaces_a_table(
    tmp_path: Path,
    loaded: str,
    mode: str,
    case: str,
    body: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _state(loaded)
    capsys.readouterr()
    code = _load(_names(tmp_path, case, body), loaded, "--mode", mode, "--max-bad-rows", "1000")
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "NAMES.RRF.gz" in err and "refusing to replace the table" in err
    assert _state(loaded) == before
    runs = query(loaded, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    assert runs == [("succeeded",), ("failed",)]


def test_a_history_file_of_the_wrong_delimiter_is_refused(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TAB-delimited history file whose rows are all '|'-delimited empties nothing."""
    name = "MedGen_CUI_history.txt"
    good = tmp_path / "good"
    good.mkdir()
    rows = "".join(f"C{i:07d}\tC{i + 1:07d}\t2020-01-01\n" for i in range(20))
    (good / name).write_text("#Previous_CUI\tCurrent_CUI\tDate_Of_Action\n" + rows)
    assert _load(good, db_uri) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    piped = "".join(f"C{i:07d}|C{i + 1:07d}|2020-01-01\n" for i in range(20))
    (bad / name).write_text("#Previous_CUI\tCurrent_CUI\tDate_Of_Action\n" + piped)
    before = query(db_uri, "SELECT count(*) FROM medgen.cui_history")
    code = _load(bad, db_uri, "--max-bad-rows", "100")
    assert code == ExitCode.BAD_INPUT
    assert query(db_uri, "SELECT count(*) FROM medgen.cui_history") == before


@pytest.mark.parametrize("mode", ["full", "delta"])
def test_a_release_far_smaller_than_the_loaded_one_stops_before_publishing(
    tmp_path: Path, loaded: str, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _state(loaded)
    small = _names(tmp_path, "small", HEADER + _rows(400, "s"))  # 400 of 1,170: under half
    capsys.readouterr()
    assert _load(small, loaded, "--mode", mode) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "concepts: 1,170 rows loaded, 400 in this release" in err
    assert "--allow-shrink" in err
    assert _state(loaded) == before
    # A limit of a third lets it through; so does --allow-shrink.
    assert _load(small, loaded, "--mode", mode, "--shrink-limit", "0.3") == 0
    assert len(_state(loaded)) == 400
    assert _load(_names(tmp_path, "tiny", HEADER + _rows(10)), loaded, "--mode", mode) == 3
    assert _load(tmp_path / "tiny", loaded, "--mode", mode, "--allow-shrink") == 0
    assert len(_state(loaded)) == 10


def test_allow_shrink_comes_from_the_environment_and_the_config_file(
    tmp_path: Path, loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _names(tmp_path, "small", HEADER + _rows(100))
    monkeypatch.setenv("MEDGEN_ALLOW_SHRINK", "1")
    assert _load(small, loaded) == 0
    monkeypatch.delenv("MEDGEN_ALLOW_SHRINK")
    config = tmp_path / "config.toml"
    config.write_text("[load]\nshrink_limit = 0.01\n")
    tiny = _names(tmp_path, "tiny", HEADER + _rows(5))
    assert _load(tiny, loaded) == ExitCode.BAD_INPUT  # 5 of 100
    monkeypatch.setenv("MEDGEN_CONFIG", str(config))
    assert _load(tiny, loaded) == 0
