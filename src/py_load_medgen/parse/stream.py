"""Source bytes to blocks of PostgreSQL COPY text, validated, with no per-row Python work.

The fast path handles a block of many thousand lines with a handful of C-speed byte
operations: the delimiters and line feeds are extracted with ``bytes.translate`` and compared
with the expected pattern, which proves every line has the right number of fields; the block
is checked for NUL bytes and decoded once as UTF-8; backslashes and bare carriage returns are
escaped. Only a block that fails a check is walked line by line, to quarantine the bad rows
and report the exact line, column and byte offset.

Pipe-delimited MedGen lines end with a delimiter; rather than cutting it off every line (a
costly two-byte replace), the staging table takes it into a ``_trailing`` column that the
loader drops afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from py_load_medgen.errors import InputError, TooManyBadRowsError
from py_load_medgen.parse.header import MAX_HEADER_BYTES, parse_header
from py_load_medgen.parse.reader import read_chunks
from py_load_medgen.release.files import CUI_PATTERN, ColumnType, FileSpec

MAX_LINE_BYTES = 32 * 1024 * 1024
"""A line longer than this is an error: it bounds memory on a file with no line feeds."""
MIN_BLOCK = 1 << 20

TRAILING_COLUMN = "_trailing"
RAW_COLUMN = "raw_record"
UNKNOWN_PREFIX = "_unknown_"

_INT_RE = re.compile(rb"-?[0-9]+")
_INT_LIMITS = {ColumnType.BIGINT: 2**63, ColumnType.SMALLINT: 2**15}


def _keep_only(*keep: int) -> bytes:
    return bytes(b for b in range(256) if b not in keep)


_DELETE_ALL_BUT = {b"|": _keep_only(0x7C, 0x0A), b"\t": _keep_only(0x09, 0x0A)}


class RejectSink:
    """Where quarantined rows go: one file per source file, created on the first reject."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.paths: dict[str, Path] = {}

    def write(self, file: str, line: int, reason: str, raw: bytes) -> None:
        path = self.paths.get(file)
        if path is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{file}.rejects"
            path.write_bytes(b"")
            self.paths[file] = path
        with path.open("ab") as fh:
            fh.write(f"# {file} line {line}: {reason}\n".encode())
            fh.write(raw + b"\n")


@dataclass
class FileStats:
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_lines: list[int] = field(default_factory=list)
    bytes_read: int = 0
    """Raw bytes read from disk (compressed size for gzip)."""


