"""DuckDB specifics: the URI, the default file, the lock file, views across a swap, memory."""

from __future__ import annotations

import gc
import gzip
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from py_load_medgen.errors import ExitCode, InputError, LockedError, UsageError
from py_load_medgen.load import _arrow
from py_load_medgen.load._arrow import ArrowBlocks
from py_load_medgen.load.duckdb import DuckDBLoader, parse_uri
from py_load_medgen.parse.stream import EncodedFile, not_an_integer
from py_load_medgen.pipeline import LoadOptions, run_full
from py_load_medgen.release.files import spec_for_file
from py_load_medgen.source.local import LocalSource
from tests.helpers import load_release as load
from tests.helpers import names_release, query, run_cli, table_rows

NAMES_HEADER = b"#CUI|name|source|SUPPRESS|\n"


def connected(uri: str) -> DuckDBLoader:
    loader = DuckDBLoader(uri, "medgen")
    loader.connect()
    return loader


# -- the URI ----------------------------------------------------------------------------------


def test_a_file_named_like_the_schema_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        connected(f"duckdb:///{(tmp_path / 'medgen.duckdb').as_posix()}").close()
        assert "write medgen.medgen.concepts there" in caplog.text
        caplog.clear()
        connected(f"duckdb:///{(tmp_path / 'medgen-mirror.duckdb').as_posix()}").close()
    assert not caplog.text


def test_uri_forms() -> None:
    assert parse_uri("duckdb:///medgen.duckdb")[0] == "medgen.duckdb"
    assert parse_uri("duckdb:////var/lib/medgen.duckdb")[0] == "/var/lib/medgen.duckdb"
    assert parse_uri("duckdb:///:memory:")[0] == ":memory:"
    path, settings = parse_uri("duckdb:///m.duckdb?memory_limit=2GiB&threads=3")
    assert (path, settings["memory_limit"], settings["threads"]) == ("m.duckdb", "2GiB", "3")
    for bad in ("duckdb://host/medgen.duckdb", "duckdb:", "duckdb:///"):
        with pytest.raises(UsageError, match="bad DuckDB URI"):
            parse_uri(bad)


def test_relative_path_is_resolved_and_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loader = DuckDBLoader("duckdb:///sub/dir/m.duckdb", "medgen")
    assert loader.describe() == f"DuckDB file {tmp_path / 'sub' / 'dir' / 'm.duckdb'}"
    loader.connect()
    loader.close()
    assert (tmp_path / "sub" / "dir" / "m.duckdb").exists()


def test_memory_bound_settings(duckdb_uri: str) -> None:
    loader = connected(duckdb_uri)
    try:
        limit, threads = loader.query(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        )[0]
        assert limit == "128.0 MiB"
        assert 1 <= int(threads) <= 4
    finally:
        loader.close()
    loader = connected(duckdb_uri + "?memory_limit=300MiB&threads=1")
    try:
        assert loader.query(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ) == [("300.0 MiB", 1)]
    finally:
        loader.close()


def test_a_delta_gets_room_for_its_transaction_unless_the_uri_sets_the_limit(
    duckdb_uri: str,
) -> None:
    for uri, want in (
        (duckdb_uri, "512.0 MiB"),
        (duckdb_uri + "?memory_limit=300MiB", "300.0 MiB"),
    ):
        loader = connected(uri)
        try:
            loader.prepare_delta()
            assert loader.query("SELECT current_setting('memory_limit')") == [(want,)]
        finally:
            loader.close()


def test_running_out_of_memory_says_which_setting_to_raise(duckdb_uri: str) -> None:
    from py_load_medgen.errors import DatabaseError

    loader = connected(duckdb_uri + "?memory_limit=8MiB&threads=1")
    try:
        with pytest.raises(DatabaseError, match="Out of Memory") as caught:
            loader.query("SELECT count(DISTINCT i::VARCHAR || 'x') FROM range(20000000) t(i)")
        assert "memory_limit" in (caught.value.hint or "")
    finally:
        loader.close()


def test_bad_setting_is_a_database_error(duckdb_uri: str) -> None:
    from py_load_medgen.errors import DatabaseError

    with pytest.raises(DatabaseError, match="no_such_setting"):
        connected(duckdb_uri + "?no_such_setting=1")


