"""Pure functions that build the statements every backend shares.

Names are always quoted identifiers, never formatted in bare: a schema called
``my "odd"; schema`` is as safe as ``medgen``. The SQL is standard enough for PostgreSQL and
DuckDB alike; what differs (types, collation, unlogged tables) comes from a ``Dialect``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from py_load_medgen.release.files import CUI_PATTERN, Column, ColumnType, FileSpec
from py_load_medgen.release.schema import Index

STAGING_PREFIX = "_staging_"
DERIVED_TABLES = ("xref_pairs", "cui_chains")
"""Tables the answers layer derives from the loaded ones. A full load stages them beside the
files' tables (``answers/publish.py``), so whatever drops staging drops theirs too."""
ANSWER_INDEX_SUFFIX = "_answers_idx"
"""The end of the names of indexes the answers layer adds to loaded tables: it builds them on
every new table itself, so a swap must not carry them over as a user's own."""
RUNS = "etl_runs"
RUN_FILES = "etl_run_files"
RUN_CHANGES = "etl_run_changes"
"""One change report (JSON) per delta run: what changed, per table and per concept."""


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal (for DDL, where parameters cannot go)."""
    return "'" + value.replace("'", "''") + "'"


def qname(schema: str, table: str) -> str:
    return f"{ident(schema)}.{ident(table)}"


def staging_name(table: str) -> str:
    return STAGING_PREFIX + table


@dataclass(frozen=True)
class Dialect:
    name: str
    text: str
    identifier_text: str
    bigint: str = "bigint"
    smallint: str = "smallint"
    timestamp: str = "timestamptz"
    double: str = "double precision"
    unlogged: str = ""
    regex_match: str = "{column} ~ {pattern}"

    def column_type(self, column: Column) -> str:
        if column.type is ColumnType.BIGINT:
            return self.bigint
        if column.type is ColumnType.SMALLINT:
            return self.smallint
        return self.identifier_text if column.identifier else self.text


POSTGRES = Dialect(
    name="postgresql",
    text="text",
    identifier_text='text COLLATE "C"',
    unlogged="UNLOGGED ",
)
DUCKDB = Dialect(
    name="duckdb",
    text="VARCHAR",
    identifier_text="VARCHAR",
    timestamp="TIMESTAMPTZ",
    double="DOUBLE",
    regex_match="regexp_full_match({column}, {pattern})",
)


def create_table(
    dialect: Dialect,
    schema: str,
    table: str,
    spec: FileSpec,
    *,
    scratch_columns: Sequence[str] = (),
    raw_records: bool = False,
    unlogged: bool = False,
) -> str:
    """CREATE TABLE for a spec's table, optionally with columns that absorb extra input."""
    parts = [f"{ident(c.name)} {dialect.column_type(c)}" for c in spec.columns]
    parts += [f"{ident(c)} {dialect.text}" for c in scratch_columns]
    if raw_records:
        parts.append(f"{ident('raw_record')} {dialect.text}")
    for column in spec.columns:
        if column.cui_shape:
            check = dialect.regex_match.format(
                column=ident(column.name), pattern=literal(CUI_PATTERN.pattern)
            )
            parts.append(f"CONSTRAINT {ident(f'{spec.table}_{column.name}_shape')} CHECK ({check})")
    kind = dialect.unlogged if unlogged else ""
    return f"CREATE {kind}TABLE {qname(schema, table)} ({', '.join(parts)})"


def drop_column(schema: str, table: str, column: str) -> str:
    # One column per statement: DuckDB takes a single DROP COLUMN per ALTER TABLE.
    return f"ALTER TABLE {qname(schema, table)} DROP COLUMN {ident(column)}"


def create_index(schema: str, table: str, index: Index, *, name: str | None = None) -> str:
    cols = ", ".join(ident(c) for c in index.columns)
    unique = "UNIQUE " if index.unique else ""
    return f"CREATE {unique}INDEX {ident(name or index.name)} ON {qname(schema, table)} ({cols})"


