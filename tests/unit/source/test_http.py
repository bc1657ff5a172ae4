"""Mirroring over HTTP from a real local server, with the faults public servers show."""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from py_load_medgen.errors import IntegrityError, SourceError, TransientSourceError, UsageError
from py_load_medgen.release.files import FileSpec, spec_for_table
from py_load_medgen.source import mirror as mirror_module
from py_load_medgen.source.http import listed_names
from py_load_medgen.source.mirror import LOCK, MANIFEST, DownloadSettings, Mirror, open_mirror
from py_load_medgen.source.retry import RetryPolicy
from tests.servers.http_files import Fault, serve
from tests.unit.source.conftest import FAST, names_file

NAMES = "NAMES.RRF.gz"


def mirror(url: str, cache: Path, *, retry: RetryPolicy = FAST, **settings: object) -> Mirror:
    return open_mirror(url, cache, DownloadSettings(retry=retry, **settings))  # type: ignore[arg-type]


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.endswith((".part", ".part.json")))


def test_listing_keeps_files_and_leaves_out_links_that_are_not() -> None:
    page = (
        '<a href="?C=M;O=A">sort</a><a href="/pub/">Parent</a><a href="csv/">csv/</a>'
        '<a href="NAMES.RRF.gz">NAMES.RRF.gz</a><a href="../../etc/passwd">x</a>'
        '<a href="a%2Fb">z</a><a href="MGREL.RRF.gz#frag">MGREL</a>'
    )
    assert listed_names(page) == ["NAMES.RRF.gz", "../../etc/passwd", "a/b", "MGREL.RRF.gz"]


