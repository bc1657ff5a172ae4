"""Every query on the run metadata (``etl_runs``, ``etl_run_files``), in one place.

A run writes one ``etl_runs`` row when it starts and, in the same transaction as the data it
publishes, its final row and one ``etl_run_files`` row per table. ``status``, ``history``,
``verify``, ``check-update`` and a delta's choice of what changed all read them back here, as
typed records (``RunRow``, ``FileRow``). The statements come from pure functions (``*_sql``),
tested as strings; the functions that run them take any connected loader.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, Self

from py_load_medgen.load import sql
from py_load_medgen.source.base import SourceFile

log = logging.getLogger(__name__)


RunStatus = Literal["running", "succeeded", "failed"]
"""What ``etl_runs.status`` says of a run."""


class Database(Protocol):
    """What the metadata needs of a connection: a ``Loader`` is one."""

    @property
    def schema(self) -> str: ...
    @property
    def placeholder(self) -> str: ...
    @property
    def dialect(self) -> sql.Dialect: ...
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def table_exists(self, table: str) -> bool: ...


# -- what a run writes -------------------------------------------------------------------------


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


# -- what is read back -------------------------------------------------------------------------


def utc(value: Any) -> datetime | None:
    """A database timestamp as an aware UTC datetime (DuckDB may hand back naive ones)."""
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Record:
    """Typed columns, read by attribute. ``record["column"]`` and ``record.get("column")``
    still answer for code written when the records were dicts."""

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        value = getattr(self, name, None)
        return default if value is None else value

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Self:
        """A record from a row selected with the table's columns, in their order."""
        values = dict(zip((f.name for f in fields(cls)), row, strict=True))  # type: ignore[arg-type]
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = utc(value)
        return cls(**values)


@dataclass(frozen=True)
class RunRow(_Record):
    """A row of ``etl_runs``: one run, as recorded."""

    run_id: str
    mode: str
    strategy: str | None
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    tool_version: str | None
    source: str | None
    release_time: datetime | None
    tables: str | None
    release_identity: str | None
    error_message: str | None
    host: str | None
    lock_wait_seconds: float | None

    @property
    def seconds(self) -> float | None:
        """How long the run took, once it finished."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class FileRow(_Record):
    """A row of ``etl_run_files``: what one run did to one table, and the file it read."""

    run_id: str
    table_name: str
    file_name: str | None
    url: str | None
    size: int | None
    sha256: str | None
    modified: datetime | None
    etag: str | None
    gzip_mtime: datetime | None
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    rows_inserted: int | None
    rows_updated: int | None
    rows_deleted: int | None
    rows_unchanged: int | None
    unknown_columns: str | None
    match_key: str | None
    duration_seconds: float | None
    skipped: bool | None
    compare_method: str | None
    compare_note: str | None

    @property
    def key(self) -> tuple[str, ...] | None:
        """The columns the run proved unique in production, if any."""
        return tuple(self.match_key.split(",")) if self.match_key else None


# -- the statements ----------------------------------------------------------------------------


def _columns(columns: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + sql.ident(c) for c in columns)


def _marks(placeholder: str, n: int) -> str:
    return ", ".join(placeholder for _ in range(n))


def select_list(columns: Sequence[str], present: set[str] | None = None, alias: str = "") -> str:
    """``columns`` as a select list; NULL for one not ``present`` (a schema made by an older
    version, read before its next load adds the column). All of them when ``present`` is None.

    Examples:
        >>> select_list(("a", "b"), {"a"}, "f")
        'f."a", NULL AS "b"'
    """
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        prefix + sql.ident(c) if present is None or c in present else f"NULL AS {sql.ident(c)}"
        for c in columns
    )


def columns_sql(placeholder: str) -> str:
    """The column names of one table (params: schema, table)."""
    return (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = {placeholder} AND table_name = {placeholder}"
    )


def runs_sql(
    schema: str, placeholder: str, *, limit: int, by_status: bool, select: str | None = None
) -> str:
    """The newest runs first (``placeholder``: the status, when ``by_status``).

    Examples:
        >>> print(runs_sql("medgen", "?", limit=1, by_status=True))  # doctest: +ELLIPSIS
        SELECT "run_id", ... FROM "medgen"."etl_runs" WHERE status = ?
        ORDER BY started_at DESC LIMIT 1
    """
    where = f" WHERE status = {placeholder}" if by_status else ""
    return (
        f"SELECT {select or _columns(sql.RUN_COLUMNS)} FROM {sql.qname(schema, sql.RUNS)}{where} "
        f"ORDER BY started_at DESC LIMIT {int(limit)}"
    )


def runs_by_id_sql(schema: str, placeholder: str, n: int, select: str | None = None) -> str:
    """The ``etl_runs`` rows of ``n`` run ids."""
    return (
        f"SELECT {select or _columns(sql.RUN_COLUMNS)} FROM {sql.qname(schema, sql.RUNS)} "
        f"WHERE run_id IN ({_marks(placeholder, n)})"
    )


def run_files_sql(schema: str, placeholder: str, select: str | None = None) -> str:
    """One run's ``etl_run_files`` rows, by table."""
    return (
        f"SELECT {select or _columns(sql.FILE_COLUMNS)} FROM {sql.qname(schema, sql.RUN_FILES)} "
        f"WHERE run_id = {placeholder} ORDER BY table_name"
    )