def metadata_ddl(dialect: Dialect, schema: str) -> list[str]:
    ts, big, dbl, txt = dialect.timestamp, dialect.bigint, dialect.double, dialect.text
    return [
        f"CREATE TABLE IF NOT EXISTS {qname(schema, RUNS)} ("
        f"run_id {txt} PRIMARY KEY, mode {txt} NOT NULL, strategy {txt}, status {txt} NOT NULL, "
        f"started_at {ts} NOT NULL, finished_at {ts}, tool_version {txt} NOT NULL, "
        f"source {txt}, release_time {ts}, tables {txt}, release_identity {txt}, "
        f"error_message {txt}, host {txt})",
        f"CREATE TABLE IF NOT EXISTS {qname(schema, RUN_FILES)} ("
        f"run_id {txt} NOT NULL, table_name {txt} NOT NULL, file_name {txt}, url {txt}, "
        f"size {big}, sha256 {txt}, modified {ts}, etag {txt}, gzip_mtime {ts}, "
        f"rows_read {big}, rows_loaded {big}, rows_rejected {big}, rows_inserted {big}, "
        f"rows_updated {big}, rows_deleted {big}, rows_unchanged {big}, "
        f"unknown_columns {txt}, match_key {txt}, duration_seconds {dbl}, skipped boolean, "
        f"PRIMARY KEY (run_id, table_name))",
        # Added by the file comparison of deltas (#15); ALTER so that older schemas gain them.
        f"ALTER TABLE {qname(schema, RUN_FILES)} ADD COLUMN IF NOT EXISTS compare_method {txt}",
        f"ALTER TABLE {qname(schema, RUN_FILES)} ADD COLUMN IF NOT EXISTS compare_note {txt}",
        # Its own table rather than a column of etl_runs: created if missing, an existing
        # schema gains it without touching the tables it has.
        f"CREATE TABLE IF NOT EXISTS {qname(schema, RUN_CHANGES)} ("
        f"run_id {txt} PRIMARY KEY, report {txt} NOT NULL)",
        # Added after the first release of the table: databases loaded before have no column.
        f"ALTER TABLE {qname(schema, RUNS)} ADD COLUMN IF NOT EXISTS lock_wait_seconds {dbl}",
    ]


RUN_COLUMNS = (
    "run_id",
    "mode",
    "strategy",
    "status",
    "started_at",
    "finished_at",
    "tool_version",
    "source",
    "release_time",
    "tables",
    "release_identity",
    "error_message",
    "host",
    "lock_wait_seconds",
)

FILE_COLUMNS = (
    "run_id",
    "table_name",
    "file_name",
    "url",
    "size",
    "sha256",
    "modified",
    "etag",
    "gzip_mtime",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_inserted",
    "rows_updated",
    "rows_deleted",
    "rows_unchanged",
    "unknown_columns",
    "match_key",
    "duration_seconds",
    "skipped",
    "compare_method",
    "compare_note",
)


def insert(schema: str, table: str, columns: Sequence[str], placeholder: str = "%s") -> str:
    cols = ", ".join(ident(c) for c in columns)
    marks = ", ".join(placeholder for _ in columns)
    return f"INSERT INTO {qname(schema, table)} ({cols}) VALUES ({marks})"


# -- change capture (delta loads) ---------------------------------------------------------------
#
# Keyed tables are matched on a natural key proven unique in both releases; the other tables
# are compared as multisets of whole rows. Required columns are never NULL (COPY text has no
# NULL token here), so they compare with `=`, which both databases can hash; optional columns
# use IS NOT DISTINCT FROM.


def _match(spec: FileSpec, left: str, right: str, columns: Sequence[str]) -> str:
    parts = []
    for name in columns:
        op = "=" if spec.column(name).required else "IS NOT DISTINCT FROM"
        parts.append(f"{left}.{ident(name)} {op} {right}.{ident(name)}")
    return " AND ".join(parts) or "TRUE"


def _equal(left: str, right: str, columns: Sequence[str]) -> str:
    """Plain equality, for key columns: a key proven unique is never NULL, and a full join
    needs a condition both databases can hash or merge (IS NOT DISTINCT FROM is neither)."""
    return " AND ".join(f"{left}.{ident(c)} = {right}.{ident(c)}" for c in columns)


def _differs(left: str, right: str, columns: Sequence[str]) -> str:
    return (
        " OR ".join(f"{left}.{ident(c)} IS DISTINCT FROM {right}.{ident(c)}" for c in columns)
        or "FALSE"
    )


@dataclass(frozen=True)
class ChangeSql:
    """The statements that count and apply one table's changes."""

    count_inserted: str
    count_deleted: str
    count_updated: str | None
    prepare: tuple[str, ...]
    apply: tuple[str, ...]
    cleanup: tuple[str, ...]
    temp_tables: tuple[str, ...] = ()
    """Tables ``prepare`` creates: the planner needs their statistics before ``apply``."""


