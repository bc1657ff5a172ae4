"""Deterministic building blocks shared by every part of the generator."""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

BUILD_TIME = 1_767_803_400
"""Default gzip MTIME: Wednesday 2026-01-07 16:30 UTC, NCBI's usual weekly build slot."""

_MIN_ROWS = 20
# Rows handed to zlib at once: large enough that the join/encode/compress calls dominate the
# per-batch Python overhead, small enough to keep memory flat at any scale.
_BATCH = 32_768
_READ_SIZE = 1 << 20
_WEEK = 7 * 24 * 3600
_M64 = (1 << 64) - 1

_Row = tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Deterministic building blocks


def _mix(x: int) -> int:
    """splitmix64 finaliser: well-spread 64-bit salts and offsets from small integers."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class _Perm:
    """A bijection ``j -> lo + (j * step + off) mod span``: unique ids without a seen-set."""

    lo: int
    span: int
    step: int
    off: int

    def __call__(self, j: int) -> int:
        return self.lo + (j * self.step + self.off) % self.span


def _perm(lo: int, span: int, count: int, salt: int) -> _Perm:
    span = max(span, count, 1)
    # A golden-ratio stride scatters consecutive rows across the range (ids do not look
    # sequential) while staying a bijection as long as it is coprime with the span.
    step = max(1, int(span * 0.6180339887)) | 1
    while math.gcd(step, span) != 1:
        step += 2
    return _Perm(lo, span, step, _mix(salt) % span)


def _rng(*parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by random.seed: stable across runs and platforms,
    # unlike hash(). Not for cryptography: these are test data.
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """An expanded table so a weighted choice costs one random() and one index."""
    return tuple(value for value, weight in pairs for _ in range(weight))


def _groups(rng: random.Random, rows: int, n: int, mean: float) -> Iterator[tuple[int, int]]:
    """Split ``rows`` rows into groups of rows sharing one CUI index, in CUI order.

    Group sizes are skewed (1 + exponential), as in the real files where some concepts have
    one row and a few have thousands, yet they always add up to exactly ``rows``: each draw
    aims at the mean of what is left, so the total self-corrects without any lookahead.
    """
    groups = max(1, min(n, rows, round(rows / mean)))
    left = rows
    rand = rng.random
    expo = rng.expovariate
    for g in range(groups):
        lo = g * n // groups
        hi = (g + 1) * n // groups
        index = lo + int(rand() * (hi - lo))
        remaining = groups - g
        if remaining == 1:
            count = left
        else:
            avg = left / remaining
            count = 1 + int(expo(1.0 / (avg - 1.0))) if avg > 1.000001 else 1
            count = min(count, left - (remaining - 1))
        left -= count
        yield index, count


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date_strings() -> tuple[str, ...]:
    first = _dt.date(2012, 1, 1).toordinal()
    last = _dt.date(2025, 12, 31).toordinal()
    out = []
    for ordinal in range(first, last + 1):
        d = _dt.date.fromordinal(ordinal)
        # Month names spelled out here: strftime("%b") follows the locale.
        out.append(f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}")
    return tuple(out)


_DATES = _date_strings()


class _Fmt(NamedTuple):
    sep: str
    end: str
    native: bool
    """The rule's column order is the spec's: the rule may render whole lines itself."""


class _Text(NamedTuple):
    """Rendered UTF-8 lines (each ending with the line end) and how many there are."""

    data: bytes
    rows: int


_T = TypeVar("_T")

_FRAGMENTS = 2048


def _pool(size: int, make: Callable[[], _T]) -> tuple[_T, ...]:
    return tuple(make() for _ in range(size))


def _aui_like(rand: Callable[[], float]) -> str:
    if rand() < 0.15:
        return f"AN{int(rand() * 2_000_000):07d}"
    return f"A{1_000_000 + int(rand() * 44_000_000)}"


class _AtomicOutput:
    """A file written under a temporary name and renamed into place only when complete."""

    def __init__(self, path: Path, *, gz: bool, mtime: int | None, compresslevel: int) -> None:
        self.path = path
        # Not mkstemp: its 0600 mode would survive the rename; this name is unique enough for
        # one writer per process and directory, and the umask applies as for any new file.
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.raw = self.tmp.open("wb", buffering=_READ_SIZE)
        self.gz: gzip.GzipFile | None = None
        self.write: Callable[[bytes], object] = self.raw.write
        if gz:
            # An empty file name keeps the gzip header free of the temporary name, and the
            # fixed MTIME makes the bytes depend on the arguments only.
            self.gz = gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=self.raw,
                mtime=mtime if mtime is not None else BUILD_TIME,
                compresslevel=compresslevel,
            )
            self.write = self.gz.write

    def commit(self, file_mtime: int | None) -> None:
        if self.gz is not None:
            self.gz.close()
        self.raw.close()
        if file_mtime is not None:
            os.utime(self.tmp, (file_mtime, file_mtime))
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.gz is not None:
            with contextlib.suppress(OSError):
                self.gz.close()
        self.raw.close()
        self.tmp.unlink(missing_ok=True)