def test_mirror_verifies_then_skips_what_did_not_change(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    cache = tmp_path / "cache"
    with serve(release) as (url, server):
        (first,) = mirror(url, cache).mirror(concepts)
        assert first.outcome == "downloaded"
        assert first.file.path.read_bytes() == (release / NAMES).read_bytes()
        assert first.file.url == url + NAMES and len(first.file.sha256) == 64
        assert first.file.gzip_mtime is not None and first.file.etag
        assert server.gets(NAMES)[0].headers["Accept-Encoding"] == "identity"
        (again,) = mirror(url, cache).mirror(concepts)
        assert again.outcome == "unchanged" and again.transferred == 0
        assert again.file.sha256 == first.file.sha256
        # The run metadata of an unchanged file is as complete as a downloaded one's.
        assert again.file.identity() == first.file.identity()
        last = server.gets(NAMES)[-1]
        assert (last.status, last.body_bytes) == (304, 0)
        assert last.headers["If-None-Match"] == first.file.etag
        (release / NAMES).write_bytes(names_file(seed=2))
        (changed,) = mirror(url, cache).mirror(concepts)
    assert changed.outcome == "downloaded"
    assert changed.file.path.read_bytes() == (release / NAMES).read_bytes()
    recorded = json.loads((cache / MANIFEST).read_text())[NAMES]
    assert recorded["sha256"] == changed.file.sha256 and not leftovers(cache)


def test_dropped_connection_resumes_sending_only_the_missing_bytes(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    size = (release / NAMES).stat().st_size
    with serve(release) as (url, server):
        server.fault(NAMES, Fault(drop_after=100_000))
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
    first, second = server.gets(NAMES)
    assert second.headers["Range"] == "bytes=100000-"
    assert second.headers["If-Range"] == got.file.etag
    assert (second.status, second.body_bytes) == (206, size - 100_000)
    assert first.body_bytes + second.body_bytes == size
    assert got.outcome == "resumed"
    assert got.file.path.read_bytes() == (release / NAMES).read_bytes()


def test_a_new_run_resumes_what_an_interrupted_one_left(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    cache = tmp_path / "c"
    once = RetryPolicy(attempts=1, timeout=30.0)
    with serve(release) as (url, server):
        server.fault(NAMES, Fault(drop_after=65_536))
        with pytest.raises(TransientSourceError, match="interrupted|ended after"):
            mirror(url, cache, retry=once).mirror(concepts)
        assert (cache / (NAMES + ".part")).stat().st_size == 65_536
        assert not (cache / NAMES).exists()
        (got,) = mirror(url, cache).mirror(concepts)
    assert server.gets(NAMES)[-1].headers["Range"] == "bytes=65536-"
    assert got.file.sha256 == got.file.sha256 and got.outcome == "resumed"
    assert got.file.path.read_bytes() == (release / NAMES).read_bytes()
    assert not leftovers(cache)


def test_stall_past_the_timeout_is_retried_and_resumed(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    quick = RetryPolicy(attempts=5, timeout=3.0, base_delay=0.01)
    with serve(release) as (url, server):
        # The stall outlasts the test: only the client's timeout can end the first request.
        server.fault(NAMES, Fault(stall_after=50_000, stall_seconds=600))
        (got,) = mirror(url, tmp_path / "c", retry=quick).mirror(concepts)
    assert server.gets(NAMES)[-1].headers["Range"] == "bytes=50000-"
    assert got.file.path.read_bytes() == (release / NAMES).read_bytes()


def test_a_failed_file_stops_the_others_at_once_keeping_their_partials(
    release: Path, tmp_path: Path
) -> None:
    specs = [spec_for_table("concepts"), spec_for_table("relationships")]
    cache = tmp_path / "c"
    patient = RetryPolicy(attempts=3, timeout=30.0, base_delay=0.01)
    received = threading.Event()
    real_write = mirror_module._write

    def write(out: Any, chunk: bytes, where: Path, remaining: int) -> None:
        real_write(out, chunk, where, remaining)
        if out.tell() == 50_000 and out.name.endswith(NAMES + ".part"):
            received.set()

    with serve(release) as (url, server), pytest.MonkeyPatch.context() as patch:
        patch.setattr(mirror_module, "_write", write)
        # NAMES stalls for longer than the client's 30 s timeout; MGREL turns out missing only
        # once the client holds NAMES's 50,000 bytes. Returning before the timeout proves the
        # stalled transfer was stopped, not waited for (half the timeout: no matter the load).
        server.fault(NAMES, Fault(stall_after=50_000, stall_seconds=600))
        server.fault("MGREL.RRF.gz", Fault(status=404, wait_for=received))
        started = time.monotonic()
        with pytest.raises(SourceError, match="404"):
            mirror(url, cache, retry=patient, parallel=2).mirror(specs)
        elapsed = time.monotonic() - started
    assert elapsed < patient.timeout / 2, f"waited {elapsed:.1f}s for a stalled transfer"
    assert (cache / (NAMES + ".part")).stat().st_size == 50_000
    assert not (cache / NAMES).exists()


def test_an_interrupt_stops_a_stalled_download_at_once_and_the_next_run_resumes(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    cache = tmp_path / "c"
    part = cache / (NAMES + ".part")
    with serve(release) as (url, server):
        stalled = threading.Event()
        server.fault(NAMES, Fault(stall_after=50_000, stall_seconds=600, stalled=stalled))
        proc = subprocess.Popen(
            [
                *[sys.executable, "-m", "py_load_medgen.cli", "download", "--source", url],
                *["--files", NAMES, "--download-dir", str(cache), "--timeout", "60"],
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert stalled.wait(60), "the download never reached the stall"
        # The server has sent its 50,000 bytes and is silent. How many the client has read
        # when the signal comes depends on the machine's load, so the test does not depend on
        # it: whatever the partial file holds when the process has stopped is where the next
        # run must resume.
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - interrupted
        assert proc.returncode == 130, err
        # Stopping waits neither for the 600 s stall nor for the 60 s timeout.
        assert elapsed < 30, f"took {elapsed:.1f}s to stop"
        kept = part.stat().st_size if part.exists() else 0
        assert kept <= 50_000
        (got,) = mirror(url, cache).mirror(concepts)
    resumed = server.gets(NAMES)[-1].headers.get("Range")
    assert resumed == (f"bytes={kept}-" if kept else None)
    assert got.outcome == ("resumed" if kept else "downloaded")
    assert got.file.path.read_bytes() == (release / NAMES).read_bytes()


def test_server_ignoring_ranges_gets_the_file_from_zero(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    size = (release / NAMES).stat().st_size
    with serve(release) as (url, server):
        server.fault(NAMES, Fault(drop_after=100_000), Fault(ignore_range=True))
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
    second = server.gets(NAMES)[1]
    assert second.headers["Range"] == "bytes=100000-"
    assert (second.status, second.body_bytes) == (200, size)
    assert got.outcome == "downloaded"
    assert got.file.path.read_bytes() == (release / NAMES).read_bytes()


def test_file_changed_between_attempts_restarts_from_zero(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    newer = names_file(seed=7)
    with serve(release) as (url, server):
        server.fault(NAMES, Fault(drop_after=100_000, replace_with=newer))
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
    second = server.gets(NAMES)[1]
    assert second.headers["If-Range"] != got.file.etag
    assert (second.status, second.body_bytes) == (200, len(newer))
    assert got.file.path.read_bytes() == newer


def test_transient_answers_are_retried_honouring_retry_after(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    with serve(release) as (url, server):
        server.fault(NAMES, Fault(status=500), Fault(status=429, headers={"Retry-After": "1"}))
        started = time.monotonic()
        (got,) = mirror(url, tmp_path / "c").mirror(concepts)
        assert time.monotonic() - started >= 1.0
        assert [s.status for s in server.gets(NAMES)] == [500, 429, 200]
        assert got.file.path.read_bytes() == (release / NAMES).read_bytes()
        server.fault(NAMES, Fault(status=503, headers={"Retry-After": "3600"}))
        with pytest.raises(TransientSourceError, match="asks to wait 3600s"):
            mirror(url, tmp_path / "d").mirror(concepts)


def test_permanent_failures_fail_fast_naming_the_url(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    patient = RetryPolicy(attempts=5, timeout=30.0, base_delay=1.0)
    with serve(release) as (url, server):
        for status in (404, 403):
            server.fault(NAMES, Fault(status=status))
            with pytest.raises(SourceError, match=f"{url}{NAMES}: HTTP {status}") as caught:
                mirror(url, tmp_path / "c", retry=patient).mirror(concepts)
            assert not caught.value.retryable and caught.value.hint
        assert [s.status for s in server.gets(NAMES)] == [404, 403]
        server.fault(NAMES, Fault(status=206))  # a range nobody asked for
        with pytest.raises(SourceError, match="a partial answer"):
            mirror(url, tmp_path / "c", retry=patient).mirror(concepts)
        with pytest.raises(SourceError, match="HTTP 404"):
            mirror(url + "nope/", tmp_path / "c", retry=patient).mirror(concepts)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda good: good[:-40], "truncated gzip"),
        (
            lambda good: good[:5000] + bytes(b ^ 0x55 for b in good[5000:5100]) + good[5100:],
            "corrupt gzip",
        ),
        (lambda good: b"<html><body>Service unavailable</body></html>", "not a gzip file"),
        (lambda good: gzip.compress(b"<!DOCTYPE html><html>oops</html>\n"), "HTML page"),
        (lambda good: gzip.compress(b"#AUI|x|y|\nA1|b|c|\n"), "header"),
    ],
    ids=["truncated", "corrupted", "html", "gzipped-html", "wrong-header"],
)
def test_a_bad_file_is_never_accepted(
    release: Path, tmp_path: Path, concepts: list[FileSpec], content: object, message: str
) -> None:
    good = (release / NAMES).read_bytes()
    (release / NAMES).write_bytes(content(good))  # type: ignore[operator]
    cache = tmp_path / "c"
    with serve(release) as (url, _), pytest.raises(IntegrityError, match=message):
        mirror(url, cache).mirror(concepts)
    assert not (cache / NAMES).exists() and not leftovers(cache)


def test_hostile_and_unknown_names_in_the_listing(
    release: Path, tmp_path: Path, concepts: list[FileSpec], caplog: pytest.LogCaptureFixture
) -> None:
    hostile = [
        "../../escaped.gz",
        "/etc/passwd",
        "..%2F..%2Fescaped2.gz",
        "sub/NAMES.RRF.gz",
        ".hidden",
        "NAMES.RRF.gz%00.txt",
        "with space.gz",
        "C:%5Cwin.gz",
        "..",
    ]
    links = "".join(f'<a href="{h}">x</a>' for h in hostile)
    page = f'<html>{links}<a href="names.rrf.gz">n</a><a href="MedGen_NEW.txt.gz">new</a></html>'
    (release / "names.rrf.gz").write_bytes((release / NAMES).read_bytes())
    cache = tmp_path / "area" / "cache"
    with caplog.at_level(logging.WARNING), serve(release, listing=page) as (url, server):
        (got,) = mirror(url, cache).mirror(concepts)
    assert got.file.name == "names.rrf.gz"
    refused = [r.getMessage() for r in caplog.records if "not a plain file name" in r.getMessage()]
    assert len(refused) == len(hostile)
    assert any("MedGen_NEW.txt.gz" in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in (tmp_path / "area").iterdir()) == ["cache"]
    assert sorted(p.name for p in cache.iterdir()) == [MANIFEST, LOCK, "names.rrf.gz"]
    assert {s.path.rsplit("/", 1)[-1] for s in server.log} == {"", "names.rrf.gz"}


def test_two_spellings_of_one_file_in_a_listing_are_refused_naming_both(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    from py_load_medgen.cli import main

    (release / "names.rrf.gz").write_bytes((release / NAMES).read_bytes())
    page = (
        '<a href="NAMES.RRF.gz">a</a><a href="NAMES.RRF.gz">again</a><a href="names.rrf.gz">b</a>'
    )
    cache = tmp_path / "cache"
    with serve(release, listing=page) as (url, server):
        with pytest.raises(SourceError, match="ambiguous") as caught:
            mirror(url, cache).mirror(concepts)
        assert "NAMES.RRF.gz" in str(caught.value) and "names.rrf.gz" in str(caught.value)
        code = main(["download", "--source", url, "--download-dir", str(cache), "--quiet"])
        # Nothing was transferred: the listing is judged before any file is fetched.
        assert {s.path.rsplit("/", 1)[-1] for s in server.log} == {""}
    assert code == 5
    assert not (cache / NAMES).exists() and not (cache / "names.rrf.gz").exists()


def test_a_known_file_missing_from_the_listing_is_named(release: Path, tmp_path: Path) -> None:
    with serve(release) as (url, _), pytest.raises(SourceError, match="has no MGDEF.RRF.gz"):
        mirror(url, tmp_path / "c").mirror([spec_for_table("definitions")])


def test_redirects_stay_on_the_same_scheme_and_host(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    with serve(release) as (url, server):
        port = url.split(":")[2].split("/")[0]
        server.redirects["/moved/"] = url
        server.redirects["/away/"] = f"http://localhost:{port}/pub/medgen/"
        base = url.replace("/pub/medgen/", "")
        (moved,) = mirror(base + "/moved/", tmp_path / "a").fetch(concepts)
        assert moved.url == url + NAMES
        assert moved.path.read_bytes() == (release / NAMES).read_bytes()
        with pytest.raises(SourceError, match="redirects to .*localhost.*another scheme or host"):
            mirror(base + "/away/", tmp_path / "c").known_entries()
        allowed = mirror(base + "/away/", tmp_path / "d", allow_redirects=True)
        assert "concepts" in allowed.known_entries()


def test_credentials_in_the_url_are_sent_but_never_shown(
    release: Path, tmp_path: Path, concepts: list[FileSpec], caplog: pytest.LogCaptureFixture
) -> None:
    with serve(release) as (url, server):
        port = url.split(":")[2].split("/")[0]
        secret = url.replace("http://", "http://reader:s3cret%40pw@")
        (got,) = mirror(secret, tmp_path / "a").mirror(concepts)
        assert server.gets(NAMES)[0].headers["Authorization"] == "Basic cmVhZGVyOnMzY3JldEBwdw=="
        server.redirects["/pub/medgen/GONE/"] = f"http://localhost:{port}/pub/medgen/"
        moved = mirror(secret + "GONE/", tmp_path / "b", allow_redirects=True)
        assert "concepts" in moved.known_entries()
        moved.mirror(concepts)  # the files too: they are on the other host now
        elsewhere = [s for s in server.log if s.headers["Host"].startswith("localhost")]
        assert len(elsewhere) == 3  # two listings, then NAMES
        assert not any("Authorization" in s.headers for s in elsewhere)
        with pytest.raises(SourceError) as caught:
            mirror(secret + "nope/", tmp_path / "c").mirror(concepts)
    shown = " ".join([str(caught.value), got.file.url or "", caplog.text])
    assert "s3cret" not in shown


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS server")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_an_unverifiable_certificate_fails_fast_and_is_never_ignored(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    patient = RetryPolicy(attempts=5, timeout=30.0, base_delay=1.0)
    waits: list[float] = []
    with serve(release, tls=_self_signed(tmp_path)) as (url, server):
        tried = mirror(url, tmp_path / "c", retry=patient)
        tried._sleep = waits.append  # type: ignore[method-assign,assignment]
        with pytest.raises(SourceError, match="TLS failure") as caught:
            tried.mirror(concepts)
    assert waits == [] and not server.log  # failed at once: no wait for a retry
    assert "cannot be turned off" in str(caught.value.hint)


def test_files_download_in_parallel(release: Path, tmp_path: Path) -> None:
    specs = [spec_for_table("concepts"), spec_for_table("relationships")]
    # parallel=1: counted where a transfer starts and ends, in the client (the server cannot
    # tell when the client has read the last byte of an answer).
    busy, most = [0], [0]
    lock = threading.Lock()
    original = Mirror._mirror_one

    def counted(self: Mirror, *args: Any) -> Any:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            return original(self, *args)
        finally:
            with lock:
                busy[0] -= 1

    with serve(release) as (url, server), pytest.MonkeyPatch.context() as patch:
        patch.setattr(Mirror, "_mirror_one", counted)
        mirror(url, tmp_path / "one", parallel=1).mirror(specs)
        assert most[0] == 1
        # parallel=2: both GETs must be in the server at once to pass its barrier.
        server.gate = threading.Barrier(2)
        got = mirror(url, tmp_path / "two", parallel=2).mirror(specs)
        assert not server.gate.broken
    assert most[0] == 2
    assert [f.file.spec.table for f in got] == ["concepts", "relationships"]


def test_one_mirror_at_a_time_per_cache(
    release: Path, tmp_path: Path, concepts: list[FileSpec]
) -> None:
    fcntl = pytest.importorskip("fcntl", reason="advisory locks are POSIX only")
    cache = tmp_path / "c"
    cache.mkdir()
    with (cache / LOCK).open("a") as held, serve(release) as (url, _):
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UsageError, match="another py-load-medgen process"):
            mirror(url, cache).mirror(concepts)


def test_download_command_and_load_from_the_cache(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from py_load_medgen.cli import main

    cache = tmp_path / "dl"
    with serve(release) as (url, server):
        args = ["download", "--source", url, "--files", NAMES, "--download-dir", str(cache)]
        assert main([*args, "--json", "--parallel", "2", "--retries", "2", "--timeout", "30"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["release_time"].startswith("2023-11-14")  # the gzip header's MTIME
        (row,) = report["files"]
        assert (row["name"], row["outcome"]) == (NAMES, "downloaded")
        assert row["sha256"] == (cache / MANIFEST).read_text().split('"sha256": "')[1][:64]
        assert main(args) == 0
        assert "unchanged" in capsys.readouterr().out
        db = f"duckdb:///{(tmp_path / 'm.duckdb').as_posix()}"
        load = ["load", "--source", url, "--files", NAMES, "--download-dir", str(cache)]
        assert main([*load, "--db-uri", db, "--rejects-dir", str(tmp_path / "r")]) == 0
        assert [s.status for s in server.gets(NAMES)] == [200, 304, 304]
        assert main(["check-update", "--source", url, "--db-uri", db]) == 0
        (release / NAMES).write_bytes(names_file(seed=3))
        later = time.time() + 3600
        os.utime(release / NAMES, (later, later))
        capsys.readouterr()
        assert main(["check-update", "--source", url, "--db-uri", db]) == 10
    assert main(["download", "--source", str(release)]) == 2
    assert "nothing to download" in capsys.readouterr().err
