"""The checks a downloaded file passes before it may replace the cached copy."""

from __future__ import annotations

from pathlib import Path

from py_load_medgen.errors import InputError, IntegrityError
from py_load_medgen.parse.header import parse_header
from py_load_medgen.parse.reader import read_chunks
from py_load_medgen.release.files import FileSpec


def verify_download(part: Path, spec: FileSpec, name: str, url: str, size: int | None) -> None:
    """Raise ``IntegrityError`` unless ``part`` is a whole, readable copy of ``name``.

    Whole: its size is the server's. Readable: a ``.gz`` is gzip (an HTML error page is not)
    and inflates to the end with every member's CRC and length right; the first line is a
    header the loader recognises for ``spec``.
    """
    got = part.stat().st_size
    if size is not None and got != size:
        raise IntegrityError(
            f"{url}: received {got} bytes, the server announced {size}",
            hint="the transfer was cut short or the file changed while it was read; run again",
        )
    head = b""
    try:
        for chunk in read_chunks(part, name=name):
            if not head:
                head = chunk
                parse_header(name, spec, head)
    except InputError as exc:
        raise IntegrityError(f"{url}: {exc.detail}", hint=exc.hint) from None
    if not head:
        raise IntegrityError(f"{url}: the file is empty", hint="the server served no data")
