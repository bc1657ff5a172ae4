"""Crash safety: a load killed at any point leaves exactly the old or the new release.

Each load runs as a real process; PY_LOAD_MEDGEN_FAULT makes it SIGKILL itself at an exact
point of the run (or pause there so the test can send SIGTERM/SIGINT).
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode
from tests.conftest import create_database, drop_database
from tests.helpers import query

pytestmark = pytest.mark.slow  # real processes killed at each point: minutes, not seconds

FILES = "NAMES.RRF.gz,MGREL.RRF.gz,MGDEF.RRF.gz"
TABLES = ("concepts", "relationships", "definitions")


def _release(root: Path, name: str, seed: int) -> Path:
    """Three files, the middle one large enough that its COPY spans several reads."""
    rng = random.Random(seed)
    out = root / name
    out.mkdir()

    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 12)))

    names = [f"C{i:07d}|{word()} {word()}|GTR|N|\n" for i in range(120_000)]
    rels = [
        f"C{rng.randrange(10**7):07d}|A{rng.randrange(10**8)}|SCUI|RO|C{rng.randrange(10**7):07d}|"
        f"A{rng.randrange(10**8)}|{word()}|R{i:09d}|MSH|MSH|N|\n"
        for i in range(150_000)
    ]
    defs = [f"C{i:07d}|{word()}\r{word()} {word()}|{word()}|N|\n" for i in range(60_000)]
    for file, header, rows in (
        ("NAMES.RRF.gz", "#CUI|name|source|SUPPRESS|\n", names),
        ("MGREL.RRF.gz", "#CUI1|AUI1|STYPE1|REL|CUI2|AUI2|RELA|RUI|SAB|SL|SUPPRESS|\n", rels),
        ("MGDEF.RRF.gz", "#CUI|DEF|source|SUPPRESS|\n", defs),
    ):
        (out / file).write_bytes(gzip.compress((header + "".join(rows)).encode(), compresslevel=1))
    return out


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("crash")
    return _release(root, "r1", 1), _release(root, "r2", 2)


@pytest.fixture(scope="module")
def loaded_template(releases: tuple[Path, Path], pg_admin_dsn: str) -> Iterator[str]:
    """A database holding release 1, copied for each test (faster than loading it again)."""
    name = f"medgen_tpl_{uuid.uuid4().hex[:10]}"
    try:
        assert _load(releases[0], create_database(pg_admin_dsn, name)).wait() == 0
        yield name
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def r1_uri(loaded_template: str, pg_admin_dsn: str) -> Iterator[str]:
    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(pg_admin_dsn, name, template=loaded_template)
    finally:
        drop_database(pg_admin_dsn, name)


def _load(
    source: Path,
    uri: str,
    fault: str | None = None,
    marker: Path | None = None,
    mode: str = "full",
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PY_LOAD_MEDGEN_FAULT")}
    if fault:
        env["PY_LOAD_MEDGEN_FAULT"] = fault
    if marker:
        env["PY_LOAD_MEDGEN_FAULT_FILE"] = str(marker)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "py_load_medgen.cli",
            "load",
            "--mode",
            mode,
            "--source",
            str(source),
            "--files",
            FILES,
            "--db-uri",
            uri,
            "--rejects-dir",
            str(source.parent / "rejects"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _fingerprints(uri: str) -> tuple[tuple[int, str], ...]:
    return tuple(
        query(
            uri,
            f"SELECT count(*), sum(hashtext(t::text)::bigint)::text FROM medgen.{t} t",
        )[0]
        for t in TABLES
    )


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
    pg_uri = r1_uri
    r2 = releases[1]
    before = _fingerprints(pg_uri)
    proc = _load(r2, pg_uri, fault=f"KILL:{point}")
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    after_kill = _fingerprints(pg_uri)
    rerun = _load(r2, pg_uri)
    out, err = rerun.communicate()
    assert rerun.returncode == 0, err
    new = _fingerprints(pg_uri)
    assert after_kill in (before, new)  # every table old, or every table new: never a mix
    assert after_kill == (new if point == "published" else before)
    statuses = [
        s for (s,) in query(pg_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    ]
    expected_killed = "succeeded" if point == "published" else "failed"
    assert statuses == ["succeeded", expected_killed, "succeeded"]
    leftovers = query(
        pg_uri, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_staging\\_%'"
    )
    assert leftovers == [(0,)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_roll_back(
    sig: signal.Signals, releases: tuple[Path, Path], r1_uri: str, tmp_path: Path
) -> None:
    pg_uri = r1_uri
    r2 = releases[1]
    before = _fingerprints(pg_uri)
    marker = tmp_path / "paused"
    proc = _load(r2, pg_uri, fault="PAUSE:indexing@relationships", marker=marker)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "rolled back" in err
    assert _fingerprints(pg_uri) == before
    rows = query(pg_uri, "SELECT status, error_message FROM medgen.etl_runs ORDER BY started_at")
    assert rows[-1][0] == "failed" and "interrupted" in rows[-1][1]
    leftovers = query(
        pg_uri, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_staging\\_%'"
    )
    assert leftovers == [(0,)]


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
    statuses = [
        s for (s,) in query(r1_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    ]
    assert statuses == ["succeeded", "failed", "succeeded"]


def test_sigkill_while_downloading(
    releases: tuple[Path, Path], r1_uri: str, tmp_path: Path
) -> None:
    """Killed mid-download: production untouched, no partial file taken for a whole one, and
    the next run resumes the partial file instead of starting it again."""
    from tests.servers.http_files import serve

    r2 = releases[1]
    before = _fingerprints(r1_uri)
    cache = tmp_path / "downloads"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PY_LOAD_MEDGEN_FAULT")}
    with serve(r2) as (url, server):
        command = [
            sys.executable,
            "-m",
            "py_load_medgen.cli",
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
            command,
            env={**env, "PY_LOAD_MEDGEN_FAULT": "KILL:download_chunk@relationships:2"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert killed.returncode == -signal.SIGKILL
        assert not (cache / "MGREL.RRF.gz").exists()  # only a .part, never taken as whole
        kept = (cache / "MGREL.RRF.gz.part").stat().st_size
        assert kept > 0
        assert _fingerprints(r1_uri) == before
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert rerun.returncode == 0, rerun.stderr
        assert (cache / "MGREL.RRF.gz").read_bytes() == (r2 / "MGREL.RRF.gz").read_bytes()
        assert server.gets("MGREL.RRF.gz")[-1].headers["Range"] == f"bytes={kept}-"
    statuses = [
        s for (s,) in query(r1_uri, "SELECT status FROM medgen.etl_runs ORDER BY started_at")
    ]
    assert statuses == ["succeeded", "failed", "succeeded"]
