"""``resolve``: where each id stands in this release, in bulk.

The ids go into a temporary table in one stream (COPY on PostgreSQL, Arrow batches on DuckDB)
and are answered by one join, streamed back in input order: a ClinVar-sized list of a million
ids costs two passes over the wire, never a query per id, and memory stays flat.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from py_load_medgen.answers.curies import parse_id
from py_load_medgen.answers.db import Target, connected, present, require, stream, table
from py_load_medgen.load.base import Loader

_IDS = "_py_load_medgen_resolve"
_BATCH = 50_000
_RANK = {"current": 0, "merged": 1, "retired": 2}


@dataclass
class Resolution:
    id: str
    status: str
    """current, merged, retired, or unknown (the release does not know the id)."""
    current: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "current": self.current}

    def render(self) -> str:
        return f"{self.id}\t{self.status}\t{','.join(self.current)}"


def resolve(target: Target, ids: Iterable[str], *, schema: str = "medgen") -> Iterator[Resolution]:
    """One Resolution per input id, in input order (a generator: consume it while connected)."""
    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, "cui_status")
        _upload(loader, ids)
        try:
            yield from _answers(loader, have)
        finally:
            loader.execute(f"DROP TABLE IF EXISTS {_IDS}")


def _keys(ids: Iterable[str]) -> Iterator[tuple[int, str, str | None, str]]:
    for n, text in enumerate(ids):
        parsed = parse_id(text)
        yield n, text, parsed.key if parsed else None, parsed.kind if parsed else "none"


def _upload(loader: Loader, ids: Iterable[str]) -> None:
    loader.execute(f"DROP TABLE IF EXISTS {_IDS}")
    text = loader.dialect.identifier_text
    loader.execute(
        f"CREATE TEMP TABLE {_IDS} (ord bigint, input {loader.dialect.text}, key {text}, "
        f"kind {loader.dialect.text})"
    )
    if loader.dialect.name == "postgresql":
        conn: Any = getattr(loader, "conn")  # noqa: B009
        with conn.cursor() as cur, cur.copy(f"COPY {_IDS} FROM STDIN".encode()) as copy:
            for row in _keys(ids):
                copy.write_row(row)
        loader.execute(f"ANALYZE {_IDS}")
        return
    import pyarrow as pa

    duck: Any = getattr(loader, "conn")  # noqa: B009
    rows = _keys(ids)
    names = ["ord", "input", "key", "kind"]
    while batch := list(itertools.islice(rows, _BATCH)):
        columns = list(zip(*batch, strict=True))
        arrow = pa.table({name: list(col) for name, col in zip(names, columns, strict=True)})
        duck.register("_py_load_medgen_resolve_batch", arrow)
        duck.execute(f"INSERT INTO {_IDS} SELECT * FROM _py_load_medgen_resolve_batch")
        duck.unregister("_py_load_medgen_resolve_batch")


def _answers(loader: Loader, have: set[str]) -> Iterator[Resolution]:
    status = table(loader, "cui_status")
    via_xrefs = ""
    if "xref_pairs" in have:
        via_xrefs = (
            f" UNION ALL SELECT i.ord, s.status, s.current_cui FROM {_IDS} i "
            f"JOIN {table(loader, 'xref_pairs')} x ON x.curie = i.key "
            f"JOIN {status} s ON s.id = x.cui AND s.id_type = 'cui' WHERE i.kind = 'curie'"
        )
    statement = (
        f"SELECT i.ord, i.input, m.status, m.current_cui FROM {_IDS} i LEFT JOIN ("
        f"SELECT i.ord, s.status, s.current_cui FROM {_IDS} i JOIN {status} s ON s.id = i.key"
        f"{via_xrefs}) m ON m.ord = i.ord ORDER BY i.ord"
    )
    current = Resolution("", "unknown")
    last = -1
    for ord_, text, state, cui in stream(loader, statement):
        if ord_ != last:
            if last >= 0:
                yield _finish(current)
            current, last = Resolution(text, state or "unknown"), ord_
        if state and _RANK.get(state, 3) < _RANK.get(current.status, 3):
            current.status = state
        if cui and cui not in current.current:
            current.current.append(cui)
    if last >= 0:
        yield _finish(current)


def _finish(result: Resolution) -> Resolution:
    result.current.sort()
    return result


def dumps(results: Iterable[Resolution]) -> Iterator[str]:
    """A JSON list, streamed: one object per line between the brackets."""
    yield "["
    for n, result in enumerate(results):
        yield ("  " if n == 0 else ", ") + json.dumps(result.to_json())
    yield "]"
