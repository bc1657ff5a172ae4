"""What the CLI asks for, in library terms: resolve the source and the backend, then run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from py_load_medgen import pipeline
from py_load_medgen.errors import UsageError
from py_load_medgen.load.registry import open_loader, scheme_of
from py_load_medgen.pipeline import LoadOptions, RunResult
from py_load_medgen.source.base import Source, release_time
from py_load_medgen.source.local import LocalSource
from py_load_medgen.source.location import (  # noqa: F401 - DEFAULT_SOURCE: callers import it here
    DEFAULT_SOURCE,
    is_remote,
    local_path,
)

if TYPE_CHECKING:
    from py_load_medgen.source.mirror import DownloadSettings, Fetched, Mirror

log = logging.getLogger(__name__)


def open_source(
    location: str, download_dir: Path | None = None, download: DownloadSettings | None = None
) -> Source:
    """A local directory (or file:// URL) as is; an http(s):// or ftp:// URL mirrored into a
    cache first."""
    if is_remote(location):
        return open_download(location, download_dir, download)
    return LocalSource(local_path(location))


def open_download(
    location: str, download_dir: Path | None = None, download: DownloadSettings | None = None
) -> Mirror:
    """The mirror of a remote release directory (``download`` has nothing to do locally)."""
    if not is_remote(location):
        raise UsageError(
            f"{location} is on this machine already: there is nothing to download",
            hint="pass an https://, http:// or ftp:// URL as --source",
        )
    from py_load_medgen.source.mirror import open_mirror

    return open_mirror(location, download_dir, download)


def load(
    source_location: str,
    db_uri: str,
    options: LoadOptions,
    *,
    download_dir: Path | None = None,
    download: DownloadSettings | None = None,
    announce_default_db: bool = False,
) -> RunResult:
    """Resolve ``source_location`` and ``db_uri``, then run the load ``options`` describe."""
    source = open_source(source_location, download_dir, download)
    if options.dry_run and options.mode == "full":
        return pipeline.validate_only(source, options)
    with open_loader(db_uri, options.schema) as loader:
        if announce_default_db:
            log.info("no --db-uri given: loading into the embedded default %s", loader.describe())
        if options.mode == "delta":
            return pipeline.run_delta(source, loader, options)
        return pipeline.run_full(source, loader, options)


@dataclass(frozen=True)
class DownloadResult:
    """What a ``download`` did: where the release came from and went, each file's outcome."""

    source: str
    cache: Path
    fetched: Sequence[Fetched]

    @property
    def release_time(self) -> datetime | None:
        """The newest build time of the files: MedGen's only release identity."""
        return release_time([f.file for f in self.fetched])

    def to_json(self) -> dict[str, Any]:
        """Each file's identity and how it came, as ``download --json`` prints it."""
        when = self.release_time
        return {
            "source": self.source,
            "cache": str(self.cache),
            "release_time": when.isoformat() if when else None,
            "files": [
                {
                    **f.file.identity(),
                    "path": str(f.file.path),
                    "outcome": f.outcome,
                    "bytes_transferred": f.transferred,
                    "seconds": round(f.seconds, 3),
                }
                for f in self.fetched
            ],
        }

    def render(self) -> str:
        """One line per file: name, outcome, size and SHA-256."""
        when = self.release_time
        lines = [
            f"{self.source} -> {self.cache}",
            f"release {when.isoformat() if when else 'unknown'} "
            "(the newest build time of its files)",
        ]
        width = max((len(f.file.name) for f in self.fetched), default=4)
        lines += [
            f"{f.file.name:<{width}}  {f.outcome:<10}  {f.file.size:>13,}  {f.file.sha256}"
            for f in self.fetched
        ]
        return "\n".join(lines)


def download_summary(mirror: Mirror, fetched: Sequence[Fetched]) -> dict[str, Any]:
    """What a ``download`` did, JSON-ready (kept for callers of the old name)."""
    return DownloadResult(mirror.describe(), mirror.cache, fetched).to_json()


def summary(result: RunResult) -> dict[str, Any]:
    """A load's summary, JSON-ready (kept for callers of the old name)."""
    return result.to_json()


def dictionary_markdown() -> str:
    """The data dictionary: the tables (from the release spec), then the answers' views."""
    from py_load_medgen.answers.views import views_markdown
    from py_load_medgen.release.schema import data_dictionary_markdown

    return data_dictionary_markdown() + "\n\n" + views_markdown()


def schema_text(db_uri: str, schema: str, dictionary: bool) -> str:
    from py_load_medgen.load import sql
    from py_load_medgen.release.files import FILES
    from py_load_medgen.release.schema import indexes

    if dictionary:
        return dictionary_markdown()
    dialect = sql.DUCKDB if scheme_of(db_uri) == "duckdb" else sql.POSTGRES
    statements = [f"CREATE SCHEMA IF NOT EXISTS {sql.ident(schema)}"]
    for spec in FILES:
        statements.append(sql.create_table(dialect, schema, spec.table, spec, unlogged=False))
        statements += [sql.create_index(schema, spec.table, i) for i in indexes(spec)]
    statements += sql.metadata_ddl(dialect, schema)
    return ";\n".join(statements) + ";"
