"""Crash safety: a load killed at any point leaves exactly the old or the new release.

Each load runs as a real process, on every built-in backend; tests/fault_launcher.py arms a
listener on the run's events that SIGKILLs it at an exact point of the run (or pauses there so
the test can send SIGTERM/SIGINT).
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from tests import fault_launcher
from tests.conftest import build_once, create_database, drop_database, shared_database
from tests.helpers import query

pytestmark = pytest.mark.slow  # real processes killed at each point: minutes, not seconds

FILES = "NAMES.RRF.gz,MGREL.RRF.gz,MGDEF.RRF.gz"
TABLES = ("concepts", "relationships", "definitions")


# Rows per file: enough for the kill points below. Reads are counted in compressed bytes, a
# megabyte a read, and the files are stored uncompressed inside gzip (level 0), so a megabyte
# read is a megabyte of rows: about 1.5 MB of names (2 reads), 3 MB of relationships (3 reads,
# its COPY spans several), 1.5 MB of definitions (2 reads), and no more rows to load than that.
NAMES_ROWS, RELATIONSHIP_ROWS, DEFINITION_ROWS = 45_000, 40_000, 32_000


def _release(out: Path, seed: int) -> None:
    """Three files, the middle one large enough that its COPY spans several reads."""
    rng = random.Random(seed)
    out.mkdir()

    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 12)))

    names = [f"C{i:07d}|{word()} {word()}|GTR|N|\n" for i in range(NAMES_ROWS)]
    rels = [
        f"C{rng.randrange(10**7):07d}|A{rng.randrange(10**8)}|SCUI|RO|C{rng.randrange(10**7):07d}|"
        f"A{rng.randrange(10**8)}|{word()}|R{i:09d}|MSH|MSH|N|\n"
        for i in range(RELATIONSHIP_ROWS)
    ]
    defs = [f"C{i:07d}|{word()}\r{word()} {word()}|{word()}|N|\n" for i in range(DEFINITION_ROWS)]
    for file, header, rows in (
        ("NAMES.RRF.gz", "#CUI|name|source|SUPPRESS|\n", names),
        ("MGREL.RRF.gz", "#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n", rels),
        ("MGDEF.RRF.gz", "#CUI|DEF|source|SUPPRESS|\n", defs),
    ):
        (out / file).write_bytes(gzip.compress((header + "".join(rows)).encode(), compresslevel=0))


@pytest.fixture(scope="module")
def releases(shared_dir: Path) -> tuple[Path, Path]:
    """Two releases, generated once per run for every worker."""
    root = shared_dir / "crash-releases"

    def build() -> None:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        _release(root / "r1", 1)
        _release(root / "r2", 2)

    build_once(shared_dir, "crash-releases", build)
    return root / "r1", root / "r2"


def test_every_file_spans_the_reads_its_kill_points_name(releases: tuple[Path, Path]) -> None:
    """The kill points count reads; a file too small for its point would never be killed."""
    mib = 1 << 20
    for release in releases:
        sizes = {p.name: p.stat().st_size for p in release.iterdir()}
        assert sizes["NAMES.RRF.gz"] > 1 * mib  # bytes_read@concepts:2
        assert sizes["MGREL.RRF.gz"] > 2 * mib  # bytes_read@relationships:3, download_chunk:2
        assert sizes["MGDEF.RRF.gz"] > 1 * mib  # bytes_read@definitions:2


@pytest.fixture(scope="module", params=["postgresql", "duckdb"])
def loaded_template(
    request: pytest.FixtureRequest, releases: tuple[Path, Path], shared_dir: Path
) -> tuple[str, str]:
    """A database holding release 1, copied for each test (faster than loading it again),
    loaded once per run and server whichever worker runs the test:
    (backend, PostgreSQL template database name or DuckDB file)."""
    if request.param == "duckdb":
        template = shared_dir / "crash-r1.duckdb"

        def build_file() -> None:
            template.unlink(missing_ok=True)
            assert _load(releases[0], f"duckdb:///{template.as_posix()}").wait() == 0

        build_once(shared_dir, "crash-duckdb", build_file)
        return "duckdb", str(template)
    admin = str(request.getfixturevalue("pg_admin_dsn"))

    def build_database(uri: str) -> None:
        assert _load(releases[0], uri).wait() == 0

    return "postgresql", shared_database(request, admin, "crash_r1", build_database)


@pytest.fixture
def r1_uri(
    loaded_template: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A fresh database holding release 1, on the backend of ``loaded_template``."""
    backend, template = loaded_template
    if backend == "duckdb":
        path = tmp_path / "medgen-mirror.duckdb"
        shutil.copy(template, path)
        yield f"duckdb:///{path.as_posix()}"
        return
    admin = str(request.getfixturevalue("pg_admin_dsn"))
    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(admin, name, template=template)
    finally:
        drop_database(admin, name)


