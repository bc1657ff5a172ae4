"""``verify`` against the full load it checks, in one run, on a generated release.

Per backend and repetition: a full load of the release (its files kept), then ``verify``
(every row of every table against the kept files), then ``verify --quick`` (counts only).
Each ratio is to the full load of the same repetition, and the summary takes the median
over the repetitions: the machine is shared, and a neighbour's burst inflates whichever
step it lands on.

Targets at scale 1.0: ``verify`` <= 0.5 of the full load on PostgreSQL and DuckDB, peak RSS
<= 200 MB in the tool's own process (for DuckDB the database works inside it too; for
PostgreSQL the server's work shows in the wall time only).

Usage: python -m benchmarks.bench_verify [--scale 0.1] [--db postgresql|duckdb|both]
       [--repeat 1]
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Callable
from pathlib import Path

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

TARGET = 0.50
STEPS = ("full", "verify", "quick")
LABELS = {"full": "full load", "verify": "verify, every row", "quick": "verify --quick"}


def run_once(uri: str, source: Path, kept: Path) -> dict[str, Measured]:
    env = tool_env()
    shutil.rmtree(kept, ignore_errors=True)
    load_args = ["load", "--source", str(source), "--kept-dir", str(kept)]
    rejects = ["--rejects-dir", str(CACHE / "rejects")]
    verify_args = ["verify", "--db-uri", uri, "--kept-dir", str(kept)]
    steps: dict[str, Callable[[], Measured]] = {
        "full": lambda: run_measured([tool(), *load_args, "--db-uri", uri, *rejects], env=env),
        "verify": lambda: run_measured([tool(), *verify_args], env=env),
        "quick": lambda: run_measured([tool(), *verify_args, "--quick"], env=env),
    }
    return {name: steps[name]() for name in STEPS}


def run_backend(db: str, source: Path, dsn: str, repeat: int) -> list[dict[str, Measured]]:
    kept = CACHE / f"kept-verify-{db}"
    runs = []
    for _ in range(repeat):
        if db == "duckdb":
            path = CACHE / "bench-verify.duckdb"
            path.unlink(missing_ok=True)
            try:
                runs.append(run_once(f"duckdb:///{path.as_posix()}", source, kept))
            finally:
                path.unlink(missing_ok=True)
        else:
            with scratch_database(dsn) as uri:
                runs.append(run_once(uri, source, kept))
    shutil.rmtree(kept, ignore_errors=True)
    return runs


def report(db: str, scale: float, runs: list[dict[str, Measured]]) -> None:
    print(f"\n{db}, scale {scale:g}, {len(runs)} run(s)")
    for index, run in enumerate(runs, start=1):
        full = run["full"].seconds
        for name in STEPS:
            m = run[name]
            print(
                f"  #{index} {LABELS[name]:<20} {m.seconds:8.2f}s wall {m.cpu_seconds:7.2f}s CPU "
                f"{m.peak_rss_mb:5.0f} MB  ratio {m.seconds / full:5.2f}  "
                f"CPU ratio {m.cpu_seconds / max(run['full'].cpu_seconds, 1e-9):5.2f}"
            )
    ratio = statistics.median(r["verify"].seconds / r["full"].seconds for r in runs)
    rss = max(r["verify"].peak_rss_mb for r in runs)
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(
        f"  median verify / full load: {ratio:.2f} (target <= {TARGET:.2f}: {verdict}); "
        f"verify peak RSS {rss:.0f} MB (target <= 200: {'met' if rss <= 200 else 'NOT met'})"
    )


def main() -> None:
    parser = arguments(__doc__, backends=True)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    source = release(args.scale)
    for db in backends_of(args.db):
        report(db, args.scale, run_backend(db, source, args.dsn, args.repeat))


if __name__ == "__main__":
    main()
