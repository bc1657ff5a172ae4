"""Delta Lake: one Delta table per MedGen table, written by delta-rs (no JVM).

``delta:///abs/path/to/lake`` writes ``<root>/<schema>/<table>``; object stores use the
scheme delta-rs knows after ``delta+``: ``delta+s3://bucket/prefix``, ``delta+gs://bucket/prefix``,
``delta+az://container/prefix``, ``delta+abfss://container@account.dfs.core.windows.net/prefix``.
Credentials come from the environment variables delta-rs reads (``AWS_ACCESS_KEY_ID``,
``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_ACCOUNT_KEY`` ...). Query parameters:
``retention_days`` (default 7), ``target_file_mb`` (default 128), ``memory_limit`` and
``threads`` (of the DuckDB that stages delta loads); any other parameter is passed to delta-rs as
a storage option (for example ``endpoint`` or ``allow_http`` for an S3-compatible server).

Delta Lake has no transaction across tables, so a release is published by a manifest written
last: the ``etl_runs`` row of a succeeded run is one atomic commit, and its
``table_versions`` column names the Delta version of every table of the release. Readers that
want one whole release read each table at that version; the latest versions of the tables may
run ahead of it while a load is in progress or after one died (the next run restores them).

Everything that can be said in SQL (the natural-key checks, the comparison of a delta load,
the metadata queries of ``status``, ``history`` and ``verify``) runs in a private DuckDB
database in a temporary directory, where the lake's tables are views over the Arrow datasets
delta-rs reads at the release's versions. Only writes go to the lake, through delta-rs.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from py_load_medgen.errors import DatabaseError, LockedError, UsageError
from py_load_medgen.load import sql
from py_load_medgen.load.capture import ChangePlan
from py_load_medgen.load.duckdb import DEFAULT_SETTINGS, DuckDBLoader
from py_load_medgen.load.metadata import RunRecord, TableLoad, file_row
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.prefetch import prefetch
from py_load_medgen.release.files import FILES, ColumnType, FileSpec
from py_load_medgen.release.schema import Index

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

OBJECT_STORES = ("s3", "s3a", "gs", "az", "abfs", "abfss", "azure")
DEFAULT_RETENTION_DAYS = 7.0
DEFAULT_TARGET_FILE_MB = 128
ROW_GROUP_ROWS = 1_048_576
"""Rows per Parquet row group: Spark and DuckDB parallelise by row group, and a million rows
of MedGen's narrow tables is a few tens of MB, which the writer buffers before flushing."""
KEY_CHECK_ROWS = 500_000
"""Rows per slice of a full load's natural-key check: a hash table of this many keys is a few
tens of MB."""
DELTA_RS_MALLOC_CONF = "_RJEM_MALLOC_CONF"
DELTA_RS_MALLOC = "dirty_decay_ms:0,muzzy_decay_ms:0"
"""delta-rs allocates with its own jemalloc, whose default keeps freed pages for ten seconds:
each table's write then stays resident while the next one runs. Returned at once, the process
holds one table's write at a time. A value already in the environment is kept."""
C_HEAP_ARENAS = 1
"""glibc's malloc arenas, unless ``MALLOC_ARENA_MAX`` says otherwise. By default every thread
that allocates may get an arena of its own (up to eight per core), and what the parsing,
DuckDB and Arrow threads freed stayed resident in each. The bulk of the data is allocated by
jemalloc (Arrow's pool, delta-rs), not by glibc."""
C_HEAP_MMAP_THRESHOLD = 128 * 1024
"""glibc's own default, kept fixed, unless ``MALLOC_MMAP_THRESHOLD_`` says otherwise: glibc
raises it after each large block freed, up to 32 MB, and blocks below it come from the heap,
which keeps what they leave behind. Fixed, every large block is mapped and unmapped on its
own: about 30 MB less at the peak of a scale-1.0 load (benchmarks/README.md)."""
LOCK_FILE = "_py_load_medgen.lock"
VERSIONS_COLUMN = "table_versions"
FILE_VERSION_COLUMN = "table_version"
_LOCAL_KEYS = {"retention_days", "target_file_mb", "memory_limit", "threads"}


