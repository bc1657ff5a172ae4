"""Two streams of lines in (mostly) the same order, walked side by side.

Consecutive NCBI builds keep their row order, so most of two files is one long equal run.
Equal runs are skipped by comparing growing byte blocks (a memcmp each, no line splitting);
at the first differing byte both sides back up to the start of that line, and the aligner
looks for the nearest *anchor*: a line that appears in the next lines of both sides, taking
the pair of positions with the smallest sum. The lines before the anchor on each side go to
the unpaired multisets, which cancel a line deleted on one side against the same line
inserted on the other, so the result is the exact multiset difference whatever the order.
Order only decides the speed: a file shuffled between releases would make nearly every line
unpaired, and :class:`ReshuffledError` is raised as soon as that is clear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from py_load_medgen.compare.unpaired import Unpaired

FIRST_BLOCK = 256
MAX_BLOCK = 4 << 20
FIRST_WINDOW = 8
"""Lines looked at on each side for an anchor, at first; a quarter of the next try."""
MAX_WINDOW = 1 << 15
EARLY_PART = 8
EARLY_UNPAIRED = 0.9
EARLY_MISMATCHES = 8
"""A file nearly all unpaired after the first ``detect_after / EARLY_PART`` bytes, in at
least EARLY_MISMATCHES places (one long changed line is not a reordering), is taken for
reshuffled there already: each line of a reshuffled file costs a search of the whole
anchor window, so the full ``detect_after`` costs about a second of CPU before the table is
compared in the database anyway (the early check costs an eighth of that)."""
SHORT = 1 << 14
"""Bytes buffered before looking for a one-line change."""


class ReshuffledError(Exception):
    """The files share too little order for a side-by-side comparison to pay."""


class _Side:
    """A stream of bytes (complete lines, LF-terminated) with a read position."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = b""
        self.view = memoryview(self.buf)
        """The buffer without copying: slices of it compare with ``startswith`` in place."""
        self.pos = 0
        self.eof = False
        self.consumed = 0
        """Bytes moved past so far."""

    def available(self) -> int:
        return len(self.buf) - self.pos

    def fill(self, need: int) -> int:
        """Read until ``need`` bytes are buffered past the position, or the end; returns how
        many are."""
        have = len(self.buf) - self.pos
        if have >= need or self.eof:
            return have
        # Joined once: adding each chunk to the buffer in turn would copy the buffer again
        # for every chunk read.
        parts = [self.buf[self.pos :]] if have else []
        while have < need:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                if parts and not parts[-1].endswith(b"\n"):
                    parts.append(b"\n")
                break
            if chunk:
                parts.append(chunk)
                have += len(chunk)
        self.buf = parts[0] if len(parts) == 1 else b"".join(parts)
        self.view = memoryview(self.buf)
        self.pos = 0
        return len(self.buf)

    def advance(self, n: int) -> None:
        self.pos += n
        self.consumed += n

    def peek_lines(self, n: int) -> list[bytes]:
        """Up to ``n`` complete lines from the position, without moving (fewer at the end)."""
        want = 128 * n
        while True:
            have = self.fill(want)
            view = self.buf[self.pos : self.pos + want]
            parts = view.split(b"\n", n)
            if len(parts) > n:
                return parts[:n]
            if have <= want and self.eof:
                return parts[:-1]
            want *= 4

    def take(self, lines: list[bytes]) -> None:
        self.advance(sum(len(line) for line in lines) + len(lines))


