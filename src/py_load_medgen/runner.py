"""What the CLI asks for, in library terms: resolve the source and the backend, then run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from py_load_medgen import pipeline
from py_load_medgen.errors import UsageError
from py_load_medgen.load.registry import open_loader, scheme_of
from py_load_medgen.pipeline import LoadOptions, RunResult
from py_load_medgen.source.base import Source, release_time
from py_load_medgen.source.local import LocalSource

if TYPE_CHECKING:
    from py_load_medgen.source.mirror import DownloadSettings, Fetched, Mirror

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "https://ftp.ncbi.nlm.nih.gov/pub/medgen/"


def open_source(
    location: str, download_dir: Path | None = None, download: DownloadSettings | None = None
) -> Source:
    """A local directory (or file:// URL) as is; an http(s):// or ftp:// URL mirrored into a
    cache first."""
    if location.startswith("file://"):
        return LocalSource(Path(urlsplit(location).path))
    if "://" in location:
        return open_download(location, download_dir, download)
    return LocalSource(Path(location))


def open_download(
    location: str, download_dir: Path | None = None, download: DownloadSettings | None = None
) -> Mirror:
    """The mirror of a remote release directory (``download`` has nothing to do locally)."""
    if "://" not in location or location.startswith("file://"):
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
    source = open_source(source_location, download_dir, download)
    if options.dry_run and options.mode == "full":
        return pipeline.validate_only(source, options)
    loader = open_loader(db_uri, options.schema)
    if announce_default_db:
        log.info("no --db-uri given: loading into the embedded default %s", loader.describe())
    loader.connect()
    try:
        if options.mode == "delta":
            return pipeline.run_delta(source, loader, options)
        return pipeline.run_full(source, loader, options)
    finally:
        loader.close()


def download_summary(mirror: Mirror, fetched: Sequence[Fetched]) -> dict[str, Any]:
    """What a ``download`` did, JSON-ready: each file's identity and how it came."""
    when = release_time([f.file for f in fetched])
    return {
        "source": mirror.describe(),
        "cache": str(mirror.cache),
        "release_time": when.isoformat() if when else None,
        "files": [
            {
                **f.file.identity(),
                "path": str(f.file.path),
                "outcome": f.outcome,
                "bytes_transferred": f.transferred,
                "seconds": round(f.seconds, 3),
            }
            for f in fetched
        ],
    }


def summary(result: RunResult) -> dict[str, Any]:
    run = result.run
    return {
        "run_id": run.run_id,
        "mode": run.mode,
        "strategy": run.strategy,
        "status": "validated" if result.dry_run else run.status,
        "release_time": run.release_time.isoformat() if run.release_time else None,
        "source": run.source,
        "tables": [
            {
                "table": t.table,
                "file": t.file.name if t.file else None,
                "rows_read": t.rows_read,
                "rows_loaded": t.rows_loaded,
                "rows_rejected": t.rows_rejected,
                "inserted": t.inserted,
                "updated": t.updated,
                "deleted": t.deleted,
                "unchanged": t.unchanged,
                "unknown_columns": list(t.unknown_columns),
                "seconds": round(t.duration, 3),
                "skipped": t.skipped,
            }
            for t in result.loads
        ],
    }


def schema_text(db_uri: str, schema: str, dictionary: bool) -> str:
    from py_load_medgen.load import sql
    from py_load_medgen.release.files import FILES
    from py_load_medgen.release.schema import data_dictionary_markdown, indexes

    if dictionary:
        return data_dictionary_markdown()
    dialect = sql.DUCKDB if scheme_of(db_uri) == "duckdb" else sql.POSTGRES
    statements = [f"CREATE SCHEMA IF NOT EXISTS {sql.ident(schema)}"]
    for spec in FILES:
        statements.append(sql.create_table(dialect, schema, spec.table, spec, unlogged=False))
        statements += [sql.create_index(schema, spec.table, i) for i in indexes(spec)]
    statements += sql.metadata_ddl(dialect, schema)
    return ";\n".join(statements) + ";"