def parse_uri(uri: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The lake's root (a path or an object-store URL), delta-rs storage options, and ours."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    ours = {k: v for k, v in params.items() if k in _LOCAL_KEYS}
    storage = {k: v for k, v in params.items() if k not in _LOCAL_KEYS}
    if scheme == "delta":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise UsageError(
                "bad Delta Lake URI: expected delta:///absolute/path/to/lake, or "
                "delta+s3://bucket/prefix (also delta+gs://, delta+az://, delta+abfss://)"
            )
        return unquote(parts.path).rstrip("/"), storage, ours
    base, _, store = scheme.partition("+")
    if base != "delta" or store not in OBJECT_STORES or not parts.netloc:
        raise UsageError(
            f"bad Delta Lake URI scheme {scheme!r}: use delta:///path, delta+s3://bucket/prefix, "
            "delta+gs://, delta+az:// or delta+abfss://"
        )
    root = f"{store}://{parts.netloc}{parts.path}".rstrip("/")
    return root, storage, ours


def arrow_type(column_type: ColumnType) -> pa.DataType:
    import pyarrow as pa

    if column_type is ColumnType.BIGINT:
        return pa.int64()
    if column_type is ColumnType.SMALLINT:
        return pa.int16()
    return pa.string()


def table_schema(spec: FileSpec, *, raw_records: bool = False) -> pa.Schema:
    """The Arrow (and so Delta) schema of a MedGen table: the types the other backends use."""
    import pyarrow as pa

    fields = [pa.field(c.name, arrow_type(c.type)) for c in spec.columns]
    if raw_records:
        fields.append(pa.field("raw_record", pa.string()))
    return pa.schema(fields)


def _metadata_schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    text = pa.string()
    runs = pa.schema(
        [
            pa.field(
                c,
                ts
                if c.endswith("_at") or c == "release_time"
                else pa.float64()
                if c == "lock_wait_seconds"
                else text,
            )
            for c in sql.RUN_COLUMNS
        ]
        + [pa.field(VERSIONS_COLUMN, text)]
    )
    types: dict[str, pa.DataType] = {
        "size": pa.int64(),
        "modified": ts,
        "gzip_mtime": ts,
        "duration_seconds": pa.float64(),
        "skipped": pa.bool_(),
    }
    for c in sql.FILE_COLUMNS:
        if c.startswith("rows_"):
            types[c] = pa.int64()
    files = pa.schema(
        [pa.field(c, types.get(c, text)) for c in sql.FILE_COLUMNS]
        + [pa.field(FILE_VERSION_COLUMN, pa.int64())]
    )
    return {sql.RUNS: runs, sql.RUN_FILES: files}


class DeltaLakeLoader(DuckDBLoader):
    """A lake of Delta tables; DuckDB (private, temporary) stages and compares."""

    # The lake's readers are Spark, Trino, Polars: SQL views in the private DuckDB would
    # reach none of them, and derived tables are not part of the manifest's contract yet.
    publishes_answers: ClassVar[bool] = False

    def __init__(self, uri: str, schema: str) -> None:
        # Not DuckDBLoader.__init__: its URI is ours only in the settings it takes.
        self.uri = uri
        self.schema = schema
        self.root, self.storage, ours = parse_uri(uri)
        self.local = "://" not in self.root
        self.retention_days = _number(ours, "retention_days", DEFAULT_RETENTION_DAYS)
        self.target_file_size = int(
            _number(ours, "target_file_mb", DEFAULT_TARGET_FILE_MB) * 1024 * 1024
        )
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update({k: v for k, v in ours.items() if k in ("memory_limit", "threads")})
        self._limit_given = "memory_limit" in ours
        self.path: Path | None = None  # the DuckDB work file, made by connect()
        self._conn = None
        self._depth = 0
        self._lock_record: dict[str, Any] | None = None
        self._work_dir: Path | None = None
        self._mode = "full"
        self._written: dict[str, int] = {}
        """Tables this run committed to the lake, with the version it made."""
        self._release: dict[str, int] = {}
        """Per table, the version the latest succeeded run lists."""
        self._abandoned: str | None = None
        self._pending_runs: list[tuple[Any, ...]] = []

    # -- where things are -----------------------------------------------------------------

    def table_uri(self, table: str) -> str:
        return f"{self.root}/{self.schema}/{table}"

    def describe(self) -> str:
        # The root only: the query string may carry storage options, and a URL has no password.
        return f"Delta Lake {self.root}/{self.schema}"

    def _table(self, table: str, version: int | None = None) -> DeltaTable | None:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.table_uri(table), version=version, storage_options=self.storage)
        except TableNotFoundError:
            return None
        except Exception as exc:
            raise DatabaseError(f"cannot read {self.table_uri(table)}: {_scrub(exc)}") from None

    # -- connection -----------------------------------------------------------------------

    def connect(self) -> None:
        _tune_allocators()
        try:
            import deltalake  # noqa: F401
        except ImportError:  # pragma: no cover - the extra is missing
            raise UsageError(
                "the Delta Lake backend needs deltalake",
                hint="pip install 'py-load-medgen[delta]'",
            ) from None
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        self._work_dir = Path(tempfile.mkdtemp(prefix="py-load-medgen-lake-"))
        self.path = self._work_dir / "work.duckdb"
        super().connect()
        self.ensure_schema()
        self._load_manifest()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)
                self._work_dir = None

    def _load_manifest(self) -> None:
        """Copy etl_runs and etl_run_files into DuckDB; pin a view on each table's release."""
        with self.transaction():
            for statement in sql.metadata_ddl(self.dialect, self.schema):
                self.execute(statement.replace("IF NOT EXISTS ", ""))
            self.execute(
                f"ALTER TABLE {sql.qname(self.schema, sql.RUNS)} ADD COLUMN "
                f"{sql.ident(VERSIONS_COLUMN)} VARCHAR"
            )
            self.execute(
                f"ALTER TABLE {sql.qname(self.schema, sql.RUN_FILES)} ADD COLUMN "
                f"{sql.ident(FILE_VERSION_COLUMN)} BIGINT"
            )
            for name, schema in _metadata_schemas().items():
                table = self._table(name)
                if table is None:
                    continue
                data = table.to_pyarrow_table().select(schema.names)
                self.conn.register("_lake_meta", data)
                cols = ", ".join(sql.ident(c) for c in schema.names)
                self._raw(
                    f"INSERT INTO {sql.qname(self.schema, name)} ({cols}) "
                    f"SELECT {cols} FROM _lake_meta"
                )
                self.conn.unregister("_lake_meta")
        self._release = self._latest_versions()
        for spec in FILES:
            self._pin(spec.table, self._release.get(spec.table))

    def _latest_versions(self) -> dict[str, int]:
        rows = self.query(
            f"SELECT {sql.ident(VERSIONS_COLUMN)} FROM {sql.qname(self.schema, sql.RUNS)} "
            "WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1"
        )
        if not rows or not rows[0][0]:
            return {}
        return {str(k): int(v) for k, v in json.loads(rows[0][0]).items()}

    def _pin(self, table: str, version: int | None) -> None:
        """Make ``schema.table`` in DuckDB the lake's table at ``version`` (absent if None)."""
        view = sql.qname(self.schema, table)
        self._raw(f"DROP VIEW IF EXISTS {view}")
        if version is None:
            return
        delta = self._table(table, version)
        if delta is None:
            log.warning("%s is listed by the manifest but missing from the lake", table)
            return
        name = f"_lake_{table}"
        self.conn.register(name, delta.to_pyarrow_dataset())
        self._raw(f"CREATE VIEW {view} AS SELECT * FROM {sql.ident(name)}")

    def table_exists(self, table: str) -> bool:
        if table in (sql.RUNS, sql.RUN_FILES) or table.startswith(sql.STAGING_PREFIX):
            return super().table_exists(table)
        return table in self._release

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        return {t for t in tables if self.table_exists(t)}

    def schema_exists(self) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.schemata WHERE catalog_name = "
            "current_database() AND schema_name = ?",
            (self.schema,),
        )
        return bool(rows[0][0])

    def count_rows(self, table: str) -> int:
        if table in self._release:
            delta = self._table(table, self._release[table])
            if delta is not None:
                return int(delta.count())
        return super().count_rows(table)

    # -- locking --------------------------------------------------------------------------

    def acquire_lock(self, run_id: str) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self.local:
            self._acquire_local(record)
        else:
            self._acquire_remote(record)
        self._lock_record = record

    def _lock_path(self) -> Path:
        return Path(self.root) / self.schema / LOCK_FILE

    def _acquire_local(self, record: dict[str, Any]) -> None:
        from py_load_medgen.load.duckdb import _dead_here, _read_lock

        path = self._lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read_lock(path)
                if holder is None or not _dead_here(holder):
                    raise self._lake_locked(holder) from None
                log.warning(
                    "taking over the lock of run %s: its process %s on %s is gone",
                    holder.get("run_id"),
                    holder.get("pid"),
                    holder.get("host"),
                )
                self._abandoned = str(holder.get("run_id"))
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            return
        raise self._lake_locked(_read_lock(path))

    def _store(self) -> tuple[Any, str]:
        """Arrow's filesystem for the lake's store, and the lock's path in it.

        delta-rs's own handler hangs on a missing object; Arrow's S3, GCS and Azure
        filesystems read the same environment variables.
        """
        import pyarrow.fs as pafs

        try:
            fs, path = pafs.FileSystem.from_uri(f"{self.root}/{self.schema}")
        except Exception as exc:
            raise DatabaseError(f"cannot reach {self.describe()}: {_scrub(exc)}") from None
        return fs, f"{path}/{LOCK_FILE}"

    def _acquire_remote(self, record: dict[str, Any]) -> None:
        # Object stores: look, then write. Two loads started within the same second can both
        # pass (see docs/lakehouse.md); a load already running is always found.
        fs, path = self._store()
        holder = _read_remote(fs, path)
        if holder is not None:
            raise self._lake_locked(holder)
        with fs.open_output_stream(path) as out:
            out.write(json.dumps(record).encode())
        if _read_remote(fs, path) != record:
            raise self._lake_locked(_read_remote(fs, path))

    def release_lock(self) -> None:
        mine, self._lock_record = self._lock_record, None
        if mine is None:
            return
        if self.local:
            from py_load_medgen.load.duckdb import _read_lock

            path = self._lock_path()
            if _read_lock(path) == mine:
                path.unlink(missing_ok=True)
            return
        fs, key = self._store()
        if _read_remote(fs, key) == mine:
            fs.delete_file(key)

    def _lake_locked(self, holder: dict[str, Any] | None) -> LockedError:
        where = f"{self.root}/{self.schema}/{LOCK_FILE}"
        who = (
            f"pid {holder.get('pid')} on {holder.get('host')}, run {holder.get('run_id')}, "
            f"since {holder.get('since')}"
            if holder
            else "holder unknown"
        )
        return LockedError(
            f"another load holds the lock on {self.describe()}: {who}",
            hint=f"wait for it to finish; if that process is gone, delete {where}",
        )

    # -- runs -----------------------------------------------------------------------------

    def ensure_metadata(self) -> None:
        """Under the lock, before anything is written: undo what a dead run left."""
        for spec in FILES:
            version = self._release.get(spec.table)
            if version is None:
                continue
            delta = self._table(spec.table)
            if delta is not None and delta.version() != version:
                log.warning(
                    "%s: version %d was written by a run that never published; restoring "
                    "version %d, the one the latest release lists",
                    spec.table,
                    delta.version(),
                    version,
                )
                delta.restore(version)
                self._release[spec.table] = self._current_version(spec.table)
                self._pin(spec.table, self._release[spec.table])

    def mark_abandoned_runs(self, by_run: str) -> int:
        if self._abandoned is None:
            return 0
        run = RunRecord(self._abandoned, "unknown", None, "", "")
        run.status = "failed"
        run.finished_at = datetime.now(UTC)
        run.error = f"abandoned: the process died (found by run {by_run})"
        self._append_runs([(*run.row(), None)])
        log.warning("run %s was killed or crashed; recorded as failed", run.run_id)
        self._abandoned = None
        return 1

    def record_failure(self, run: RunRecord, error: str) -> None:
        super().record_failure(run, error)
        try:
            self._append_runs([(*run.row(), None)])
        except Exception:  # the lake may be what failed; the local record is enough then
            log.exception("could not record the failure of run %s in the lake", run.run_id)

    def record_success(self, run: RunRecord, loads: Sequence[TableLoad]) -> None:
        """The manifest: etl_run_files, then the etl_runs row that publishes the release."""
        versions = dict(self._release)
        for load in loads:
            if load.table in self._written:
                versions[load.table] = self._written[load.table]
            elif load.table not in versions:
                versions[load.table] = self._current_version(load.table)
        super().record_success(run, loads)
        self._append(
            sql.RUN_FILES,
            [(*file_row(run.run_id, load), versions.get(load.table)) for load in loads],
        )
        self._append_runs([(*run.row(), json.dumps(versions, sort_keys=True))])
        self._release = versions
        self._written.clear()

    def _append_runs(self, rows: list[tuple[Any, ...]]) -> None:
        self._append(sql.RUNS, rows)

    def _append(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa
        from deltalake import write_deltalake

        schema = _metadata_schemas()[table]
        columns: list[Sequence[Any]] = (
            list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
        )
        data = pa.table(
            [pa.array(list(col), f.type) for col, f in zip(columns, schema, strict=True)],
            schema=schema,
        )
        try:
            write_deltalake(
                self.table_uri(table),
                data,
                mode="append",
                storage_options=self.storage,
                configuration=self._configuration(),
            )
        except Exception as exc:
            raise DatabaseError(f"cannot write {table} to the lake: {_scrub(exc)}") from None

    def _current_version(self, table: str) -> int:
        delta = self._table(table)
        if delta is None:
            raise DatabaseError(f"{self.table_uri(table)} is not a Delta table")
        return int(delta.version())

    def _configuration(self) -> dict[str, str | None]:
        interval = f"interval {max(1, round(self.retention_days * 24))} hours"
        return {
            "delta.deletedFileRetentionDuration": interval,
            "delta.logRetentionDuration": interval,
        }

    # -- full loads -----------------------------------------------------------------------

    def prepare_staging(self, specs: Sequence[FileSpec]) -> None:
        self.ensure_schema()
        self.drop_staging(specs)

    def create_staging(self, spec: FileSpec, encoded: EncodedFile) -> str:
        if self._mode == "delta":
            return super().create_staging(spec, encoded)
        return sql.staging_name(spec.table)  # a full load writes the lake table itself

    def bulk_load(self, spec: FileSpec, encoded: EncodedFile) -> int:
        if self._mode == "delta":
            return super().bulk_load(spec, encoded)
        from py_load_medgen.load._arrow import ArrowBlocks

        arrow = ArrowBlocks(encoded, memory_pool=_arrow_pool())
        schema = table_schema(spec, raw_records=encoded.raw_records)
        rows = 0
        failure: list[BaseException] = []

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal rows
            try:
                for table in prefetch(arrow.tables(), depth=2):
                    rows += table.num_rows
                    yield from table.select(schema.names).cast(schema).to_batches()
            except BaseException as exc:
                # delta-rs sees only a failed stream; the parser's error is the one to raise.
                failure.append(exc)
                raise

        self._write(spec.table, schema, batches(), encoded.name, failure)
        self._stage_view(spec.table)
        _give_back()
        return rows

    def _write(
        self,
        table: str,
        schema: pa.Schema,
        batches: Iterator[pa.RecordBatch],
        name: str,
        failure: Sequence[BaseException] = (),
    ) -> None:
        """One overwrite commit of ``table``, streamed: no more than a file is held at once."""
        import pyarrow as pa
        from deltalake import WriterProperties, write_deltalake

        reader = pa.RecordBatchReader.from_batches(schema, batches)
        try:
            write_deltalake(
                self.table_uri(table),
                reader,
                mode="overwrite",
                schema_mode="overwrite",
                storage_options=self.storage,
                target_file_size=self.target_file_size,
                writer_properties=WriterProperties(
                    max_row_group_size=ROW_GROUP_ROWS, compression="ZSTD"
                ),
                configuration=self._configuration(),
            )
        except BaseException as exc:
            if failure:
                raise failure[0] from None
            if not isinstance(exc, Exception):
                raise
            raise DatabaseError(
                f"cannot write {name} to {self.table_uri(table)}: {_scrub(exc)}"
            ) from None
        self._written[table] = self._current_version(table)

    def _stage_view(self, table: str) -> None:
        """``schema._staging_<table>``: the version just written, for the key checks."""
        delta = self._table(table, self._written[table])
        if delta is None:  # pragma: no cover - written a moment ago
            raise DatabaseError(f"{self.table_uri(table)} vanished after it was written")
        name = f"_lake_new_{table}"
        self.conn.register(name, delta.to_pyarrow_dataset())
        view = sql.qname(self.schema, sql.staging_name(table))
        self._raw(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {sql.ident(name)}")

    def try_unique_index(self, table: str, index: Index) -> bool:
        """Whether the natural key is unique in the table just written.

        In a DuckDB of its own, closed afterwards: a long-lived one keeps what its hash table
        took. A local lake's Parquet files are read by DuckDB itself (the Arrow dataset scan
        held twice as much); the key's rows are counted a slice of its hash at a time, so the
        hash table holds at most ``KEY_CHECK_ROWS`` keys however large the table.
        """
        if self._mode == "delta":
            return super().try_unique_index(table, index)
        import duckdb

        name = table.removeprefix(sql.STAGING_PREFIX)
        delta = self._table(name, self._written[name])
        if delta is None:  # pragma: no cover - written a moment ago
            raise DatabaseError(f"{self.table_uri(name)} vanished after it was written")
        settings: dict[str, Any] = {**self.settings, "temp_directory": str(self._work_dir)}
        cols = ", ".join(sql.ident(c) for c in index.columns)
        nulls = " OR ".join(f"{sql.ident(c)} IS NULL" for c in index.columns)
        slices = max(1, -(-int(delta.count()) // KEY_CHECK_ROWS))
        conn = duckdb.connect(config=settings)
        try:
            if self.local:
                files = ", ".join(sql.literal(f) for f in delta.file_uris())
                conn.execute(f"CREATE VIEW _lake_check AS SELECT * FROM read_parquet([{files}])")
            else:
                conn.register("_lake_check", delta.to_pyarrow_dataset())
            checks = [f"SELECT EXISTS (SELECT 1 FROM _lake_check WHERE {nulls})"]
            for part in range(slices):
                where = f"WHERE hash({cols}) % {slices} = {part}" if slices > 1 else ""
                checks.append(
                    f"SELECT EXISTS (SELECT 1 FROM _lake_check {where} GROUP BY {cols} "
                    "HAVING count(*) > 1)"
                )
            return not any(conn.execute(check).fetchall()[0][0] for check in checks)
        except duckdb.OutOfMemoryException as exc:
            raise DatabaseError(
                f"DuckDB ran out of memory checking the key of {name}: {exc}",
                hint="raise memory_limit in the URI, e.g. delta:///lake?memory_limit=1GiB",
            ) from None
        finally:
            conn.close()
            _give_back()

    def drop_scratch(self, table: str, encoded: EncodedFile) -> None:
        if self._mode == "delta":
            super().drop_scratch(table, encoded)
        # A full load never wrote the scratch columns (the Arrow tables leave them out).

    def drop_staging(self, specs: Sequence[FileSpec]) -> None:
        rows = self.query(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog "
            "= current_database() AND table_schema = ? AND starts_with(table_name, ?)",
            (self.schema, sql.STAGING_PREFIX),
        )
        with self.transaction():
            for name, kind in rows:
                what = "VIEW" if kind == "VIEW" else "TABLE"
                self.execute(f"DROP {what} IF EXISTS {sql.qname(self.schema, name)}")

    def apply_changes(
        self, specs: Sequence[FileSpec], *, strategy: str = "swap", unkeyed: Sequence[str] = ()
    ) -> None:
        del strategy, unkeyed  # all end the same way in a lake: one overwrite commit per table
        self.swap(specs)

    def swap(self, specs: Sequence[FileSpec]) -> None:
        for spec in specs:
            staged = sql.qname(self.schema, sql.staging_name(spec.table))
            if spec.table not in self._written:
                # A table new to the lake in a delta load: its staging table is in DuckDB.
                cols = [c.name for c in spec.columns]
                schema = table_schema(spec)
                result = self.conn.sql(
                    f"SELECT {', '.join(sql.ident(c) for c in cols)} FROM {staged}"
                ).to_arrow_reader(ROW_GROUP_ROWS // 8)
                self._write(spec.table, schema, (b.cast(schema) for b in result), spec.table)
                self.execute(f"DROP TABLE {staged}")
            else:
                self.execute(f"DROP VIEW IF EXISTS {staged}")

    # -- delta loads ----------------------------------------------------------------------

    def prepare_delta(self) -> None:
        self._mode = "delta"
        super().prepare_delta()

    def apply_delta(self, change: ChangePlan) -> None:
        """Apply one table's change set to its Delta table: a merge, or a delete and an append."""
        spec = change.spec
        if change.key:
            self._merge_keyed(spec, change.key)
        else:
            self._merge_multiset(spec)
        self.execute(f"DROP TABLE {sql.qname(self.schema, sql.staging_name(spec.table))}")

    def apply_change_set(self, spec: FileSpec, key: Sequence[str] | None) -> None:
        """Apply a change set from the file comparison (``load/changes.py`` staged it)."""
        from py_load_medgen.load import changes

        inserted = sql.qname(self.schema, changes.side_table(spec, "inserted"))
        if key:
            self._merge_keyed(
                spec, tuple(key), stage=inserted, changes=sql.ident(f"_change_keys_{spec.table}")
            )
            return
        rows = changes.rows_table(self, spec)
        prod = sql.qname(self.schema, spec.table)
        cols = ", ".join(sql.ident(c) for c in spec.column_names)
        match = " AND ".join(
            f"p.{sql.ident(c.name)} {'=' if c.required else 'IS NOT DISTINCT FROM'} "
            f"d.{sql.ident(c.name)}"
            for c in spec.columns
        )
        picked = ", ".join(f"d.{sql.ident(c)}" for c in spec.column_names)
        # A merge deletes every copy of a matched row: the copies that stay are appended back.
        kept = (
            f"SELECT {picked}, count(*) - min(d.copies) AS keep FROM {rows} d "
            f"JOIN {prod} p ON {match} GROUP BY {picked}"
        )
        if self.query(f"SELECT 1 FROM {rows} LIMIT 1"):
            source = self._reader(spec, f"SELECT {cols} FROM {rows}")
            delta = self._open_for_write(spec.table)
            where = " AND ".join(
                f"t.{sql.ident(c.name)} {'=' if c.required else 'IS NOT DISTINCT FROM'} "
                f"s.{sql.ident(c.name)}"
                for c in spec.columns
            )
            merger = delta.merge(source, where, source_alias="s", target_alias="t")
            back = self._reader(
                spec,
                f"SELECT {', '.join(f'k.{sql.ident(c)}' for c in spec.column_names)} "
                f"FROM ({kept}) k, generate_series(1, k.keep) g WHERE k.keep > 0",
            ).read_all()
            self._commit(spec.table, merger.when_matched_delete().execute)
        else:
            back = None
        new_rows = self._reader(spec, f"SELECT {cols} FROM {inserted}").read_all()
        if back is not None and back.num_rows:
            new_rows = pa_concat(back, new_rows)
        if new_rows.num_rows:
            self._append_changes(spec.table, new_rows)

    def _merge_keyed(
        self,
        spec: FileSpec,
        key: tuple[str, ...],
        *,
        stage: str | None = None,
        changes: str | None = None,
    ) -> None:
        stage = stage or sql.qname(self.schema, sql.staging_name(spec.table))
        changes = changes or sql.ident(f"_delta_keys_{spec.table}")
        values = [c for c in spec.column_names if c not in key]
        picked = [f"{'c' if c in key else 's'}.{sql.ident(c)}" for c in spec.column_names]
        join = " AND ".join(f"s.{sql.ident(c)} = c.{sql.ident(c)}" for c in key)
        query = (
            f"SELECT c.kind AS _op, {', '.join(picked)} FROM {changes} c "
            f"LEFT JOIN {stage} s ON {join}"
        )
        if not self.query(f"SELECT 1 FROM {changes} LIMIT 1"):
            return
        source = self._reader(spec, query, extra=("_op",))
        delta = self._open_for_write(spec.table)
        match = " AND ".join(f"t.{sql.ident(c)} = s.{sql.ident(c)}" for c in key)
        merger = delta.merge(source, match, source_alias="s", target_alias="t")
        merger = merger.when_matched_delete(predicate="s._op = 'd'")
        if values:
            merger = merger.when_matched_update(
                {sql.ident(c): f"s.{sql.ident(c)}" for c in values}, predicate="s._op = 'u'"
            )
        merger = merger.when_not_matched_insert(
            {sql.ident(c): f"s.{sql.ident(c)}" for c in spec.column_names},
            predicate="s._op = 'i'",
        )
        self._commit(spec.table, merger.execute)

    def _merge_multiset(self, spec: FileSpec) -> None:
        diff = sql.ident(f"_delta_diff_{spec.table}")
        cols = ", ".join(sql.ident(c) for c in spec.column_names)
        from_diff = ", ".join(f"d.{sql.ident(c)}" for c in spec.column_names)
        if self.query(f"SELECT 1 FROM {diff} WHERE n > 0 LIMIT 1"):
            # Every copy of a row whose count fell goes; the release's copies come back below.
            source = self._reader(spec, f"SELECT {cols} FROM {diff} WHERE n > 0")
            delta = self._open_for_write(spec.table)
            match = " AND ".join(
                f"t.{sql.ident(c.name)} "
                f"{'=' if c.required else 'IS NOT DISTINCT FROM'} s.{sql.ident(c.name)}"
                for c in spec.columns
            )
            merger = delta.merge(source, match, source_alias="s", target_alias="t")
            self._commit(spec.table, merger.when_matched_delete().execute)
        if self.query(f"SELECT 1 FROM {diff} LIMIT 1"):
            source = self._reader(
                spec,
                f"SELECT {from_diff} FROM {diff} d, "
                "generate_series(1, CASE WHEN d.n > 0 THEN d.copies ELSE -d.n END) g",
            )
            self._append_changes(spec.table, source)

    def _append_changes(self, table: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """One append commit of a delta's new rows to ``table``."""
        from deltalake import write_deltalake

        self._commit(
            table,
            lambda: write_deltalake(
                self.table_uri(table),
                data,
                mode="append",
                storage_options=self.storage,
                target_file_size=self.target_file_size,
            ),
        )

    def _reader(
        self, spec: FileSpec, query: str, extra: tuple[str, ...] = ()
    ) -> pa.RecordBatchReader:
        import pyarrow as pa

        schema = table_schema(spec)
        if extra:
            schema = pa.schema([pa.field(e, pa.string()) for e in extra] + list(schema))
        # Materialised: delta-rs's merge reads its source more than once. A change set is the
        # part of a release that changed, a fraction of the table.
        data = self.conn.sql(query).to_arrow_table()
        data = data.rename_columns(schema.names).cast(schema)
        return pa.RecordBatchReader.from_batches(schema, data.to_batches())

    def _open_for_write(self, table: str) -> DeltaTable:
        delta = self._table(table)
        if delta is None:
            raise DatabaseError(f"{self.table_uri(table)} disappeared during the load")
        return delta

    def _commit(self, table: str, action: Any) -> None:
        try:
            action()
        except Exception as exc:
            raise DatabaseError(
                f"cannot apply changes to {self.table_uri(table)}: {_scrub(exc)}"
            ) from None
        self._written[table] = self._current_version(table)

    # -- maintenance ----------------------------------------------------------------------

    def vacuum(
        self, retention_days: float | None = None, *, dry_run: bool = False
    ) -> dict[str, list[str]]:
        """Delete files no version newer than the retention period needs, table by table.

        Never a file of a version the latest release lists, however old: those versions are
        passed to delta-rs as versions to keep.
        """
        days = self.retention_days if retention_days is None else retention_days
        hours = max(0, round(days * 24))
        removed: dict[str, list[str]] = {}
        for table in [*(s.table for s in FILES), sql.RUNS, sql.RUN_FILES]:
            delta = self._table(table)
            if delta is None:
                continue
            keep = [self._release[table]] if table in self._release else []
            keep.append(int(delta.version()))
            try:
                removed[table] = delta.vacuum(
                    retention_hours=hours,
                    dry_run=dry_run,
                    enforce_retention_duration=False,
                    keep_versions=sorted(set(keep)),
                )
            except Exception as exc:
                raise DatabaseError(
                    f"cannot vacuum {self.table_uri(table)}: {_scrub(exc)}"
                ) from None
        return removed

    def release_versions(self) -> dict[str, int]:
        """Per table, the Delta version of the latest published release."""
        return dict(self._release)


def _arrow_pool() -> pa.MemoryPool:
    """Where a full load's Arrow columns are allocated: jemalloc, returning freed pages at once.

    In Arrow's default pool (mimalloc) what the parsed blocks freed stayed resident: about
    60 MB more after the smaller tables of a scale-1.0 load (benchmarks/README.md).
    """
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # pragma: no cover - a pyarrow built without jemalloc
        return pa.system_memory_pool()
    pa.jemalloc_set_decay_ms(0)
    return pool


def _tune_allocators() -> None:
    """Before delta-rs's allocator starts (it reads its settings once, from the environment)
    and before the load's threads take C heap arenas; settings already given are kept."""
    os.environ.setdefault(DELTA_RS_MALLOC_CONF, DELTA_RS_MALLOC)
    libc = _libc()
    if libc is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, C_HEAP_ARENAS)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, C_HEAP_MMAP_THRESHOLD)


def _give_back() -> None:
    """Return the C heap's free pages to the system (glibc keeps them for reuse otherwise).

    Between tables: what one table's parsing and checks freed, the next one would reuse only
    in part, and the resident set grew table after table.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
"""mallopt's parameter numbers (glibc's malloc.h)."""


@functools.cache
def _libc() -> Any:
    """glibc, when it is the C library (it alone has mallopt's arenas and malloc_trim)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and libc.gnu_get_libc_version else None
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return None


def pa_concat(first: pa.Table, second: pa.Table) -> pa.Table:
    import pyarrow as pa

    return pa.concat_tables([first, second])


def _number(values: dict[str, str], name: str, default: float) -> float:
    if name not in values:
        return default
    try:
        number = float(values[name])
    except ValueError:
        number = -1.0
    if number < 0:
        raise UsageError(
            f"bad {name}={values[name]!r} in the Delta Lake URI: expected a number >= 0"
        )
    return number


def _read_remote(fs: Any, path: str) -> dict[str, Any] | None:
    import pyarrow.fs as pafs

    try:
        if fs.get_file_info([path])[0].type == pafs.FileType.NotFound:
            return None
        with fs.open_input_file(path) as fh:
            record = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _scrub(exc: BaseException) -> str:
    from py_load_medgen.logs import scrub

    return scrub(str(exc))
