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
     table, the reference for step 6 (the same shuffled file, the other way round);
  8. ``verify``: every row of every table compared with the kept files of R4
     (target at scale 1.0: <= 0.5 of the full load).

Targets at scale 1.0 (ratio to the full load): 1 % ordered <= 0.30 on PostgreSQL, 0.50 on
DuckDB; 1 % random <= 0.40 / 0.60; 0.01 % <= 0.15 / 0.25; unchanged <= 0.05; shuffled no
slower than the in-database comparison, peak RSS <= 200 MB in the tool's own process (the
backend's memory for DuckDB is inside it too).

Each line gives the wall time, the CPU time of the tool's process and its peak RSS: the
machine is shared, and wall time alone measures the neighbours as much as the tool.

Usage: python -m benchmarks.bench_delta [--scale 0.1] [--db postgresql|duckdb|both]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import (
    CACHE,
    DEFAULT_DSN,
    Measured,
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


def run_chain(uri: str, releases: list[Path], kept: Path) -> list[tuple[str, Measured]]:
    env = tool_env()
    r1, r2, r3, r4, r5 = releases

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
        ("in-database", lambda: load(r4, *delta, "--no-keep-files")),
        ("verify", lambda: verify()),
    ]
    return [(name, step()) for name, step in steps]


LABELS = {
    "full": "full load of R1",
    "ordered": "delta, 1 % ordered churn",
    "random": "delta, 1 % random churn",
    "small": "delta, 0.01 % churn",
    "unchanged": "delta, unchanged release",
    "shuffled": "delta, shuffled pubmed file",
    "in-database": "delta, same, in the database",
    "verify": "verify, every row",
}


def report(db: str, scale: float, results: list[tuple[str, Measured]]) -> None:
    full = results[0][1].seconds
    by_name = dict(results)
    print(f"\n{db}, scale {scale:g}")
    for name, measured in results:
        ratio = measured.seconds / full
        target = TARGETS[db].get(name)
        verdict = ""
        if target is not None:
            verdict = f"target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'}"
        elif name == "shuffled":
            reference = by_name["in-database"].seconds
            verdict = f"{measured.seconds / reference:.2f} of the in-database delta"
        print(
            f"  {LABELS[name]:<32} {measured.seconds:8.2f}s wall {measured.cpu_seconds:8.2f}s CPU "
            f"{measured.peak_rss_mb:6.0f} MB  ratio {ratio:5.2f}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--db", choices=["postgresql", "duckdb", "both"], default="both")
    args = parser.parse_args()
    releases = chain(args.scale)
    for db in ("postgresql", "duckdb") if args.db == "both" else (args.db,):
        kept = CACHE / f"kept-{db}"
        if db == "duckdb":
            path = CACHE / "bench-delta.duckdb"
            path.unlink(missing_ok=True)
            results = run_chain(f"duckdb:///{path.as_posix()}", releases, kept)
            path.unlink(missing_ok=True)
        else:
            with scratch_database(args.dsn) as uri:
                results = run_chain(uri, releases, kept)
        report(db, args.scale, results)


if __name__ == "__main__":
    main()
