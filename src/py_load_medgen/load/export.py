"""What ``verify`` reads of a production table: a fingerprint of its rows, or the rows.

The fingerprint is the cheap first look. Each row is written back as the line of the file
it came from (its fields in the file's order, joined by the file's delimiter) and hashed by
the database itself; the table's fingerprint is the number of rows and two sums of those
hashes. The file's lines, as ``EncodedFile`` cuts and validates them for a load, are hashed
by the same database with the same function, so the two fingerprints are equal when the
table holds exactly the file's rows, whatever their order. Nothing leaves the database but
three numbers, which is what makes ``verify`` cheaper than a load: PostgreSQL would
otherwise send ``COPY ... TO STDOUT`` one row per message, and the per-row work on the
client is what cost the time.

When the fingerprints differ, the rows themselves are compared: PostgreSQL sends ``COPY ...
TO STDOUT`` text, cut into blocks of whole lines and parsed by Arrow's CSV reader, its
escapes undone; DuckDB hands out Arrow record batches itself. Either way the columns come in
the spec's order with the types a load gives them.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from py_load_medgen.errors import DatabaseError
from py_load_medgen.load import sql
from py_load_medgen.load.base import Loader
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import ColumnType, FileSpec

BATCH_ROWS = 100_000
BLOCK_BYTES = 4 << 20
_ARROW = {ColumnType.BIGINT: pa.int64(), ColumnType.SMALLINT: pa.int16()}
_NUL = "\x00"
VERIFY_MEMORY_MB = 16
"""DuckDB's memory limit while verify hashes its tables (raised to 4 MB per thread)."""
FINGERPRINT_DIALECTS = ("postgresql", "duckdb")
"""The backends that can hash a table's rows and a file's lines themselves."""


@dataclass(frozen=True)
class Fingerprint:
    """A multiset of lines as the count and two sums of their 64-bit hashes.

    The sums are exact integers (no wrap-around), the second over a non-linear function of
    each hash, so two different multisets of as many lines agree on both only if the hashes
    collide: about 2**-64 for a keyed 64-bit hash, whatever the number of rows.
    """

    rows: int
    total: int
    mixed: int

    def __add__(self, other: Fingerprint) -> Fingerprint:
        return Fingerprint(
            self.rows + other.rows, self.total + other.total, self.mixed + other.mixed
        )


EMPTY = Fingerprint(0, 0, 0)


@dataclass(frozen=True)
class LineShape:
    """How a table's row is written back as its file's line."""

    columns: tuple[str, ...]
    """The table columns, in the file's order."""
    delimiter: str
    trailing: bool
    """Lines end with a delimiter (an empty last field)."""


def line_shape(encoded: EncodedFile) -> LineShape | None:
    """The shape of ``encoded``'s lines, or None when a row cannot be written back as one.

    A column the table does not keep, or one the file lacks (loaded as NULL), or a verbatim
    record, breaks the correspondence between a row and a line.
    """
    layout = encoded.layout
    if encoded.raw_records or layout.missing_optional or None in layout.targets:
        return None
    columns = tuple(t for t in layout.targets if t is not None)
    return LineShape(columns, layout.delimiter.decode(), layout.trailing)


def new_seed() -> int:
    """A fresh key for PostgreSQL's hash, so that no pair of rows collides on every run."""
    return secrets.randbits(62)


