"""The Delta Lake backend, read back by the engines lakehouse users run.

deltalake and Polars read every table; a local Spark reads the Parquet files the Delta log
lists; delta loads equal full loads and PostgreSQL; a dead run leaves the previous release
listed; vacuum keeps what the manifest lists; the same lake works on an S3 server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from py_load_medgen.errors import ExitCode, LockedError, UsageError
from py_load_medgen.generate import derive_release, generate_release
from py_load_medgen.load import lake
from py_load_medgen.load.lake import DeltaLakeLoader, parse_uri, table_schema
from py_load_medgen.load.registry import open_loader
from py_load_medgen.release.files import FILES, ColumnType, spec_for_table
from tests.helpers import load_release as load
from tests.helpers import query, read_file_rows, run_cli, table_rows

TABLES = [s.table for s in FILES]


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lake-releases")
    r1, r2 = root / "r1", root / "r2"
    generate_release(r1, scale=0.0005, seed=11)
    derive_release(r1, r2, churn=0.05, seed=5, reorder_columns=("concepts", "pubmed_links"))
    return r1, r2


@pytest.fixture(scope="module")
def genuine_release(
    tmp_path_factory: pytest.TempPathFactory, real_data: Path, two_releases: tuple[Path, Path]
) -> Path:
    """The generated release with NCBI's genuine NAMES.RRF.gz in place of the generated one."""
    out = tmp_path_factory.mktemp("lake-genuine") / "release"
    shutil.copytree(two_releases[0], out)
    shutil.copyfile(real_data / "NAMES.RRF.gz", out / "NAMES.RRF.gz")
    return out


@pytest.fixture(scope="module")
def r1_then_r2(
    request: pytest.FixtureRequest, two_releases: tuple[Path, Path], shared_dir: Path
) -> tuple[Path, str]:
    """R1 loaded in full then R2 as a delta, into a lake and into PostgreSQL, once per run for
    the tests that only read them: (the lake's root, the PostgreSQL URI)."""
    from tests.conftest import build_once, shared_database, with_database

    r1, r2 = two_releases
    root = shared_dir / "lake-r1-then-r2"

    def build_lake() -> None:
        shutil.rmtree(root, ignore_errors=True)
        assert load(r1, lake_uri(root)) == 0
        assert load(r2, lake_uri(root), "--mode", "delta") == 0

    def build_database(uri: str) -> None:
        assert load(r1, uri) == 0
        assert load(r2, uri, "--mode", "delta") == 0

    build_once(shared_dir, "lake-r1-then-r2", build_lake)
    admin = str(request.getfixturevalue("pg_admin_dsn"))
    name = shared_database(request, admin, "lake_r1_then_r2", build_database)
    return root, with_database(admin, name)


def lake_uri(root: Path, **params: str) -> str:
    query_string = "&".join(f"{k}={v}" for k, v in params.items())
    return f"delta://{root.as_posix()}" + (f"?{query_string}" if query_string else "")


def served(directory: Path, table: str) -> Path:
    spec = spec_for_table(table)
    return next(p for p in directory.iterdir() if p.name.lower() == spec.name.lower())


def manifest(uri: str) -> dict[str, int]:
    loader = DeltaLakeLoader(uri, "medgen")
    loader.connect()
    try:
        return loader.release_versions()
    finally:
        loader.close()


def delta_rows(root: Path, table: str, version: int | None = None) -> Counter[tuple[Any, ...]]:
    data = DeltaTable(str(root / "medgen" / table), version=version).to_pyarrow_table()
    names = spec_for_table(table).column_names
    return Counter(zip(*(data.column(n).to_pylist() for n in names), strict=True))


def file_rows(directory: Path, table: str) -> Counter[tuple[Any, ...]]:
    return Counter(read_file_rows(served(directory, table), spec_for_table(table)))


# -- the URI ------------------------------------------------------------------------------


def test_uri_forms() -> None:
    assert parse_uri("delta:///data/lake")[0] == "/data/lake"
    root, storage, ours = parse_uri("delta+s3://bucket/pre/fix?retention_days=30&allow_http=true")
    assert (root, storage, ours) == (
        "s3://bucket/pre/fix",
        {"allow_http": "true"},
        {"retention_days": "30"},
    )
    assert parse_uri("delta+abfss://c@acct.dfs.core.windows.net/x")[0] == (
        "abfss://c@acct.dfs.core.windows.net/x"
    )
    for bad in ("delta://host/lake", "delta:///", "delta+ftp://x/y", "delta:///l?retention_days=x"):
        with pytest.raises(UsageError):
            DeltaLakeLoader(bad, "medgen")
    assert isinstance(open_loader("delta+gs://bucket/lake", "medgen"), DeltaLakeLoader)