# -- the default location -----------------------------------------------------------------------


def test_default_database_is_created_and_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_home = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("MEDGEN_DB_URI", "MEDGEN_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    release = names_release(tmp_path, "r", 5, "x")
    code = run_cli(
        "load",
        "--source",
        str(release),
        "--files",
        "NAMES.RRF.gz",
        "--rejects-dir",
        str(tmp_path / "rejects"),
    )
    assert code == 0
    expected = data_home / "py-load-medgen" / "medgen-mirror.duckdb"
    assert expected.exists()
    err = capsys.readouterr().err
    assert f"no --db-uri given: loading into the embedded default DuckDB file {expected}" in err
    uri = f"duckdb:///{expected.as_posix()}"
    assert table_rows(uri, "concepts", ["cui"])[0] == ("C0000000",)


# -- the same mirror as PostgreSQL ---------------------------------------------------------------


def test_in_memory_database_loads_through_the_pipeline(tmp_path: Path) -> None:
    release = names_release(tmp_path, "r", 50, "x")
    loader = connected("duckdb:///:memory:")
    try:
        options = LoadOptions(files=("NAMES.RRF.gz",), rejects_dir=tmp_path / "rejects")
        result = run_full(LocalSource(release), loader, options)
        assert result.rows_loaded == 50
        assert loader.count_rows("concepts") == 50
        assert loader.loaded_state()["concepts"]["match_key"] == "cui"
        assert loader.lock_path is None
    finally:
        loader.close()


def test_natural_key_checked_without_an_index(tmp_path: Path, duckdb_uri: str) -> None:
    release = tmp_path / "r"
    release.mkdir()
    rows = b"C0000001|One|GTR|N|\nC0000001|Again|GTR|N|\n"
    (release / "NAMES.RRF.gz").write_bytes(gzip.compress(NAMES_HEADER + rows))
    assert load(release, duckdb_uri) == 0
    assert query(duckdb_uri, 'SELECT match_key FROM "medgen"."etl_run_files"') == [(None,)]
    assert (
        query(duckdb_uri, "SELECT count(*) FROM duckdb_indexes() WHERE schema_name = 'medgen'")[0][
            0
        ]
        == 0
    )
    assert load(names_release(tmp_path, "r2", 3, "x"), duckdb_uri) == 0
    keys = query(duckdb_uri, 'SELECT match_key FROM "medgen"."etl_run_files" ORDER BY match_key')
    assert keys == [("cui",), (None,)]


def test_views_and_user_indexes_survive_a_swap(tmp_path: Path, duckdb_uri: str) -> None:
    assert load(names_release(tmp_path, "r1", 10, "old"), duckdb_uri) == 0
    loader = connected(duckdb_uri)
    try:
        loader.execute(
            'CREATE VIEW "medgen"."old_names" AS SELECT cui FROM "medgen"."concepts" '
            "WHERE preferred_name LIKE 'old%'"
        )
        loader.execute("CREATE SCHEMA reports")
        loader.execute('CREATE VIEW reports.size AS SELECT count(*) AS n FROM "medgen"."concepts"')
        loader.execute('CREATE INDEX my_lower_name ON "medgen"."concepts" (lower(preferred_name))')
    finally:
        loader.close()
    assert load(names_release(tmp_path, "r2", 15, "new"), duckdb_uri) == 0
    indexes = "SELECT index_name, table_name FROM duckdb_indexes() WHERE schema_name = 'medgen'"
    assert query(duckdb_uri, indexes) == [("my_lower_name", "concepts")]
    assert query(duckdb_uri, "SELECT n FROM reports.size") == [(15,)]
    assert query(duckdb_uri, 'SELECT count(*) FROM "medgen"."old_names"') == [(0,)]
    assert load(names_release(tmp_path, "r3", 8, "old"), duckdb_uri, "--strategy", "truncate") == 0
    assert query(duckdb_uri, "SELECT n FROM reports.size") == [(8,)]
    assert query(duckdb_uri, 'SELECT count(*) FROM "medgen"."old_names"') == [(8,)]
    assert query(duckdb_uri, indexes) == [("my_lower_name", "concepts")]
    assert load(names_release(tmp_path, "r4", 9, "new"), duckdb_uri) == 0
    assert query(duckdb_uri, indexes) == [("my_lower_name", "concepts")]


def test_swap_is_invisible_to_concurrent_readers(tmp_path: Path, duckdb_uri: str) -> None:
    old = names_release(tmp_path, "old", 20_000, "old")
    new = names_release(tmp_path, "new", 30_000, "new")
    assert load(old, duckdb_uri) == 0
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        # A reader in the same process shares the database instance with the load.
        try:
            loader = connected(duckdb_uri)
            try:
                while True:
                    last = stop.is_set()  # one more read after the last load, however late
                    total, new_rows = loader.query(
                        "SELECT count(*), count(*) FILTER (WHERE preferred_name LIKE 'new%') "
                        'FROM "medgen"."concepts"'
                    )[0]
                    seen.append((total, new_rows))
                    started.set()
                    if last:
                        break
            finally:
                loader.close()
        except BaseException as exc:
            errors.append(exc)
            started.set()

    started = threading.Event()
    thread = threading.Thread(target=reader)
    thread.start()
    started.wait(timeout=120)  # the reader reads before the first load, on any machine
    try:
        for _ in range(2):
            assert load(new, duckdb_uri) == 0
            assert load(old, duckdb_uri) == 0
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(seen) >= 2
    assert set(seen) <= {(20_000, 0), (30_000, 30_000)}


# -- the lock file ------------------------------------------------------------------------------


def test_lock_file_names_the_holder_and_goes_away(
    tmp_path: Path, duckdb_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = connected(duckdb_uri)
    holder.acquire_lock("holder-run")
    lock = tmp_path / "medgen-mirror.duckdb.lock"
    try:
        record = json.loads(lock.read_text())
        assert record["pid"] == os.getpid()
        assert record["host"] == socket.gethostname()
        assert record["run_id"] == "holder-run"
        other = connected(duckdb_uri)
        try:
            with pytest.raises(LockedError) as caught:
                other.acquire_lock("second-run")
        finally:
            other.close()
        assert f"pid {os.getpid()} on {socket.gethostname()}, run holder-run" in str(caught.value)
        assert str(lock) in str(caught.value.hint)
        capsys.readouterr()
        assert load(names_release(tmp_path, "r", 3, "x"), duckdb_uri) == ExitCode.LOCKED
        assert "another load holds the lock" in capsys.readouterr().err
        assert lock.exists()
    finally:
        holder.close()
    assert not lock.exists()
    assert load(names_release(tmp_path, "r2", 3, "x"), duckdb_uri) == 0
    assert not lock.exists()


def test_lock_of_a_dead_process_is_taken_over(
    tmp_path: Path, duckdb_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock = tmp_path / "medgen-mirror.duckdb.lock"
    stale = {"pid": int(finished.stdout), "host": socket.gethostname(), "run_id": "killed-run"}
    lock.write_text(json.dumps(stale))
    loader = connected(duckdb_uri)
    try:
        with caplog.at_level(logging.WARNING):
            loader.acquire_lock("new-run")
        assert json.loads(lock.read_text())["run_id"] == "new-run"
        assert "taking over the lock of run killed-run" in caplog.text
    finally:
        loader.close()
    assert not lock.exists()


def test_lock_of_another_host_is_respected(tmp_path: Path, duckdb_uri: str) -> None:
    lock = tmp_path / "medgen-mirror.duckdb.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "run_id": "far-run"}))
    loader = connected(duckdb_uri)
    try:
        with pytest.raises(LockedError, match="pid 1 on elsewhere.example, run far-run"):
            loader.acquire_lock("new-run")
    finally:
        loader.close()
    assert lock.exists()


def test_another_process_holding_the_file_is_named(tmp_path: Path, duckdb_uri: str) -> None:
    script = (
        "import sys\n"
        "from py_load_medgen.load.duckdb import DuckDBLoader\n"
        "loader = DuckDBLoader(sys.argv[1], 'medgen')\n"
        "loader.connect()\n"
        "loader.acquire_lock('other-process-run')\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "loader.close()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, duckdb_uri],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        assert other.stdout is not None
        assert other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        try:
            with pytest.raises(LockedError) as caught:
                connected(duckdb_uri)
            assert f"pid {other.pid}" in str(caught.value)
            assert "run other-process-run" in str(caught.value)
        finally:
            other.stdin.close()
            other.wait(timeout=30)
    assert other.returncode == 0
    connected(duckdb_uri).close()


# -- Arrow ingestion ----------------------------------------------------------------------------


def arrow_tables(
    tmp_path: Path, name: str, data: bytes, **options: bool
) -> tuple[list[str], list[pa.Table]]:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    encoded = EncodedFile(path, spec_for_file(name), **options)  # type: ignore[arg-type]
    arrow = ArrowBlocks(encoded)
    return arrow.columns, list(arrow.tables())


def test_escapes_are_undone_exactly(tmp_path: Path) -> None:
    definition = "a\rb \\r \\\\ \\N \\ \"q\" 'x'\tSjögren \\"
    data = b"#CUI|DEF|source|SUPPRESS|\n" + f"C0000001|{definition}|s|N|\n".encode()
    columns, tables = arrow_tables(tmp_path, "MGDEF.RRF.gz", data)
    assert columns == ["cui", "definition", "source", "suppress"]
    assert tables[0].to_pylist() == [
        {"cui": "C0000001", "definition": definition, "source": "s", "suppress": "N"}
    ]


@pytest.mark.parametrize(
    ("name", "data", "raw"),
    [
        (
            "NAMES.RRF.gz",
            b"#CUI|name|source|SUPPRESS|\nC0000001|a\\b\rc|GTR|N|\n",
            "C0000001|a\\b\rc|GTR|N|",
        ),
        (
            "HPO_CUI_history.txt",
            b"HPO_Id\tCUI\tDate\tIsCurrent\nHP:1\tC0000001\t1 Jan 2020\t1\n",
            "HP:1\tC0000001\t1 Jan 2020\t1",
        ),
    ],
)
def test_raw_records_keep_the_line_verbatim(
    tmp_path: Path, name: str, data: bytes, raw: str
) -> None:
    columns, tables = arrow_tables(tmp_path, name, data, raw_records=True)
    assert columns[-1] == "raw_record"
    assert tables[0].column("raw_record").to_pylist() == [raw]


def test_integers_follow_postgresql(tmp_path: Path) -> None:
    header = b"#UID|CUI|NAME|PMID|\n"
    ok = b"1|C0000001|x| 12 |\n2|C0000001|x|+3|\n3|C0000001|x|0009223372036854775807|\n"
    _, tables = arrow_tables(tmp_path, "medgen_pubmed_lnk.txt.gz", header + ok)
    assert tables[0].column("pmid").to_pylist() == [12, 3, 2**63 - 1]
    assert tables[0].schema.field("pmid").type == pa.int64()
    for value in (b"0x1F", b"1e3", b"1.0", b"", b"9223372036854775808", b"\xd9\xa3"):
        bad = header + b"1|C0000001|x|" + value + b"|\n"
        with pytest.raises(InputError) as caught:
            arrow_tables(tmp_path, "medgen_pubmed_lnk.txt.gz", bad)
        assert caught.value.detail == not_an_integer(value.decode())
        assert (caught.value.line, caught.value.column) == (2, "PMID")


def test_first_bad_value_wins_as_in_postgresql(tmp_path: Path) -> None:
    header = b"#CUI|name|source|SUPPRESS|\n"
    rows = b"C0000001|a|s|N|\nbad|b|s|N|\n"
    with pytest.raises(InputError) as caught:
        arrow_tables(tmp_path, "NAMES.RRF.gz", header + rows)
    assert (caught.value.line, caught.value.column) == (3, "CUI")
    # Within a row, a value that does not parse comes before a CHECK.
    header = b"#UID|CUI|NAME|PMID|\n"
    rows = b"1|C0000001|x|1|\n2|C0000001|x|1|\nx|C0000001|x|y|\n"
    with pytest.raises(InputError) as caught:
        arrow_tables(tmp_path, "medgen_pubmed_lnk.txt.gz", header + rows)
    assert (caught.value.line, caught.value.column) == (4, "UID")


def test_rejected_rows_shift_the_reported_line(tmp_path: Path) -> None:
    data = b"#UID|CUI|NAME|PMID|\n1|C0000001|x|1|\nshort|\n2|C0000001|x|big|\n"
    with pytest.raises(InputError) as caught:
        arrow_tables(tmp_path, "medgen_pubmed_lnk.txt.gz", data)
    assert (caught.value.line, caught.value.column) == (4, "PMID")


def test_blocks_are_not_held_until_commit(
    tmp_path: Path, duckdb_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole file must never sit in memory: DuckDB lets go of each block once read."""
    release = tmp_path / "r"
    release.mkdir()
    # A plain file arrives in 1 MiB reads, so this one makes a dozen blocks.
    line = "{}\tC{:07d}\t12 Jun 2019 and some more text\t1\n"
    body = "".join(line.format(i, i // 10) for i in range(400_000)).encode()
    (release / "MedGen_UID_CUI_history.txt").write_bytes(b"#UID\tCUI\tDate\tIsCurrent\n" + body)
    peaks: list[int] = []
    tables = ArrowBlocks.tables

    def watched(self: ArrowBlocks) -> Iterator[pa.Table]:
        for table in tables(self):
            peaks.append(pa.total_allocated_bytes())
            yield table

    monkeypatch.setattr(_arrow.ArrowBlocks, "tables", watched)
    gc.collect()  # Arrow data left by earlier tests would count
    before = pa.total_allocated_bytes()
    code = run_cli(
        "load",
        "--source",
        str(release),
        "--db-uri",
        duckdb_uri,
        "--files",
        "MedGen_UID_CUI_history.txt",
        "--rejects-dir",
        str(tmp_path / "rejects"),
    )
    assert code == 0
    assert query(duckdb_uri, 'SELECT count(*), sum(uid) FROM "medgen"."uid_cui_history"') == [
        (400_000, sum(range(400_000)))
    ]
    assert len(peaks) > 10
    # Retained, the blocks would add up to more than the file; in flight, a few of them.
    assert max(peaks) - before < len(body) / 2


def test_an_interrupted_query_is_an_interrupt(duckdb_uri: str) -> None:
    """SIGINT/SIGTERM stop a DuckDB query with an error; the pipeline must see the interrupt."""
    loader = connected(duckdb_uri)
    try:
        timer = threading.Timer(0.3, loader.conn.interrupt)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            loader.query("SELECT sum(i * i) FROM range(100000000000) AS t(i)")
        timer.join()
        assert loader.query("SELECT 42") == [(42,)]
    finally:
        loader.close()


def test_delta_with_scratch_columns_runs_the_shared_change_capture(
    tmp_path: Path, duckdb_uri: str
) -> None:
    """An unknown column and the trailing delimiter make two scratch columns to drop, which
    DuckDB takes one ALTER TABLE at a time."""
    assert load(names_release(tmp_path, "old", 5, "name"), duckdb_uri) == 0
    new = tmp_path / "new"
    new.mkdir()
    rows = [f"C{i:07d}|{'renamed' if i == 1 else 'name'} {i}|GTR|N|x|" for i in range(1, 7)]
    text = "#CUI|name|source|SUPPRESS|NEWCOL|\n" + "\n".join(rows) + "\n"
    (new / "NAMES.RRF.gz").write_bytes(gzip.compress(text.encode()))
    assert load(new, duckdb_uri, "--mode", "delta") == 0
    counts = query(
        duckdb_uri,
        "SELECT rows_inserted, rows_updated, rows_deleted, rows_unchanged, match_key FROM "
        '"medgen"."etl_run_files" ORDER BY rows_inserted NULLS FIRST',
    )
    assert counts[-1] == (2, 1, 1, 3, "cui")
    assert sorted(table_rows(duckdb_uri, "concepts", ["cui"]))[0] == ("C0000001",)
    assert len(table_rows(duckdb_uri, "concepts", ["cui"])) == 6
