"""(Re)create the answers inside a load's publishing transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from py_load_medgen.answers.views import answers
from py_load_medgen.errors import DatabaseError
from py_load_medgen.load.base import Loader
from py_load_medgen.load.sql import qname
from py_load_medgen.release.files import FILES, FileSpec

log = logging.getLogger(__name__)


def _derived_spec(name: str) -> FileSpec:
    # The swap only needs the table's name: the derived table then gets what a loaded one
    # gets (user views recreated, grants and user indexes carried over).
    return FileSpec(table=name, served_names=(), columns=(), description=name)


def publish(loader: Loader, changed: Iterable[str] | None = None) -> float:
    """Inside the caller's transaction: rebuild what ``changed`` tables feed, replace the views.

    ``changed`` None means every table may have changed (a full load). Returns the seconds
    spent, for the run's log.
    """
    started = time.perf_counter()
    present = loader.tables_present([s.table for s in FILES] + ["xref_pairs", "cui_chains"])
    changed_set = None if changed is None else set(changed)
    for answer in answers(loader.dialect, loader.schema, present):
        if answer.kind == "table":
            stale = changed_set is None or answer.name not in present
            stale = stale or bool(changed_set and changed_set & set(answer.uses + answer.needs))
            if not stale:
                continue
            for statement in answer.statements:
                loader.execute(statement)
            # No ANALYZE here: it would lengthen the publishing transaction, autovacuum
            # gathers statistics soon after, and lookups use the index on plain equality.
            loader.swap([_derived_spec(answer.name)])
        else:
            for statement in answer.statements:
                _replace(loader, statement, answer.name)
    if loader.dialect.name == "postgresql":
        _try_trigrams(loader)
    seconds = time.perf_counter() - started
    log.info("answers published in %.2fs", seconds, extra={"seconds": round(seconds, 3)})
    return seconds


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
