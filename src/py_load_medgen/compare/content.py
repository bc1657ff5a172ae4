"""Compare a loaded table with a release file as multisets of rows, in bounded memory.

Both sides come as Arrow tables of typed values in the table's column order: the file parsed
and validated exactly as a load parses it (``load._arrow.ArrowBlocks``), the table streamed
out of the database. Each row is hashed (DuckDB's ``hash`` over all columns, run in a
private in-memory DuckDB) into one of ``BUCKETS`` buckets; per bucket, the row count and the
sum of the hashes form a fingerprint of the bucket's multiset. Equal fingerprints mean equal
multisets (but for a 64-bit collision); the buckets that differ are read again, their rows
only, to count the rows that differ and show examples. Memory holds the fingerprints and
the rows of a few differing buckets, whatever the table's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from py_load_medgen.release.files import ColumnType, FileSpec

if TYPE_CHECKING:
    import duckdb

BUCKETS = 4096
MAX_BUCKETS_READ = 64
"""Differing buckets whose rows are read back to count and show them; beyond, the count is
a lower bound (a table that differs that much is not a mirror, whatever the exact figure)."""
EXAMPLES = 10

Batches = Callable[[], Iterator[pa.Table]]
"""A way to read one side from the start, as often as asked (the buckets need two reads)."""

_TYPES = {ColumnType.BIGINT: "BIGINT", ColumnType.SMALLINT: "SMALLINT", ColumnType.TEXT: "VARCHAR"}


@dataclass
class ContentDiff:
    """How one table's rows differ from a file's, as multisets."""

    table: str
    rows_missing: int = 0
    """Rows of the file the table lacks (counting copies)."""
    rows_extra: int = 0
    """Rows of the table the file lacks."""
    exact: bool = True
    """False when more buckets differed than were read back: the counts are lower bounds."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Up to ``EXAMPLES`` rows: ``{"side": "missing"|"extra", "row": {...}}``."""
    table_rows: int = 0
    file_rows: int = 0

    @property
    def differing(self) -> int:
        return self.rows_missing + self.rows_extra

    @property
    def ok(self) -> bool:
        return self.differing == 0

    def describe(self) -> str:
        bound = "" if self.exact else "at least "
        return (
            f"{bound}{self.differing:,} row(s) differ from the file: {self.rows_missing:,} "
            f"missing from the table, {self.rows_extra:,} not in the file"
        )


def compare_content(spec: FileSpec, table: Batches, file: Batches) -> ContentDiff:
    """Compare the rows ``table`` yields with the rows ``file`` yields (both from the start)."""
    import duckdb  # only when fingerprints differed: a PostgreSQL verify needs no DuckDB

    # One thread and a small memory limit: the aggregate holds BUCKETS groups, and a reader
    # of Arrow batches needs no more; the default would take a share of the machine's RAM.
    con = duckdb.connect(config={"threads": 1, "memory_limit": "64MB"})
    try:
        left = _fingerprints(con, spec, table())
        right = _fingerprints(con, spec, file())
        differing = sorted(b for b in left.keys() | right.keys() if left.get(b) != right.get(b))
        diff = ContentDiff(
            spec.table,
            table_rows=sum(n for n, _ in left.values()),
            file_rows=sum(n for n, _ in right.values()),
        )
        if not differing:
            return diff
        read = differing[:MAX_BUCKETS_READ]
        diff.exact = len(read) == len(differing)
        ours = _rows_in(con, spec, table(), read)
        theirs = _rows_in(con, spec, file(), read)
        missing = theirs - ours
        extra = ours - theirs
        diff.rows_missing = sum(missing.values())
        diff.rows_extra = sum(extra.values())
        for side, rows in (("missing", missing), ("extra", extra)):
            for row in sorted(rows, key=repr)[: EXAMPLES - len(diff.examples)]:
                diff.examples.append(
                    {"side": side, "row": dict(zip(spec.column_names, row, strict=True))}
                )
        return diff
    finally:
        con.close()


def _select(spec: FileSpec, schema: pa.Schema) -> str:
    present = set(schema.names)
    return ", ".join(
        _ident(c.name) if c.name in present else f"CAST(NULL AS {_TYPES[c.type]})"
        for c in spec.columns
    )


def _reader(batches: Iterator[pa.Table]) -> tuple[pa.RecordBatchReader | None, pa.Schema | None]:
    first = next(batches, None)
    if first is None:
        return None, None
    schema = first.schema

    def all_batches() -> Iterator[pa.RecordBatch]:
        yield from first.cast(schema).to_batches()
        for table in batches:
            yield from table.cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, all_batches()), schema


def _fingerprints(
    con: duckdb.DuckDBPyConnection, spec: FileSpec, batches: Iterator[pa.Table]
) -> dict[int, tuple[int, int]]:
    reader, schema = _reader(batches)
    if reader is None or schema is None:
        return {}
    con.register("side", reader)
    try:
        rows = con.execute(
            f"SELECT h % {BUCKETS} AS b, count(*), sum(CAST(h AS HUGEINT)) FROM "
            f"(SELECT hash({_select(spec, schema)}) AS h FROM side) s GROUP BY b"
        ).fetchall()
    finally:
        con.unregister("side")
    return {int(b): (int(n), int(s)) for b, n, s in rows}


def _rows_in(
    con: duckdb.DuckDBPyConnection,
    spec: FileSpec,
    batches: Iterator[pa.Table],
    buckets: list[int],
) -> Counter[tuple[Any, ...]]:
    reader, schema = _reader(batches)
    if reader is None or schema is None:
        return Counter()
    cols = _select(spec, schema)
    wanted = ", ".join(str(b) for b in buckets)
    con.register("side", reader)
    try:
        rows = con.execute(
            f"SELECT {cols} FROM side WHERE hash({cols}) % {BUCKETS} IN ({wanted})"
        ).fetchall()
    finally:
        con.unregister("side")
    return Counter(tuple(r) for r in rows)


def _ident(name: str) -> str:
    """A quoted identifier for the comparison's own DuckDB."""
    return '"' + name.replace('"', '""') + '"'