def keyed_changes(schema: str, spec: FileSpec, key: Sequence[str]) -> ChangeSql:
    """Rows matched on a natural key, classified by one full join of both releases.

    The join keeps the key of every row to insert ('i'), update ('u') or delete ('d'); the
    counts read that short list and the apply joins it back to each table by key, so neither
    table is compared whole a second time.
    """
    prod, stage = qname(schema, spec.table), qname(schema, staging_name(spec.table))
    values = [c for c in spec.column_names if c not in key]
    cols = ", ".join(ident(c) for c in spec.column_names)
    changes = ident(f"_delta_keys_{spec.table}")
    first = ident(key[0])
    kind = f"CASE WHEN p.{first} IS NULL THEN 'i' WHEN s.{first} IS NULL THEN 'd' ELSE 'u' END"
    picked = ", ".join(f"coalesce(p.{ident(c)}, s.{ident(c)}) AS {ident(c)}" for c in key)
    sets = ", ".join(f"{ident(c)} = s.{ident(c)}" for c in values)
    apply = [
        f"DELETE FROM {prod} p WHERE EXISTS "
        f"(SELECT 1 FROM {changes} c WHERE c.kind = 'd' AND {_equal('p', 'c', key)})"
    ]
    if values:
        apply.append(
            f"UPDATE {prod} p SET {sets} FROM {stage} s, {changes} c "
            f"WHERE c.kind = 'u' AND {_equal('p', 'c', key)} AND {_equal('s', 'c', key)}"
        )
    apply.append(
        f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {stage} s WHERE EXISTS "
        f"(SELECT 1 FROM {changes} c WHERE c.kind = 'i' AND {_equal('s', 'c', key)})"
    )
    count = f"SELECT count(*) FROM {changes} WHERE kind = "
    return ChangeSql(
        count_inserted=count + "'i'",
        count_deleted=count + "'d'",
        count_updated=count + "'u'" if values else None,
        prepare=(
            f"CREATE TEMP TABLE {changes} AS SELECT {picked}, {kind} AS kind "
            f"FROM {prod} p FULL JOIN {stage} s ON {_equal('p', 's', key)} "
            f"WHERE p.{first} IS NULL OR s.{first} IS NULL OR ({_differs('s', 'p', values)})",
        ),
        apply=tuple(apply),
        cleanup=(f"DROP TABLE IF EXISTS {changes}",),
        temp_tables=(f"_delta_keys_{spec.table}",),
    )


def multiset_changes(schema: str, spec: FileSpec, slices: Sequence[str] = ()) -> ChangeSql:
    """Whole-row comparison that counts duplicates, in one aggregate over both releases.

    Per distinct row, ``n`` is its copies in production minus its copies in the new release,
    and ``copies`` its copies in the new release. A row with ``n > 0`` loses every production
    copy and gets the release's ``copies`` back; a row with ``n < 0`` gains the ``-n`` it
    lacks. Either way the table ends with exactly the release's copies, whatever the
    multiplicities, and the rows inserted come from the diff, not from a second scan of the
    whole staging table.

    With ``slices`` (predicates that together take every row exactly once), the aggregate
    runs one slice at a time, for an engine whose aggregate cannot spill to disk.
    """
    prod, stage = qname(schema, spec.table), qname(schema, staging_name(spec.table))
    cols = ", ".join(ident(c) for c in spec.column_names)
    from_diff = ", ".join(f"d.{ident(c)}" for c in spec.column_names)
    diff = ident(f"_delta_diff_{spec.table}")
    match = _match(spec, "d", "t", spec.column_names)

    def aggregate(where: str) -> str:
        # The cast: DuckDB sums integers into HUGEINT, which generate_series refuses.
        return (
            f"SELECT {cols}, CAST(sum(side) AS bigint) AS n, "
            f"count(*) FILTER (WHERE side < 0) AS copies FROM ("
            f"SELECT {cols}, 1 AS side FROM {prod}{where} UNION ALL "
            f"SELECT {cols}, -1 AS side FROM {stage}{where}) u "
            f"GROUP BY {cols} HAVING sum(side) <> 0"
        )

    first, *rest = [f" WHERE {s}" for s in slices] or [""]
    return ChangeSql(
        count_inserted=f"SELECT coalesce(sum(-n), 0) FROM {diff} WHERE n < 0",
        count_deleted=f"SELECT coalesce(sum(n), 0) FROM {diff} WHERE n > 0",
        count_updated=None,
        prepare=(
            f"CREATE TEMP TABLE {diff} AS {aggregate(first)}",
            *(f"INSERT INTO {diff} {aggregate(where)}" for where in rest),
        ),
        apply=(
            f"DELETE FROM {prod} t WHERE EXISTS (SELECT 1 FROM {diff} d WHERE d.n > 0 AND {match})",
            f"INSERT INTO {prod} ({cols}) SELECT {from_diff} FROM {diff} d, "
            "generate_series(1, CASE WHEN d.n > 0 THEN d.copies ELSE -d.n END) g",
        ),
        cleanup=(f"DROP TABLE IF EXISTS {diff}",),
        temp_tables=(f"_delta_diff_{spec.table}",),
    )
