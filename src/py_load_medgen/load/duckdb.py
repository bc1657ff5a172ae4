"""DuckDB: an embedded file, Arrow ingestion into staging tables, one-transaction swap.

``duckdb:///medgen.duckdb`` is relative to the working directory and
``duckdb:////abs/medgen.duckdb`` absolute (the SQLAlchemy convention, which the default URI
follows); ``duckdb:///:memory:`` is a private in-memory database. Query parameters become
DuckDB settings: ``duckdb:///medgen.duckdb?memory_limit=4GiB&threads=8``.

Differences from PostgreSQL, and why:

- No secondary indexes and no primary keys on the data tables. DuckDB cannot rename a table
  that has an index (so the staging table could not be swapped in), builds an ART index in
  memory (which would break the memory bound on the 48 M-row PubMed table), and scans by
  min/max zone maps instead; the files are sorted by CUI, so CUI filters skip most of a table
  anyway. The natural key is still checked, by counting, so delta loads match rows the same way.
- No grants to carry over, and no views to recreate: DuckDB binds a view to its tables by name
  when it runs, so a view on a swapped table sees the new one. Indexes a user added to a
  production table are rebuilt on its replacement, after the rename, in the publishing
  transaction.
- One run at a time through ``<file>.lock``, holding the pid, host and run id of the load:
  DuckDB's own file lock keeps other processes out but cannot say who holds it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import duckdb

from py_load_medgen.errors import DatabaseError, InputError, LockedError, UsageError
from py_load_medgen.load import sql
from py_load_medgen.load.base import Loader
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.prefetch import prefetch
from py_load_medgen.release.files import FileSpec
from py_load_medgen.release.schema import Index

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

MEMORY = ":memory:"
CATALOG = "_py_load_medgen_file"
DEFAULT_SETTINGS = {
    "memory_limit": "128MiB",
    "threads": str(max(1, min(4, (os.cpu_count() or 1) - 1))),
}
"""What a load needs, and no more: DuckDB spills to ``<file>.tmp`` beyond ``memory_limit``,
and one core is left to parsing, which feeds DuckDB while it writes. On top of the limit the
process holds the block being parsed and two converted blocks ahead of DuckDB."""

DELTA_MEMORY_LIMIT = "512MiB"
"""The default memory_limit of a delta load. One transaction holds every table's changes, and
DuckDB keeps much of that in memory, beyond its reach to spill: with 1 % of the rows changed,
the apply fails at 128 MiB already on a release a third of NCBI's size; on a full-size one it
succeeds at 256 MiB (peak RSS 504 MB) and at 512 MiB (790 MB, and 11 % faster), which leaves
room for twice the churn. A delta compared from the kept files holds only the changed rows,
yet deleting 1 % of a full-size `pubmed_links` (320 k of 48 M rows, their copies numbered by
a window over the join) fails at 128 MiB and at 256 MiB too (measured 2026-11-30), so every
delta gets this limit. A memory_limit in the URI is kept as given."""
_SLICE_ROWS = 2_000_000
"""Rows of the new release compared at a time in a whole-row delta comparison (see
``_slices_of``); at the default memory_limit, twice this fits with room to spare."""
_MEMORY_HINT = "raise memory_limit in the URI, e.g. duckdb:///medgen.duckdb?memory_limit=4GiB"
_BATCH = "_py_load_medgen_batch"
_TAKEOVER = threading.Lock()
"""Another process cannot reach the lock file (DuckDB's file lock stops it at connect); this
keeps two loaders in one process from both taking over the same stale lock."""


def parse_uri(uri: str) -> tuple[str, dict[str, str]]:
    """The database path (or ``:memory:``) and the DuckDB settings a ``duckdb:`` URI names."""
    parts = urlsplit(uri)
    if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise UsageError(
            f"bad DuckDB URI {uri!r}: expected duckdb:///relative/file.duckdb, "
            "duckdb:////absolute/file.duckdb or duckdb:///:memory:"
        )
    settings = dict(DEFAULT_SETTINGS)
    settings.update(parse_qsl(parts.query, keep_blank_values=True))
    return parts.path[1:], settings


class DuckDBLoader(Loader):
    dialect = sql.DUCKDB
    placeholder: ClassVar[str] = "?"
    secondary_indexes: ClassVar[bool] = False
    """An index on a staging table would block the swap's RENAME (see the module docstring);
    only the natural key's uniqueness is checked, without an index."""

    def __init__(self, uri: str, schema: str) -> None:
        super().__init__(uri, schema)
        location, self.settings = parse_uri(uri)
        self._limit_given = "memory_limit" in dict(parse_qsl(urlsplit(uri).query))
        self.path = None if location == MEMORY else Path(location).expanduser().absolute()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._lock_record: dict[str, Any] | None = None

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            raise DatabaseError("loader used before connect()")
        return self._conn

    @property
    def lock_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".lock")

    def describe(self) -> str:
        return "DuckDB in memory" if self.path is None else f"DuckDB file {self.path}"

    def connect(self) -> None:
        if self.path is None:
            self._conn = self._open(MEMORY)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the directory of {self.describe()}: {exc.strerror or exc}",
                hint="choose a --db-uri path in a directory you may write",
            ) from None
        if self.path.stem == self.schema:
            log.warning(
                "%s: DuckDB names a database after its file, so other DuckDB clients will find "
                "%s.concepts ambiguous (write %s.%s.concepts there), or name the file otherwise",
                self.path,
                self.schema,
                self.schema,
                self.schema,
            )
        # The file is attached under a fixed name rather than opened directly: DuckDB names a
        # database after its file, and a catalog "medgen" would make "medgen"."concepts"
        # ambiguous with the schema. Loaders of one file in one process share an instance
        # (DuckDB refuses two), so a second load there meets the lock file, not an IO error.
        digest = hashlib.blake2b(str(self.path).encode(), digest_size=8).hexdigest()
        conn = self._open(f"{MEMORY}py_load_medgen_{digest}")
        try:
            conn.execute(
                f"ATTACH IF NOT EXISTS {sql.literal(str(self.path))} AS {sql.ident(CATALOG)}"
            )
            conn.execute(f"USE {sql.ident(CATALOG)}")
        except duckdb.IOException as exc:
            conn.close()
            if "lock" in str(exc).lower():
                raise self._locked(str(exc)) from None
            raise DatabaseError(f"cannot open {self.describe()}: {exc}") from None
        except duckdb.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot open {self.describe()}: {exc}") from None
        self._conn = conn

    def _open(self, database: str) -> duckdb.DuckDBPyConnection:
        settings: dict[str, str | bool | int | float | list[str]] = dict(self.settings)
        if self.path is not None:
            settings.setdefault("temp_directory", str(self.path) + ".tmp")
        try:
            conn = duckdb.connect(database, config=settings)
            conn.execute("SET enable_progress_bar = false")  # stdout is for data (--json)
        except duckdb.Error as exc:
            raise DatabaseError(
                f"cannot open {self.describe()}: {exc}",
                hint="check the settings in the URI's query string",
            ) from None
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self.release_lock()
            finally:
                self._conn.close()
                self._conn = None
                self._depth = 0

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._run(statement, params)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(statement, params).fetchall()

    def _run(self, statement: str, params: Sequence[Any]) -> duckdb.DuckDBPyConnection:
        if params and "%s" in statement:
            statement = statement.replace("%s", "?")  # shared SQL written for psycopg
        try:
            return self._raw(statement, list(params) if params else None)
        except duckdb.OutOfMemoryException as exc:
            raise DatabaseError(f"DuckDB: {exc}", hint=_MEMORY_HINT) from exc
        except duckdb.Error as exc:
            raise DatabaseError(f"DuckDB: {exc}") from exc

    def _raw(self, statement: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self.conn.execute(statement, params)
        except (RuntimeError, duckdb.InterruptException) as exc:
            # DuckDB turns the KeyboardInterrupt that SIGINT/SIGTERM raise during a query into
            # an error of its own; the pipeline records an interrupted run by the original.
            if isinstance(exc, duckdb.InterruptException) or str(exc) == "Query interrupted":
                raise KeyboardInterrupt("interrupted during a DuckDB query") from exc
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # DuckDB has no savepoints: an inner block joins the outermost transaction, and a
        # failure anywhere rolls back all of it.
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.begin()
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.rollback()
            raise
        self._depth = 0
        self._run("COMMIT", ())

    def table_exists(self, table: str) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ? AND table_name = ?",
            (self.schema, table),
        )
        return bool(rows[0][0])

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ?",
            (self.schema,),
        )
        return {name for (name,) in rows} & set(tables)

    # -- locking ----------------------------------------------------------------------------

    def acquire_lock(self, run_id: str) -> None:
        path = self.lock_path
        if path is None:
            return  # a private in-memory database has no other user
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with _TAKEOVER:
            for _attempt in range(2):
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    holder = _read_lock(path)
                    if holder is None or not _dead_here(holder):
                        raise self._locked() from None
                    log.warning(
                        "taking over the lock of run %s: its process %s on %s is gone",
                        holder.get("run_id"),
                        holder.get("pid"),
                        holder.get("host"),
                    )
                    path.unlink(missing_ok=True)
                    continue
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(record, fh)
                self._lock_record = record
                return
        raise self._locked()

    def release_lock(self) -> None:
        path, mine = self.lock_path, self._lock_record
        self._lock_record = None
        if path is not None and mine is not None and _read_lock(path) == mine:
            path.unlink(missing_ok=True)

    def _locked(self, detail: str | None = None) -> LockedError:
        holder = _read_lock(self.lock_path) if self.lock_path else None
        if holder is not None:
            who = (
                f"pid {holder.get('pid')} on {holder.get('host')}, run {holder.get('run_id')}, "
                f"since {holder.get('since')}"
            )
        else:
            who = detail or f"holder unknown ({self.lock_path} is unreadable)"
        return LockedError(
            f"another load holds the lock on {self.path}: {who}",
            hint=f"wait for it to finish; if that process is gone, delete {self.lock_path}",
        )

    # -- staging and bulk load --------------------------------------------------------------

    def bulk_load(self, spec: FileSpec, encoded: EncodedFile) -> int:
        # Imported here: Arrow takes a fifth of a run's start-up, which a delta that finds
        # every file unchanged, or a status query, never needs.
        from py_load_medgen.load._arrow import ArrowBlocks

        arrow = ArrowBlocks(encoded)
        cols = ", ".join(sql.ident(c) for c in arrow.columns)
        target = sql.qname(self.schema, sql.staging_name(spec.table))
        statement = f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {_BATCH}"
        rows = 0
        try:
            with self.transaction():
                for table in prefetch(arrow.tables(), depth=2):
                    # A spent reader rather than the table: DuckDB keeps whatever is registered
                    # referenced until the transaction ends, which for a table is all its data.
                    self.conn.register(_BATCH, _reader(table))
                    self._raw(statement)
                    self.conn.unregister(_BATCH)  # not after a failure: the transaction is dead
                    rows += table.num_rows
        except (duckdb.ConstraintException, duckdb.ConversionException) as exc:
            # ArrowBlocks checks every value first; this is a safety net without a line.
            raise InputError(str(exc), file=encoded.name) from None
        except duckdb.OutOfMemoryException as exc:
            raise DatabaseError(
                f"DuckDB ran out of memory loading {encoded.name}: {exc}",
                hint=_MEMORY_HINT,
            ) from None
        return rows

    def try_unique_index(self, table: str, index: Index) -> bool:
        cols = ", ".join(sql.ident(c) for c in index.columns)
        nulls = " OR ".join(f"{sql.ident(c)} IS NULL" for c in index.columns)
        name = sql.qname(self.schema, table)
        duplicate = self.query(
            f"SELECT EXISTS (SELECT 1 FROM {name} WHERE {nulls}) OR EXISTS "
            f"(SELECT 1 FROM {name} GROUP BY {cols} HAVING count(*) > 1)"
        )[0][0]
        return not duplicate

    def analyze(self, table: str) -> None:
        del table  # DuckDB keeps min/max and distinct-count statistics up to date as it appends

    # -- delta loads ------------------------------------------------------------------------

    def prepare_delta(self) -> None:
        if not self._limit_given:
            self.execute(f"SET memory_limit = {sql.literal(DELTA_MEMORY_LIMIT)}")

    def change_slices(self, spec: FileSpec, staged_rows: int) -> tuple[str, ...]:
        return self._slices_of(spec, staged_rows)

    def _slices_of(self, spec: FileSpec, rows: int) -> tuple[str, ...]:
        """Ranges of the first column that split a whole-row comparison into parts that fit.

        DuckDB's hash aggregate does not spill reliably (at the default 128 MiB limit, 2 x 14 M
        PubMed rows fail with an out-of-memory error), so big tables are compared a range at a
        time. The files are sorted by their first column, so each range reads few row groups of
        either table. The bounds come from a sample, ordered by DuckDB itself, so the ranges
        cannot overlap; NULLs go with the first.
        """
        parts = -(-rows // _SLICE_ROWS)
        if parts < 2:
            return ()
        column = sql.ident(spec.column_names[0])
        stage = sql.qname(self.schema, sql.staging_name(spec.table))
        sample = [
            value
            for (value,) in self.query(
                f"SELECT DISTINCT v FROM (SELECT {column} AS v FROM {stage} "
                f"USING SAMPLE {parts * 64} ROWS) s WHERE v IS NOT NULL ORDER BY v"
            )
        ]
        if not all(isinstance(v, int | str) for v in sample):
            return ()
        bounds = [sample[len(sample) * i // parts] for i in range(1, parts)]
        bounds = [b for i, b in enumerate(bounds) if i == 0 or b != bounds[i - 1]]
        if not bounds:
            return ()
        lit = [str(b) if isinstance(b, int) else sql.literal(b) for b in bounds]
        slices = [f"({column} < {lit[0]} OR {column} IS NULL)"]
        slices += [f"{column} >= {lo} AND {column} < {hi}" for lo, hi in itertools.pairwise(lit)]
        slices.append(f"{column} >= {lit[-1]}")
        log.debug("%s: comparing whole rows in %d slices", spec.table, len(slices))
        return tuple(slices)

    # -- swap -------------------------------------------------------------------------------

    def swap(self, specs: Sequence[FileSpec]) -> None:
        for spec in specs:
            user_indexes: list[tuple[Any, ...]] = []
            if self.table_exists(spec.table):
                user_indexes = self.query(
                    "SELECT index_name, sql FROM duckdb_indexes() WHERE database_name = "
                    "current_database() AND schema_name = ? AND table_name = ?",
                    (self.schema, spec.table),
                )
                self.execute(f"DROP TABLE {sql.qname(self.schema, spec.table)}")
            self.execute(
                f"ALTER TABLE {sql.qname(self.schema, sql.staging_name(spec.table))} "
                f"RENAME TO {sql.ident(spec.table)}"
            )
            # Only now: DuckDB cannot rename a table that has an index. Readers do not wait
            # for this (DuckDB writers never block them), only the commit does.
            for name, statement in user_indexes:
                self.execute(statement)
                log.info("%s: rebuilt user index %s on the new table", spec.table, name)


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    import pyarrow as pa

    return pa.RecordBatchReader.from_batches(table.schema, iter(table.to_batches()))


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _dead_here(holder: dict[str, Any]) -> bool:
    """Whether the holder ran on this host and its process is gone."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or os.name == "nt":
        return False  # another host's process cannot be checked (and signal 0 kills on Windows)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
