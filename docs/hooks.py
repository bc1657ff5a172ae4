"""MkDocs hook: the reference pages are generated from the code at build time.

A page asks for a generated section with a marker line, ``<!-- generated: NAME -->``, which
the hook replaces with the section; an unknown marker fails the build. The sections come from
the click command definitions (CLI reference, configuration reference), ``ExitCode`` and the
release file specs (data dictionary), so they cannot drift from what the tool does.
``tests/unit/test_docs.py`` imports this file to check the same sections.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import itertools
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:  # a docs build from a checkout that is not installed
    sys.path.insert(0, str(ROOT / "src"))

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

PROG = "py-load-medgen"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)
GITHUB_ONLY = re.compile(
    r"^<!-- github-only -->\n.*?^<!-- /github-only -->\n", re.MULTILINE | re.DOTALL
)
"""A note for readers of the Markdown file on GitHub, where generated sections are empty; the
site, which has them, leaves the note out."""
ORDER = ("load", "status", "history", "verify", "check-update", "schema", "generate")
"""Commands in the order an operator meets them; any other command follows, by name."""
_DEFAULT_IN_HELP = re.compile(r"\s*\[default: ([^\]]+)\]\.?\s*$")


# -- reading the click definitions ------------------------------------------------------------


def root() -> click.Group:
    from py_load_medgen.cli import cli

    return cli


def commands() -> list[tuple[str, click.Command]]:
    group = root()
    names = sorted(group.commands, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return [(n, group.commands[n]) for n in names]


def split_help(command: click.Command) -> tuple[str, list[str]]:
    """A command's help as (description, example command lines)."""
    text = inspect.cleandoc(command.help or "")
    description, _, examples = text.partition("Examples:")
    description = description.replace("\b", "").strip()
    lines = [line.strip() for line in examples.splitlines() if line.strip()]
    return description, lines


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option)]


def flags(option: click.Option) -> str:
    names = [*option.opts, *option.secondary_opts]
    return ", ".join(f"`{n}`" for n in sorted(names, key=lambda n: (not n.startswith("--"), n)))


def envvar(option: click.Option) -> str | None:
    value = option.envvar
    if value is None or isinstance(value, str):
        return value or None
    return ", ".join(value) or None


def config_key(option: click.Option) -> str | None:
    """The TOML key: the parameter's name. ``--config`` itself cannot be set from the file."""
    return None if option.is_eager or not option.name else option.name


def help_text(option: click.Option) -> str:
    return _DEFAULT_IN_HELP.sub("", option.help or "").strip()


def default(option: click.Option) -> str:
    found = _DEFAULT_IN_HELP.search(option.help or "")
    if found:
        return found.group(1)
    # get_default rather than .default: click 8.3 marks "no default" with a sentinel object.
    value = option.get_default(click.Context(click.Command("docs")), call=False)
    if option.is_flag:
        return "on" if value is True else "off"
    if value is None or value == "" or not isinstance(value, str | int | float):
        return "—"
    return f"`{value}`"


def choices(option: click.Option) -> str:
    if isinstance(option.type, click.Choice):
        return " One of " + ", ".join(f"`{c}`" for c in option.type.choices) + "."
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: str | None) -> str:
    return f"`{value}`" if value else "—"


# -- the sections -----------------------------------------------------------------------------


def common_options() -> list[click.Option]:
    """The options every command takes (config file, logging, progress)."""
    named = [{o.opts[0]: o for o in options(c)} for _, c in commands()]
    return [o for flag, o in named[0].items() if all(flag in n for n in named[1:])]


def _option_cell(option: click.Option, key: bool = False) -> str:
    """Flags, environment variable (and config key): one per line, never broken inside."""
    # One flag a line: a pair like --keep-files/--no-keep-files on one line overflows.
    lines = flags(option).split(", ")
    if envvar(option):
        lines.append(f"env {_code(envvar(option))}")
    if key and config_key(option):
        lines.append(f"key {_code(config_key(option))}")
    return "<br>".join(f'<span class="medgen-nowrap">{line}</span>' for line in lines)


