"""Stage a change set's rows and apply them: the database half of a file-compared delta.

The compare stage found which rows were deleted and which inserted; here each side is bulk
loaded into a staging table of its own (``<staging>__deleted``, ``<staging>__inserted``), with
the same parser, validation and bulk loader as a full load, and applied in the caller's
transaction with shared SQL. A keyed table pairs a deleted and an inserted row of the same key
into an update, after checking that the inserted keys keep the key unique; a table compared
as whole rows deletes exactly as many copies of each row as the change set says.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence

from py_load_medgen.compare import ChangedRows
from py_load_medgen.load import sql
from py_load_medgen.load.base import Loader
from py_load_medgen.parse.stream import RejectSink
from py_load_medgen.release.files import FileSpec

log = logging.getLogger(__name__)

SIDES = ("deleted", "inserted")
ROW_ID = {"postgresql": "ctid", "duckdb": "rowid"}
"""The pseudo-column that names one physical row, to delete some copies of a row but not all."""
_FEW_ROWS = 1000
"""A PostgreSQL change set of fewer deleted rows than the table's rows / this is looked up
row by row rather than found by a scan of the whole table (see ``_delete_rows_postgres``)."""


def side_spec(spec: FileSpec, side: str) -> FileSpec:
    """The spec whose staging table holds one side of ``spec``'s change set."""
    return dataclasses.replace(spec, table=f"{spec.table}__{side}")


def side_table(spec: FileSpec, side: str) -> str:
    return sql.staging_name(side_spec(spec, side).table)


def staging_tables(specs: Sequence[FileSpec]) -> list[str]:
    """Every change staging table of ``specs``, for cleanup."""
    return [side_table(spec, side) for spec in specs for side in (*SIDES, "rows")]


def stage(
    loader: Loader,
    spec: FileSpec,
    rows: dict[str, ChangedRows],
    *,
    max_bad_rows: int,
    rejects: RejectSink | None,
) -> tuple[dict[str, int], int]:
    """Load each side's rows into its staging table; returns the rows loaded per side and
    the rows the parser rejected.

    An empty side gets an empty table, so that the apply SQL is the same whatever changed.
    """
    loaded: dict[str, int] = {}
    rejected = 0
    for side in SIDES:
        target = side_spec(spec, side)
        changed = rows[side]
        name = f"{spec.name} ({side} rows)"
        if changed.count:
            encoded = changed.encoded(name=name, max_bad_rows=max_bad_rows, rejects=rejects)
            loader.create_staging(target, encoded)
            loaded[side] = loader.bulk_load(target, encoded)
            rejected += encoded.stats.rows_rejected
            loader.drop_scratch(sql.staging_name(target.table), encoded)
        else:
            with loader.transaction():
                table = sql.qname(loader.schema, sql.staging_name(target.table))
                loader.execute(f"DROP TABLE IF EXISTS {table}")
                loader.execute(
                    sql.create_table(
                        loader.dialect, loader.schema, sql.staging_name(target.table), target
                    )
                )
            loaded[side] = 0
    return loaded, rejected


def key_stays_unique(loader: Loader, spec: FileSpec, key: Sequence[str]) -> bool:
    """Whether production keeps ``key`` unique once the change set is applied."""
    prod = sql.qname(loader.schema, spec.table)
    deleted = sql.qname(loader.schema, side_table(spec, "deleted"))
    inserted = sql.qname(loader.schema, side_table(spec, "inserted"))
    cols = ", ".join(sql.ident(c) for c in key)
    twice = loader.query(
        f"SELECT count(*) FROM (SELECT {cols} FROM {inserted} GROUP BY {cols} "
        "HAVING count(*) > 1) k"
    )
    if int(twice[0][0]):
        return False
    clash = loader.query(
        f"SELECT count(*) FROM {inserted} i WHERE EXISTS (SELECT 1 FROM {prod} p WHERE "
        f"{_equal('p', 'i', key)}) AND NOT EXISTS (SELECT 1 FROM {deleted} d WHERE "
        f"{_equal('d', 'i', key)})"
    )
    return not int(clash[0][0])


