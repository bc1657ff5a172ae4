"""Loads and readers side by side: no load fails because of readers, no reader errs or sees
anything but one whole release.

Ten readers query several tables at once, in both orders, half in autocommit statements and
half in REPEATABLE READ transactions of several statements, while full loads swap tables and
delta loads apply changes, again and again. Before the swaps took every lock up front with a
short wait, such readers made every load fail with ``deadlock detected``.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import IsolationLevel

from tests.helpers import load_release, query

FILES = "NAMES.RRF.gz,MGREL.RRF.gz"
# Rows per release: what the readers race is the swap's and the delta's locks, not the volume;
# a few thousand rows keep each load and each reader's query short, so the readers cycle many
# times through every load.
OLD, NEW = 4_000, 6_000
BUILT = 1_760_000_000  # both releases one build time: neither is older than the other


def _release(root: Path, name: str, n: int, label: str) -> Path:
    out = root / name
    out.mkdir()
    names = b"".join(f"C{i:07d}|{label} {i}|GTR|N|\n".encode() for i in range(n))
    rels = b"".join(
        f"C{i:07d}|A{i}|SCUI|RO|C{i + 1:07d}|A{i + 1}|{label}|R{i:09d}|MSH|MSH|N|\n".encode()
        for i in range(n)
    )
    for file, header, rows in (
        ("NAMES.RRF.gz", b"#CUI|name|source|SUPPRESS|\n", names),
        ("MGREL.RRF.gz", b"#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n", rels),
    ):
        (out / file).write_bytes(gzip.compress(header + rows, mtime=BUILT))
    return out


# One statement over both tables: every count must come from the same release.
JOINED = (
    "SELECT (SELECT count(*) FROM medgen.concepts), "
    "(SELECT count(*) FROM medgen.concepts WHERE preferred_name LIKE 'new%'), "
    "(SELECT count(*) FROM medgen.relationships WHERE rela = 'new'), "
    "(SELECT count(*) FROM medgen.relationships r JOIN medgen.concepts c ON c.cui = r.cui1)"
)
JOINED_REVERSED = (  # the reader: relationships locked before concepts
    "SELECT (SELECT count(*) FROM medgen.relationships r JOIN medgen.concepts c "
    "ON c.cui = r.cui1), (SELECT count(*) FROM medgen.concepts), "
    "(SELECT count(*) FROM medgen.concepts WHERE preferred_name LIKE 'new%'), "
    "(SELECT count(*) FROM medgen.relationships WHERE rela = 'new')"
)
WHOLE = {(OLD, 0, 0, OLD), (NEW, NEW, NEW, NEW)}
STATEMENTS = {
    "concepts": "SELECT count(*), count(*) FILTER (WHERE preferred_name LIKE 'new%') "
    "FROM medgen.concepts",
    "relationships": "SELECT count(*), count(*) FILTER (WHERE rela = 'new') "
    "FROM medgen.relationships",
}
TRANSACTION_WHOLE = {((OLD, 0), (OLD, 0)), ((NEW, NEW), (NEW, NEW))}


class Readers:
    """Reader threads with their counts; ``wait_for_reads`` is the test's only clock."""

    def __init__(self, uri: str, count: int) -> None:
        self.uri = uri
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.reads = [0] * count
        self.finished = [False] * count
        self.errors: list[str] = []
        self.bad: list[object] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)
        ]

    def _run(self, index: int) -> None:
        try:
            with psycopg.connect(self.uri, autocommit=True) as conn:
                if index % 2:
                    self._transactions(conn, index)
                else:
                    self._statements(conn, index)
        except BaseException as exc:  # every error a reader meets is a failure of the test
            self.errors.append(f"reader {index}: {type(exc).__name__}: {exc}")
        finally:
            with self.progress:
                self.finished[index] = True  # nobody waits for it any more
                self.progress.notify_all()

    def _statements(self, conn: psycopg.Connection[tuple[int, ...]], index: int) -> None:
        reverse = index % 4 == 2
        while not self.stop.is_set():
            row = conn.execute((JOINED_REVERSED if reverse else JOINED).encode()).fetchone()
            if reverse and row is not None:
                row = (*row[1:3], row[3], row[0])
            if row not in WHOLE:
                self.bad.append(("statement", row))
            self._count(index)

    def _transactions(self, conn: psycopg.Connection[tuple[int, ...]], index: int) -> None:
        conn.autocommit = False
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        # Tables in the order opposite to the swap's first choice (names sorted), so the
        # swap must adapt. Transactions that keep one table while asking for another in
        # *different* orders could hold the swap off indefinitely (docs/reliability.md).
        order = ["relationships", "concepts"]
        while not self.stop.is_set():
            seen = {}
            for table in order:
                row = conn.execute(STATEMENTS[table].encode()).fetchone()
                assert row is not None
                seen[table] = (row[0], row[1])
            conn.commit()
            result = (seen["concepts"], seen["relationships"])
            if result not in TRANSACTION_WHOLE:
                self.bad.append(("transaction", result))
            self._count(index)

    def _count(self, index: int) -> None:
        with self.progress:
            self.reads[index] += 1
            self.progress.notify_all()

    def wait_for_reads(self) -> None:
        """Until every running reader has finished one more read than now."""
        with self.progress:
            before = list(self.reads)
            done = self.progress.wait_for(
                lambda: all(
                    f or r > b for r, b, f in zip(self.reads, before, self.finished, strict=True)
                ),
                timeout=300,
            )
        assert done, "readers made no progress"

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_loads_and_readers_never_fail_each_other(
    tmp_path: Path, pg_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from py_load_medgen import publish

    # Readers in both orders can hold a swap off for good; the load then refills in place.
    # Sooner than by default, so the test does not take minutes.
    monkeypatch.setattr(publish, "SWAP_PATIENCE", 3.0)
    old = _release(tmp_path, "old", OLD, "old")
    new = _release(tmp_path, "new", NEW, "new")
    files = ("--files", FILES)
    assert load_release(old, pg_uri, *files) == 0
    # Every load kind in both directions, twice over: a load that starts while the previous
    # one's readers are still holding what it published is covered from the second round on.
    plan = [("full", new), ("full", old), ("delta", new), ("delta", old)] * 2
    codes: list[int] = []
    with Readers(pg_uri, 10) as readers:
        for mode, release in plan:
            readers.wait_for_reads()  # every reader is mid-loop when the load starts
            codes.append(load_release(release, pg_uri, *files, "--mode", mode))
        readers.wait_for_reads()
    reads = sum(readers.reads)
    waits = query(
        pg_uri,
        "SELECT count(*), max(lock_wait_seconds) FROM medgen.etl_runs WHERE status = 'succeeded'",
    )[0]
    print(
        f"\nloads: {len(codes)} done, {sum(c != 0 for c in codes)} failed; "
        f"reader queries: {reads}; reader errors: {len(readers.errors)}; "
        f"inconsistent reads: {len(readers.bad)}; longest lock wait: {waits[1]:.3f}s "
        f"(recorded for {waits[0]} runs)"
    )
    assert codes == [0] * len(plan)
    assert readers.errors == []
    assert readers.bad == []
    assert waits[0] == len(plan) + 1 and waits[1] is not None
    assert reads > len(plan) * 10


@pytest.mark.parametrize("mode", ["full", "delta"])
def test_a_reader_holding_a_table_delays_publishing_without_failing_it(
    tmp_path: Path, pg_uri: str, mode: str
) -> None:
    """A transaction that keeps a table locked makes the load wait, and the wait is
    recorded; when the reader lets go, the load publishes."""
    from py_load_medgen import events

    old = _release(tmp_path, "old", 200, "old")
    new = _release(tmp_path, "new", 300, "new")
    assert load_release(old, pg_uri, "--files", FILES) == 0
    holder = psycopg.connect(pg_uri)
    # What a reader's open transaction holds (a swap needs the table to itself), or, for a
    # delta, which changes rows in place, a lock that stops writers but not readers.
    holding = (
        "SELECT count(*) FROM medgen.relationships"
        if mode == "full"
        else "LOCK TABLE medgen.relationships IN SHARE MODE"
    )
    holder.execute(holding.encode())
    staged = threading.Event()

    def on_event(event: events.Event) -> None:
        if event.kind == "publish_wait":
            staged.set()

    unsubscribe = events.subscribe(on_event)

    def let_go() -> None:
        staged.wait(60)
        holder.rollback()

    release_holder = threading.Thread(target=let_go)
    release_holder.start()
    try:
        code = load_release(new, pg_uri, "--files", FILES, "--mode", mode)
    finally:
        release_holder.join()
        unsubscribe()
        holder.close()
    assert code == 0
    assert staged.is_set()
    wait = query(pg_uri, "SELECT lock_wait_seconds FROM medgen.etl_runs ORDER BY started_at DESC")
    assert wait[0][0] > 0
