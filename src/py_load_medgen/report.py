"""What is loaded and what ran: the ``status``, ``history`` and ``schema --json`` reports.

Everything here reads the database: the tables' row counts are counted, not taken from the
metadata, and the metadata tables (``etl_runs``, ``etl_run_files``) say which run put them
there. Each report is a dataclass with ``to_json()`` for ``--json`` and ``render()`` for people.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from py_load_medgen.compare.report import ChangeReport
from py_load_medgen.errors import NotLoadedError, UsageError
from py_load_medgen.load import metadata, sql
from py_load_medgen.load.base import Loader
from py_load_medgen.load.metadata import FileRow, RunRow, RunStatus
from py_load_medgen.load.registry import open_loader
from py_load_medgen.release.files import FILES

NOT_LOADED_HINT = "load a release first: py-load-medgen load --db-uri ..."


@contextlib.contextmanager
def connected(db_uri: str, schema: str) -> Iterator[Loader]:
    """A connected loader for a read-only report; closed afterwards."""
    loader = open_loader(db_uri, schema)
    path = getattr(loader, "path", None)
    if isinstance(path, Path) and not path.exists():
        # An embedded database that was never created holds nothing; opening it would create
        # an empty file as a side effect of merely asking.
        raise NotLoadedError(
            f"nothing loaded: {loader.describe()} does not exist", hint=NOT_LOADED_HINT
        )
    loader.connect()
    try:
        yield loader
    finally:
        loader.close()


# -- shared helpers ----------------------------------------------------------------------------


def utc(value: Any) -> datetime | None:
    """A database timestamp as an aware UTC datetime (DuckDB may hand back naive ones)."""
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def when(value: datetime | None) -> str:
    """A timestamp for people: minutes are enough, always in UTC."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def table_text(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """A plain aligned table: no box drawing, so it pastes into tickets and greps well."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def run_rows(loader: Loader, run_ids: Sequence[str]) -> dict[str, RunRow]:
    """The ``etl_runs`` rows of the given runs, by run id."""
    return metadata.runs_by_id(loader, run_ids)


def run_seconds(run: RunRow) -> float | None:
    return run.seconds


def _table_order(name: str) -> int:
    """Tables in the order of the release's files, as the README and dictionary list them."""
    return next((i for i, s in enumerate(FILES) if s.table == name), len(FILES))


# -- status ------------------------------------------------------------------------------------


@dataclass
class TableStatus:
    table: str
    file: str | None
    rows: int | None
    """Counted in the database now; None when the table is missing."""
    run_id: str
    mode: str
    release_time: datetime | None
    loaded_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "file": self.file,
            "rows": self.rows,
            "run_id": self.run_id,
            "mode": self.mode,
            "release_time": iso(self.release_time),
            "loaded_at": iso(self.loaded_at),
        }


