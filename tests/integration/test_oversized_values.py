"""A value no index can hold, or longer than any identifier, is a bad row with its file, line
and column: quarantined within --max-bad-rows, fatal beyond (never a database error)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode, TooManyBadRowsError
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import MAX_IDENTIFIER_BYTES, spec_for_table
from tests.helpers import query, run_cli

HEADER = b"#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n"


def row(i: int, cui1: bytes = b"") -> bytes:
    cui1 = cui1 or f"C{i:07d}".encode()
    return cui1 + f"|A{i}|SCUI|RO|C{i + 1:07d}|A{i + 1}|isa|R{i:09d}|MSH|MSH|N|\n".encode()


def mgrel(tmp_path: Path, long_line: int, size: int) -> Path:
    """MGREL with a ``size``-byte CUI1 on file line ``long_line`` (the header is line 1)."""
    source = tmp_path / "release"
    source.mkdir()
    rows = [row(i, b"C" * size if i + 2 == long_line else b"") for i in range(3000)]
    (source / "MGREL.RRF.gz").write_bytes(gzip.compress(HEADER + b"".join(rows)))
    return source


def _load(source: Path, uri: str, *extra: str) -> int:
    return run_cli(
        "load",
        "--source",
        str(source),
        "--files",
        "MGREL.RRF.gz",
        "--db-uri",
        uri,
        "--rejects-dir",
        str(source.parent / "rejects"),
        "--quiet",
        *extra,
    )


def test_a_1_mib_cui1_is_a_bad_row_quarantined_or_fatal(
    db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = mgrel(tmp_path, 4, 1 << 20)
    assert _load(source, db_uri, "--max-bad-rows", "0") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "MGREL.RRF.gz, line 4, column CUI1" in err
    assert "1,048,576 bytes" in err
    assert "index row" not in err
    assert _load(source, db_uri) == 0
    assert query(db_uri, "SELECT count(*) FROM medgen.relationships") == [(2999,)]
    rejects = sorted((tmp_path / "rejects").rglob("*MGREL*"))[-1]
    assert rejects.read_text().startswith("# MGREL.RRF.gz line 4: a value of 1,048,576 bytes")


@pytest.mark.parametrize("size", [MAX_IDENTIFIER_BYTES, MAX_IDENTIFIER_BYTES + 1])
def test_the_bound_is_exact(tmp_path: Path, size: int) -> None:
    source = mgrel(tmp_path, 3000, size)
    encoded = EncodedFile(source / "MGREL.RRF.gz", spec_for_table("relationships"), max_bad_rows=0)
    if size <= MAX_IDENTIFIER_BYTES:
        assert b"".join(encoded.blocks()).count(b"\n") == 3000
    else:
        with pytest.raises(TooManyBadRowsError, match="line 3000, column CUI1"):
            b"".join(encoded.blocks())


def test_long_free_text_stays_on_the_fast_path(tmp_path: Path) -> None:
    """A long definition is not an identifier: its block is neither rejected nor walked."""
    text = b"word " * 4000
    lines = b"".join(b"C%07d|" % i + text + b"|MSH|N|\n" for i in range(50))
    path = tmp_path / "MGDEF.RRF.gz"
    path.write_bytes(gzip.compress(b"#CUI|DEF|source|SUPPRESS|\n" + lines))
    encoded = EncodedFile(path, spec_for_table("definitions"), max_bad_rows=0)
    walked: list[int] = []
    careful = encoded._careful

    def spy(block: bytes, first_line: int) -> bytes:
        walked.append(first_line)
        return careful(block, first_line)

    encoded._careful = spy  # type: ignore[method-assign]
    assert b"".join(encoded.blocks()).count(b"\n") == 50
    assert walked == []
