"""Mirroring over FTP from a real local server (pyftpdlib): MLSD/NLST, REST resume, caching."""

from __future__ import annotations

import ftplib
import logging
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from py_load_medgen.errors import SourceError, TransientSourceError
from py_load_medgen.release.files import FileSpec, spec_for_table
from py_load_medgen.source.ftp import FtpBody
from py_load_medgen.source.mirror import DownloadSettings, Mirror, open_mirror
from py_load_medgen.source.retry import RetryPolicy
from py_load_medgen.source.transport import Entry
from tests.servers.ftp_files import FtpState, serve_ftp
from tests.unit.source.conftest import FAST, names_file

NAMES = "NAMES.RRF.gz"


def mirror(url: str, cache: Path, retry: RetryPolicy = FAST) -> Mirror:
    return open_mirror(url, cache, DownloadSettings(retry=retry))


def interrupt_once(url: str, cache: Path, state: FtpState, specs: list[FileSpec]) -> None:
    """A run with no retries whose transfer of NAMES stops after 70,000 bytes."""
    state.cut[NAMES] = [70_000]
    with pytest.raises(TransientSourceError, match="ended after 70,000"):
        mirror(url, cache, RetryPolicy(attempts=1, timeout=30.0)).mirror(specs)
    assert (cache / (NAMES + ".part")).stat().st_size == 70_000