class EncodedFile:
    """One source file as COPY text blocks, for ``COPY table (copy_columns) FROM STDIN``."""

    def __init__(
        self,
        path: Path,
        spec: FileSpec,
        *,
        name: str | None = None,
        max_bad_rows: int = 100,
        strict_schema: bool = False,
        raw_records: bool = False,
        validate_values: bool = False,
        rejects: RejectSink | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.spec = spec
        self.name = name or path.name
        self.max_bad_rows = max_bad_rows
        self.strict_schema = strict_schema
        self.raw_records = raw_records
        self.validate_values = validate_values
        self.rejects = rejects
        self.stats = FileStats()
        self._on_read = on_read
        self._chunks = read_chunks(path, self._count_read)
        self._pending = self._read_header()
        self.layout = parse_header(self.name, spec, self._pending, strict_schema=strict_schema)
        self._pending = self._pending[self.layout.header_length :]
        self._offset = self.layout.header_length
        self._next_line = 2
        d = self.layout.delimiter
        self._ndelims = self.layout.nfields if self.layout.trailing else self.layout.nfields - 1
        self._unit = d * self._ndelims + b"\n"
        self._delete = _DELETE_ALL_BUT[d]
        self._checks = self._value_checks() if validate_values else []
        self._limits = self._length_limits()
        self._floor = min((limit for _i, _s, limit in self._limits), default=0)

    # -- what the loader needs --------------------------------------------------------------

    @property
    def copy_columns(self) -> list[str]:
        """Target columns in the order the encoded fields come."""
        cols = [t or f"{UNKNOWN_PREFIX}{i}" for i, t in enumerate(self.layout.targets, start=1)]
        if self.raw_records:
            cols.append(RAW_COLUMN)
        elif self.layout.trailing:
            cols.append(TRAILING_COLUMN)
        return cols

    @property
    def scratch_columns(self) -> list[str]:
        """Staging columns that exist only to absorb input and are dropped after the load."""
        return [c for c in self.copy_columns if c.startswith("_")]

    def file_line(self, copy_row: int) -> int:
        """The line of the source file holding the ``copy_row``-th row sent (1-based)."""
        line = copy_row + 1
        for rejected in self.stats.rejected_lines:
            if rejected <= line:
                line += 1
            else:
                break
        return line

    def blocks(self) -> Iterator[bytes]:
        """COPY text blocks of complete lines; raises InputError on malformed input."""
        for block in self._line_blocks():
            first_line = self._next_line
            nlines = block.count(b"\n")
            encoded = (
                self._careful(block, first_line)
                if self.raw_records
                or self._checks
                or not self._block_ok(block, nlines)
                or self._oversized(block)
                else self._fast(block)
            )
            self._next_line += nlines
            self._offset += len(block)
            self.stats.rows_read += nlines
            if encoded:
                yield encoded
        good = self.stats.rows_read - self.stats.rows_rejected
        if good <= 0:
            # Publishing this would empty a production table: no release ships an empty file.
            # Rejected rows do not count, whatever --max-bad-rows tolerates: a truncated file
            # often ends in one broken line, and a file of another layout rejects every row.
            what = (
                "the file has a header but no data rows"
                if self.stats.rows_read == 0
                else f"none of the file's {self.stats.rows_read:,} data rows is valid "
                "(all were rejected)"
            )
            raise InputError(
                f"{what}; refusing to replace the table with an empty one",
                file=self.name,
                line=2,
                hint="the file is probably incomplete or of another layout; download it again",
            )

    # -- framing ----------------------------------------------------------------------------

    def _count_read(self, n: int) -> None:
        self.stats.bytes_read += n
        if self._on_read is not None:
            self._on_read(n)

    def _read_header(self) -> bytes:
        head = b""
        for chunk in self._chunks:
            head += chunk
            if b"\n" in head or len(head) >= MAX_HEADER_BYTES:
                break
        return head

    def _line_blocks(self) -> Iterator[bytes]:
        tail = self._pending
        self._pending = b""
        for chunk in self._chunks:
            tail = tail + chunk if tail else chunk
            if len(tail) < MIN_BLOCK:
                continue
            cut = tail.rfind(b"\n") + 1
            if cut == 0:
                self._check_line_length(tail)
                continue
            block, tail = tail[:cut], tail[cut:]
            self._check_line_length(tail)
            yield block
        if tail:
            self._check_line_length(tail[tail.rfind(b"\n") + 1 :])
            if not tail.endswith(b"\n"):
                tail += b"\n"
            yield tail

    def _check_line_length(self, tail: bytes) -> None:
        if len(tail) > MAX_LINE_BYTES:
            raise InputError(
                f"line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB with no line feed: "
                "not a MedGen file, or a corrupt one",
                file=self.name,
                line=self._next_line,
            )

    # -- the fast path ----------------------------------------------------------------------

    def _block_ok(self, block: bytes, nlines: int) -> bool:
        if b"\x00" in block:
            return False
        if block.translate(None, self._delete) != self._unit * nlines:
            return False
        layout = self.layout
        if layout.crlf:
            if block.count(b"\r\n") != nlines:
                return False
        elif b"\r\n" in block:
            return False
        if (
            layout.trailing
            and block.count(layout.delimiter + (b"\r\n" if layout.crlf else b"\n")) != nlines
        ):
            return False
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def _fast(self, block: bytes) -> bytes:
        if self.layout.crlf:
            block = block.replace(b"\r\n", b"\n")
        return _escape(block)

    # -- the careful path -------------------------------------------------------------------

    def _careful(self, block: bytes, first_line: int) -> bytes:
        out: list[bytes] = []
        layout = self.layout
        delim = layout.delimiter
        position = self._offset
        lines = block.split(b"\n")
        lines.pop()
        for index, raw in enumerate(lines):
            line_no = first_line + index
            line = raw
            start = position
            position += len(raw) + 1
            if layout.crlf:
                if not line.endswith(b"\r"):
                    raise self._error(
                        "line ends with LF alone in a file whose lines end with CR LF "
                        "(mixed line endings)",
                        line_no,
                    )
                line = line[:-1]
            elif line.endswith(b"\r"):
                raise self._error(
                    "line ends with CR LF in a file whose lines end with LF (mixed line endings)",
                    line_no,
                )
            nul = line.find(b"\x00")
            if nul >= 0:
                raise self._error("NUL byte in the data", line_no, offset=start + nul)
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._error(
                    f"invalid UTF-8 (byte 0x{line[exc.start]:02x})",
                    line_no,
                    offset=start + exc.start,
                    column=self._column_at(line, exc.start),
                ) from None
            found = line.count(delim)
            if found != self._ndelims or (layout.trailing and not line.endswith(delim)):
                fields = found + (0 if layout.trailing and line.endswith(delim) else 1)
                self._reject(line_no, f"expected {layout.nfields} fields, found {fields}", raw)
                continue
            if self._floor and len(line) > self._floor:
                over = self._too_long(line)
                if over is not None:
                    source, size, limit = over
                    self._reject(
                        line_no,
                        f"a value of {size:,} bytes; an identifier ({source}) holds at most "
                        f"{limit:,}",
                        raw,
                        column=source,
                    )
                    continue
            for check in self._checks:
                check(line, line_no)
            encoded = _escape(line)
            if self.raw_records:
                sep = b"" if layout.trailing else delim
                encoded += sep + _escape_field(raw if not layout.crlf else line, delim)
            out.append(encoded)
        return b"\n".join(out) + b"\n" if out else b""

    # -- bounded columns ----------------------------------------------------------------------

    def _length_limits(self) -> list[tuple[int, str, int]]:
        """(field index, header name, most bytes) of each bounded column of this layout."""
        limits = []
        for index, target in enumerate(self.layout.targets):
            if target is not None:
                limit = self.spec.column(target).max_bytes
                if limit is not None:
                    limits.append((index, self.layout.fields[index], limit))
        return limits

    def _oversized(self, block: bytes) -> bool:
        """Whether a bounded field in the block is too long. A field longer than the smallest
        bound needs a line as long, and such a line covers a whole aligned stretch of half
        that length with no line feed: one ``find`` per stretch rules that out, and only a
        block with a long line has its long lines split."""
        if not self._floor:
            return False
        step = max(self._floor // 2, 1)
        find = block.find
        for start in range(0, len(block), step):
            if find(b"\n", start, start + step) < 0:
                break
        else:
            return False
        return any(
            self._too_long(line) is not None
            for line in block.split(b"\n")
            if len(line) > self._floor
        )

    def _too_long(self, line: bytes) -> tuple[str, int, int] | None:
        fields = line.split(self.layout.delimiter)
        for index, source, limit in self._limits:
            if index < len(fields) and len(fields[index]) > limit:
                return source, len(fields[index]), limit
        return None

    def _column_at(self, line: bytes, position: int) -> str:
        index = line.count(self.layout.delimiter, 0, position)
        return self.layout.fields[index] if index < self.layout.nfields else "(after last)"

    def _reject(self, line_no: int, reason: str, raw: bytes, column: str | None = None) -> None:
        self.stats.rows_rejected += 1
        self.stats.rejected_lines.append(line_no)
        if self.rejects is not None:
            self.rejects.write(self.name, line_no, reason, raw)
        if self.stats.rows_rejected > self.max_bad_rows:
            limit = (
                "--max-bad-rows is 0 (strict)"
                if self.max_bad_rows == 0
                else f"more than --max-bad-rows={self.max_bad_rows} malformed rows"
            )
            raise TooManyBadRowsError(
                f"{reason}; {limit}",
                file=self.name,
                line=line_no,
                column=column,
                hint="the rejected rows are in the rejects file; raise --max-bad-rows to accept",
            )

    def _error(
        self, message: str, line_no: int, *, offset: int | None = None, column: str | None = None
    ) -> InputError:
        return InputError(message, file=self.name, line=line_no, column=column, offset=offset)

    def _value_checks(self) -> list[Callable[[bytes, int], None]]:
        """Per-line checks of typed values, for --dry-run, which touches no database."""
        checks: list[Callable[[bytes, int], None]] = []
        delim = self.layout.delimiter
        for index, target in enumerate(self.layout.targets):
            if target is None:
                continue
            column = self.spec.column(target)
            source = self.layout.fields[index]
            if column.type in _INT_LIMITS:
                checks.append(_int_check(self, index, source, delim, _INT_LIMITS[column.type]))
            if column.cui_shape:
                checks.append(_cui_check(self, index, source, delim))
        return checks


def _int_check(
    owner: EncodedFile, index: int, source: str, delim: bytes, limit: int
) -> Callable[[bytes, int], None]:
    def check(line: bytes, line_no: int) -> None:
        value = line.split(delim)[index]
        if not _INT_RE.fullmatch(value) or not -limit <= int(value) < limit:
            raise owner._error(
                not_an_integer(value.decode(errors="replace")), line_no, column=source
            )

    return check


def not_an_integer(value: str) -> str:
    """The one wording of a bad integer, whichever layer (parser or database) finds it."""
    return f"{value!r} is not an integer in range for this column"


def _cui_check(
    owner: EncodedFile, index: int, source: str, delim: bytes
) -> Callable[[bytes, int], None]:
    def check(line: bytes, line_no: int) -> None:
        value = line.split(delim)[index].decode()
        if not CUI_PATTERN.match(value):
            raise owner._error(
                f"{value!r} is not a MedGen concept id (C + 7 digits or CN + digits)",
                line_no,
                column=source,
            )

    return check


def _escape(data: bytes) -> bytes:
    """Escape COPY text's special bytes; the file's own delimiter never occurs inside a field."""
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b"\r" in data:
        data = data.replace(b"\r", b"\\r")
    return data


def _escape_field(data: bytes, delim: bytes) -> bytes:
    data = _escape(data).replace(b"\n", b"\\n")
    return data.replace(delim, b"\\" + delim) if delim != b"\t" else data.replace(b"\t", b"\\t")
