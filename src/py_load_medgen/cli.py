"""The command line: options -> library calls -> messages and exit codes. No business logic.

Data (summaries, DDL, JSON) goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import itertools
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar, get_args

import click

from py_load_medgen import config, logs
from py_load_medgen.api import split_names
from py_load_medgen.errors import ConfigError, ExitCode, MedgenError
from py_load_medgen.load.metadata import RunStatus
from py_load_medgen.pipeline import MODES, STRATEGIES, LoadOptions, Mode, Strategy
from py_load_medgen.source.location import DEFAULT_SOURCE
from py_load_medgen.source.mirror import DownloadSettings
from py_load_medgen.source.retry import RetryPolicy
from py_load_medgen.version import __version__

log = logging.getLogger("py_load_medgen")
F = TypeVar("F", bound=Callable[..., Any])


def _env(option: str) -> str:
    return config.env_name(option)


def _apply_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    commands = {
        name: {p.name for p in cmd.params if p.name}
        for name, cmd in (ctx.parent.command.commands.items() if ctx.parent else [])  # type: ignore[attr-defined]
    }
    path = Path(value) if value else None
    defaults = config.load_config(path, commands)
    name = ctx.info_name or ""
    _check_config_types(ctx, path, defaults.get(name, {}))
    ctx.default_map = {**(ctx.default_map or {}), **defaults.get(name, {})}
    return value


def _check_config_types(ctx: click.Context, path: Path | None, values: dict[str, Any]) -> None:
    """A config value of the wrong type is the config file's error, not a flag's."""
    params = {p.name: p for p in ctx.command.params if p.name}
    for key, raw in values.items():
        param = params.get(key)
        if param is None:
            continue
        try:
            if getattr(param, "is_flag", False) and not isinstance(raw, bool):
                raise click.BadParameter(f"{raw!r} is not true or false")
            param.type_cast_value(ctx, raw)
        except click.BadParameter as exc:
            raise ConfigError(
                f"{config.shown_path(path)}: {key.replace('_', '-')} = {raw!r} is not valid "
                f"for {ctx.info_name}: {config.expected(param)} ({exc.message})",
                hint=f"fix {key.replace('_', '-')} in the config file, or override it with "
                f"{param.opts[0] if param.opts else key}",
            ) from None


def _remember_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # Kept in the context rather than passed as an argument, so every command has the option
    # without each signature naming it; only commands that show progress read it.
    ctx.meta["medgen_quiet"] = bool(value)
    return value


def _quiet() -> bool:
    return bool(click.get_current_context().meta.get("medgen_quiet", False))


def common_options(func: F) -> F:
    """Options every command shares: config file and logging."""
    options = [
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            envvar=config.CONFIG_ENV,
            is_eager=True,
            expose_value=False,
            callback=_apply_config,
            help="TOML config file (default: the user config dir's config.toml).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            default="INFO",
            show_default=True,
            envvar=_env("log-level"),
            help="Least severe messages to log.",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            envvar=_env("log-format"),
            help="Logs as readable text or one JSON object per line (stderr).",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            envvar=_env("quiet"),
            expose_value=False,
            callback=_remember_quiet,
            help="No progress bars or progress lines (logs still follow --log-level).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def source_option(help_text: str) -> Callable[[F], F]:
    return click.option("--source", default=None, envvar=_env("source"), help=help_text)


def files_option(help_text: str) -> Callable[[F], F]:
    return click.option("--files", default="", envvar=_env("files"), help=help_text)


kept_dir_option = click.option(
    "--kept-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar=_env("kept-dir"),
    help="Where the files of the loaded release are kept for deltas "
    "[default: the user data dir's kept/, one folder per database and schema].",
)

download_dir_option = click.option(
    "--download-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar=_env("download-dir"),
    help="Cache for downloaded files [default: one folder per server in the user cache dir].",
)


def _remember_network(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta[f"medgen_{param.name}"] = value
    return value


def _network_option(flag: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(
        flag, envvar=_env(flag), expose_value=False, callback=_remember_network, **kwargs
    )


_NETWORK = DownloadSettings()
"""The network defaults, written once in DownloadSettings and RetryPolicy."""


def network_options(func: F) -> F:
    """How a URL source is fetched; kept in the context like --quiet (see _download_settings)."""
    options = [
        _network_option(
            "--parallel",
            type=click.IntRange(1, 16),
            default=_NETWORK.parallel,
            show_default=True,
            help="Files downloaded at once.",
        ),
        _network_option(
            "--retries",
            type=click.IntRange(1, 100),
            default=_NETWORK.retry.attempts,
            show_default=True,
            help="Tries per request before a transient failure (timeout, reset, 5xx, 429) "
            "fails the run.",
        ),
        _network_option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=_NETWORK.retry.timeout,
            show_default=True,
            help="Seconds to wait for a connection, or for more bytes of a response.",
        ),
        _network_option(
            "--allow-redirects",
            is_flag=True,
            help="Follow HTTP redirects to another scheme or host (refused by default).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _download_settings() -> DownloadSettings:
    meta = click.get_current_context().meta
    return DownloadSettings(
        parallel=int(meta.get("medgen_parallel", _NETWORK.parallel)),
        retry=RetryPolicy(
            attempts=int(meta.get("medgen_retries", _NETWORK.retry.attempts)),
            timeout=float(meta.get("medgen_timeout", _NETWORK.retry.timeout)),
        ),
        allow_redirects=bool(meta.get("medgen_allow_redirects", _NETWORK.allow_redirects)),
    )


def db_options(func: F) -> F:
    func = click.option(
        "--schema",
        default="medgen",
        show_default=True,
        envvar=_env("schema"),
        help="Database schema holding the MedGen tables.",
    )(func)
    return click.option(
        "--db-uri",
        envvar=_env("db-uri"),
        default=None,
        help="postgresql://user@host/db or duckdb:///file.duckdb "
        "[default: an embedded DuckDB file in the user data dir]",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="py-load-medgen")
def cli() -> None:
    """Keep a database an exact, up-to-date mirror of NCBI MedGen.

    \b
    Examples:
      py-load-medgen load --source ./medgen-release
      py-load-medgen load --db-uri postgresql://me@db/warehouse --files NAMES.RRF.gz
      py-load-medgen generate --scale 0.01 ./sample-release
    """


def _setup(log_level: str, log_format: str, *uris: str | None) -> None:
    """Logging as asked, and every password the command was given (a database URI or a source
    URL, from a flag, the environment or the config file) kept out of its output."""
    logs.setup_logging(log_level, log_format)
    logs.register_secrets(*uris)


@cli.command()
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="full",
    show_default=True,
    envvar=_env("mode"),
    help="full: replace the tables with the release; delta: apply only what changed.",
)
@source_option(
    "Directory or URL (https://, http://, file://) of the release "
    "[default: NCBI's https://ftp.ncbi.nlm.nih.gov/pub/medgen/]."
)
@files_option("Comma-separated file names (or table names) to load; only those tables are touched.")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="swap",
    show_default=True,
    envvar=_env("strategy"),
    help="swap: build new tables and swap them in; truncate: refill the tables in place.",
)
@click.option(
    "--raw-records",
    is_flag=True,
    envvar=_env("raw-records"),
    help="Keep each source line verbatim in a raw_record column.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    envvar=_env("dry-run"),
    help="Parse and validate everything; touch no table.",
)
@click.option(
    "--max-bad-rows",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    envvar=_env("max-bad-rows"),
    help="Malformed rows tolerated per file before the load fails (0: strict).",
)
@click.option(
    "--strict-schema",
    is_flag=True,
    envvar=_env("strict-schema"),
    help="Fail on a column the tool does not know instead of warning.",
)
@click.option(
    "--rejects-dir",
    type=click.Path(file_okay=False),
    default="rejects",
    show_default=True,
    envvar=_env("rejects-dir"),
    help="Where quarantined rows are written, one folder per run.",
)
@click.option(
    "--keep-files/--no-keep-files",
    default=True,
    show_default=True,
    envvar=_env("keep-files"),
    help="Keep the loaded files so the next delta compares files instead of whole tables.",
)
@kept_dir_option
@click.option(
    "--unlogged",
    is_flag=True,
    envvar=_env("unlogged"),
    help="PostgreSQL: build UNLOGGED tables (faster to write; a server crash empties them "
    "and standbys never receive them). Default: durable, ordinary tables.",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    envvar=_env("allow-shrink"),
    help="Publish even if a table would keep less than --shrink-limit of its loaded rows.",
)
@click.option(
    "--shrink-limit",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    envvar=_env("shrink-limit"),
    help="Fraction of a table's loaded rows a release must keep (a delta: may not delete "
    "more than the rest) unless --allow-shrink.",
)
@click.option(
    "--allow-older",
    is_flag=True,
    envvar=_env("allow-older"),
    help="Load a release older than the one loaded (a deliberate rollback).",
)
@download_dir_option
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@db_options
@common_options
def load(
    mode: Mode,
    source: str | None,
    files: str,
    strategy: Strategy,
    raw_records: bool,
    dry_run: bool,
    max_bad_rows: int,
    strict_schema: bool,
    rejects_dir: str,
    keep_files: bool,
    kept_dir: str | None,
    unlogged: bool,
    allow_shrink: bool,
    shrink_limit: float,
    allow_older: bool,
    download_dir: str | None,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Load a MedGen release into the database.

    \b
    Examples:
      py-load-medgen load --source ./medgen --db-uri postgresql://me@localhost/medgen
      py-load-medgen load --mode delta --source https://ftp.ncbi.nlm.nih.gov/pub/medgen/
      py-load-medgen load --source ./medgen --files NAMES.RRF.gz,MGREL.RRF.gz --dry-run
    """
    from py_load_medgen import api, progress

    _setup(log_level, log_format, db_uri, source)
    options = LoadOptions(
        mode=mode,
        strategy=strategy,
        files=split_names(files),
        schema=schema,
        raw_records=raw_records,
        dry_run=dry_run,
        max_bad_rows=max_bad_rows,
        strict_schema=strict_schema,
        rejects_dir=Path(rejects_dir),
        keep_files=keep_files,
        kept_dir=Path(kept_dir) if kept_dir else None,
        unlogged=unlogged,
        allow_shrink=allow_shrink,
        shrink_limit=shrink_limit,
        allow_older=allow_older,
    )
    with progress.display(quiet=_quiet(), log_format=log_format):
        result = api.load(
            source or DEFAULT_SOURCE,
            db_uri=db_uri,
            options=options,
            download_dir=Path(download_dir) if download_dir else None,
            network=_download_settings(),
        )
    _print(result, as_json)


