"""Mirroring from a real local HTTP server: listing, verification, caching, retries."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_load_medgen.errors import IntegrityError, SourceError
from py_load_medgen.release.files import spec_for_table
from py_load_medgen.source.remote import HttpSource, listed_names

NAMES = gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + b"C0000727|Acute abdomen|GTR|N|\n" * 500)


class Handler(http.server.SimpleHTTPRequestHandler):
    faults: dict[str, list[int]]
    seen: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):
        self.seen.append(f"{self.command} {self.path}")
        queue = self.faults.get(self.path)
        if queue:
            self.send_error(queue.pop(0))
            return None
        return super().send_head()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, type[Handler]]]:
    root = tmp_path / "www" / "pub" / "medgen"
    root.mkdir(parents=True)
    handler = type("H", (Handler,), {"faults": {}, "seen": []})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path / "www"))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/pub/medgen/", root, handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_listing_names_are_plain_files_only() -> None:
    page = (
        '<a href="NAMES.RRF.gz">NAMES.RRF.gz</a><a href="../">Parent</a>'
        '<a href="../../etc/passwd">x</a><a href="/abs">y</a><a href="a%2Fb">z</a>'
        '<a href="?C=M;O=A">sort</a><a href="MGREL.RRF.gz">MGREL</a>'
    )
    assert listed_names(page) == ["NAMES.RRF.gz", "MGREL.RRF.gz"]


def test_mirror_verifies_and_caches(
    server: tuple[str, Path, type[Handler]], tmp_path: Path
) -> None:
    url, root, handler = server
    (root / "NAMES.RRF.gz").write_bytes(NAMES)
    cache = tmp_path / "cache"
    source = HttpSource(url, cache, attempts=2, timeout=5)
    (file,) = source.fetch([spec_for_table("concepts")])
    assert file.path.read_bytes() == NAMES
    assert file.url == url + "NAMES.RRF.gz" and len(file.sha256) == 64
    assert not list(cache.glob("*.part"))
    gets = [s for s in handler.seen if s.startswith("GET /pub/medgen/NAMES")]
    source.fetch([spec_for_table("concepts")])
    assert [s for s in handler.seen if s.startswith("GET /pub/medgen/NAMES")] == gets


def test_transient_errors_are_retried(
    server: tuple[str, Path, type[Handler]], tmp_path: Path
) -> None:
    url, root, handler = server
    (root / "NAMES.RRF.gz").write_bytes(NAMES)
    handler.faults["/pub/medgen/NAMES.RRF.gz"] = [503]
    (file,) = HttpSource(url, tmp_path / "c", attempts=3, timeout=5).fetch(
        [spec_for_table("concepts")]
    )
    assert file.path.read_bytes() == NAMES


def test_missing_file_and_404_fail_clearly(
    server: tuple[str, Path, type[Handler]], tmp_path: Path
) -> None:
    url, _, _ = server
    with pytest.raises(SourceError, match="the listing has no NAMES.RRF.gz"):
        HttpSource(url, tmp_path / "c", attempts=1).fetch([spec_for_table("concepts")])
    with pytest.raises(SourceError, match="HTTP 404"):
        HttpSource(url + "nope/", tmp_path / "c", attempts=1).fetch([spec_for_table("concepts")])


def test_corrupt_or_html_file_is_never_accepted(
    server: tuple[str, Path, type[Handler]], tmp_path: Path
) -> None:
    url, root, _ = server
    (root / "NAMES.RRF.gz").write_bytes(b"<html><body>Service unavailable</body></html>")
    cache = tmp_path / "c"
    with pytest.raises(IntegrityError, match="not a gzip file"):
        HttpSource(url, cache, attempts=1).fetch([spec_for_table("concepts")])
    assert not (cache / "NAMES.RRF.gz").exists() and not list(cache.glob("*.part"))
    (root / "NAMES.RRF.gz").write_bytes(NAMES[:-20])
    with pytest.raises(IntegrityError, match="truncated gzip"):
        HttpSource(url, cache, attempts=1).fetch([spec_for_table("concepts")])
    assert not (cache / "NAMES.RRF.gz").exists()


def test_load_and_check_update_from_http(
    server: tuple[str, Path, type[Handler]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A load straight from a URL, then check-update against the same server (for cron)."""
    import os
    import time

    from py_load_medgen.cli import main

    url, root, _ = server
    (root / "NAMES.RRF.gz").write_bytes(NAMES)
    db = f"duckdb:///{(tmp_path / 'm.duckdb').as_posix()}"
    common = ["--db-uri", db]
    load = [
        "load",
        "--source",
        url,
        "--files",
        "NAMES.RRF.gz",
        "--download-dir",
        str(tmp_path / "dl"),
    ]
    assert main([*load, *common, "--rejects-dir", str(tmp_path / "rej")]) == 0
    assert main(["check-update", "--source", url, *common]) == 0
    newer = gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + b"C0000729|Cramps|GTR|N|\n" * 600)
    (root / "NAMES.RRF.gz").write_bytes(newer)
    later = time.time() + 3600
    os.utime(root / "NAMES.RRF.gz", (later, later))
    capsys.readouterr()
    assert main(["check-update", "--source", url, *common]) == 10
