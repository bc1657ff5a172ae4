"""The change report: what changed between two releases, per table and per concept.

Built from the change sets of :func:`~py_load_medgen.compare.compare_files` (so it needs no
database), it answers two readers. A loader's operator wants per table how many rows were
inserted, updated, deleted and left unchanged; an updated row is a deleted and an inserted
row with the same natural key (``release/files.py`` declares the keys), the rest of the
deleted and inserted rows stay deletions and insertions. A curator wants to know what
happened to concepts: added, retired, merged into another, renamed, definitions changed,
HPO/OMIM/MONDO mappings gained or lost, with a few examples of each.

``diff_releases`` compares two sources; ``summarize_changes`` turns the change sets a delta
load computed into the same report, which ``store_change_report`` keeps with the run. The
changed rows themselves (and the full concept lists) go to a directory when asked, as CSV
or Parquet, streamed: memory holds a 64-bit digest per changed row of a keyed table (its
key), plus the changed rows of the few small concept-level tables.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from py_load_medgen.compare.changeset import ChangedRows, ChangeSet, Value
from py_load_medgen.compare.files import CompareOptions, compare_files
from py_load_medgen.errors import UsageError
from py_load_medgen.release.files import BY_TABLE, FILES, ColumnType, FileSpec

if TYPE_CHECKING:
    from py_load_medgen.source.base import Source, SourceFile

log = logging.getLogger(__name__)

RowsFormat = Literal["csv", "parquet"]
ROWS_FORMATS: tuple[RowsFormat, ...] = ("csv", "parquet")
CHANGE_COLUMN = "change"
"""The column of a ``--rows`` file saying what happened to the row."""
EXAMPLES = 5

# The vocabularies whose mappings a curator follows, as the mapping files name them.
_MAPPED = {"HPO": "HPO", "OMIM": "OMIM", "MONDO": "MONDO"}


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableChanges:
    """Rows of one table inserted, updated, deleted and unchanged between two releases.

    ``method`` says how they were found: ``file`` (the files compared), ``same`` (identical
    files), ``database`` (a delta load compared in the database) or ``fallback`` (not
    compared: ``reason`` says why, and the counts are None).
    """

    table: str
    inserted: int | None
    updated: int | None
    deleted: int | None
    unchanged: int | None
    method: str = "file"
    reason: str | None = None

    def to_json(self) -> dict[str, int | None]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
        }

    @classmethod
    def from_json(
        cls, table: str, data: Mapping[str, Any], method: str = "file", reason: str | None = None
    ) -> TableChanges:
        return cls(
            table,
            data.get("inserted"),
            data.get("updated"),
            data.get("deleted"),
            data.get("unchanged"),
            method,
            reason,
        )


@dataclass(frozen=True)
class ConceptChange:
    """One change to one concept, as a curator reads it."""

    kind: str
    cui: str
    detail: str


@dataclass
class ConceptCategory:
    """How many concepts had one kind of change, and the first few of them.

    ``count`` is None when the files that show this kind of change were not compared;
    ``needs`` names them.
    """

    kind: str
    label: str
    needs: tuple[str, ...]
    count: int | None = None
    examples: list[ConceptChange] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "examples": [{"cui": e.cui, "detail": e.detail} for e in self.examples],
            **({"needs": list(self.needs)} if self.count is None else {}),
        }


def _categories() -> list[ConceptCategory]:
    names, merged, history = "NAMES.RRF.gz", "MERGED.RRF.gz", "MedGen_CUI_history.txt"
    defs = "MGDEF.RRF.gz"
    mappings = ("MedGenIDMappings.txt.gz", "MedGen_HPO_Mapping.txt.gz")
    return [
        ConceptCategory("added", "concepts added", (names,)),
        ConceptCategory("retired", "concepts retired", (names,)),
        ConceptCategory("merged", "concepts merged into another", (merged, history)),
        ConceptCategory("renamed", "preferred name changed", (names,)),
        ConceptCategory("definition", "definition changed", (defs,)),
        ConceptCategory("mapping_gained", "HPO/OMIM/MONDO mappings gained", mappings),
        ConceptCategory("mapping_lost", "HPO/OMIM/MONDO mappings lost", mappings),
    ]


@dataclass
class ChangeReport:
    """What changed between two releases: per table counts and a concept-level summary."""

    old: str | None
    new: str | None
    tables: dict[str, TableChanges]
    concepts: list[ConceptCategory]
    rows_dir: str | None = None

    def concept(self, kind: str) -> ConceptCategory:
        return next(c for c in self.concepts if c.kind == kind)

    def to_json(self) -> dict[str, Any]:
        """``tables`` maps each table to exactly its four counts (None when not compared);
        ``methods`` and ``reasons`` say, for the tables not compared from their files, how
        they were counted and why."""
        out: dict[str, Any] = {
            "old": self.old,
            "new": self.new,
            "tables": {name: t.to_json() for name, t in self.tables.items()},
            "methods": {n: t.method for n, t in self.tables.items() if t.method != "file"},
            "reasons": {n: t.reason for n, t in self.tables.items() if t.reason},
            "concepts": {c.kind: c.to_json() for c in self.concepts},
        }
        if self.rows_dir:
            out["rows_dir"] = self.rows_dir
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeReport:
        concepts = _categories()
        stored = data.get("concepts") or {}
        for category in concepts:
            item = stored.get(category.kind)
            if item is None:
                continue
            category.count = item.get("count")
            category.examples = [
                ConceptChange(category.kind, e["cui"], e["detail"])
                for e in item.get("examples", [])
            ]
        methods, reasons = data.get("methods") or {}, data.get("reasons") or {}
        tables = {
            name: TableChanges.from_json(name, item, methods.get(name, "file"), reasons.get(name))
            for name, item in (data.get("tables") or {}).items()
        }
        return cls(data.get("old"), data.get("new"), tables, concepts, data.get("rows_dir"))

    def render(self) -> str:
        """The report as text for a terminal: a table of counts, then the concepts."""
        lines: list[str] = []
        if self.old or self.new:
            lines += [f"{self.old or '?'} -> {self.new or '?'}", ""]
        headers = ("table", "inserted", "updated", "deleted", "unchanged")
        rows: list[tuple[str, ...]] = []
        notes: list[str] = []
        for name in sorted(self.tables, key=_table_order):
            t = self.tables[name]
            if t.inserted is None:
                rows.append((name, "-", "-", "-", "-"))
                notes.append(f"{name}: not compared ({t.reason})")
                continue
            rows.append((name, *(f"{v:,}" if v is not None else "-" for v in _counts(t))))
            if t.method == "database":
                notes.append(f"{name}: compared in the database ({t.reason or 'fallback'})")
        widths = [max(len(r[k]) for r in [headers, *rows]) for k in range(len(headers))]
        for row in [headers, *rows]:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(widths[k]) for k, cell in enumerate(row) if k]
            lines.append("  ".join(cells).rstrip())
        lines += [f"  {n}" for n in notes]
        lines += ["", "concepts:"]
        width = max(len(c.label) for c in self.concepts)
        for category in self.concepts:
            if category.count is None:
                lines.append(
                    f"  {category.label.ljust(width)}  not known "
                    f"(compare {' or '.join(category.needs)})"
                )
                continue
            lines.append(f"  {category.label.ljust(width)}  {category.count:,}")
            for example in category.examples:
                lines.append(f"      {example.cui}  {example.detail}")
            if category.count > len(category.examples):
                more = category.count - len(category.examples)
                where = f" in {self.rows_dir}" if self.rows_dir else " (--rows DIR lists them)"
                lines.append(f"      ... and {more:,} more{where}")
        return "\n".join(lines)


def _counts(t: TableChanges) -> tuple[int | None, ...]:
    return (t.inserted, t.updated, t.deleted, t.unchanged)


def _table_order(name: str) -> int:
    order = [s.table for s in FILES]
    return order.index(name) if name in order else len(order)


# -- keys of changed rows ----------------------------------------------------------------------


def _digest(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class _Keys:
    """The natural keys of one side's changed rows, as a sorted array of 64-bit digests:
    8 bytes a row however wide the key."""

    def __init__(self, digests: array[int]) -> None:
        self.sorted = array("Q", sorted(digests))

    def __contains__(self, digest: int) -> bool:
        k = bisect_left(self.sorted, digest)
        return k < len(self.sorted) and self.sorted[k] == digest

    def common(self, other: _Keys) -> int:
        """Digests present on both sides (each side's keys are unique in a keyed table)."""
        xs, ys = self.sorted, other.sorted
        i = j = n = 0
        while i < len(xs) and j < len(ys):
            if xs[i] == ys[j]:
                n += 1
                i += 1
                j += 1
            elif xs[i] < ys[j]:
                i += 1
            else:
                j += 1
        return n


def _key_reader(spec: FileSpec, rows: ChangedRows) -> Callable[[bytes], int] | None:
    """A function from a raw changed line to the digest of its natural key; None when the
    table has no key (or the files lack a key column)."""
    if not spec.natural_key or any(k not in rows.columns for k in spec.natural_key):
        return None
    positions = [rows.columns.index(k) for k in spec.natural_key]
    delimiter = rows.delimiter
    if len(positions) == 1:
        p = positions[0]
        return lambda line: _digest(line.split(delimiter)[p])
    return lambda line: _digest(b"\x00".join(line.split(delimiter)[q] for q in positions))


def _keys(rows: ChangedRows, read: Callable[[bytes], int]) -> _Keys:
    return _Keys(array("Q", (read(line) for line in rows.lines())))


# -- changed rows to files ---------------------------------------------------------------------


class _RowsWriter:
    """One file of changed rows per table: CSV (RFC 4180, UTF-8) or Parquet, streamed."""

    def __init__(self, directory: Path, fmt: RowsFormat) -> None:
        if fmt not in ROWS_FORMATS:
            raise UsageError(f"unknown rows format {fmt!r}: use csv or parquet")
        self.directory = directory
        self.fmt = fmt
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.{self.fmt}"

    def write(
        self,
        name: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Value]],
        integer: Sequence[bool] = (),
    ) -> Path:
        """Write ``rows`` under ``name``; ``integer`` marks the integer columns (Parquet
        types them so), every other column is text."""
        path = self.path(name)
        tmp = path.with_name(f".{path.name}.tmp")
        if self.fmt == "csv":
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                writer.writerows(rows)
        else:
            flags = list(integer) or [False] * len(columns)
            _write_parquet(tmp, columns, rows, flags)
        tmp.replace(path)
        return path