def _load(
    source: Path,
    uri: str,
    fault: str | None = None,
    marker: Path | None = None,
    mode: str = "full",
) -> subprocess.Popen[str]:
    """A load in its own process, with ``fault`` armed by the test launcher when given."""
    args = ["load", "--mode", mode, "--source", source, "--files", FILES, "--db-uri", uri]
    args += ["--rejects-dir", source.parent / "rejects"]
    return subprocess.Popen(
        fault_launcher.command(fault, *args, marker=marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _fingerprints(uri: str) -> tuple[tuple[int, str], ...]:
    row_hash = "hash(t::VARCHAR)" if uri.startswith("duckdb") else "hashtext(t::text)::bigint"
    return tuple(
        tuple(query(uri, f'SELECT count(*), sum({row_hash})::VARCHAR FROM "medgen"."{t}" AS t')[0])
        for t in TABLES
    )


def _staged(uri: str) -> list[tuple[int]]:
    return query(
        uri,
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\\_staging\\_%' "
        "ESCAPE '\\'",
    )


def _statuses(uri: str) -> list[str]:
    return [s for (s,) in query(uri, 'SELECT status FROM "medgen"."etl_runs" ORDER BY started_at')]


def _lock_file(uri: str) -> Path | None:
    """The DuckDB lock file beside the database (PostgreSQL locks in the server)."""
    if not uri.startswith("duckdb"):
        return None
    return Path(uri.removeprefix("duckdb://") + ".lock")


KILL_POINTS = [
    "staging_ready",
    "bytes_read@concepts:2",
    "bytes_read@relationships:3",
    "bytes_read@definitions:2",
    "indexing@relationships",
    "indexing@definitions",
    "publish_commit",
    "published",
]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_leaves_old_or_new_release(
    point: str, releases: tuple[Path, Path], r1_uri: str
) -> None:
    r2 = releases[1]
    before = _fingerprints(r1_uri)
    proc = _load(r2, r1_uri, fault=f"KILL:{point}")
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    lock = _lock_file(r1_uri)
    if lock is not None:  # the dead process's lock is left, naming it
        assert json.loads(lock.read_text())["pid"] == proc.pid
    after_kill = _fingerprints(r1_uri)
    rerun = _load(r2, r1_uri)  # takes over the dead process's lock and finishes the job
    _, err = rerun.communicate()
    assert rerun.returncode == 0, err
    new = _fingerprints(r1_uri)
    assert after_kill in (before, new)  # every table old, or every table new: never a mix
    assert after_kill == (new if point == "published" else before)
    expected_killed = "succeeded" if point == "published" else "failed"
    assert _statuses(r1_uri) == ["succeeded", expected_killed, "succeeded"]
    assert _staged(r1_uri) == [(0,)]
    assert lock is None or not lock.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_roll_back(
    sig: signal.Signals, releases: tuple[Path, Path], r1_uri: str, tmp_path: Path
) -> None:
    r2 = releases[1]
    before = _fingerprints(r1_uri)
    marker = tmp_path / "paused"
    proc = _load(r2, r1_uri, fault="PAUSE:indexing@relationships", marker=marker)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "rolled back" in err
    assert _fingerprints(r1_uri) == before
    rows = query(
        r1_uri, 'SELECT status, error_message FROM "medgen"."etl_runs" ORDER BY started_at'
    )
    assert rows[-1][0] == "failed" and "interrupted" in rows[-1][1]
    assert _staged(r1_uri) == [(0,)]
    lock = _lock_file(r1_uri)
    assert lock is None or not lock.exists()


def test_sigkill_in_the_middle_of_a_delta_apply(releases: tuple[Path, Path], r1_uri: str) -> None:
    r2 = releases[1]
    before = _fingerprints(r1_uri)
    proc = _load(r2, r1_uri, fault="KILL:delta_apply@relationships", mode="delta")
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert _fingerprints(r1_uri) == before
    rerun = _load(r2, r1_uri, mode="delta")
    _, err = rerun.communicate()
    assert rerun.returncode == 0, err
    assert _fingerprints(r1_uri) != before
    assert _statuses(r1_uri) == ["succeeded", "failed", "succeeded"]


def test_sigkill_while_downloading(
    releases: tuple[Path, Path], r1_uri: str, tmp_path: Path
) -> None:
    """Killed mid-download: production untouched, no partial file taken for a whole one, and
    the next run resumes the partial file instead of starting it again."""
    from tests.servers.http_files import serve

    r2 = releases[1]
    before = _fingerprints(r1_uri)
    cache = tmp_path / "downloads"
    with serve(r2) as (url, server):
        args = [
            "load",
            "--source",
            url,
            "--files",
            FILES,
            "--db-uri",
            r1_uri,
            "--download-dir",
            str(cache),
            "--rejects-dir",
            str(tmp_path / "rej"),
        ]
        killed = subprocess.run(
            fault_launcher.command("KILL:download_chunk@relationships:2", *args),
            capture_output=True,
            text=True,
            check=False,
        )
        assert killed.returncode == -signal.SIGKILL
        assert not (cache / "MGREL.RRF.gz").exists()  # only a .part, never taken as whole
        kept = (cache / "MGREL.RRF.gz.part").stat().st_size
        assert kept > 0
        assert _fingerprints(r1_uri) == before
        rerun = subprocess.run(
            fault_launcher.command(None, *args), capture_output=True, text=True, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        assert (cache / "MGREL.RRF.gz").read_bytes() == (r2 / "MGREL.RRF.gz").read_bytes()
        assert server.gets("MGREL.RRF.gz")[-1].headers["Range"] == f"bytes={kept}-"
    assert _statuses(r1_uri) == ["succeeded", "failed", "succeeded"]
