from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from py_load_medgen.errors import InputError
from py_load_medgen.parse.reader import read_chunks

CONTENT = b"#CUI|name|source|SUPPRESS|\n" + b"C0000001|x|y|N|\n" * 50_000


def read(path: Path) -> bytes:
    return b"".join(read_chunks(path))


def test_gzip_and_multi_member(tmp_path: Path) -> None:
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(CONTENT[:1000]) + gzip.compress(CONTENT[1000:]))
    assert read(path) == CONTENT


def test_plain_file_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "MedGen_Sources.txt"
    path.write_bytes(CONTENT)
    assert read(path) == CONTENT


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(CONTENT)[:-100])
    with pytest.raises(InputError, match="t.gz: truncated gzip"):
        read(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(CONTENT))
    data[-8] ^= 0xFF  # the CRC
    path = tmp_path / "c.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="c.gz: corrupt gzip data"):
        read(path)


def test_html_page_with_gz_name(tmp_path: Path) -> None:
    path = tmp_path / "NAMES.RRF.gz"
    path.write_bytes(b"<!DOCTYPE html><html><title>Index of /pub/medgen</title></html>")
    with pytest.raises(InputError, match="not a gzip file: starts with an HTML page"):
        read(path)


def test_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "g.gz"
    path.write_bytes(gzip.compress(CONTENT) + b"garbage")
    with pytest.raises(InputError, match="trailing garbage"):
        read(path)
