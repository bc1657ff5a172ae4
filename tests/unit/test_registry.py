"""Backends come from entry points keyed by URI scheme, a third party's exactly like ours."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode, UsageError
from py_load_medgen.load import registry
from tests.helpers import run_cli

TINY_BACKEND = '''
"""A third-party backend: the smallest Loader there is."""

from contextlib import nullcontext

from py_load_medgen.load import sql
from py_load_medgen.load.base import Loader


class TinyLoader(Loader):
    schemes = ("tiny",)
    dialect = sql.DUCKDB

    def connect(self): pass
    def close(self): pass
    def describe(self): return "the tiny backend"
    def execute(self, statement, params=()): pass
    def query(self, statement, params=()): return []
    def transaction(self): return nullcontext()
    def acquire_lock(self, run_id): pass
    def release_lock(self): pass
    def table_exists(self, table): return False
    def bulk_load(self, spec, encoded): return 0
    def try_unique_index(self, table, index): return True
    def analyze(self, table): pass
    def swap(self, specs): pass


def not_a_loader(uri, schema):
    return object()
'''


@pytest.fixture
def tiny_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a package the way pip would leave it: a module and its dist-info."""
    (tmp_path / "tiny_medgen_backend.py").write_text(TINY_BACKEND)
    info = tmp_path / "tiny_medgen_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tiny-medgen-backend\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [py_load_medgen.loaders]
            tiny = tiny_medgen_backend:TinyLoader
            broken = tiny_medgen_backend:not_a_loader
            missing = tiny_medgen_backend_gone:Loader
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_built_in_backends_are_entry_points() -> None:
    installed = registry.available()
    assert {"duckdb", "postgresql", "postgres"} <= set(installed)
    assert installed["duckdb"].value == "py_load_medgen.load.duckdb:DuckDBLoader"


def test_duckdb_uri_gives_the_duckdb_loader() -> None:
    from py_load_medgen.load.duckdb import DuckDBLoader

    loader = registry.open_loader("duckdb:///:memory:", "medgen")
    assert isinstance(loader, DuckDBLoader)
    assert loader.schema == "medgen"


@pytest.mark.usefixtures("tiny_installed")
def test_third_party_backend_is_picked_by_its_scheme() -> None:
    assert "tiny" in registry.available()
    loader = registry.open_loader("tiny://somewhere/db", "mirror")
    assert type(loader).__name__ == "TinyLoader"
    assert type(loader).__module__ == "tiny_medgen_backend"
    assert (loader.uri, loader.schema, loader.describe()) == (
        "tiny://somewhere/db",
        "mirror",
        "the tiny backend",
    )
    # A driver suffix (as in SQLAlchemy URIs) selects the same backend.
    assert type(registry.open_loader("TINY+fast://x", "m")).__name__ == "TinyLoader"


@pytest.mark.usefixtures("tiny_installed")
def test_unknown_scheme_lists_the_installed_backends() -> None:
    with pytest.raises(UsageError) as caught:
        registry.open_loader("mysql://me@db/medgen", "medgen")
    message = caught.value.message
    assert "no backend for URI scheme 'mysql'" in message
    assert "installed backends: broken, duckdb, missing, postgres, postgresql, tiny" in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_unknown_scheme_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("load", "--source", str(tmp_path), "--db-uri", "oracle://scott@db/orcl")
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no backend for URI scheme 'oracle'; installed backends: duckdb" in err


def test_uri_without_scheme() -> None:
    with pytest.raises(UsageError, match="has no scheme"):
        registry.open_loader("/var/lib/medgen.duckdb", "medgen")


@pytest.mark.usefixtures("tiny_installed")
def test_backend_that_is_not_a_loader_or_cannot_import() -> None:
    with pytest.raises(UsageError, match="did not give a Loader"):
        registry.open_loader("broken://x", "medgen")
    with pytest.raises(UsageError, match="'missing' backend cannot be imported"):
        registry.open_loader("missing://x", "medgen")