class Hasher:
    """One connection of the loaded database, hashing tables' rows and files' lines.

    ``verify`` opens two, one per side. On PostgreSQL they run at once from two threads
    (each opened in the calling thread, then used by one thread only); DuckDB's run one after
    the other, the table side on the loader's own connection.
    """

    def __init__(self, loader: Loader, *, second: bool = False) -> None:
        self.dialect = loader.dialect.name
        self.schema = loader.schema
        self._loader: Loader | None = None
        self._owned: Loader | None = None
        self._cursor: Any = None
        self._owned_cursor: Any = None
        self._restore_limit: str | None = None
        self.in_process = self.dialect == "duckdb"
        """Whether the hashing runs in this process (DuckDB) rather than on a server."""
        if self.in_process:
            conn = getattr(loader, "conn")  # noqa: B009 - the backend's own connection
            limit, threads = conn.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads')"
            ).fetchall()[0]
            if second:
                # The table side runs on the loader's own connection, which sees what the
                # loader registered there (the lake's tables), one side at a time. A scan
                # keeps the table's blocks cached up to the memory limit (most of the
                # machine's RAM by default), though a fingerprint reads each block once:
                # a small limit holds the process within verify's memory budget; a few MB
                # per thread is what a streaming scan pins.
                self._cursor = conn
                self._restore_limit = str(limit)
                small = max(VERIFY_MEMORY_MB, 4 * int(threads))
                conn.execute(f"SET memory_limit = '{small}MB'")
            else:
                # The file side needs no table: a cursor, a connection of its own.
                self._cursor = self._owned_cursor = conn.cursor()
        elif second:
            # PostgreSQL serves one statement per connection: a second one, closed after.
            self._loader = self._owned = loader.helper()
        else:
            self._loader = loader
        self._server_version = (
            int(self._loader.query("SHOW server_version_num")[0][0]) if self._loader else 0
        )

    def close(self) -> None:
        cursor, self._cursor = self._cursor, None
        try:
            if cursor is not None and self._restore_limit is not None:
                cursor.execute(f"SET memory_limit = {sql.literal(self._restore_limit)}")
        finally:
            owned_cursor, self._owned_cursor = self._owned_cursor, None
            if owned_cursor is not None:
                owned_cursor.close()
        self._loader = None
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()

    @property
    def _postgres(self) -> Loader:
        if self._loader is None:
            raise DatabaseError("hasher used after close()")
        return self._loader

    def table(self, spec: FileSpec, shape: LineShape, seed: int) -> Fingerprint:
        """The fingerprint of the table's rows, each written back as its file's line.

        A NULL is a value no file line holds (a line has every field); the count of a row's
        NULLs is mixed into its hash, so such a row never hashes like a file line, and no
        stand-in text can be confused with a real value. A value holding the delimiter adds
        a field, so it cannot pass for a line either.
        """
        cols = [sql.ident(c) for c in shape.columns]
        fields = ", ".join([*cols, "''"] if shape.trailing else cols)
        line = f"concat_ws({sql.literal(shape.delimiter)}, {fields})"
        table = sql.qname(self.schema, spec.table)
        if self._cursor is not None:
            nulls = " + ".join(f"CAST({c} IS NULL AS INTEGER)" for c in cols)
            statement = _duckdb_sums(f"hash({line}, {nulls})", table)
            return _fingerprint(self._cursor.execute(statement).fetchall()[0])
        hashed = f'hashtextextended({line} COLLATE "C", %s + num_nulls({", ".join(cols)}))'
        return _fingerprint(self._postgres.query(_postgres_sums(hashed, table), [seed])[0])

    def lines(self, blocks: Iterable[bytes], seed: int) -> Fingerprint:
        """The fingerprint of the lines of COPY text ``blocks``.

        A line's escapes are undone first, so that it holds the fields' values as the table
        does; a field never holds a line feed, so lines are cut at line feeds.
        """
        result = EMPTY
        if self._cursor is not None:
            return self._duckdb_lines(blocks)
        postgres = self._postgres
        # The block goes as bytes (no decoding here, no re-encoding in the driver) and is
        # cut into lines by the server; string_to_table (PostgreSQL 14) builds no array.
        text = "convert_from(%b, 'UTF8')"
        cut = (
            f"string_to_table({text}, E'\\n')"
            if self._server_version >= 140000
            else f"unnest(string_to_array({text}, E'\\n'))"
        )
        statement = _postgres_sums('hashtextextended(l COLLATE "C", %s)', f"{cut} AS l")
        for block in blocks:
            row = postgres.query(statement, [seed, _unescaped(block)[:-1]])[0]
            result += _fingerprint(row)
        return result

    def _duckdb_lines(self, blocks: Iterable[bytes]) -> Fingerprint:
        # One query over the whole file: Arrow's CSV reader cuts the lines from a stream of
        # the blocks (a call per block would cost more than the cutting), DuckDB hashes
        # them and undoes the escapes of the few lines with a backslash.
        odd: list[str] = []
        reader = pacsv.open_csv(
            io.BufferedReader(_BlockStream(blocks), buffer_size=1 << 20),
            _LINE_READ,
            pacsv.ParseOptions(
                delimiter=_STAND_IN,
                quote_char=False,
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=lambda row: _set_aside(odd, row),
            ),
            _LINE_CONVERT,
            memory_pool=pa.system_memory_pool(),
        )
        self._cursor.register("_verify_lines", reader)
        try:
            row = self._cursor.execute(_duckdb_sums(_DUCKDB_LINE_HASH, "_verify_lines")).fetchall()
        finally:
            self._cursor.unregister("_verify_lines")
        result = _fingerprint(row[0])
        if odd:
            # Lines holding the stand-in separator, which the reader could not take whole.
            source = "(SELECT unnest(CAST(? AS VARCHAR[])) AS l)"
            statement = _duckdb_sums(_DUCKDB_LINE_HASH, source)
            result += _fingerprint(self._cursor.execute(statement, [odd]).fetchall()[0])
        return result

    def cancel(self) -> None:
        """From another thread: stop the statement running, if any."""
        if self._cursor is not None:
            self._cursor.interrupt()
        elif self._loader is not None:
            self._loader.cancel()


