"""Deltas that compare the kept previous files: what is kept, when a table falls back, and
that the result is the same as a full load of the new release either way."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen import pipeline
from py_load_medgen.compare import CompareOptions
from py_load_medgen.errors import ExitCode
from py_load_medgen.generate import derive_release, generate_release
from py_load_medgen.load.registry import open_loader
from tests.helpers import load_release as load
from tests.helpers import query, run_cli
from tests.integration.test_delta import assert_mirrors

TABLES = ["concepts", "relationships", "definitions", "pubmed_links", "source_links"]
FILES = "NAMES.RRF.gz,MGREL.RRF.gz,MGDEF.RRF.gz,medgen_pubmed_lnk.txt.gz,MedGenIDMappings.txt.gz"


def methods(uri: str) -> dict[str, tuple[Any, Any]]:
    rows = query(
        uri,
        "SELECT f.table_name, f.compare_method, f.compare_note FROM medgen.etl_run_files f "
        "JOIN medgen.etl_runs r USING (run_id) WHERE r.started_at = "
        "(SELECT max(started_at) FROM medgen.etl_runs)",
    )
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kept")
    r1, r2 = root / "r1", root / "r2"
    generate_release(r1, scale=0.0005, seed=21, files=TABLES)
    derive_release(r1, r2, churn=0.05, seed=8, reorder_columns=("definitions",))
    return r1, r2


def test_delta_compares_kept_files_and_records_it(
    releases: tuple[Path, Path], db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, r2 = releases
    kept = tmp_path / "kept"
    assert load(r1, db_uri, "--files", FILES, "--kept-dir", str(kept)) == 0
    kept_files = sorted(p.name.split("-", 1)[1] for p in kept.rglob("*") if p.is_file())
    assert kept_files == sorted(FILES.split(","))
    capsys.readouterr()
    assert load(r2, db_uri, "--mode", "delta", "--files", FILES, "--kept-dir", str(kept)) == 0
    assert "compared with the kept file" in capsys.readouterr().err
    assert_mirrors(db_uri, r2, TABLES)
    assert {t: m for t, (m, _) in methods(db_uri).items()} == dict.fromkeys(TABLES, "file")
    # The kept files are now the second release's, the first's are gone.
    assert len([p for p in kept.rglob("*") if p.is_file()]) == len(TABLES)
    for path in kept.rglob("*"):
        if path.is_file():
            table = path.parent.name
            spec_name = path.name.split("-", 1)[1]
            assert path.read_bytes() == (r2 / spec_name).read_bytes(), table
    capsys.readouterr()
    assert run_cli("status", "--db-uri", db_uri, "--kept-dir", str(kept), "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["kept_files"]["files"] == len(TABLES)
    assert status["kept_files"]["path"].startswith(str(kept))
    assert status["kept_files"]["apparent_bytes"] >= status["kept_files"]["bytes"] >= 0
    assert run_cli("status", "--db-uri", db_uri, "--kept-dir", str(kept)) == 0
    assert "kept files for deltas: 5 in" in capsys.readouterr().out


def test_missing_or_altered_kept_file_falls_back(
    releases: tuple[Path, Path], db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, r2 = releases
    kept = tmp_path / "kept"
    assert load(r1, db_uri, "--files", FILES, "--kept-dir", str(kept)) == 0
    by_table = {p.parent.name: p for p in kept.rglob("*") if p.is_file()}
    by_table["concepts"].unlink()
    altered = by_table["relationships"]
    data = altered.read_bytes()
    altered.unlink()  # a hard link: write a new file, not through to the release
    altered.write_bytes(data + gzip.compress(b"C0000001|A1|AUI|RO|C0000002|A2||R1|MSH||N|\n"))
    capsys.readouterr()
    assert load(r2, db_uri, "--mode", "delta", "--files", FILES, "--kept-dir", str(kept)) == 0
    err = capsys.readouterr().err
    assert_mirrors(db_uri, r2, TABLES)
    recorded = methods(db_uri)
    assert recorded["concepts"][0] == "database"
    assert "no kept file" in recorded["concepts"][1]
    assert recorded["relationships"][0] == "database"
    assert "changed on disk" in recorded["relationships"][1]
    assert recorded["definitions"] == ("file", None)
    assert "concepts: compared in the database: no kept file" in err


def test_keeping_off(releases: tuple[Path, Path], db_uri: str, tmp_path: Path) -> None:
    r1, r2 = releases
    kept = tmp_path / "kept"
    flags = ("--files", FILES, "--kept-dir", str(kept), "--no-keep-files")
    assert load(r1, db_uri, *flags) == 0
    assert not kept.exists()
    assert load(r2, db_uri, "--mode", "delta", *flags) == 0
    assert_mirrors(db_uri, r2, TABLES)
    assert {m for m, _ in methods(db_uri).values()} == {"database"}
    assert all("keeping files is off" in n for _, n in methods(db_uri).values())


def test_shuffled_file_falls_back_early_and_stays_exact(
    releases: tuple[Path, Path],
    db_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r1, r2 = releases
    r3 = tmp_path / "r3"
    r3.mkdir()
    for path in r2.iterdir():
        (r3 / path.name).write_bytes(path.read_bytes())
    served = (r2 / "medgen_pubmed_lnk.txt.gz").read_bytes()
    lines = gzip.decompress(served).split(b"\n")
    body = lines[1:-1]
    random.Random(3).shuffle(body)
    # The same build time as r2's file (the gzip MTIME): reshuffled, not newer.
    built = int.from_bytes(served[4:8], "little")
    shuffled = gzip.compress(b"\n".join([lines[0], *body, b""]), mtime=built)
    (r3 / "medgen_pubmed_lnk.txt.gz").write_bytes(shuffled)
    monkeypatch.setattr(pipeline, "COMPARE_OPTIONS", CompareOptions(detect_after=100_000))
    kept = ("--files", FILES, "--kept-dir", str(tmp_path / "kept"))
    assert load(r1, db_uri, *kept) == 0
    assert load(r3, db_uri, "--mode", "delta", *kept) == 0
    assert_mirrors(db_uri, r3, TABLES)
    recorded = methods(db_uri)
    assert recorded["pubmed_links"][0] == "database"
    assert "reordered" in recorded["pubmed_links"][1]
    assert recorded["concepts"] == ("file", None)
    # Next week's delta from the shuffled release compares from its kept file again.
    assert load(r2, db_uri, "--mode", "delta", *kept) == 0
    assert_mirrors(db_uri, r2, TABLES)


def test_verify_compares_rows_with_the_kept_files(
    releases: tuple[Path, Path], db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, _ = releases
    kept = ("--kept-dir", str(tmp_path / "kept"))
    assert load(r1, db_uri, "--files", FILES, *kept) == 0
    capsys.readouterr()
    assert run_cli("verify", "--db-uri", db_uri, *kept) == 0
    assert "every table matches" in capsys.readouterr().out
    loader = open_loader(db_uri, "medgen")
    loader.connect()
    try:
        with loader.transaction():
            name = loader.query("SELECT preferred_name FROM medgen.concepts ORDER BY cui LIMIT 1")[
                0
            ][0]
            loader.execute(
                "UPDATE medgen.concepts SET preferred_name = preferred_name || 'x' "
                "WHERE cui = (SELECT min(cui) FROM medgen.concepts)"
            )
    finally:
        loader.close()
    assert run_cli("verify", "--db-uri", db_uri, *kept, "--quick") == 0
    capsys.readouterr()
    assert run_cli("verify", "--db-uri", db_uri, *kept) == ExitCode.VERIFY_MISMATCH
    out = capsys.readouterr().out
    assert (
        "concepts: 2 row(s) differ from the file: 1 missing from the table, 1 not in the file"
        in out
    )
    assert "extra: " in out and f"{name}x|" in out
    assert run_cli("verify", "--db-uri", db_uri, "--source", str(r1), "--json") == (
        ExitCode.VERIFY_MISMATCH
    )
    result = json.loads(capsys.readouterr().out)
    tables = {t["table"]: t for t in result["tables"]}
    assert tables["concepts"]["content"]["rows_differing"] == 2
    examples = tables["concepts"]["content"]["examples"]
    assert {e["side"] for e in examples} == {"missing", "extra"}
    assert any(e["row"]["preferred_name"] == name + "x" for e in examples)
    assert tables["definitions"]["ok"]
    assert tables["pubmed_links"]["ok"] and tables["pubmed_links"]["content"]["rows_differing"] == 0


def test_schema_of_an_older_version_is_read_then_upgraded(
    releases: tuple[Path, Path], db_uri: str, tmp_path: Path
) -> None:
    r1, r2 = releases
    kept = ("--files", FILES, "--kept-dir", str(tmp_path / "kept"))
    assert load(r1, db_uri, *kept) == 0
    loader = open_loader(db_uri, "medgen")
    loader.connect()
    try:
        with loader.transaction():
            for column in ("compare_method", "compare_note"):
                loader.execute(f"ALTER TABLE medgen.etl_run_files DROP COLUMN {column}")
    finally:
        loader.close()
    assert run_cli("status", "--db-uri", db_uri) == 0
    assert run_cli("verify", "--db-uri", db_uri, "--quick") == 0
    assert load(r2, db_uri, "--mode", "delta", *kept) == 0
    assert_mirrors(db_uri, r2, TABLES)
    assert {m for m, _ in methods(db_uri).values()} == {"file"}


def _move_an_atom(release: Path) -> str:
    """Give one MONDO atom of MGCONSO another concept (an update that moves it); returns
    the CUI it left."""
    path = release / "MGCONSO.RRF.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    cuis = sorted({line.split("|", 1)[0] for line in lines[1:]})
    for i, line in enumerate(lines[1:], 1):
        fields = line.split("|")
        if fields[8] == "MONDO" and fields[10]:
            left = fields[0]
            fields[0] = next(c for c in cuis if c != left)
            lines[i] = "|".join(fields)
            path.write_bytes(gzip.compress("".join(lines).encode(), mtime=0))
            return left
    raise AssertionError("no MONDO atom in the generated release")


def test_delta_refreshes_xref_pairs_in_place_exactly(db_uri: str, tmp_path: Path) -> None:
    """A file-compared delta refreshes the derived xref_pairs for the changed concepts only,
    and ends with exactly the pairs a whole build from the same tables gives: after 5 %
    churn, then after one atom moved to another concept (its old concept loses the pair)."""
    from py_load_medgen.answers.views import xref_pairs_select
    from py_load_medgen.load.sql import DUCKDB, POSTGRES

    r1, r2, r3 = tmp_path / "r1", tmp_path / "r2", tmp_path / "r3"
    tables = ["concepts", "concept_names", "source_links"]
    generate_release(r1, scale=0.0005, seed=31, files=tables)
    derive_release(r1, r2, churn=0.05, seed=32, kind="ordered")
    shutil.copytree(r2, r3)
    left = _move_an_atom(r3)
    files = ("--files", "NAMES.RRF.gz,MGCONSO.RRF.gz,MedGenIDMappings.txt.gz")
    kept = ("--kept-dir", str(tmp_path / "kept"))
    assert load(r1, db_uri, *files, *kept) == 0
    with open_loader(db_uri, "medgen") as loader:
        loader.execute("COMMENT ON TABLE medgen.xref_pairs IS 'seen'")
    comment = (
        "SELECT comment FROM duckdb_tables() WHERE table_name = 'xref_pairs'"
        if db_uri.startswith("duckdb")
        else "SELECT obj_description('medgen.xref_pairs'::regclass, 'pg_class')"
    )
    columns = "cui, curie, prefix, source, source_id, origin"
    whole = xref_pairs_select(DUCKDB if db_uri.startswith("duckdb") else POSTGRES, "medgen",
                              set(tables))  # fmt: skip
    before = query(db_uri, f"SELECT {columns} FROM medgen.xref_pairs")
    for release in (r2, r3):
        assert load(release, db_uri, "--mode", "delta", *files, *kept) == 0
        assert_mirrors(db_uri, release, tables)
        assert methods(db_uri)["concept_names"][0] == "file"
        assert "database" not in {m for m, _ in methods(db_uri).values()}
        assert query(db_uri, comment) == [("seen",)]  # refreshed in place, not rebuilt
        got = sorted(query(db_uri, f"SELECT {columns} FROM medgen.xref_pairs"), key=repr)
        want = sorted(query(db_uri, f"SELECT {columns} FROM ({whole}) w"), key=repr)
        assert got == want
        assert got != sorted(before, key=repr)  # each delta changed pairs
        before = got
    gone = query(db_uri, f"SELECT count(*) FROM medgen.xref_pairs WHERE cui = '{left}'")
    assert gone == query(db_uri, f"SELECT count(*) FROM ({whole}) w WHERE cui = '{left}'")


def _data_lines(release: Path, table: str) -> int:
    from py_load_medgen.release.files import FILES as SPECS

    spec = next(s for s in SPECS if s.table == table)
    raw = (release / spec.served_names[0]).read_bytes()
    body = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    body = body.split(b"\n", 1)[1]  # the header
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def test_rows_read_follow_the_files_through_deltas_without_counting(
    releases: tuple[Path, Path], db_uri: str, tmp_path: Path
) -> None:
    """A file-compared delta computes the new file's lines from the kept file's (recorded by
    the load that read it) and the change set; a skipped table carries its count, so the
    chain stays exact: full, delta, the same release again, and back."""
    r1, r2 = releases
    kept = ("--files", FILES, "--kept-dir", str(tmp_path / "kept"))
    last = (
        "SELECT f.table_name, f.rows_read FROM medgen.etl_run_files f JOIN medgen.etl_runs r "
        "USING (run_id) WHERE r.started_at = (SELECT max(started_at) FROM medgen.etl_runs)"
    )
    steps = ((r1, "full"), (r2, "delta"), (r2, "delta"), (r1, "delta", "--allow-older"))
    for release, mode, *older in steps:
        assert load(release, db_uri, "--mode", mode, *older, *kept) == 0
        recorded = {str(t): int(n) for t, n in query(db_uri, last)}
        assert recorded == {t: _data_lines(release, t) for t in TABLES}, mode
