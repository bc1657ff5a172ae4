"""docs/architecture.md is true of the code: the layers' import direction and the events.

The layers and the exceptions to them are read from the page itself, so the picture and this
test cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from py_load_medgen import events

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "py_load_medgen"
PAGE = ROOT / "docs" / "architecture.md"

EXCEPTIONS = {
    # source/integrity.py verifies a download with parse's gzip reader and header check.
    ("source.integrity", "parse.reader"),
    ("source.integrity", "parse.header"),
}


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def documented_layers() -> dict[str, int]:
    """Top-level module or package name -> its layer's rank (0 is the bottom, ``core``)."""
    rows = [
        line
        for line in _section("Layers: the one direction of imports").splitlines()
        if line.startswith("| ") and "`" in line
    ]
    layers: dict[str, int] = {}
    for rank, row in enumerate(rows):
        for name in re.findall(r"`([\w.]+)`", row.split("|")[2]):
            layers[name.removeprefix("py_load_medgen") or "py_load_medgen"] = rank
    return layers


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "py_load_medgen"


def imports_of(path: Path) -> set[str]:
    """The package modules a file imports (relative to the package), wherever the import is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "py_load_medgen":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("py_load_medgen."):
                found.add(node.module.removeprefix("py_load_medgen."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("py_load_medgen.")
                for a in node.names
                if a.name.startswith("py_load_medgen.")
            )
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    """Every import of a module from a layer below the importer's."""
    layers = documented_layers()
    run = layers["pipeline"]

    def rank(module: str) -> int:
        return layers.get(module.split(".")[0], run)

    wrong = []
    for path in sorted(package.rglob("*.py")):
        importer = module_name(path, package)
        for imported in sorted(imports_of(path)):
            if rank(imported) > rank(importer) and (importer, imported) not in EXCEPTIONS:
                wrong.append(f"{importer} imports {imported}")
    return wrong


def test_layers_are_documented_in_order() -> None:
    layers = documented_layers()
    assert layers["errors"] == 0
    assert layers["release"] < layers["source"] < layers["parse"] < layers["load"]
    assert layers["load"] < layers["pipeline"] < layers["api"] < layers["cli"]


def test_no_module_imports_against_the_documented_direction() -> None:
    wrong = violations()
    assert not wrong, "imports against docs/architecture.md's layers:\n" + "\n".join(wrong)


def test_the_check_catches_an_import_against_the_flow(tmp_path: Path) -> None:
    package = tmp_path / "py_load_medgen"
    (package / "parse").mkdir(parents=True)
    (package / "parse" / "rows.py").write_text("from py_load_medgen.load.base import Loader\n")
    (package / "errors.py").write_text("def hint() -> None:\n    from py_load_medgen import cli\n")
    (package / "load").mkdir()
    (package / "load" / "fine.py").write_text("from py_load_medgen.parse import stream\n")
    assert violations(package) == ["errors imports cli", "parse.rows imports load.base"]


def emitted_kinds() -> set[str]:
    """Every kind passed to ``emit`` (or ``events.emit``) as a literal, anywhere in the package."""
    kinds: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            is_emit = (
                isinstance(func, ast.Attribute)
                and func.attr == "emit"
                and isinstance(func.value, ast.Name)
                and func.value.id == "events"
            ) or (path.name == "events.py" and isinstance(func, ast.Name) and func.id == "emit")
            first = node.args[0]
            if is_emit and isinstance(first, ast.Constant) and isinstance(first.value, str):
                kinds.add(first.value)
            elif is_emit and path.name != "events.py":
                raise AssertionError(f"{path.name}: emit() with a kind that is not a literal")
    return kinds


def documented_kinds() -> set[str]:
    rows = _section("Events, progress and logs").splitlines()
    return {m.group(1) for line in rows if (m := re.match(r"\| `(\w+)` \|", line))}


def test_documented_events_are_the_emitted_ones() -> None:
    kinds = set(events.KINDS)
    assert emitted_kinds() == kinds, "events.Kind lists a kind nothing emits, or misses one"
    assert documented_kinds() == kinds, "docs/architecture.md's events table disagrees"