@pytest.fixture
def ftp_root(release: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ftp"
    shutil.copytree(release, root / "pub" / "medgen")
    return root


def test_mirror_lists_with_mlsd_and_skips_unchanged_files(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    served = ftp_root / "pub" / "medgen" / NAMES
    with serve_ftp(ftp_root) as (url, state):
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
        assert got.outcome == "downloaded" and got.file.url == url + NAMES
        assert got.file.path.read_bytes() == served.read_bytes()
        assert got.file.modified is not None and got.file.gzip_mtime is not None
        assert any(c.startswith("MLSD") for c in state.commands)
        (again,) = mirror(url, tmp_path / "c").mirror(concepts)
        assert again.outcome == "unchanged" and again.file.sha256 == got.file.sha256
        assert again.file.identity() == got.file.identity()
        assert sum(1 for c in state.commands if c.startswith("RETR")) == 1
        served.write_bytes(names_file(seed=5))
        (changed,) = mirror(url, tmp_path / "c").mirror(concepts)
    assert changed.outcome == "downloaded"
    assert changed.file.path.read_bytes() == served.read_bytes()


def test_cut_transfer_resumes_with_rest_sending_only_the_rest(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    served = ftp_root / "pub" / "medgen" / NAMES
    size = served.stat().st_size
    with serve_ftp(ftp_root) as (url, state):
        state.cut[NAMES] = [120_000]
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
    assert "REST 120000" in state.commands
    assert state.sent == [(NAMES, 0, 120_000), (NAMES, 120_000, size - 120_000)]
    assert got.outcome == "resumed" and got.file.path.read_bytes() == served.read_bytes()


def test_interrupted_run_is_resumed_by_the_next_one(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    served = ftp_root / "pub" / "medgen" / NAMES
    cache = tmp_path / "c"
    with serve_ftp(ftp_root) as (url, state):
        interrupt_once(url, cache, state, concepts)
        (got,) = mirror(url, cache).mirror(concepts)
    assert state.sent[-1] == (NAMES, 70_000, served.stat().st_size - 70_000)
    assert got.file.path.read_bytes() == served.read_bytes()


def test_changed_file_is_not_resumed(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    served = ftp_root / "pub" / "medgen" / NAMES
    cache = tmp_path / "c"
    with serve_ftp(ftp_root) as (url, state):
        interrupt_once(url, cache, state, concepts)
        served.write_bytes(names_file(rows=21_000, seed=9))
        (got,) = mirror(url, cache).mirror(concepts)
    assert not any(c.startswith("REST") for c in state.commands)
    assert got.outcome == "downloaded" and got.file.path.read_bytes() == served.read_bytes()


def test_servers_without_mlsd_are_listed_with_nlst(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    with serve_ftp(ftp_root, mlsd=False) as (url, state):
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
    assert any(c.startswith("NLST") for c in state.commands)
    assert got.file.size == (ftp_root / "pub" / "medgen" / NAMES).stat().st_size


def test_hostile_names_refused_and_missing_files_named(
    ftp_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (ftp_root / "pub" / "medgen" / "-rf").write_bytes(b"x")
    (ftp_root / "pub" / "medgen" / "odd name.gz").write_bytes(b"x")
    with (
        caplog.at_level(logging.WARNING),
        serve_ftp(ftp_root) as (url, _),
        pytest.raises(SourceError, match="has no MGDEF.RRF.gz"),
    ):
        mirror(url, tmp_path / "c").mirror([spec_for_table("definitions")])
    refused = [r.getMessage() for r in caplog.records if "not a plain file name" in r.getMessage()]
    assert len(refused) == 2


def test_bad_login_and_missing_directory_fail_without_retrying(
    ftp_root: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    with serve_ftp(ftp_root) as (url, state):
        wrong = url.replace("ftp://", "ftp://reader:wrong-pass@")
        with pytest.raises(SourceError, match="FTP 530") as caught:
            mirror(wrong, tmp_path / "c").mirror(concepts)
        assert "wrong-pass" not in str(caught.value)
        assert sum(1 for c in state.commands if c.startswith("PASS")) == 1
        with pytest.raises(SourceError, match="FTP 550"):
            mirror(url + "nope/", tmp_path / "c").mirror(concepts)
        right = url.replace("ftp://", "ftp://reader:s3cret-pass@")
        (got,) = mirror(right, tmp_path / "d").mirror(concepts)
    assert "s3cret-pass" not in (got.file.url or "")


def test_load_and_check_update_over_ftp(ftp_root: Path, tmp_path: Path) -> None:
    import duckdb

    from py_load_medgen.cli import main

    db = tmp_path / "m.duckdb"
    with serve_ftp(ftp_root) as (url, state):
        args = ["load", "--source", url, "--files", NAMES, "--db-uri", f"duckdb:///{db}"]
        assert main([*args, "--download-dir", str(tmp_path / "dl")]) == 0
        state.commands.clear()
        # check-update asks the server for exact sizes and times (SIZE, MDTM), nothing more,
        # over one login for the listing and one for every file.
        assert main(["check-update", "--source", url, "--db-uri", f"duckdb:///{db}"]) == 0
        logins = [c for c in state.commands if c.startswith("USER")]
        assert len(logins) == 2, state.commands
        assert not [c for c in state.commands if c.startswith("RETR")]
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute(
            "SELECT url, size, sha256, modified, gzip_mtime FROM medgen.etl_run_files"
        ).fetchone()
    assert row is not None
    assert row[0] == url + NAMES and row[1] == (ftp_root / "pub/medgen" / NAMES).stat().st_size
    assert len(row[2]) == 64 and row[3] is not None and row[4] is not None


def _waiting_in_read(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident or 0)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return bool(names) and names[0] == "receive"  # FtpBody.receive: blocked in sock.recv


def test_abort_wakes_a_read_waiting_on_a_silent_server() -> None:
    near, far = socket.socketpair()
    control = ftplib.FTP()  # noqa: S321 - never connected: the body only reads its data socket
    body = FtpBody("ftp://127.0.0.1/pub/medgen/" + NAMES, control, near, Entry(NAMES, 9), 0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(body.read(1024)))
    reader.start()
    # Abort once the reader waits in the socket read (its deepest Python frame is the body's
    # read); the outcome must be the same if the abort came first, so no timing can fail it.
    deadline = time.monotonic() + 60
    while reader.ident not in sys._current_frames() or not _waiting_in_read(reader):
        assert time.monotonic() < deadline and reader.is_alive()
        time.sleep(0.001)
    body.abort()
    reader.join(60)
    assert not reader.is_alive() and got == [b""]
    near.close()
    far.close()
