"""The checks a downloaded file passes before it may replace the cached copy.

They run on the bytes as they arrive, in the downloading thread, so that on a real network
verification costs no time of its own, and an HTML error page is caught at its first bytes.
"""

from __future__ import annotations

from typing import Any

from py_load_medgen.errors import InputError, IntegrityError
from py_load_medgen.parse.header import MAX_HEADER_BYTES, parse_header
from py_load_medgen.parse.reader import (
    GZIP_MAGIC,
    INFLATE_ERRORS,
    MAX_OUTPUT,
    describe_start,
    gzip_inflater,
)
from py_load_medgen.release.files import FileSpec


class StreamCheck:
    """Whole and readable: a ``.gz`` is gzip and inflates to its end with every member's CRC and
    length right; the first line is a header the loader recognises for the file."""

    def __init__(self, spec: FileSpec, name: str, url: str) -> None:
        self.spec, self.name, self.url = spec, name, url
        self.gzip: bool | None = None
        self.head = b""
        self.header_checked = False
        self.inflater: Any = None
        self.pending = b""
        """Bytes after a gzip member, kept until there are enough to tell what follows."""

    def _fail(self, message: str, hint: str) -> IntegrityError:
        return IntegrityError(f"{self.url}: {message}", hint=hint)

    def feed(self, data: bytes) -> None:
        if self.gzip is None:
            self.pending += data
            if len(self.pending) < 2:
                return
            data, self.pending = self.pending, b""
            self._start(data)
        if self.gzip:
            self._inflate(data)
        else:
            self._text(data)

    def _start(self, first: bytes) -> None:
        self.gzip = first[:2] == GZIP_MAGIC
        if not self.gzip and self.name.lower().endswith(".gz"):
            raise self._fail(
                f"not a gzip file: starts with {describe_start(first[:64])}",
                "the server sent something else, often an error page; try again later",
            )

    def _inflate(self, data: bytes) -> None:
        pending = self.pending + data
        self.pending = b""
        try:
            while pending:
                if self.inflater is None:
                    if len(pending) < 2:
                        self.pending = pending
                        return
                    if pending[:2] != GZIP_MAGIC:
                        if pending.strip(b"\x00"):
                            raise self._fail(
                                "trailing garbage after the gzip data", "download it again"
                            )
                        return
                    self.inflater = gzip_inflater()
                inflater = self.inflater
                out = inflater.decompress(pending, MAX_OUTPUT)
                self._text(out)
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    # A gzip file may hold several members back to back.
                    pending = inflater.unused_data
                    self.inflater = None
        except INFLATE_ERRORS as exc:
            raise self._fail(f"corrupt gzip data ({exc})", "download the file again") from None

    def _text(self, out: bytes) -> None:
        if self.header_checked or not out:
            return
        self.head += out
        if b"\n" in self.head or len(self.head) >= MAX_HEADER_BYTES:
            self._check_header()

    def _check_header(self) -> None:
        self.header_checked = True
        try:
            parse_header(self.name, self.spec, self.head)
        except InputError as exc:
            raise self._fail(exc.detail, exc.hint or "check --source") from None

    def finish(self, received: int, size: int | None) -> None:
        """After the last byte: raise ``IntegrityError`` unless the file is whole."""
        if size is not None and received != size:
            raise self._fail(
                f"received {received} bytes, the server announced {size}",
                "the transfer was cut short or the file changed while it was read; run again",
            )
        if self.gzip is None:
            if not self.pending:
                raise self._fail("the file is empty", "the server served no data")
            data, self.pending = self.pending, b""
            self._start(data)
            self._text(data)
        if self.gzip and self.inflater is not None:
            raise self._fail(
                "truncated gzip: the data ends before the end of the compressed stream",
                "the file is incomplete; download it again",
            )
        if self.gzip and self.pending.strip(b"\x00"):
            raise self._fail("trailing garbage after the gzip data", "download it again")
        if not self.header_checked:
            self._check_header()