def succeeded_files_sql(schema: str, select: str | None = None) -> str:
    """Every file record of a successful run, oldest run first, with the run's mode last.

    Examples:
        >>> print(succeeded_files_sql("medgen"))  # doctest: +ELLIPSIS
        SELECT f."run_id", ..., r.mode FROM "medgen"."etl_run_files" f
        JOIN "medgen"."etl_runs" r ON r.run_id = f.run_id
        WHERE r.status = 'succeeded' ORDER BY r.started_at, f.table_name
    """
    return (
        f"SELECT {select or _columns(sql.FILE_COLUMNS, 'f')}, r.mode "
        f"FROM {sql.qname(schema, sql.RUN_FILES)} f "
        f"JOIN {sql.qname(schema, sql.RUNS)} r ON r.run_id = f.run_id "
        "WHERE r.status = 'succeeded' ORDER BY r.started_at, f.table_name"
    )


FILE_SUMS = (
    "rows_loaded",
    "rows_rejected",
    "rows_inserted",
    "rows_updated",
    "rows_deleted",
    "rows_unchanged",
)


def file_totals_sql(schema: str, placeholder: str, n: int) -> str:
    """Per run of ``n`` run ids: tables touched and the sums of ``FILE_SUMS``."""
    sums = ", ".join(f"sum({sql.ident(c)})" for c in FILE_SUMS)
    return (
        f"SELECT run_id, count(*), {sums} FROM {sql.qname(schema, sql.RUN_FILES)} "
        f"WHERE run_id IN ({_marks(placeholder, n)}) GROUP BY run_id"
    )


def running_sql(schema: str) -> str:
    return f"SELECT run_id FROM {sql.qname(schema, sql.RUNS)} WHERE status = 'running'"


def fail_running_sql(schema: str, placeholder: str) -> str:
    """Mark every run still 'running' failed (params: message, finished_at)."""
    return (
        f"UPDATE {sql.qname(schema, sql.RUNS)} SET status = 'failed', "
        f"error_message = {placeholder}, finished_at = {placeholder} WHERE status = 'running'"
    )


def fail_run_sql(schema: str, placeholder: str) -> str:
    """Mark one run failed (params: message, finished_at, run_id)."""
    return (
        f"UPDATE {sql.qname(schema, sql.RUNS)} SET status = 'failed', "
        f"error_message = {placeholder}, finished_at = {placeholder} "
        f"WHERE run_id = {placeholder}"
    )


def delete_run_sql(schema: str, placeholder: str) -> str:
    return f"DELETE FROM {sql.qname(schema, sql.RUNS)} WHERE run_id = {placeholder}"


# -- running them ------------------------------------------------------------------------------


def ensure(db: Database) -> None:
    """Create the metadata tables if they are missing (the schema must exist)."""
    with db.transaction():
        for statement in sql.metadata_ddl(db.dialect, db.schema):
            db.execute(statement)


def mark_abandoned_runs(db: Database, by_run: str) -> int:
    """Runs still 'running' while we hold the lock were killed: record them as failed."""
    rows = db.query(running_sql(db.schema))
    if rows:
        with db.transaction():
            db.execute(
                fail_running_sql(db.schema, db.placeholder),
                (f"abandoned: the process died (found by run {by_run})", datetime.now(UTC)),
            )
        for (run_id,) in rows:
            log.warning("run %s was killed or crashed; recorded as failed", run_id)
    return len(rows)


def record_start(db: Database, run: RunRecord) -> None:
    with db.transaction():
        db.execute(sql.insert(db.schema, sql.RUNS, sql.RUN_COLUMNS, db.placeholder), run.row())


