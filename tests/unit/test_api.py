"""The front door: ``import py_load_medgen`` is the whole library, and its examples are true.

Every docstring example of the public modules runs here, in a directory that holds a small
generated release in ``./medgen``, exactly as docs/api.md shows them.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

import py_load_medgen
from py_load_medgen import api
from py_load_medgen.generate import generate_release

DOCUMENTED = (
    "py_load_medgen.api",
    "py_load_medgen.pipeline",
    "py_load_medgen.load.registry",
    "py_load_medgen.load.metadata",
    "py_load_medgen.load.publish",
    "py_load_medgen.source.location",
    "py_load_medgen.events",
)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "medgen"
    generate_release(out, scale=0.001, files=["concepts", "definitions"])
    return out


@pytest.mark.parametrize("module_name", DOCUMENTED)
def test_docstring_examples_run(
    module_name: str, release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "medgen").symlink_to(release)
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(module, module_name, globs={**vars(module)})
    assert tests, f"{module_name} has no examples"
    for test in tests:
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted and not failed, f"{failed} of {attempted} examples of {module_name} failed"


def test_every_public_function_has_an_example() -> None:
    for name in py_load_medgen.__all__:
        value = getattr(py_load_medgen, name)
        if inspect.isfunction(value):
            assert ">>>" in (value.__doc__ or ""), f"py_load_medgen.{name} has no example"


def test_all_names_exist_and_commands_are_there() -> None:
    missing = [n for n in py_load_medgen.__all__ if not hasattr(py_load_medgen, n)]
    assert not missing
    for command in ("load", "download", "status", "history", "verify", "check_update"):
        assert command in py_load_medgen.__all__
    assert "generate_release" in py_load_medgen.__all__


def test_function_names_survive_importing_their_namesake_modules() -> None:
    # ``load`` and ``verify`` are also module names; importing a submodule late must not
    # rebind the package attribute to the module.
    importlib.import_module("py_load_medgen.load.postgres")
    importlib.import_module("py_load_medgen.load.duckdb")
    importlib.import_module("py_load_medgen.verify")
    assert py_load_medgen.load is api.load
    assert py_load_medgen.verify is api.verify
    from py_load_medgen.load.base import Loader

    assert py_load_medgen.Loader is Loader


def test_result_types_render_and_serialise(
    release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    uri = f"duckdb:///{tmp_path / 'm.duckdb'}"
    results: list[Any] = [
        py_load_medgen.load(
            str(release),
            db_uri=uri,
            options=py_load_medgen.LoadOptions(files=("concepts", "definitions")),
        ),
        py_load_medgen.status(uri),
        py_load_medgen.history(uri),
        py_load_medgen.verify(uri),
        py_load_medgen.check_update(uri, source=str(release)),
        py_load_medgen.data_dictionary(),
        py_load_medgen.generate_release(tmp_path / "g", scale=0.001, files="MGDEF.RRF.gz"),
    ]
    for result in results:
        assert result.render().strip(), type(result).__name__
        json.dumps(result.to_json())
    assert [t.table for t in results[0].loads] == ["concepts", "definitions"]
