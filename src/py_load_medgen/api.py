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
from typing import TYPE_CHECKING, Any, Literal

from py_load_medgen import config, report, runner
from py_load_medgen.checkupdate import UpdateCheck
from py_load_medgen.errors import NotLoadedError, UsageError
from py_load_medgen.load.metadata import RunStatus
from py_load_medgen.pipeline import LoadOptions, Mode, RunResult
from py_load_medgen.release.files import select_specs
from py_load_medgen.report import History, Status
from py_load_medgen.runner import DownloadResult
from py_load_medgen.source.location import DEFAULT_SOURCE
from py_load_medgen.verify import Verification
from py_load_medgen.verify import verify as recount

if TYPE_CHECKING:
    from py_load_medgen.compare.report import ChangeReport
    from py_load_medgen.generate import ChurnKind
    from py_load_medgen.source.mirror import DownloadSettings

__all__ = [
    "DataDictionary",
    "GeneratedRelease",
    "changes",
    "check_update",
    "data_dictionary",
    "ddl",
    "derive_release",
    "diff",
    "download",
    "generate_release",
    "history",
    "load",
    "split_names",
    "status",
    "vacuum",
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


def status(
    db_uri: str | None = None, *, schema: str = "medgen", kept_dir: Path | None = None
) -> Status:
    """The release loaded now: when, by which run, and the rows of every table (counted).

    Raises ``NotLoadedError`` when nothing is loaded.

    Examples:
        >>> _ = load("./medgen", db_uri="duckdb:///status.duckdb", files="MGDEF.RRF.gz")
        >>> now = status("duckdb:///status.duckdb")
        >>> [t.table for t in now.tables], now.total_rows > 0
        (['definitions'], True)
    """
    with report.connected(_db(db_uri), schema) as loader:
        result = report.status(loader)
        result.kept = _kept_usage(loader.describe(), schema, kept_dir)
        return result


def _kept_usage(database: str, schema: str, kept_dir: Path | None) -> dict[str, Any]:
    """Where the files kept for the next delta are, and the disk they take."""
    from py_load_medgen import kept

    usage = kept.KeptFiles(kept.root_for(database, schema, kept_dir)).usage()
    return {
        "path": str(usage.root),
        "files": usage.files,
        "bytes": usage.bytes,
        "apparent_bytes": usage.apparent,
    }


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
    quick: bool = False,
    kept_dir: Path | None = None,
) -> Verification:
    """Recount the loaded tables and compare with the run metadata, then compare every table's
    rows as a multiset with its file: the one in ``source``, else the file kept by the last
    load. ``quick`` only counts.

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
        from py_load_medgen import kept

        origin = runner.open_source(source, download_dir, network) if source else None
        store = kept.KeptFiles(kept.root_for(loader.describe(), schema, kept_dir))
        return recount(loader, origin, specs, quick=quick, kept_files=store)


def changes(db_uri: str | None = None, run_id: str = "", *, schema: str = "medgen") -> ChangeReport:
    """The change report a delta run kept with its metadata (``history --changes RUN_ID``).

    Raises ``NotLoadedError`` for a full-load run or an unknown run id.

    Examples:
        >>> uri = "duckdb:///changes.duckdb"
        >>> _ = load("./medgen", db_uri=uri, files="MGDEF.RRF.gz")
        >>> _ = derive_release("./medgen", "next-week", churn=0.05, files="MGDEF.RRF.gz")
        >>> run = load("./next-week", db_uri=uri, files="MGDEF.RRF.gz", mode="delta").run
        >>> counts = changes(uri, run.run_id).to_json()["tables"]["definitions"]
        >>> counts["inserted"] > 0, counts["deleted"] > 0
        (True, True)
    """
    with report.connected(_db(db_uri), schema) as loader:
        kept_report = report.stored_change_report(loader, run_id)
    if kept_report is None:
        raise NotLoadedError(
            f"run {run_id} kept no change report",
            hint="delta loads keep one; full loads and unknown run ids have none "
            "(py-load-medgen history lists the runs)",
        )
    return kept_report


def diff(
    old: str,
    new: str,
    *,
    files: str | Sequence[str] | None = None,
    rows_dir: Path | None = None,
    rows_format: Literal["csv", "parquet"] = "csv",
    examples: int = 5,
    download_dir: Path | None = None,
    network: DownloadSettings | None = None,
) -> ChangeReport:
    """What changed between two releases (directories or URLs); no database needed.

    Per table the rows inserted, updated, deleted and unchanged, then what happened to
    concepts; ``rows_dir`` receives every changed row (CSV or Parquet).

    Examples:
        >>> report = diff("./medgen", "./medgen", files="MGDEF.RRF.gz")
        >>> report.to_json()["tables"]["definitions"]["inserted"]
        0
    """
    from py_load_medgen.compare.report import diff_releases

    names = split_names(files)
    return diff_releases(
        runner.open_source(old, download_dir, network),
        runner.open_source(new, download_dir, network),
        files=list(names) or None,
        rows_dir=rows_dir,
        rows_format=rows_format,
        examples=examples,
    )


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
    from py_load_medgen.redact import public_uri

    with report.connected(_db(db_uri), schema) as loader:
        listing = checkupdate.list_source(source, network)
        # The source as shown and stored: never with its user-info (a password may be there).
        return checkupdate.check(loader, public_uri(source), listing)


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


@dataclass(frozen=True)
class DerivedRelease:
    """Next week's build written by ``derive_release``: per table what changed."""

    directory: Path
    changes: dict[str, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "tables": self.changes}

    def render(self) -> str:
        lines = ["table\tinserted\tupdated\tdeleted\tunchanged"]
        for table, c in self.changes.items():
            lines.append(
                f"{table}\t{c['inserted']}\t{c['updated']}\t{c['deleted']}\t{c['unchanged']}"
            )
        return "\n".join(lines)


