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
from typing import Any, TypeVar

import click

from py_load_medgen import config, logs
from py_load_medgen.errors import ExitCode, MedgenError
from py_load_medgen.pipeline import MODES, STRATEGIES, LoadOptions, RunResult
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
    ]
    for option in reversed(options):
        func = option(func)
    return func


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
@click.option(
    "--source",
    default=None,
    envvar=_env("source"),
    help="Directory or URL (https://, http://, ftp://, file://) of the release "
    "[default: NCBI's https://ftp.ncbi.nlm.nih.gov/pub/medgen/].",
)
@click.option(
    "--files",
    default="",
    envvar=_env("files"),
    help="Comma-separated file names (or table names) to load; only those tables are touched.",
)
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
    "--download-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar=_env("download-dir"),
    help="Cache for downloaded files [default: the user cache dir].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@db_options
@common_options
def load(
    mode: str,
    source: str | None,
    files: str,
    strategy: str,
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
    from py_load_medgen import runner

    _setup(log_level, log_format, db_uri)
    options = LoadOptions(
        mode=mode,
        strategy=strategy,
        files=tuple(f.strip() for f in files.split(",") if f.strip()),
        schema=schema,
        raw_records=raw_records,
        dry_run=dry_run,
        max_bad_rows=max_bad_rows,
        strict_schema=strict_schema,
        rejects_dir=Path(rejects_dir),
    )
    result = runner.load(
        source or runner.DEFAULT_SOURCE,
        db_uri or config.default_db_uri(),
        options,
        download_dir=Path(download_dir) if download_dir else None,
        announce_default_db=db_uri is None,
    )
    _print_result(result, as_json)


def _print_result(result: RunResult, as_json: bool) -> None:
    run = result.run
    if as_json:
        click.echo(json.dumps(runner_summary(result), indent=2, default=str))
        return
    verb = "dry run (nothing applied)" if result.dry_run else run.status
    click.echo(f"run {run.run_id} {verb}: {run.mode} load, release {run.release_time or 'unknown'}")
    width = max((len(t.table) for t in result.loads), default=5)
    if run.mode == "delta":
        heads = ("rows", "inserted", "updated", "deleted", "unchanged")
        click.echo(f"{'table':<{width}}  " + "  ".join(f"{h:>11}" for h in heads) + "  note")
        for t in result.loads:
            values = (t.rows_loaded, t.inserted, t.updated, t.deleted, t.unchanged)
            cells = "  ".join(f"{v or 0:>11,}" for v in values)
            click.echo(f"{t.table:<{width}}  {cells}  {'unchanged file' if t.skipped else ''}")
        return
    click.echo(f"{'table':<{width}}  {'rows':>12}  {'rejected':>8}  {'seconds':>8}")
    for t in result.loads:
        click.echo(
            f"{t.table:<{width}}  {t.rows_loaded:>12,}  {t.rows_rejected:>8,}  {t.duration:>8.2f}"
        )


def runner_summary(result: RunResult) -> dict[str, Any]:
    from py_load_medgen import runner

    return runner.summary(result)


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
    from py_load_medgen.generate import generate_release
    from py_load_medgen.pipeline import select_specs

    _setup(log_level, log_format)
    names = [f.strip() for f in files.split(",") if f.strip()]
    tables = [s.table for s in select_specs(names)] if names else None
    counts = generate_release(Path(out_dir), scale=scale, seed=seed, files=tables)
    for table, rows in counts.items():
        click.echo(f"{table}\t{rows}")


@cli.command(name="schema")
@click.option("--dictionary", is_flag=True, help="Print the data dictionary (Markdown) instead.")
@db_options
@common_options
def schema_cmd(
    dictionary: bool, db_uri: str | None, schema: str, log_level: str, log_format: str
) -> None:
    """Print the DDL of the MedGen tables, or the data dictionary.

    \b
    Examples:
      py-load-medgen schema --db-uri postgresql://localhost/medgen
      py-load-medgen schema --dictionary > data-dictionary.md
    """
    from py_load_medgen import runner

    _setup(log_level, log_format)
    click.echo(runner.schema_text(db_uri or config.default_db_uri(), schema, dictionary))


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every failure to its exit code."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        cli.main(args=argv, prog_name="py-load-medgen", standalone_mode=False)
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
