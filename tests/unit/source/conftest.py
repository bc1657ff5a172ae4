"""Release files for download tests: real gzip of real-looking rows, big enough to cut."""

from __future__ import annotations

import functools
import gzip
import random
from pathlib import Path

import pytest

from py_load_medgen.release.files import FileSpec, spec_for_table
from py_load_medgen.source.retry import RetryPolicy

# A generous timeout: it fires only when a request really hangs, never because the machine is
# busy (tests that need a timeout to fire set their own, and wait on events, not the clock).
FAST = RetryPolicy(attempts=3, timeout=30.0, base_delay=0.01, max_delay=5.0)


@functools.cache
def names_file(rows: int = 20_000, seed: int = 1) -> bytes:
    """A gzip NAMES.RRF of ``rows`` rows whose names do not compress away (~ rows * 25 bytes)."""
    rng = random.Random(seed)
    lines = [b"#CUI|name|source|SUPPRESS|\n"]
    for i in range(rows):
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(24))
        lines.append(f"C{i:07d}|{name}|GTR|N|\n".encode())
    return gzip.compress(b"".join(lines), mtime=1_700_000_000)


def mgrel_file() -> bytes:
    header = b"#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n"
    row = b"C5230993|A32398977|SCUI|PAR|C1711295|A10815543|inverse_isa|R201349894|NCI|NCI|N|\n"
    return gzip.compress(header + row * 1000)


@pytest.fixture
def concepts() -> list[FileSpec]:
    return [spec_for_table("concepts")]


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """``pub/medgen`` holding NAMES.RRF.gz and MGREL.RRF.gz."""
    root = tmp_path / "srv" / "pub" / "medgen"
    root.mkdir(parents=True)
    (root / "NAMES.RRF.gz").write_bytes(names_file())
    (root / "MGREL.RRF.gz").write_bytes(mgrel_file())
    return root