class _Result(Protocol):
    def render(self) -> str: ...
    def to_json(self) -> Any: ...


def _print(result: _Result, as_json: bool) -> None:
    """Every command's output: the result's text, or its JSON with --json."""
    if as_json:
        _echo_json(result.to_json())
    else:
        click.echo(result.render())


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=0.01,
    show_default=True,
    help="1.0 approximates a real release (~55 M rows).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--files", default="", help="Comma-separated file or table names (default all).")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Derive the next build of this release directory (generated or genuine) instead.",
)
@click.option(
    "--churn",
    type=click.FloatRange(0, 0.9),
    default=0.01,
    show_default=True,
    help="With --from: share of rows changed (a third deleted, updated, inserted).",
)
@click.option(
    "--churn-kind",
    type=click.Choice(["ordered", "random", "shuffle"]),
    default="ordered",
    show_default=True,
    help="With --from: ordered keeps the row order as NCBI's builds do; random scatters the "
    "new rows; shuffle writes every row in a random order.",
)
@click.option("--shuffle", default="", help="With --from: files or tables to shuffle anyway.")
@click.option(
    "--reorder-columns", default="", help="With --from: files or tables whose columns move."
)
@common_options
def generate(
    out_dir: str,
    scale: float,
    seed: int,
    files: str,
    from_dir: str | None,
    churn: float,
    churn_kind: str,
    shuffle: str,
    reorder_columns: str,
    log_level: str,
    log_format: str,
) -> None:
    """Write a synthetic MedGen-shaped release, or derive the next build of a release.

    With --from, every file of that release is rewritten into OUT_DIR with the churn asked
    for, and the counts a comparison of the two builds finds are printed per table.

    \b
    Examples:
      py-load-medgen generate ./sample
      py-load-medgen generate --scale 0.1 --seed 7 /tmp/medgen-0.1
      py-load-medgen generate --from ./sample --churn 0.01 --churn-kind ordered ./next-week
      py-load-medgen generate --from ./sample --churn 0 --shuffle MGREL.RRF.gz ./shuffled
    """
    from py_load_medgen import api

    _setup(log_level, log_format)
    if from_dir is None:
        _print(api.generate_release(Path(out_dir), scale=scale, seed=seed, files=files), False)
        return
    derived = api.derive_release(
        Path(from_dir),
        Path(out_dir),
        churn=churn,
        seed=seed,
        kind=churn_kind,  # type: ignore[arg-type]  # click.Choice checked it
        shuffle=shuffle,
        reorder_columns=reorder_columns,
        files=files,
    )
    _print(derived, False)


