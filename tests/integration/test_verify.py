"""``verify`` compares rows, not counts: the fingerprints of a table and of its file agree
exactly when the rows do, and every change that keeps the count is still caught."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen.errors import ExitCode
from py_load_medgen.load import export
from py_load_medgen.load.registry import open_loader
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import spec_for_table
from tests.helpers import load_release as load
from tests.helpers import run_cli

# Values a line-based fingerprint could get wrong: escapes (a backslash, a carriage return,
# a backslash before an r), a tab, a \x01 (the stand-in separator of the Arrow cut), text
# that reads as COPY's NULL, non-ASCII, an empty field, and a line that comes twice.
TRICKY = [
    "C0000001|plain text|MSH|N|",
    "C0000001|plain text|MSH|N|",
    "C0000002|a back\\slash and a \\r that is no carriage return|MSH|N|",
    "C0000003|first line\rsecond line|NCI|N|",
    "C0000004|a\ttab and a \x01 byte|NCI|Y|",
    "C0000005|\\N|GTR|N|",
    "C0000006|naïve café \u2013 日本語|GTR|N|",
    "C0000007||GTR|N|",
]


@pytest.fixture
def tricky_release(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    root.mkdir()
    body = "\n".join(["#CUI|DEF|source|SUPPRESS|", *TRICKY, ""]).encode()
    (root / "MGDEF.RRF.gz").write_bytes(gzip.compress(body, mtime=1_700_000_000))
    return root


def _kept(tmp_path: Path) -> tuple[str, str]:
    return ("--kept-dir", str(tmp_path / "kept"))


def test_fingerprints_of_a_table_and_its_file_agree(
    tricky_release: Path, db_uri: str, tmp_path: Path
) -> None:
    assert load(tricky_release, db_uri, "--files", "MGDEF.RRF.gz", *_kept(tmp_path)) == 0
    spec = spec_for_table("definitions")
    encoded = EncodedFile(
        tricky_release / "MGDEF.RRF.gz", spec, max_bad_rows=sys.maxsize, rejects=None
    )
    shape = export.line_shape(encoded)
    assert shape is not None
    (block,) = list(encoded.blocks())
    # Two blocks, so that the lines are cut both ways on DuckDB: by Arrow (no escape, no
    # \x01) and by the database itself.
    cut = block.index(b"\n") + 1
    loader = open_loader(db_uri, "medgen")
    loader.connect()
    limit = "SELECT current_setting('memory_limit')"
    before = loader.query(limit) if loader.dialect.name == "duckdb" else None
    hasher = export.Hasher(loader)
    try:
        seed = export.new_seed()
        # The table side as verify runs it: its own connection (DuckDB: a small memory
        # limit while it hashes, the loader's own given back on close).
        table_side = export.Hasher(loader, second=True)
        try:
            table = table_side.table(spec, shape, seed)
        finally:
            table_side.close()
        if before is not None:
            assert loader.query(limit) == before
        assert table == hasher.lines([block[:cut], block[cut:]], seed)
        assert table.rows == len(TRICKY)
        # One character more anywhere, and the fingerprints part.
        assert hasher.lines([block.replace(b"plain text", b"plain texts", 1)], seed) != table
    finally:
        hasher.close()
        loader.close()
    assert run_cli("verify", "--db-uri", db_uri, *_kept(tmp_path)) == 0


def _mutate(db_uri: str, *statements: str) -> None:
    loader = open_loader(db_uri, "medgen")
    loader.connect()
    try:
        with loader.transaction():
            for statement in statements:
                loader.execute(statement)
    finally:
        loader.close()


def _verify_json(db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    code = run_cli("verify", "--db-uri", db_uri, *_kept(tmp_path), "--json")
    result = json.loads(capsys.readouterr().out)
    table: dict[str, Any] = {t["table"]: t for t in result["tables"]}["definitions"]
    table["exit_code"] = code
    return table


@pytest.mark.parametrize(
    ("statements", "missing", "extra"),
    [
        # Two rows trade their sources: same values per column, same count.
        (
            [
                "UPDATE medgen.definitions SET source = CASE source WHEN 'MSH' THEN 'NCI' "
                "ELSE 'MSH' END WHERE cui IN ('C0000002', 'C0000003')"
            ],
            2,
            2,
        ),
        # One copy of the row the file has twice is gone, another row is there twice.
        (
            [
                "DELETE FROM medgen.definitions WHERE cui = 'C0000001'",
                "INSERT INTO medgen.definitions (cui, definition, source, suppress) "
                "VALUES ('C0000001', 'plain text', 'MSH', 'N'), "
                "('C0000006', 'naïve café \u2013 日本語', 'GTR', 'N')",
            ],
            1,
            1,
        ),
        # A NULL where the file has a value that reads as COPY's NULL, or an empty one.
        (
            [
                "UPDATE medgen.definitions SET definition = NULL "
                "WHERE cui IN ('C0000005', 'C0000007')"
            ],
            2,
            2,
        ),
        # A carriage return lost.
        (
            [
                "UPDATE medgen.definitions SET definition = 'first linesecond line' "
                "WHERE cui = 'C0000003'"
            ],
            1,
            1,
        ),
    ],
    ids=["swapped", "duplicates", "null", "carriage-return"],
)
def test_verify_catches_changes_that_keep_the_count(
    tricky_release: Path,
    db_uri: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    statements: list[str],
    missing: int,
    extra: int,
) -> None:
    assert load(tricky_release, db_uri, "--files", "MGDEF.RRF.gz", *_kept(tmp_path)) == 0
    assert _verify_json(db_uri, tmp_path, capsys)["ok"]
    _mutate(db_uri, *statements)
    table = _verify_json(db_uri, tmp_path, capsys)
    assert table["exit_code"] == ExitCode.VERIFY_MISMATCH
    assert table["rows"] == len(TRICKY)
    content = table["content"]
    assert (content["rows_missing"], content["rows_extra"]) == (missing, extra)
    assert content["exact"]
    assert len(content["examples"]) == missing + extra
