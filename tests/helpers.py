"""Test helpers: read a MedGen file independently of the loader, query any backend."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from py_load_medgen.cli import main
from py_load_medgen.load.registry import open_loader
from py_load_medgen.release.files import ColumnType, FileSpec


def read_file_rows(path: Path, spec: FileSpec) -> list[tuple[Any, ...]]:
    """The rows of a served file in the spec's column order, parsed the simplest way."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    header = lines[0].decode()
    delim = "\t" if header.count("\t") > header.count("|") else "|"
    names = header.lstrip("#").split(delim)
    trailing = names[-1] == ""
    if trailing:
        names.pop()
    by_header = {n.lower(): c for c in spec.columns for n in c.header_names()}
    positions = {
        by_header[n.lower()].name: i for i, n in enumerate(names) if n.lower() in by_header
    }
    rows = []
    for raw in lines[1:]:
        fields = raw.decode().split(delim)
        if trailing:
            fields.pop()
        row: list[Any] = []
        for column in spec.columns:
            if column.name not in positions:
                row.append(None)
                continue
            value = fields[positions[column.name]]
            row.append(int(value) if column.type is not ColumnType.TEXT else value)
        rows.append(tuple(row))
    return rows


def table_rows(
    uri: str, table: str, columns: Sequence[str], schema: str = "medgen"
) -> list[tuple[Any, ...]]:
    loader = open_loader(uri, schema)
    loader.connect()
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return [tuple(r) for r in loader.query(f'SELECT {cols} FROM "{schema}"."{table}"')]
    finally:
        loader.close()


def query(uri: str, statement: str, schema: str = "medgen") -> list[tuple[Any, ...]]:
    loader = open_loader(uri, schema)
    loader.connect()
    try:
        return loader.query(statement)
    finally:
        loader.close()


def same_multiset(a: Sequence[tuple[Any, ...]], b: Sequence[tuple[Any, ...]]) -> bool:
    return Counter(a) == Counter(b)


def run_cli(*args: str) -> int:
    return main([*args])


def names_release(tmp_path: Path, name: str, n: int, label: str) -> Path:
    """A release of one file, NAMES.RRF.gz, with ``n`` concepts named ``<label> <i>``."""
    out = tmp_path / name
    out.mkdir()
    rows = b"".join(f"C{i:07d}|{label} {i}|GTR|N|\n".encode() for i in range(n))
    (out / "NAMES.RRF.gz").write_bytes(gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + rows))
    return out


def two_table_release(tmp_path: Path, name: str, n: int, label: str) -> Path:
    """NAMES.RRF.gz as ``names_release`` and an MGREL.RRF.gz of ``n`` rows with RELA ``label``."""
    out = names_release(tmp_path, name, n, label)
    rows = b"".join(
        f"C{i:07d}|A{i}|SCUI|RO|C{i + 1:07d}|A{i + 1}|{label}|R{i:09d}|MSH|MSH|N|\n".encode()
        for i in range(n)
    )
    header = b"#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n"
    (out / "MGREL.RRF.gz").write_bytes(gzip.compress(header + rows))
    return out


def load_release(source: Path, uri: str, *extra: str) -> int:
    """Run `load` on a directory, with its rejects kept beside it; a directory holding only
    some of the release's files loads just those."""
    from py_load_medgen.release.files import FILES

    present = sorted(p.name for p in source.iterdir())
    if "--files" not in extra and len(present) < len(FILES):
        extra = (*extra, "--files", ",".join(present))
    return run_cli(
        "load",
        "--source",
        str(source),
        "--db-uri",
        uri,
        "--rejects-dir",
        str(source.parent / "rejects"),
        *extra,
    )
