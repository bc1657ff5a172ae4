"""The checks a download passes, fed as the bytes arrive, in chunks of any size."""

from __future__ import annotations

import gzip

import pytest

from py_load_medgen.errors import IntegrityError
from py_load_medgen.release.files import spec_for_table
from py_load_medgen.source.integrity import StreamCheck

NAMES = spec_for_table("concepts")
SOURCES = spec_for_table("sources")
HEADER = b"#CUI|name|source|SUPPRESS|\n"
ROWS = b"C0000727|Acute abdomen|GTR|N|\n" * 200


def check(data: bytes, name: str = "NAMES.RRF.gz", step: int = 7, size: int | None = -1) -> None:
    spec = NAMES if name.startswith("NAMES") else SOURCES
    checker = StreamCheck(spec, name, f"https://example.org/{name}")
    for at in range(0, len(data), step):
        checker.feed(data[at : at + step])
    checker.finish(len(data), len(data) if size == -1 else size)


@pytest.mark.parametrize("step", [1, 2, 7, 4096, 1 << 20])
def test_good_files_pass_whatever_the_chunking(step: int) -> None:
    check(gzip.compress(HEADER + ROWS), step=step)
    # Several members back to back, as some gzip writers produce.
    check(gzip.compress(HEADER + ROWS) + gzip.compress(ROWS) + b"\x00\x00", step=step)


def test_plain_text_files_are_checked_by_their_header() -> None:
    sources = b"Source|Abbreviation|Description|URL\nGTR|GTR|Genetic Testing Registry|x\n"
    check(sources, "MedGen_Sources.txt")
    with pytest.raises(IntegrityError, match="HTML page"):
        check(b"<!DOCTYPE html>\n<html>Error</html>\n", "MedGen_Sources.txt")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(HEADER + ROWS)[:-9], "truncated gzip"),
        (gzip.compress(HEADER + ROWS) + b"garbage", "trailing garbage"),
        (gzip.compress(HEADER + ROWS) + b"\x1f", "trailing garbage"),
        (b"<html><head><title>503</title></head></html>", "not a gzip file: starts with an HTML"),
        (b"\x1f", "not a gzip file"),
        (b"", "empty"),
        (gzip.compress(b"#AUI|STR|\nA1|x|\n"), "header"),
        (gzip.compress(b""), "empty file"),
    ],
    ids=["truncated", "garbage", "one-stray-byte", "html", "one-byte", "empty", "header", "void"],
)
def test_bad_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        check(data)


def test_a_flipped_byte_fails_the_crc_or_the_inflate() -> None:
    good = bytearray(gzip.compress(HEADER + ROWS * 20))
    good[len(good) // 2] ^= 0x40
    with pytest.raises(IntegrityError, match="corrupt gzip"):
        check(bytes(good), step=4096)


def test_size_must_be_the_servers() -> None:
    with pytest.raises(IntegrityError, match="received .* the server announced"):
        check(gzip.compress(HEADER + ROWS), size=10)
