"""A release already on local disk: a directory holding the served files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from py_load_medgen.errors import SourceError
from py_load_medgen.release.files import FileSpec, spec_for_file
from py_load_medgen.source.base import Source, SourceFile, gzip_mtime, sha256_file

log = logging.getLogger(__name__)


class LocalSource(Source):
    """Files in a directory, matched to specs by name, case-insensitively."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def describe(self) -> str:
        return str(self.directory)

    def listing(self) -> dict[str, Path]:
        """Known spec table -> path, for every recognised file in the directory."""
        if not self.directory.is_dir():
            raise SourceError(
                f"source directory {self.directory} does not exist or is not a directory",
                hint="pass --source DIR pointing at a directory of MedGen files, or a URL",
            )
        found: dict[str, Path] = {}
        for path in sorted(self.directory.iterdir()):
            spec = spec_for_file(path.name)
            if spec is None or not path.is_file():
                continue
            other = found.setdefault(spec.table, path)
            if other != path:
                # Names match case-insensitively: which spelling is the release is not ours
                # to guess (a stale copy beside a new one loads silently otherwise).
                raise SourceError(
                    f"{self.directory}: {other.name} and {path.name} are both {spec.name}; "
                    "which one to load is ambiguous",
                    hint="remove or rename the one that is not part of the release",
                )
        return found

    def unknown_files(self) -> list[str]:
        """Files in the directory that no spec describes (reported, never loaded); hidden
        files and a download cache's partial files are not release files."""
        return sorted(
            p.name
            for p in self.directory.iterdir()
            if p.is_file()
            and spec_for_file(p.name) is None
            and not p.name.startswith(".")
            and not p.name.endswith((".part", ".part.json", ".tmp"))
        )

    def fetch(self, specs: Sequence[FileSpec]) -> list[SourceFile]:
        found = self.listing()
        unknown = self.unknown_files()
        if unknown:
            log.warning(
                "%s holds files the loader does not know (not loaded): %s",
                self.directory,
                ", ".join(unknown),
            )
        missing = [s.name for s in specs if s.table not in found]
        if missing:
            raise SourceError(
                f"{self.directory}: missing {', '.join(missing)}",
                hint="load a subset with --files, or complete the directory",
            )
        result = []
        for spec in specs:
            path = found[spec.table]
            stat = path.stat()
            result.append(
                SourceFile(
                    spec=spec,
                    path=path,
                    name=path.name,
                    size=stat.st_size,
                    sha256=sha256_file(path),
                    modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                    url=path.resolve().as_uri(),
                    gzip_mtime=gzip_mtime(path),
                )
            )
        return result
