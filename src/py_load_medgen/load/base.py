"""The loader interface: what a backend implements, on one screen.

A backend supplies a connection, statements, a lock, a bulk loader, a unique-key check, the
swap, and statistics; the abstract methods below. Everything said once for every backend in
shared SQL lives in the modules that do each job: ``publish`` (staging, indexes, swap or
refill), ``capture`` (a delta compared in the database: its change plan and application),
``changes`` (a file comparison's change sets), ``metadata`` (the run records). Where backends
differ they say so here, through a class attribute or a hook with a default; a backend that
stores tables its own way (the lake) overrides the steps of ``_legacy`` instead.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Self

from py_load_medgen.errors import DatabaseError
from py_load_medgen.load import sql
from py_load_medgen.load._legacy import LegacyLoaderMethods
from py_load_medgen.load.metadata import RunRecord as RunRecord  # noqa: PLC0414 - moved there
from py_load_medgen.load.metadata import TableLoad as TableLoad  # noqa: PLC0414 - moved there
from py_load_medgen.load.metadata import file_row as file_row  # noqa: PLC0414 - moved there
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FileSpec
from py_load_medgen.release.schema import Index

log = logging.getLogger(__name__)


class LockWaitError(DatabaseError):
    """Publishing could not take its locks within its short wait; retried after a pause."""

    retryable = True


class Loader(LegacyLoaderMethods, ABC):
    """One database and schema that mirrors MedGen."""

    dialect: ClassVar[sql.Dialect]
    """Type names, collation, UNLOGGED and the regex CHECK of the shared DDL."""
    placeholder: ClassVar[str] = "%s"
    """The driver's parameter marker, used by the shared SQL."""
    secondary_indexes: ClassVar[bool] = True
    """Whether staging tables get the secondary indexes before the swap (DuckDB: no, an index
    would block the swap's rename)."""
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

    # -- connection, transactions, locking ---------------------------------------------------

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raise DatabaseError with a secret-free message on failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the lock if held, then close. Called even after a failure."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data goes, safe to print (no password)."""

    @abstractmethod
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement; identifiers in it are already quoted by ``sql.py``."""

    @abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return every row as a tuple."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Everything inside commits together or not at all."""

    @abstractmethod
    def acquire_lock(self, run_id: str) -> None:
        """Take the one-run-at-a-time lock for this schema or raise LockedError."""

    @abstractmethod
    def release_lock(self) -> None:
        """Give the lock back; a no-op when not held."""

    @abstractmethod
    def table_exists(self, table: str) -> bool:
        """Whether ``table`` exists in the schema."""

    def helper(self) -> Loader | None:
        """A second, connected loader of the same schema that can index one staged table
        while this one copies the next; None where the backend cannot work on two at once."""
        return None

    def cancel(self) -> None:
        """From another thread: stop the statement running on this connection, if any."""

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        """Which of ``tables`` exist; a backend can answer in one query instead of one each."""
        return {table for table in tables if self.table_exists(table)}

    def count_rows(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {sql.qname(self.schema, table)}")[0][0])

    # -- staging, indexes, publishing --------------------------------------------------------

    @abstractmethod
    def bulk_load(self, spec: FileSpec, encoded: EncodedFile) -> int:
        """Stream every block of ``encoded`` into the staging table; returns rows loaded.

        Maps the database's complaints about values (type, range, shape) to an InputError
        naming the file, line and column.
        """

    @abstractmethod
    def try_unique_index(self, table: str, index: Index) -> bool:
        """Build a unique index (a primary key where possible); False on duplicate keys."""

    @abstractmethod
    def analyze(self, table: str) -> None:
        """Gather the planner's statistics on a staged table."""

    def after_staging(self, spec: FileSpec) -> None:
        """After a full load's table is staged and indexed, before the swap (PostgreSQL
        rebuilds users' own indexes here)."""

    def lock_for_publish(self, replaced: Sequence[str], changed: Sequence[str] = ()) -> None:
        """First in the publishing transaction: take every lock it needs, or raise
        LockWaitError without waiting long. A no-op where readers never lock."""

    def demote_key(self, spec: FileSpec) -> None:
        """Inside the publishing transaction: drop the production table's unique natural key
        (the release about to be applied repeats keys) for a plain index."""

    @abstractmethod
    def swap(self, specs: Sequence[FileSpec]) -> None:
        """Inside the caller's transaction: replace each production table by its staging one.

        User views and grants on the replaced tables are carried over.
        """

    # -- delta loads (optional hooks) ----------------------------------------------------------

    def prepare_delta(self) -> None:
        """Before a delta stages anything: room for one transaction that holds every table's
        changes, where the backend needs it."""

    def change_slices(self, spec: FileSpec, staged_rows: int) -> tuple[str, ...]:
        """Conditions that split a whole-row comparison into parts the database can hold;
        none (compare at once) by default."""
        del spec, staged_rows
        return ()

    def analyze_temp(self, table: str) -> None:
        """Gather statistics on a session-local table, where the backend needs them."""
