"""The library's front door: one function per command, each returning a result that renders
itself as text (``render()``) and as JSON-ready data (``to_json()``).

The command line parses its options, calls exactly one of these and prints the result, so
everything a command does can be done from Python. The examples below run as tests, in a
directory holding a small generated release in ``./medgen``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from py_load_medgen import config, report, runner
from py_load_medgen.checkupdate import UpdateCheck
from py_load_medgen.load.metadata import RunStatus
from py_load_medgen.pipeline import LoadOptions, Mode, RunResult, select_specs
from py_load_medgen.report import History, Status
from py_load_medgen.runner import DownloadResult
from py_load_medgen.source.location import DEFAULT_SOURCE
from py_load_medgen.verify import Verification
from py_load_medgen.verify import verify as recount

if TYPE_CHECKING:
    from py_load_medgen.source.mirror import DownloadSettings

__all__ = [
    "DataDictionary",
    "GeneratedRelease",
    "check_update",
    "data_dictionary",
    "ddl",
    "download",
    "generate_release",
    "history",
    "load",
    "split_names",
    "status",
    "verify",
]


def split_names(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--files`` as names: a comma-separated string or a sequence, blanks dropped.

    Examples:
        >>> split_names("NAMES.RRF.gz, MGREL.RRF.gz,")
        ('NAMES.RRF.gz', 'MGREL.RRF.gz')
        >>> split_names(["concepts"])
        ('concepts',)
    """
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else text
    return tuple(name.strip() for name in parts if name.strip())


def _db(db_uri: str | None) -> str:
    return db_uri or config.default_db_uri()


def load(
    source: str = DEFAULT_SOURCE,
    *,
    db_uri: str | None = None,
    files: str | Sequence[str] | None = None,
    mode: Mode | None = None,
    schema: str | None = None,
    dry_run: bool | None = None,
    options: LoadOptions | None = None,
    download_dir: Path | None = None,
    network: DownloadSettings | None = None,
) -> RunResult:
    """Load a release (a directory or an https://, http:// or ftp:// URL) into a database.

    ``options`` holds every setting of ``load``; ``files``, ``mode``, ``schema`` and
    ``dry_run``, when given, override it. With no ``db_uri`` the embedded DuckDB default is
    used. Raises a ``MedgenError`` subclass (each knows its exit code) when the run fails; the
    previous release is then untouched.

    Examples:
        >>> result = load("./medgen", db_uri="duckdb:///mirror.duckdb", files=["NAMES.RRF.gz"])
        >>> result.run.status, [t.table for t in result.loads]
        ('succeeded', ['concepts'])
        >>> print(result.render())  # doctest: +ELLIPSIS
        run ... succeeded: full load, release 2026-01-07 16:30:00+00:00
        table     rows  rejected   seconds
        concepts   ...
        >>> result.to_json()["tables"][0]["rows_rejected"]
        0
    """
    options = options or LoadOptions()
    changes: dict[str, Any] = {}
    if files is not None:
        changes["files"] = split_names(files)
    for name, value in (("mode", mode), ("schema", schema), ("dry_run", dry_run)):
        if value is not None:
            changes[name] = value
    return runner.load(
        source,
        _db(db_uri),
        dataclasses.replace(options, **changes),
        download_dir=download_dir,
        download=network,
        announce_default_db=db_uri is None,
    )


def download(
    source: str = DEFAULT_SOURCE,
    *,
    files: str | Sequence[str] | None = None,
    download_dir: Path | None = None,
    network: DownloadSettings | None = None,
) -> DownloadResult:
    """Mirror a release from a server into the download cache, verified, without loading it.

    Files unchanged on the server are not transferred again; a partial file is resumed.

    Examples:
        >>> download("./medgen")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        py_load_medgen.errors.UsageError: ./medgen is on this machine already: ...
    """
    mirror = runner.open_download(source, download_dir, network)
    fetched = mirror.mirror(select_specs(split_names(files)))
    return DownloadResult(mirror.describe(), mirror.cache, fetched)


def status(db_uri: str | None = None, *, schema: str = "medgen") -> Status:
    """The release loaded now: when, by which run, and the rows of every table (counted).

    Raises ``NotLoadedError`` when nothing is loaded.

    Examples:
        >>> _ = load("./medgen", db_uri="duckdb:///status.duckdb", files="MGDEF.RRF.gz")
        >>> now = status("duckdb:///status.duckdb")
        >>> [t.table for t in now.tables], now.total_rows > 0
        (['definitions'], True)
    """
    with report.connected(_db(db_uri), schema) as loader:
        return report.status(loader)


