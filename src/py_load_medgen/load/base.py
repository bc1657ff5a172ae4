"""The loader interface every backend implements, and the logic they share.

A backend supplies a connection, a bulk loader, a lock and the swap; everything that can be
said in shared SQL (staging, indexes, metadata, change capture) lives here or in ``sql.py``,
written once for all backends.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Self

from py_load_medgen.load import metadata, sql
from py_load_medgen.load.metadata import FileRow, RunRow
from py_load_medgen.load.metadata import RunRecord as RunRecord  # noqa: PLC0414 - moved there
from py_load_medgen.load.metadata import TableLoad as TableLoad  # noqa: PLC0414 - moved there
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FileSpec
from py_load_medgen.release.schema import Index, indexes

log = logging.getLogger(__name__)


class Loader(ABC):
    """One database and schema that mirrors MedGen."""

    dialect: ClassVar[sql.Dialect]
    placeholder: ClassVar[str] = "%s"

    def __init__(self, uri: str, schema: str) -> None:
        self.uri = uri
        self.schema = schema

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

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        """Which of ``tables`` exist; a backend can answer in one query instead of one each."""
        return {table for table in tables if self.table_exists(table)}

    # -- staging and bulk load --------------------------------------------------------------

    def prepare_staging(self, specs: Sequence[FileSpec]) -> None:
        """Create the target schema if needed and remove staging left by any earlier run."""
        self.ensure_schema()
        self.drop_staging(specs)

    def drop_staging(self, specs: Sequence[FileSpec]) -> None:
        from py_load_medgen.release.files import FILES

        del specs  # a killed run may have staged tables this run does not touch
        with self.transaction():
            for spec in FILES:
                self.execute(
                    f"DROP TABLE IF EXISTS {sql.qname(self.schema, sql.staging_name(spec.table))}"
                )

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
        """Create the (unlogged) staging table for one file; returns its name."""
        name = sql.staging_name(spec.table)
        with self.transaction():
            self.execute(f"DROP TABLE IF EXISTS {sql.qname(self.schema, name)}")
            self.execute(
                sql.create_table(
                    self.dialect,
                    self.schema,
                    name,
                    spec,
                    scratch_columns=encoded.scratch_columns,
                    raw_records=encoded.raw_records,
                )
            )
        return name

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
                index = Index(wanted.table, wanted.columns, unique=False)
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

    def apply_changes(self, specs: Sequence[FileSpec], *, strategy: str = "swap") -> None:
        """Inside the caller's transaction: publish the staged tables of a full load.

        ``swap`` replaces each production table by its staging table; ``truncate`` refills
        the production tables in place.
        """
        if strategy == "swap":
            self.swap(specs)
        else:
            self.replace_contents(specs)

    def cleanup(self) -> None:
        """Remove every staging table, whichever run left it."""
        from py_load_medgen.release.files import FILES

        self.drop_staging(FILES)

    def replace_contents(self, specs: Sequence[FileSpec]) -> None:
        """Inside the caller's transaction: empty each production table and refill it."""
        for spec in specs:
            prod = sql.qname(self.schema, spec.table)
            stage = sql.qname(self.schema, sql.staging_name(spec.table))
            cols = ", ".join(sql.ident(c) for c in spec.column_names)
            if not self.table_exists(spec.table):
                self.swap([spec])
                continue
            self.execute(f"DELETE FROM {prod}")
            self.execute(f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {stage}")
            self.execute(f"DROP TABLE {stage}")

    # -- metadata (the queries live in metadata.py; these keep the loader's old names) -------

    def ensure_metadata(self) -> None:
        self.ensure_schema()
        metadata.ensure(self)

    def mark_abandoned_runs(self, by_run: str) -> int:
        """Runs still 'running' while we hold the lock were killed: record them as failed."""
        return metadata.mark_abandoned_runs(self, by_run)

    def record_start(self, run: RunRecord) -> None:
        metadata.record_start(self, run)

    def record_success(self, run: RunRecord, loads: Sequence[TableLoad]) -> None:
        """Inside the caller's transaction (the one that publishes the data)."""
        metadata.record_success(self, run, loads)

    def record_failure(self, run: RunRecord, error: str) -> None:
        metadata.record_failure(self, run, error)

    def runs(self, limit: int = 20, status: str | None = None) -> list[RunRow]:
        """The newest runs first."""
        return metadata.runs(self, limit, status)

    def run_files(self, run_id: str) -> list[FileRow]:
        return metadata.run_files(self, run_id)

    def loaded_state(self) -> dict[str, FileRow]:
        """Per table, the file record of the newest successful run that loaded it."""
        return metadata.loaded_state(self)

    def count_rows(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {sql.qname(self.schema, table)}")[0][0])
