"""Reading the answers: a connection from a URI or a loader, and rows streamed in batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from py_load_medgen.errors import NotLoadedError
from py_load_medgen.load.base import Loader
from py_load_medgen.load.sql import qname
from py_load_medgen.release.files import FILES

Target = Loader | str
"""A connected loader, or a database URI to open for the call."""

BATCH = 10_000


@contextlib.contextmanager
def connected(target: Target, schema: str = "medgen") -> Iterator[Loader]:
    if isinstance(target, Loader):
        yield target
        return
    from py_load_medgen import report

    with report.connected(target, schema) as loader:
        yield loader


def present(loader: Loader) -> set[str]:
    """The tables and answers this schema holds."""
    names = [s.table for s in FILES] + [
        "xref_pairs",
        "cui_chains",
        "xrefs",
        "cui_status",
        "disease_phenotypes",
        "inheritance",
        "hierarchy",
        "concept_cards",
    ]
    return loader.tables_present(names)


def require(loader: Loader, have: set[str], *names: str) -> None:
    missing = [n for n in names if n not in have]
    if missing:
        raise NotLoadedError(
            f"{', '.join(missing)} not found in schema {loader.schema!r} of {loader.describe()}",
            hint="load a release (py-load-medgen load); each load publishes the answers",
        )


def table(loader: Loader, name: str) -> str:
    return qname(loader.schema, name)


def stream(
    loader: Loader, statement: str, params: Sequence[Any] = (), batch: int = BATCH
) -> Iterator[tuple[Any, ...]]:
    """The rows of a query, a batch at a time: memory stays flat whatever the result's size."""
    if loader.dialect.name == "postgresql":
        conn: Any = getattr(loader, "conn")  # noqa: B009 - the PostgreSQL loader's connection
        with conn.transaction(), conn.cursor(name="py_load_medgen_answers") as cur:
            cur.itersize = batch
            cur.execute(statement.encode(), params or None)
            yield from cur
        return
    duck: Any = getattr(loader, "conn")  # noqa: B009
    result = duck.execute(statement.replace("%s", "?"), list(params) if params else None)
    while True:
        rows = result.fetchmany(batch)
        if not rows:
            return
        yield from rows