def _equal(left: str, right: str, columns: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{sql.ident(c)} = {right}.{sql.ident(c)}" for c in columns)


def changed_values(loader: Loader, spec: FileSpec, column: str) -> str | None:
    """A query of the values of ``column`` in the staged change set's rows, deleted and
    inserted (an update stages both versions); None when the table has no such column."""
    if column not in spec.column_names:
        return None
    return " UNION ".join(
        f"SELECT {sql.ident(column)} FROM {sql.qname(loader.schema, side_table(spec, side))}"
        for side in SIDES
    )


def _keys_table(spec: FileSpec) -> str:
    return f"_change_keys_{spec.table}"


def rows_table(loader: Loader, spec: FileSpec) -> str:
    """Where ``count`` puts a table's deleted rows, each with its number of copies.

    On PostgreSQL a table of the schema (``_staging_<table>__rows``), not a temporary one:
    parallel workers cannot read a session's temporary tables, and finding the deleted rows
    in a big table is a scan worth every core (see ``_apply``)."""
    if loader.dialect.name == "postgresql":
        return sql.qname(loader.schema, side_table(spec, "rows"))
    return sql.ident(f"_change_rows_{spec.table}")


def count(loader: Loader, spec: FileSpec, key: Sequence[str] | None) -> dict[str, int]:
    """Inserted, updated and deleted rows; keyed tables pair a deletion and an insertion of
    the same key into an update. Prepares the temporary table ``apply`` reads."""
    deleted = sql.qname(loader.schema, side_table(spec, "deleted"))
    inserted = sql.qname(loader.schema, side_table(spec, "inserted"))
    if key:
        keys = sql.ident(_keys_table(spec))
        first = sql.ident(key[0])
        picked = ", ".join(
            f"coalesce(d.{sql.ident(c)}, i.{sql.ident(c)}) AS {sql.ident(c)}" for c in key
        )
        kind = f"CASE WHEN d.{first} IS NULL THEN 'i' WHEN i.{first} IS NULL THEN 'd' ELSE 'u' END"
        with loader.transaction():
            loader.execute(f"DROP TABLE IF EXISTS {keys}")
            loader.execute(
                f"CREATE TEMP TABLE {keys} AS SELECT {picked}, {kind} AS kind "
                f"FROM {deleted} d FULL JOIN {inserted} i ON {_equal('d', 'i', key)}"
            )
        loader.analyze_temp(_keys_table(spec))
        counts = {
            str(k): int(n)
            for k, n in loader.query(f"SELECT kind, count(*) FROM {keys} GROUP BY kind")
        }
        return {
            "inserted": counts.get("i", 0),
            "updated": counts.get("u", 0),
            "deleted": counts.get("d", 0),
        }
    rows = rows_table(loader, spec)
    cols = ", ".join(sql.ident(c) for c in spec.column_names)
    shared = loader.dialect.name == "postgresql"
    with loader.transaction():
        loader.execute(f"DROP TABLE IF EXISTS {rows}")
        loader.execute(
            f"CREATE {'' if shared else 'TEMP '}TABLE {rows} AS SELECT {cols}, "
            f"count(*) AS copies FROM {deleted} GROUP BY {cols}"
        )
    if shared:
        loader.analyze(side_table(spec, "rows"))
    else:
        loader.analyze_temp(f"_change_rows_{spec.table}")
    return {
        "inserted": int(loader.query(f"SELECT count(*) FROM {inserted}")[0][0]),
        "updated": 0,
        "deleted": int(loader.query(f"SELECT count(*) FROM {deleted}")[0][0]),
    }


def apply(loader: Loader, spec: FileSpec, key: Sequence[str] | None) -> None:
    """Inside the caller's transaction: apply the staged change set to production."""
    started = time.perf_counter()
    _apply(loader, spec, key)
    seconds = time.perf_counter() - started
    # What each table's apply costs, in the run log: the figure a slow delta is judged by.
    log.info(
        "%s: changes applied in %.2fs",
        spec.table,
        seconds,
        extra={"table": spec.table, "apply_seconds": round(seconds, 3)},
    )


def _apply(loader: Loader, spec: FileSpec, key: Sequence[str] | None) -> None:
    own = getattr(loader, "apply_change_set", None)
    if own is not None:  # a backend whose tables SQL cannot write (Delta Lake)
        own(spec, key)
        return
    prod = sql.qname(loader.schema, spec.table)
    inserted = sql.qname(loader.schema, side_table(spec, "inserted"))
    cols = ", ".join(sql.ident(c) for c in spec.column_names)
    if key:
        keys = sql.ident(_keys_table(spec))
        values = [c for c in spec.column_names if c not in key]
        # DuckDB updates a row in place column by column, which for the few thousand updated
        # rows of a full-size release cost seconds per table (measured at scale 0.1: 5,000
        # updated rows of `attributes`, 0.12 s of CPU and 2.0 s of wall time, against 0.016 s
        # and 0.36 s replacing them); their key is unchanged, so replacing them (one delete,
        # one append) gives the same table. PostgreSQL keeps the UPDATE: an update is what
        # triggers and foreign keys on the tables must see.
        replace = bool(values) and loader.dialect.name == "duckdb"
        gone = "('d', 'u')" if replace else "('d')"
        _execute(
            loader,
            spec,
            f"DELETE FROM {prod} p WHERE EXISTS "
            f"(SELECT 1 FROM {keys} c WHERE c.kind IN {gone} AND {_equal('p', 'c', key)})",
        )
        if values and not replace:
            sets = ", ".join(f"{sql.ident(c)} = i.{sql.ident(c)}" for c in values)
            _execute(
                loader,
                spec,
                f"UPDATE {prod} p SET {sets} FROM {inserted} i, {keys} c "
                f"WHERE c.kind = 'u' AND {_equal('p', 'c', key)} AND {_equal('i', 'c', key)}",
            )
        new = "('i', 'u')" if replace else "('i')"
        _execute(
            loader,
            spec,
            f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {inserted} i WHERE EXISTS "
            f"(SELECT 1 FROM {keys} c WHERE c.kind IN {new} AND {_equal('i', 'c', key)})",
        )
        return
    rows = rows_table(loader, spec)
    if loader.dialect.name == "postgresql":
        _delete_rows_postgres(loader, spec, rows)
    else:
        rowid = ROW_ID[loader.dialect.name]
        partition = ", ".join(f"p.{sql.ident(c)}" for c in spec.column_names)
        # Each deleted row goes as many times as the change set says, and no more: the
        # copies of a row are numbered and the first ``copies`` of them are deleted.
        _execute(
            loader,
            spec,
            f"DELETE FROM {prod} WHERE {rowid} IN (SELECT rid FROM (SELECT p.{rowid} AS rid, "
            f"row_number() OVER (PARTITION BY {partition}) AS n, d.copies "
            f"FROM {prod} p JOIN {rows} d ON {_whole_row_match(spec)}) x WHERE n <= copies)",
        )
    _execute(loader, spec, f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {inserted}")


def _delete_rows_postgres(loader: Loader, spec: FileSpec, rows: str) -> None:
    """Delete the change set's rows from a table without a key, in two statements.

    The row ids are collected first, by a statement of their own, then deleted by a TID scan
    that fetches just their pages (5 s for 320 k rows at scale 1.0). How they are found
    depends on how many there are. A few (under one in ``_FEW_ROWS`` of the table) are looked
    up through the `cui` index, as the planner sees fit for a join (3,227 rows of the 48 M of
    `pubmed_links` at scale 1.0: 0.9 s). More mean a scan of the whole table: a DELETE never
    runs in parallel, and in one statement the planner hashed the big table rather than the
    change set (its estimate of the join is one row): 31 s for 320 k rows. So the production
    rows are fenced off (OFFSET 0) and probed against the hashed change set, in a statement
    that may use every core (CREATE TABLE AS): 10 s.
    """
    prod = sql.qname(loader.schema, spec.table)
    rids = sql.ident(f"_change_rids_{spec.table}")
    cols = ", ".join(f"p.{sql.ident(c)}" for c in spec.column_names)
    found = ", ".join(f"c.{sql.ident(c)}" for c in spec.column_names)
    deleted = int(loader.query(f"SELECT coalesce(sum(copies), 0) FROM {rows}")[0][0])
    estimate = loader.query("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (prod,))
    if deleted * _FEW_ROWS < float(estimate[0][0]):  # reltuples is -1 before any ANALYZE
        candidates = f"SELECT p.ctid AS rid, {cols} FROM {prod} p JOIN {rows} d ON " + (
            _whole_row_match(spec)
        )
    else:
        candidates = (
            f"SELECT p.ctid AS rid, {cols} FROM {prod} p WHERE EXISTS (SELECT 1 FROM {rows} d "
            f"WHERE {_whole_row_match(spec)}) OFFSET 0"
        )
    # Each deleted row goes as many times as the change set says, and no more: the copies of
    # a row are numbered and the first ``copies`` of them are deleted.
    _execute(loader, spec, f"DROP TABLE IF EXISTS {rids}")
    _execute(
        loader,
        spec,
        f"CREATE TEMP TABLE {rids} AS SELECT rid FROM (SELECT c.rid, row_number() OVER "
        f"(PARTITION BY {found}) AS n, d.copies FROM ({candidates}) c "
        f"JOIN {rows} d ON {_whole_row_match(spec, 'c')}) x WHERE n <= copies",
    )
    _execute(loader, spec, f"DELETE FROM {prod} WHERE ctid = ANY(ARRAY(SELECT rid FROM {rids}))")
    _execute(loader, spec, f"DROP TABLE {rids}")


def _whole_row_match(spec: FileSpec, row: str = "p") -> str:
    """The join condition of a production row ``p`` and a deleted row ``d``: every column
    equal, NULL matching NULL.

    Required columns are written ``=``, which PostgreSQL can look up through an index (the
    ``cui`` index of ``pubmed_links`` serves a small change set); writing the text columns
    ``IS NOT DISTINCT FROM`` so that only the integers are hashed made the hash join over the
    whole table about 10 % cheaper, but lost that index: 38 s instead of 3 s for 3,227 rows at
    scale 1.0.
    """
    return " AND ".join(
        f"{row}.{sql.ident(c)} = d.{sql.ident(c)}"
        if spec.column(c).required
        else f"{row}.{sql.ident(c)} IS NOT DISTINCT FROM d.{sql.ident(c)}"
        for c in spec.column_names
    )


def _execute(loader: Loader, spec: FileSpec, statement: str) -> None:
    started = time.perf_counter()
    loader.execute(statement)
    log.debug(
        "%s: %s in %.2fs", spec.table, statement.split(" ", 1)[0], time.perf_counter() - started
    )


def discard(loader: Loader, spec: FileSpec) -> None:
    """Drop the change set's staging and temporary tables (after apply, or on failure)."""
    with loader.transaction():
        loader.execute(f"DROP TABLE IF EXISTS {sql.ident(_keys_table(spec))}")
        loader.execute(f"DROP TABLE IF EXISTS {rows_table(loader, spec)}")
        for side in SIDES:
            loader.execute(
                f"DROP TABLE IF EXISTS {sql.qname(loader.schema, side_table(spec, side))}"
            )
