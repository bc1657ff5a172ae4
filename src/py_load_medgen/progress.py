"""Progress of a run on stderr: live bars on a terminal, periodic log lines anywhere else.

The pipeline announces what it does through ``events`` and never waits on whoever listens.
This module is that listener for the command line: ``display()`` subscribes a view for the
length of a command and removes it afterwards. On a terminal the view is a set of rich
progress bars (one per file and download, one for the run's phase); on a pipe, a file or a
journal it is a log line per active file at most every ``interval`` seconds, so a cron job's
log shows a long load advancing without a line per megabyte.

Events understood (the others of ``events.Kind`` are ignored):

- ``phase(phase)``: a phase starts. Inside a file (between ``file_started`` and
  ``file_done``) it is that file's phase (stage, index), otherwise the run's (fetch, publish...).
- ``file_started(table, file, size)``, ``file_done(table, rows, seconds)``.
- ``bytes_read(table, bytes)``: raw (compressed) bytes read while parsing, an increment.
- ``download(file, done, total)``: bytes of a download so far; see ``download_callback``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from py_load_medgen import events
from py_load_medgen.events import Event

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0
"""Seconds between two plain progress lines about the same file."""

BARS, LINES, NONE = "bars", "lines", "none"


def download_callback(file: str, done: int, total: int | None) -> None:
    """A download progress callback (file name, bytes so far, total) that feeds the display.

    Pass it wherever a downloader takes a progress callable; it becomes a ``download`` event.
    """
    events.emit("download", file=file, done=done, total=total)


def no_color() -> bool:
    """Whether the user asked for no colour (https://no-color.org: any non-empty NO_COLOR)."""
    return bool(os.environ.get("NO_COLOR"))


def choose(*, quiet: bool, log_format: str, stream: TextIO) -> str:
    """Which view suits this stream: ``bars``, ``lines`` or ``none``."""
    if quiet:
        return NONE
    # JSON logs are read by programs: bars drawn between their lines would corrupt them.
    if log_format == "text" and _is_terminal(stream):
        return BARS
    return LINES


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # closed or file-less streams
        return False


@contextlib.contextmanager
def display(
    *,
    quiet: bool = False,
    log_format: str = "text",
    stream: TextIO | None = None,
    interval: float = DEFAULT_INTERVAL,
) -> Iterator[None]:
    """Show the progress of whatever runs inside the ``with`` block on ``stream`` (stderr)."""
    target = stream if stream is not None else sys.stderr
    kind = choose(quiet=quiet, log_format=log_format, stream=target)
    if kind == NONE:
        yield
        return
    view: _View = BarsView(stream) if kind == BARS else LinesView(interval)
    unsubscribe = events.subscribe(view.handle)
    view.start()
    failed = True
    try:
        yield
        failed = False
    finally:
        unsubscribe()
        view.stop(failed=failed)


# -- what is going on ------------------------------------------------------------------------


@dataclass
class Work:
    """One file being parsed and loaded, or one download."""

    key: str
    name: str
    kind: str
    """``file`` or ``download``."""
    total: int | None
    started: float
    phase: str = "stage"
    done_bytes: int = 0
    rows: int = 0
    finished: bool = False
    seconds: float | None = None
    last_line: float = field(default=0.0)

    def rate(self, amount: int, now: float) -> float:
        elapsed = (self.seconds if self.seconds is not None else now - self.started) or 0.0
        return amount / elapsed if elapsed > 0 else 0.0


class _View:
    """Keeps the state of the run from events; subclasses render it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.work: dict[str, Work] = {}
        self.run_phase: str | None = None
        self.idle_since = clock()
        """When the run last started a phase or finished a piece of work."""
        self.open_file: str | None = None
        """The file between its file_started and file_done: phases then belong to it."""

    def start(self) -> None:
        """Begin rendering."""

    def stop(self, *, failed: bool = False) -> None:
        """Stop rendering; called once, after the last event."""

    def handle(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is None:
            return
        try:
            with self.lock:
                handler(**event.data)
        except Exception:  # a display must never fail the load it displays
            log.debug("progress display: cannot show %s", event, exc_info=True)

    # -- state changes; subclasses extend them to render -----------------------------------

    def on_phase(self, phase: str, **_: Any) -> None:
        work = self.work.get(self.open_file) if self.open_file else None
        if work is not None:
            work.phase = phase
            self.file_changed(work)
            return
        self.run_phase = phase
        self.idle_since = self.clock()
        self.run_phase_changed(phase)

    def on_file_started(self, table: str, file: str, size: int | None = None, **_: Any) -> None:
        work = Work(table, file, "file", size, self.clock())
        self.work[table] = work
        self.open_file = table
        self.work_added(work)

    def on_bytes_read(self, table: str, bytes: int, **_: Any) -> None:
        work = self.work.get(table)
        if work is None or work.finished:
            # A file read without file_started (a dry run validates without loading): track it
            # from its first bytes, with an unknown size.
            self._finish_implicit()
            work = Work(table, table, "file", None, self.clock(), phase=self.run_phase or "read")
            self.work[table] = work
            self.work_added(work)
        work.done_bytes += bytes
        self.work_advanced(work)

    def on_file_done(
        self, table: str, rows: int | None = None, seconds: float | None = None, **_: Any
    ) -> None:
        work = self.work.get(table)
        if work is None:
            return
        work.finished = True
        work.rows = rows if rows is not None else work.rows
        work.seconds = seconds if seconds is not None else self.clock() - work.started
        if self.open_file == table:
            self.open_file = None
        self.idle_since = self.clock()
        self.work_finished(work)

    def on_download(self, file: str, done: int, total: int | None = None, **_: Any) -> None:
        key = f"download:{file}"
        work = self.work.get(key)
        if work is None:
            work = Work(key, file, "download", total, self.clock(), phase="download")
            self.work[key] = work
            self.work_added(work)
        work.done_bytes = done
        work.total = total if total is not None else work.total
        if work.total is not None and done >= work.total:
            work.finished = True
            work.seconds = self.clock() - work.started
            self.idle_since = self.clock()
            self.work_finished(work)
        else:
            self.work_advanced(work)

    def _finish_implicit(self) -> None:
        for work in self.work.values():
            if work.kind == "file" and not work.finished and work.key != self.open_file:
                work.finished = True
                work.seconds = self.clock() - work.started
                self.work_finished(work)

    # -- rendering hooks -------------------------------------------------------------------

    def run_phase_changed(self, phase: str) -> None: ...

    def work_added(self, work: Work) -> None: ...

    def work_advanced(self, work: Work) -> None: ...

    def file_changed(self, work: Work) -> None: ...

    def work_finished(self, work: Work) -> None: ...


def _size(n: float) -> str:
    return decimal(int(n))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def describe(work: Work, now: float) -> tuple[str, dict[str, Any]]:
    """A one-line account of a piece of work, and the same as structured log fields."""
    details = []
    fields: dict[str, Any] = {
        "file": work.name,
        "work_phase": work.phase,
        "bytes": work.done_bytes,
        "total_bytes": work.total,
        "bytes_per_second": round(work.rate(work.done_bytes, now)),
        "elapsed_seconds": round(now - work.started, 1),
    }
    if work.total:
        share = min(work.done_bytes / work.total, 1.0)
        details.append(f"{_size(work.done_bytes)} of {_size(work.total)} ({share:.0%})")
        fields["percent"] = round(share * 100, 1)
    elif work.done_bytes:
        details.append(_size(work.done_bytes))
    if work.done_bytes:
        details.append(f"{_size(work.rate(work.done_bytes, now))}/s")
    if work.rows:
        details.append(f"{work.rows:,} rows ({work.rate(work.rows, now):,.0f} rows/s)")
        fields["rows"] = work.rows
        fields["rows_per_second"] = round(work.rate(work.rows, now))
    details.append(f"{_duration(now - work.started)} so far")
    return f"{work.name}: {work.phase} " + ", ".join(details), fields


# -- plain lines ------------------------------------------------------------------------------


class LinesView(_View):
    """Periodic log lines: at most one per active file (or per run phase) every ``interval``.

    A ticker thread writes them, so a file or phase that goes silent for minutes (an index
    build, the publishing transaction) still shows signs of life. Each line is logged in the
    context of the latest event, so it carries the run id, release and phase like any other.
    """

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(clock)
        self.interval = interval
        self.context: contextvars.Context | None = None
        self.run_line = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def handle(self, event: Event) -> None:
        self.context = contextvars.copy_context()
        super().handle(event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="py-load-medgen-progress")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, *, failed: bool = False) -> None:
        del failed  # the error itself is reported by the command
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(min(self.interval, 1.0)):
            self.tick()

    def tick(self) -> None:
        """Log what is due; the ticker calls it about every second."""
        now = self.clock()
        with self.lock:
            lines = self.due(now)
        if not lines:
            return
        for message, fields in lines:
            if self.context is not None:
                self.context.run(log.info, message, extra=fields)
            else:
                log.info(message, extra=fields)

    def due(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """The lines to log at ``now``: active work not reported for ``interval`` seconds."""
        lines = []
        active = [w for w in self.work.values() if not w.finished]
        for work in active:
            since = work.last_line or work.started
            if now - since >= self.interval:
                work.last_line = now
                lines.append(describe(work, now))
        if not active and self.run_phase is not None:
            since = max(self.idle_since, self.run_line)
            if now - since >= self.interval:
                self.run_line = now
                seconds = now - self.idle_since
                lines.append(
                    (
                        f"{self.run_phase}: {_duration(seconds)} so far",
                        {"elapsed_seconds": round(seconds, 1)},
                    )
                )
        return lines

    def run_phase_changed(self, phase: str) -> None:
        if phase not in ("stage", "index"):
            log.debug("phase %s started", phase)


# -- bars on a terminal -----------------------------------------------------------------------


class BarsView(_View):
    """rich progress bars on stderr: one per file and download, one for the run's phase."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        console = (
            Console(stderr=True, no_color=no_color(), highlight=False)
            if stream is None
            else Console(file=stream, no_color=no_color(), highlight=False)
        )
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓" if not console.no_color else "✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            _BytesColumn(),
            _RowsColumn(),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )
        self.tasks: dict[str, TaskID] = {}
        self.run_task = self.progress.add_task("run: starting", total=None, kind="run")

    def start(self) -> None:
        self.progress.start()

    def stop(self, *, failed: bool = False) -> None:
        if failed:
            # Leave the bars where the run stopped; the error follows them on stderr.
            for key, task in self.tasks.items():
                if not self.work[key].finished:
                    self.progress.update(task, description=f"{'stopped':<8} {self.work[key].name}")
                    self.progress.stop_task(task)
            self.progress.update(self.run_task, description="run: failed")
            self.progress.stop_task(self.run_task)
        else:
            self.progress.update(self.run_task, description="run: done", total=1, completed=1)
        self.progress.stop()

    @staticmethod
    def _label(work: Work) -> str:
        return f"{work.phase:<8} {work.name}"

    def run_phase_changed(self, phase: str) -> None:
        self.progress.update(self.run_task, description=f"run: {phase}")

    def work_added(self, work: Work) -> None:
        self.tasks[work.key] = self.progress.add_task(
            self._label(work), total=work.total, kind=work.kind, rows=0, seconds=None
        )

    def work_advanced(self, work: Work) -> None:
        self.progress.update(
            self.tasks[work.key], completed=work.done_bytes, total=work.total, rows=work.rows
        )

    def file_changed(self, work: Work) -> None:
        # After staging the bytes are all read; an index build has no measurable progress, so
        # the bar turns indeterminate rather than sit "complete" while work goes on.
        total = work.total if work.phase == "stage" else None
        self.progress.update(self.tasks[work.key], description=self._label(work), total=total)

    def work_finished(self, work: Work) -> None:
        task = self.tasks[work.key]
        total = work.total or work.done_bytes or 1
        self.progress.update(
            task,
            description=f"{'done':<8} {work.name}",
            total=total,
            completed=total,
            rows=work.rows,
            seconds=work.seconds,
        )
        self.progress.stop_task(task)


class _BytesColumn(ProgressColumn):
    """Bytes done of total and bytes per second, for files and downloads."""

    def render(self, task: Task) -> Text:
        if task.fields.get("kind") not in ("file", "download"):
            return Text("")
        seconds = task.fields.get("seconds") or task.elapsed or 0.0
        speed = task.completed / seconds if seconds > 0 else 0.0
        total = f"/{_size(task.total)}" if task.total else ""
        return Text(
            f"{_size(task.completed)}{total} {_size(speed)}/s",
            style="progress.download",
            no_wrap=True,
        )


class _RowsColumn(ProgressColumn):
    """Rows loaded and rows per second, once known."""

    def render(self, task: Task) -> Text:
        rows = task.fields.get("rows") or 0
        if not rows:
            return Text("")
        seconds = task.fields.get("seconds") or task.elapsed or 0.0
        rate = rows / seconds if seconds > 0 else 0.0
        return Text(f"{rows:,} rows {rate:,.0f} rows/s", style="progress.data.speed", no_wrap=True)
