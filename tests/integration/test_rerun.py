"""Any sequence of full and delta loads works, whatever the releases do to the natural keys.

Real MedGen files carry exact duplicate rows, so a declared natural key is unique in one
release and repeated in the next. Every index path (primary key, unique index, the plain
index a repeated key falls back to) must survive loads in any order, on both backends.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from py_load_medgen.release.files import spec_for_table
from py_load_medgen.release.schema import index_names
from tests.helpers import load_release, query, read_file_rows, same_multiset, table_rows

FILES = "MGSTY.RRF.gz,NAMES.RRF.gz,MGREL.RRF.gz"
TABLES = {"semantic_types": "MGSTY.RRF.gz", "concepts": "NAMES.RRF.gz"}


def _with_duplicate(source: Path, out: Path, file: str) -> Path:
    """A copy of the release whose ``file`` repeats its first data row."""
    shutil.copytree(source, out)
    original = (source / file).read_bytes()
    lines = gzip.decompress(original).split(b"\n")
    lines.insert(2, lines[1])
    # The same build time as the file it copies: a release of the same day, not an older one.
    built = int.from_bytes(original[4:8], "little")
    (out / file).write_bytes(gzip.compress(b"\n".join(lines), mtime=built))
    shutil.copystat(source / file, out / file)
    return out


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from py_load_medgen.generate import generate_release

    root = tmp_path_factory.mktemp("rerun")
    tables = ["semantic_types", "concepts", "relationships"]
    a = root / "a"
    b = root / "b"
    generate_release(a, scale=0.0005, seed=3, files=tables)
    generate_release(b, scale=0.0005, seed=4, files=tables)
    return {
        "a": a,
        "b": b,
        "a_dup": _with_duplicate(a, root / "a_dup", "MGSTY.RRF.gz"),
        "b_dup": _with_duplicate(b, root / "b_dup", "MGSTY.RRF.gz"),
        "a_dup_names": _with_duplicate(a, root / "a_dup_names", "NAMES.RRF.gz"),
    }


def _matches(uri: str, release: Path) -> None:
    for table, file in TABLES.items():
        spec = spec_for_table(table)
        expected = read_file_rows(release / file, spec)
        assert same_multiset(table_rows(uri, table, spec.column_names), expected), table


def _pg_indexes(uri: str, table: str) -> set[str]:
    rows = query(
        uri,
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE i.indrelid = 'medgen.{table}'::regclass",
    )
    return {name for (name,) in rows}


def _no_leftovers(uri: str) -> None:
    if not uri.startswith("postgresql"):
        return
    left = query(
        uri,
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'medgen' AND relname LIKE '\\_staging\\_%'",
    )
    assert left == []
    for table in ("semantic_types", "concepts", "relationships"):
        names = _pg_indexes(uri, table)
        assert names <= index_names(spec_for_table(table)), (table, names)
        assert len(names) == len(index_names(spec_for_table(table))) - 1, (table, names)


SEQUENCE = [
    ("full", "swap", "a_dup"),  # key repeated: a plain index instead of the primary key
    ("full", "swap", "a_dup"),  # the re-run that failed with "... _atui_idx already exists"
    ("delta", None, "a"),  # unique again, applied to a table with the plain index
    ("full", "swap", "a"),  # the primary key comes back
    ("delta", None, "a_dup"),  # a delta that repeats a key the production table holds unique
    ("delta", None, "b"),  # another seed: every row changes
    ("full", "truncate", "b_dup"),  # refilled in place: the primary key must give way
    ("full", "truncate", "b"),
    ("full", "swap", "a_dup_names"),  # another table's key repeated
    ("delta", None, "b_dup"),
    ("full", "swap", "b"),
    ("full", "swap", "b"),
]


def test_any_sequence_of_loads_with_and_without_duplicate_keys(
    releases: dict[str, Path], db_uri: str
) -> None:
    for step, (mode, strategy, name) in enumerate(SEQUENCE):
        extra = ["--mode", mode, "--files", FILES]
        if strategy:
            extra += ["--strategy", strategy]
        code = load_release(releases[name], db_uri, *extra)
        assert code == 0, (step, mode, strategy, name)
        _matches(db_uri, releases[name])
        _no_leftovers(db_uri)
