"""One run: lock -> fetch -> stage -> index -> publish -> record.

Nothing reaches the production tables before the single publishing transaction, which also
writes the run's metadata; a run that fails anywhere is recorded as failed and leaves the
previous release untouched.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from py_load_medgen import events, logs
from py_load_medgen.errors import MedgenError, NotLoadedError, UsageError
from py_load_medgen.load import changes, metadata, publish
from py_load_medgen.load.base import Loader
from py_load_medgen.load.metadata import FileRow, RunRecord, TableLoad
from py_load_medgen.parse.stream import EncodedFile, RejectSink
from py_load_medgen.release.files import FILES, FileSpec, spec_for_file
from py_load_medgen.source.base import Source, SourceFile, release_time
from py_load_medgen.version import __version__

log = logging.getLogger(__name__)

Mode = Literal["full", "delta"]
"""full: replace the tables with the release; delta: apply only what changed."""
Strategy = Literal["swap", "truncate"]
"""swap: build new tables and swap them in; truncate: refill the tables in place."""
MODES: tuple[Mode, ...] = get_args(Mode)
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


@dataclass(frozen=True)
class LoadOptions:
    """How a load runs; every field has the command line's default.

    Examples:
        >>> LoadOptions(mode="delta", files=("NAMES.RRF.gz",)).strategy
        'swap'
    """

    mode: Mode = "full"
    strategy: Strategy = "swap"
    files: tuple[str, ...] = ()
    """File or table names to load; empty means every file of the release."""
    schema: str = "medgen"
    raw_records: bool = False
    dry_run: bool = False
    max_bad_rows: int = 100
    strict_schema: bool = False
    rejects_dir: Path = field(default_factory=lambda: Path("rejects"))


@dataclass
class RunResult:
    """What a load did: the run's record and one ``TableLoad`` per table."""

    run: RunRecord
    loads: list[TableLoad]
    dry_run: bool = False

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.loads)

    def to_json(self) -> dict[str, Any]:
        """The run summary ``load --json`` prints."""
        run = self.run
        return {
            "run_id": run.run_id,
            "mode": run.mode,
            "strategy": run.strategy,
            "status": "validated" if self.dry_run else run.status,
            "release_time": run.release_time.isoformat() if run.release_time else None,
            "source": run.source,
            "tables": [
                {
                    "table": t.table,
                    "file": t.file.name if t.file else None,
                    "rows_read": t.rows_read,
                    "rows_loaded": t.rows_loaded,
                    "rows_rejected": t.rows_rejected,
                    "inserted": t.inserted,
                    "updated": t.updated,
                    "deleted": t.deleted,
                    "unchanged": t.unchanged,
                    "unknown_columns": list(t.unknown_columns),
                    "seconds": round(t.duration, 3),
                    "skipped": t.skipped,
                }
                for t in self.loads
            ],
        }

    def render(self) -> str:
        """The run summary ``load`` prints: a line for the run, then one per table."""
        run = self.run
        verb = "dry run (nothing applied)" if self.dry_run else run.status
        lines = [
            f"run {run.run_id} {verb}: {run.mode} load, release {run.release_time or 'unknown'}"
        ]
        width = max((len(t.table) for t in self.loads), default=5)
        if run.mode == "delta":
            heads = ("rows", "inserted", "updated", "deleted", "unchanged")
            lines.append(f"{'table':<{width}}  " + "  ".join(f"{h:>11}" for h in heads) + "  note")
            for t in self.loads:
                values = (t.rows_loaded, t.inserted, t.updated, t.deleted, t.unchanged)
                cells = "  ".join(f"{v or 0:>11,}" for v in values)
                lines.append(
                    f"{t.table:<{width}}  {cells}  {'unchanged file' if t.skipped else ''}"
                )
            return "\n".join(lines)
        lines.append(f"{'table':<{width}}  {'rows':>12}  {'rejected':>8}  {'seconds':>8}")
        for t in self.loads:
            cells = f"{t.rows_loaded:>12,}  {t.rows_rejected:>8,}  {t.duration:>8.2f}"
            lines.append(f"{t.table:<{width}}  {cells}")
        return "\n".join(lines)


Progress = Callable[[str, str, int], None]
"""Called as (table, event, amount): 'bytes' read from a file, 'rows' loaded."""