@cli.command(name="schema")
@click.option("--dictionary", is_flag=True, help="Print the data dictionary (Markdown) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the data dictionary as JSON.")
@db_options
@common_options
def schema_cmd(
    dictionary: bool,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Print the DDL of the MedGen tables, or the data dictionary.

    \b
    Examples:
      py-load-medgen schema --db-uri postgresql://localhost/medgen
      py-load-medgen schema --dictionary > data-dictionary.md
      py-load-medgen schema --json | jq '.[].table'
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri)
    if as_json or dictionary:
        _print(api.data_dictionary(), as_json)
        return
    click.echo(api.ddl(db_uri, schema=schema))


# -- operator commands: what is loaded, what ran, is it intact, is there news -------------------


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@kept_dir_option
@db_options
@common_options
def status(
    as_json: bool,
    kept_dir: str | None,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Show the release loaded now: when, by which run, and the rows of every table.

    Row counts are counted in the database, not copied from the metadata. Exits with 7 when
    nothing is loaded.

    \b
    Examples:
      py-load-medgen status --db-uri postgresql://me@localhost/medgen
      py-load-medgen status --json | jq -r .release_time
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri)
    _print(
        api.status(db_uri, schema=schema, kept_dir=Path(kept_dir) if kept_dir else None), as_json
    )


