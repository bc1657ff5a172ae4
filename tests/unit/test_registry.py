"""Backends come from entry points keyed by URI scheme, a third party's exactly like ours."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from py_load_medgen.errors import ExitCode, UsageError
from py_load_medgen.load import registry
from tests.helpers import run_cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def documented_backend() -> str:
    """The skeleton backend of docs/extending.md, so the documented example stays true."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- example: tiny_medgen_backend.py -->", 1)[1]
    return block.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def tiny_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a package the way pip would leave it: a module and its dist-info."""
    (tmp_path / "tiny_medgen_backend.py").write_text(documented_backend())
    (tmp_path / "tiny_medgen_extras.py").write_text(
        "def not_a_loader(uri, schema):\n    return 1\n"
    )
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
            broken = tiny_medgen_extras:not_a_loader
            missing = tiny_medgen_backend_gone:Loader
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_built_in_backends_are_entry_points() -> None:
    installed = registry.available()
    assert {"duckdb", "postgresql", "postgres"} <= set(installed)
    assert installed["duckdb"].value == "py_load_medgen.load.duckdb:DuckDBLoader"


def test_built_in_backends_need_no_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source checkout or a test run without entry points still finds PostgreSQL and DuckDB
    (it once failed with "installed backends: none")."""
    monkeypatch.setattr(registry, "entry_points", lambda group: ())
    assert set(registry.available()) == {"duckdb", "postgresql", "postgres"}
    from py_load_medgen.load.duckdb import DuckDBLoader

    with registry.open_loader("duckdb:///:memory:", "medgen") as loader:
        assert isinstance(loader, DuckDBLoader)
        assert loader.query("SELECT 1") == [(1,)]


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
    installed = "broken, delta, duckdb, missing, postgres, postgresql, tiny"
    assert f"installed backends: {installed}" in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_unknown_scheme_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("load", "--source", str(tmp_path), "--db-uri", "oracle://scott@db/orcl")
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no backend for URI scheme 'oracle'; installed backends: delta, duckdb" in err


def test_uri_without_scheme() -> None:
    with pytest.raises(UsageError, match="has no scheme"):
        registry.open_loader("/var/lib/medgen.duckdb", "medgen")


@pytest.mark.usefixtures("tiny_installed")
def test_backend_that_is_not_a_loader_or_cannot_import() -> None:
    with pytest.raises(UsageError, match="did not give a Loader"):
        registry.open_loader("broken://x", "medgen")
    with pytest.raises(UsageError, match="'missing' backend cannot be imported"):
        registry.open_loader("missing://x", "medgen")


@pytest.mark.usefixtures("tiny_installed")
def test_third_party_backend_inherits_staging_and_metadata(tmp_path: Path) -> None:
    import gzip

    from py_load_medgen.pipeline import LoadOptions, run_full
    from py_load_medgen.source.local import LocalSource

    release = tmp_path / "release"
    release.mkdir()
    rows = b"C0000001|One|GTR|N|\nC0000002|Two|GTR|N|\n"
    (release / "NAMES.RRF.gz").write_bytes(gzip.compress(b"#CUI|name|source|SUPPRESS|\n" + rows))
    loader = registry.open_loader("tiny://warehouse", "medgen")
    options = LoadOptions(files=("NAMES.RRF.gz",), rejects_dir=tmp_path / "rejects")
    result = run_full(LocalSource(release), loader, options)
    assert result.rows_loaded == 2
    assert result.run.status == "succeeded"
    statements = "\n".join(loader.statements)  # type: ignore[attr-defined]
    assert 'CREATE TABLE IF NOT EXISTS "medgen"."etl_runs"' in statements
    assert 'CREATE TABLE "medgen"."_staging_concepts" ("cui" VARCHAR' in statements
    assert 'INSERT INTO "medgen"."etl_run_files"' in statements
