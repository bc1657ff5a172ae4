"""HTTP(S) transport: Apache autoindex listings, ranged resume, conditional requests.

Every request says ``Accept-Encoding: identity`` so that sizes and ranges count the file's own
bytes. A resumed request sends ``Range`` with ``If-Range``, and its answer is used only if it
is a 206 whose ``Content-Range`` starts where asked and whose validator is the one the partial
file was written under; anything else restarts the file from zero. Redirects may not leave the
scheme and host they started on unless allowed, and TLS is always verified.
"""

from __future__ import annotations

import base64
import html.parser
import http.client
import logging
import re
import socket
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit

from py_load_medgen.errors import SourceError, TransientSourceError
from py_load_medgen.redact import public_uri, redact_uri, split_uri
from py_load_medgen.source.retry import RetryAfterError
from py_load_medgen.source.transport import Body, Entry, NotModified, StreamBody, Transport
from py_load_medgen.version import __version__

log = logging.getLogger(__name__)
_UNREACHABLE = (
    "the server did not answer; offline? load a directory of MedGen files with --source DIR "
    "(or try the tool on a generated release: py-load-medgen generate DIR)"
)

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_TLS_HINT = (
    "the server's certificate did not verify. If a proxy re-signs TLS, point SSL_CERT_FILE at "
    "its CA bundle; verification cannot be turned off"
)
_NET_ERRORS = (TimeoutError, ConnectionError, http.client.HTTPException, OSError)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def listed_names(page: str) -> list[str]:
    """The file names a directory listing links to, as the server spelled them.

    Sort links, the parent and subdirectories are not files and are left out; everything
    else, hostile or not, is returned for the mirror to judge.
    """
    parser = _Links()
    parser.feed(page)
    names: list[str] = []
    for href in parser.hrefs:
        if "?" in href or href.startswith("#") or href.endswith("/"):
            continue
        name = unquote(href.split("#", 1)[0])
        if name not in names:
            names.append(name)
    return names


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _entry(name: str, headers: Message, size: int | None) -> Entry:
    modified = headers.get("Last-Modified")
    return Entry(name, size, _time(modified), headers.get("ETag"), modified)


