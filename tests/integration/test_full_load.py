"""Full loads into a real database: every file, exact values, atomic publication."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from py_load_medgen.release.files import FILES, spec_for_table
from tests.helpers import load_release as load
from tests.helpers import query, read_file_rows, same_multiset, table_rows


def write_gz(path: Path, text: bytes) -> Path:
    path.write_bytes(gzip.compress(text, mtime=0))
    return path


NAMES_HEADER = b"#CUI|name|source|SUPPRESS|\n"


def names_release(tmp_path: Path, rows: list[bytes], name: str = "r") -> Path:
    out = tmp_path / name
    out.mkdir()
    write_gz(out / "NAMES.RRF.gz", NAMES_HEADER + b"".join(rows))
    return out


def test_real_names_load_exactly(real_data: Path, db_uri: str, tmp_path: Path) -> None:
    release = tmp_path / "real"
    release.mkdir()
    shutil.copy(real_data / "NAMES.RRF.gz", release)
    assert load(release, db_uri, "--files", "NAMES.RRF.gz") == 0
    spec = spec_for_table("concepts")
    loaded = table_rows(db_uri, "concepts", spec.column_names)
    assert len(loaded) == 234_073
    assert same_multiset(loaded, read_file_rows(release / "NAMES.RRF.gz", spec))
    names = {r[1] for r in loaded}
    assert "Chédiak-Higashi syndrome" in names


def test_every_generated_file_lands_exactly(small_release: Path, db_uri: str) -> None:
    assert load(small_release, db_uri) == 0
    for spec in FILES:
        path = next(p for p in small_release.iterdir() if p.name.lower() == spec.name.lower())
        expected = read_file_rows(path, spec)
        loaded = table_rows(db_uri, spec.table, spec.column_names)
        assert len(loaded) == len(expected), spec.table
        assert same_multiset(loaded, expected), spec.table
    runs = query(db_uri, 'SELECT status, mode FROM "medgen"."etl_runs"')
    assert runs == [("succeeded", "full")]
    files = query(db_uri, 'SELECT table_name, rows_loaded, sha256 FROM "medgen"."etl_run_files"')
    assert len(files) == len(FILES)
    assert all(len(sha) == 64 for _t, _n, sha in files)


def test_special_bytes_round_trip(tmp_path: Path, db_uri: str) -> None:
    definition = "Line one\rline two with \\backslash\\, \"quotes\", 'single'\tand tab; Sjögren"
    release = tmp_path / "r"
    release.mkdir()
    write_gz(
        release / "MGDEF.RRF.gz",
        b"#CUI|DEF|source|SUPPRESS|\n"
        + f"C0000001|{definition}|Genetics Home Reference|N|\n".encode()
        + b"C0000002||MSH|N|\n"
        + b"C0000003|\\N|MSH|N|\n",
    )
    assert load(release, db_uri, "--files", "MGDEF.RRF.gz") == 0
    rows = sorted(table_rows(db_uri, "definitions", ["cui", "definition", "source", "suppress"]))
    assert rows == [
        ("C0000001", definition, "Genetics Home Reference", "N"),
        ("C0000002", "", "MSH", "N"),
        ("C0000003", "\\N", "MSH", "N"),
    ]


def test_reordered_and_renamed_header(tmp_path: Path, db_uri: str) -> None:
    release = tmp_path / "r"
    release.mkdir()
    write_gz(release / "NAMES.RRF.gz", b"SUPPRESS|source|name|CUI\nN|GTR|Acute abdomen|C0000727\n")
    write_gz(
        release / "MedGenIDMappings.txt.gz",
        b"#CUI|pref_name|source_id|source|\nC0000727|Acute abdomen|123|OMIM|\n",
    )
    assert load(release, db_uri, "--files", "NAMES.RRF.gz,MedGenIDMappings.txt.gz") == 0
    assert table_rows(db_uri, "concepts", ["cui", "preferred_name", "source", "suppress"]) == [
        ("C0000727", "Acute abdomen", "GTR", "N")
    ]
    assert table_rows(db_uri, "source_links", ["cui", "source_id"]) == [("C0000727", "123")]


def test_malformed_rows_are_quarantined(tmp_path: Path, db_uri: str) -> None:
    release = names_release(
        tmp_path,
        [
            b"C0000001|One|GTR|N|\n",
            b"C0000002|Two|GTR|\n",
            b"C0000003|Three|GTR|N|extra|\n",
            b"C0000004|Four|GTR|N|\n",
        ],
    )
    assert load(release, db_uri) == 0
    assert sorted(r[0] for r in table_rows(db_uri, "concepts", ["cui"])) == ["C0000001", "C0000004"]
    (rejects,) = list((tmp_path / "rejects").rglob("*.rejects"))
    text = rejects.read_text()
    assert "line 3: expected 4 fields, found 3" in text
    assert "line 4: expected 4 fields, found 5" in text
    assert "C0000003|Three|GTR|N|extra|" in text
    assert query(
        db_uri, 'SELECT rows_read, rows_loaded, rows_rejected FROM "medgen"."etl_run_files"'
    ) == [(4, 2, 2)]


def test_failed_load_leaves_previous_release(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = names_release(tmp_path, [b"C0000001|One|GTR|N|\n"], "good")
    assert load(good, db_uri) == 0
    bad = names_release(tmp_path, [b"C0000002|Two|GTR|N|\n", b"C0000003|bad|\n"], "bad")
    capsys.readouterr()
    assert load(bad, db_uri, "--max-bad-rows", "0") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "NAMES.RRF.gz, line 3" in err and "expected 4 fields, found 2" in err
    assert table_rows(db_uri, "concepts", ["cui"]) == [("C0000001",)]
    statuses = query(db_uri, 'SELECT status FROM "medgen"."etl_runs" ORDER BY started_at')
    assert statuses == [("succeeded",), ("failed",)]
    leftovers = [t for (t,) in query(db_uri, _TABLES_SQL) if t.startswith("_staging_")]
    assert leftovers == []


_TABLES_SQL = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'medgen'"


def test_value_errors_name_file_line_and_column(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "r"
    release.mkdir()
    write_gz(
        release / "medgen_pubmed_lnk.txt.gz",
        b"#UID|CUI|NAME|PMID|\n1|C0000001|x|123|\n2|C0000001|x|99999999999999999999|\n",
    )
    assert load(release, db_uri) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "medgen_pubmed_lnk.txt.gz, line 3, column PMID" in err


def test_bad_cui_shape(tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    release = names_release(tmp_path, [b"C0000001|One|GTR|N|\n", b"X123|Bad|GTR|N|\n"])
    assert load(release, db_uri) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "NAMES.RRF.gz, line 3, column CUI" in err and "concept id" in err


def test_unknown_column_is_reported_and_strict_schema_fails(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "r"
    release.mkdir()
    write_gz(
        release / "NAMES.RRF.gz", b"#CUI|name|source|SUPPRESS|NEWCOL|\nC0000001|One|GTR|N|x|\n"
    )
    assert load(release, db_uri) == 0
    assert "unknown column(s) NEWCOL" in capsys.readouterr().err
    assert query(db_uri, 'SELECT unknown_columns FROM "medgen"."etl_run_files"') == [("NEWCOL",)]
    assert table_rows(db_uri, "concepts", ["cui", "suppress"]) == [("C0000001", "N")]
    assert load(release, db_uri, "--strict-schema") == ExitCode.BAD_INPUT
    assert load(release, db_uri, "--raw-records") == 0
    assert table_rows(db_uri, "concepts", ["raw_record"]) == [("C0000001|One|GTR|N|x|",)]


def test_missing_required_column(
    tmp_path: Path, db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "r"
    release.mkdir()
    write_gz(release / "NAMES.RRF.gz", b"#CUI|source|SUPPRESS|\nC0000001|GTR|N|\n")
    assert load(release, db_uri) == ExitCode.BAD_INPUT
    assert "required column 'name' is missing" in capsys.readouterr().err


def test_rerun_is_idempotent_and_truncate_strategy(small_release: Path, db_uri: str) -> None:
    spec = spec_for_table("relationships")
    assert load(small_release, db_uri, "--files", "MGREL.RRF.gz") == 0
    first = table_rows(db_uri, "relationships", spec.column_names)
    assert load(small_release, db_uri, "--files", "MGREL.RRF.gz") == 0
    assert same_multiset(first, table_rows(db_uri, "relationships", spec.column_names))
    assert load(small_release, db_uri, "--files", "MGREL.RRF.gz", "--strategy", "truncate") == 0
    assert same_multiset(first, table_rows(db_uri, "relationships", spec.column_names))


def test_dry_run_touches_nothing(small_release: Path, db_uri: str) -> None:
    assert load(small_release, db_uri, "--dry-run") == 0
    assert query(
        db_uri, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'medgen'"
    ) == [(0,)]


def test_subset_touches_only_its_tables(small_release: Path, db_uri: str) -> None:
    assert load(small_release, db_uri, "--files", "NAMES.RRF.gz") == 0
    from py_load_medgen.answers.views import ORDER

    tables = {t for (t,) in query(db_uri, _TABLES_SQL)}
    # besides the answers (views, derived tables) the load publishes from what it loaded
    assert tables - set(ORDER) == {"concepts", "etl_runs", "etl_run_files", "etl_run_changes"}
