"""The files of the loaded release, kept so that the next delta can compare against them.

After a successful load every file it loaded is kept under ``<root>/<table>/<sha256>-<name>``
(a hard link where the filesystem allows, which costs no space while the source file lives,
else a copy), and the files of releases no longer loaded are removed. The sha256 is the one
the run metadata records per table; a delta checks it again before trusting a kept file.
The root is per database and schema, so several mirrors can share one directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from py_load_medgen import config

log = logging.getLogger(__name__)

KEPT_DIR_ENV = "MEDGEN_KEPT_DIR"
HASH_BLOCK = 1 << 20


def default_base() -> Path:
    """Where kept files go unless ``--kept-dir`` / ``MEDGEN_KEPT_DIR`` says otherwise."""
    env = os.environ.get(KEPT_DIR_ENV)
    return Path(env) if env else config.data_dir() / "kept"


def root_for(database: str, schema: str, base: Path | None = None) -> Path:
    """The directory of one mirror's kept files; ``database`` is the loader's safe description."""
    digest = hashlib.sha256(f"{database}\0{schema}".encode()).hexdigest()[:16]
    return (base or default_base()) / f"{schema}-{digest}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Usage:
    root: Path
    files: int
    bytes: int
    """Bytes the kept files would free if removed (hard links to a live file count 0)."""
    apparent: int
    """Bytes of the kept files, counting every link."""


def altered(path: Path, sha256: str) -> str:
    """Why the kept file at ``path`` cannot be trusted (it no longer hashes to ``sha256``, or
    cannot be read); empty when it can."""
    try:
        actual = sha256_of(path)
    except OSError as exc:
        return f"the kept file cannot be read: {exc}"
    if actual != sha256:
        return f"the kept file {path.name} changed on disk (sha256 {actual[:12]}…)"
    return ""


class KeptFiles:
    """The kept files of one mirror (database and schema)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, table: str, sha256: str, name: str) -> Path:
        return self.root / table / f"{sha256}-{name}"

    def find(
        self, table: str, sha256: str | None, name: str, *, verify: bool = True
    ) -> tuple[Path | None, str]:
        """The kept file of ``table`` whose content hashes to ``sha256``, checked now (unless
        ``verify`` is False: the caller checks it with ``altered`` while it reads it).

        Returns (path, "") or (None, why not), the reason fit for the log and the run record.
        """
        if not sha256:
            return None, "the run metadata records no sha256 for the loaded file"
        path = self.path(table, sha256, name)
        if not path.exists():
            folder = self.root / table
            others = sorted(folder.glob(f"*-{name}")) if folder.is_dir() else []
            if others:
                return None, f"no kept file with sha256 {sha256[:12]}… (only other releases')"
            return None, f"no kept file of the loaded release in {self.root}"
        if verify:
            why = altered(path, sha256)
            if why:
                return None, why
        return path, ""

    def keep(self, table: str, sha256: str | None, source: Path, name: str) -> Path | None:
        """Keep ``source`` as the file of ``table``; drop what was kept for it before."""
        if not sha256:
            return None
        target = self.path(table, sha256, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            partial = target.with_name(target.name + ".part")
            partial.unlink(missing_ok=True)
            try:
                os.link(source, partial)
            except OSError:
                shutil.copyfile(source, partial)
            partial.replace(target)
        for other in target.parent.iterdir():
            if other != target:
                other.unlink(missing_ok=True)
        return target

    def keep_all(self, kept: Iterable[tuple[str, str | None, Path, str]]) -> None:
        """Keep several files; a failure is a warning (the next delta then falls back)."""
        for table, sha256, source, name in kept:
            try:
                self.keep(table, sha256, source, name)
            except OSError as exc:
                log.warning(
                    "%s: could not keep %s for the next delta (%s); it will compare in the "
                    "database",
                    table,
                    name,
                    exc,
                )

    def usage(self) -> Usage:
        files = 0
        size = 0
        apparent = 0
        if self.root.is_dir():
            for path in self.root.rglob("*"):
                if path.is_file():
                    stat = path.stat()
                    files += 1
                    apparent += stat.st_size
                    if stat.st_nlink <= 1:
                        size += stat.st_size
        return Usage(self.root, files, size, apparent)
