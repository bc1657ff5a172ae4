"""One run: lock -> fetch -> stage -> index -> publish -> record.

Nothing reaches the production tables before the single publishing transaction, which also
writes the run's metadata; a run that fails anywhere is recorded as failed and leaves the
previous release untouched.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from py_load_medgen import events, guards, kept, logs, report
from py_load_medgen import publish as publishing
from py_load_medgen.answers import publish as answers_publish
from py_load_medgen.answers.publish import publish as publish_answers
from py_load_medgen.compare import ChangeSet, CompareOptions, compare_files
from py_load_medgen.compare.report import ChangeCollector
from py_load_medgen.errors import InputError, MedgenError, NotLoadedError, UsageError
from py_load_medgen.load import capture, changes
from py_load_medgen.load.base import Loader
from py_load_medgen.load.metadata import FileRow, RunRecord, TableLoad
from py_load_medgen.parse.stream import EncodedFile, RejectSink
from py_load_medgen.release.files import FileSpec, select_specs
from py_load_medgen.source.base import Source, SourceFile, release_time
from py_load_medgen.version import __version__

log = logging.getLogger(__name__)

Mode = Literal["full", "delta"]
"""full: replace the tables with the release; delta: apply only what changed."""
Strategy = Literal["swap", "truncate"]
"""swap: build new tables and swap them in; truncate: refill the tables in place."""
MODES: tuple[Mode, ...] = get_args(Mode)
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
COMPARE_OPTIONS = CompareOptions()
"""How far a delta's file comparison goes before a table falls back to the database."""


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
    keep_files: bool = True
    """Keep the loaded files for the next delta's file comparison (see kept.py)."""
    kept_dir: Path | None = None
    """Where kept files go; None: ``MEDGEN_KEPT_DIR`` or the user data directory."""
    unlogged: bool = False
    """PostgreSQL: build the tables UNLOGGED (faster to write, emptied by a crash, never
    replicated); by default they are ordinary, durable tables."""
    allow_shrink: bool = False
    """Publish even when a table would keep less than ``shrink_limit`` of its loaded rows."""
    shrink_limit: float = 0.5
    allow_older: bool = False
    """Load a release older than the one loaded (a deliberate rollback)."""

    def __post_init__(self) -> None:
        # The API's front door: a typo like mode="Delta" must not quietly run a full load.
        _check_choice("mode", self.mode, MODES)
        _check_choice("strategy", self.strategy, STRATEGIES)
        if not 0 <= self.shrink_limit <= 1:
            raise UsageError(
                f"shrink_limit must be a fraction from 0 to 1, not {self.shrink_limit!r}"
            )
        if self.max_bad_rows < 0:
            raise UsageError(f"max_bad_rows must be 0 or more, not {self.max_bad_rows!r}")


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise UsageError(
            f"unknown {name} {value!r}; allowed: {', '.join(repr(a) for a in allowed)}"
        )


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
    specs = select_specs(options.files)
    run = RunRecord(new_run_id(), "full", options.strategy, __version__, source.describe())
    loader.unlogged = options.unlogged
    return _with_run(loader, run, lambda: _full(source, loader, options, run, specs))


def _with_run(loader: Loader, run: RunRecord, body: Callable[[], list[TableLoad]]) -> RunResult:
    logs.RUN_ID.set(run.run_id)
    loader.acquire_lock(run.run_id)
    try:
        loader.ensure_metadata()
        loader.mark_abandoned_runs(run.run_id)
        for table in emptied_tables(loader):
            log.warning(
                "table %s is empty although run metadata says it was loaded: PostgreSQL resets "
                "unlogged tables after a server crash; a full load restores it",
                table,
            )
        loader.record_start(run)
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

    state = loader.loaded_state()
    present = loader.tables_present(list(state))
    return [
        table
        for table, record in state.items()
        if (record.get("rows_loaded") or 0) > 0 and table in present and empty(table)
    ]


def _record_failure(loader: Loader, run: RunRecord, message: str) -> None:
    try:
        loader.cleanup()
        loader.record_failure(run, message)
    except Exception:  # the original error matters more than a failure to record it
        log.exception("could not record the failure of run %s", run.run_id)


