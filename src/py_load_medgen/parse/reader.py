"""Raw bytes of a source file, decompressed when it is gzip, in large chunks.

Gzip is recognised by its magic bytes rather than the file name; a ``.gz`` name on anything
else (an HTML error page saved by a downloader, say) is an error. ISA-L inflates about five
times faster than zlib and is used when installed; both verify every member's CRC and size.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from py_load_medgen.errors import InputError

try:  # pragma: no cover - depends on the platform's wheels
    from isal import isal_zlib as _inflate_impl

    _INFLATE: ModuleType = _inflate_impl
except ImportError:  # pragma: no cover
    _INFLATE = zlib

READ_SIZE = 1 << 20
MAX_OUTPUT = 2 << 20
GZIP_MAGIC = b"\x1f\x8b"

INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, ValueError, _INFLATE.error)
"""What inflating corrupt gzip data raises, whichever implementation inflates."""


def gzip_inflater() -> Any:
    """A decompressor for one gzip member (ISA-L's when installed, else zlib's): feed it with
    ``decompress(data, max_length)``; it verifies the member's CRC and size."""
    return _INFLATE.decompressobj(31)


def describe_start(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "an HTML page"
    return f"bytes {head[:8]!r}"


def read_chunks(
    path: Path, on_read: Callable[[int], None] | None = None, *, name: str | None = None
) -> Iterator[bytes]:
    """Yield the file's content (decompressed if gzip) in chunks of about a megabyte or more.

    ``on_read`` receives the number of raw (compressed) bytes read, for progress reporting;
    ``name`` is the served name when the file on disk has another (a download's ``.part``).
    """
    name = name or path.name
    with path.open("rb") as fh:
        first = fh.read(READ_SIZE)
        if not first:
            return
        if on_read:
            on_read(len(first))
        if first[:2] != GZIP_MAGIC:
            if name.lower().endswith(".gz"):
                raise InputError(
                    f"not a gzip file: starts with {describe_start(first[:64])}",
                    file=name,
                    hint="the download may have saved an error page; fetch the file again",
                )
            yield first
            while chunk := fh.read(READ_SIZE):
                if on_read:
                    on_read(len(chunk))
                yield chunk
            return
        yield from _inflate(name, fh, first, on_read)


def _inflate(
    name: str, fh: BinaryIO, first: bytes, on_read: Callable[[int], None] | None
) -> Iterator[bytes]:
    errors: tuple[type[Exception], ...] = (*INFLATE_ERRORS, OSError)
    pending = first
    while pending:
        inflater = gzip_inflater()
        try:
            while True:
                # Capping the output bounds memory: a megabyte of gzip can inflate to a gigabyte.
                out = inflater.decompress(pending, MAX_OUTPUT)
                pending = inflater.unconsumed_tail
                if out:
                    yield out
                if inflater.eof:
                    # A gzip file may hold several members back to back.
                    pending = inflater.unused_data
                    if not pending:
                        pending = _read(fh, on_read)
                    break
                if not pending:
                    pending = _read(fh, on_read)
                    if not pending:
                        raise InputError(
                            "truncated gzip: the data ends before the end of the compressed stream",
                            file=name,
                            hint="the file is incomplete; download it again",
                        )
        except errors as exc:
            raise InputError(
                f"corrupt gzip data ({exc})", file=name, hint="download the file again"
            ) from None
        if pending and pending[:2] != GZIP_MAGIC:
            if pending.strip(b"\x00"):
                raise InputError("trailing garbage after the gzip data", file=name)
            return


def _read(fh: BinaryIO, on_read: Callable[[int], None] | None) -> bytes:
    data = fh.read(READ_SIZE)
    if on_read and data:
        on_read(len(data))
    return data
