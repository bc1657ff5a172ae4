"""A production table streamed out as Arrow tables of typed values, for ``verify``.

PostgreSQL sends ``COPY ... TO STDOUT`` text, cut into blocks of whole lines and parsed by
Arrow's CSV reader, its escapes undone; DuckDB hands out Arrow record batches itself.
Either way the columns come in the spec's order with the types a load gives them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from py_load_medgen.load import sql
from py_load_medgen.load.base import Loader
from py_load_medgen.release.files import ColumnType, FileSpec

BATCH_ROWS = 100_000
BLOCK_BYTES = 4 << 20
_ARROW = {ColumnType.BIGINT: pa.int64(), ColumnType.SMALLINT: pa.int16()}
_NUL = "\x00"


def table_batches(loader: Loader, spec: FileSpec) -> Iterator[pa.Table]:
    cols = ", ".join(sql.ident(c) for c in spec.column_names)
    select = f"SELECT {cols} FROM {sql.qname(loader.schema, spec.table)}"
    if loader.dialect.name == "duckdb":
        conn: Any = getattr(loader, "conn")  # noqa: B009 - the backend's own connection
        reader = conn.sql(select).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield pa.Table.from_batches([batch])
        return
    yield from _copy_batches(loader, spec, select)


def _copy_batches(loader: Loader, spec: FileSpec, select: str) -> Iterator[pa.Table]:
    conn: Any = getattr(loader, "conn")  # noqa: B009
    names = list(spec.column_names)
    read = pacsv.ReadOptions(column_names=names, use_threads=False)
    parse = pacsv.ParseOptions(
        delimiter="\t",
        quote_char=False,
        double_quote=False,
        escape_char=False,
        newlines_in_values=False,
        ignore_empty_lines=False,
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        check_utf8=False,
        null_values=[],
        strings_can_be_null=False,
    )
    with conn.cursor() as cur, cur.copy(f"COPY ({select}) TO STDOUT".encode()) as copy:
        pending: list[bytes] = []
        size = 0
        for data in copy:
            pending.append(bytes(data))
            size += len(data)
            if size >= BLOCK_BYTES:
                block = b"".join(pending)
                cut = block.rfind(b"\n") + 1
                pending, size = [block[cut:]], len(block) - cut
                yield _convert(spec, block[:cut], read, parse, convert)
        tail = b"".join(pending)
        if tail:
            yield _convert(spec, tail, read, parse, convert)


def _convert(
    spec: FileSpec,
    block: bytes,
    read: pacsv.ReadOptions,
    parse: pacsv.ParseOptions,
    convert: pacsv.ConvertOptions,
) -> pa.Table:
    table = pacsv.read_csv(pa.BufferReader(block), read, parse, convert)  # type: ignore[arg-type]
    arrays = []
    for column in spec.columns:
        text: Any = table.column(column.name)
        nulls = pc.equal(text, pa.scalar("\\N"))
        if b"\\" in block:
            text = _unescape(text)
        if column.type in _ARROW:
            text = pc.cast(pc.if_else(nulls, None, text), _ARROW[column.type])
        elif not column.required:
            text = pc.if_else(nulls, None, text)
        arrays.append(text)
    return pa.table(arrays, names=list(spec.column_names))


def _unescape(text: Any) -> Any:
    if pc.any(pc.match_substring(text, "\\")).as_py() is not True:
        return text
    text = pc.replace_substring(text, "\\\\", _NUL)
    for escaped, char in (("\\r", "\r"), ("\\n", "\n"), ("\\t", "\t")):
        text = pc.replace_substring(text, escaped, char)
    return pc.replace_substring(text, _NUL, "\\")
