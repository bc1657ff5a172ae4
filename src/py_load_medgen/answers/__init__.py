"""Answers, not just tables: crosswalks, CUI resolution, lookup, phenotypes, inheritance,
hierarchy and standard exports, on every backend.

The functions take a database URI (opened for the call) or a connected loader::

    from py_load_medgen import answers
    answers.lookup("duckdb:///medgen.duckdb", ["OMIM:154700", "marfan"]).cards
    list(answers.resolve("postgresql://me@db/medgen", ["C0000039", "CN000001"]))
    answers.export_sssom("duckdb:///medgen.duckdb", Path("medgen.sssom.tsv"))
    answers.arrow("duckdb:///medgen.duckdb", "xrefs")  # any view or table as an Arrow table
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from py_load_medgen.answers.cards import ConceptCard, LookupResult, lookup
from py_load_medgen.answers.curies import cui_curie, parse_id
from py_load_medgen.answers.db import Target, connected, present, require, table
from py_load_medgen.answers.exports import (
    ExportResult,
    export_disease_phenotype,
    export_kgx,
    export_sssom,
)
from py_load_medgen.answers.resolution import Resolution, resolve

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ConceptCard",
    "ExportResult",
    "LookupResult",
    "Resolution",
    "arrow",
    "cui_curie",
    "export_disease_phenotype",
    "export_kgx",
    "export_sssom",
    "lookup",
    "parse_id",
    "resolve",
]


def arrow(target: Target, name: str, *, schema: str = "medgen", where: str = "") -> pa.Table:
    """A view or table of the answers (or any loaded table) as an Arrow table.

    ``where`` is an SQL condition for the caller to write (it is not a parameter).
    """
    import pyarrow as pa

    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, name)
        statement = f"SELECT * FROM {table(loader, name)}" + (f" WHERE {where}" if where else "")
        if loader.dialect.name == "duckdb":
            duck = getattr(loader, "conn")  # noqa: B009
            result: pa.Table = duck.sql(statement).to_arrow_table()
            return result
        conn = getattr(loader, "conn")  # noqa: B009
        with conn.cursor() as cur:
            cur.execute(statement.encode())
            names = [d.name for d in cur.description or ()]
            batches = []
            while rows := cur.fetchmany(50_000):
                columns = list(zip(*rows, strict=True))
                batches.append(pa.table({n: list(c) for n, c in zip(names, columns, strict=True)}))
        if not batches:
            return pa.table({n: pa.array([], pa.string()) for n in names})
        return pa.concat_tables(batches, promote_options="default")
