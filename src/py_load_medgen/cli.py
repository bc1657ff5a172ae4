"""The command line: options -> library calls -> messages and exit codes. No business logic.

Data (summaries, DDL, JSON) goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar, get_args

import click

from py_load_medgen import config, logs
from py_load_medgen.api import split_names
from py_load_medgen.errors import ExitCode, MedgenError
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
    defaults = config.load_config(Path(value) if value else None, commands)
    name = ctx.info_name or ""
    ctx.default_map = {**(ctx.default_map or {}), **defaults.get(name, {})}
    return value


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


def _setup(log_level: str, log_format: str, db_uri: str | None = None) -> None:
    logs.setup_logging(log_level, log_format)
    if db_uri:
        from urllib.parse import urlsplit

        with contextlib.suppress(ValueError):
            logs.register_secret(urlsplit(db_uri).password)


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

    _setup(log_level, log_format, db_uri)
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
@common_options
def generate(
    out_dir: str, scale: float, seed: int, files: str, log_level: str, log_format: str
) -> None:
    """Write a synthetic MedGen-shaped release (all files, real layouts and quirks).

    \b
    Examples:
      py-load-medgen generate ./sample
      py-load-medgen generate --scale 0.1 --seed 7 /tmp/medgen-0.1
    """
    from py_load_medgen import api

    _setup(log_level, log_format)
    _print(api.generate_release(Path(out_dir), scale=scale, seed=seed, files=files), False)


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

    _setup(log_level, log_format)
    if as_json or dictionary:
        _print(api.data_dictionary(), as_json)
        return
    click.echo(api.ddl(db_uri, schema=schema))


# -- operator commands: what is loaded, what ran, is it intact, is there news -------------------


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@db_options
@common_options
def status(as_json: bool, db_uri: str | None, schema: str, log_level: str, log_format: str) -> None:
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
    _print(api.status(db_uri, schema=schema), as_json)


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
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@db_options
@common_options
def history(
    limit: int,
    status: RunStatus | None,
    run: str | None,
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
    """
    from py_load_medgen import api

    _setup(log_level, log_format, db_uri)
    _print(api.history(db_uri, schema=schema, limit=limit, status=status, run_id=run), as_json)


@cli.command()
@source_option("Also count the rows of the release's files here (directory or URL) and compare.")
@files_option("Comma-separated file or table names to verify (default: every loaded table).")
@download_dir_option
@network_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@db_options
@common_options
def verify(
    source: str | None,
    files: str,
    download_dir: str | None,
    as_json: bool,
    db_uri: str | None,
    schema: str,
    log_level: str,
    log_format: str,
) -> None:
    """Recount every loaded table and compare with the run metadata and, with --source, the files.

    Exits with 8 when a table differs, 7 when nothing is loaded. With --source each file is
    parsed exactly as a load parses it, so its count is the number of rows a load would leave.

    \b
    Examples:
      py-load-medgen verify --db-uri postgresql://me@localhost/medgen
      py-load-medgen verify --source ./medgen --files NAMES.RRF.gz --json
      py-load-medgen verify --source https://ftp.ncbi.nlm.nih.gov/pub/medgen/ || alert
    """
    from py_load_medgen import api, progress

    _setup(log_level, log_format, db_uri)
    with progress.display(quiet=_quiet() or not source, log_format=log_format):
        result = api.verify(
            db_uri,
            schema=schema,
            source=source,
            files=files,
            download_dir=Path(download_dir) if download_dir else None,
            network=_download_settings(),
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

    _setup(log_level, log_format)
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

    _setup(log_level, log_format, db_uri)
    result = api.check_update(
        db_uri, schema=schema, source=source or DEFAULT_SOURCE, network=_download_settings()
    )
    _print(result, as_json)
    if result.update_available:
        raise click.exceptions.Exit(int(ExitCode.UPDATE_AVAILABLE))


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every failure to its exit code."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        # Without standalone mode click returns, rather than raises, the code of a
        # click.exceptions.Exit: how a command exits non-zero without an error (check-update).
        code = cli.main(args=argv, prog_name="py-load-medgen", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            return code
    except MedgenError as exc:
        click.echo(f"error: {logs.scrub(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except click.exceptions.Abort:
        # click turns a KeyboardInterrupt (SIGINT, or SIGTERM through our handler) into Abort.
        click.echo("interrupted: the run was rolled back", err=True)
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted: the run was rolled back", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        click.echo(f"internal error: {logs.scrub(f'{type(exc).__name__}: {exc}')}", err=True)
        click.echo("hint: rerun with --log-level DEBUG and report it", err=True)
        return int(ExitCode.FAILURE)
    return int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
