"""A real FTP server (pyftpdlib) for download tests, logging REST offsets and bytes sent.

``cut[name] = [n, ...]``: the next RETRs of ``name`` stop after n bytes of the file and end
the data connection, as a dropped transfer does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import ThreadedFTPServer


@dataclass
class FtpState:
    cut: dict[str, list[int]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    sent: list[tuple[str, int, int]] = field(default_factory=list)
    """(file, REST offset, bytes sent) per RETR."""


class _Counting:
    """A file read by the server: counts what is sent, and can end early."""

    def __init__(self, fh: BinaryIO, state: FtpState, name: str, limit: int | None) -> None:
        self.fh, self.state, self.name, self.limit = fh, state, name, limit
        self.sent = 0
        self.start = 0
        self.record = (name, 0, 0)
        state.sent.append(self.record)

    def seek(self, pos: int, whence: int = 0) -> int:
        self.start = pos
        return self.fh.seek(pos, whence)

    def read(self, size: int = -1) -> bytes:
        if self.limit is not None:
            size = min(size if size >= 0 else self.limit, self.limit - self.sent)
            if size <= 0:
                return b""
        data = self.fh.read(size)
        self.sent += len(data)
        self.state.sent[self.state.sent.index(self.record)] = self.record = (
            self.name,
            self.start,
            self.sent,
        )
        return data

    def close(self) -> None:
        self.fh.close()

    @property
    def closed(self) -> bool:
        return self.fh.closed

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.fh, attr)


def _fs(state: FtpState) -> type[AbstractedFS]:
    class CountingFS(AbstractedFS):  # type: ignore[misc]
        def open(self, filename: str, mode: str) -> Any:
            fh = super().open(filename, mode)
            name = Path(filename).name
            queue = state.cut.get(name)
            return _Counting(fh, state, name, queue.pop(0) if queue else None)

    return CountingFS


@contextmanager
def serve_ftp(root: Path, *, mlsd: bool = True) -> Iterator[tuple[str, FtpState]]:
    """Serve ``root`` as ``ftp://127.0.0.1:PORT/pub/medgen/`` to anonymous users."""
    (root / "pub" / "medgen").mkdir(parents=True, exist_ok=True)
    state = FtpState()
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(str(root))
    authorizer.add_user("reader", "s3cret-pass", str(root))
    commands = dict(FTPHandler.proto_cmds)
    if not mlsd:
        del commands["MLSD"]

    class Handler(FTPHandler):  # type: ignore[misc]
        proto_cmds = commands

        def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
            state.commands.append(line)
            super().pre_process_command(line, cmd, arg)

    Handler.authorizer = authorizer
    Handler.abstracted_fs = _fs(state)
    Handler.passive_ports = None
    Handler.use_sendfile = False  # sendfile would bypass the counting file
    Handler.auth_failed_timeout = 0.1
    server = ThreadedFTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"ftp://127.0.0.1:{server.address[1]}/pub/medgen/", state
    finally:
        server.close_all()
        thread.join(5)
