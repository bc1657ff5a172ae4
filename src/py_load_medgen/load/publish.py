"""Publishing a full load: staging tables, their indexes, then swap or refill in place.

Written once for every backend against the small ``Loader`` interface. Where backends differ
the loader says so (``secondary_indexes``, ``after_staging``) rather than overriding the steps.
The statements come from pure functions (``*_sql``), tested as strings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from py_load_medgen.load import sql
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FILES, FileSpec
from py_load_medgen.release.schema import Index, indexes

if TYPE_CHECKING:
    from py_load_medgen.load.base import Loader

log = logging.getLogger(__name__)


# -- the statements ----------------------------------------------------------------------------


def staged_index(index: Index) -> str:
    """The name an index has on a staging table (it keeps it across the swap's rename)."""
    return sql.STAGING_PREFIX + index.name


def drop_staging_sql(schema: str) -> list[str]:
    """Drop every file's staging table, and the change sets a file comparison stages: a
    killed run may have staged tables this one does not touch.

    Examples:
        >>> drop_staging_sql("medgen")[0]
        'DROP TABLE IF EXISTS "medgen"."_staging_concepts"'
    """
    from py_load_medgen.load.changes import staging_tables

    tables = [sql.staging_name(s.table) for s in FILES] + staging_tables(FILES)
    tables += [sql.staging_name(table) for table in sql.DERIVED_TABLES]
    return [f"DROP TABLE IF EXISTS {sql.qname(schema, table)}" for table in tables]


def schema_exists_sql(placeholder: str) -> str:
    return "SELECT count(*) FROM information_schema.schemata " f"WHERE schema_name = {placeholder}"


def create_staging_sql(
    dialect: sql.Dialect,
    schema: str,
    spec: FileSpec,
    encoded: EncodedFile,
    *,
    unlogged: bool = False,
) -> list[str]:
    """Replace one file's staging table by an empty one with its scratch columns.

    Durable (logged) unless ``unlogged``; decided here, at creation, because turning a
    filled table logged later writes it all a second time.
    """
    name = sql.staging_name(spec.table)
    return [
        f"DROP TABLE IF EXISTS {sql.qname(schema, name)}",
        sql.create_table(
            dialect,
            schema,
            name,
            spec,
            scratch_columns=encoded.scratch_columns,
            raw_records=encoded.raw_records,
            unlogged=unlogged,
        ),
    ]


def replace_contents_sql(schema: str, spec: FileSpec) -> list[str]:
    """Empty a production table and refill it from its staging table (``--strategy
    truncate``: the table, its grants and views stay the same object).

    Examples:
        >>> from py_load_medgen.release.files import BY_TABLE
        >>> for statement in replace_contents_sql("m", BY_TABLE["concepts"]):  # doctest: +ELLIPSIS
        ...     print(statement)
        DELETE FROM "m"."concepts"
        INSERT INTO "m"."concepts" ("cui", ...) SELECT "cui", ... FROM "m"."_staging_concepts"
        DROP TABLE "m"."_staging_concepts"
    """
    prod = sql.qname(schema, spec.table)
    stage = sql.qname(schema, sql.staging_name(spec.table))
    cols = ", ".join(sql.ident(c) for c in spec.column_names)
    return [
        f"DELETE FROM {prod}",
        f"INSERT INTO {prod} ({cols}) SELECT {cols} FROM {stage}",
        f"DROP TABLE {stage}",
    ]


# -- running them ------------------------------------------------------------------------------


def ensure_schema(loader: Loader) -> None:
    # Asking first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the whole database even
    # when the schema exists, and a role that only owns its schema lacks it.
    if schema_exists(loader):
        return
    with loader.transaction():
        loader.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.ident(loader.schema)}")


def schema_exists(loader: Loader) -> bool:
    found = loader.query(schema_exists_sql(loader.placeholder), (loader.schema,))
    return bool(found and found[0][0])


def drop_staging(loader: Loader) -> None:
    """Remove every staging table, whichever run left it."""
    with loader.transaction():
        for statement in drop_staging_sql(loader.schema):
            loader.execute(statement)


def prepare_staging(loader: Loader) -> None:
    """Create the target schema if needed and remove staging left by any earlier run."""
    loader.ensure_schema()
    loader.drop_staging(FILES)


def create_staging(loader: Loader, spec: FileSpec, encoded: EncodedFile) -> str:
    """Create the staging table for one file; returns its name."""
    with loader.transaction():
        for statement in loader.staging_ddl(spec, encoded):
            loader.execute(statement)
    return sql.staging_name(spec.table)


def drop_scratch(loader: Loader, table: str, encoded: EncodedFile) -> None:
    """Drop the columns the parser used as scratch space (a trailing delimiter's field)."""
    if encoded.scratch_columns:
        with loader.transaction():
            for column in encoded.scratch_columns:
                loader.execute(sql.drop_column(loader.schema, table, column))


def finish_staging(
    loader: Loader, spec: FileSpec, encoded: EncodedFile, *, for_delta: bool = False
) -> tuple[str, ...] | None:
    """Drop scratch columns, build indexes, gather statistics.

    Returns the natural key when the data proved it unique, else None (the table's rows
    are then matched whole in delta loads). A table staged for a delta's comparison gets
    only its key: the secondary indexes serve readers, and the comparison reads it once.
    """
    table = sql.staging_name(spec.table)
    loader.drop_scratch(table, encoded)
    secondary = loader.secondary_indexes and not for_delta
    key: tuple[str, ...] | None = None
    for wanted in indexes(spec):
        index = wanted
        if wanted.unique:
            if loader.try_unique_index(table, wanted):
                key = wanted.columns
                continue
            log.warning(
                "%s: natural key (%s) is not unique in this release; %sdelta loads will "
                "compare whole rows",
                spec.table,
                ", ".join(wanted.columns),
                "indexed without uniqueness, " if secondary else "",
            )
            index = wanted.without_uniqueness()
        if not secondary:
            continue
        with loader.transaction():
            loader.execute(sql.create_index(loader.schema, table, index, name=staged_index(index)))
    if secondary or key:
        # A whole-row comparison aggregates both tables whatever their statistics say, and
        # the staging table is dropped after it: only a keyed one is planned from them.
        loader.analyze(table)
    if not for_delta:
        loader.after_staging(spec)
    return key


def replace_contents(
    loader: Loader, specs: Sequence[FileSpec], unkeyed: Sequence[str] = ()
) -> None:
    """Inside the caller's transaction: empty each production table and refill it."""
    for spec in specs:
        if not loader.table_exists(spec.table):
            loader.swap([spec])
            continue
        if spec.table in unkeyed:
            loader.demote_key(spec)
        for statement in replace_contents_sql(loader.schema, spec):
            loader.execute(statement)


def apply_changes(
    loader: Loader,
    specs: Sequence[FileSpec],
    *,
    strategy: str = "swap",
    unkeyed: Sequence[str] = (),
) -> None:
    """Inside the caller's transaction: publish the staged tables of a full load.

    ``swap`` replaces each production table by its staging table; ``truncate`` refills
    the production tables in place. ``unkeyed``: tables whose natural key this release
    repeats (a refilled table must then lose its unique key).
    """
    if strategy == "swap":
        loader.swap(specs)
    else:
        replace_contents(loader, specs, unkeyed)