@cli.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    envvar=_env("limit"),
    help="Newest runs to show.",
)
@click.option(
    "--status",
    type=click.Choice(get_args(RunStatus)),
    default=None,
    help="Only runs with this status.",
)
@click.option("--run", default=None, help="One run's details, table by table (a run id).")
@click.option(
    "--changes",
    "changes_of",
    metavar="RUN_ID",
    default=None,
    help="The change report a delta run kept: rows per table, concepts added, retired...",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@db_options
@common_options
def history(
    limit: int,
    status: RunStatus | None,
    run: str | None,
    changes_of: str | None,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """List past runs: mode, status, duration and the rows each inserted, updated and deleted.

    Newest first. Full loads replace tables, so they show rows loaded and no change counts.
    Exits with 7 when no run was ever recorded in the database.

    \b
    Examples:
      py-load-medgen history --db-uri postgresql://me@localhost/medgen
      py-load-medgen history --status failed --limit 5
      py-load-medgen history --run 20260105T031200Z-1a2b3c4d --json
      py-load-medgen history --changes 20260105T031200Z-1a2b3c4d
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri)
    if changes_of is not None:
        _print(api.changes(db_uri, changes_of, schema=schema), as_json)
        return
    _print(api.history(db_uri, schema=schema, limit=limit, status=status, run_id=run), as_json)


@cli.command()
@click.option(
    "--retention-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Keep every version younger than this [default: the URI's retention_days, else 7].",
)
@click.option("--dry-run", is_flag=True, help="List the files that would go; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the files removed per table as JSON.")
@db_options
@common_options
def vacuum(
    retention_days: float | None,
    dry_run: bool,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Delta Lake only: delete the files no version within the retention period needs.

    The versions the latest release lists are never vacuumed, however old.

    \b
    Examples:
      py-load-medgen vacuum --db-uri delta:///data/lake --retention-days 30 --dry-run
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri)
    _print(
        api.vacuum(db_uri, schema=schema, retention_days=retention_days, dry_run=dry_run), as_json
    )


@cli.command()
@click.argument("old")
@click.argument("new")
@files_option("Comma-separated file or table names to compare (default: every file in both).")
@click.option(
    "--rows",
    "rows_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write each table's changed rows, and every concept-level change, to this directory.",
)
@click.option(
    "--format",
    "rows_format",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format of --rows.",
)
@click.option(
    "--examples",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="Examples shown per kind of concept change.",
)
@download_dir_option
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@common_options
def diff(
    old: str,
    new: str,
    files: str,
    rows_dir: str | None,
    rows_format: str,
    examples: int,
    download_dir: str | None,
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """What changed between two releases OLD and NEW; no database needed.

    OLD and NEW are release directories or URLs (fetched into the download cache). The files
    present in both are compared, streamed side by side: per table the rows inserted,
    updated (same natural key, other values), deleted and unchanged, then what happened to
    concepts: added, retired, merged, renamed, definitions and HPO/OMIM/MONDO mappings.

    \b
    Examples:
      py-load-medgen diff ./medgen-2021-08-11 ./medgen-2021-08-18
      py-load-medgen diff ./last-week https://ftp.ncbi.nlm.nih.gov/pub/medgen/ --files NAMES.RRF.gz
      py-load-medgen diff ./old ./new --json | jq '.tables.concepts'
      py-load-medgen diff ./old ./new --rows ./changes --format parquet
    """
    from py_load_medgen import api

    _setup(log_level, log_format)
    result = api.diff(
        old,
        new,
        files=files,
        rows_dir=Path(rows_dir) if rows_dir else None,
        rows_format="parquet" if rows_format == "parquet" else "csv",
        examples=examples,
        download_dir=Path(download_dir) if download_dir else None,
        network=_download_settings(),
    )
    _print(result, as_json)


@cli.command()
@source_option("Also count the rows of the release's files here (directory or URL) and compare.")
@files_option("Comma-separated file or table names to verify (default: every loaded table).")
@click.option(
    "--quick",
    is_flag=True,
    envvar=_env("quick"),
    help="Only count rows; do not compare them with the files.",
)
@kept_dir_option
@download_dir_option
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@db_options
@common_options
def verify(
    source: str | None,
    files: str,
    quick: bool,
    kept_dir: str | None,
    download_dir: str | None,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Compare every loaded table with the files of the loaded release, row by row.

    Recounts every table against the run metadata, then compares its rows as a multiset with
    the rows of its file: the file kept by the last load, or the one in --source. Exits with
    8 when a table differs (naming how many rows, with up to 10 examples), 7 when nothing is
    loaded. --quick only counts. Files are parsed exactly as a load parses them.

    \b
    Examples:
      py-load-medgen verify --db-uri postgresql://me@localhost/medgen
      py-load-medgen verify --source ./medgen --files NAMES.RRF.gz --json
      py-load-medgen verify --source https://ftp.ncbi.nlm.nih.gov/pub/medgen/ || alert
    """
    from py_load_medgen import api, progress

    _setup(log_level, log_format, db_uri, source)
    with progress.display(quiet=_quiet() or not source, log_format=log_format):
        result = api.verify(
            db_uri,
            schema=schema,
            source=source,
            files=files,
            download_dir=Path(download_dir) if download_dir else None,
            network=_download_settings(),
            quick=quick,
            kept_dir=Path(kept_dir) if kept_dir else None,
        )
    _print(result, as_json)
    result.raise_for_mismatch()


@cli.command()
@source_option(
    "URL of the release directory: https://, http:// or ftp:// "
    "[default: NCBI's https://ftp.ncbi.nlm.nih.gov/pub/medgen/]."
)
@files_option("Comma-separated file or table names to download (default: every file).")
@download_dir_option
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print what was mirrored as JSON.")
@common_options
def download(
    source: str | None,
    files: str,
    download_dir: str | None,
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Mirror a release into the download cache, verified, without loading it.

    Files unchanged on the server are not transferred again; a partial file left by an
    interrupted run is resumed. A later `load --source` with the same URL and --download-dir
    loads from the cache.

    \b
    Examples:
      py-load-medgen download
      py-load-medgen download --download-dir /data/medgen --parallel 8
      py-load-medgen download --source ftp://ftp.ncbi.nlm.nih.gov/pub/medgen/ --json
    """
    from py_load_medgen import api, progress

    _setup(log_level, log_format, source)
    with progress.display(quiet=_quiet(), log_format=log_format):
        result = api.download(
            source or DEFAULT_SOURCE,
            files=files,
            download_dir=Path(download_dir) if download_dir else None,
            network=_download_settings(),
        )
    _print(result, as_json)


@cli.command(name="check-update")
@source_option(
    "Directory or URL of the release to look at "
    "[default: NCBI's https://ftp.ncbi.nlm.nih.gov/pub/medgen/]."
)
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@db_options
@common_options
def check_update(
    source: str | None,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Tell whether the server has a newer release than the one loaded; download nothing.

    Exits with 10 when a newer release is available, 0 when the database is up to date, 7
    when nothing is loaded: made for cron.

    \b
    Examples:
      py-load-medgen check-update --db-uri postgresql://me@localhost/medgen
      py-load-medgen check-update --json | jq -r .listed_release
      py-load-medgen check-update; [ $? -eq 10 ] && py-load-medgen load --mode delta
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri, source)
    result = api.check_update(
        db_uri, schema=schema, source=source or DEFAULT_SOURCE, network=_download_settings()
    )
    _print(result, as_json)
    if result.update_available:
        raise click.exceptions.Exit(int(ExitCode.UPDATE_AVAILABLE))


# -- answers: lookup, resolve, exports (library: py_load_medgen.answers) ----------------------


@cli.command()
@click.argument("queries", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of concept cards.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Concepts per free-text query.",
)
@db_options
@common_options
def lookup(
    queries: tuple[str, ...],
    as_json: bool,
    limit: int,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Concept cards for ids of any kind (C..., CN..., UID, OMIM:, ORPHA:, MONDO:, HP:, MESH:)
    or free text (a ranked name search).

    \b
    Examples:
      py-load-medgen lookup C0024796 OMIM:154700 ORPHA:558
      py-load-medgen lookup "marfan syndrome" --json
    """
    from py_load_medgen import answers

    _setup(log_level, log_format, db_uri)
    result = answers.lookup(
        db_uri or config.default_db_uri(), list(queries), schema=schema, limit=limit
    )
    click.echo(result.dumps() if as_json else result.render())
    if result.not_found:
        # As grep does: a script learns from the exit code alone that something was missing.
        raise click.exceptions.Exit(int(ExitCode.NOT_FOUND))


@cli.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per id.")
@db_options
@common_options
def resolve(
    ids: tuple[str, ...],
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Status (current, merged, retired, unknown) and current CUIs of each id. The argument
    `-` reads one id per line from stdin. Prints id, status and current CUIs TAB-separated.

    \b
    Examples:
      py-load-medgen resolve C0000039 CN000001 ORPHA:558
      cut -f3 clinvar_conditions.tsv | py-load-medgen resolve - --json
    """
    from py_load_medgen import answers
    from py_load_medgen.answers.resolution import dumps

    _setup(log_level, log_format, db_uri)
    inputs = itertools.chain.from_iterable(_stdin_ids() if arg == "-" else (arg,) for arg in ids)
    results = answers.resolve(db_uri or config.default_db_uri(), inputs, schema=schema)
    if as_json:
        for chunk in dumps(results):
            click.echo(chunk)
    else:
        for result in results:
            click.echo(result.render())


@cli.command()
@click.argument("what", type=click.Choice(["sssom", "kgx", "disease-phenotype"]))
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--with-pubmed", is_flag=True, help="kgx: add PubMed nodes and citation edges (large)."
)
@db_options
@common_options
def export(
    what: str,
    target: Path,
    with_pubmed: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Write the answers in a standard format, streamed: `sssom FILE` (the xrefs as SSSOM TSV
    with its metadata block and curie_map), `kgx DIR` (KGX nodes.tsv and edges.tsv, biolink
    categories from the semantic types) or `disease-phenotype FILE` (shaped like HPO's
    phenotype.hpoa, NOT in the qualifier column). Prints the rows written.

    \b
    Examples:
      py-load-medgen export sssom medgen.sssom.tsv
      py-load-medgen export kgx ./kgx --with-pubmed
      py-load-medgen export disease-phenotype medgen_phenotypes.tsv
    """
    from py_load_medgen import answers

    _setup(log_level, log_format, db_uri)
    uri = db_uri or config.default_db_uri()
    if what == "sssom":
        result = answers.export_sssom(uri, target, schema=schema)
    elif what == "kgx":
        result = answers.export_kgx(uri, target, schema=schema, with_pubmed=with_pubmed)
    else:
        result = answers.export_disease_phenotype(uri, target, schema=schema)
    click.echo(result.render())


def _stdin_ids() -> Iterator[str]:
    """One id per line, read as it comes: a million ids are never held at once."""
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _fail(message: str, code: ExitCode | int, hint: str | None = None) -> int:
    """Write the final error (and its hint) in the chosen log format; return the exit code."""
    click.echo(logs.final_message("error", message, hint=hint, exit_code=int(code)), err=True)
    return int(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every failure to its exit code."""
    from py_load_medgen import failures

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    args = sys.argv[1:] if argv is None else argv
    # A password typed on the command line is secret before any option is parsed: a usage
    # error may quote it.
    logs.forget_secrets()
    logs.register_secrets(*(a for a in args if "://" in a or "password" in a.lower()))
    logs.preset_format(list(args))
    try:
        # Without standalone mode click returns, rather than raises, the code of a
        # click.exceptions.Exit: how a command exits non-zero without an error (check-update).
        code = cli.main(args=argv, prog_name="py-load-medgen", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        if logs.chosen_format() != "json":
            exc.show()
            return int(ExitCode.USAGE)
        return _fail(f"error: {exc.format_message()}", ExitCode.USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns a KeyboardInterrupt (SIGINT, or SIGTERM through our handler) into Abort.
        return _fail("interrupted: the run was rolled back", ExitCode.INTERRUPTED)
    except Exception as exc:
        clean = failures.classify(exc)
        if clean is not None:
            if not isinstance(exc, MedgenError):
                log.debug("%s", clean.message, exc_info=True)
            return _fail(f"error: {clean.message}", clean.exit_code, clean.hint)
        log.debug("internal error", exc_info=True)
        return _fail(
            f"internal error: {type(exc).__name__}: {exc}",
            ExitCode.FAILURE,
            "rerun with --log-level DEBUG and report it",
        )
    return int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
