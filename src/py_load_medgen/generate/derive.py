"""Deriving the next build from an existing release, with a known amount and kind of churn.

NCBI's weekly builds keep their row order: a changed row stays where it was, a removed one
leaves a gap, and a new one appears at its sorted position. That is the ``ordered`` churn
here. ``random`` churn changes as many rows, but puts the new rows (inserted ones and the new
versions of updated ones) at uniformly random places of the file; ``shuffle`` applies the
churn and then writes every row of the file in a random order. A comparison that exploits
the common order has the easiest time with the first and none at all with the last: the
three together are what a change-capture engine and its benchmarks need.

Every kind is a pure function of the arguments (seeded), streams the file, and keeps at most
one bucket of displaced rows in memory, whatever the file size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import math
import os
import re
import shutil
import struct
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from operator import itemgetter
from pathlib import Path
from typing import IO, Literal, get_args

from py_load_medgen.generate.base import _READ_SIZE, _WEEK, _AtomicOutput, _rng
from py_load_medgen.generate.release import _resolve_tables
from py_load_medgen.parse.header import Layout, parse_header
from py_load_medgen.release.files import ColumnType, FileSpec

ChurnKind = Literal["ordered", "random", "shuffle"]
CHURN_KINDS: tuple[ChurnKind, ...] = get_args(ChurnKind)
"""``ordered``: like NCBI's builds, updates in place, deletions, insertions at their sorted
position; ``random``: the same changes, new rows at uniformly random positions; ``shuffle``:
the changes, then every row in a random order."""

_DATE_RE = re.compile(rb"^(\d{1,2} [A-Z][a-z]{2} )(\d{4})$")
_DIGITS_RE = re.compile(rb"^(.*?)(\d+)$")
# Displaced rows (random churn) and shuffled rows wait in buckets of about this many bytes of
# source file, so one bucket in memory stays far below the 200 MB bound at any scale.
_BUCKET_SOURCE_BYTES = 4 << 20
_SHUFFLE_SOURCE_BYTES = 1 << 20
_MAX_BUCKETS = 512
_LEN = struct.Struct("<dI")


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _gzip_mtime(path: Path) -> int:
    with path.open("rb") as fh:
        head = fh.read(8)
    return int.from_bytes(head[4:8], "little")


def _open_source(path: Path) -> io.BufferedIOBase:
    if _is_gzip(path):
        return gzip.open(path, "rb")
    return path.open("rb")


def _record_blocks(fh: io.BufferedIOBase) -> Iterator[list[bytes]]:
    """Records split on LF only: CR is data (MGDEF's in-field line breaks)."""
    rest = b""
    while chunk := fh.read(_READ_SIZE):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def _digest(record: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(record, digest_size=8).digest(), "little")


def _multiset_overlap(a: array[int], b: array[int]) -> int:
    """Size of the multiset intersection of two digest lists."""
    xs, ys = sorted(a), sorted(b)
    i = j = common = 0
    while i < len(xs) and j < len(ys):
        if xs[i] == ys[j]:
            common += 1
            i += 1
            j += 1
        elif xs[i] < ys[j]:
            i += 1
        else:
            j += 1
    return common


def _update_column(spec: FileSpec, layout: Layout, key: Sequence[int]) -> int:
    """The field a churned row changes: descriptive text first, as real weekly edits are."""
    targets = layout.targets
    candidates = [k for k, name in enumerate(targets) if name is not None and k not in key]
    if not candidates:
        candidates = [k for k in range(layout.nfields) if k not in key]
    if not candidates:
        raise ValueError(f"{spec.table}: no column outside the natural key to change")

    def rank(k: int) -> int:
        name = targets[k]
        if name is None:
            return 5
        column = spec.column(name)
        if column.type is ColumnType.TEXT and not column.identifier and "date" not in name:
            return 0
        if name in ("suppress", "is_current"):
            return 1
        if "date" in name:
            return 2
        if "cui" not in name:
            return 3
        return 4

    return min(candidates, key=rank)


def _change(spec: FileSpec, name: str | None, value: bytes, rand: Callable[[], float]) -> bytes:
    """A different, still well-formed value for one field (never adds a delimiter or LF)."""
    column = spec.column(name) if name is not None else None
    if name == "suppress":
        return b"Y" if value == b"N" else b"N"
    if column is not None and column.type is ColumnType.SMALLINT:
        return b"0" if value == b"1" else b"1"
    if column is not None and column.type is ColumnType.BIGINT:
        return str(int(value) + 1).encode() if value.isdigit() else value + b"1"
    date = _DATE_RE.match(value)
    if date:
        return date.group(1) + str(int(date.group(2)) + 1).encode()
    if name is not None and "cui" in name:
        digits = _DIGITS_RE.match(value)
        if digits:
            prefix, number = digits.groups()
            bumped = str(int(number) + 1).encode()
            if len(bumped) <= len(number):
                return prefix + bumped.rjust(len(number), b"0")
            return prefix + bumped
        return value + b"1"
    r = rand()
    if r < 0.4 and value[:1].isalpha() and value[:1].isascii():
        return value[:1].swapcase() + value[1:]
    if r < 0.6 and b" syndrome" in value:
        return value.replace(b" syndrome", b" disease", 1)
    return value + (b" (disorder)" if r < 0.8 else b", revised")


class _KeyMint:
    """New natural-key values guaranteed absent from the source: past the largest number seen
    for the same prefix (C..., AN..., RN...), or suffixed when the key has no digits; or, in
    a file sorted by its key, between two neighbours so the new row keeps the order."""

    def __init__(self, cui_shaped: bool) -> None:
        self.cui_shaped = cui_shaped
        self.top: dict[bytes, tuple[int, int]] = {}
        self.plain: set[bytes] = set()

    def see(self, key: bytes) -> None:
        m = _DIGITS_RE.match(key)
        if m is None:
            self.plain.add(key)
            return
        prefix, digits = m.groups()
        number, width = int(digits), len(digits)
        top, top_width = self.top.get(prefix, (-1, width))
        if number > top:
            self.top[prefix] = (number, max(width, top_width))

    def mint(self, template: bytes) -> bytes:
        m = _DIGITS_RE.match(template)
        if m is None:
            candidate = template + b"X"
            while candidate in self.plain:
                candidate += b"X"
            self.plain.add(candidate)
            return candidate
        prefix = m.group(1)
        number, width = self.top.get(prefix, (0, len(m.group(2))))
        number += 1
        if self.cui_shaped and prefix == b"C" and len(str(number)) > 7:
            # C ids are exactly seven digits; past C9999999 new concepts get CN ids.
            prefix = b"CN"
            number, width = self.top.get(prefix, (0, 6))
            number += 1
        self.top[prefix] = (number, width)
        return prefix + str(number).encode().rjust(width, b"0")

    @staticmethod
    def between(low: bytes, high: bytes) -> bytes | None:
        """The key right after ``low`` in the same shape, if it sorts before ``high``."""
        m = _DIGITS_RE.match(low)
        if m is None:
            return None
        prefix, digits = m.groups()
        bumped = str(int(digits) + 1).encode()
        if len(bumped) > len(digits):
            return None
        candidate = prefix + bumped.rjust(len(digits), b"0")
        return candidate if low < candidate < high else None


def _copy_counting(src: Path, dest: Path) -> int:
    """Byte-identical copy; returns the data rows (records after the header)."""
    tmp = dest.with_name(f".{dest.name}.copy.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    lines = 0
    last = b"\n"
    with _open_source(src) as fh:
        while chunk := fh.read(_READ_SIZE):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


class _RowShape:
    """Splitting, rendering and changing rows of one file as its header lays them out."""

    def __init__(
        self, spec: FileSpec, layout: Layout, order: list[int] | None, rand: Callable[[], float]
    ) -> None:
        self.spec = spec
        self.layout = layout
        self.nfields = layout.nfields
        self.delim = layout.delimiter
        self.tail = layout.delimiter if layout.trailing else b""
        self.pick = itemgetter(*order) if order is not None else None
        targets = layout.targets
        key = tuple(targets.index(k) for k in spec.natural_key if k in targets)
        # A header lacking a key column makes the table unkeyed for this comparison.
        self.keyed = bool(spec.natural_key) and len(key) == len(spec.natural_key)
        self.key = key[0] if self.keyed else -1
        self.upd = _update_column(spec, layout, key if self.keyed else ())
        self.rand = rand

    def split(self, rec: bytes) -> list[bytes] | None:
        """The fields of a record; None when it does not have the header's shape."""
        fields = rec.split(self.delim)
        if self.layout.trailing:
            if fields[-1] != b"":
                return None
            fields.pop()
        return fields if len(fields) == self.nfields else None

    def canonical(self, fields: Sequence[bytes]) -> bytes:
        """The record in the source's column order (what multiset counting compares)."""
        return self.delim.join(fields) + self.tail

    def render(self, fields: Sequence[bytes]) -> bytes:
        if self.pick is not None:
            fields = self.pick(fields)
        return self.delim.join(fields) + self.tail

    def changed(self, fields: list[bytes]) -> list[bytes]:
        new = list(fields)
        new[self.upd] = _change(
            self.spec, self.layout.targets[self.upd], fields[self.upd], self.rand
        )
        return new


class _Sink:
    """Where random churn files its displaced rows; this one forgets them (a replay)."""

    def put(self, place: float, flag: int, record: bytes) -> None:
        pass


class _Buckets(_Sink):
    """Rows filed under a position in [0, 1), read back one bucket at a time in that order.

    Random churn files each new row under a uniformly drawn place in the output; a shuffle
    files every row under one. Each bucket is a temporary file, so only one bucket's rows are
    ever in memory.
    """

    def __init__(self, stack: ExitStack, count: int, directory: Path) -> None:
        self.count = count
        self.files: list[IO[bytes]] = [
            stack.enter_context(tempfile.TemporaryFile(dir=directory))  # noqa: SIM115
            for _ in range(count)
        ]
        self.sizes = [0] * count

    def put(self, place: float, flag: int, record: bytes) -> None:
        k = min(self.count - 1, int(place * self.count))
        fh = self.files[k]
        fh.write(_LEN.pack(place, len(record) << 1 | flag))
        fh.write(record)
        self.sizes[k] += 1

    def take(self, k: int) -> list[tuple[float, int, bytes]]:
        """Bucket ``k``'s rows sorted by place (ties keep the order they were filed in)."""
        fh = self.files[k]
        fh.seek(0)
        data = fh.read()
        fh.close()
        out: list[tuple[float, int, bytes]] = []
        pos = 0
        unpack, size = _LEN.unpack_from, _LEN.size
        while pos < len(data):
            place, length = unpack(data, pos)
            pos += size
            n = length >> 1
            out.append((place, length & 1, data[pos : pos + n]))
            pos += n
        out.sort(key=itemgetter(0))
        return out


def _bucket_count(src: Path, per_bucket: int) -> int:
    return max(1, min(_MAX_BUCKETS, math.ceil(src.stat().st_size / per_bucket)))


_INSERT = 1
_UPDATE = 0


class _Deriver:
    """One file's next build. Decisions come from three independent random streams, so the
    rows' fates can be replayed in a second pass without redrawing any content."""

    def __init__(
        self, spec: FileSpec, src: Path, churn: float, seed: int, reorder: bool, kind: ChurnKind
    ) -> None:
        self.spec, self.src, self.kind = spec, src, kind
        self.fate = _rng("medgen-derive", seed, spec.table).random
        self.content = _rng("medgen-derive-content", seed, spec.table).random
        self.place = _rng("medgen-derive-place", seed, spec.table).random
        with _open_source(src) as fh:
            head = fh.read(64 * 1024)
        self.layout = layout = parse_header(src.name, spec, head)
        self.raw_header = head[: layout.header_length]
        self.order: list[int] | None = None
        if reorder:
            if layout.nfields < 2:
                raise ValueError(f"{spec.table}: a single column cannot be reordered")
            order = list(range(layout.nfields))
            shuffler = _rng("medgen-derive-order", seed, spec.table)
            while order == sorted(order):
                shuffler.shuffle(order)
            self.order = order
        self.shape = _RowShape(spec, layout, self.order, self.content)
        keyed = self.shape.keyed
        self.mint = _KeyMint(spec.column(spec.natural_key[0]).cui_shape if keyed else False)
        # One draw per row decides its fate: delete, update, keep and insert a new row after
        # it, keep and duplicate it (unkeyed tables only), or keep it. ``churn`` is the share
        # of rows touched, a third each deleted, updated and inserted.
        third = churn / 3
        self.c_delete, self.c_update, self.c_insert = third, 2 * third, churn
        self.c_dup = churn + (0.0 if keyed else churn / 60)
        self.sorted_keys = False
        self.counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        self.removed: array[int] = array("Q")
        self.added: array[int] = array("Q")
        self.total = 0

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> Iterator[bytes]:
        crlf = self.layout.crlf
        with _open_source(self.src) as fh:
            blocks = _record_blocks(fh)
            first = next(blocks, None)
            if not first:
                return
            for block in itertools.chain([first[1:]], blocks):
                for raw in block:
                    yield raw[:-1] if crlf and raw.endswith(b"\r") else raw

    def header(self) -> bytes:
        layout = self.layout
        if self.order is None:
            return self.raw_header
        hashed = self.raw_header.lstrip(b"\xef\xbb\xbf").startswith(b"#")
        names = [layout.fields[k].encode() for k in self.order]
        body = layout.delimiter.join(names) + (layout.delimiter if layout.trailing else b"")
        return (b"#" if hashed else b"") + body + (b"\r\n" if layout.crlf else b"\n")

    def scan_keys(self) -> None:
        """First pass over a keyed file: every key, so new ones are known to be new."""
        shape, mint = self.shape, self.mint
        kpos, delim = shape.key, shape.delim
        previous: bytes | None = None
        ordered = True
        for rec in self.records():
            parts = rec.split(delim)
            if len(parts) > kpos:
                key = parts[kpos]
                mint.see(key)
                if previous is not None and key <= previous:
                    ordered = False
                previous = key
        self.sorted_keys = ordered

    # -- the rows' fates ---------------------------------------------------------------------

    def rows(self, displaced: _Sink | None) -> Iterator[bytes]:
        """The new file's rows in order, before any shuffle.

        With ``displaced``, new rows (inserted ones, new versions of updated ones) are filed
        there under a random place instead of being written next to their template; the
        caller merges them back (random churn).
        """
        shape, counts = self.shape, self.counts
        keyed, kpos, pick = shape.keyed, shape.key, shape.pick
        fate, place = self.fate, self.place
        c_delete, c_update, c_insert, c_dup = (
            self.c_delete,
            self.c_update,
            self.c_insert,
            self.c_dup,
        )
        between = keyed and self.sorted_keys and displaced is None
        pending: list[list[bytes]] = []
        last_key = b""
        for rec in self.records():
            self.total += 1
            r = fate()
            if r >= c_dup and pick is None and not keyed:
                # The common case on the biggest files: no need to split the row.
                counts["unchanged"] += 1
                yield rec
                continue
            fields = shape.split(rec)
            if fields is None:
                # A malformed line (more delimiters than columns, as NCBI once served) cannot
                # be changed safely: pass it through untouched.
                counts["unchanged"] += 1
                yield rec
                continue
            if pending:
                # New rows of a file sorted by its key wait for a gap in the key space.
                key = fields[kpos]
                while pending:
                    candidate = _KeyMint.between(last_key, key)
                    if candidate is None:
                        break
                    yield self._new_row(pending.pop(0), candidate)
                    last_key = candidate
            if keyed:
                last_key = fields[kpos]
            if r < c_delete:
                counts["deleted"] += 1
                if not keyed:
                    self.removed.append(_digest(rec))
                continue
            if r < c_update:
                new = shape.changed(fields)
                if keyed:
                    counts["updated"] += 1
                else:
                    self.removed.append(_digest(rec))
                    self.added.append(_digest(shape.canonical(new)))
                if displaced is not None:
                    displaced.put(place(), _UPDATE, shape.render(new))
                else:
                    yield shape.render(new)
                continue
            counts["unchanged"] += 1
            yield rec if pick is None else shape.render(fields)
            if r >= c_dup:
                continue
            if r >= c_insert:
                # An exact duplicate of a row of an unkeyed table, next to it as NCBI's are.
                yield rec if pick is None else shape.render(fields)
                self.added.append(_digest(rec))
            elif keyed:
                template = shape.changed(fields)
                if displaced is not None:
                    displaced.put(place(), _INSERT, shape.canonical(template))
                elif between:
                    pending.append(template)
                else:
                    yield self._new_row(template, self.mint.mint(template[kpos]))
            else:
                new = shape.changed(fields)
                self.added.append(_digest(shape.canonical(new)))
                if displaced is not None:
                    displaced.put(place(), _UPDATE, shape.render(new))
                else:
                    yield shape.render(new)
        for template in pending:
            yield self._new_row(template, self.mint.mint(template[kpos]))

    def _new_row(self, template: list[bytes], key: bytes) -> bytes:
        self.mint.see(key)
        template[self.shape.key] = key
        self.counts["inserted"] += 1
        return self.shape.render(template)

    def displaced_row(self, flag: int, record: bytes) -> bytes:
        if flag != _INSERT:
            return record
        template = self.shape.split(record)
        if template is None:  # pragma: no cover - only well-formed rows are filed
            raise RuntimeError(f"{self.spec.table}: a displaced row lost its shape")
        return self._new_row(template, self.mint.mint(template[self.shape.key]))

    def result(self) -> dict[str, int]:
        counts = dict(self.counts)
        if not self.shape.keyed:
            common = _multiset_overlap(self.removed, self.added)
            counts["inserted"] = len(self.added) - common
            counts["deleted"] = len(self.removed) - common
            counts["updated"] = 0
            counts["unchanged"] = self.total - counts["deleted"]
        return counts


def _merge_displaced(
    rows: Iterator[bytes], deriver: _Deriver, displaced: _Buckets, kept_estimate: int
) -> Iterator[bytes]:
    """Kept rows in their order with the displaced ones at their drawn places.

    A displaced row filed under place ``p`` goes before the kept row number
    ``p * kept_estimate``; rows whose place lies past the last kept row close the file.
    """
    k = 0
    queue: list[tuple[float, int, bytes]] = []
    scale = max(1, kept_estimate)
    for index, row in enumerate(rows):
        here = index / scale
        while True:
            while not queue and k < displaced.count and k / displaced.count <= here:
                queue = displaced.take(k)
                queue.reverse()
                k += 1
            if not queue or queue[-1][0] > here:
                break
            _, flag, record = queue.pop()
            yield deriver.displaced_row(flag, record)
        yield row
    while queue or k < displaced.count:
        if not queue:
            queue = displaced.take(k)
            queue.reverse()
            k += 1
            continue
        _, flag, record = queue.pop()
        yield deriver.displaced_row(flag, record)


def _derive_file(
    spec: FileSpec,
    src: Path,
    dest: Path,
    churn: float,
    seed: int,
    reorder: bool,
    kind: ChurnKind,
) -> dict[str, int]:
    deriver = _Deriver(spec, src, churn, seed, reorder, kind)
    gz = _is_gzip(src)
    mtime = _gzip_mtime(src) + _WEEK if gz else None
    # Next week's build: the file time moves on a week, as NCBI's listing would show.
    file_mtime = mtime if mtime is not None else int(src.stat().st_mtime) + _WEEK
    if deriver.shape.keyed and churn > 0:
        deriver.scan_keys()
    eol = b"\r\n" if deriver.layout.crlf else b"\n"
    output = _AtomicOutput(dest, gz=gz, mtime=mtime, compresslevel=6)
    try:
        with ExitStack() as stack:
            output.write(deriver.header())
            rows: Iterator[bytes]
            if kind == "random" and churn > 0:
                displaced = _Buckets(stack, _bucket_count(src, _BUCKET_SOURCE_BYTES), dest.parent)
                # Every displaced row must be filed before the first is due: a first pass
                # files them and counts the kept rows, a second (the same fates, replayed)
                # writes the kept rows with the displaced ones merged in.
                kept = sum(1 for _ in deriver.rows(displaced))
                replay = _Deriver(spec, src, churn, seed, reorder, kind)
                replay.sorted_keys = deriver.sorted_keys
                rows = _merge_displaced(replay.rows(_Sink()), deriver, displaced, kept)
            else:
                rows = deriver.rows(None)
            if kind == "shuffle":
                rows = _shuffled(rows, stack, src, dest.parent, deriver.place)
            batch: list[bytes] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 8192:
                    output.write(eol.join(batch) + eol)
                    batch.clear()
            if batch:
                output.write(eol.join(batch) + eol)
        output.commit(file_mtime)
    except BaseException:
        output.abort()
        raise
    return deriver.result()


def _shuffled(
    rows: Iterator[bytes], stack: ExitStack, src: Path, directory: Path, rand: Callable[[], float]
) -> Iterator[bytes]:
    """The rows in a random order: each filed under a random place, read back by place."""
    buckets = _Buckets(stack, _bucket_count(src, _SHUFFLE_SOURCE_BYTES), directory)
    for row in rows:
        buckets.put(rand(), 0, row)
    for k in range(buckets.count):
        for _, _, record in buckets.take(k):
            yield record


def derive_release(
    src_dir: Path,
    out_dir: Path,
    *,
    churn: float = 0.01,
    seed: int = 1,
    kind: ChurnKind = "ordered",
    reorder_columns: Sequence[str] = (),
    shuffle: Sequence[str] = (),
    files: Sequence[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the next build of the release in ``src_dir`` (generated or genuine) to ``out_dir``.

    About ``churn`` of the rows of each file change: a third deleted, a third updated (one
    non-key field changed), a third inserted (new natural keys, absent from the source);
    tables without a natural key also gain a few exact duplicates. ``kind`` says where the
    new rows go (see :data:`CHURN_KINDS`): ``ordered`` keeps the file's order as NCBI's builds
    do, ``random`` scatters them, ``shuffle`` also writes every row in a random order. Tables
    named in ``shuffle`` are shuffled whatever ``kind`` says (one reshuffled file in an
    otherwise ordinary build); tables named in ``reorder_columns`` get their columns (header
    and rows) in a different, deterministic order. Files with nothing to change are copied
    byte for byte.

    Returns per table ``inserted``/``updated``/``deleted``/``unchanged`` as a comparison of the
    two files would count them: by natural key where the table has one (assuming the source's
    keys are unique), otherwise as multiset differences of whole rows (an update is then a
    deletion plus an insertion, and ``updated`` is 0). Files are streamed; memory holds one
    bucket of displaced rows and 8 bytes per churned row. Tables absent from ``src_dir`` are
    skipped.
    """
    if not 0 <= churn <= 0.9:
        raise ValueError(f"churn must be between 0 and 0.9, not {churn!r}")
    if kind not in CHURN_KINDS:
        raise ValueError(f"churn kind must be one of {', '.join(CHURN_KINDS)}, not {kind!r}")
    for name, value in (("reorder_columns", reorder_columns), ("shuffle", shuffle)):
        if isinstance(value, str):
            raise TypeError(f"{name} must be a sequence of table names, not a string")
    reorder = (
        {spec.table for spec in _resolve_tables(reorder_columns)} if reorder_columns else set()
    )
    shuffled = {spec.table for spec in _resolve_tables(shuffle)} if shuffle else set()
    specs = _resolve_tables(files)
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise FileNotFoundError(f"no release directory at {src_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if src_dir.resolve() == out_dir.resolve():
        raise ValueError("derive_release needs an output directory other than the source")
    present = {p.name.lower(): p for p in src_dir.iterdir() if p.is_file()}
    results: dict[str, dict[str, int]] = {}
    for spec in specs:
        src = next((present[n.lower()] for n in spec.served_names if n.lower() in present), None)
        if src is None:
            continue
        dest = out_dir / src.name
        table_kind: ChurnKind = "shuffle" if spec.table in shuffled else kind
        if churn == 0 and spec.table not in reorder and table_kind != "shuffle":
            rows = _copy_counting(src, dest)
            results[spec.table] = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": rows}
        else:
            results[spec.table] = _derive_file(
                spec, src, dest, churn, seed, spec.table in reorder, table_kind
            )
    return results
