"""The result of comparing two releases of one file: rows deleted and rows inserted.

Each side is a small file in the served format (a header line naming the table's columns
in their spec order, then one line per row), so that everything downstream reuses the real
parser: ``ChangedRows.encoded()`` is the same validated ``EncodedFile`` a full load stages,
only holding the changed rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from py_load_medgen.parse.stream import EncodedFile, RejectSink
from py_load_medgen.release.files import ColumnType, FileSpec

Method = Literal["file", "fallback"]
Value = str | int | None


@dataclass
class ChangedRows:
    """One side of a change set (the rows deleted, or the rows inserted).

    ``path`` is a plain text file: a header line naming ``columns`` (their served names, so
    the real header parser maps them) and ``count`` data lines, delimited by ``delimiter``,
    without a trailing delimiter, ending in LF. The order of the lines means nothing: a change
    set is a multiset.
    """

    spec: FileSpec
    path: Path
    count: int
    columns: tuple[str, ...]
    """Table columns present in the file, in spec order (a missing optional column is NULL)."""
    delimiter: bytes

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[Value, ...]]:
        """Every row as a tuple of values in ``spec.column_names`` order.

        Text columns are ``str`` (carriage returns inside a value kept as they are), integer
        columns ``int``, and a column the files lack ``None``.
        """
        return self.rows()

    def rows(self) -> Iterator[tuple[Value, ...]]:
        positions = [
            self.columns.index(name) if name in self.columns else -1
            for name in self.spec.column_names
        ]
        integer = [
            self.spec.column(name).type is not ColumnType.TEXT for name in self.spec.column_names
        ]
        delimiter = self.delimiter.decode()
        with self.path.open("rb") as fh:
            fh.readline()
            for raw in fh:
                fields = raw[:-1].decode("utf-8").split(delimiter)
                yield tuple(
                    None if p < 0 else (int(fields[p]) if is_int and fields[p] != "" else fields[p])
                    for p, is_int in zip(positions, integer, strict=True)
                )

    def lines(self) -> Iterator[bytes]:
        """The raw data lines (without their LF), fields in ``columns`` order."""
        with self.path.open("rb") as fh:
            fh.readline()
            for raw in fh:
                yield raw[:-1]

    def encoded(
        self,
        *,
        name: str | None = None,
        max_bad_rows: int = 100,
        rejects: RejectSink | None = None,
    ) -> EncodedFile:
        """The rows as the parser validates and encodes them for a backend's ``bulk_load``.

        ``copy_columns`` of the result are ``columns``; its ``blocks()`` are PostgreSQL COPY
        text, and ``load._arrow.ArrowBlocks`` turns them into Arrow tables. Only call it when
        ``count`` > 0: the parser refuses a file without rows.
        """
        return EncodedFile(
            self.path,
            self.spec,
            name=name or self.path.name,
            max_bad_rows=max_bad_rows,
            rejects=rejects,
        )

    def blocks(self) -> Iterator[bytes]:
        """COPY text blocks of the rows (columns in ``columns`` order); none when empty."""
        if self.count:
            yield from self.encoded().blocks()


@dataclass
class ChangeSet:
    """What changed in one table between the previous release's file and the new one.

    With ``method == "file"`` the two files were compared by reading them: ``deleted`` and
    ``inserted`` hold the exact multiset difference (a row present twice before and once now
    is one deleted row; a row that only moved is no change). Keyed tables turn a deleted and
    an inserted row of the same key into an update when the changes are applied; the change
    set itself is key-agnostic.

    With ``method == "fallback"`` the files were not compared (``reason`` says why, in words
    fit for the log and the run record) and ``deleted``/``inserted`` are None: the caller
    stages the whole new file and compares in the database.

    A change set owns a temporary directory; ``close()`` (or ``with``) removes it.
    """

    spec: FileSpec
    method: Method
    reason: str | None = None
    deleted: ChangedRows | None = None
    inserted: ChangedRows | None = None
    new_rows: int | None = None
    """Data lines in the new file (known when it was read through)."""
    seconds: float = 0.0
    workdir: Path | None = field(default=None, repr=False)

    @property
    def table(self) -> str:
        return self.spec.table

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns, the order of every row tuple."""
        return self.spec.column_names

    @property
    def deleted_count(self) -> int:
        return self.deleted.count if self.deleted else 0

    @property
    def inserted_count(self) -> int:
        return self.inserted.count if self.inserted else 0

    @property
    def compared(self) -> bool:
        """True when the rows are known (the files were compared), False for a fallback."""
        return self.method == "file"

    def describe(self) -> str:
        if self.method == "file":
            return (
                f"{self.table}: file comparison, {self.deleted_count} row(s) deleted and "
                f"{self.inserted_count} inserted"
            )
        return f"{self.table}: compared in the database ({self.reason})"

    def close(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> ChangeSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
