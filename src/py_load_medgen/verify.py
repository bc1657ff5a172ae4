"""``verify``: recount every loaded table, then compare its rows with its file's.

The metadata says how many rows each run left in each table; a table whose count differs was
changed behind the tool's back (or lost, like an unlogged table after a server crash). Then
each table's rows are compared with the rows of its file (the kept file of the loaded
release, or the source's), parsed exactly as a load parses it: first by fingerprints the
database computes on both sides (``load.export.Hasher``), and only where those differ row by
row (``compare.content``), to count the rows that differ and show some.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full, Queue
from typing import Any

from py_load_medgen import events, kept, logs
from py_load_medgen.compare.content import ContentDiff, compare_content
from py_load_medgen.errors import NotLoadedError, VerifyMismatchError
from py_load_medgen.load import metadata
from py_load_medgen.load.base import Loader
from py_load_medgen.load.export import Hasher
from py_load_medgen.load.metadata import FileRow
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FILES, FileSpec
from py_load_medgen.report import NOT_LOADED_HINT, count, table_text
from py_load_medgen.source.base import Source

log = logging.getLogger(__name__)


@dataclass
class TableCheck:
    table: str
    rows: int | None
    """Counted in the database now; None when the table is missing."""
    expected: int | None
    """What the metadata says the newest runs left in the table."""
    run_id: str
    source_file: str | None = None
    source_rows: int | None = None
    """Rows a load of the source file would load (data lines less rejected ones)."""
    same_file: bool | None = None
    """Whether the source file is byte for byte the one loaded (by sha256)."""
    problems: list[str] = field(default_factory=list)
    content: ContentDiff | None = None
    """The rows compared with the file's, as multisets; None when not compared."""
    content_file: str | None = None
    """The file the rows were compared with (a kept file or the source's)."""
    content_note: str | None = None
    """Why the rows were not compared (--quick, or no file of the loaded release)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "ok": self.ok,
            "rows": self.rows,
            "expected": self.expected,
            "run_id": self.run_id,
            "source_file": self.source_file,
            "source_rows": self.source_rows,
            "same_file": self.same_file,
            "problems": self.problems,
            "content": None
            if self.content is None
            else {
                "file": self.content_file,
                "rows_differing": self.content.differing,
                "rows_missing": self.content.rows_missing,
                "rows_extra": self.content.rows_extra,
                "exact": self.content.exact,
                "examples": self.content.examples,
            },
            "content_note": self.content_note,
        }


@dataclass
class Verification:
    database: str
    schema: str
    source: str | None
    tables: list[TableCheck]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def mismatches(self) -> list[TableCheck]:
        return [t for t in self.tables if not t.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "database": self.database,
            "schema": self.schema,
            "source": self.source,
            "tables": [t.to_json() for t in self.tables],
        }

    def render(self) -> str:
        headers = ["table", "rows", "expected"]
        if self.source is not None:
            headers.append("source")
        headers.append("result")
        rows = []
        for t in self.tables:
            row = [t.table, "MISSING" if t.rows is None else count(t.rows), count(t.expected)]
            if self.source is not None:
                row.append(count(t.source_rows))
            row.append("ok" if t.ok else "MISMATCH")
            rows.append(row)
        lines = [
            f"verifying {self.database}, schema {self.schema}"
            + (f" against {self.source}" if self.source else ""),
            "",
            table_text(headers, rows, set(range(1, len(headers) - 1))),
            "",
        ]
        for t in self.tables:
            lines += [f"{t.table}: {p}" for p in t.problems]
            if t.content is not None:
                for example in t.content.examples:
                    values = "|".join("" if v is None else str(v) for v in example["row"].values())
                    lines.append(f"{t.table}:   {example['side']}: {values}")
            if t.content_note:
                lines.append(f"{t.table}: rows not compared: {t.content_note}")
            if t.same_file is False and t.ok:
                lines.append(
                    f"{t.table}: note: {t.source_file} is not the file loaded (sha256 differs), "
                    "though its rows count the same"
                )
        bad = self.mismatches
        lines.append(
            f"{len(bad)} of {len(self.tables)} tables differ" if bad else "every table matches"
        )
        return "\n".join(lines)

    def raise_for_mismatch(self) -> None:
        """Raise VerifyMismatchError (exit code 8) naming the tables that differ, if any."""
        if self.ok:
            return
        bad = ", ".join(t.table for t in self.mismatches)
        raise VerifyMismatchError(
            f"{len(self.mismatches)} table(s) differ: {bad}",
            hint="reload them with a full load: py-load-medgen load --files TABLE,...",
        )


def expected_counts(loader: Loader) -> dict[str, tuple[int | None, str, FileRow]]:
    """Per table: the row count the successful runs should have left, the newest run, its record.

    A full load leaves ``rows_loaded`` rows. A delta load leaves the rows it kept unchanged,
    updated and inserted; a table a delta skipped (its file did not change) keeps its count.
    Runs are replayed oldest first, so a delta counts from the load before it where the delta
    recorded only its changes.
    """
    expected: dict[str, tuple[int | None, str, FileRow]] = {}
    for record, mode in metadata.succeeded_files(loader):
        table = record.table_name
        previous = expected[table][0] if table in expected else None
        if record.skipped:
            if table in expected:
                continue  # the table was left as the earlier run loaded it
            value = None
        else:
            value = _count_after(record, mode, previous)
        expected[table] = (value, record.run_id, record)
    return expected


def _count_after(
    record: FileRow | Mapping[str, Any], mode: str, previous: int | None
) -> int | None:
    inserted, updated = record.get("rows_inserted"), record.get("rows_updated")
    deleted, unchanged = record.get("rows_deleted"), record.get("rows_unchanged")
    if mode != "delta" and inserted is None:
        return _int(record.get("rows_loaded"))
    if unchanged is not None and inserted is not None and updated is not None:
        return int(unchanged) + int(inserted) + int(updated)
    if previous is not None and inserted is not None and deleted is not None:
        return previous + int(inserted) - int(deleted)
    return _int(record.get("rows_loaded"))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def verify(
    loader: Loader,
    source: Source | None = None,
    tables: Sequence[FileSpec] = (),
    *,
    quick: bool = False,
    kept_files: kept.KeptFiles | None = None,
) -> Verification:
    """Recount the loaded tables (all, or ``tables``) and compare; never raises on a mismatch.

    Unless ``quick``, every table's rows are also compared with the rows of its file as
    multisets: the source's file, or else the kept file of the loaded release.
    """
    expected = expected_counts(loader)
    if tables:
        expected = {t.table: expected[t.table] for t in tables if t.table in expected}
    if not expected:
        raise NotLoadedError(
            f"nothing loaded in {loader.describe()}, schema {loader.schema}"
            + (f" for {', '.join(t.table for t in tables)}" if tables else ""),
            hint=NOT_LOADED_HINT,
        )
    specs = [s for s in FILES if s.table in expected]
    checks: list[TableCheck] = []
    for spec in specs:
        value, run_id, _record = expected[spec.table]
        rows = loader.count_rows(spec.table) if loader.table_exists(spec.table) else None
        check = TableCheck(spec.table, rows, value, run_id)
        if rows is None:
            check.problems.append("the table is missing")
        elif value is not None and rows != value:
            check.problems.append(
                f"{rows:,} rows in the table, {value:,} recorded by run {run_id}"
                + (
                    " (after a server crash PostgreSQL empties unlogged tables)"
                    if rows == 0
                    else ""
                )
            )
        checks.append(check)
    if quick:
        if source is not None:
            _compare_with_source(source, specs, checks, expected)
        for check in checks:
            check.content_note = "--quick counts rows only"
        return Verification(
            loader.describe(), loader.schema, source.describe() if source else None, checks
        )
    hashers = _open_hashers(loader)
    try:
        _compare_all(loader, hashers, source, specs, checks, expected, kept_files)
    finally:
        for hasher in hashers or ():
            hasher.close()
    return Verification(
        loader.describe(), loader.schema, source.describe() if source else None, checks
    )


def _open_hashers(loader: Loader) -> tuple[Hasher, Hasher] | None:
    """Two connections, for the table side and the file side; None if the backend cannot."""
    from py_load_medgen.load import export

    if loader.dialect.name not in export.FINGERPRINT_DIALECTS:
        return None
    table_side = export.Hasher(loader, second=True)
    try:
        return table_side, export.Hasher(loader)
    except BaseException:
        table_side.close()
        raise


def _compare_all(
    loader: Loader,
    hashers: tuple[Hasher, Hasher] | None,
    source: Source | None,
    specs: Sequence[FileSpec],
    checks: Sequence[TableCheck],
    expected: dict[str, tuple[int | None, str, FileRow]],
    kept_files: kept.KeptFiles | None,
) -> None:
    if source is not None:
        _compare_with_source(
            source, specs, checks, expected, quick=False, loader=loader, hashers=hashers
        )
    else:
        for spec, check in zip(specs, checks, strict=True):
            record = expected[spec.table][2]
            if check.rows is None:
                continue
            if kept_files is None:
                check.content_note = "no --source, and keeping files is off"
                continue
            path, why = kept_files.find(
                spec.table, record.get("sha256"), record.get("file_name") or spec.name
            )
            if path is None:
                check.content_note = f"{why}; give --source"
                continue
            _compare_rows(loader, spec, check, path, record.get("file_name") or spec.name, hashers)


def _compare_with_source(
    source: Source,
    specs: Sequence[FileSpec],
    checks: Sequence[TableCheck],
    expected: dict[str, tuple[int | None, str, FileRow]],
    *,
    quick: bool = True,
    loader: Loader | None = None,
    hashers: tuple[Hasher, Hasher] | None = None,
) -> None:
    with logs.phase("fetch"):
        files = source.fetch(specs)
    for file, check in zip(files, checks, strict=True):
        check.source_file = file.name
        recorded_sha = expected[file.spec.table][2].sha256
        check.same_file = recorded_sha == file.sha256 if recorded_sha else None
        if not quick and loader is not None and check.rows is not None:
            _compare_rows(loader, file.spec, check, file.path, file.name, hashers)
            check.source_rows = check.content.file_rows if check.content else None
            continue
        with logs.phase("count"):
            check.source_rows = count_source_rows(file.path, file.spec, file.name)
        if quick:
            check.content_note = "--quick counts rows only"
        if check.rows is not None and check.rows != check.source_rows:
            check.problems.append(
                f"{check.rows:,} rows in the table, {check.source_rows:,} in {file.name}"
            )


def _compare_rows(
    loader: Loader,
    spec: FileSpec,
    check: TableCheck,
    path: Path,
    name: str,
    hashers: tuple[Hasher, Hasher] | None = None,
) -> None:
    """Compare the table's rows with the file's as multisets; a difference is a problem.

    First by fingerprint (``load.export``): the database hashes the table's rows while the
    file's lines stream to it, each side on a connection of its own (``hashers``). Equal
    fingerprints settle it; otherwise (or where rows cannot be written back as lines) the
    rows themselves are compared, to count the ones that differ and show some.
    """
    started = time.perf_counter()
    events.emit("file_started", table=spec.table, file=name, size=path.stat().st_size)
    with logs.phase("compare"):
        diff = _same_by_fingerprint(spec, path, name, hashers)
        if diff is None:
            diff = _compare_values(loader, spec, path, name)
    events.emit(
        "file_done", table=spec.table, rows=diff.file_rows, seconds=time.perf_counter() - started
    )
    check.content, check.content_file = diff, name
    if not diff.ok:
        check.problems.append(diff.describe())


def _same_by_fingerprint(
    spec: FileSpec, path: Path, name: str, hashers: tuple[Hasher, Hasher] | None
) -> ContentDiff | None:
    """A ContentDiff of no differences when the fingerprints agree, else None."""
    from py_load_medgen.load import export

    if hashers is None:
        return None
    encoded = EncodedFile(path, spec, name=name, max_bad_rows=sys.maxsize, rejects=None)
    shape = export.line_shape(encoded)
    if shape is None:
        return None
    seed = export.new_seed()
    table_side, file_side = hashers
    if table_side.in_process:
        # DuckDB spreads each query over its threads already; one side at a time keeps the
        # memory of only one in the process.
        table = table_side.table(spec, shape, seed)
        theirs = file_side.lines(_read_ahead(encoded.blocks()), seed)
    else:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-table") as pool:
            # The server hashes the table while this process reads the file.
            ours = pool.submit(table_side.table, spec, shape, seed)
            try:
                theirs = file_side.lines(_read_ahead(encoded.blocks()), seed)
            except BaseException:
                table_side.cancel()
                raise
            table = ours.result()
    if table != theirs:
        log.info(
            "%s: fingerprints differ (%s rows against %s); comparing the rows",
            spec.table,
            f"{table.rows:,}",
            f"{theirs.rows:,}",
        )
        return None
    return ContentDiff(spec.table, table_rows=table.rows, file_rows=theirs.rows)


def _read_ahead(blocks: Iterator[bytes], depth: int = 1) -> Iterator[bytes]:
    """``blocks``, read and parsed by a thread of their own up to ``depth`` blocks ahead.

    The database hashes one block while the next is inflated and cut: the parser's work and
    the database's overlap instead of taking turns. Memory holds ``depth`` blocks more.
    """
    queue: Queue[tuple[bytes | None, BaseException | None]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        queue.put((block, None), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((None, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put((None, exc))

    reader = threading.Thread(target=produce, name="verify-read", daemon=True)
    reader.start()
    try:
        while True:
            block, error = queue.get()
            if error is not None:
                raise error
            if block is None:
                return
            yield block
    finally:
        stop.set()
        while reader.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                reader.join(0.05)


def _compare_values(loader: Loader, spec: FileSpec, path: Path, name: str) -> ContentDiff:
    from py_load_medgen.load._arrow import ArrowBlocks
    from py_load_medgen.load.export import table_batches

    def file_batches() -> Any:
        encoded = EncodedFile(path, spec, name=name, max_bad_rows=sys.maxsize, rejects=None)
        return ArrowBlocks(encoded).tables()

    return compare_content(spec, lambda: table_batches(loader, spec), file_batches)


def count_source_rows(path: Path, spec: FileSpec, name: str) -> int:
    """The rows a load of this file would load: its data lines less the ones it would reject.

    Parsed by the loader's own ``EncodedFile`` (header, framing and checks), in blocks, so
    the count is exact and as fast as a load's parsing. No reject file is written, and no
    limit on bad rows applies: a count is wanted, not a verdict on the file.
    """
    started = time.perf_counter()
    events.emit("file_started", table=spec.table, file=name, size=path.stat().st_size)
    encoded = EncodedFile(
        path,
        spec,
        name=name,
        max_bad_rows=sys.maxsize,
        rejects=None,
        on_read=events.bytes_reader(spec.table),
    )
    for _block in encoded.blocks():
        pass
    rows = encoded.stats.rows_read - encoded.stats.rows_rejected
    events.emit("file_done", table=spec.table, rows=rows, seconds=time.perf_counter() - started)
    return rows