def _full(
    source: Source, loader: Loader, options: LoadOptions, run: RunRecord, specs: list[FileSpec]
) -> list[TableLoad]:
    files = fetch(source, specs, run)
    state = loader.loaded_state()
    guards.check_older(files, state, allow=options.allow_older)
    loader.prepare_staging(specs)
    events.emit("staging_ready", run_id=run.run_id)
    loads = stage_all(loader, files, options, run.run_id)
    guards.check_shrink(loads, state, limit=options.shrink_limit, allow=options.allow_shrink)
    with logs.phase("publish"):
        _publish_full(loader, run, files, loads, options.strategy)
        events.emit("published", run_id=run.run_id)
    keep_loaded(loader, options, files)
    return loads


def kept_files(loader: Loader, options: LoadOptions) -> kept.KeptFiles | None:
    """The kept files of this database and schema; None when keeping is off."""
    if not options.keep_files:
        return None
    return kept.KeptFiles(kept.root_for(loader.describe(), options.schema, options.kept_dir))


def keep_loaded(loader: Loader, options: LoadOptions, files: Sequence[SourceFile]) -> None:
    """After a published load: keep its files for the next delta's comparison."""
    store = kept_files(loader, options)
    if store is not None:
        store.keep_all((f.spec.table, f.sha256, f.path, f.name) for f in files)


def _publish_full(
    loader: Loader,
    run: RunRecord,
    files: Sequence[SourceFile],
    loads: list[TableLoad],
    strategy: str,
) -> None:
    """Publish every staged table in one transaction whose locks are all taken first.

    A swap needs each table to itself for a moment; readers that keep locking the tables in
    different orders can deny it that for good. After SWAP_PATIENCE the tables are refilled
    in place instead, which takes only the locks row changes take, so no reader is in the way.
    """
    tables = [f.spec.table for f in files]
    unkeyed = [f.spec.table for f, t in zip(files, loads, strict=True) if _unkeyed(f.spec, t)]

    def attempt(how: str, patience: float) -> None:
        replaced, changed = tables, []
        if how == "truncate":
            # Refilled in place, a table needs only the lock its rows' changes take; one
            # created or stripped of its unique key needs the swap's.
            present = loader.tables_present(tables)
            replaced = [t for t in tables if t not in present or t in unkeyed]
            changed = [t for t in tables if t not in replaced]

        def publish_all() -> None:
            loader.apply_changes([f.spec for f in files], strategy=how, unkeyed=unkeyed)
            publish_answers(loader, changed=tables, prebuilt=True)
            loader.record_success(run, loads)
            events.emit("publish_commit", run_id=run.run_id)

        publishing.publish(
            loader,
            run,
            publish_all,
            replaced=replaced,
            changed=changed,
            give_up_after=patience,
            waited_before=time.monotonic() - started,
        )

    started = time.monotonic()
    if strategy != "swap":
        attempt(strategy, publishing.GIVE_UP_AFTER)
        return
    try:
        attempt("swap", publishing.SWAP_PATIENCE)
    except publishing.LocksBusyError:
        log.warning(
            "readers kept the tables locked for %.0fs: refilling them in place instead of "
            "swapping",
            time.monotonic() - started,
        )
        attempt("truncate", publishing.GIVE_UP_AFTER)


def _unkeyed(spec: FileSpec, load: TableLoad) -> bool:
    """Whether this release repeats the table's natural key."""
    return bool(spec.natural_key) and load.match_key is None