@dataclass
class Status:
    database: str
    schema: str
    run: RunRow
    """The newest successful run."""
    tables: list[TableStatus]
    running: RunRow | None = None
    failed_since: RunRow | None = None
    """The newest run, when it failed after the newest success."""
    kept: dict[str, Any] | None = None
    """Where the files kept for deltas are and what they cost (see kept.py); None: off."""

    @property
    def release_time(self) -> datetime | None:
        """The release loaded last: that of the tables the newest load wrote (not the newest
        build time, which a synthetic sample loaded before a real release would win)."""
        loaded = [t for t in self.tables if t.release_time and t.loaded_at]
        if not loaded:
            return utc(self.run.get("release_time"))
        newest = max(t.loaded_at for t in loaded if t.loaded_at)
        return max(t.release_time for t in loaded if t.loaded_at == newest and t.release_time)

    @property
    def releases(self) -> list[datetime]:
        """One time per release the tables come from: files built within SAME_RELEASE of each
        other are one release (a partial load picks files of one folder whose times differ
        by minutes)."""
        return releases_of([t.release_time for t in self.tables if t.release_time])

    @property
    def total_rows(self) -> int:
        return sum(t.rows or 0 for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "schema": self.schema,
            "release_time": iso(self.release_time),
            "mixed_releases": len(self.releases) > 1,
            "run_id": self.run["run_id"],
            "mode": self.run["mode"],
            "loaded_at": iso(utc(self.run.get("finished_at"))),
            "total_rows": self.total_rows,
            "tables": [t.to_json() for t in self.tables],
            "running": _run_brief(self.running),
            "failed_since": _run_brief(self.failed_since),
            "kept_files": self.kept,
        }

    def render(self) -> str:
        run = self.run
        lines = [
            f"release {when(self.release_time)} in {self.database}, schema {self.schema}",
            f"loaded {when(utc(run.get('finished_at')))} by run {run['run_id']} "
            f"({run['mode']} load, {duration(run_seconds(run))})",
        ]
        if len(self.releases) > 1:
            lines.append(
                f"note: the tables come from {len(self.releases)} releases (partial loads "
                "with --files); see the release column"
            )
        if self.failed_since:
            f = self.failed_since
            lines.append(
                f"note: the newest run {f['run_id']} failed "
                f"{when(utc(f.get('finished_at')))}: {f.get('error_message') or 'no message'}"
            )
        if self.running:
            lines.append(
                f"note: run {self.running['run_id']} is running since "
                f"{when(utc(self.running.get('started_at')))}"
            )
        rows = [
            [
                t.table,
                "MISSING" if t.rows is None else count(t.rows),
                t.file or "-",
                when(t.release_time),
                t.run_id,
            ]
            for t in self.tables
        ]
        rows.append(["total", count(self.total_rows), "", "", ""])
        lines += ["", table_text(["table", "rows", "file", "release", "run"], rows, {1})]
        if self.kept is not None:
            lines += ["", kept_line(self.kept)]
        return "\n".join(lines)


def kept_line(kept: dict[str, Any]) -> str:
    """One line on the files kept for the next delta."""
    mib = 1024 * 1024
    return (
        f"kept files for deltas: {kept['files']} in {kept['path']}, "
        f"{kept['bytes'] / mib:,.1f} MiB of their own "
        f"({kept['apparent_bytes'] / mib:,.1f} MiB counting hard links to the sources)"
    )


SAME_RELEASE = timedelta(hours=12)
"""Files of one release are built within hours of each other; releases are days apart."""


def releases_of(times: Sequence[datetime]) -> list[datetime]:
    """The distinct releases among file build times: the newest time of each cluster of
    times no more than SAME_RELEASE apart."""
    clusters: list[datetime] = []
    for moment in sorted(times):
        if clusters and moment - clusters[-1] <= SAME_RELEASE:
            clusters[-1] = moment
        else:
            clusters.append(moment)
    return clusters


def _file_time(record: FileRow) -> datetime | None:
    """The build time of the file a table was loaded from, as a release is dated."""
    return record.gzip_mtime or record.modified


def _run_brief(run: RunRow | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run_id": run["run_id"],
        "mode": run["mode"],
        "status": run["status"],
        "started_at": iso(utc(run.get("started_at"))),
        "finished_at": iso(utc(run.get("finished_at"))),
        "error": run.get("error_message"),
    }


