"""Delta loads against the full load, in one run, on a generated release.

  1. full load of release R1 (the reference time);
  2. delta to R2 = R1 with about 1 % of the rows of every table inserted, updated or deleted;
  3. delta of R2 again: every file identical, nothing staged.
Targets: delta with 1 % churn no slower than the full load; unchanged release under 10 % of it.

Usage: python -m benchmarks.bench_delta [--scale 0.05] [--dsn postgresql://...] [--db duckdb]
"""

from __future__ import annotations

import argparse
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

DELTA = ("--mode", "delta")


def churned(base: Path, churn: float) -> Path:
    from py_load_medgen.generate import derive_release

    out = CACHE / f"{base.name}-churn-{churn:g}"
    if not (out / ".complete").exists():
        derive_release(base, out, churn=churn, seed=9)
        (out / ".complete").write_text("ok")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--db", choices=["postgresql", "duckdb"], default="postgresql")
    args = parser.parse_args()
    r1 = release(args.scale)
    r2 = churned(r1, 0.01 / 3)  # a third inserted, a third updated, a third deleted: ~1 %
    env = tool_env()

    def load(uri: str, source: Path, *extra: str) -> Measured:
        cmd = [
            tool(),
            "load",
            "--source",
            str(source),
            "--db-uri",
            uri,
            *extra,
            "--rejects-dir",
            str(CACHE / "rejects"),
        ]
        return run_measured(cmd, env=env)

    if args.db == "duckdb":
        path = CACHE / "bench-delta.duckdb"
        path.unlink(missing_ok=True)
        uri = f"duckdb:///{path.as_posix()}"
        full, delta, same = (
            load(uri, r1),
            load(uri, r2, "--mode", "delta"),
            load(uri, r2, "--mode", "delta"),
        )
    else:
        with scratch_database(args.dsn) as uri:
            full, delta, same = (
                load(uri, r1),
                load(uri, r2, "--mode", "delta"),
                load(uri, r2, "--mode", "delta"),
            )
    print(f"{args.db}, scale {args.scale:g}")
    print(f"full load of R1:             {full.seconds:7.2f}s  peak RSS {full.peak_rss_mb:4.0f} MB")
    print(
        f"delta R1 -> R2 (~1 % churn): {delta.seconds:7.2f}s  peak RSS {delta.peak_rss_mb:4.0f} MB"
        f"  ratio to full = {delta.seconds / full.seconds:.2f} (target <= 1.0)"
    )
    print(
        f"delta R2 -> R2 (unchanged):  {same.seconds:7.2f}s  peak RSS {same.peak_rss_mb:4.0f} MB"
        f"  ratio to full = {same.seconds / full.seconds:.2f} (target < 0.10)"
    )


if __name__ == "__main__":
    main()