def record_success(db: Database, run: RunRecord, loads: Sequence[TableLoad]) -> None:
    """Inside the caller's transaction (the one that publishes the data)."""
    run.status = "succeeded"
    run.finished_at = datetime.now(UTC)
    db.execute(delete_run_sql(db.schema, db.placeholder), (run.run_id,))
    db.execute(sql.insert(db.schema, sql.RUNS, sql.RUN_COLUMNS, db.placeholder), run.row())
    for load in loads:
        db.execute(
            sql.insert(db.schema, sql.RUN_FILES, sql.FILE_COLUMNS, db.placeholder),
            file_row(run.run_id, load),
        )


def record_failure(db: Database, run: RunRecord, error: str) -> None:
    run.status = "failed"
    run.error = error
    run.finished_at = datetime.now(UTC)
    with db.transaction():
        db.execute(fail_run_sql(db.schema, db.placeholder), (error, run.finished_at, run.run_id))


def present_columns(db: Database, table: str) -> set[str]:
    """The columns ``table`` has in the schema."""
    return {str(n) for (n,) in db.query(columns_sql(db.placeholder), (db.schema, table))}


def run_columns_select(db: Database) -> str:
    """Every ``etl_runs`` column as a select list, NULL for one the schema lacks."""
    return select_list(sql.RUN_COLUMNS, present_columns(db, sql.RUNS))


def file_columns_select(db: Database, prefix: str = "") -> str:
    """Every ``etl_run_files`` column as a select list, NULL for one the schema lacks."""
    return select_list(sql.FILE_COLUMNS, present_columns(db, sql.RUN_FILES), prefix.rstrip("."))


def record_changes(db: Database, run_id: str, report: str) -> None:
    """Keep a run's change report (JSON); inside the caller's publishing transaction."""
    table = sql.qname(db.schema, sql.RUN_CHANGES)
    db.execute(f"DELETE FROM {table} WHERE run_id = {db.placeholder}", (run_id,))
    db.execute(
        sql.insert(db.schema, sql.RUN_CHANGES, ("run_id", "report"), db.placeholder),
        (run_id, report),
    )


def run_changes(db: Database, run_id: str) -> str | None:
    """The change report kept with a run (JSON), None when it kept none."""
    if not db.table_exists(sql.RUN_CHANGES):
        return None
    rows = db.query(
        f"SELECT report FROM {sql.qname(db.schema, sql.RUN_CHANGES)} "
        f"WHERE run_id = {db.placeholder}",
        (run_id,),
    )
    return str(rows[0][0]) if rows else None


def runs(db: Database, limit: int = 20, status: RunStatus | None = None) -> list[RunRow]:
    """The newest runs first; none when nothing was ever recorded."""
    if not db.table_exists(sql.RUNS):
        return []
    statement = runs_sql(
        db.schema,
        db.placeholder,
        limit=limit,
        by_status=status is not None,
        select=run_columns_select(db),
    )
    return [RunRow.from_row(r) for r in db.query(statement, (status,) if status else ())]


def runs_by_id(db: Database, run_ids: Sequence[str]) -> dict[str, RunRow]:
    """The ``etl_runs`` rows of the given runs, by run id."""
    if not run_ids:
        return {}
    statement = runs_by_id_sql(db.schema, db.placeholder, len(run_ids), run_columns_select(db))
    rows = db.query(statement, tuple(run_ids))
    return {r[0]: RunRow.from_row(r) for r in rows}


def run_files(db: Database, run_id: str) -> list[FileRow]:
    statement = run_files_sql(db.schema, db.placeholder, file_columns_select(db))
    rows = db.query(statement, (run_id,))
    return [FileRow.from_row(r) for r in rows]


def succeeded_files(db: Database) -> list[tuple[FileRow, str]]:
    """Every file record of a successful run with the run's mode, oldest run first."""
    if not db.table_exists(sql.RUNS):
        return []
    statement = succeeded_files_sql(db.schema, file_columns_select(db, "f"))
    return [(FileRow.from_row(r[:-1]), r[-1]) for r in db.query(statement)]


def loaded_state(db: Database) -> dict[str, FileRow]:
    """Per table, the file record of the newest successful run that loaded it."""
    return {record.table_name: record for record, _mode in succeeded_files(db)}


def file_totals(db: Database, run_ids: Sequence[str]) -> dict[str, dict[str, int | None]]:
    """Per run: ``tables`` touched and the summed row counts, in one aggregate query."""
    if not run_ids:
        return {}
    rows = db.query(file_totals_sql(db.schema, db.placeholder, len(run_ids)), tuple(run_ids))
    names = ("rows_loaded", "rows_rejected", "inserted", "updated", "deleted", "unchanged")
    return {
        r[0]: {
            "tables": int(r[1]),
            **{n: None if v is None else int(v) for n, v in zip(names, r[2:], strict=True)},
        }
        for r in rows
    }
