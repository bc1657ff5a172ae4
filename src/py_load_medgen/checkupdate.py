"""``check-update``: does the server have a newer release than the one loaded?

MedGen has no release number; a release is known by its files' sizes and times. The check
compares, for every table loaded, what the run metadata recorded about its file with what the
source lists now, without downloading anything: a file whose size differs, or whose time is
later than the loaded one's, is a new build. Only tables that are loaded count, so a database
that mirrors a few files is not told to update for the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from py_load_medgen.errors import NotLoadedError
from py_load_medgen.load.base import Loader
from py_load_medgen.release.files import FILES, spec_for_file
from py_load_medgen.report import NOT_LOADED_HINT, iso, table_text, utc, when

if TYPE_CHECKING:
    from py_load_medgen.source.mirror import DownloadSettings
from py_load_medgen.source.base import gzip_mtime, sha256_file
from py_load_medgen.source.location import is_remote, local_path

TIME_TOLERANCE = timedelta(minutes=1)
"""HTTP directory listings show times to the minute; a loaded file's time may have seconds."""


@dataclass(frozen=True)
class Listed:
    """One file as the source lists it now."""

    name: str
    size: int | None
    modified: datetime | None
    """The listing's time (server Last-Modified or file time)."""
    build_time: datetime | None = None
    """The gzip header's MTIME, where the listing can tell it without a download."""
    path: Path | None = None
    """A local file, which can be hashed when its time alone says it changed."""


@dataclass
class FileCheck:
    table: str
    loaded_name: str | None
    loaded_size: int | None
    loaded_time: datetime | None
    """The loaded file's time of the same kind as the listed one, so the two compare."""
    listed: Listed | None
    same_content: bool | None = None
    """For a local file: whether its SHA-256 is the loaded one's (None when not hashed)."""

    @property
    def listed_time(self) -> datetime | None:
        if self.listed is None:
            return None
        return self.listed.build_time or self.listed.modified

    @property
    def state(self) -> str:
        """``changed`` (newer, or different with no time to tell: see ``undated``),
        ``older``, ``same`` or ``missing`` (no longer listed)."""
        if self.listed is None:
            return "missing"
        if self.same_content:
            return "same"
        listed, loaded = self.listed_time, self.loaded_time
        if listed is not None and loaded is not None:
            if listed > loaded + TIME_TOLERANCE:
                return "changed"
            if listed < loaded - TIME_TOLERANCE:
                return "older"  # a mirror behind the one loaded from: never an update
        if self.same_content is False or (
            self.listed.size is not None
            and self.loaded_size is not None
            and self.listed.size != self.loaded_size
        ):
            return "changed"
        return "same"

    @property
    def undated(self) -> bool:
        """A different file whose times cannot tell whether it is newer or older."""
        if self.state != "changed":
            return False
        listed, loaded = self.listed_time, self.loaded_time
        return listed is None or loaded is None or abs(listed - loaded) <= TIME_TOLERANCE

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "state": self.state,
            "undated": self.undated,
            "loaded": {
                "file": self.loaded_name,
                "size": self.loaded_size,
                "time": iso(self.loaded_time),
            },
            "listed": None
            if self.listed is None
            else {
                "file": self.listed.name,
                "size": self.listed.size,
                "time": iso(self.listed_time),
            },
        }