def select_specs(names: Sequence[str]) -> list[FileSpec]:
    """The specs for ``--files`` (served file names or table names); all when empty."""
    if not names:
        return list(FILES)
    chosen: list[FileSpec] = []
    for name in names:
        spec = spec_for_file(name) or next((s for s in FILES if s.table == name), None)
        if spec is None:
            known = ", ".join(s.name for s in FILES)
            raise UsageError(f"unknown file {name!r} in --files; known files: {known}")
        if spec not in chosen:
            chosen.append(spec)
    return chosen


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def encode(
    file: SourceFile, options: LoadOptions, run_id: str, *, validate_values: bool = False
) -> EncodedFile:
    return EncodedFile(
        file.path,
        file.spec,
        name=file.name,
        max_bad_rows=options.max_bad_rows,
        strict_schema=options.strict_schema,
        raw_records=options.raw_records,
        validate_values=validate_values,
        rejects=RejectSink(options.rejects_dir / run_id),
        on_read=events.bytes_reader(file.spec.table),
    )


def validate_only(source: Source, options: LoadOptions) -> RunResult:
    """--dry-run: parse and check every row and value; no database is touched."""
    run = RunRecord(new_run_id(), options.mode, options.strategy, __version__, source.describe())
    logs.RUN_ID.set(run.run_id)
    specs = select_specs(options.files)
    with logs.phase("fetch"):
        files = source.fetch(specs)
    run.release_time = release_time(files)
    loads = []
    for file in files:
        with logs.phase("validate"):
            started = time.perf_counter()
            encoded = encode(file, options, run.run_id, validate_values=True)
            for _ in encoded.blocks():
                pass
            loads.append(
                _table_load(
                    file,
                    encoded,
                    started,
                    loaded=encoded.stats.rows_read - encoded.stats.rows_rejected,
                )
            )
            log.info(
                "%s: %d rows valid, %d rejected",
                file.name,
                loads[-1].rows_loaded,
                loads[-1].rows_rejected,
            )
    run.status = "validated"
    return RunResult(run, loads, dry_run=True)


def _table_load(file: SourceFile, encoded: EncodedFile, started: float, loaded: int) -> TableLoad:
    return TableLoad(
        table=file.spec.table,
        file=file,
        rows_read=encoded.stats.rows_read,
        rows_loaded=loaded,
        rows_rejected=encoded.stats.rows_rejected,
        unknown_columns=encoded.layout.unknown,
        duration=time.perf_counter() - started,
    )


def run_full(source: Source, loader: Loader, options: LoadOptions) -> RunResult:
    """Stage every selected file, index it, then publish all tables in one transaction."""
    if options.strategy not in STRATEGIES:
        raise UsageError(f"unknown --strategy {options.strategy!r}; use swap or truncate")
    specs = select_specs(options.files)
    run = RunRecord(new_run_id(), "full", options.strategy, __version__, source.describe())
    return _with_run(loader, run, lambda: _full(source, loader, options, run, specs))


def _with_run(loader: Loader, run: RunRecord, body: Callable[[], list[TableLoad]]) -> RunResult:
    logs.RUN_ID.set(run.run_id)
    loader.acquire_lock(run.run_id)
    try:
        publish.ensure_schema(loader)
        metadata.ensure(loader)
        metadata.mark_abandoned_runs(loader, run.run_id)
        for table in emptied_tables(loader):
            log.warning(
                "table %s is empty although run metadata says it was loaded: PostgreSQL resets "
                "unlogged tables after a server crash; a full load restores it",
                table,
            )
        metadata.record_start(loader, run)
        try:
            loads = body()
        except BaseException as exc:
            message = (
                exc.message if isinstance(exc, MedgenError) else f"{type(exc).__name__}: {exc}"
            )
            if isinstance(exc, KeyboardInterrupt):
                message = "interrupted (SIGINT/SIGTERM); rolled back"
            _record_failure(loader, run, logs.scrub(message))
            raise
        _log_summary(run, loads)
        return RunResult(run, loads)
    finally:
        loader.release_lock()