def _length(headers: Message) -> int | None:
    value = headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _retry_after(headers: Message) -> float | None:
    value = (headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    when = _time(value)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when else None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows redirects only within the scheme and host the request started on."""

    def __init__(self, allow_elsewhere: bool) -> None:
        self.allow_elsewhere = allow_elsewhere

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = urljoin(req.full_url, newurl)
        moved = _origin(req.full_url) != _origin(new)
        if moved and not self.allow_elsewhere:
            raise SourceError(
                f"{redact_uri(req.full_url)} redirects to {redact_uri(new)}, "
                "another scheme or host",
                hint="use that URL as --source, or pass --allow-redirects if you trust it",
            )
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if moved and follow is not None:
            follow.remove_header("Authorization")  # credentials are for the original server
        return follow


class HttpBody(StreamBody):
    errors = _NET_ERRORS

    def __init__(self, url: str, response: http.client.HTTPResponse, entry: Entry, offset: int):
        self.url, self.response, self.entry, self.offset = url, response, entry, offset

    def receive(self, size: int) -> bytes:
        # read1 returns what has arrived: a stall or a drop loses nothing already received.
        return self.response.read1(size)

    def connection(self) -> socket.socket | None:
        # http.client keeps the socket private: this is where its buffered reader holds it.
        sock = getattr(getattr(self.response.fp, "raw", None), "_sock", None)
        return sock if isinstance(sock, socket.socket) else None

    def close(self) -> None:
        self.response.close()


class HttpTransport(Transport):
    def __init__(self, url: str, *, timeout: float = 60.0, allow_redirects: bool = False) -> None:
        # Credentials in the URL become a Basic Authorization header: urllib would read
        # "user:password@host" as a host and port, and echo the password in its error. The
        # user-info ends at the last "@", so a password may hold any character, raw.
        head, userinfo, rest = split_uri(url if url.endswith("/") else url + "/")
        self.auth: dict[str, str] = {}
        if userinfo is not None:
            user, _, password = userinfo.partition(":")
            token = f"{unquote(user)}:{unquote(password)}"
            self.auth["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        self.base = head + rest
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            _SameOrigin(allow_redirects),
            urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        )

    def describe(self) -> str:
        return public_uri(self.base)

    def url_of(self, name: str) -> str:
        return public_uri(urljoin(self.base, name))

    def listing(self) -> list[Entry]:
        with self._checked(self.base) as response:
            page = response.read().decode("utf-8", errors="replace")
            # Links are relative to where the listing was found, after any redirect; the
            # credentials were for the server asked, not for one it redirected to.
            found = response.geturl()
            if _origin(found) != _origin(self.base):
                self.auth = {}
            self.base = found
        return [Entry(name, None) for name in listed_names(page)]

    def stat(self, name: str) -> Entry:
        with self._checked(urljoin(self.base, name), method="HEAD") as response:
            return _entry(name, response.headers, _length(response.headers))

    def open(
        self,
        name: str,
        *,
        offset: int = 0,
        validator: str | None = None,
        cached: Entry | None = None,
    ) -> Body:
        url = urljoin(self.base, name)
        headers: dict[str, str] = {}
        resuming = offset > 0 and validator is not None
        if resuming:
            headers = {"Range": f"bytes={offset}-", "If-Range": str(validator)}
        elif cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        try:
            response = self._request(url, headers)
        except _StatusError as status:
            if status.code == 304 and cached is not None:
                return NotModified(cached)
            if status.code == 416 and resuming:
                log.info("%s: the range asked for no longer fits; starting over", name)
                return self.open(name)
            raise status.error() from None
        if response.status == 206:
            entry, start = self._partial(name, response, validator)
            if start == offset:
                return HttpBody(redact_uri(url), response, entry, offset)
            response.close()
            if not resuming:
                raise SourceError(
                    f"{redact_uri(url)}: a partial answer (206) to a request for the whole file",
                    hint="the server or a proxy on the way misbehaves; try again later",
                )
            log.info("%s: the server did not resume at byte %d; starting over", name, offset)
            return self.open(name)
        if resuming:
            log.info("%s: changed on the server or ranges unsupported; starting over", name)
        entry = _entry(name, response.headers, _length(response.headers))
        return HttpBody(redact_uri(url), response, entry, 0)

    def _partial(
        self, name: str, response: http.client.HTTPResponse, validator: str | None
    ) -> tuple[Entry, int]:
        """The file behind a 206 and where its body starts; -1 when it cannot be trusted."""
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match:
            return _entry(name, response.headers, None), -1
        start, end, total = (int(g) for g in match.groups())
        entry = _entry(name, response.headers, total)
        if end != total - 1 or (entry.validator is not None and entry.validator != validator):
            return entry, -1
        return entry, start

    def _checked(self, url: str, method: str = "GET") -> http.client.HTTPResponse:
        try:
            return self._request(url, {}, method)
        except _StatusError as status:
            raise status.error() from None

    def _request(
        self, url: str, headers: dict[str, str], method: str = "GET"
    ) -> http.client.HTTPResponse:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in open_mirror
            url,
            method=method,
            headers={
                "Accept-Encoding": "identity",
                "User-Agent": f"py-load-medgen/{__version__}",
                **self.auth,
                **headers,
            },
        )
        shown = redact_uri(url)
        try:
            response: http.client.HTTPResponse = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _StatusError(shown, exc.code, exc.reason, exc.headers) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                raise SourceError(f"{shown}: TLS failure ({reason})", hint=_TLS_HINT) from None
            raise TransientSourceError(
                f"{shown}: cannot connect ({reason})", hint=_UNREACHABLE
            ) from None
        except ssl.SSLError as exc:
            raise SourceError(f"{shown}: TLS failure ({exc})", hint=_TLS_HINT) from None
        except _NET_ERRORS as exc:
            raise TransientSourceError(
                f"{shown}: {exc.__class__.__name__}: {exc}", hint=_UNREACHABLE
            ) from None
        return response


class _StatusError(Exception):
    """A non-2xx answer, kept until the caller knows whether it expected it (304, 416)."""

    def __init__(self, url: str, code: int, reason: str, headers: Message) -> None:
        super().__init__(code)
        self.url, self.code, self.reason, self.headers = url, code, reason, headers

    def error(self) -> SourceError:
        message = f"{self.url}: HTTP {self.code} {self.reason}"
        if self.code in _TRANSIENT_STATUS:
            wait = _retry_after(self.headers)
            hint = "the server is busy or failing; try again later"
            if wait is not None:
                return RetryAfterError(message, wait, hint=hint)
            return TransientSourceError(message, hint=hint)
        if self.code == 404:
            hint = "check --source; NCBI's directory is https://ftp.ncbi.nlm.nih.gov/pub/medgen/"
        elif self.code in (401, 403):
            hint = "the server refused access; check the URL and any credentials in it"
        else:
            hint = "check --source"
        return SourceError(message, hint=hint)
