"""What a mirror needs from a protocol: list a directory, and open a file, maybe part-way.

HTTP(S) and FTP implement this; the mirror (``mirror.py``) does the rest (caching, resume
bookkeeping, verification, parallelism) the same way for both.
"""

from __future__ import annotations

import contextlib
import re
import socket
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from py_load_medgen.errors import TransientSourceError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
"""A plain file name: no separators, no ``..`` at the start, no spaces or control characters."""


def is_safe_name(name: str) -> bool:
    """Whether a listed name can only ever name a file directly inside the download directory."""
    return bool(SAFE_NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class Entry:
    """A served file as the server describes it."""

    name: str
    size: int | None
    modified: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    """The server's own spelling of the time (HTTP Last-Modified, FTP MDTM), for validators."""
    version: str | None = None
    """A validator of the transport's own where the protocol has none (FTP: size and time)."""

    @property
    def validator(self) -> str | None:
        """What proves two responses carry the same version of the file.

        A strong ETag when the server gives one, else the transport's own version, else the
        modification time; a weak ETag (``W/"..."``) cannot validate byte ranges.
        """
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.version or self.last_modified


class Body(ABC):
    """An open response: the file's bytes from ``offset`` on."""

    entry: Entry
    """The file as served by this response (its full size, not the body's)."""
    offset: int
    """Where the body starts in the file: the requested offset when resumed, else 0."""
    not_modified: bool = False
    """The server confirmed the cached copy is current; there is no body."""

    @abstractmethod
    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""

    def close(self) -> None:  # noqa: B027 - most bodies have something to close
        pass

    def abort(self) -> None:  # noqa: B027 - a body without a connection has nothing to cut
        """Cut the connection, from any thread: a read waiting for bytes returns at once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class StreamBody(Body):
    """A body read from a connection: a failure part-way is transient, and the next attempt
    resumes where the bytes stopped."""

    url: str
    errors: tuple[type[BaseException], ...] = (OSError,)
    """What the connection raises when it drops or stalls."""

    def read(self, size: int) -> bytes:
        try:
            return self.receive(size)
        except self.errors as exc:
            raise TransientSourceError(
                f"{self.url}: transfer interrupted ({exc.__class__.__name__}: {exc})",
                hint="the connection dropped; a new run resumes where this one stopped",
            ) from None

    @abstractmethod
    def receive(self, size: int) -> bytes:
        """Up to ``size`` bytes of what has arrived; ``b""`` at the end."""

    @abstractmethod
    def connection(self) -> socket.socket | None:
        """The socket the bytes arrive on, while it is open."""

    def abort(self) -> None:
        # Closing a socket does not wake a thread blocked reading it; shutting it down does.
        sock = self.connection()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class NotModified(Body):
    """The server confirmed the cached copy is current."""

    not_modified = True

    def __init__(self, entry: Entry) -> None:
        self.entry, self.offset = entry, 0

    def read(self, size: int) -> bytes:
        return b""


class Transport(ABC):
    """One directory on one server."""

    @abstractmethod
    def describe(self) -> str:
        """The directory's URL without credentials."""

    @abstractmethod
    def url_of(self, name: str) -> str:
        """A file's URL without credentials."""

    @abstractmethod
    def listing(self) -> list[Entry]:
        """Every file in the directory, as listed (sizes and times where the listing has them).

        Names are as the server gave them: the mirror refuses unsafe ones.
        """

    @abstractmethod
    def stat(self, name: str) -> Entry:
        """One file's exact size and version, without transferring it."""

    def stat_many(self, names: Sequence[str]) -> list[Entry]:
        """``stat`` of each name; a transport with sessions asks them all in one."""
        return [self.stat(name) for name in names]

    @abstractmethod
    def open(
        self,
        name: str,
        *,
        offset: int = 0,
        validator: str | None = None,
        cached: Entry | None = None,
    ) -> Body:
        """Open ``name`` for reading.

        With ``offset`` and ``validator``, resume: the body starts at ``offset`` only if the
        server proves the file is still the version ``validator`` names; otherwise it starts
        at 0. With ``cached``, a server that can tell the cached copy is current answers
        ``not_modified`` without a body. Raises ``TransientSourceError`` for failures a retry
        may cure, ``SourceError`` otherwise.
        """
