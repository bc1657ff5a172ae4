"""The tables a release loads into and the data dictionary, derived from the file specs."""

from __future__ import annotations

from dataclasses import dataclass

from py_load_medgen.release.files import FILES, Column, ColumnType, FileSpec


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool = False

    @property
    def name(self) -> str:
        if self.unique:
            return f"{self.table}_pkey"
        return f"{self.table}_{'_'.join(self.columns)}_idx"

    def without_uniqueness(self) -> Index:
        """The index a natural key gets when a release proves it is not unique."""
        return Index(self.table, self.columns, unique=False)


def index_names(spec: FileSpec) -> set[str]:
    """Every name this tool may give an index of ``spec``'s table.

    The non-unique fallback of a natural key included: an index of ours must never be taken
    for one a user added (and rebuilt a second time under the same name).
    """
    names = set()
    for index in indexes(spec):
        names.add(index.name)
        if index.unique:
            names.add(index.without_uniqueness().name)
    return names


def indexes(spec: FileSpec) -> list[Index]:
    """The natural key (unique when the data allows) and every indexed column."""
    result: list[Index] = []
    if spec.natural_key:
        result.append(Index(spec.table, spec.natural_key, unique=True))
    for column in spec.columns:
        if column.indexed and (column.name,) != spec.natural_key:
            result.append(Index(spec.table, (column.name,)))
    return result


def data_dictionary_markdown() -> str:
    """The data dictionary of every table and column, as Markdown."""
    out = [
        "# Data dictionary",
        "",
        "Generated from `src/py_load_medgen/release/files.py`; do not edit by hand.",
        "Every table lives in the target schema (default `medgen`). Empty source fields load as",
        "empty strings in text columns; there is no NULL token in MedGen files.",
        "",
    ]
    for spec in FILES:
        out += [
            f"## `{spec.table}`",
            "",
            spec.description,
            "",
            f"- Source file: `{'` / `'.join(spec.served_names)}` "
            f"({'TAB' if spec.delimiter == chr(9) else 'pipe'}-delimited as served today; "
            "detected from the header)",
            f"- Natural key: {_key_label(spec)}",
            "",
            "| column | type | source column | description |",
            "|---|---|---|---|",
        ]
        for column in spec.columns:
            out.append(
                f"| `{column.name}` | {_type_label(column)} | {_source_label(column)} | "
                f"{column.description} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n")


def _key_label(spec: FileSpec) -> str:
    keys = ", ".join(f"`{k}`" for k in spec.natural_key)
    return keys or "none (rows are compared whole)"


def _type_label(column: Column) -> str:
    label = column.type.value
    if column.type is ColumnType.TEXT and column.identifier:
        label += ' (COLLATE "C")'
    if column.indexed:
        label += ", indexed"
    return label


def _source_label(column: Column) -> str:
    names = [f"`{column.source}`"] + [f"`{a}` (older builds)" for a in column.aliases]
    label = ", ".join(names)
    return label if column.required else label + " (optional)"
