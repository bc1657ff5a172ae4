"""The same full load into PostgreSQL, DuckDB and a Delta Lake, side by side, in one run.

Generates (and caches) a release at --scale, or takes an existing one with --release, then
runs `py-load-medgen load` once per backend as a separate process and reports, per backend:
rows/s of the bulk-load phase per table, wall time and rows/s of the whole process, peak RSS
of the process (its own, reaped with wait4), and the size of the result on disk.

DuckDB loads through Arrow (no row-by-row inserts) with its default memory bound
(memory_limit=128MiB, threads = cores - 1, at most 4); --duckdb-settings adds URI settings,
e.g. --duckdb-settings "memory_limit=1GiB&threads=4".

The Delta Lake backend (when deltalake is installed) writes one Delta table per MedGen table
under a local directory; its size is every file under it, the Delta log included.

Usage: python -m benchmarks.bench_backends [--scale 0.1] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    DEFAULT_DSN,
    Measured,
    json_events,
    release,
    run_measured,
    scratch_database,
    tool,
    tool_env,
)
from py_load_medgen.release.files import FILES, spec_for_file


@dataclass
class Result:
    backend: str
    measured: Measured
    rows: dict[str, int]
    copy_seconds: dict[str, float]
    size_mb: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def load(
    directory: Path, uri: str, rejects: Path
) -> tuple[Measured, dict[str, int], dict[str, float]]:
    files = [p.name for p in sorted(directory.iterdir()) if spec_for_file(p.name)]
    measured = run_measured(
        [
            tool(),
            "load",
            "--mode",
            "full",
            "--source",
            str(directory),
            "--files",
            ",".join(files),
            "--db-uri",
            uri,
            "--log-format",
            "json",
            "--rejects-dir",
            str(rejects),
        ],
        env=tool_env(),
    )
    rows: dict[str, int] = {}
    copy_seconds: dict[str, float] = {}
    for event in json_events(measured.stderr):
        if "copy_seconds" in event:
            table = str(event["table"])
            copy_seconds[table] = float(event["copy_seconds"])  # type: ignore[arg-type]
            rows[table] = int(event["rows"])  # type: ignore[call-overload]
    return measured, rows, copy_seconds


def postgres(directory: Path, dsn: str, scratch: Path) -> Result:
    import psycopg

    with scratch_database(dsn) as uri:
        measured, rows, copy_seconds = load(directory, uri, scratch / "rejects-pg")
        with psycopg.connect(uri) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return Result("postgresql", measured, rows, copy_seconds, (size[0] if size else 0) / 2**20)


def duckdb(directory: Path, settings: str, scratch: Path) -> Result:
    path = scratch / "medgen.duckdb"
    uri = f"duckdb:///{path.as_posix()}" + (f"?{settings}" if settings else "")
    measured, rows, copy_seconds = load(directory, uri, scratch / "rejects-duckdb")
    return Result("duckdb", measured, rows, copy_seconds, path.stat().st_size / 2**20)


def lake(directory: Path, scratch: Path) -> Result:
    root = scratch / "lake"
    measured, rows, copy_seconds = load(directory, f"delta://{root.as_posix()}", scratch / "rej")
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return Result("delta", measured, rows, copy_seconds, size / 2**20)


def report(results: list[Result]) -> None:
    tables = [s.table for s in FILES if any(s.table in r.rows for r in results)]
    head = f"{'table':<20} {'rows':>11}"
    for r in results:
        head += f" {r.backend + ' r/s':>16}"
    print(head)
    for table in tables:
        rows = max(r.rows.get(table, 0) for r in results)
        line = f"{table:<20} {rows:>11,}"
        for r in results:
            seconds = r.copy_seconds.get(table)
            line += f" {r.rows.get(table, 0) / seconds if seconds else 0:>16,.0f}"
        print(line)
    print()
    print(
        f"{'backend':<12} {'rows':>11} {'bulk s':>8} {'bulk r/s':>10} {'process s':>10} "
        f"{'process r/s':>12} {'peak RSS MB':>12} {'size MB':>8}"
    )
    for r in results:
        bulk = sum(r.copy_seconds.values())
        print(
            f"{r.backend:<12} {r.total_rows:>11,} {bulk:>8.2f} "
            f"{r.total_rows / bulk if bulk else 0:>10,.0f} {r.measured.seconds:>10.2f} "
            f"{r.total_rows / r.measured.seconds:>12,.0f} {r.measured.peak_rss_mb:>12.0f} "
            f"{r.size_mb:>8.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--release", type=Path, help="an existing release directory to load")
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--duckdb-settings", default="", help="URI query, e.g. threads=4")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-delta", action="store_true", help="no Delta Lake backend")
    args = parser.parse_args()
    directory = args.release or release(args.scale, args.seed)
    print(f"release: {directory}")
    with tempfile.TemporaryDirectory(prefix="medgen-bench-") as tmp:
        scratch = Path(tmp)
        results = []
        if not args.skip_postgres:
            results.append(postgres(directory, args.dsn, scratch))
        results.append(duckdb(directory, args.duckdb_settings, scratch))
        if not args.skip_delta:
            results.append(lake(directory, scratch))
        report(results)


if __name__ == "__main__":
    main()