def _first(rows: Iterable[click.Option]) -> list[click.Option]:
    """``--db-uri`` first: it is the option a reader looks for on every command."""
    return sorted(rows, key=lambda o: o.opts[0] != "--db-uri")


def _options_table(rows: Iterable[click.Option]) -> list[str]:
    out = ["| option | default | description |", "|---|---|---|"]
    for option in _first(rows):
        out.append(
            f"| {_option_cell(option)} | {_cell(default(option))} | "
            f"{_cell(help_text(option) + choices(option))} |"
        )
    return out


def cli_reference() -> str:
    """Every command: what it does, examples, its usage and options."""
    group = root()
    common = common_options()
    shared = {o.opts[0] for o in common}
    out = [
        f"`{PROG}` has {len(group.commands)} commands: "
        + ", ".join(f"[`{n}`](#{n})" for n, _ in commands())
        + ". `--help` (or `-h`) prints any command's help with examples, `--version` the version.",
        "",
    ]
    with click.Context(group, info_name=PROG) as parent:
        for name, command in commands():
            description, examples = split_help(command)
            with click.Context(command, info_name=name, parent=parent) as ctx:
                usage = " ".join(command.collect_usage_pieces(ctx))
            out += [f"## {name}", "", description, ""]
            out += ["Examples:", "", "```bash", *examples, "```", ""]
            out += ["Usage:", "", "```text", f"{PROG} {name} {usage}", "```", ""]
            arguments = [p for p in command.params if isinstance(p, click.Argument)]
            if arguments:
                out += [
                    "Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in arguments),
                    "",
                ]
            own = [o for o in options(command) if o.opts[0] not in shared]
            out += [*_options_table(own), ""]
            out += ["and the [options of every command](#options-of-every-command).", ""]
    out += ["## Options of every command", "", *_options_table(common), ""]
    return "\n".join(out)


def configuration_reference() -> str:
    """Every option of every command: flag, environment variable, config key, default."""
    seen: dict[str, dict[str, Any]] = {}
    every = [n for n, _ in commands()]
    for name, command in commands():
        for option in options(command):
            key = option.opts[0]
            entry = seen.setdefault(key, {"option": option, "commands": [], "helps": {}})
            entry["commands"].append(name)
            entry["helps"].setdefault(help_text(option) + choices(option), []).append(name)
    out = ["| option | default | description |", "|---|---|---|"]
    ordered = sorted(seen.values(), key=lambda e: -len(e["commands"]))
    for entry in ordered:
        first: click.Option = entry["option"]
        used_by = (
            "every command"
            if entry["commands"] == every
            else ", ".join(f"`{c}`" for c in entry["commands"])
        )
        helps: dict[str, list[str]] = entry["helps"]
        if len(helps) == 1:
            description = next(iter(helps))
        else:
            description = "<br>".join(
                f"{', '.join(f'`{c}`' for c in cmds)}: {text}" for text, cmds in helps.items()
            )
        out.append(
            f"| {_option_cell(first, key=True)} | {_cell(default(first))} | "
            f"{_cell(description)}<br>*Commands:* {used_by} |"
        )
    return "\n".join(out)


