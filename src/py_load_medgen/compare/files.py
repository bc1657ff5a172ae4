"""Compare the previous and the new release of one file: the entry point of the package.

Each file is inflated in a thread of its own (ISA-L releases the GIL), so inflating both
overlaps with the comparison. The headers go through the real header parser: when both
files lay out the same columns the same way, raw lines are compared (the fast path); when
the layout changed (columns reordered or renamed, another delimiter, CR LF instead of LF)
every line of both files is first mapped to the table's column order, so rows are compared
as values; when the two files do not hold the same columns, the table falls back.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from py_load_medgen.compare.align import Aligner, ReshuffledError
from py_load_medgen.compare.changeset import ChangedRows, ChangeSet
from py_load_medgen.compare.unpaired import Unpaired
from py_load_medgen.errors import InputError
from py_load_medgen.parse.header import MAX_HEADER_BYTES, Layout, parse_header
from py_load_medgen.parse.reader import read_chunks
from py_load_medgen.prefetch import prefetch
from py_load_medgen.release.files import FileSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareOptions:
    """How far a comparison may go before it gives up on the files."""

    memory_budget: int = 64 << 20
    """Bytes of unpaired lines held in memory before they spill to temporary files."""
    detect_after: int = 16 << 20
    """Inflated bytes of the new file after which a mostly unpaired comparison stops
    (a reshuffled file); 0 never stops, for a caller that has no other way to compare."""
    max_unpaired: float = 0.5
    """The fraction of the bytes read that may be unpaired at that point."""
    partitions: int = 64
    """Hash partitions of spilled lines."""


class _FallbackError(Exception):
    """This table cannot be compared from its files; the message says why."""


@dataclass
class _Opened:
    layout: Layout
    chunks: Iterator[bytes]


def compare_files(
    spec: FileSpec,
    old: Path,
    new: Path,
    *,
    old_name: str | None = None,
    new_name: str | None = None,
    workdir: Path | None = None,
    options: CompareOptions | None = None,
    on_read: Callable[[int], None] | None = None,
    old_rows: int | None = None,
) -> ChangeSet:
    """The rows deleted and inserted between ``old`` and ``new``, two releases of ``spec``.

    ``old_name``/``new_name`` are the served names, for messages (the files on disk may be
    kept copies or downloads named otherwise). ``workdir`` is where the temporary change
    files go (a fresh directory inside it; default the system's). An error in the *new*
    file's header is raised as it would be by a load; anything wrong with the old file makes
    the result a fallback. ``on_read`` receives the raw bytes read from ``new``, for progress.
    ``old_rows``, the data lines of ``old`` when known (the load that read it recorded them):
    the new file's are then the old ones less the deleted plus the inserted, not counted.
    """
    options = options or CompareOptions()
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix=f"medgen-compare-{spec.table}-", dir=workdir))
    new_side = _open(new, spec, new_name or new.name, on_read)
    try:
        old_side = _open(old, spec, old_name or old.name, None)
    except (InputError, OSError) as exc:
        return _fallback(spec, root, f"the previous file cannot be read: {exc}", started)
    unpaired = Unpaired(root / "spill", budget=options.memory_budget, partitions=options.partitions)
    try:
        project_old, project_new = _projections(spec, old_side.layout, new_side.layout)
        aligner = Aligner(
            _lines(old_side.chunks, project_old),
            _lines(new_side.chunks, project_new),
            unpaired,
            detect_after=options.detect_after,
            max_unpaired=options.max_unpaired,
            count_new=not old_rows,
        )
        aligner.run()
        canonical = _canonical_columns(spec, new_side.layout)
        delimiter = new_side.layout.delimiter
        to_row = _identity if project_new is not None else _projector(spec, new_side.layout)
        deleted, inserted = _write_changes(
            spec,
            root,
            unpaired,
            canonical,
            delimiter,
            to_row,
            _old_row(spec, old_side, project_old),
        )
    except (_FallbackError, ReshuffledError) as exc:
        return _fallback(spec, root, str(exc), started)
    finally:
        unpaired.close()
    new_rows = aligner.new_lines
    if old_rows:
        # Every line of either file is paired, deleted or inserted. A new file with any data
        # holds a line, whatever the record said; one without holds none.
        new_rows = old_rows - deleted.count + inserted.count
        new_rows = max(new_rows, 1) if aligner.new.consumed else 0
    result = ChangeSet(
        spec,
        "file",
        deleted=deleted,
        inserted=inserted,
        new_rows=new_rows,
        seconds=time.perf_counter() - started,
        workdir=root,
    )
    log.debug(
        "%s: compared in %.2fs, %d mismatches, %d deleted, %d inserted%s",
        spec.table,
        result.seconds,
        aligner.mismatches,
        result.deleted_count,
        result.inserted_count,
        " (spilled)" if unpaired.spilled else "",
    )
    return result


def _fallback(spec: FileSpec, root: Path, reason: str, started: float) -> ChangeSet:
    change = ChangeSet(spec, "fallback", reason=reason, seconds=time.perf_counter() - started)
    change.workdir = root
    change.close()
    return change


def _open(path: Path, spec: FileSpec, name: str, on_read: Callable[[int], None] | None) -> _Opened:
    chunks = prefetch(read_chunks(path, on_read, name=name), depth=4)
    head = b""
    for chunk in chunks:
        head += chunk
        if b"\n" in head or len(head) >= MAX_HEADER_BYTES:
            break
    layout = parse_header(name, spec, head)
    rest = head[layout.header_length :]

    def body() -> Iterator[bytes]:
        if rest:
            yield rest
        yield from chunks

    return _Opened(layout, body())


def _canonical_columns(spec: FileSpec, layout: Layout) -> tuple[str, ...]:
    mapped = {t for t in layout.targets if t is not None}
    return tuple(c for c in spec.column_names if c in mapped)


def _same_layout(old: Layout, new: Layout) -> bool:
    return (
        old.delimiter == new.delimiter
        and old.trailing == new.trailing
        and old.crlf == new.crlf
        and old.targets == new.targets
        and None not in new.targets
    )


Project = Callable[[bytes], bytes]


def _projections(spec: FileSpec, old: Layout, new: Layout) -> tuple[Project | None, Project | None]:
    """None, None when raw lines compare as values; else a mapping of each side's lines to
    the table's column order with the new file's delimiter."""
    if _same_layout(old, new):
        return None, None
    if _canonical_columns(spec, old) != _canonical_columns(spec, new):
        raise _FallbackError(
            "the two files hold different columns "
            f"({', '.join(_canonical_columns(spec, old))} before, "
            f"{', '.join(_canonical_columns(spec, new))} now)"
        )
    return _projector(spec, old, new.delimiter), _projector(spec, new)


def _projector(spec: FileSpec, layout: Layout, delimiter: bytes | None = None) -> Project:
    """A function from one raw line of a file (no LF) to its values in the table's column
    order, joined by ``delimiter`` (default the file's own). A line with the wrong number of
    fields is passed through so that the parser rejects it later as it would in a load."""
    d = layout.delimiter
    out = delimiter or d
    crlf, trailing = layout.crlf, layout.trailing
    order = [layout.targets.index(c) for c in _canonical_columns(spec, layout)]
    nfields = layout.nfields
    identity_order = order == list(range(nfields))

    def project(line: bytes) -> bytes:
        if crlf and line.endswith(b"\r"):
            line = line[:-1]
        if trailing and line.endswith(d):
            line = line[: -len(d)]
        if identity_order and out == d:
            return line
        fields = line.split(d)
        if len(fields) != nfields:
            return line
        if out != d and any(out in f for f in fields):
            raise _FallbackError(
                f"a value of {layout.file} holds the delimiter {out.decode()!r} of the new file"
            )
        return out.join([fields[i] for i in order])

    return project


def _identity(line: bytes) -> bytes:
    return line


def _old_row(spec: FileSpec, old: _Opened, project_old: Project | None) -> Project:
    return _identity if project_old is not None else _projector(spec, old.layout)


def _lines(chunks: Iterator[bytes], project: Project | None) -> Iterator[bytes]:
    """The stream as blocks of whole lines, each line mapped by ``project`` when given."""
    if project is None:
        yield from chunks
        return
    tail = b""
    for chunk in chunks:
        data = tail + chunk if tail else chunk
        cut = data.rfind(b"\n") + 1
        if not cut:
            tail = data
            continue
        tail = data[cut:]
        lines = data[:cut].split(b"\n")
        lines.pop()
        yield b"\n".join([project(line) for line in lines]) + b"\n"
    if tail:
        yield project(tail) + b"\n"


def _write_changes(
    spec: FileSpec,
    root: Path,
    unpaired: Unpaired,
    columns: tuple[str, ...],
    delimiter: bytes,
    new_row: Project,
    old_row: Project,
) -> tuple[ChangedRows, ChangedRows]:
    header = b"#" + delimiter.join(spec.column(c).source.encode() for c in columns) + b"\n"
    counts = [0, 0]
    paths = [root / "deleted.txt", root / "inserted.txt"]
    handles = [path.open("wb", buffering=1 << 20) for path in paths]
    try:
        for fh in handles:
            fh.write(header)
        for old, new in unpaired.results():
            for side, (held, to_row) in enumerate(((old, old_row), (new, new_row))):
                fh = handles[side]
                for line, count in held.items():
                    if count > 0:
                        fh.write((to_row(line) + b"\n") * count)
                        counts[side] += count
    finally:
        for fh in handles:
            fh.close()
    return (
        ChangedRows(spec, paths[0], counts[0], columns, delimiter),
        ChangedRows(spec, paths[1], counts[1], columns, delimiter),
    )