def test_the_query_string_never_reaches_a_message() -> None:
    loader = DeltaLakeLoader("delta+s3://bucket/lake?aws_secret_access_key=s3cr3t", "medgen")
    assert "s3cr3t" not in loader.describe()
    assert loader.storage == {"aws_secret_access_key": "s3cr3t"}


# -- full loads, read back ----------------------------------------------------------------


def test_every_table_reads_back_with_deltalake_and_polars(
    genuine_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = lake_uri(tmp_path / "lake")
    assert load(genuine_release, uri) == 0
    versions = manifest(uri)
    assert set(versions) == set(TABLES)
    for spec in FILES:
        path = tmp_path / "lake" / "medgen" / spec.table
        table = DeltaTable(str(path))
        assert table.version() == versions[spec.table]
        # One commit per table: the initial write, nothing after it.
        assert [h["operation"] for h in table.history()] == ["WRITE"]
        expected = file_rows(genuine_release, spec.table)
        assert delta_rows(tmp_path / "lake", spec.table) == expected, spec.table
        assert table.schema().to_arrow() == table_schema(spec), spec.table
        frame = pl.read_delta(str(path), version=versions[spec.table])
        assert frame.height == sum(expected.values())
        for column in spec.columns:
            want = {
                ColumnType.TEXT: pl.String,
                ColumnType.BIGINT: pl.Int64,
                ColumnType.SMALLINT: pl.Int16,
            }[column.type]
            assert frame.schema[column.name] == want, (spec.table, column.name)
        sample = frame.head(50).rows()
        assert all(expected[row] for row in sample), spec.table
        # Statistics are in the log: min and max per column of every file.
        stats = pa.table(table.get_add_actions(flatten=True)).to_pydict()
        assert all(n > 0 for n in stats["num_records"]), spec.table
        first = spec.columns[0].name
        assert f"min.{first}" in stats and None not in stats[f"min.{first}"]
    names = pl.read_delta(str(tmp_path / "lake" / "medgen" / "concepts"))
    assert names.height == 234_073
    accented = names.filter(pl.col("preferred_name").str.contains("é"))
    assert accented.height > 0
    assert accented["preferred_name"][0] in gzip.decompress(
        (genuine_release / "NAMES.RRF.gz").read_bytes()
    ).decode("utf-8")
    capsys.readouterr()
    assert run_cli("status", "--db-uri", uri, "--json") == 0
    status = json.loads(capsys.readouterr().out)
    rows = {t["table"]: t["rows"] for t in status["tables"]}
    assert rows["concepts"] == 234_073
    assert run_cli("verify", "--db-uri", uri, "--source", str(genuine_release)) == 0
    capsys.readouterr()
    assert run_cli("history", "--db-uri", uri, "--json") == 0
    history = json.loads(capsys.readouterr().out)
    assert [run["status"] for run in history] == ["succeeded"]


def test_status_of_a_lake_never_loaded(tmp_path: Path) -> None:
    assert run_cli("status", "--db-uri", lake_uri(tmp_path / "nothing")) == ExitCode.NOT_LOADED


def test_the_key_check_in_slices_finds_a_duplicate_in_any_slice(
    small_release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three rows a slice: every keyed table is checked in many slices of its key's hash.
    monkeypatch.setattr(lake, "KEY_CHECK_ROWS", 3)
    release = tmp_path / "release"
    shutil.copytree(small_release, release)
    path = served(release, "concept_names")
    with gzip.open(path, "rb") as fh:
        header, *rows = fh.read().splitlines(keepends=True)
    with gzip.open(path, "wb") as fh:
        fh.write(header + b"".join(rows) + rows[len(rows) // 2])  # one atom twice
    assert load(release, lake_uri(tmp_path / "lake")) == 0
    keys = dict(
        pl.read_delta(str(tmp_path / "lake" / "medgen" / "etl_run_files"))
        .select("table_name", "match_key")
        .iter_rows()
    )
    assert keys["concept_names"] is None
    for table in ("concepts", "relationships", "attributes", "semantic_types"):
        assert keys[table], table  # unique, proven slice by slice


# -- delta loads --------------------------------------------------------------------------


def test_full_then_delta_equals_full_and_postgres(
    two_releases: tuple[Path, Path], r1_then_r2: tuple[Path, str], tmp_path: Path
) -> None:
    r1, r2 = two_releases
    a, pg_uri = r1_then_r2
    b = tmp_path / "b"
    assert load(r2, lake_uri(b)) == 0
    changed = 0
    for spec in FILES:
        after_delta = delta_rows(a, spec.table)
        assert after_delta == delta_rows(b, spec.table), spec.table
        assert after_delta == Counter(table_rows(pg_uri, spec.table, spec.column_names))
        assert after_delta == file_rows(r2, spec.table)
        history = DeltaTable(str(a / "medgen" / spec.table)).history()
        changed += history[0]["operation"] in ("MERGE", "WRITE") and len(history) > 1
    assert changed >= 10  # the deltas really went through merges, not rewrites
    versions = manifest(lake_uri(a))
    for spec in FILES:
        assert versions[spec.table] == DeltaTable(str(a / "medgen" / spec.table)).version()
    # The first release stays readable at the versions its manifest listed (time travel).
    runs = pl.read_delta(str(a / "medgen" / "etl_runs")).sort("started_at")
    first = json.loads(runs.filter(pl.col("mode") == "full")["table_versions"][0])
    assert delta_rows(a, "concepts", first["concepts"]) == file_rows(r1, "concepts")


def test_delta_compared_in_the_database_equals_the_release(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    """Without kept files every changed table is compared in the lake's DuckDB and merged:
    keyed tables by their key, the others (`pubmed_links`...) as multisets of whole rows."""
    r1, r2 = two_releases
    uri = lake_uri(tmp_path / "lake")
    assert load(r1, uri, "--no-keep-files") == 0
    assert load(r2, uri, "--mode", "delta", "--no-keep-files") == 0
    for spec in FILES:
        assert delta_rows(tmp_path / "lake", spec.table) == file_rows(r2, spec.table), spec.table
    methods = pl.read_delta(str(tmp_path / "lake" / "medgen" / "etl_run_files"))
    compared = set(methods.filter(pl.col("rows_deleted") > 0)["compare_method"].to_list())
    assert compared == {"database"}


def test_a_dead_run_leaves_the_previous_release_listed_and_is_undone(
    two_releases: tuple[Path, Path], tmp_path: Path
) -> None:
    r1, r2 = two_releases
    broken = tmp_path / "broken"
    shutil.copytree(r2, broken)
    # A file late in the load order with a bad integer: the tables before it are written.
    history = served(broken, "uid_cui_history")
    lines = history.read_text().splitlines()
    lines[3] = "notanumber" + lines[3][lines[3].index("\t") :] if "\t" in lines[3] else lines[3]
    history.write_text("\n".join(lines) + "\n")
    root = tmp_path / "lake"
    uri = lake_uri(root)
    assert load(r1, uri) == 0
    before = manifest(uri)
    assert load(broken, uri, "--max-bad-rows", "0") == ExitCode.BAD_INPUT
    assert manifest(uri) == before
    concepts = DeltaTable(str(root / "medgen" / "concepts"))
    assert concepts.version() > before["concepts"]  # written, never published
    assert delta_rows(root, "concepts", before["concepts"]) == file_rows(r1, "concepts")
    runs = pl.read_delta(str(root / "medgen" / "etl_runs"))
    assert sorted(runs["status"].to_list()) == ["failed", "succeeded"]
    # The next run restores what the dead one wrote before it compares anything.
    assert load(r2, uri, "--mode", "delta") == 0
    for spec in FILES:
        assert delta_rows(root, spec.table) == file_rows(r2, spec.table), spec.table


# -- the lock -----------------------------------------------------------------------------


def test_one_writer_at_a_time(tmp_path: Path, small_release: Path) -> None:
    uri = lake_uri(tmp_path / "lake")
    first, second = DeltaLakeLoader(uri, "medgen"), DeltaLakeLoader(uri, "medgen")
    first.connect()
    second.connect()
    try:
        first.acquire_lock("run-1")
        with pytest.raises(LockedError, match="run run-1"):
            second.acquire_lock("run-2")
        assert load(small_release, uri) == ExitCode.LOCKED
        first.release_lock()
        second.acquire_lock("run-2")
        second.release_lock()
    finally:
        first.close()
        second.close()
    # A lock left by a process that is gone is taken over, and its run recorded as failed.
    lock = tmp_path / "lake" / "medgen" / "_py_load_medgen.lock"
    dead = {"pid": 2**22 + 12345, "host": os.uname().nodename, "run_id": "dead-run", "since": ""}
    lock.write_text(json.dumps(dead))
    assert load(small_release, uri) == 0
    runs = pl.read_delta(str(tmp_path / "lake" / "medgen" / "etl_runs"))
    assert runs.filter(pl.col("run_id") == "dead-run")["status"].to_list() == ["failed"]
    assert not lock.exists()


# -- vacuum and time travel ---------------------------------------------------------------


def test_vacuum_keeps_what_the_manifest_lists(
    two_releases: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1, r2 = two_releases
    root = tmp_path / "lake"
    uri = lake_uri(root)
    assert load(r1, uri) == 0
    assert load(r2, uri) == 0
    listed = manifest(uri)
    # Within the retention period (the default, 7 days) nothing goes: R1 stays readable.
    capsys.readouterr()
    assert run_cli("vacuum", "--db-uri", uri, "--json") == 0
    assert not any(json.loads(capsys.readouterr().out).values())
    assert delta_rows(root, "concepts", 0) == file_rows(r1, "concepts")
    # A run that dies after writing concepts: its version is current but not listed.
    broken = tmp_path / "broken"
    shutil.copytree(r1, broken)
    # A file that fails while it is parsed (after concepts, the first, was written), not one
    # the source's checks refuse before anything is staged.
    served = gzip.decompress((r1 / "MGDEF.RRF.gz").read_bytes()).split(b"\n", 1)[0]
    (broken / "MGDEF.RRF.gz").write_bytes(gzip.compress(served + b"\nC0000001|only two\n"))
    # (A copy of R1, older than R2: --allow-older lets it get as far as staging.)
    assert load(broken, uri, "--max-bad-rows", "0", "--allow-older") != 0
    assert DeltaTable(str(root / "medgen" / "concepts")).version() > listed["concepts"]
    assert run_cli("vacuum", "--db-uri", uri, "--retention-days", "0", "--json") == 0
    removed = json.loads(capsys.readouterr().out)
    assert removed["concepts"]  # R1's files went...
    with pytest.raises(Exception, match=r"(?i)not found|no such file|object"):
        delta_rows(root, "concepts", 0)
    # ...the listed release did not, though a newer version replaced it.
    assert delta_rows(root, "concepts", listed["concepts"]) == file_rows(r2, "concepts")
    assert run_cli("vacuum", "--db-uri", "duckdb:///:memory:") == ExitCode.USAGE


# -- Spark ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    warehouse = tmp_path_factory.mktemp("spark")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("py-load-medgen-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "512m")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_reads_every_table_and_joins_like_postgres(
    spark: Any, two_releases: tuple[Path, Path], r1_then_r2: tuple[Path, str]
) -> None:
    from pyspark.sql import types

    r2 = two_releases[1]
    root, pg_uri = r1_then_r2
    spark_type = {
        ColumnType.TEXT: types.StringType(),
        ColumnType.BIGINT: types.LongType(),
        ColumnType.SMALLINT: types.ShortType(),
    }
    frames = {}
    for spec in FILES:
        table = DeltaTable(str(root / "medgen" / spec.table))
        frame = spark.read.parquet(*table.file_uris())
        frames[spec.table] = frame
        assert [(f.name, f.dataType) for f in frame.schema.fields] == [
            (c.name, spark_type[c.type]) for c in spec.columns
        ], spec.table
        assert frame.count() == sum(file_rows(r2, spec.table).values()), spec.table
    frames["relationships"].createOrReplaceTempView("relationships")
    frames["concepts"].createOrReplaceTempView("concepts")
    joined = spark.sql(
        "SELECT count(*) AS n FROM relationships r JOIN concepts c ON r.cui1 = c.cui"
    ).collect()[0]["n"]
    expected = query(
        pg_uri,
        "SELECT count(*) FROM medgen.relationships r JOIN medgen.concepts c ON r.cui1 = c.cui",
    )[0][0]
    assert joined == expected and joined > 0


# -- an object store ----------------------------------------------------------------------


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 on 127.0.0.1, a free port, with credentials in the environment only."""
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing-key",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-9f3a",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="medgen-lake")
        yield endpoint
    finally:
        server.stop()


def test_s3_round_trip(
    s3_server: str,
    two_releases: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    r1, r2 = two_releases
    uri = "delta+s3://medgen-lake/mirror"
    tables = ["concepts", "relationships", "sources"]
    files = ("--files", ",".join(tables))
    assert load(r1, uri, *files) == 0
    assert load(r2, uri, "--mode", "delta", *files) == 0
    storage = {"endpoint": s3_server, "allow_http": "true"}
    for table in tables:
        frame = pl.read_delta(f"s3://medgen-lake/mirror/medgen/{table}", storage_options=storage)
        names = spec_for_table(table).column_names
        assert Counter(frame.select(names).rows()) == file_rows(r2, table), table
    assert run_cli("verify", "--db-uri", uri) == 0
    # The lock is an object beside the tables; a second writer meets it.
    loader = DeltaLakeLoader(uri, "medgen")
    loader.connect()
    try:
        loader.acquire_lock("holder")
        assert load(r2, uri, "--mode", "delta", *files) == ExitCode.LOCKED
        loader.release_lock()
    finally:
        loader.close()
    out = capsys.readouterr()
    assert "testing-secret-9f3a" not in out.out + out.err + caplog.text