def exit_codes() -> str:
    """The exit codes, with the comments ``ExitCode`` carries in its source."""
    from py_load_medgen.errors import ExitCode

    source = (ROOT / "src" / "py_load_medgen" / "errors.py").read_text(encoding="utf-8")
    notes: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "ExitCode":
            body = node.body
            for current, following in itertools.pairwise(body):
                if (
                    isinstance(current, ast.Assign)
                    and isinstance(current.targets[0], ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                ):
                    notes[current.targets[0].id] = " ".join(str(following.value.value).split())
    out = ["| code | name | meaning |", "|---|---|---|"]
    for code in ExitCode:
        meaning = notes.get(code.name, "Success." if code == ExitCode.OK else "")
        out.append(f"| {int(code)} | `{code.name}` | {_cell(meaning)} |")
    return "\n".join(out)


def data_dictionary() -> str:
    """The dictionary as the site shows it: without the notice for readers of the file."""
    from py_load_medgen.release.dictionary import NOTICE
    from py_load_medgen.runner import dictionary_markdown

    return dictionary_markdown().removeprefix(NOTICE + "\n")


METADATA_COLUMNS = {
    "etl_runs": {
        "run_id": "The run's id: its UTC start time and a random suffix.",
        "mode": "`full` or `delta`.",
        "strategy": "`swap` or `truncate` (full loads).",
        "status": "`running`, `succeeded` or `failed`.",
        "started_at": "When the run started.",
        "finished_at": "When it committed or failed.",
        "tool_version": "Version of py-load-medgen that ran.",
        "source": "Where the files came from (a URL or directory; no credentials).",
        "release_time": "The release's identity: the newest build time among its files.",
        "tables": "Comma-separated tables the run loaded.",
        "release_identity": "JSON: name, URL, size, SHA-256, times and ETag of every file.",
        "error_message": "Why a failed run failed (secrets removed).",
        "host": "The machine the run ran on.",
        "lock_wait_seconds": "How long publishing waited for readers to let go of the tables.",
    },
    "etl_run_files": {
        "run_id": "The run (`etl_runs.run_id`).",
        "table_name": "The table loaded.",
        "file_name": "The file as served.",
        "url": "Where it was fetched from.",
        "size": "Its size in bytes.",
        "sha256": "Its SHA-256.",
        "modified": "Server Last-Modified, listing time, or file time.",
        "etag": "Server ETag, when HTTP served one.",
        "gzip_mtime": "The MTIME of the gzip header: NCBI's build time.",
        "rows_read": (
            "Data lines of the file (a delta computes them from the kept file's and the "
            "change set; a skipped table keeps its count)."
        ),
        "rows_loaded": "Rows the run loaded from the file (into staging, for a delta).",
        "rows_rejected": "Malformed rows quarantined to the rejects directory.",
        "rows_inserted": "Delta loads: rows added.",
        "rows_updated": "Delta loads: rows changed.",
        "rows_deleted": "Delta loads: rows removed.",
        "rows_unchanged": "Delta loads: rows left as they were.",
        "unknown_columns": "Header columns the tool does not know (kept out of the table).",
        "match_key": "The natural key the data proved unique; delta loads match rows by it.",
        "duration_seconds": "Time spent on the table.",
        "skipped": "Delta loads: the file had not changed and the table was not touched.",
        "compare_method": "Delta loads: `file` when the changes were found by reading the kept "
        "previous file beside the new one, `database` when the new file was staged whole and "
        "compared in SQL.",
        "compare_note": "Delta loads: why the table was compared in the database (no kept file, "
        "a reshuffled file, different columns...).",
    },
    "etl_run_changes": {
        "run_id": "The delta run (`etl_runs.run_id`) that kept this report.",
        "report": "JSON: the change report `history --changes` shows (rows per table, "
        "concepts added, retired, merged, renamed...).",
    },
}
"""Descriptions of the metadata tables' columns; the build fails if one lacks a description."""


def metadata_tables() -> str:
    from py_load_medgen.load import sql

    ddl = " ".join(sql.metadata_ddl(sql.POSTGRES, "medgen"))
    out: list[str] = []
    for table, columns in (
        (sql.RUNS, sql.RUN_COLUMNS),
        (sql.RUN_FILES, sql.FILE_COLUMNS),
        (sql.RUN_CHANGES, ("run_id", "report")),
    ):
        described = METADATA_COLUMNS[table]
        missing = [c for c in columns if c not in described]
        if missing:
            raise ValueError(f"docs/hooks.py: describe {table} column(s) {', '.join(missing)}")
        body = ddl.split(f'"{table}" (', 1)[1]
        out += [f"### `{table}`", "", "| column | type | description |", "|---|---|---|"]
        for column in columns:
            found = re.search(rf"(?:^|, ){column} ([a-z ]+?)(?: NOT NULL| PRIMARY KEY|,|\))", body)
            kind = found.group(1) if found else ""
            out.append(f"| `{column}` | {kind} | {_cell(described[column])} |")
        out.append("")
    return "\n".join(out)


SECTIONS: dict[str, Callable[[], str]] = {
    "metadata-tables": metadata_tables,
    "cli-reference": cli_reference,
    "configuration-reference": configuration_reference,
    "exit-codes": exit_codes,
    "data-dictionary": data_dictionary,
}


def expand(markdown: str, where: str = "page") -> str:
    """Replace every marker in ``markdown`` by its generated section."""

    def section(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SECTIONS:
            known = ", ".join(sorted(SECTIONS))
            raise ValueError(f"{where}: unknown generated section {name!r}; known: {known}")
        return SECTIONS[name]()

    return MARKER.sub(section, GITHUB_ONLY.sub("", markdown))


def markers(markdown: str) -> Iterable[str]:
    return MARKER.findall(markdown)


# -- MkDocs events ----------------------------------------------------------------------------

MERMAID = "assets/javascripts/mermaid.min.js"
"""Where the site serves Mermaid; mkdocs.yml loads it. Material uses a global ``mermaid``
when one is defined and fetches it from a CDN only when none is, so with this copy nothing is
fetched when a page is viewed, and diagrams render offline and on an intranet."""


MERMAID_VERSION = "11.17.2"
MERMAID_INTEGRITY = (
    "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73a"
    "CleBBg=="
)
"""The npm registry's integrity of the ``mermaid`` package: the tarball must match it."""


def mermaid_script(cache: Path = ROOT / ".ci" / ".tools" / "mermaid") -> Path:
    """The pinned Mermaid build, fetched once with npm into the (git-ignored) tool cache."""
    target = cache / MERMAID_VERSION / "mermaid.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is needed once to fetch Mermaid {MERMAID_VERSION} for the docs site "
            "(bash scripts/browser_deps.sh installs it)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--silent"],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=300,
        )
        tarball = Path(tmp) / f"mermaid-{MERMAID_VERSION}.tgz"
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != MERMAID_INTEGRITY:
            raise RuntimeError(f"{tarball.name} does not match the pinned integrity")
        with tarfile.open(tarball) as archive:
            for name in ("package/dist/mermaid.min.js", "package/LICENSE"):
                member = archive.extractfile(name)
                if member is None:
                    raise RuntimeError(f"{tarball.name} has no {name}")
                out = target.parent / Path(name).name
                out.parent.mkdir(parents=True, exist_ok=True)
                # Unique per process: parallel test workers may build the site at once.
                partial = out.with_name(f"{out.name}.{os.getpid()}.part")
                partial.write_bytes(member.read())
                partial.replace(out)
    return target


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from mkdocs.structure.files import File

    script = mermaid_script()
    files.append(File.generated(config, MERMAID, abs_src_path=str(script)))
    # Mermaid's MIT licence travels with the copy the site serves.
    license_uri = MERMAID.replace(".min.js", ".LICENSE.txt")
    files.append(File.generated(config, license_uri, abs_src_path=str(script.parent / "LICENSE")))
    # The changelog lives at the repository's root, where GitHub and PyPI readers look for it.
    files.append(File.generated(config, "changelog.md", abs_src_path=str(ROOT / "CHANGELOG.md")))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    del config, files
    if page.file.src_uri == "data-dictionary.md":
        # The committed copy is for readers of the repository (the README links it); the site
        # is always built from the specs. tests/unit/test_docs.py keeps the copy current.
        return data_dictionary()
    return expand(markdown, page.file.src_uri)
