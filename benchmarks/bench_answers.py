"""What the answers cost a load, and how fast they answer (PostgreSQL).

1. Build cost, at --scale (default 0.1): full loads as their own processes, --repeat times
   each, alternately with the answers and without them (the same tool with the answers layer
   switched off in this script, the floor). Its log says how long the answers took inside the
   publishing transaction and how long their derived tables took to build beforehand on the
   second connection (overlapped with copying). Then the whole build is run --repeat times on
   the loaded release (each rolled back), with the server-side CPU time of the session that
   ran it. Ratios: (load - floor) / load in wall time, and the build's CPU / the load's CPU
   (target <= 0.05).
2. Speed, at --answer-scale (default 1.0; the PubMed file is left out: no answer reads it):
   `lookup` of ids of every kind against the floor of one indexed primary-key SELECT on the
   same connection (target: under 100 ms per id), and `resolve` of --ids ids (default one
   million, a ClinVar-sized list: CUIs, UIDs, CURIEs and unknown ids) against the floor of
   COPYing the same ids into a temporary table (target: under 30 s).

Usage: python -m benchmarks.bench_answers [--scale 0.1] [--answer-scale 1.0] [--skip-cost]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE,
    DEFAULT_DSN,
    json_events,
    release,
    run_measured,
    scratch_database,
    tool,
    tool_env,
)
from py_load_medgen.release.files import FILES


class _BackendCpu(threading.Thread):
    """Samples the server CPU time of the load's session (found by its application_name)
    until it ends; the last sample undercounts by at most one interval."""

    def __init__(self, dsn: str, database: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.database = dsn, database
        self.seconds: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.done.wait(0.2):
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name LIKE 'py-load-medgen%%'",
                    (self.database,),
                ).fetchall()
                for (pid,) in rows:
                    try:
                        self.seconds[pid] = _proc_cpu(pid)
                    except OSError:
                        continue


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_WITHOUT_ANSWERS = (
    "import sys\n"
    "from py_load_medgen.answers import publish\n"
    "publish.builds = lambda loader, tables: []\n"
    "publish.publish = lambda loader, changed=None, prebuilt=False: 0.0\n"
    "import py_load_medgen.pipeline as pipeline\n"
    "pipeline.publish_answers = publish.publish\n"
    "from py_load_medgen.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
"""The floor: the same load with the answers layer switched off (this script only)."""


def _load(
    source: Path, uri: str, files: list[str] | None = None, *, answers: bool = True
) -> tuple[float, float, float]:
    """Whole-load wall seconds, the seconds its answers took inside the publishing
    transaction, and the seconds its derived tables took beforehand, from its own log."""
    command = [tool()] if answers else [sys.executable, "-c", _WITHOUT_ANSWERS]
    args = [*command, "load", "--source", str(source), "--db-uri", uri, "--log-format", "json"]
    args += ["--rejects-dir", str(CACHE / "rejects"), "--quiet", "--no-keep-files"]
    if files:
        args += ["--files", ",".join(files)]
    measured = run_measured(args, env=tool_env())
    messages = [(str(e.get("message")), e) for e in json_events(measured.stderr)]
    published = [float(str(e["seconds"])) for m, e in messages if "answers published" in m]
    staged = sum(float(str(e["seconds"])) for m, e in messages if m.startswith("answers: "))
    return measured.seconds, published[-1] if published else float("nan"), staged


def _backend_cpu(conn: Any) -> float:
    return _proc_cpu(conn.execute("SELECT pg_backend_pid()").fetchone()[0])


def _measured_load(dsn: str, uri: str, source: Path, *, answers: bool) -> _Run:
    sampler = _BackendCpu(dsn, uri.rsplit("/", 1)[1])
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, published, staged = _load(source, uri, answers=answers)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.done.set()
    sampler.join()
    client = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return _Run(wall, client + sum(sampler.seconds.values()), published, staged)


@dataclass
class _Run:
    wall: float
    cpu: float
    """Client and server (every session of the load) CPU seconds."""
    published: float
    staged: float


def build_cost(dsn: str, scale: float, repeat: int) -> None:
    from py_load_medgen.answers.publish import publish
    from py_load_medgen.load.registry import open_loader

    source = release(scale)
    floors: list[_Run] = []
    runs: list[_Run] = []
    for _ in range(repeat):  # alternately, each into a fresh database: the machine drifts
        with scratch_database(dsn) as bare:
            floors.append(_measured_load(dsn, bare, source, answers=False))
        with scratch_database(dsn) as uri:
            runs.append(_measured_load(dsn, uri, source, answers=True))
    load_seconds = statistics.median(r.wall for r in runs)
    floor = statistics.median(f.wall for f in floors)
    load_cpu = statistics.median(r.cpu for r in runs)
    floor_cpu = statistics.median(f.cpu for f in floors)
    published = statistics.median(r.published for r in runs)
    staged = statistics.median(r.staged for r in runs)
    print(
        f"scale {scale:g}: full load x{repeat}, median {load_seconds:.2f}s wall / "
        f"{load_cpu:.1f}s CPU with the answers ({', '.join(f'{r.wall:.2f}' for r in runs)}), "
        f"{floor:.2f}s / {floor_cpu:.1f}s without them "
        f"({', '.join(f'{f.wall:.2f}' for f in floors)}): the answers add "
        f"{load_seconds - floor:.2f}s = {(load_seconds - floor) / load_seconds:.1%} wall, "
        f"{load_cpu - floor_cpu:.1f}s = {(load_cpu - floor_cpu) / load_cpu:.1%} CPU "
        "(target <= 5 %)"
    )
    print(
        f"  answers inside the publishing transaction: median {published:.2f}s "
        f"= {published / load_seconds:.1%} of the load; derived tables built beforehand on "
        f"the second connection, overlapped with copying: {staged:.2f}s"
    )
    with scratch_database(dsn) as uri:
        _load(source, uri)
        loader = open_loader(uri, "medgen")
        loader.connect()
        walls, cpus = [], []
        conn: Any = getattr(loader, "conn")  # noqa: B009
        for _ in range(repeat):
            cpu = _backend_cpu(conn)
            started = time.perf_counter()
            try:
                with loader.transaction():
                    publish(loader)
                    raise _RollbackError
            except _RollbackError:
                pass
            walls.append(time.perf_counter() - started)
            cpus.append(_backend_cpu(conn) - cpu)
        loader.close()
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"  the whole build again x{repeat} (rolled back): median {wall:.2f}s wall, "
        f"{cpu:.2f}s server CPU = {cpu / load_cpu:.1%} of the load's CPU (target <= 5 %)"
    )


class _RollbackError(Exception):
    pass


def speed(dsn: str, scale: float, ids: int, uri: str | None = None) -> None:
    """Lookup and resolve timings; on ``uri`` when given (a release loaded already)."""
    if uri is not None:
        _speed(uri, ids)
        return
    out = CACHE / f"release-{scale:g}-0-answers"
    marker = out / ".complete"
    tables = [f.table for f in FILES if f.table != "pubmed_links"]
    if not marker.exists():
        from py_load_medgen.generate import generate_release

        generate_release(out, scale=scale, seed=0, files=tables)
        marker.write_text("ok")
    with scratch_database(dsn) as scratch:
        load_seconds, answer_seconds, _staged = _load(out, scratch, tables)
        print(
            f"scale {scale:g} without PubMed: load {load_seconds:.1f}s "
            f"(answers {answer_seconds:.2f}s)"
        )
        _speed(scratch, ids)


def _speed(uri: str, ids: int) -> None:
    from py_load_medgen import answers
    from py_load_medgen.load.registry import open_loader

    loader = open_loader(uri, "medgen")
    loader.connect()
    rng = random.Random(18)
    samples: dict[str, list[str]] = {}
    for kind, statement in {
        "CUI": "SELECT id FROM medgen.cui_status WHERE id_type = 'cui'",
        "UID": "SELECT id FROM medgen.cui_status WHERE id_type = 'uid'",
        "OMIM": "SELECT curie FROM medgen.xref_pairs WHERE curie LIKE 'OMIM:%'",
        "ORPHA": "SELECT curie FROM medgen.xref_pairs WHERE curie LIKE 'ORPHA:%'",
        "HP": "SELECT id FROM medgen.cui_status WHERE id_type = 'hpo'",
        "MONDO": "SELECT curie FROM medgen.xref_pairs WHERE curie LIKE 'MONDO:%'",
    }.items():
        pool = [r[0] for r in loader.query(statement + " LIMIT 200000")]
        samples[kind] = rng.sample(pool, min(50, len(pool)))
    floor = []
    for cui in samples["CUI"]:
        started = time.perf_counter()
        loader.query("SELECT * FROM medgen.concepts WHERE cui = %s", (cui,))
        floor.append(time.perf_counter() - started)
    print(f"  floor, one primary-key SELECT: median {statistics.median(floor) * 1000:.1f} ms")
    for kind, chosen in samples.items():
        took = []
        for ident in chosen:
            started = time.perf_counter()
            result = answers.lookup(loader, [ident])
            took.append(time.perf_counter() - started)
            assert result.cards, ident
        took.sort()
        p95, worst = took[int(len(took) * 0.95) - 1] * 1000, took[-1] * 1000
        print(
            f"  lookup {kind:5s} x{len(took)}: median {statistics.median(took) * 1000:.1f} ms, "
            f"p95 {p95:.1f} ms, max {worst:.1f} ms "
            f"(median / floor {statistics.median(took) / statistics.median(floor):.1f}x; "
            "target < 100 ms)"
        )
    pool = [r[0] for r in loader.query("SELECT id FROM medgen.cui_status LIMIT 3000000")]
    curies = [r[0] for r in loader.query("SELECT curie FROM medgen.xref_pairs LIMIT 500000")]
    wanted = [
        rng.choice(curies)
        if r < 0.1
        else f"C9{rng.randrange(10**6):06d}"
        if r < 0.12
        else rng.choice(pool)
        for r in (rng.random() for _ in range(ids))
    ]
    conn: Any = getattr(loader, "conn")  # noqa: B009
    started = time.perf_counter()
    conn.execute("CREATE TEMP TABLE floor_ids (ord bigint, input text)")
    with conn.cursor() as cur, cur.copy("COPY floor_ids FROM STDIN") as copy:
        for n, ident in enumerate(wanted):
            copy.write_row((n, ident))
    floor_seconds = time.perf_counter() - started
    started = time.perf_counter()
    count = sum(1 for _ in answers.resolve(loader, wanted))
    seconds = time.perf_counter() - started
    assert count == len(wanted)
    print(
        f"  resolve {len(wanted):,} ids: {seconds:.1f}s (floor, COPY of the ids alone: "
        f"{floor_seconds:.1f}s; ratio {seconds / floor_seconds:.1f}x; target < 30 s)"
    )
    loader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--answer-scale", type=float, default=1.0)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-uri", help="time lookups and resolve on this loaded database")
    args = parser.parse_args()
    if not args.skip_cost:
        build_cost(args.dsn, args.scale, args.repeat)
    if not args.skip_speed:
        speed(args.dsn, args.answer_scale, args.ids, args.speed_uri)


if __name__ == "__main__":
    main()