class Aligner:
    """Walks an old and a new stream of lines; ``run()`` fills ``unpaired``.

    ``detect_after`` and ``max_unpaired``: once that many bytes of the new side are read, if
    more than that fraction of the bytes read on both sides is unpaired, raise ReshuffledError
    (``detect_after`` 0 never raises).
    """

    def __init__(
        self,
        old: Iterator[bytes],
        new: Iterator[bytes],
        unpaired: Unpaired,
        *,
        detect_after: int = 16 << 20,
        max_unpaired: float = 0.5,
        count_new: bool = True,
    ) -> None:
        self.new_lines = 0
        """Lines of the new stream (known once ``run()`` returns), when ``count_new``: a
        caller that knows the old stream's lines computes them instead, since counting the
        line feeds of a full-size `pubmed_links` (2.4 GB) cost 1.2 s of the 4.4 s a
        comparison with few changes took, all of it holding the GIL."""
        self.old = _Side(old)
        self.new = _Side(self._counted(new) if count_new else new)
        self.unpaired = unpaired
        self.detect_after = detect_after
        self.max_unpaired = max_unpaired
        self.mismatches = 0

    def _counted(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        last = b"\n"
        for chunk in chunks:
            if chunk:
                self.new_lines += chunk.count(b"\n")
                last = chunk[-1:]
            yield chunk
        if last != b"\n":
            self.new_lines += 1  # the last line lacks its line feed

    def run(self) -> None:
        while True:
            self._skip_equal()
            if not self.old.fill(1):
                self._drain(self.new, self.unpaired.add_new)
                return
            if not self.new.fill(1):
                self._drain(self.old, self.unpaired.add_old)
                return
            self._resync()
            self._check_order()

    def _skip_equal(self) -> None:
        """Move both sides past their longest common run of complete lines."""
        old, new = self.old, self.new
        size = FIRST_BLOCK
        while True:
            if len(old.buf) - old.pos < size:
                old.fill(size)
            if len(new.buf) - new.pos < size:
                new.fill(size)
            ob, a, b = old.buf, old.pos, new.pos
            nv = new.view
            n = min(size, len(ob) - a, len(nv) - b)
            if n == 0:
                return
            # ``startswith`` on a view compares in place: slicing both sides would copy
            # every byte twice (up to MAX_BLOCK a time), which cost more than the comparing.
            if ob.startswith(nv[b : b + n], a):
                # Only whole lines count as equal: stop at the block's last line feed.
                cut = ob.rfind(b"\n", a, a + n) + 1 - a
                if cut > 0:
                    old.pos += cut
                    new.pos += cut
                    old.consumed += cut
                    new.consumed += cut
                if n < size:
                    return
                # A line longer than the block: grow past the cap until it fits.
                size = size * 2 if cut <= 0 else min(size * 2, MAX_BLOCK)
                continue
            # The line of the first differing byte, by halving until the differing range
            # holds no line feed: its line starts after the last line feed before the range.
            lo, hi = 0, n
            while hi - lo > 1 and ob.find(b"\n", a + lo, a + hi - 1) >= 0:
                mid = (lo + hi) // 2
                if ob.startswith(nv[b + lo : b + mid], a + lo):
                    lo = mid
                else:
                    hi = mid
            cut = ob.rfind(b"\n", a, a + lo) + 1 - a
            if cut > 0:
                old.pos += cut
                new.pos += cut
                old.consumed += cut
                new.consumed += cut
            return

    def _resync(self) -> None:
        """Both sides start with differing lines: find the nearest common line and move the
        lines before it on each side to the unpaired multisets."""
        self.mismatches += 1
        if self._one_line_change():
            return
        window = FIRST_WINDOW
        while True:
            olds = self.old.peek_lines(window)
            news = self.new.peek_lines(window)
            first: dict[bytes, int] = {}
            for i, line in enumerate(olds):
                first.setdefault(line, i)
            best = -1
            best_i = best_j = 0
            for j, line in enumerate(news):
                if best >= 0 and j >= best:
                    break
                at = first.get(line)
                if at is not None and (best < 0 or at + j < best):
                    best, best_i, best_j = at + j, at, j
            if best == 0:  # equal first lines: a pair, not a mismatch
                self.old.take(olds[:1])
                self.new.take(news[:1])
                return
            if best > 0:
                self._unpair(olds[:best_i], news[:best_j])
                return
            ended = len(olds) < window and len(news) < window
            if ended or window >= MAX_WINDOW:
                self._unpair(olds, news)
                return
            window *= 4

    def _one_line_change(self) -> bool:
        """The common cases, without splitting lines: one line inserted, deleted or updated
        (the next line of one side equals the first or the next of the other)."""
        old, new = self.old, self.new
        if len(old.buf) - old.pos < SHORT:
            old.fill(SHORT)
        if len(new.buf) - new.pos < SHORT:
            new.fill(SHORT)
        ob, nb, a, b = old.buf, new.buf, old.pos, new.pos
        a1 = ob.find(b"\n", a)
        b1 = nb.find(b"\n", b)
        if a1 < 0 or b1 < 0:
            return False
        a2 = ob.find(b"\n", a1 + 1)
        b2 = nb.find(b"\n", b1 + 1)
        if b2 >= 0 and ob[a:a1] == nb[b1 + 1 : b2]:  # a line inserted
            self.unpaired.add_new(nb[b:b1])
            new.pos = b1 + 1
            new.consumed += b1 + 1 - b
            return True
        if a2 >= 0 and nb[b:b1] == ob[a1 + 1 : a2]:  # a line deleted
            self.unpaired.add_old(ob[a:a1])
            old.pos = a1 + 1
            old.consumed += a1 + 1 - a
            return True
        if a2 >= 0 and b2 >= 0 and ob[a1 + 1 : a2] == nb[b1 + 1 : b2]:  # a line updated
            self.unpaired.add_old(ob[a:a1])
            self.unpaired.add_new(nb[b:b1])
            old.pos = a1 + 1
            new.pos = b1 + 1
            old.consumed += a1 + 1 - a
            new.consumed += b1 + 1 - b
            return True
        return False

    def _unpair(self, olds: list[bytes], news: list[bytes]) -> None:
        for line in olds:
            self.unpaired.add_old(line)
        for line in news:
            self.unpaired.add_new(line)
        self.old.take(olds)
        self.new.take(news)

    def _drain(self, side: _Side, add: Callable[[bytes], None]) -> None:
        while side.fill(1 << 20):
            end = side.buf.rfind(b"\n") + 1
            lines = side.buf[side.pos : end].split(b"\n")
            lines.pop()
            for line in lines:
                add(line)
            side.advance(end - side.pos)

    def _check_order(self) -> None:
        consumed = self.new.consumed
        if not self.detect_after or consumed < self.detect_after // EARLY_PART:
            return
        read = self.old.consumed + consumed
        limit = self.max_unpaired
        if consumed < self.detect_after:
            if self.mismatches < EARLY_MISMATCHES:
                return  # one long changed line, not a reordering
            limit = max(limit, EARLY_UNPAIRED)
        if self.unpaired.pending_bytes > limit * read:
            raise ReshuffledError(
                f"{self.unpaired.pending_bytes * 100 // max(read, 1)} % of the first "
                f"{read >> 20} MiB read are unpaired: the rows were reordered"
            )
