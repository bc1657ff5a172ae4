"""Full load into PostgreSQL against the `zcat FILE | psql -c "\\copy ..."` baseline.

Generates (and caches) a release at --scale, then in one run:
  1. the baseline: every file piped by zcat into psql's \\copy (CSV mode with a quote byte that
     never occurs, so the bytes go in unchanged), into ordinary (logged, durable) all-text
     tables (MGDEF is left out of the ratios: its bare CRs cannot be COPY'd without
     rewriting, which is exactly the work the baseline does not do);
  2. py-load-medgen's full load of the same files, as a separate process (wall time, peak
     RSS), with durable tables (the default) and again with --unlogged.
Prints rows/s per table and the ratios the project targets, for each of the two loads:
  COPY phase: baseline seconds / our COPY seconds >= 1.0
  whole load (indexes, ANALYZE, swap included) / baseline seconds <= 1.6
  peak RSS <= 200 MB

Usage: python benchmarks/bench_full_load.py [--scale 0.1] [--dsn postgresql://...]
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchmarks.common import (
    Measured,
    arguments,
    json_events,
    release,
    run_measured,
    scratch_database,
    tool,
    tool_env,
)
from py_load_medgen.release.files import FILES, FileSpec

EXCLUDED = {"definitions"}


def served(directory: Path, spec: FileSpec) -> Path:
    return next(p for p in directory.iterdir() if p.name.lower() == spec.name.lower())


def baseline(directory: Path, uri: str) -> dict[str, float]:
    import psycopg

    seconds: dict[str, float] = {}
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(b"CREATE SCHEMA base")
        for spec in FILES:
            extra = 1 if spec.trailing_delimiter else 0
            cols = ", ".join(f"c{i} text" for i in range(len(spec.columns) + extra))
            conn.execute(f"CREATE TABLE base.{spec.table} ({cols})".encode())
    for spec in FILES:
        if spec.table in EXCLUDED:
            continue
        path = served(directory, spec)
        reader = "zcat" if path.name.endswith(".gz") else "cat"
        delimiter = "E'\\t'" if spec.delimiter == "\t" else "'|'"
        # CSV with a quote byte that never occurs: the raw bytes go in unchanged, backslashes
        # included (text format would take them for escapes).
        copy = (
            f"\\copy base.{spec.table} FROM STDIN "
            f"(FORMAT csv, DELIMITER {delimiter}, QUOTE E'\\x01', HEADER true)"
        )
        started = time.perf_counter()
        pipeline = f"{reader} {path} | psql -q -v ON_ERROR_STOP=1 -d '{uri}' -c \"{copy}\""
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
        seconds[spec.table] = time.perf_counter() - started
    return seconds


TARGET = 1.6


def load(directory: Path, uri: str, *extra: str) -> Measured:
    return run_measured(
        [
            tool(),
            "load",
            "--mode",
            "full",
            "--source",
            str(directory),
            "--db-uri",
            uri,
            "--log-format",
            "json",
            "--rejects-dir",
            str(directory.parent / "rejects"),
            *extra,
        ],
        env=tool_env(),
    )


def report(label: str, ours: Measured, base: dict[str, float], scale: float) -> float:
    copy_seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    for event in json_events(ours.stderr):
        if "copy_seconds" in event:
            table = str(event["table"])
            copy_seconds[table] = float(event["copy_seconds"])  # type: ignore[arg-type]
            rows[table] = int(event["rows"])  # type: ignore[call-overload]
    print(f"\n== {label}: scale {scale:g}, {sum(rows.values()):,} rows in {len(rows)} tables")
    print(f"{'table':<20} {'rows':>11} {'baseline r/s':>13} {'ours COPY r/s':>14} {'ratio':>6}")
    for spec in FILES:
        n = rows.get(spec.table, 0)
        b = base.get(spec.table)
        c = copy_seconds.get(spec.table)
        if b is None or not c:
            print(f"{spec.table:<20} {n:>11,} {'n/a':>13} {n / c if c else 0:>14,.0f}")
            continue
        print(f"{spec.table:<20} {n:>11,} {n / b:>13,.0f} {n / c:>14,.0f} {b / c:>6.2f}")
    base_total = sum(base.values())
    copy_total = sum(v for k, v in copy_seconds.items() if k in base)
    ratio = ours.seconds / base_total
    print(
        f"ours, COPY phase:                   {copy_total:.2f}s  "
        f"ratio baseline/ours = {base_total / copy_total:.2f} (target >= 1.0)"
    )
    print(
        f"ours, whole load (process):         {ours.seconds:.2f}s  "
        f"ratio ours/baseline = {ratio:.2f} (target <= {TARGET})"
    )
    print(f"ours, peak RSS:                     {ours.peak_rss_mb:.0f} MB (target <= 200 MB)")
    return ratio


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    directory = release(args.scale)
    with scratch_database(args.dsn) as uri:
        base = baseline(directory, uri)
    with scratch_database(args.dsn) as uri:
        logged = load(directory, uri)
    with scratch_database(args.dsn) as uri:
        unlogged = load(directory, uri, "--unlogged")
    print(f"baseline total (zcat | psql \\copy, logged tables): {sum(base.values()):.2f}s")
    report("durable tables (default)", logged, base, args.scale)
    report("--unlogged", unlogged, base, args.scale)


if __name__ == "__main__":
    main()
