"""Progress display: bars on a terminal, throttled log lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from py_load_medgen import events, logs, progress
from py_load_medgen.load.base import RunRecord, TableLoad
from py_load_medgen.pipeline import RunResult
from tests.helpers import run_cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_listeners() -> Iterator[None]:
    before = list(events._listeners)
    yield
    assert events._listeners == before, "a display was left subscribed"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    logs.setup_logging("INFO", "json")

    def records() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.startswith("{")]

    yield records
    logs.setup_logging("INFO", "text")


def feed(view: progress._View, kind: events.Kind, **data: Any) -> None:
    view.handle(events.Event(kind, data))


# -- which view -------------------------------------------------------------------------------


def test_choice_of_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    assert progress.choose(quiet=False, log_format="text", stream=Terminal()) == progress.BARS
    assert progress.choose(quiet=False, log_format="text", stream=io.StringIO()) == progress.LINES
    # JSON logs are for programs: bars between their lines would corrupt them.
    assert progress.choose(quiet=False, log_format="json", stream=Terminal()) == progress.LINES
    assert progress.choose(quiet=True, log_format="text", stream=Terminal()) == progress.NONE
    monkeypatch.setenv("TERM", "dumb")
    assert progress.choose(quiet=False, log_format="text", stream=Terminal()) == progress.LINES


def test_quiet_subscribes_nothing() -> None:
    with progress.display(quiet=True, stream=Terminal()):
        assert not events._listeners


def test_display_subscribes_for_the_block_only() -> None:
    with progress.display(stream=io.StringIO(), interval=60):
        assert len(events._listeners) == 1
    assert not events._listeners


# -- plain lines ------------------------------------------------------------------------------


def test_lines_are_throttled_per_file(json_logs: Any) -> None:
    clock = Clock()
    view = progress.LinesView(interval=10, clock=clock)
    feed(view, "file_started", table="concepts", file="NAMES.RRF.gz", size=4_000_000)
    feed(view, "phase", phase="stage")
    feed(view, "bytes_read", table="concepts", bytes=1_000_000)
    clock.now += 5
    view.tick()
    assert json_logs() == []  # a file that is quick leaves no progress lines

    clock.now += 5
    feed(view, "bytes_read", table="concepts", bytes=1_000_000)
    view.tick()
    view.tick()  # at most one line per file per interval
    (line,) = json_logs()
    assert line["message"].startswith("NAMES.RRF.gz: stage 2.0 MB of 4.0 MB (50%)")
    assert "200.0 kB/s" in line["message"]
    assert line["percent"] == 50.0
    assert line["bytes_per_second"] == 200_000

    clock.now += 10
    feed(view, "phase", phase="index")
    view.tick()
    (line,) = json_logs()
    assert line["message"].startswith("NAMES.RRF.gz: index 2.0 MB of 4.0 MB")

    feed(view, "file_done", table="concepts", rows=100_000, seconds=21.0)
    clock.now += 30
    view.tick()
    assert json_logs() == []  # finished work is the pipeline's to report, once


def test_a_silent_run_phase_still_shows_signs_of_life(json_logs: Any) -> None:
    clock = Clock()
    view = progress.LinesView(interval=10, clock=clock)
    feed(view, "phase", phase="publish")
    clock.now += 9
    view.tick()
    assert json_logs() == []
    clock.now += 1
    view.tick()
    clock.now += 12
    view.tick()
    messages = [r["message"] for r in json_logs()]
    assert messages == ["publish: 10s so far", "publish: 22s so far"]


def test_lines_from_the_ticker_thread_carry_the_run_context(json_logs: Any) -> None:
    clock = Clock()
    view = progress.LinesView(interval=10, clock=clock)

    def run() -> None:  # a run in its own context, as the pipeline sets it
        logs.RUN_ID.set("run-1")
        logs.RELEASE.set("2026-01-05T00:00:00+00:00")
        with logs.phase("stage"):
            feed(view, "file_started", table="concepts", file="NAMES.RRF.gz", size=10)

    import contextvars

    contextvars.copy_context().run(run)
    clock.now += 11
    ticker = threading.Thread(target=view.tick)  # a thread with none of that context
    ticker.start()
    ticker.join()
    (line,) = json_logs()
    assert (line["run_id"], line["release"], line["phase"]) == (
        "run-1",
        "2026-01-05T00:00:00+00:00",
        "stage",
    )


def test_bytes_without_file_started_are_tracked(json_logs: Any) -> None:
    clock = Clock()
    view = progress.LinesView(interval=10, clock=clock)
    feed(view, "phase", phase="validate")
    feed(view, "bytes_read", table="concepts", bytes=3_000)
    feed(view, "bytes_read", table="relationships", bytes=1_000)
    clock.now += 10
    view.tick()
    (line,) = json_logs()  # the first file ended when the second began
    assert line["message"].startswith("relationships: validate 1.0 kB")


def test_downloads_report_through_the_callback(json_logs: Any) -> None:
    clock = Clock()
    view = progress.LinesView(interval=10, clock=clock)
    unsubscribe = events.subscribe(view.handle)
    try:
        progress.download_callback("MGCONSO.RRF.gz", 0, 8_000_000)
        clock.now += 10
        progress.download_callback("MGCONSO.RRF.gz", 2_000_000, 8_000_000)
        view.tick()
        progress.download_callback("MGCONSO.RRF.gz", 8_000_000, 8_000_000)
        clock.now += 10
        view.tick()
    finally:
        unsubscribe()
    (line,) = json_logs()
    assert line["message"].startswith("MGCONSO.RRF.gz: download 2.0 MB of 8.0 MB (25%)")


# -- bars -------------------------------------------------------------------------------------


def bars_run(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    screen = Terminal()
    with progress.display(stream=screen):
        events.emit("phase", phase="fetch")
        events.emit("file_started", table="concepts", file="NAMES.RRF.gz", size=2_000_000)
        events.emit("phase", phase="stage")
        events.emit("bytes_read", table="concepts", bytes=2_000_000)
        events.emit("phase", phase="index")
        events.emit("file_done", table="concepts", rows=120_000, seconds=2.0)
        events.emit("phase", phase="publish")
    return screen.getvalue()


def test_bars_show_files_bytes_and_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = bars_run(monkeypatch, None)
    assert "NAMES.RRF.gz" in screen
    assert "2.0 MB/2.0 MB" in screen
    assert "120,000 rows 60,000 rows/s" in screen
    assert "\x1b[3" in screen  # coloured


def test_bars_honour_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = bars_run(monkeypatch, "1")
    assert "120,000 rows" in screen
    assert "\x1b[3" not in screen  # no colour escapes (cursor movement remains)


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def fake_load(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the load itself; record how the display was asked for."""
    from py_load_medgen import runner

    calls: list[dict[str, Any]] = []
    real_display = progress.display

    def display(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_display(**kwargs)

    def load(*_args: Any, **_kwargs: Any) -> RunResult:
        events.emit("file_started", table="concepts", file="NAMES.RRF.gz", size=1)
        events.emit("file_done", table="concepts", rows=1, seconds=0.1)
        run = RunRecord("run-x", "full", "swap", "0", "here", status="succeeded")
        return RunResult(run, [TableLoad("concepts", rows_loaded=1)])

    monkeypatch.setattr(progress, "display", display)
    monkeypatch.setattr(runner, "load", load)
    return calls


def test_load_shows_progress_unless_quiet(
    fake_load: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MEDGEN_QUIET", raising=False)
    assert run_cli("load", "--source", str(tmp_path), "--db-uri", "duckdb:///x.duckdb") == 0
    assert run_cli("load", "-q", "--source", str(tmp_path), "--db-uri", "duckdb:///x") == 0
    monkeypatch.setenv("MEDGEN_QUIET", "1")
    assert run_cli("load", "--source", str(tmp_path), "--db-uri", "duckdb:///x.duckdb") == 0
    assert [c["quiet"] for c in fake_load] == [False, True, True]


def test_quiet_from_the_config_file(
    fake_load: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MEDGEN_QUIET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text("[load]\nquiet = true\n")
    args = ("load", "--config", str(config), "--source", str(tmp_path), "--db-uri", "duckdb:///x")
    assert run_cli(*args) == 0
    assert fake_load[-1]["quiet"] is True


def test_every_log_record_carries_run_release_and_phase(json_logs: Any) -> None:
    logs.setup_logging("INFO", "json")
    logging.getLogger("py_load_medgen.test").info("outside any run")
    logs.RUN_ID.set("r-2")
    logs.RELEASE.set("2026-02-01T00:00:00+00:00")
    with logs.phase("publish"):
        logging.getLogger("py_load_medgen.test").info("inside")
    outside, inside = json_logs()
    assert {"run_id", "release", "phase"} <= set(outside)
    assert (inside["run_id"], inside["release"], inside["phase"]) == (
        "r-2",
        "2026-02-01T00:00:00+00:00",
        "publish",
    )
    # A later command starts clean: no run id left over from this one.
    logs.setup_logging("INFO", "json")
    logging.getLogger("py_load_medgen.test").info("next command")
    (after,) = json_logs()
    assert after["run_id"] is None


def test_a_malformed_event_never_reaches_the_load() -> None:
    view = progress.LinesView(interval=10)
    feed(view, "file_started", file="NAMES.RRF.gz")  # no table
    feed(view, "bytes_read", table="concepts", bytes="many")
    feed(view, cast(events.Kind, "something_new"), anything=1)
