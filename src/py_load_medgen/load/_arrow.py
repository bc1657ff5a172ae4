"""COPY text blocks as Arrow tables, for engines that ingest Arrow rather than COPY.

``EncodedFile`` validates a file once and speaks PostgreSQL's COPY text; this turns the same
blocks into typed Arrow columns a column at a time, with no per-row Python work unless a value
is bad. Integers follow PostgreSQL's input grammar, so a value one backend refuses the other refuses
too, with the same words and the same file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from py_load_medgen.errors import InputError
from py_load_medgen.parse.stream import RAW_COLUMN, EncodedFile, not_an_integer
from py_load_medgen.release.files import CUI_PATTERN, ColumnType

CUI_MESSAGE = "value is not a MedGen concept id (C + 7 digits or CN + digits)"

# PostgreSQL's int8in/int2in: ASCII blanks around an optionally signed run of ASCII digits.
# Arrow's own cast also takes "0x1F", which PostgreSQL refuses, so it only gets plain digits.
_PG_INTEGER = re.compile(r"[ \t\n\r\f\v]*([+-]?[0-9]+)[ \t\n\r\f\v]*", re.ASCII)
_INTEGERS = {ColumnType.BIGINT: (pa.int64(), 2**63), ColumnType.SMALLINT: (pa.int16(), 2**15)}
Text: TypeAlias = "pa.ChunkedArray[Any]"
_NUL = "\x00"
"""Stands in for an escaped backslash while the other escapes are undone (blocks hold no NUL)."""


@dataclass(frozen=True)
class _Field:
    position: int
    """Index among the encoded fields of a line."""
    target: str
    source: str
    """The header name, as errors name the column."""
    type: ColumnType
    cui_shape: bool


@dataclass(frozen=True, order=True)
class _BadValue:
    row: int
    phase: int
    """0 for a value that does not parse, 1 for a CHECK: PostgreSQL checks after parsing."""
    position: int
    source: str
    message: str


class ArrowBlocks:
    """The blocks of one encoded file as Arrow tables of the columns the table keeps.

    ``memory_pool`` is where the columns are allocated (Arrow's default pool when None).
    """

    def __init__(self, encoded: EncodedFile, memory_pool: pa.MemoryPool | None = None) -> None:
        self.encoded = encoded
        self.pool = memory_pool
        layout = encoded.layout
        self._delimiter = layout.delimiter.decode()
        self._names = encoded.copy_columns
        self._fields: list[_Field] = []
        for position, target in enumerate(self._names):
            if target == RAW_COLUMN:
                self._fields.append(_Field(position, target, target, ColumnType.TEXT, False))
            elif not target.startswith("_"):
                column = encoded.spec.column(target)
                source = layout.fields[position]
                self._fields.append(_Field(position, target, source, column.type, column.cui_shape))
        self._read_options = pacsv.ReadOptions(column_names=self._names, use_threads=False)
        self._parse_options = pacsv.ParseOptions(
            delimiter=self._delimiter,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        self._convert_options = pacsv.ConvertOptions(
            column_types={f.target: pa.string() for f in self._fields},
            include_columns=[f.target for f in self._fields],
            check_utf8=False,
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )

    @property
    def columns(self) -> list[str]:
        """Target columns of every table, in order; scratch columns are never materialised."""
        return [f.target for f in self._fields]

    def tables(self) -> Iterator[pa.Table]:
        """One table per block; raises InputError at the first value the column refuses."""
        sent = 0
        for block in self.encoded.blocks():
            table = self.convert(block, first_row=sent + 1)
            sent += table.num_rows
            yield table

    def convert(self, block: bytes, first_row: int = 1) -> pa.Table:
        """One block of COPY text; ``first_row`` is the COPY row number of its first line."""
        columns = self._split(block)
        escaped = b"\\" in block
        arrays: list[Text] = []
        bad: list[_BadValue] = []
        for field, split in zip(self._fields, columns, strict=True):
            text = self._unescape(split, raw=field.target == RAW_COLUMN) if escaped else split
            if field.type in _INTEGERS:
                parsed = _integers(text, field, self.pool)
                if isinstance(parsed, _BadValue):
                    bad.append(parsed)
                    continue
                arrays.append(parsed)
            else:
                arrays.append(text)
            if field.cui_shape:
                ok = pc.match_substring_regex(text, CUI_PATTERN.pattern)
                if pc.all(ok).as_py() is False:
                    row = pc.index(ok, False).as_py()
                    bad.append(_BadValue(row, 1, field.position, field.source, CUI_MESSAGE))
        if bad:
            first = min(bad)
            line = self.encoded.file_line(first_row + first.row)
            raise InputError(first.message, file=self.encoded.name, line=line, column=first.source)
        return pa.table(arrays, names=self.columns)

    def _split(self, block: bytes) -> list[Text]:
        if self.encoded.raw_records:
            return self._split_raw(block)
        source: Any = pa.BufferReader(block)  # zero-copy; the stubs know only files
        table = pacsv.read_csv(
            source,
            read_options=self._read_options,
            parse_options=self._parse_options,
            convert_options=self._convert_options,
            memory_pool=self.pool,
        )
        return [table.column(f.target) for f in self._fields]

    def _split_raw(self, block: bytes) -> list[Text]:
        # The verbatim record escapes the delimiter, which the CSV reader cannot be told, so
        # the line is cut at its first n-1 delimiters and the record keeps the rest.
        pool = self.pool
        whole = pa.array([block], pa.large_binary(), memory_pool=pool).cast(pa.large_string())
        lines = pc.list_flatten(pc.split_pattern(whole, "\n", memory_pool=pool))
        lines = lines.slice(0, len(lines) - 1)
        parts = pc.split_pattern(
            lines, self._delimiter, max_splits=len(self._names) - 1, memory_pool=pool
        )
        return [
            pa.chunked_array(
                [
                    pc.cast(
                        pc.list_element(parts, f.position, memory_pool=pool),
                        pa.string(),
                        memory_pool=pool,
                    )
                ]
            )
            for f in self._fields
        ]

    def _unescape(self, text: Text, *, raw: bool) -> Text:
        if pc.any(pc.match_substring(text, "\\")).as_py() is not True:
            return text
        pool = self.pool
        text = pc.replace_substring(text, "\\\\", _NUL, memory_pool=pool)
        text = pc.replace_substring(text, "\\r", "\r", memory_pool=pool)
        if raw:
            text = pc.replace_substring(text, "\\n", "\n", memory_pool=pool)
            text = pc.replace_substring(text, "\\t", "\t", memory_pool=pool)
            if self._delimiter != "\t":
                text = pc.replace_substring(
                    text, "\\" + self._delimiter, self._delimiter, memory_pool=pool
                )
        return pc.replace_substring(text, _NUL, "\\", memory_pool=pool)


def _integers(text: Text, field: _Field, pool: pa.MemoryPool | None = None) -> Text | _BadValue:
    arrow_type, limit = _INTEGERS[field.type]
    if pc.all(pc.ascii_is_decimal(text)).as_py() is not False:
        try:
            return pc.cast(text, arrow_type, memory_pool=pool)
        except pa.ArrowInvalid:
            pass  # out of range somewhere: the slow path finds where
    values: list[int] = []
    for row, item in enumerate(text.to_pylist()):
        value = str(item)
        match = _PG_INTEGER.fullmatch(value)
        if match is None:
            return _BadValue(row, 0, field.position, field.source, not_an_integer(value))
        number = int(match.group(1))
        if not -limit <= number < limit:
            return _BadValue(row, 0, field.position, field.source, not_an_integer(value))
        values.append(number)
    return pa.chunked_array([pa.array(values, arrow_type, memory_pool=pool)])
