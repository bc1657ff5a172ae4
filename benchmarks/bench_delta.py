"""Delta loads against the full load, in one run, on generated releases.

One database goes through a chain of releases, each derived from the one before:

  1. full load of R1 (the reference time; its files are kept for the next delta);
  2. delta to R2: 1 % order-keeping churn (as NCBI's builds: updates in place, deletions,
     insertions at their sorted position), found by comparing the kept files;
  3. delta to R3: 1 % random churn (new rows scattered);
  4. delta to R4: 0.01 % order-keeping churn;
  5. delta to R4 again: every file identical, nothing read;
  6. delta to R5: R4 with ``medgen_pubmed_lnk.txt.gz`` shuffled (and 0.01 % churn elsewhere):
     the file comparison detects the reshuffle early and compares that table in the database;
  7. delta back to R4 with --no-keep-files: the in-database comparison of every changed
     table (the same shuffled file, the other way round);
  8. delta to R5 again with --no-keep-files: step 6's own work compared in the database,
     the reference for step 6 (no slower than it is the target);
  9. ``verify``: every row of every table compared with the kept files of R5
     (target at scale 1.0: <= 0.5 of the full load).

Targets at scale 1.0 (ratio to the full load): 1 % ordered <= 0.30 on PostgreSQL, 0.50 on
DuckDB; 1 % random <= 0.40 / 0.60; 0.01 % <= 0.15 / 0.25; unchanged <= 0.05; shuffled no
slower than the in-database comparison, peak RSS <= 200 MB in the tool's own process (the
backend's memory for DuckDB is inside it too).

Each line gives the wall time, the CPU time of the tool's process, the CPU time of the
PostgreSQL backends that served the step (sampled from /proc; DuckDB runs inside the tool) and
the tool's peak RSS, with the ratios to the full load of wall time and of all CPU time: the
machine is shared, and wall time alone measures the neighbours as much as the tool.
``--logs DIR`` keeps each step's JSON run log, whose per-table lines say what each stage
cost (comparing, staging, applying, the answers layer).

Usage: python -m benchmarks.bench_delta [--scale 0.1] [--db postgresql|duckdb|both]
       [--logs DIR] [--skip verify] [--last STEP]
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.common import (
    CACHE,
    Measured,
    arguments,
    backends_of,
    release,
    run_measured,
    scratch_database,
    tool,
    tool_env,
)

TARGETS = {
    "postgresql": {
        "ordered": 0.30,
        "random": 0.40,
        "small": 0.15,
        "unchanged": 0.05,
        "verify": 0.50,
    },
    "duckdb": {"ordered": 0.50, "random": 0.60, "small": 0.25, "unchanged": 0.05, "verify": 0.50},
}


def derived(base: Path, name: str, **how: object) -> Path:
    from py_load_medgen.generate import derive_release

    out = CACHE / f"{base.name}-{name}"
    if not (out / ".complete").exists():
        derive_release(base, out, seed=9, **how)  # type: ignore[arg-type]
        (out / ".complete").write_text("ok")
    return out


def chain(scale: float) -> list[Path]:
    r1 = release(scale)
    r2 = derived(r1, "ordered-1", churn=0.01, kind="ordered")
    r3 = derived(r2, "random-1", churn=0.01, kind="random")
    r4 = derived(r3, "ordered-0.01", churn=0.0001, kind="ordered")
    r5 = derived(r4, "shuffled", churn=0.0001, kind="ordered", shuffle=("pubmed_links",))
    return [r1, r2, r3, r4, r5]


class ServerCpu:
    """CPU seconds of the PostgreSQL backends that serve one database, and of their parallel
    workers, while the block runs: the tool's own CPU leaves out the server's, which does most
    of a PostgreSQL load. Sampled from /proc every 0.1 s (Linux, same machine), so a backend
    that lives less than that, or its last 0.1 s, is missed: a lower bound."""

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        postgres = parts.scheme.startswith("postgres")
        self.dbname = parts.path.lstrip("/") if postgres else None
        self.user = parts.username or "postgres"
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ServerCpu:
        if self.dbname is not None and Path("/proc/self/stat").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._sample()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def _sample(self) -> None:
        # A backend's title is "postgres: [cluster name: ]user database host activity".
        ours = f" {self.user} {self.dbname} ".encode()
        worker = b"parallel worker for PID "
        backends: dict[int, float] = {}
        workers: dict[int, tuple[int, float]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                title = Path(entry.path, "cmdline").read_bytes()
                if not title.startswith(b"postgres: "):
                    continue
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / self._tick
            pid = int(entry.name)
            if ours in title:
                backends[pid] = cpu
            elif worker in title:
                after = title.split(worker, 1)[1].split()[0].strip(b"\0")
                workers[pid] = (int(after), cpu)
        for pid, cpu in backends.items():
            self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
        for pid, (leader, used) in workers.items():
            if leader in self.seen:
                self.seen[pid] = max(used, self.seen.get(pid, 0.0))


@dataclass
class Step:
    name: str
    measured: Measured
    server_cpu: float
    """CPU seconds of the PostgreSQL backends (0 on DuckDB, whose engine is in the tool)."""


def run_chain(
    uri: str,
    releases: list[Path],
    kept: Path,
    logs: Path | None = None,
    skip: Sequence[str] = (),
    last: str | None = None,
) -> list[Step]:
    env = tool_env()
    r1, r2, r3, r4, r5 = releases
    log_args = ("--log-format", "json") if logs is not None else ()

    def load(source: Path, *extra: str) -> Measured:
        return run_measured(
            [
                tool(),
                "load",
                "--source",
                str(source),
                "--db-uri",
                uri,
                "--kept-dir",
                str(kept),
                "--rejects-dir",
                str(CACHE / "rejects"),
                *log_args,
                *extra,
            ],
            env=env,
        )

    def verify() -> Measured:
        return run_measured([tool(), "verify", "--db-uri", uri, "--kept-dir", str(kept)], env=env)

    delta = ("--mode", "delta")
    steps: list[tuple[str, Callable[[], Measured]]] = [
        ("full", lambda: load(r1)),
        ("ordered", lambda: load(r2, *delta)),
        ("random", lambda: load(r3, *delta)),
        ("small", lambda: load(r4, *delta)),
        ("unchanged", lambda: load(r4, *delta)),
        ("shuffled", lambda: load(r5, *delta)),
        # R4 is older than R5: going back to it is a deliberate rollback.
        ("in-database", lambda: load(r4, *delta, "--no-keep-files", "--allow-older")),
        # The shuffled step's own work compared in the database: the same files, the same
        # direction (staging a shuffled file and comparing it is not the same work as
        # comparing the sorted one against a shuffled table). The files kept are still R5's.
        ("in-database-same", lambda: load(r5, *delta, "--no-keep-files")),
        ("verify", lambda: verify()),
    ]
    results = []
    for name, step in steps:
        if name in skip:
            continue
        with ServerCpu(uri) as server:
            measured = step()
        if logs is not None:
            # The run log's timestamps give what each stage of the step cost.
            (logs / f"{name}.jsonl").write_text(measured.stderr)
        results.append(Step(name, measured, server.seconds))
        # As it goes: a chain at scale 1.0 runs for an hour, and a later step may fail.
        print(
            f"{name}: {measured.seconds:.2f}s wall, {measured.cpu_seconds:.2f}s tool CPU, "
            f"{server.seconds:.2f}s server CPU, {measured.peak_rss_mb:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        if name == last:
            break
    return results


LABELS = {
    "full": "full load of R1",
    "ordered": "delta, 1 % ordered churn",
    "random": "delta, 1 % random churn",
    "small": "delta, 0.01 % churn",
    "unchanged": "delta, unchanged release",
    "shuffled": "delta, shuffled pubmed file",
    "in-database": "delta, back, in the database",
    "in-database-same": "delta, shuffled, in the database",
    "verify": "verify, every row",
}


def report(db: str, scale: float, results: list[Step]) -> None:
    """One line per step: wall, the tool's CPU, the server's CPU (PostgreSQL), peak RSS, and
    the ratios to the full load of wall time and of all CPU time (tool plus server), which
    the neighbours on a shared machine disturb far less than wall time."""
    full = results[0]
    full_cpu = full.measured.cpu_seconds + full.server_cpu
    by_name = {step.name: step for step in results}
    print(f"\n{db}, scale {scale:g}")
    for step in results:
        measured = step.measured
        cpu = measured.cpu_seconds + step.server_cpu
        ratio = measured.seconds / full.measured.seconds
        cpu_ratio = cpu / full_cpu if full_cpu else 0.0
        target = TARGETS[db].get(step.name)
        verdict = ""
        if target is not None:
            verdict = (
                f"target <= {target:.2f}: wall {'met' if ratio <= target else 'NOT met'}, "
                f"CPU {'met' if cpu_ratio <= target else 'NOT met'}"
            )
        elif step.name == "shuffled" and (
            "in-database-same" in by_name or "in-database" in by_name
        ):
            reference = by_name.get("in-database-same") or by_name["in-database"]
            reference_cpu = reference.measured.cpu_seconds + reference.server_cpu
            verdict = (
                f"{measured.seconds / reference.measured.seconds:.2f} (wall), "
                f"{cpu / reference_cpu if reference_cpu else 0.0:.2f} (CPU) of the in-database"
            )
        print(
            f"  {LABELS[step.name]:<30} {measured.seconds:8.2f}s wall "
            f"{measured.cpu_seconds:7.2f}s tool CPU {step.server_cpu:7.2f}s server CPU "
            f"{measured.peak_rss_mb:5.0f} MB  ratio {ratio:5.2f} wall {cpu_ratio:5.2f} CPU  "
            f"{verdict}"
        )


def main() -> None:
    parser = arguments(__doc__, backends=True)
    parser.add_argument(
        "--logs",
        type=Path,
        help="Write each step's JSON run log here (DIR/<db>/<step>.jsonl) for stage timings.",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["verify"],
        help="Leave out a step that no later step needs (repeatable).",
    )
    parser.add_argument(
        "--last",
        choices=list(LABELS),
        help="Stop the chain after this step (the steps before it are what it needs).",
    )
    args = parser.parse_args()
    releases = chain(args.scale)
    for db in backends_of(args.db):
        logs = None
        if args.logs is not None:
            logs = args.logs / db
            logs.mkdir(parents=True, exist_ok=True)
        # One folder per run: the cache is shared, and two runs at once must not share kept files.
        run_id = uuid.uuid4().hex[:8]
        kept = CACHE / f"kept-{db}-{run_id}"
        try:
            if db == "duckdb":
                path = CACHE / f"bench-delta-{run_id}.duckdb"
                try:
                    results = run_chain(
                        f"duckdb:///{path.as_posix()}", releases, kept, logs, args.skip, args.last
                    )
                finally:
                    path.unlink(missing_ok=True)
            else:
                with scratch_database(args.dsn) as uri:
                    results = run_chain(uri, releases, kept, logs, args.skip, args.last)
        finally:
            shutil.rmtree(kept, ignore_errors=True)
        report(db, args.scale, results)


if __name__ == "__main__":
    main()