def _log_summary(run: RunRecord, loads: Sequence[TableLoad]) -> None:
    """The one line that says what a run did, with the same totals as structured fields."""
    seconds = ((run.finished_at or datetime.now(UTC)) - run.started_at).total_seconds()
    totals = {
        "tables": len(loads),
        "rows": sum(t.rows_loaded for t in loads),
        "rejected": sum(t.rows_rejected for t in loads),
    }
    changes = {
        name: sum(getattr(t, name) or 0 for t in loads)
        for name in ("inserted", "updated", "deleted")
        if any(getattr(t, name) is not None for t in loads)
    }
    detail = ", ".join(f"{v:,} {k}" for k, v in {**totals, **changes}.items())
    log.info(
        "run %s succeeded in %.1fs (%s load): %s",
        run.run_id,
        seconds,
        run.mode,
        detail,
        extra={"seconds": round(seconds, 3), "mode": run.mode, **totals, **changes},
    )


def emptied_tables(loader: Loader) -> list[str]:
    """Tables the metadata says hold rows but that are empty (unlogged, after a crash)."""
    from py_load_medgen.load.sql import qname

    def empty(table: str) -> bool:
        # LIMIT 1 rather than count(*): the answer must not cost a scan of 48 M rows.
        return not loader.query(f"SELECT 1 FROM {qname(loader.schema, table)} LIMIT 1")

    state = metadata.loaded_state(loader)
    present = loader.tables_present(list(state))
    return [
        table
        for table, record in state.items()
        if (record.rows_loaded or 0) > 0 and table in present and empty(table)
    ]


def _record_failure(loader: Loader, run: RunRecord, message: str) -> None:
    try:
        publish.drop_staging(loader)
        metadata.record_failure(loader, run, message)
    except Exception:  # the original error matters more than a failure to record it
        log.exception("could not record the failure of run %s", run.run_id)


def _full(
    source: Source, loader: Loader, options: LoadOptions, run: RunRecord, specs: list[FileSpec]
) -> list[TableLoad]:
    files = fetch(source, specs, run)
    publish.prepare_staging(loader)
    events.emit("staging_ready", run_id=run.run_id)
    loads = [stage_file(loader, file, options, run.run_id) for file in files]
    with logs.phase("publish"):
        with loader.transaction():
            publish.apply_changes(loader, [f.spec for f in files], strategy=options.strategy)
            metadata.record_success(loader, run, loads)
            events.emit("publish_commit", run_id=run.run_id)
        events.emit("published", run_id=run.run_id)
    return loads


def fetch(source: Source, specs: Sequence[FileSpec], run: RunRecord) -> list[SourceFile]:
    """Obtain the files and record what identifies the release in the run."""
    with logs.phase("fetch"):
        files = source.fetch(specs)
    run.release_time = release_time(files)
    run.tables = tuple(f.spec.table for f in files)
    run.identity = [f.identity() for f in files]
    logs.RELEASE.set(run.release_time.isoformat() if run.release_time else None)
    return files


def stage_file(
    loader: Loader,
    file: SourceFile,
    options: LoadOptions,
    run_id: str,
    *,
    full_indexes: bool = True,
) -> TableLoad:
    """COPY one file into its staging table, then index and analyze it."""
    started = time.perf_counter()
    events.emit("file_started", table=file.spec.table, file=file.name, size=file.size)
    with logs.phase("stage"):
        encoded = encode(file, options, run_id)
        publish.create_staging(loader, file.spec, encoded)
        loaded = loader.bulk_load(file.spec, encoded)
        copy_seconds = time.perf_counter() - started
    with logs.phase("index"):
        events.emit("indexing", table=file.spec.table)
        key = publish.finish_staging(loader, file.spec, encoded, for_delta=not full_indexes)
    load = _table_load(file, encoded, started, loaded)
    load.match_key = key
    events.emit("file_done", table=file.spec.table, rows=loaded, seconds=load.duration)
    if load.rows_rejected:
        log.warning(
            "%s: %d malformed row(s) quarantined in %s",
            file.name,
            load.rows_rejected,
            options.rejects_dir / run_id,
            extra={"table": file.spec.table, "rejected": load.rows_rejected},
        )
    log.info(
        "%s -> %s: %d rows in %.2fs (COPY %.0f rows/s), %d rejected",
        file.name,
        file.spec.table,
        loaded,
        load.duration,
        loaded / copy_seconds if copy_seconds else 0,
        load.rows_rejected,
        extra={
            "table": file.spec.table,
            "file": file.name,
            "rows": loaded,
            "rejected": load.rows_rejected,
            "seconds": round(load.duration, 3),
            "copy_seconds": round(copy_seconds, 3),
            "rows_per_second": round(loaded / copy_seconds) if copy_seconds else None,
        },
    )
    return load


