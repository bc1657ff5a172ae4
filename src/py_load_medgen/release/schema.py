"""The tables a release loads into and the data dictionary, derived from the file specs."""

from __future__ import annotations

from dataclasses import dataclass

from py_load_medgen.release.files import FileSpec


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
    """The data dictionary of every table and column, as Markdown (see ``release.dictionary``)."""
    from py_load_medgen.release.dictionary import data_dictionary_markdown as render

    return render()