@dataclass
class UpdateCheck:
    database: str
    schema: str
    source: str
    loaded_release: datetime | None
    files: list[FileCheck]

    @property
    def changed(self) -> list[FileCheck]:
        return [f for f in self.files if f.state == "changed"]

    @property
    def older(self) -> list[FileCheck]:
        return [f for f in self.files if f.state == "older"]

    @property
    def undated(self) -> list[FileCheck]:
        return [f for f in self.changed if f.undated]

    @property
    def update_available(self) -> bool:
        """Newer files, or different ones the source gives no time for (said in ``render``);
        never older ones alone."""
        return bool(self.changed)

    @property
    def listed_release(self) -> datetime | None:
        times = [f.listed_time for f in self.files if f.listed_time]
        return max(times) if times else None

    def to_json(self) -> dict[str, Any]:
        return {
            "update_available": self.update_available,
            "database": self.database,
            "schema": self.schema,
            "source": self.source,
            "loaded_release": iso(self.loaded_release),
            "listed_release": iso(self.listed_release),
            "changed": [f.table for f in self.changed],
            "older": [f.table for f in self.older],
            "undated": [f.table for f in self.undated],
            "files": [f.to_json() for f in self.files],
        }

    def render(self) -> str:
        changed, older, undated = self.changed, self.older, self.undated
        if changed:
            verdict = f"update available: {len(changed)} of {len(self.files)} loaded files changed"
        elif older:
            verdict = (
                f"the source is OLDER than the loaded release: {len(older)} of "
                f"{len(self.files)} loaded files were built before the loaded ones; not an "
                "update (a load of it is refused without --allow-older)"
            )
        else:
            verdict = "up to date"
        lines = [verdict]
        if undated:
            lines.append(
                f"cannot tell whether {', '.join(f.table for f in undated)} are newer or "
                "older: the source gives no time for them, only a different size or content"
            )
        if changed and older:
            lines.append(f"older than the loaded ones: {', '.join(f.table for f in older)}")
        lines += [
            f"loaded: release {when(self.loaded_release)} in {self.database}, "
            f"schema {self.schema}",
            f"listed: release {when(self.listed_release)} at {self.source}",
            "",
        ]
        rows = [
            [
                f.table,
                f.loaded_name or "-",
                _brief(f.loaded_time, f.loaded_size),
                _brief(f.listed_time, f.listed.size) if f.listed else "not listed",
                f.state,
            ]
            for f in self.files
        ]
        lines.append(table_text(["table", "file", "loaded", "listed", "state"], rows, set()))
        return "\n".join(lines)


def _brief(time: datetime | None, size: int | None) -> str:
    return f"{when(time)}, {size if size is not None else '?'} bytes"


def check(loader: Loader, source: str, listing: Sequence[Listed]) -> UpdateCheck:
    """Compare the loaded files with a listing of the source."""
    state = loader.loaded_state()
    if not state:
        raise NotLoadedError(
            f"nothing loaded in {loader.describe()}, schema {loader.schema}; "
            "there is no release to compare with",
            hint=NOT_LOADED_HINT,
        )
    by_table: dict[str, Listed] = {}
    for entry in listing:
        table = _table_of(entry.name)
        if table is not None:
            by_table.setdefault(table, entry)
    files = []
    for spec in FILES:
        record = state.get(spec.table)
        if record is None:
            continue
        listed = by_table.get(spec.table)
        # Like for like: a build time with a build time, a server time with a server time
        # (a file lands on the server minutes after NCBI built it).
        build_time = record.gzip_mtime
        use_build = listed is not None and listed.build_time is not None and build_time
        files.append(
            FileCheck(
                table=spec.table,
                loaded_name=record.file_name,
                loaded_size=record.size,
                loaded_time=build_time if use_build else record.modified,
                listed=listed,
            )
        )
    for file in files:
        listed = file.listed
        if listed is not None and listed.path is not None and file.state in ("changed", "older"):
            # A copied mirror gets new file times; for a local file the content decides.
            recorded = state[file.table].sha256
            if recorded:
                file.same_content = sha256_file(listed.path) == recorded
    times = [f.loaded_time for f in files if f.loaded_time]
    return UpdateCheck(
        loader.describe(), loader.schema, source, max(times) if times else None, files
    )


def _table_of(name: str) -> str | None:
    spec = spec_for_file(name)
    return spec.table if spec else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# -- listings ----------------------------------------------------------------------------------


def list_source(location: str, settings: DownloadSettings | None = None) -> list[Listed]:
    """What the source serves now: names, sizes and times, without downloading the files."""
    if is_remote(location):
        return list_remote(location, settings)
    return list_directory(local_path(location))


def list_directory(directory: Path) -> list[Listed]:
    """A local mirror: sizes and times from the files (a gzip header's MTIME when present)."""
    from py_load_medgen.source.local import LocalSource

    listed = []
    for path in LocalSource(directory).listing().values():
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        listed.append(Listed(path.name, stat.st_size, modified, gzip_mtime(path), path))
    return listed


def list_remote(url: str, settings: DownloadSettings | None = None) -> list[Listed]:
    """A server's directory: its listing, then per known file its exact size and time (a HEAD
    request over HTTP, SIZE and MDTM over FTP: listings round sizes and times)."""
    from py_load_medgen.source.mirror import open_mirror

    mirror = open_mirror(url, settings=settings)
    return [Listed(entry.name, entry.size, utc(entry.modified)) for entry in mirror.list_files()]