def status(loader: Loader) -> Status:
    """What the database holds now; NotLoadedError when no run has loaded anything."""
    state = loader.loaded_state()
    latest = loader.runs(limit=1, status="succeeded")
    if not state or not latest:
        raise NotLoadedError(
            f"nothing loaded in {loader.describe()}, schema {loader.schema}",
            hint=NOT_LOADED_HINT,
        )
    runs = run_rows(loader, sorted({f.run_id for f in state.values()}))
    tables = []
    for name in sorted(state, key=_table_order):
        record = state[name]
        run = runs.get(record.run_id)
        tables.append(
            TableStatus(
                table=name,
                file=record.file_name,
                rows=loader.count_rows(name) if loader.table_exists(name) else None,
                run_id=record.run_id,
                mode=run.mode if run else "",
                # The table's own file, not its run's newest file: a run of several files
                # is dated by the newest of them, which says nothing of this one.
                release_time=_file_time(record) or (run.release_time if run else None),
                loaded_at=run.finished_at if run else None,
            )
        )
    newest = loader.runs(limit=1)
    running = loader.runs(limit=1, status="running")
    failed = newest[0] if newest and newest[0]["status"] == "failed" else None
    return Status(
        database=loader.describe(),
        schema=loader.schema,
        run=latest[0],
        tables=tables,
        running=running[0] if running else None,
        failed_since=failed,
    )


# -- history -----------------------------------------------------------------------------------


@dataclass
class RunSummary:
    run: RunRow
    tables: int = 0
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None
    unchanged: int | None = None
    files: list[FileRow] = field(default_factory=list)
    """Per-table records, filled only for a single run's details."""

    def to_json(self) -> dict[str, Any]:
        run = self.run
        out: dict[str, Any] = {
            "run_id": run["run_id"],
            "mode": run["mode"],
            "strategy": run.get("strategy"),
            "status": run["status"],
            "started_at": iso(utc(run.get("started_at"))),
            "finished_at": iso(utc(run.get("finished_at"))),
            "duration_seconds": _round(run_seconds(run)),
            "release_time": iso(utc(run.get("release_time"))),
            "source": run.get("source"),
            "tool_version": run.get("tool_version"),
            "host": run.get("host"),
            "error": run.get("error_message"),
            "tables": self.tables,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
        }
        if self.files:
            out["files"] = [_file_json(f) for f in self.files]
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _file_json(record: FileRow) -> dict[str, Any]:
    return {
        "table": record["table_name"],
        "file": record.get("file_name"),
        "size": record.get("size"),
        "sha256": record.get("sha256"),
        "rows_read": record.get("rows_read"),
        "rows_loaded": record.get("rows_loaded"),
        "rows_rejected": record.get("rows_rejected"),
        "inserted": record.get("rows_inserted"),
        "updated": record.get("rows_updated"),
        "deleted": record.get("rows_deleted"),
        "unchanged": record.get("rows_unchanged"),
        "seconds": record.get("duration_seconds"),
        "skipped": record.get("skipped"),
    }


_SUMS = ("rows_loaded", "rows_rejected", "rows_inserted", "rows_updated", "rows_deleted")


def history(
    loader: Loader, limit: int = 20, status: RunStatus | None = None, run_id: str | None = None
) -> list[RunSummary]:
    """Past runs, newest first, with what each did to the tables; one run's details by id."""
    if not loader.table_exists(sql.RUNS):
        # Never written to: more likely a wrong --db-uri or --schema than an empty history.
        raise NotLoadedError(
            f"no runs recorded in {loader.describe()}, schema {loader.schema}",
            hint=NOT_LOADED_HINT,
        )
    if run_id is not None:
        runs = list(run_rows(loader, [run_id]).values())
        if not runs:
            raise UsageError(f"no run {run_id!r} in {loader.describe()}, schema {loader.schema}")
    else:
        runs = loader.runs(limit=limit, status=status)
    totals = _file_totals(loader, [r["run_id"] for r in runs])
    summaries = []
    for run in runs:
        summary = RunSummary(run, **totals.get(run["run_id"], {}))
        if run_id is not None:
            summary.files = sorted(
                loader.run_files(run_id), key=lambda f: _table_order(f["table_name"])
            )
        summaries.append(summary)
    return summaries