def derive_release(
    from_dir: Path | str,
    out_dir: Path | str,
    *,
    churn: float = 0.01,
    seed: int = 1,
    kind: ChurnKind = "ordered",
    shuffle: str | Sequence[str] | None = None,
    reorder_columns: str | Sequence[str] | None = None,
    files: str | Sequence[str] | None = None,
) -> DerivedRelease:
    """Write "next week's build" of the release in ``from_dir`` with a known churn.

    ``kind`` ordered keeps the row order as NCBI's builds do; random scatters new rows;
    shuffle writes every row in a random order.

    Examples:
        >>> nxt = derive_release("./medgen", "next", churn=0.01, files="MGDEF.RRF.gz")
        >>> sorted(nxt.changes["definitions"])
        ['deleted', 'inserted', 'unchanged', 'updated']
    """
    from py_load_medgen.generate import derive_release as derive

    def tables_of(value: str | Sequence[str] | None) -> list[str] | None:
        names = split_names(value)
        return [s.table for s in select_specs(names)] if names else None

    directory = Path(out_dir)
    return DerivedRelease(
        directory,
        derive(
            Path(from_dir),
            directory,
            churn=churn,
            seed=seed,
            kind=kind,
            shuffle=tables_of(shuffle) or (),
            reorder_columns=tables_of(reorder_columns) or (),
            files=tables_of(files),
        ),
    )


@dataclass(frozen=True)
class Vacuumed:
    """What ``vacuum`` removed (or would remove, with ``dry_run``) per table."""

    removed: dict[str, list[str]]
    dry_run: bool

    def to_json(self) -> dict[str, list[str]]:
        return self.removed

    def render(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return "\n".join(f"{t}: {verb} {len(files)} file(s)" for t, files in self.removed.items())


def vacuum(
    db_uri: str | None = None,
    *,
    schema: str = "medgen",
    retention_days: float | None = None,
    dry_run: bool = False,
) -> Vacuumed:
    """Delta Lake only: delete the files no version within the retention period needs.

    Runs under the run lock, so no load writes while files go; the versions the latest
    release lists are never vacuumed, however old. Other backends raise ``UsageError``.

    Examples:
        >>> import os
        >>> lake = "delta://" + os.path.abspath("lake")
        >>> _ = load("./medgen", db_uri=lake, files="MGDEF.RRF.gz")
        >>> sum(len(files) for files in vacuum(lake).removed.values())  # all within 7 days
        0
    """
    from py_load_medgen.pipeline import new_run_id

    with report.connected(_db(db_uri), schema) as loader:
        sweep = getattr(loader, "vacuum", None)
        if sweep is None:
            raise UsageError(
                f"vacuum is for Delta Lake URIs; {loader.describe()} reclaims space by itself",
                hint="use --db-uri delta:///path/to/lake",
            )
        loader.acquire_lock(new_run_id())
        try:
            removed: dict[str, list[str]] = sweep(retention_days, dry_run=dry_run)
        finally:
            loader.release_lock()
    return Vacuumed(removed, dry_run)


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
        return runner.dictionary_markdown()


def data_dictionary() -> DataDictionary:
    """The data dictionary of the MedGen tables.

    Examples:
        >>> data_dictionary().to_json()[0]["table"]
        'concepts'
    """
    return DataDictionary(report.dictionary_json())
