"""The source interface: turn a location into verified local files plus their identity."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from py_load_medgen.release.files import FileSpec

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """One file of a release, available on local disk, with what identifies it."""

    spec: FileSpec
    path: Path
    name: str
    """The name as served (may differ in case from the spec's canonical name)."""
    size: int
    sha256: str
    modified: datetime | None = None
    """Server Last-Modified (HTTP), listing time (FTP) or file mtime (local)."""
    url: str | None = None
    etag: str | None = None
    gzip_mtime: datetime | None = None
    """The MTIME in the gzip header: NCBI's build time."""

    @property
    def release_time(self) -> datetime | None:
        """The best available build time of this file."""
        return self.gzip_mtime or self.modified

    def identity(self) -> dict[str, object]:
        """JSON-ready identity for the run metadata."""
        return {
            "name": self.name,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
            "modified": self.modified.isoformat() if self.modified else None,
            "etag": self.etag,
            "gzip_mtime": self.gzip_mtime.isoformat() if self.gzip_mtime else None,
        }


class Source(ABC):
    """Where a release comes from."""

    @abstractmethod
    def describe(self) -> str:
        """Where the files come from, safe to log and record (no credentials)."""

    @abstractmethod
    def fetch(self, specs: Sequence[FileSpec]) -> list[SourceFile]:
        """Make the files of ``specs`` available locally, verified, in the order given.

        Raises a ``SourceError`` naming the file when one is missing or fails verification.
        """


def release_time(files: Sequence[SourceFile]) -> datetime | None:
    """The release identity's date: the newest build time among its files."""
    times = [t for t in (f.release_time for f in files) if t is not None]
    return max(times) if times else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def gzip_mtime(path: Path) -> datetime | None:
    """The MTIME field of a gzip header, or None when absent (0) or not gzip."""
    with path.open("rb") as fh:
        head = fh.read(10)
    if len(head) < 10 or head[:2] != b"\x1f\x8b":
        return None
    stamp = int.from_bytes(head[4:8], "little")
    return datetime.fromtimestamp(stamp, UTC) if stamp else None
