"""The loader interface every backend implements, and the logic they share.

A backend supplies a connection, a bulk loader, a lock and the swap; everything that can be
said in shared SQL (staging, indexes, metadata, change capture) lives here or in ``sql.py``,
written once for all backends.
"""

from __future__ import annotations

import json
import logging
import socket
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from py_load_medgen.errors import DatabaseError
from py_load_medgen.load import sql
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FileSpec
from py_load_medgen.release.schema import Index, indexes
from py_load_medgen.source.base import SourceFile

log = logging.getLogger(__name__)


class LockWaitError(DatabaseError):
    """Publishing could not take its locks within its short wait; retried after a pause."""

    retryable = True


@dataclass
class TableLoad:
    """What one run did to one table; becomes a row of ``etl_run_files``."""

    table: str
    file: SourceFile | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None
    unchanged: int | None = None
    unknown_columns: tuple[str, ...] = ()
    match_key: tuple[str, ...] | None = None
    duration: float = 0.0
    skipped: bool = False
    compare_method: str | None = None
    """How a delta found this table's changes: 'file' (the kept previous file was read
    beside the new one) or 'database' (the new file staged whole and compared in SQL)."""
    compare_note: str | None = None
    """Why a delta compared in the database rather than from the files."""


@dataclass
class RunRecord:
    """One run of the tool; becomes a row of ``etl_runs``."""

    run_id: str
    mode: str
    strategy: str | None
    tool_version: str
    source: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "running"
    finished_at: datetime | None = None
    release_time: datetime | None = None
    tables: tuple[str, ...] = ()
    identity: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    lock_wait_seconds: float | None = None
    """How long publishing waited for readers to let go of the tables."""

    def row(self) -> tuple[Any, ...]:
        return (
            self.run_id,
            self.mode,
            self.strategy,
            self.status,
            self.started_at,
            self.finished_at,
            self.tool_version,
            self.source,
            self.release_time,
            ",".join(self.tables),
            json.dumps(self.identity, sort_keys=True),
            self.error,
            self.host,
            self.lock_wait_seconds,
        )


def file_row(run_id: str, load: TableLoad) -> tuple[Any, ...]:
    f = load.file
    return (
        run_id,
        load.table,
        f.name if f else None,
        f.url if f else None,
        f.size if f else None,
        f.sha256 if f else None,
        f.modified if f else None,
        f.etag if f else None,
        f.gzip_mtime if f else None,
        load.rows_read,
        load.rows_loaded,
        load.rows_rejected,
        load.inserted,
        load.updated,
        load.deleted,
        load.unchanged,
        ",".join(load.unknown_columns) or None,
        ",".join(load.match_key) if load.match_key else None,
        round(load.duration, 3),
        load.skipped,
        load.compare_method,
        load.compare_note,
    )