class _Job:
    """One piece of work after a table's COPY (its indexes, or a derived table), run on
    whichever connection claims it first: the second connection takes them in order while
    the main one copies, and the main one, once it has copied every file, takes the rest
    rather than wait (at scale 0.1 that was 1.5 s of indexes queued behind `pubmed_links`'
    on the second connection alone)."""

    def __init__(self, run: Callable[[Loader], Any]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._claimed = False
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run_on(self, loader: Loader) -> None:
        with self._lock:
            if self._claimed:
                return
            self._claimed = True
        try:
            self.result = self._run(loader)
        except BaseException as exc:  # re-raised by outcome(), in the main thread
            self.error = exc
        finally:
            self.done.set()

    def drop(self) -> None:
        """Claim the job without running it (the stage failed): nobody will run it now."""
        with self._lock:
            if self._claimed:
                return
            self._claimed = True
        self.done.set()

    def outcome(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


def _in_context(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Loader], Any]:
    """``function(connection, *args, **kwargs)`` in a copy of the caller's context (the run's
    log fields), on whichever connection runs it."""
    context = contextvars.copy_context()

    def run(connection: Loader) -> Any:
        return context.run(function, connection, *args, **kwargs)

    return run


def stage_all(
    loader: Loader, files: Sequence[SourceFile], options: LoadOptions, run_id: str
) -> list[TableLoad]:
    """Stage every file; where the backend offers a second connection, each table is indexed
    and analyzed there while the next file is copied, and so are the answers' derived tables
    built as soon as the tables they read are staged. Once every file is copied, the main
    connection takes its share of what is still queued.

    The staging tables are committed, so the second connection sees them; production is not
    touched until publishing, and on any failure the second connection's work is cancelled
    and waited for before the caller drops the staging tables.
    """
    builds = answers_publish.builds(loader, [f.spec.table for f in files])
    helper = loader.helper() if len(files) > 1 else None
    if helper is None:
        loads = [stage_file(loader, file, options, run_id) for file in files]
        for build in builds:
            answers_publish.run(loader, build)
        return loads
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medgen-index")
    pending: dict[str, _Job] = {}
    jobs: list[_Job] = []
    copied: set[str] = set()

    def queue(job: _Job) -> None:
        jobs.append(job)
        pool.submit(contextvars.copy_context().run, job.run_on, helper)

    def submit_ready() -> None:
        # Taken in order: a build is queued after its inputs' indexes (it reads only their
        # committed rows, so it may also run beside them on the other connection).
        for build in [b for b in builds if b.inputs <= copied]:
            builds.remove(build)
            queue(_Job(_in_context(answers_publish.run, build)))

    try:
        # Biggest first: its indexes, the longest to build, are built while the rest copy.
        for file in sorted(files, key=lambda f: -(f.size or 0)):
            staged = copy_file(loader, file, options, run_id)
            # Announced here, in the main thread, which signals interrupt and faults stop.
            events.emit("indexing", table=file.spec.table)
            job = _Job(_in_context(finish_file, staged, options, run_id, announce=False))
            pending[file.spec.table] = job
            queue(job)
            copied.add(file.spec.table)
            submit_ready()
            for done in jobs:
                if done.done.is_set():
                    done.outcome()  # an index build that failed fails the run now
        for job in jobs:
            job.run_on(loader)  # what the second connection has not started yet
            if job.error is not None:
                job.outcome()  # a failure (or an interrupt) here stops the stage at once
        loads = [pending[file.spec.table].outcome() for file in files]
        for job in jobs:
            job.outcome()
        return loads
    except BaseException:
        for job in jobs:
            job.drop()
        helper.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
        helper.close()


def fetch(source: Source, specs: Sequence[FileSpec], run: RunRecord) -> list[SourceFile]:
    """Obtain the files and record what identifies the release in the run."""
    with logs.phase("fetch"):
        files = source.fetch(specs)
    run.release_time = release_time(files)
    run.tables = tuple(f.spec.table for f in files)
    run.identity = [f.identity() for f in files]
    logs.RELEASE.set(run.release_time.isoformat() if run.release_time else None)
    return files


@dataclass
class Staged:
    """One file copied into its staging table, not yet indexed."""

    file: SourceFile
    encoded: EncodedFile
    started: float
    loaded: int
    copy_seconds: float


def stage_file(
    loader: Loader,
    file: SourceFile,
    options: LoadOptions,
    run_id: str,
    *,
    full_indexes: bool = True,
) -> TableLoad:
    """COPY one file into its staging table, then index and analyze it."""
    staged = copy_file(loader, file, options, run_id)
    return finish_file(loader, staged, options, run_id, full_indexes=full_indexes)


def copy_file(loader: Loader, file: SourceFile, options: LoadOptions, run_id: str) -> Staged:
    started = time.perf_counter()
    events.emit("file_started", table=file.spec.table, file=file.name, size=file.size)
    with logs.phase("stage"):
        encoded = encode(file, options, run_id)
        loader.create_staging(file.spec, encoded)
        loaded = loader.bulk_load(file.spec, encoded)
        copy_seconds = time.perf_counter() - started
    if loaded <= 0:
        # The parser refuses such a file already; a backend that drops rows must not
        # empty a table either.
        raise InputError(
            "no row of the file reached the database; refusing to replace the table with an "
            "empty one",
            file=file.name,
        )
    return Staged(file, encoded, started, loaded, copy_seconds)


def finish_file(
    loader: Loader,
    staged: Staged,
    options: LoadOptions,
    run_id: str,
    *,
    full_indexes: bool = True,
    announce: bool = True,
) -> TableLoad:
    """Index and analyze one staged table (perhaps on a second connection)."""
    file, encoded, started, loaded = staged.file, staged.encoded, staged.started, staged.loaded
    copy_seconds = staged.copy_seconds
    with logs.phase("index"):
        if announce:
            events.emit("indexing", table=file.spec.table)
        if full_indexes:
            key = loader.finish_staging(file.spec, encoded)
        else:
            key = loader.finish_delta_staging(file.spec, encoded)
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
    state = loader.loaded_state()
    if not state:
        raise NotLoadedError(
            f"no release is loaded in schema {options.schema!r} of {loader.describe()}",
            hint="run a full load first: py-load-medgen load --mode full",
        )
    run = RunRecord(new_run_id(), "delta", None, __version__, source.describe())
    loader.unlogged = options.unlogged
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
    guards.check_older(files, state, allow=options.allow_older)
    loader.prepare_delta()
    loader.prepare_staging(specs)
    store = kept_files(loader, options)
    loads: list[TableLoad] = []
    collector = ChangeCollector()
    plans: list[tuple[FileSpec, tuple[str, ...] | None, str]] = []
    """Per changed table: its spec, the key it is matched on, and how its changes were
    staged: 'new' (a table new to the schema), 'file' (a change set) or 'database'."""
    captured: dict[str, capture.ChangePlan] = {}
    """The change plan of each table compared in the database, by table."""
    present = loader.tables_present([f.spec.table for f in files])
    try:
        for file in files:
            previous = state.get(file.spec.table)
            exists = file.spec.table in present
            if exists and previous is not None and previous.get("sha256") == file.sha256:
                loads.append(_unchanged(file, previous))
                log.info("%s: identical to the loaded file; skipped", file.name)
                continue
            if not exists:
                load = stage_file(loader, file, options, run.run_id, full_indexes=True)
                # A table new to this schema is published whole, as a full load would.
                load.inserted, load.updated, load.deleted, load.unchanged = (
                    load.rows_loaded,
                    0,
                    0,
                    0,
                )
                plans.append((file.spec, load.match_key, "new"))
                loads.append(load)
                continue
            change, reason = (
                capture_changes(file, previous, store, options)
                if previous is not None
                else (None, "no earlier load of this table is recorded")
            )
            staged = None
            if change is not None:
                with change:
                    staged, reason = stage_change_set(
                        loader, file, change, previous or {}, options, run
                    )
                    if staged is not None:
                        # After staging: the parser has rejected what is malformed by now.
                        collector.collect(change)
                if staged is None:
                    changes.discard(loader, file.spec)
            if staged is not None:
                loads.append(staged)
                plans.append((file.spec, staged.match_key, "file"))
                continue
            log.info(
                "%s: compared in the database: %s",
                file.spec.table,
                reason,
                extra={"table": file.spec.table, "compare": "database", "reason": reason},
            )
            load, captured[file.spec.table] = _compare_in_database(
                loader, file, options, run, previous or {}
            )
            load.compare_method, load.compare_note = "database", reason
            loads.append(load)
            plans.append((file.spec, load.match_key, "database"))
        if options.dry_run:
            return loads
        guards.check_shrink(loads, state, limit=options.shrink_limit, allow=options.allow_shrink)
        with logs.phase("apply"):
            _publish_delta(loader, run, loads, plans, captured, collector)
            events.emit("published", run_id=run.run_id)
        keep_loaded(loader, options, files)
        return loads
    finally:
        for spec, _key, how in plans:
            if how == "file":
                changes.discard(loader, spec)
            elif how == "database" and spec.table in captured:
                loader.discard_delta(captured[spec.table])
        if options.dry_run:
            loader.cleanup()


def capture_changes(
    file: SourceFile,
    previous: FileRow | dict[str, Any],
    store: kept.KeptFiles | None,
    options: LoadOptions,
) -> tuple[ChangeSet | None, str]:
    """The compare stage of one table: its change set from the kept previous file, or None
    and the reason the table must be compared in the database instead."""
    table = file.spec.table
    if options.raw_records:
        return None, "--raw-records keeps every source line, which only a whole file stages"
    if store is None:
        return None, "keeping files is off (--no-keep-files)"
    sha256 = str(previous.get("sha256") or "")
    old, why = store.find(table, sha256, previous.get("file_name") or file.name, verify=False)
    if old is None:
        return None, why
    # The kept file's hash is checked while the comparison reads it (hashlib lets go of the
    # GIL): checked first, it cost a full-size delta 0.4 s before any comparing began.
    with logs.phase("compare"), ThreadPoolExecutor(1, "medgen-kept-check") as checking:
        trusted = checking.submit(contextvars.copy_context().run, kept.altered, old, sha256)
        change = compare_files(
            file.spec,
            old,
            file.path,
            old_name=previous.get("file_name") or file.name,
            new_name=file.name,
            options=COMPARE_OPTIONS,
            on_read=events.bytes_reader(table),
            # The data lines of the kept file, as the load that read it recorded them.
            old_rows=int(previous.get("rows_read") or 0) or None,
        )
        why = trusted.result()
    if why:
        change.close()
        return None, why
    if not change.compared:
        return None, change.reason or "the files could not be compared"
    log.info(
        "%s: compared with the kept file in %.2fs: %d row(s) deleted, %d inserted",
        table,
        change.seconds,
        change.deleted_count,
        change.inserted_count,
        extra={
            "table": table,
            "compare": "file",
            "seconds": round(change.seconds, 3),
            "deleted_rows": change.deleted_count,
            "inserted_rows": change.inserted_count,
        },
    )
    return change, ""


def stage_change_set(
    loader: Loader,
    file: SourceFile,
    change: ChangeSet,
    previous: FileRow | dict[str, Any],
    options: LoadOptions,
    run: RunRecord,
) -> tuple[TableLoad | None, str]:
    """Stage only the changed rows of one table and count its changes.

    Returns (None, why) when the change set cannot be applied as is (the inserted rows would
    break the key production was proven unique on): the table is then compared in the
    database, which decides how to match it.
    """
    if change.deleted is None or change.inserted is None:
        return None, change.reason or "the files were not compared"
    spec = file.spec
    started = time.perf_counter()
    events.emit("file_started", table=spec.table, file=file.name, size=file.size)
    with logs.phase("stage"):
        loaded, rejected = changes.stage(
            loader,
            spec,
            {"deleted": change.deleted, "inserted": change.inserted},
            max_bad_rows=options.max_bad_rows,
            rejects=RejectSink(options.rejects_dir / run.run_id),
        )
    if (change.new_rows or 0) - rejected <= 0:
        # The same guard as a whole file's: a file without one good row never empties a table.
        raise InputError(
            "no good row in the file; refusing to replace the table with an empty one",
            file=file.name,
        )
    recorded = previous.get("match_key")
    key = tuple(recorded.split(",")) if recorded else None
    if key and not changes.key_stays_unique(loader, spec, key):
        return None, f"the new rows repeat keys ({', '.join(key)}): matching must be decided anew"
    with logs.phase("compare"):
        counts = changes.count(loader, spec, key)
    before = int(previous.get("rows_loaded") or 0)
    rows = before + loaded["inserted"] - loaded["deleted"]
    load = TableLoad(
        table=spec.table,
        file=file,
        rows_read=change.new_rows or 0,
        rows_loaded=rows,
        rows_rejected=rejected,
        inserted=counts["inserted"],
        updated=counts["updated"],
        deleted=counts["deleted"],
        unchanged=rows - counts["inserted"] - counts["updated"],
        match_key=key,
        duration=time.perf_counter() - started + change.seconds,
        compare_method="file",
    )
    events.emit("file_done", table=spec.table, rows=rows, seconds=load.duration)
    _log_counts(load, key, counts)
    return load, ""


def _compare_in_database(
    loader: Loader,
    file: SourceFile,
    options: LoadOptions,
    run: RunRecord,
    previous: FileRow | dict[str, Any],
) -> tuple[TableLoad, capture.ChangePlan]:
    """Stage the whole new file and compare it with production in SQL (the fallback);
    the plan it returns is what applies (or discards) the changes it counted."""
    load = stage_file(loader, file, options, run.run_id, full_indexes=False)
    key = load.match_key
    recorded = previous.get("match_key")
    if key and recorded != ",".join(key):
        key = None  # production never proved this key unique: compare whole rows
    with logs.phase("compare"):
        change = capture.plan(loader, file.spec, key, load.rows_loaded)
        counts = capture.count(loader, change, load.rows_loaded)
    load.match_key = key
    load.inserted, load.updated = counts["inserted"], counts["updated"]
    load.deleted, load.unchanged = counts["deleted"], counts["unchanged"]
    _log_counts(load, key, counts)
    return load, change


def _log_counts(load: TableLoad, key: tuple[str, ...] | None, counts: dict[str, int]) -> None:
    log.info(
        "%s: %d inserted, %d updated, %d deleted, %d unchanged (matched on %s)",
        load.table,
        load.inserted,
        load.updated,
        load.deleted,
        load.unchanged,
        ", ".join(key) if key else "whole rows",
        extra={"table": load.table, **counts},
    )


def _publish_delta(
    loader: Loader,
    run: RunRecord,
    loads: list[TableLoad],
    plans: Sequence[tuple[FileSpec, tuple[str, ...] | None, str]],
    captured: dict[str, capture.ChangePlan],
    collector: ChangeCollector,
) -> None:
    """Apply every table's changes and record the run, in one transaction whose locks are
    all taken first (see ``publish``): rows change in place, so readers are not in the way;
    a new table swapped in, or a key made non-unique, needs the table to itself."""
    replaced = [s.table for s, key, how in plans if how == "new" or (key is None and s.natural_key)]
    changed = [s.table for s, _key, _how in plans if s.table not in replaced]

    def apply_all() -> None:
        for spec, key, how in plans:
            events.emit("delta_apply", table=spec.table)
            if how == "new":
                loader.swap([spec])
            elif how == "file":
                changes.apply(loader, spec, key)
            else:
                loader.apply_delta(captured[spec.table])
        report.store_change_report(loader, run.run_id, collector.finish(loads, new=run.source))
        # Only tables whose rows changed: a file that differs only in its order changes none,
        # and the derived tables it feeds stay as they are.
        moved = {t.table for t in loads if (t.inserted or 0) + (t.updated or 0) + (t.deleted or 0)}
        # A table compared from its files has its changed rows staged: the answers fed by it
        # are refreshed for those concepts only, where they can be.
        changed_cuis = {
            spec.table: query
            for spec, _key, how in plans
            if how == "file" and (query := changes.changed_values(loader, spec, "cui"))
        }
        publish_answers(loader, changed=sorted(moved), changed_cuis=changed_cuis)
        loader.record_success(run, loads)
        events.emit("publish_commit", run_id=run.run_id)

    publishing.publish(loader, run, apply_all, replaced=replaced, changed=changed)


def _unchanged(file: SourceFile, previous: FileRow) -> TableLoad:
    rows = int(previous.rows_loaded or 0)
    return TableLoad(
        table=file.spec.table,
        file=file,
        # The same file as before: its lines, which the next delta's comparison starts from.
        rows_read=int(previous.rows_read or 0),
        rows_loaded=rows,
        inserted=0,
        updated=0,
        deleted=0,
        unchanged=rows,
        match_key=previous.key,
        skipped=True,
    )
