"""The lines left unpaired on each side, cancelled against each other as they come.

A line deleted here and inserted there is a moved row, which is no change: whichever side
sees it second cancels it. Memory is bounded: past ``budget`` bytes every unpaired line (and
those already held) goes to temporary files partitioned by a hash of the line, and the
partitions are cancelled one at a time at the end, each small enough to hold.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

ENTRY_OVERHEAD = 100
"""Bytes a held line costs beyond its own length (the bytes object and its dict slot)."""


class Unpaired:
    """Two multisets of lines, old (deleted candidates) and new (inserted candidates)."""

    def __init__(self, workdir: Path, *, budget: int, partitions: int = 64) -> None:
        self.workdir = workdir
        self.budget = budget
        self.partitions = partitions
        self.old: dict[bytes, int] = {}
        self.new: dict[bytes, int] = {}
        self.held = 0
        """Bytes the in-memory multisets cost, approximately."""
        self.pending_bytes = 0
        """Bytes of lines unpaired so far (in memory or spilled, before the final cancelling)."""
        self._spill: list[tuple[BinaryIO, BinaryIO]] | None = None

    @property
    def spilled(self) -> bool:
        return self._spill is not None

    def add_old(self, line: bytes) -> None:
        self._add(line, self.old, self.new, 0)

    def add_new(self, line: bytes) -> None:
        self._add(line, self.new, self.old, 1)

    def _add(
        self, line: bytes, mine: dict[bytes, int], theirs: dict[bytes, int], side: int
    ) -> None:
        size = len(line) + 1
        if self._spill is not None:
            self.pending_bytes += size
            self._spill[self._partition(line)][side].write(line + b"\n")
            return
        count = theirs.get(line)
        if count:
            self.pending_bytes -= size
            if count == 1:
                del theirs[line]
                self.held -= size + ENTRY_OVERHEAD
            else:
                theirs[line] = count - 1
            return
        self.pending_bytes += size
        previous = mine.get(line, 0)
        mine[line] = previous + 1
        if not previous:
            self.held += size + ENTRY_OVERHEAD
            if self.held > self.budget:
                self._start_spilling()

    def _partition(self, line: bytes) -> int:
        return zlib.crc32(line) % self.partitions

    def _start_spilling(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._spill = [
            (
                (self.workdir / f"old-{p}.lines").open("wb"),
                (self.workdir / f"new-{p}.lines").open("wb"),
            )
            for p in range(self.partitions)
        ]
        for side, held in enumerate((self.old, self.new)):
            for line, count in held.items():
                self._spill[self._partition(line)][side].write((line + b"\n") * count)
        self.old, self.new = {}, {}
        self.held = 0

    def results(self) -> Iterator[tuple[dict[bytes, int], dict[bytes, int]]]:
        """The final multisets (old only, new only), as one pair or one pair per partition."""
        if self._spill is None:
            yield self.old, self.new
            return
        for fo, fn in self._spill:
            fo.close()
            fn.close()
        for p in range(self.partitions):
            old: dict[bytes, int] = {}
            new: dict[bytes, int] = {}
            for path, mine in ((f"old-{p}.lines", old), (f"new-{p}.lines", new)):
                with (self.workdir / path).open("rb") as fh:
                    for raw in fh:
                        line = raw[:-1]
                        mine[line] = mine.get(line, 0) + 1
            for line in list(old):
                both = min(old[line], new.get(line, 0))
                if both:
                    old[line] -= both
                    new[line] -= both
            yield old, new
            (self.workdir / f"old-{p}.lines").unlink()
            (self.workdir / f"new-{p}.lines").unlink()

    def close(self) -> None:
        if self._spill is not None:
            for fo, fn in self._spill:
                fo.close()
                fn.close()