def _file_totals(loader: Loader, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per run: tables touched and summed row counts, in one aggregate query."""
    return metadata.file_totals(loader, run_ids)


@dataclass
class History:
    """Past runs, newest first (``history``); one run with its files when asked by id."""

    runs: list[RunSummary]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.runs]

    def render(self) -> str:
        return render_history(self.runs)


def render_history(summaries: Sequence[RunSummary]) -> str:
    if not summaries:
        return "no runs match"
    if len(summaries) == 1 and summaries[0].files:
        return _render_run(summaries[0])
    rows = []
    for s in summaries:
        run = s.run
        rows.append(
            [
                run["run_id"],
                run["mode"],
                run["status"],
                when(utc(run.get("started_at"))),
                duration(run_seconds(run)),
                str(s.tables),
                count(s.rows_loaded),
                count(s.inserted),
                count(s.updated),
                count(s.deleted),
            ]
        )
    headers = [
        "run",
        "mode",
        "status",
        "started",
        "duration",
        "tables",
        "rows",
        "inserted",
        "updated",
        "deleted",
    ]
    text = table_text(headers, rows, {4, 5, 6, 7, 8, 9})
    failures = [
        f"{s.run['run_id']}: {s.run['error_message']}"
        for s in summaries
        if s.run["status"] == "failed" and s.run.get("error_message")
    ]
    if failures:
        text += "\n\nfailures:\n" + "\n".join(f"  {f}" for f in failures)
    return text


def _render_run(summary: RunSummary) -> str:
    run = summary.run
    lines = [
        f"run {run['run_id']} {run['status']}: {run['mode']} load"
        + (f" ({run['strategy']})" if run.get("strategy") else ""),
        f"started {when(utc(run.get('started_at')))}, took {duration(run_seconds(run))}, "
        f"tool {run.get('tool_version')} on {run.get('host')}",
        f"release {when(utc(run.get('release_time')))} from {run.get('source')}",
    ]
    if run.get("error_message"):
        lines.append(f"error: {run['error_message']}")
    rows = [
        [
            f["table_name"],
            f.get("file_name") or "-",
            "skipped" if f.get("skipped") else count(f.get("rows_loaded")),
            count(f.get("rows_rejected")),
            count(f.get("rows_inserted")),
            count(f.get("rows_updated")),
            count(f.get("rows_deleted")),
            duration(f.get("duration_seconds")),
        ]
        for f in summary.files
    ]
    headers = ["table", "file", "rows", "rejected", "inserted", "updated", "deleted", "duration"]
    lines += ["", table_text(headers, rows, {2, 3, 4, 5, 6, 7})]
    return "\n".join(lines)


# -- schema --json -----------------------------------------------------------------------------


def dictionary_json() -> list[dict[str, Any]]:
    """The data dictionary as data: every table, its source file, keys, indexes and columns."""
    from py_load_medgen.release.schema import indexes

    out = []
    for spec in FILES:
        out.append(
            {
                "table": spec.table,
                "files": list(spec.served_names),
                "description": spec.description,
                "natural_key": list(spec.natural_key),
                "indexes": [
                    {"name": i.name, "columns": list(i.columns), "unique": i.unique}
                    for i in indexes(spec)
                ],
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type.value,
                        "source_column": c.source,
                        "source_aliases": list(c.aliases),
                        "required": c.required,
                        "identifier": c.identifier,
                        "indexed": c.indexed,
                        "description": c.description,
                    }
                    for c in spec.columns
                ],
            }
        )
    return out


def store_change_report(loader: Loader, run_id: str, report: ChangeReport) -> None:
    """Keep ``report`` with run ``run_id``; call it inside the transaction that publishes the
    run's changes, so the report commits with them or not at all."""
    loader.record_changes(run_id, json.dumps(report.to_json(), sort_keys=True))


def stored_change_report(loader: Loader, run_id: str) -> ChangeReport | None:
    """The change report kept with a run; None when the run kept none (a full load, a run
    of an older version of the tool, or an unknown run)."""
    text = loader.run_changes(run_id)
    return ChangeReport.from_json(json.loads(text)) if text else None
