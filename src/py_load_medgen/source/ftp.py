"""FTP transport: MLSD listings (NLST where MLSD is missing), SIZE and MDTM, REST resume.

Each open file gets a connection of its own, so that files can download in parallel. A file's
version is its size and modification time; a partial file is resumed with ``REST`` only while
both are unchanged.
"""

from __future__ import annotations

import ftplib
import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import unquote, urljoin, urlsplit

from py_load_medgen.errors import SourceError, TransientSourceError
from py_load_medgen.redact import public_uri, split_uri
from py_load_medgen.source.transport import Body, Entry, NotModified, StreamBody, Transport

log = logging.getLogger(__name__)
_UNREACHABLE = (
    "the server did not answer; offline? load a directory of MedGen files with --source DIR "
    "(or try the tool on a generated release: py-load-medgen generate DIR)"
)

_NET_ERRORS = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto)


def _mdtm_time(value: str | None) -> datetime | None:
    """``YYYYMMDDHHMMSS[.fff]`` (always UTC in MLSD and MDTM) as a datetime."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _entry(name: str, size: int | None, stamp: str | None) -> Entry:
    # FTP has no ETag: a file is taken to be unchanged while its size and time are.
    return Entry(name, size, _mdtm_time(stamp), None, stamp, f"{size} {stamp}")


class FtpBody(StreamBody):
    errors = _NET_ERRORS

    def __init__(self, url: str, ftp: ftplib.FTP, sock: socket.socket, entry: Entry, offset: int):
        self.url, self.ftp, self.sock, self.entry, self.offset = url, ftp, sock, entry, offset

    def receive(self, size: int) -> bytes:
        return self.sock.recv(size)

    def connection(self) -> socket.socket | None:
        return self.sock

    def close(self) -> None:
        self.sock.close()
        try:
            self.ftp.voidresp()
            self.ftp.quit()
        except (*_NET_ERRORS, ftplib.error_perm):
            self.ftp.close()


class FtpTransport(Transport):
    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        # The user-info ends at the last "@": a password may hold any character, raw.
        head, userinfo, rest = split_uri(url if url.endswith("/") else url + "/")
        self.base = head + rest
        parts = urlsplit(self.base)
        self.host = parts.hostname or ""
        self.port = parts.port or 21
        user, _, password = (userinfo or "").partition(":")
        self.user = unquote(user) if user else "anonymous"
        self.password = unquote(password) if password else "py-load-medgen@"
        self.path = unquote(parts.path) or "/"
        self.timeout = timeout

    def describe(self) -> str:
        return public_uri(self.base)

    def url_of(self, name: str) -> str:
        return public_uri(urljoin(self.base, name))

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except ftplib.error_perm as exc:
            code = str(exc)[:3]
            hint = {
                "530": "the server refused the login; check the user and password in the URL",
                "550": "no such file or directory: check --source",
            }.get(code, "check --source")
            raise SourceError(f"{what}: FTP {exc}", hint=hint) from None
        except _NET_ERRORS as exc:
            raise TransientSourceError(
                f"{what}: {exc.__class__.__name__}: {exc}", hint=_UNREACHABLE
            ) from None

    def _connect(self) -> ftplib.FTP:
        ftp = ftplib.FTP(timeout=self.timeout)  # noqa: S321 - NCBI serves public data over FTP
        try:
            with self._errors(self.describe()):
                ftp.connect(self.host, self.port)
                ftp.login(self.user, self.password)
                ftp.cwd(self.path)
                ftp.voidcmd("TYPE I")
        except BaseException:
            ftp.close()
            raise
        return ftp

    @contextmanager
    def _session(self, what: str) -> Iterator[ftplib.FTP]:
        ftp = self._connect()
        try:
            with self._errors(what):
                yield ftp
        finally:
            ftp.close()

    def listing(self) -> list[Entry]:
        with self._session(self.describe()) as ftp:
            try:
                return [
                    _entry(
                        name, int(facts["size"]) if "size" in facts else None, facts.get("modify")
                    )
                    for name, facts in ftp.mlsd(facts=["type", "size", "modify"])
                    if facts.get("type", "file") == "file"
                ]
            except ftplib.error_perm:
                log.debug("%s: no MLSD; listing names with NLST", self.describe())
            return [Entry(name, None) for name in ftp.nlst()]

    def _stat(self, ftp: ftplib.FTP, name: str) -> Entry:
        size = ftp.size(name)
        reply = ftp.voidcmd(f"MDTM {name}")
        return _entry(name, size, reply[4:].strip())

    def stat(self, name: str) -> Entry:
        with self._session(self.url_of(name)) as ftp:
            return self._stat(ftp, name)

    def stat_many(self, names: Sequence[str]) -> list[Entry]:
        # One login for all: a login costs several round trips, SIZE and MDTM one each.
        with self._session(self.describe()) as ftp:
            return [self._stat(ftp, name) for name in names]

    def open(
        self,
        name: str,
        *,
        offset: int = 0,
        validator: str | None = None,
        cached: Entry | None = None,
    ) -> Body:
        url = self.url_of(name)
        ftp = self._connect()
        try:
            with self._errors(url):
                entry = self._stat(ftp, name)
                if cached is not None and (cached.size, cached.validator) == (
                    entry.size,
                    entry.validator,
                ):
                    ftp.quit()
                    return NotModified(cached)
                start = offset if offset > 0 and validator == entry.validator else 0
                if offset and not start:
                    log.info("%s: changed on the server since the partial download", name)
                try:
                    sock = ftp.transfercmd(f"RETR {name}", rest=start or None)
                except ftplib.error_perm:
                    if not start:
                        raise
                    log.info("%s: the server refused REST; starting over", name)
                    start = 0
                    sock = ftp.transfercmd(f"RETR {name}")
                return FtpBody(url, ftp, sock, entry, start)
        except BaseException:
            ftp.close()
            raise