class Loader(ABC):
    """One database and schema that mirrors MedGen."""

    schemes: ClassVar[tuple[str, ...]] = ()
    dialect: ClassVar[sql.Dialect]
    placeholder: ClassVar[str] = "%s"
    publishes_answers: ClassVar[bool] = True
    """Whether each load (re)creates the answers layer (views and derived tables) in the
    schema; a backend whose readers are other engines (a lake) leaves them to those."""

    def __init__(self, uri: str, schema: str) -> None:
        self.uri = uri
        self.schema = schema
        self.unlogged = False
        """Stage (and so publish) tables that skip the write-ahead log, where the backend has
        such tables: faster to write, but emptied by a crash and never replicated."""

    def __enter__(self) -> Self:
        """Connect; the connection is closed when the ``with`` block ends, however it ends."""
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection, transactions, locking (backend) ----------------------------------------

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raise DatabaseError with a secret-free message on failure."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the data goes, safe to print (no password)."""

    @abstractmethod
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Everything inside commits together or not at all."""

    @abstractmethod
    def acquire_lock(self, run_id: str) -> None:
        """Take the one-run-at-a-time lock for this schema or raise LockedError."""

    @abstractmethod
    def release_lock(self) -> None: ...

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    def helper(self) -> Loader | None:
        """A second, connected loader of the same schema that can index one staged table
        while this one copies the next; None where the backend cannot work on two at once."""
        return None

    def cancel(self) -> None:  # noqa: B027 - nothing to interrupt by default
        """From another thread: stop the statement running on this connection, if any."""

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        """Which of ``tables`` exist; a backend can answer in one query instead of one each."""
        return {table for table in tables if self.table_exists(table)}

    # -- staging and bulk load --------------------------------------------------------------

    def prepare_staging(self, specs: Sequence[FileSpec]) -> None:
        """Create the target schema if needed and remove staging left by any earlier run."""
        self.ensure_schema()
        self.drop_staging(specs)

    def drop_staging(self, specs: Sequence[FileSpec]) -> None:
        from py_load_medgen.load.changes import staging_tables
        from py_load_medgen.release.files import FILES

        del specs  # a killed run may have staged tables this run does not touch
        with self.transaction():
            for spec in FILES:
                self.execute(
                    f"DROP TABLE IF EXISTS {sql.qname(self.schema, sql.staging_name(spec.table))}"
                )
            for table in staging_tables(FILES):
                self.execute(f"DROP TABLE IF EXISTS {sql.qname(self.schema, table)}")

    def ensure_schema(self) -> None:
        # Asking first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the whole database even
        # when the schema exists, and a role that only owns its schema lacks it.
        if self.schema_exists():
            return
        with self.transaction():
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.ident(self.schema)}")

    def schema_exists(self) -> bool:
        found = self.query(
            "SELECT count(*) FROM information_schema.schemata "
            f"WHERE schema_name = {self.placeholder}",
            (self.schema,),
        )
        return bool(found and found[0][0])

    def create_staging(self, spec: FileSpec, encoded: EncodedFile) -> str:
        """Create the staging table for one file; returns its name.

        Durable (logged) unless ``unlogged``; decided here, at creation, because turning a
        filled table logged later writes it all a second time.
        """
        name = sql.staging_name(spec.table)
        with self.transaction():
            for statement in self.staging_ddl(spec, encoded):
                self.execute(statement)
        return name

    def staging_ddl(self, spec: FileSpec, encoded: EncodedFile) -> list[str]:
        name = sql.staging_name(spec.table)
        return [
            f"DROP TABLE IF EXISTS {sql.qname(self.schema, name)}",
            sql.create_table(
                self.dialect,
                self.schema,
                name,
                spec,
                scratch_columns=encoded.scratch_columns,
                raw_records=encoded.raw_records,
                unlogged=self.unlogged,
            ),
        ]

    @abstractmethod
    def bulk_load(self, spec: FileSpec, encoded: EncodedFile) -> int:
        """Stream every block of ``encoded`` into the staging table; returns rows loaded.

        Maps the database's complaints about values (type, range, shape) to an InputError
        naming the file, line and column.
        """

    def drop_scratch(self, table: str, encoded: EncodedFile) -> None:
        """Drop the columns the parser used as scratch space (a trailing delimiter's field)."""
        if encoded.scratch_columns:
            with self.transaction():
                for column in encoded.scratch_columns:
                    self.execute(sql.drop_column(self.schema, table, column))

    def finish_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        """Drop scratch columns, build indexes, gather statistics.

        Returns the natural key when the data proved it unique, else None (the table's rows
        are then matched whole in delta loads).
        """
        table = sql.staging_name(spec.table)
        self.drop_scratch(table, encoded)
        key: tuple[str, ...] | None = None
        for wanted in indexes(spec):
            index = wanted
            if wanted.unique:
                if self.try_unique_index(table, wanted):
                    key = wanted.columns
                    continue
                log.warning(
                    "%s: natural key (%s) is not unique in this release; indexed without "
                    "uniqueness, delta loads will compare whole rows",
                    spec.table,
                    ", ".join(wanted.columns),
                )
                index = wanted.without_uniqueness()
            with self.transaction():
                self.execute(
                    sql.create_index(self.schema, table, index, name=self.staged_index(index))
                )
        self.analyze(table)
        return key

    def staged_index(self, index: Index) -> str:
        return sql.STAGING_PREFIX + index.name

    @abstractmethod
    def try_unique_index(self, table: str, index: Index) -> bool:
        """Build a unique index (a primary key where possible); False on duplicate keys."""

    @abstractmethod
    def analyze(self, table: str) -> None: ...

    # -- publishing ------------------------------------------------------------------------

    @abstractmethod
    def swap(self, specs: Sequence[FileSpec]) -> None:
        """Inside the caller's transaction: replace each production table by its staging one.

        User views and grants on the replaced tables are carried over.
        """

    # -- delta loads ------------------------------------------------------------------------

    def prepare_delta(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Before a delta stages anything: room for one transaction that holds every table's
        changes, where the backend needs it."""

    def finish_delta_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        """Like finish_staging, minus what a comparison does not use.

        That is the secondary indexes, and the statistics of a table compared as whole rows.
        """
        table = sql.staging_name(spec.table)
        self.drop_scratch(table, encoded)
        key = None
        for index in indexes(spec):
            if index.unique and self.try_unique_index(table, index):
                key = index.columns
        if key:
            # Only the keyed comparison's joins are planned from statistics; the whole-row one
            # aggregates both tables whatever they hold, and the table is dropped after it.
            self.analyze(table)
        return key

    def change_sql(self, spec: FileSpec, key: tuple[str, ...] | None) -> sql.ChangeSql:
        if key:
            return sql.keyed_changes(self.schema, spec, key)
        return sql.multiset_changes(self.schema, spec)

    def count_changes(
        self, spec: FileSpec, key: tuple[str, ...] | None, staged_rows: int
    ) -> dict[str, int]:
        """Inserted, updated, deleted and unchanged rows between production and staging."""
        statements = self.change_sql(spec, key)
        with self.transaction():
            for statement in statements.prepare:
                self.execute(statement)
        for table in statements.temp_tables:
            self.analyze_temp(table)
        inserted = int(self.query(statements.count_inserted)[0][0])
        deleted = int(self.query(statements.count_deleted)[0][0])
        updated = int(self.query(statements.count_updated)[0][0]) if statements.count_updated else 0
        return {
            "inserted": inserted,
            "updated": updated,
            "deleted": deleted,
            "unchanged": staged_rows - inserted - updated,
        }

    def analyze_temp(self, table: str) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Gather statistics on a session-local table, where the backend needs them."""

    def apply_delta(self, spec: FileSpec, key: tuple[str, ...] | None) -> None:
        """Inside the caller's transaction: apply one table's changes and drop its staging."""
        for statement in self.change_sql(spec, key).apply:
            self.execute(statement)
        self.execute(f"DROP TABLE {sql.qname(self.schema, sql.staging_name(spec.table))}")

    def discard_delta(self, spec: FileSpec, key: tuple[str, ...] | None) -> None:
        with self.transaction():
            for statement in self.change_sql(spec, key).cleanup:
                self.execute(statement)
            self.execute(
                f"DROP TABLE IF EXISTS {sql.qname(self.schema, sql.staging_name(spec.table))}"
            )

    def apply_changes(
        self, specs: Sequence[FileSpec], *, strategy: str = "swap", unkeyed: Sequence[str] = ()
    ) -> None:
        """Inside the caller's transaction: publish the staged tables of a full load.

        ``swap`` replaces each production table by its staging table; ``truncate`` refills
        the production tables in place. ``unkeyed``: tables whose natural key this release
        repeats (a refilled table must then lose its unique key).
        """
        if strategy == "swap":
            self.swap(specs)
        else:
            self.replace_contents(specs, unkeyed=unkeyed)

    def lock_for_publish(self, replaced: Sequence[str], changed: Sequence[str] = ()) -> None:  # noqa: B027
        """First in the publishing transaction: take every lock it needs, or raise
        LockWaitError without waiting long. A no-op where readers never lock."""

    def demote_key(self, spec: FileSpec) -> None:  # noqa: B027 - no unique keys by default
        """Inside the publishing transaction: drop the production table's unique natural key
        (the release about to be applied repeats keys) for a plain index."""

    def cleanup(self) -> None:
        """Remove every staging table, whichever run left it."""
        from py_load_medgen.release.files import FILES

        self.drop_staging(FILES)

    def replace_contents(self, specs: Sequence[FileSpec], unkeyed: Sequence[str] = ()) -> None:
        """Inside the caller's transaction: empty each production table and refill it."""
        for spec in specs:
            prod = sql.qname(self.schema, spec.table)
            stage = sql.qname(self.schema, sql.staging_name(spec.table))
            cols = ", ".join(sql.ident(c) for c in spec.column_names)
            if not self.table_exists(spec.table):
                self.swap([spec])
                continue
            if spec.table in unkeyed:
                self.demote_key(spec)
            self.execute(f"DELETE FROM {prod}")
            self.execute(f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {stage}")
            self.execute(f"DROP TABLE {stage}")

    # -- metadata ---------------------------------------------------------------------------

    def ensure_metadata(self) -> None:
        self.ensure_schema()
        with self.transaction():
            for statement in sql.metadata_ddl(self.dialect, self.schema):
                self.execute(statement)

    def mark_abandoned_runs(self, by_run: str) -> int:
        """Runs still 'running' while we hold the lock were killed: record them as failed."""
        rows = self.query(
            f"SELECT run_id FROM {sql.qname(self.schema, sql.RUNS)} WHERE status = 'running'"
        )
        if rows:
            with self.transaction():
                self.execute(
                    f"UPDATE {sql.qname(self.schema, sql.RUNS)} SET status = 'failed', "
                    f"error_message = {self.placeholder}, finished_at = {self.placeholder} "
                    "WHERE status = 'running'",
                    (f"abandoned: the process died (found by run {by_run})", datetime.now(UTC)),
                )
            for (run_id,) in rows:
                log.warning("run %s was killed or crashed; recorded as failed", run_id)
        return len(rows)

    def record_start(self, run: RunRecord) -> None:
        with self.transaction():
            self.execute(
                sql.insert(self.schema, sql.RUNS, sql.RUN_COLUMNS, self.placeholder), run.row()
            )

    def record_success(self, run: RunRecord, loads: Sequence[TableLoad]) -> None:
        """Inside the caller's transaction (the one that publishes the data)."""
        run.status = "succeeded"
        run.finished_at = datetime.now(UTC)
        self.execute(
            f"DELETE FROM {sql.qname(self.schema, sql.RUNS)} WHERE run_id = {self.placeholder}",
            (run.run_id,),
        )
        self.execute(
            sql.insert(self.schema, sql.RUNS, sql.RUN_COLUMNS, self.placeholder), run.row()
        )
        for load in loads:
            self.execute(
                sql.insert(self.schema, sql.RUN_FILES, sql.FILE_COLUMNS, self.placeholder),
                file_row(run.run_id, load),
            )

    def record_changes(self, run_id: str, report: str) -> None:
        """Keep a run's change report (JSON); inside the caller's publishing transaction."""
        table = sql.qname(self.schema, sql.RUN_CHANGES)
        self.execute(f"DELETE FROM {table} WHERE run_id = {self.placeholder}", (run_id,))
        self.execute(
            sql.insert(self.schema, sql.RUN_CHANGES, ("run_id", "report"), self.placeholder),
            (run_id, report),
        )

    def run_changes(self, run_id: str) -> str | None:
        """The change report kept with a run (JSON), None when it kept none."""
        if not self.table_exists(sql.RUN_CHANGES):
            return None
        rows = self.query(
            f"SELECT report FROM {sql.qname(self.schema, sql.RUN_CHANGES)} "
            f"WHERE run_id = {self.placeholder}",
            (run_id,),
        )
        return str(rows[0][0]) if rows else None

    def record_failure(self, run: RunRecord, error: str) -> None:
        run.status = "failed"
        run.error = error
        run.finished_at = datetime.now(UTC)
        with self.transaction():
            self.execute(
                f"UPDATE {sql.qname(self.schema, sql.RUNS)} SET status = 'failed', "
                f"error_message = {self.placeholder}, finished_at = {self.placeholder} "
                f"WHERE run_id = {self.placeholder}",
                (error, run.finished_at, run.run_id),
            )

    def run_columns_sql(self) -> str:
        """The select list of every ``etl_runs`` column, NULL for one a database loaded by an
        earlier version lacks until its next load adds it."""
        present = {
            name
            for (name,) in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                f"{self.placeholder} AND table_name = {self.placeholder}",
                (self.schema, sql.RUNS),
            )
        }
        return ", ".join(
            sql.ident(c) if c in present else f"NULL AS {sql.ident(c)}" for c in sql.RUN_COLUMNS
        )

    def runs(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        """The newest runs first, as dicts keyed by etl_runs column."""
        if not self.table_exists(sql.RUNS):
            return []
        where = f"WHERE status = {self.placeholder} " if status else ""
        rows = self.query(
            f"SELECT {self.run_columns_sql()} FROM {sql.qname(self.schema, sql.RUNS)} {where}"
            f"ORDER BY started_at DESC LIMIT {int(limit)}",
            (status,) if status else (),
        )
        return [dict(zip(sql.RUN_COLUMNS, row, strict=True)) for row in rows]

    def run_files(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            f"SELECT {self.file_columns_select()} "
            f"FROM {sql.qname(self.schema, sql.RUN_FILES)} WHERE run_id = {self.placeholder} "
            "ORDER BY table_name",
            (run_id,),
        )
        return [dict(zip(sql.FILE_COLUMNS, row, strict=True)) for row in rows]

    def file_columns_select(self, prefix: str = "") -> str:
        """``FILE_COLUMNS`` as a select list; NULL for a column the schema lacks (a schema
        made by an older version, read before a load adds the column)."""
        have = {
            str(name)
            for (name,) in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                f"{self.placeholder} AND table_name = {self.placeholder}",
                (self.schema, sql.RUN_FILES),
            )
        }
        return ", ".join(
            f"{prefix}{sql.ident(c)}" if c in have else f"NULL AS {sql.ident(c)}"
            for c in sql.FILE_COLUMNS
        )

    def loaded_state(self) -> dict[str, dict[str, Any]]:
        """Per table, the file record of the newest successful run that loaded it."""
        if not self.table_exists(sql.RUNS):
            return {}
        cols = self.file_columns_select("f.")
        rows = self.query(
            f"SELECT {cols} FROM {sql.qname(self.schema, sql.RUN_FILES)} f "
            f"JOIN {sql.qname(self.schema, sql.RUNS)} r ON r.run_id = f.run_id "
            "WHERE r.status = 'succeeded' ORDER BY r.started_at"
        )
        state: dict[str, dict[str, Any]] = {}
        for row in rows:
            record = dict(zip(sql.FILE_COLUMNS, row, strict=True))
            state[record["table_name"]] = record
        return state

    def count_rows(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {sql.qname(self.schema, table)}")[0][0])

    def iter_tables(self, specs: Sequence[FileSpec]) -> Iterator[FileSpec]:
        return (s for s in specs if self.table_exists(s.table))

    def require_connected(self) -> None:  # pragma: no cover - programming error guard
        raise DatabaseError("loader used before connect()")
