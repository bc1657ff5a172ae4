"""The command line with a fault armed: the crash tests' way to stop a run at an exact point.

``python tests/fault_launcher.py KILL:EVENT[@TABLE][:N] -- load ...`` runs the CLI with a
listener on the run's events that kills the process with SIGKILL the N-th time EVENT (for
TABLE) is emitted, as an operator's ``kill -9`` would, at a point chosen exactly.
``PAUSE:EVENT[@TABLE][:N]`` instead writes the file named by ``--marker PATH`` (before the
``--``) and waits there for the test's signal. The hook lives here, in test support, and is
installed through ``events.subscribe``: nothing of it ships in the package.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from py_load_medgen import events
from py_load_medgen.cli import main


class Fault:
    def __init__(self, spec: str, marker: Path | None = None) -> None:
        action, _, rest = spec.partition(":")
        event, _, nth = rest.partition(":")
        self.event, _, self.table = event.partition("@")
        if self.event not in events.KINDS:
            raise SystemExit(f"unknown event {self.event!r}; events: {', '.join(events.KINDS)}")
        self.action, self.nth, self.seen = action.upper(), int(nth or 1), 0
        self.marker = marker
        self.lock = threading.Lock()

    def __call__(self, event: events.Event) -> None:
        if event.kind != self.event or (self.table and event.data.get("table") != self.table):
            return
        with self.lock:
            self.seen += 1
            if self.seen != self.nth:
                return
        if self.action == "KILL":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.marker is not None:
            self.marker.write_text(str(os.getpid()))
        time.sleep(60)  # the test signals us long before this runs out


def launch(argv: list[str]) -> int:
    spec, *rest = argv
    marker: Path | None = None
    if rest[:1] == ["--marker"]:
        marker, rest = Path(rest[1]), rest[2:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    events.subscribe(Fault(spec, marker))
    return main(rest)


def command(fault: str | None, *cli_args: Any, marker: Path | None = None) -> list[str]:
    """The argv that runs the CLI with ``fault`` armed (or plainly, without one)."""
    if fault is None:
        return [sys.executable, "-m", "py_load_medgen.cli", *map(str, cli_args)]
    # Run as a script, so the child needs no import path to the tests package.
    prefix = [sys.executable, str(Path(__file__).resolve()), fault]
    if marker is not None:
        prefix += ["--marker", str(marker)]
    return [*prefix, "--", *map(str, cli_args)]


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1:]))
