"""A real HTTP file server for download tests, with the faults a public server shows.

It serves a directory the way Apache does what matters here: an autoindex page, ETag and
Last-Modified, conditional requests (If-None-Match, If-Modified-Since), byte ranges with
If-Range. Faults are queued per path and consumed one per GET; every request is logged with
what was sent, so tests can prove a resumed transfer sent only the missing bytes.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import html
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BASE = "/pub/medgen/"


@dataclass
class Fault:
    """What to do to one GET of a path instead of answering it properly."""

    status: int | None = None
    """Answer with this status (and ``headers``) and no body."""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    """Announce the whole body, send this many bytes of it, then drop the connection."""
    stall_after: int | None = None
    """Send this many bytes, then go silent for ``stall_seconds``."""
    stall_seconds: float = 5.0
    """The longest a stall lasts; it ends sooner when the server shuts down (``released``)."""
    stalled: threading.Event | None = None
    """Set once the stall has begun: a test waits on it instead of guessing how long it takes."""
    wait_for: threading.Event | None = None
    """Answer only once this is set (or the server shuts down): orders requests between files."""
    ignore_range: bool = False
    """Answer 200 with the whole file even when a range was asked for."""
    replace_with: bytes | None = None
    """After this request, the file's content changes (a new release appears mid-transfer)."""


@dataclass
class Served:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body_bytes: int


class FileServer:
    def __init__(self, root: Path, listing: str | None = None) -> None:
        self.root = root
        self.listing = listing
        """An index page to serve instead of the generated one (hostile listings)."""
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[Served] = []
        self.redirects: dict[str, str] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: threading.Barrier | None = None
        """GETs of files wait here: a Barrier(n) proves n requests are in flight at once."""
        self.released = threading.Event()
        """Set when the server shuts down: every stall and wait ends then."""
        self._lock = threading.Lock()

    def fault(self, name: str, *faults: Fault) -> None:
        self.faults.setdefault(name, []).extend(faults)

    def gets(self, name: str) -> list[Served]:
        return [s for s in self.log if s.method == "GET" and s.path.endswith("/" + name)]


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha1(data).hexdigest()[:16] + '"'  # noqa: S324 - an ETag, not security


class Handler(http.server.BaseHTTPRequestHandler):
    server_state: FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server_state
        with state._lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if state.gate is not None and not self.path.endswith("/"):
                state.gate.wait(timeout=60)
            self._serve(head=False)
        finally:
            with state._lock:
                state.in_flight -= 1

    def _record(self, status: int, body: int) -> None:
        headers = dict(self.headers.items())
        self.server_state.log.append(Served(self.command, self.path, status, headers, body))

    def _answer(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self._record(status, 0 if self.command == "HEAD" else len(body))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        state = self.server_state
        path = self.path.split("?", 1)[0]
        if path in state.redirects:
            self._answer(302, {"Location": state.redirects[path]})
            return
        if not path.startswith(BASE):
            self._answer(404, {})
            return
        if path == BASE:
            page = state.listing if state.listing is not None else self._index()
            self._answer(200, {"Content-Type": "text/html"}, page.encode())
            return
        name = path.rsplit("/", 1)[-1]
        queue = state.faults.get(name) if not head else None
        fault = queue.pop(0) if queue else Fault()
        file = state.root / name
        if fault.wait_for is not None:
            fault.wait_for.wait(60)
        if fault.status is not None:
            self._answer(fault.status, fault.headers)
            return
        if not file.is_file():
            self._answer(404, {})
            return
        data = file.read_bytes()
        etag = _etag(data)
        modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
        common = {"ETag": etag, "Last-Modified": modified, "Accept-Ranges": "bytes"}
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == modified
        ):
            self._answer(304, common)
            return
        start = 0
        wanted = self.headers.get("Range", "")
        fresh = self.headers.get("If-Range") in (None, etag, modified)
        if wanted.startswith("bytes=") and not fault.ignore_range and fresh:
            start = int(wanted[6:].split("-", 1)[0])
        if start >= len(data) and start:
            self._answer(416, {"Content-Range": f"bytes */{len(data)}"})
            return
        body = data[start:]
        status = 206 if start else 200
        cut = fault.drop_after if fault.drop_after is not None else fault.stall_after
        # Logged before anything is sent: a client that has its answer may ask again at once.
        self._record(status, 0 if head else len(body) if cut is None else cut)
        self.send_response(status)
        for key, value in common.items():
            self.send_header(key, value)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault.replace_with is not None:
            file.write_bytes(fault.replace_with)
        if not head:
            self._send_body(body, cut, fault)

    def _send_body(self, body: bytes, cut: int | None, fault: Fault) -> None:
        if cut is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[:cut])
        self.wfile.flush()
        if fault.stall_after is not None:
            if fault.stalled is not None:
                fault.stalled.set()
            self.server_state.released.wait(fault.stall_seconds)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _index(self) -> str:
        links = "".join(
            f'<a href="{html.escape(p.name)}">{html.escape(p.name)}</a>\n'
            for p in sorted(self.server_state.root.iterdir())
        )
        return (
            '<html><body><a href="?C=N;O=D">Name</a><a href="/pub/">Parent Directory</a>\n'
            f'<a href="subdir/">subdir/</a>\n{links}</body></html>'
        )


@contextmanager
def serve(
    root: Path, *, listing: str | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, FileServer]]:
    """Serve ``root`` as ``http://127.0.0.1:PORT/pub/medgen/`` (https with ``tls``)."""
    state = FileServer(root, listing)
    handler = type("BoundHandler", (Handler,), {"server_state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}/pub/medgen/", state
    finally:
        state.released.set()
        httpd.shutdown()
        httpd.server_close()
