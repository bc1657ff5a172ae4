"""Shared pieces of the benchmark scripts: cached releases, throwaway databases, timing."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_DSN = os.environ.get("MEDGEN_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def release(scale: float, seed: int = 0) -> Path:
    """A generated release at ``scale``, generated once and kept under benchmarks/.cache."""
    from py_load_medgen.generate import generate_release

    out = CACHE / f"release-{scale:g}-{seed}"
    marker = out / ".complete"
    if not marker.exists():
        print(f"generating a release at scale {scale:g} into {out} ...", file=sys.stderr)
        started = time.perf_counter()
        generate_release(out, scale=scale, seed=seed)
        marker.write_text("ok")
        print(f"  generated in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return out


def arguments(doc: str | None, *, backends: bool = False) -> argparse.ArgumentParser:
    """The options every load benchmark takes: --scale, --dsn and, with ``backends``, --db."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    if backends:
        parser.add_argument("--db", choices=["postgresql", "duckdb", "both"], default="both")
    return parser


def backends_of(choice: str) -> tuple[str, ...]:
    """The backends a --db choice names."""
    return ("postgresql", "duckdb") if choice == "both" else (choice,)


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@contextmanager
def scratch_database(dsn: str) -> Iterator[str]:
    import psycopg

    name = f"medgen_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield with_database(dsn, name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0
    """User plus system CPU time of the process (its own threads, not the database's)."""


def run_measured(args: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command; its wall time and its own peak RSS (reaped with wait4, POSIX only)."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: IO[bytes]) -> None:
        chunks[name] = stream.read()

    assert proc.stdout is not None and proc.stderr is not None
    # Both pipes are read to the end before reaping: a child blocks on a full pipe.
    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, rusage = os.wait4(proc.pid, 0)
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    out = chunks.get("out", b"").decode(errors="replace")
    err = chunks.get("err", b"").decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args)}\n{err[-3000:]}")
    return Measured(seconds, rusage.ru_maxrss / 1024, out, err, rusage.ru_utime + rusage.ru_stime)


def json_events(stderr: str) -> list[dict[str, object]]:
    events = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def tool_env(**extra: str) -> dict[str, str]:
    """The environment the tool runs in, as installed by pip (which compiles the bytecode):
    a shell that sets PYTHONDONTWRITEBYTECODE would make every run recompile every module it
    imports, a cost no installed copy pays. Colours off: the output is parsed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "NO_COLOR": "1", **extra}


def tool() -> str:
    return str(Path(sys.executable).with_name("py-load-medgen"))