def history(
    db_uri: str | None = None,
    *,
    schema: str = "medgen",
    limit: int = 20,
    status: RunStatus | None = None,
    run_id: str | None = None,
) -> History:
    """Past runs, newest first, with what each did; one run's details, table by table, by id.

    Examples:
        >>> first = load("./medgen", db_uri="duckdb:///history.duckdb", files="MGDEF.RRF.gz")
        >>> runs = history("duckdb:///history.duckdb")
        >>> [(r.run["run_id"] == first.run.run_id, r.run["status"]) for r in runs.runs]
        [(True, 'succeeded')]
    """
    with report.connected(_db(db_uri), schema) as loader:
        return History(report.history(loader, limit=limit, status=status, run_id=run_id))


def verify(
    db_uri: str | None = None,
    *,
    schema: str = "medgen",
    source: str | None = None,
    files: str | Sequence[str] | None = None,
    download_dir: Path | None = None,
    network: DownloadSettings | None = None,
) -> Verification:
    """Recount the loaded tables and compare with the run metadata and, given a source, the files.

    Never raises on a mismatch: look at ``ok`` or call ``raise_for_mismatch()``.

    Examples:
        >>> _ = load("./medgen", db_uri="duckdb:///verify.duckdb", files="MGDEF.RRF.gz")
        >>> check = verify("duckdb:///verify.duckdb", source="./medgen")
        >>> check.ok, [(t.table, t.rows == t.source_rows) for t in check.tables]
        (True, [('definitions', True)])
    """
    names = split_names(files)
    specs = select_specs(names) if names else []
    with report.connected(_db(db_uri), schema) as loader:
        origin = runner.open_source(source, download_dir, network) if source else None
        return recount(loader, origin, specs)


def check_update(
    db_uri: str | None = None,
    *,
    schema: str = "medgen",
    source: str = DEFAULT_SOURCE,
    network: DownloadSettings | None = None,
) -> UpdateCheck:
    """Whether ``source`` lists a newer release than the one loaded; downloads nothing.

    Examples:
        >>> _ = load("./medgen", db_uri="duckdb:///update.duckdb", files="MGDEF.RRF.gz")
        >>> check_update("duckdb:///update.duckdb", source="./medgen").update_available
        False
    """
    from py_load_medgen import checkupdate

    with report.connected(_db(db_uri), schema) as loader:
        listing = checkupdate.list_source(source, network)
        return checkupdate.check(loader, source, listing)


@dataclass(frozen=True)
class GeneratedRelease:
    """A synthetic release written by ``generate_release``: its directory and rows per table."""

    directory: Path
    rows: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "rows": dict(self.rows)}

    def render(self) -> str:
        """One ``table<TAB>rows`` line per table."""
        return "\n".join(f"{table}\t{rows}" for table, rows in self.rows.items())


def generate_release(
    out_dir: Path | str,
    *,
    scale: float = 0.01,
    seed: int = 0,
    files: str | Sequence[str] | None = None,
) -> GeneratedRelease:
    """Write a synthetic MedGen-shaped release (real layouts and quirks); same seed, same bytes.

    ``scale`` 1.0 approximates a real release (about 55 M rows).

    Examples:
        >>> generated = generate_release("sample", scale=0.001, files="MGDEF.RRF.gz")
        >>> print(generated.render())  # doctest: +ELLIPSIS
        definitions	...
    """
    from py_load_medgen.generate import generate_release as write_release

    names = split_names(files)
    tables = [s.table for s in select_specs(names)] if names else None
    directory = Path(out_dir)
    return GeneratedRelease(
        directory, write_release(directory, scale=scale, seed=seed, files=tables)
    )


def ddl(db_uri: str | None = None, *, schema: str = "medgen") -> str:
    """The DDL of the MedGen tables and the metadata tables, in the dialect of ``db_uri``.

    Examples:
        >>> print(ddl("duckdb:///x.duckdb").splitlines()[0])
        CREATE SCHEMA IF NOT EXISTS "medgen";
    """
    return runner.schema_text(_db(db_uri), schema, dictionary=False)


@dataclass(frozen=True)
class DataDictionary:
    """Every table, its source file, keys, indexes and columns."""

    tables: list[dict[str, Any]]

    def to_json(self) -> list[dict[str, Any]]:
        return self.tables

    def render(self) -> str:
        """The dictionary as Markdown (docs/data-dictionary.md)."""
        from py_load_medgen.release.schema import data_dictionary_markdown

        return data_dictionary_markdown()


def data_dictionary() -> DataDictionary:
    """The data dictionary of the MedGen tables.

    Examples:
        >>> data_dictionary().to_json()[0]["table"]
        'concepts'
    """
    return DataDictionary(report.dictionary_json())
