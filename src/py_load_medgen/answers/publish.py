"""Build the answers for a load: derived tables staged beside the files' tables, then swapped
in and the views replaced inside the load's publishing transaction.

A full load builds the derived tables (and the indexes the answers add to loaded tables) from
its staging tables as soon as their inputs are staged, on the second connection that indexes
the staged tables, while the next files are copied (``builds`` and ``run``). Publishing then
only swaps them in with the files' tables, in the same transaction: readers never see a table
of one release beside an answer of another, and the publishing transaction stays short.
A delta load changes rows in place, so it rebuilds, inside its publishing transaction, the
derived tables whose inputs it changed, and only those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from py_load_medgen.answers.views import KEY_INDEXES, answers, refresh_statements
from py_load_medgen.errors import DatabaseError
from py_load_medgen.load.base import Loader
from py_load_medgen.load.sql import DERIVED_TABLES, qname, staging_name
from py_load_medgen.release.files import FILES, FileSpec

log = logging.getLogger(__name__)

_COMPARED_ROWS = 100_000
"""A derived table rebuilt whole is compared with the published one, to keep that one when
they are equal, up to this many rows (``cui_chains`` holds a few thousand)."""


def _derived_spec(name: str) -> FileSpec:
    # The swap only needs the table's name: the derived table then gets what a loaded one
    # gets (user views recreated, grants and user indexes carried over).
    return FileSpec(table=name, served_names=(), columns=(), description=name)


@dataclass(frozen=True)
class Build:
    """One derived table or answer index a full load builds before publishing."""

    name: str
    inputs: frozenset[str]
    """The tables of this load it reads from their staging tables: it may start once every
    one of them is staged (copied and indexed)."""
    statements: tuple[str, ...]


def builds(loader: Loader, tables: Sequence[str]) -> list[Build]:
    """What a full load of ``tables`` builds from its staging tables before publishing.

    A derived table none of whose inputs this load replaces stays as it is (a load of some
    files only), unless it does not exist yet.
    """
    if not loader.publishes_answers:
        return []
    staged = frozenset(tables)
    existing = loader.tables_present([s.table for s in FILES] + list(DERIVED_TABLES))
    present = existing | staged
    out = []
    for answer in answers(loader.dialect, loader.schema, present, staged):
        if answer.kind != "table":
            continue
        inputs = frozenset(answer.uses + answer.needs) & staged
        if not inputs and answer.name in existing:
            continue
        out.append(Build(answer.name, inputs, answer.statements))
    if loader.dialect.name == "postgresql":
        for index in KEY_INDEXES:
            if index.table in staged:
                statement = index.statement(loader.schema, staged=True)
                out.append(Build(index.name, frozenset({index.table}), (statement,)))
    return out


def run(loader: Loader, build: Build) -> None:
    """Build one derived table or index on its staging table (committed: publishing, perhaps
    on another connection, swaps it in)."""
    started = time.perf_counter()
    # No ANALYZE: it costs a sixth of the build again, autovacuum gathers statistics soon
    # after the swap, and lookups use the indexes on plain equality.
    with loader.transaction():
        for statement in build.statements:
            loader.execute(statement)
    seconds = time.perf_counter() - started
    log.info(
        "answers: %s staged in %.2fs",
        build.name,
        seconds,
        extra={"table": build.name, "seconds": round(seconds, 3)},
    )


def publish(
    loader: Loader,
    changed: Iterable[str] | None = None,
    *,
    prebuilt: bool = False,
    changed_cuis: Mapping[str, str] | None = None,
) -> float:
    """Inside the caller's transaction: swap in the derived tables, rebuilding those that
    ``changed`` tables feed and were not built beforehand, and replace the views.

    ``changed`` None means every table may have changed. ``prebuilt``: this run staged
    derived tables with ``builds``/``run`` (staging left by another run is dropped before a
    load stages anything), so a staged one is swapped in as it is. ``changed_cuis``: per
    changed table whose changed rows a delta staged, a query of the CUIs of those rows; a
    derived table all of whose changed inputs are listed there, and that can be refreshed
    concept by concept, is refreshed in place for those concepts instead of rebuilt. Returns
    the seconds spent, for the run's log.
    """
    if not loader.publishes_answers:
        return 0.0
    started = time.perf_counter()
    present = loader.tables_present([s.table for s in FILES] + list(DERIVED_TABLES))
    staged = loader.tables_present([staging_name(t) for t in DERIVED_TABLES]) if prebuilt else ()
    changed_set = None if changed is None else set(changed)
    for answer in answers(loader.dialect, loader.schema, present):
        if answer.kind == "table":
            if staging_name(answer.name) not in staged:
                stale = changed_set is None or answer.name not in present
                inputs = (changed_set or set()) & set(answer.uses + answer.needs)
                stale = stale or bool(inputs)
                if not stale:
                    continue
                if _refreshed(loader, answer.name, present, inputs, changed_cuis or {}):
                    continue
                for statement in answer.statements:
                    loader.execute(statement)
                if answer.name in present and _same_rows(loader, answer.name):
                    # Swapping an identical table in would only lock it and rebuild the
                    # views on it (0.3 s of a delta that changed a few concepts).
                    loader.execute(f"DROP TABLE {qname(loader.schema, staging_name(answer.name))}")
                    continue
            loader.swap([_derived_spec(answer.name)])
        else:
            for statement in answer.statements:
                _replace(loader, statement, answer.name)
    if loader.dialect.name == "postgresql":
        _key_indexes(loader, present)
        _try_trigrams(loader)
    seconds = time.perf_counter() - started
    log.info("answers published in %.2fs", seconds, extra={"seconds": round(seconds, 3)})
    return seconds


def _same_rows(loader: Loader, name: str) -> bool:
    """Whether the derived table rebuilt as its staging table holds exactly the rows of the
    published one (as multisets); only for the small derived tables that are rebuilt whole,
    where comparing costs far less than the swap it saves."""
    table = qname(loader.schema, name)
    staged = qname(loader.schema, staging_name(name))
    if int(loader.query(f"SELECT count(*) FROM {staged}")[0][0]) > _COMPARED_ROWS:
        return False
    # A table published by an older version may have other columns.
    shapes = loader.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name IN (%s, %s) ORDER BY ordinal_position",
        (loader.schema, name, staging_name(name)),
    )
    columns = {t: [(c, d) for n, c, d in shapes if n == t] for t in (name, staging_name(name))}
    if columns[name] != columns[staging_name(name)]:
        return False
    differ = loader.query(
        f"SELECT EXISTS (SELECT * FROM {table} EXCEPT ALL SELECT * FROM {staged}) "
        f"OR EXISTS (SELECT * FROM {staged} EXCEPT ALL SELECT * FROM {table})"
    )
    return not differ[0][0]


def _refreshed(
    loader: Loader,
    name: str,
    present: set[str],
    inputs: set[str],
    changed_cuis: Mapping[str, str],
) -> bool:
    """Refresh derived table ``name`` in place for the concepts whose rows changed, where
    every changed input says which those are and the table allows it."""
    if not inputs or not inputs <= changed_cuis.keys():
        return False
    cuis = " UNION ".join(changed_cuis[table] for table in sorted(inputs))
    statements = refresh_statements(loader.dialect, loader.schema, present, name, cuis)
    if statements is None:
        return False
    started = time.perf_counter()
    for statement in statements:
        loader.execute(statement)
    log.debug("answers: %s refreshed in place in %.2fs", name, time.perf_counter() - started)
    return True


def _key_indexes(loader: Loader, present: set[str]) -> None:
    """The answers' indexes on loaded tables: a full load built them on its staging tables,
    a delta keeps them up to date; only a table new to this schema lacks them."""
    wanted = [index for index in KEY_INDEXES if index.table in present]
    if not wanted:
        return
    have = loader.tables_present([index.name for index in wanted])
    for index in wanted:
        if index.name not in have:
            loader.execute(index.statement(loader.schema, staged=False))


def _replace(loader: Loader, statement: str, name: str) -> None:
    """CREATE OR REPLACE; where PostgreSQL refuses (a column changed type or collation since
    the view was made), drop it and its dependants and create it anew."""
    try:
        with loader.transaction():
            loader.execute(statement)
    except DatabaseError as exc:
        if loader.dialect.name != "postgresql" or "/" in name:
            raise
        log.warning("view %s changed shape (%s); recreating it and its dependants", name, exc)
        loader.execute(f"DROP VIEW IF EXISTS {qname(loader.schema, name)} CASCADE")
        loader.execute(statement)


def _try_trigrams(loader: Loader) -> None:
    """pg_trgm ranks ``lookup``'s name search where the role may create it (a trusted
    extension since PostgreSQL 13: the database owner may); without it the search ranks by
    length instead. Tried in a savepoint, so a refusal changes nothing else."""
    if loader.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"):
        return
    try:
        with loader.transaction():
            loader.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.info("pg_trgm not available (%s); name search ranks without it", exc.message)
