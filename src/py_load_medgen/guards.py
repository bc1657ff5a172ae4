"""Checks a run passes before it publishes: no table shrinks by accident, no release goes
back in time by accident.

Both compare the staged release with what the run metadata says is loaded, and both stop the
run before its publishing transaction, so the tables stay as they were; each has an option to
say the change is meant (``allow_shrink``, ``allow_older``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from py_load_medgen.errors import InputError, UsageError
from py_load_medgen.load.metadata import FileRow, TableLoad
from py_load_medgen.report import utc
from py_load_medgen.source.base import SourceFile

log = logging.getLogger(__name__)

TIME_TOLERANCE = timedelta(minutes=1)
"""Listings give times to the minute; the same file may be recorded a few seconds apart."""


class ShrinkError(InputError):
    """A table would keep less than the allowed fraction of its loaded rows."""


class OlderReleaseError(UsageError):
    """The release to load is older than the one loaded."""


@dataclass(frozen=True)
class Shrink:
    table: str
    before: int
    after: int
    deleted: int | None

    def describe(self) -> str:
        text = f"{self.table}: {self.before:,} rows loaded, {self.after:,} in this release"
        if self.deleted is not None:
            text += f" ({self.deleted:,} to delete)"
        return text


def shrinks(loads: Sequence[TableLoad], state: Mapping[str, FileRow], limit: float) -> list[Shrink]:
    """Tables whose good rows fall under ``limit`` of the loaded release's.

    For a delta that is the table after the changes, so a delta deleting most of a table is
    caught, while one that replaces most rows by new ones (real MGREL builds renumber many
    relationships from one week to the next) is not.
    """
    found = []
    for load in loads:
        if load.skipped:
            continue
        record = state.get(load.table)
        before = int(record.rows_loaded or 0) if record else 0
        if before > 0 and load.rows_loaded < limit * before:
            found.append(Shrink(load.table, before, load.rows_loaded, load.deleted))
    return found


def check_shrink(
    loads: Sequence[TableLoad],
    state: Mapping[str, FileRow],
    *,
    limit: float,
    allow: bool,
) -> None:
    """Raise ShrinkError (exit 3) before publishing a run that would empty tables."""
    found = shrinks(loads, state, limit)
    if not found:
        return
    detail = "; ".join(s.describe() for s in found)
    if allow:
        log.warning("publishing shrunken tables (--allow-shrink): %s", detail)
        return
    raise ShrinkError(
        f"refusing to publish: {len(found)} table(s) would keep less than {limit:.0%} of the "
        f"rows loaded now: {detail}; nothing was changed",
        hint="a truncated or wrong file is the usual cause: download it again; if the "
        "release really is this much smaller, load it with --allow-shrink "
        "(or set --shrink-limit)",
    )


def file_time(record: FileRow, kind: str) -> datetime | None:
    return utc(record.get(kind))


def older_files(
    files: Sequence[SourceFile], state: Mapping[str, FileRow]
) -> tuple[list[tuple[SourceFile, datetime, datetime]], list[str]]:
    """The files older than the loaded ones (file, its time, the loaded time), and the names
    of those whose age cannot be told.

    Times are compared like with like: the gzip header's build time when both have one, else
    the server's modification time.
    """
    older: list[tuple[SourceFile, datetime, datetime]] = []
    unknown: list[str] = []
    for file in files:
        record = state.get(file.spec.table)
        if record is None:
            continue
        pairs = [
            (file.gzip_mtime, file_time(record, "gzip_mtime")),
            (file.modified, file_time(record, "modified")),
        ]
        pair = next(((new, old) for new, old in pairs if new and old), None)
        if pair is None:
            if record.sha256 != file.sha256:
                unknown.append(file.name)
            continue
        new, old = utc(pair[0]), pair[1]
        if new is None or old is None:
            continue
        if new < old - TIME_TOLERANCE:
            older.append((file, new, old))
        elif new <= old + TIME_TOLERANCE and record.sha256 != file.sha256:
            unknown.append(file.name)  # another file of the same time: no way to order them
    return older, unknown


def check_older(files: Sequence[SourceFile], state: Mapping[str, FileRow], *, allow: bool) -> None:
    """Refuse (exit 2) to load a release older than the one loaded, unless ``allow``."""
    older, unknown = older_files(files, state)
    if unknown:
        log.warning(
            "cannot tell whether %s are newer or older than the loaded files: neither the "
            "gzip header nor the source gives a time for both",
            ", ".join(unknown),
        )
    if not older:
        return
    detail = "; ".join(
        f"{f.name} built {new.isoformat()} but the loaded one {old.isoformat()}"
        for f, new, old in older
    )
    if allow:
        log.warning("loading an older release (--allow-older): %s", detail)
        return
    newest_loaded = max(old for _f, _new, old in older)
    oldest_new = min(new for _f, new, _old in older)
    raise OlderReleaseError(
        f"refusing to go back in time: this release ({oldest_new.isoformat()}) is older than "
        f"the one loaded ({newest_loaded.isoformat()}): {detail}",
        hint="point --source at the current release; to roll back on purpose, " "add --allow-older",
    )