def _write_parquet(
    path: Path, columns: Sequence[str], rows: Iterable[Sequence[Value]], integer: list[bool]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            pa.field(c, pa.int64() if i else pa.string())
            for c, i in zip(columns, integer, strict=True)
        ]
    )
    batch: list[Sequence[Value]] = []
    with pq.ParquetWriter(str(path), schema) as writer:

        def flush() -> None:
            arrays = [
                pa.array([r[k] for r in batch], type=field.type) for k, field in enumerate(schema)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            batch.clear()

        for row in rows:
            batch.append(row)
            if len(batch) >= 65_536:
                flush()
        if batch:
            flush()


def _labelled(
    change: ChangeSet, deleted_keys: _Keys | None, inserted_keys: _Keys | None
) -> Iterator[tuple[Value, ...]]:
    """Every changed row with what happened to it: deleted rows first, then inserted ones; a
    row whose key is on both sides is the before or after of an update."""
    for side, label, update_label, others in (
        (change.deleted, "deleted", "updated-before", inserted_keys),
        (change.inserted, "inserted", "updated-after", deleted_keys),
    ):
        if side is None:
            continue
        read = _key_reader(change.spec, side) if others is not None else None
        for line, row in zip(side.lines(), side.rows(), strict=True):
            updated = read is not None and others is not None and read(line) in others
            yield (update_label if updated else label, *row)


# -- the concept-level summary -----------------------------------------------------------------


class _ConceptTracker:
    """Collects what the concept-level summary needs from the change sets of a few tables."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.names_before: dict[str, str] = {}
        self.names_after: dict[str, str] = {}
        self.merges: dict[str, str] = {}
        self.defs_before: dict[str, int] = {}
        self.defs_after: dict[str, int] = {}
        self.maps_before: set[tuple[str, str, str]] = set()
        self.maps_after: set[tuple[str, str, str]] = set()

    def add(self, change: ChangeSet) -> None:
        table = change.table
        if table not in ("concepts", "merged_concepts", "cui_history", "definitions",
                         "source_links", "hpo_mappings"):  # fmt: skip
            return
        self.seen.add(table)
        columns = change.spec.column_names
        for side, before in ((change.deleted, True), (change.inserted, False)):
            if side is None:
                continue
            for row in side.rows():
                values = dict(zip(columns, row, strict=True))
                self._row(table, values, before)

    def _row(self, table: str, v: Mapping[str, Value], before: bool) -> None:
        if table == "concepts":
            (self.names_before if before else self.names_after)[str(v["cui"])] = str(
                v["preferred_name"] or ""
            )
        elif table == "merged_concepts" and not before:
            self.merges[str(v["cui"])] = str(v["to_cui"])
        elif table == "cui_history" and not before:
            old, new = str(v["previous_cui"] or ""), str(v["current_cui"] or "")
            if old and new and old != new:
                self.merges.setdefault(old, new)
        elif table == "definitions":
            counts = self.defs_before if before else self.defs_after
            cui = str(v["cui"])
            counts[cui] = counts.get(cui, 0) + 1
        elif table == "source_links":
            vocabulary = _MAPPED.get(str(v["source"] or "").upper())
            if vocabulary:
                mapping = (str(v["cui"]), vocabulary, str(v["source_id"] or ""))
                (self.maps_before if before else self.maps_after).add(mapping)
        elif table == "hpo_mappings":
            mapping = (str(v["cui"]), "HPO", str(v["sdui"] or ""))
            (self.maps_before if before else self.maps_after).add(mapping)

    def categories(self) -> tuple[list[ConceptCategory], dict[str, list[ConceptChange]]]:
        """The summary, and per kind every change (for the full lists)."""
        found: dict[str, list[ConceptChange]] = {}
        if "concepts" in self.seen:
            before, after = self.names_before, self.names_after
            found["added"] = [
                ConceptChange("added", c, after[c]) for c in sorted(after.keys() - before.keys())
            ]
            gone = sorted(before.keys() - after.keys())
            merged = self.merges if self.seen & {"merged_concepts", "cui_history"} else {}
            found["retired"] = [
                ConceptChange("retired", c, before[c]) for c in gone if c not in merged
            ]
            found["renamed"] = [
                ConceptChange("renamed", c, f"{before[c]!r} -> {after[c]!r}")
                for c in sorted(before.keys() & after.keys())
                if before[c] != after[c]
            ]
        if self.seen & {"merged_concepts", "cui_history"}:
            names = self.names_before
            found["merged"] = [
                ConceptChange(
                    "merged",
                    c,
                    f"into {to}" + (f" ({names[c]!r})" if c in names else ""),
                )
                for c, to in sorted(self.merges.items())
            ]
        if "definitions" in self.seen:
            changes = []
            for cui in sorted(self.defs_before.keys() | self.defs_after.keys()):
                old, new = self.defs_before.get(cui, 0), self.defs_after.get(cui, 0)
                if old and new:
                    detail = f"{old} definition row(s) replaced by {new}"
                elif new:
                    detail = f"{new} definition row(s) added"
                else:
                    detail = f"{old} definition row(s) removed"
                changes.append(ConceptChange("definition", cui, detail))
            found["definition"] = changes
        if self.seen & {"source_links", "hpo_mappings"}:
            gained = sorted(self.maps_after - self.maps_before)
            lost = sorted(self.maps_before - self.maps_after)
            found["mapping_gained"] = [
                ConceptChange("mapping_gained", c, f"{vocab} {ident}") for c, vocab, ident in gained
            ]
            found["mapping_lost"] = [
                ConceptChange("mapping_lost", c, f"{vocab} {ident}") for c, vocab, ident in lost
            ]
        categories = _categories()
        for category in categories:
            if category.kind in found:
                category.count = len(found[category.kind])
        return categories, found


# -- building the report -----------------------------------------------------------------------


def summarize_changes(
    change_sets: Iterable[ChangeSet],
    *,
    other_tables: Iterable[TableChanges] = (),
    old: str | None = None,
    new: str | None = None,
    rows_dir: Path | None = None,
    rows_format: RowsFormat = "csv",
    examples: int = EXAMPLES,
) -> ChangeReport:
    """The change report of a set of compared tables.

    ``change_sets`` must still be open (their row files are read). A change set that fell
    back becomes a table without counts, unless ``other_tables`` gives its counts (a delta
    load that compared it in the database); ``other_tables`` also adds tables that were not
    compared from files at all (identical files). With ``rows_dir``, every table's changed
    rows go to ``<table>.csv`` (or ``.parquet``) with a first column saying ``inserted``,
    ``deleted``, ``updated-before`` or ``updated-after``, and every concept-level change to
    ``concept_changes.csv`` (``.parquet``).
    """
    writer = _RowsWriter(rows_dir, rows_format) if rows_dir is not None else None
    tables: dict[str, TableChanges] = {}
    tracker = _ConceptTracker()
    for change in change_sets:
        tables[change.table] = _table_changes(change, writer)
        if change.compared:
            tracker.add(change)
    for other in other_tables:
        current = tables.get(other.table)
        if current is None or current.inserted is None:
            tables[other.table] = other
    categories, found = tracker.categories()
    for category in categories:
        category.examples = found.get(category.kind, [])[:examples]
    if writer is not None:
        writer.write(
            "concept_changes",
            ("kind", "cui", "detail"),
            ((c.kind, c.cui, c.detail) for kind in found for c in found[kind]),
        )
    return ChangeReport(
        old,
        new,
        tables,
        categories,
        str(rows_dir) if rows_dir is not None else None,
    )


def _table_changes(change: ChangeSet, writer: _RowsWriter | None) -> TableChanges:
    if not change.compared or change.deleted is None or change.inserted is None:
        return TableChanges(change.table, None, None, None, None, "fallback", change.reason)
    spec = change.spec
    deleted, inserted = change.deleted, change.inserted
    read_old = _key_reader(spec, deleted)
    read_new = _key_reader(spec, inserted)
    deleted_keys = inserted_keys = None
    updated = 0
    if read_old is not None and read_new is not None:
        deleted_keys, inserted_keys = _keys(deleted, read_old), _keys(inserted, read_new)
        updated = deleted_keys.common(inserted_keys)
    new_rows = change.new_rows if change.new_rows is not None else 0
    result = TableChanges(
        change.table,
        inserted=inserted.count - updated,
        updated=updated,
        deleted=deleted.count - updated,
        unchanged=new_rows - inserted.count,
    )
    if writer is not None:
        writer.write(
            change.table,
            (CHANGE_COLUMN, *spec.column_names),
            _labelled(change, deleted_keys, inserted_keys),
            (False, *(c.type is not ColumnType.TEXT for c in spec.columns)),
        )
    return result


# -- two releases ------------------------------------------------------------------------------


def _listed(source: Source) -> set[str] | None:
    """The tables whose files a source has, without fetching any; None when it cannot say."""
    from py_load_medgen.source.local import LocalSource

    if isinstance(source, LocalSource):
        return set(source.listing())
    known = getattr(source, "known_entries", None)
    if callable(known):
        return set(known())
    return None


def select_tables(old: Source, new: Source, files: Sequence[str] | None) -> list[FileSpec]:
    """The specs to compare: those named (each must be in both), else every file in both."""
    if files:
        from py_load_medgen.release.files import select_specs

        return select_specs(list(files))
    in_old, in_new = _listed(old), _listed(new)
    if in_old is None or in_new is None:
        return list(FILES)
    both = in_old & in_new
    if not both:
        raise UsageError(
            f"{old.describe()} and {new.describe()} have no MedGen file in common",
            hint="point both at release directories, or name the files with --files",
        )
    for only, where in ((in_old - in_new, new), (in_new - in_old, old)):
        if only:
            log.warning(
                "not compared, missing from %s: %s",
                where.describe(),
                ", ".join(BY_TABLE[t].name for t in sorted(only, key=_table_order)),
            )
    return [spec for spec in FILES if spec.table in both]


def diff_releases(
    old: Source,
    new: Source,
    *,
    files: Sequence[str] | None = None,
    rows_dir: Path | None = None,
    rows_format: RowsFormat = "csv",
    examples: int = EXAMPLES,
    workdir: Path | None = None,
) -> ChangeReport:
    """What changed from release ``old`` to release ``new``: no database involved.

    Compares the files present in both (or those named in ``files``, which must be in
    both), each pair streamed side by side with bounded memory. Identical files (same
    SHA-256) are not read twice: their rows count as unchanged.
    """
    specs = select_tables(old, new, files)
    old_files = {f.spec.table: f for f in old.fetch(specs)}
    new_files = {f.spec.table: f for f in new.fetch(specs)}
    # A diff has no database to fall back on: a reshuffled file is compared to the end.
    options = CompareOptions(detect_after=0)
    same: list[TableChanges] = []

    def change_sets() -> Iterator[ChangeSet]:
        for spec in specs:
            before, after = old_files[spec.table], new_files[spec.table]
            if before.sha256 == after.sha256:
                rows = _data_rows(after)
                same.append(TableChanges(spec.table, 0, 0, 0, rows, "same"))
                continue
            log.info("comparing %s", after.name)
            with compare_files(
                spec,
                before.path,
                after.path,
                old_name=before.name,
                new_name=after.name,
                workdir=workdir,
                options=options,
            ) as change:
                yield change

    report = summarize_changes(
        change_sets(),
        old=_label(old, list(old_files.values())),
        new=_label(new, list(new_files.values())),
        rows_dir=rows_dir,
        rows_format=rows_format,
        examples=examples,
    )
    for table in same:
        report.tables[table.table] = table
    report.tables = {t: report.tables[t] for t in sorted(report.tables, key=_table_order)}
    return report


def _label(source: Source, files: Sequence[SourceFile]) -> str:
    from py_load_medgen.source.base import release_time

    when = release_time(files)
    return f"{source.describe()} ({when:%Y-%m-%d %H:%M} UTC)" if when else source.describe()


def _data_rows(file: SourceFile) -> int:
    """Data lines of a file (its header excluded), counted on the inflated stream."""
    from py_load_medgen.parse.reader import read_chunks

    lines = 0
    last = b"\n"
    for chunk in read_chunks(file.path, None, name=file.name):
        if chunk:
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


# -- a delta load's report -----------------------------------------------------------------------


class _Counted(Protocol):
    """What a delta load knows of one table (``load.base.TableLoad`` has these)."""

    table: str
    inserted: int | None
    updated: int | None
    deleted: int | None
    unchanged: int | None
    skipped: bool
    compare_method: str | None
    compare_note: str | None


class ChangeCollector:
    """The change report of a delta load, gathered while it runs.

    The pipeline calls :meth:`collect` with each change set while it is still open (only
    the concept-level tables' rows are read, and they are small), then :meth:`finish` with
    the per-table counts it recorded, and keeps the result with
    :func:`store_change_report` in its publishing transaction. Tables compared in the
    database have counts but add nothing to the concept summary.
    """

    def __init__(self, examples: int = EXAMPLES) -> None:
        self.examples = examples
        self.tracker = _ConceptTracker()

    def collect(self, change: ChangeSet) -> None:
        if change.compared:
            self.tracker.add(change)

    def finish(
        self, loads: Iterable[_Counted], *, old: str | None = None, new: str | None = None
    ) -> ChangeReport:
        tables: dict[str, TableChanges] = {}
        for load in loads:
            if load.skipped:
                method, reason = "same", None
            elif load.compare_method is None:
                method, reason = "new", "a table new to the schema, loaded whole"
            else:
                method, reason = load.compare_method, load.compare_note
            tables[load.table] = TableChanges(
                load.table,
                load.inserted,
                load.updated,
                load.deleted,
                load.unchanged,
                method,
                reason,
            )
        categories, found = self.tracker.categories()
        for category in categories:
            category.examples = found.get(category.kind, [])[: self.examples]
        ordered = {t: tables[t] for t in sorted(tables, key=_table_order)}
        return ChangeReport(old, new, ordered, categories)