def _postgres_sums(hashed: str, source: str) -> str:
    # (h >> 33) * (h & 2**31-1) stays within a bigint; sum() of bigints is exact (numeric).
    return (
        "SELECT count(*), coalesce(sum(h), 0), coalesce(sum((h >> 33) * (h & 2147483647)), 0)"
        f" FROM (SELECT {hashed} AS h FROM {source}) s"
    )


def _duckdb_sums(hashed: str, source: str) -> str:
    return (
        "SELECT count(*), coalesce(sum(CAST(h AS HUGEINT)), 0),"
        " coalesce(sum(CAST((h >> 33) * (h & 2147483647) AS HUGEINT)), 0)"
        f" FROM (SELECT {hashed} AS h FROM {source}) s"
    )


def _fingerprint(row: tuple[Any, ...] | None) -> Fingerprint:
    if row is None:
        return EMPTY
    return Fingerprint(int(row[0]), int(row[1]), int(row[2]))


_STAND_IN = "\x01"
"""The field separator Arrow's reader is told: a line holding one is set aside."""
_LINE_READ = pacsv.ReadOptions(column_names=["l"], use_threads=False, block_size=1 << 18)
_LINE_CONVERT = pacsv.ConvertOptions(
    column_types={"l": pa.string()},
    check_utf8=False,
    null_values=[],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)
# COPY text escapes (EncodedFile writes only \\ and \r) undone in DuckDB, whose string
# literals take a backslash as it is: each escaped backslash becomes a line feed (no line
# holds one) while \r becomes a carriage return, then the line feeds become backslashes.
# A line holds a raw carriage return nowhere, so Arrow's reader, which would take one for a
# line end, never meets one.
_DUCKDB_LINE_HASH = (
    "hash(CASE WHEN contains(l, '\\') THEN replace(replace(replace(l, '\\\\', chr(10)),"
    " '\\r', chr(13)), chr(10), '\\') ELSE l END, 0)"
)


def _set_aside(odd: list[str], row: Any) -> Literal["skip"]:
    odd.append(str(row.text))
    return "skip"


class _BlockStream(io.RawIOBase):
    """The blocks as one readable stream, for Arrow's CSV reader."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _unescaped(block: bytes) -> bytes:
    """A block of COPY text (complete lines) with its escapes undone."""
    if b"\\" in block:
        # EncodedFile escapes only backslashes and carriage returns; blocks hold no NUL.
        block = block.replace(b"\\\\", b"\x00").replace(b"\\r", b"\r")
        block = block.replace(b"\x00", b"\\")
    return block


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
        # \N is COPY's NULL in any column, required or not: a NULL written behind the tool's
        # back must not pass for the two characters (those come out as \\N).
        text = pc.if_else(nulls, None, text)
        if column.type in _ARROW:
            text = pc.cast(text, _ARROW[column.type])
        arrays.append(text)
    return pa.table(arrays, names=list(spec.column_names))


def _unescape(text: Any) -> Any:
    if pc.any(pc.match_substring(text, "\\")).as_py() is not True:
        return text
    text = pc.replace_substring(text, "\\\\", _NUL)
    for escaped, char in (("\\r", "\r"), ("\\n", "\n"), ("\\t", "\t")):
        text = pc.replace_substring(text, escaped, char)
    return pc.replace_substring(text, _NUL, "\\")