def run_delta(source: Source, loader: Loader, options: LoadOptions) -> RunResult:
    """Apply exactly what changed since the loaded release, all tables in one transaction.

    With ``dry_run`` the changes are counted (staging and comparison run as for a real load)
    and nothing is applied or recorded.
    """
    specs = select_specs(options.files)
    state = metadata.loaded_state(loader)
    if not state:
        raise NotLoadedError(
            f"no release is loaded in schema {options.schema!r} of {loader.describe()}",
            hint="run a full load first: py-load-medgen load --mode full",
        )
    run = RunRecord(new_run_id(), "delta", None, __version__, source.describe())
    if options.dry_run:
        logs.RUN_ID.set(run.run_id)
        loader.acquire_lock(run.run_id)
        try:
            loads = _delta(source, loader, options, run, specs, state)
        finally:
            loader.release_lock()
        run.status = "dry-run"
        return RunResult(run, loads, dry_run=True)
    return _with_run(loader, run, lambda: _delta(source, loader, options, run, specs, state))


def _delta(
    source: Source,
    loader: Loader,
    options: LoadOptions,
    run: RunRecord,
    specs: list[FileSpec],
    state: dict[str, FileRow],
) -> list[TableLoad]:
    emptied = emptied_tables(loader)
    if emptied:
        raise NotLoadedError(
            f"table(s) {', '.join(emptied)} are empty although loaded (a server crash resets "
            "unlogged tables); a delta cannot repair them",
            hint="run a full load: py-load-medgen load --mode full",
        )
    files = fetch(source, specs, run)
    loader.prepare_delta()
    publish.prepare_staging(loader)
    loads: list[TableLoad] = []
    plans: list[tuple[FileSpec, changes.ChangePlan | None]] = []
    """Per staged table, its change capture; None for a table new to the schema."""
    present = loader.tables_present([f.spec.table for f in files])
    try:
        for file in files:
            previous = state.get(file.spec.table)
            exists = file.spec.table in present
            if exists and previous is not None and previous.sha256 == file.sha256:
                loads.append(_unchanged(file, previous))
                log.info("%s: identical to the loaded file; skipped", file.name)
                continue
            load = stage_file(loader, file, options, run.run_id, full_indexes=not exists)
            if not exists:
                # A table new to this schema is published whole, as a full load would.
                load.inserted, load.updated, load.deleted, load.unchanged = (
                    load.rows_loaded,
                    0,
                    0,
                    0,
                )
                plans.append((file.spec, None))
            else:
                key = load.match_key
                recorded = previous.match_key if previous else None
                if key and recorded != ",".join(key):
                    key = None  # production never proved this key unique: compare whole rows
                with logs.phase("compare"):
                    change = changes.plan(loader, file.spec, key, load.rows_loaded)
                    counts = changes.count(loader, change, load.rows_loaded)
                load.match_key = key
                load.inserted, load.updated = counts["inserted"], counts["updated"]
                load.deleted, load.unchanged = counts["deleted"], counts["unchanged"]
                plans.append((file.spec, change))
                log.info(
                    "%s: %d inserted, %d updated, %d deleted, %d unchanged (matched on %s)",
                    file.spec.table,
                    load.inserted,
                    load.updated,
                    load.deleted,
                    load.unchanged,
                    ", ".join(key) if key else "whole rows",
                    extra={"table": file.spec.table, **counts},
                )
            loads.append(load)
        if options.dry_run:
            return loads
        with logs.phase("apply"):
            with loader.transaction():
                for spec, planned in plans:
                    events.emit("delta_apply", table=spec.table)
                    if planned is None:
                        loader.swap([spec])
                    else:
                        changes.apply(loader, planned)
                metadata.record_success(loader, run, loads)
                events.emit("publish_commit", run_id=run.run_id)
            events.emit("published", run_id=run.run_id)
        return loads
    finally:
        for _spec, planned in plans:
            if planned is not None:
                changes.discard(loader, planned)
        if options.dry_run:
            publish.drop_staging(loader)


def _unchanged(file: SourceFile, previous: FileRow) -> TableLoad:
    rows = int(previous.rows_loaded or 0)
    return TableLoad(
        table=file.spec.table,
        file=file,
        rows_loaded=rows,
        inserted=0,
        updated=0,
        deleted=0,
        unchanged=rows,
        match_key=previous.key,
        skipped=True,
    )
