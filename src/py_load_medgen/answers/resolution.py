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

from py_load_medgen.answers.curies import CUI, parse_id
from py_load_medgen.answers.db import Target, connected, present, require, stream
from py_load_medgen.answers.views import resolve_select
from py_load_medgen.errors import NotLoadedError
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
        require(loader, have, "cui_status", "cui_chains")
        _upload(loader, ids)
        jit = _jit_off(loader)
        try:
            yield from _answers(loader, have)
        finally:
            if jit is not None:
                loader.execute("SELECT set_config('jit', %s, false)", (jit,))
            loader.execute(f"DROP TABLE IF EXISTS {_IDS}")


def _jit_off(loader: Loader) -> str | None:
    """Switch PostgreSQL's JIT off for the statement; the setting to restore afterwards.

    Its plan costs millions (a row per id and history row), so JIT compiles it: seconds of
    compiling for a statement that runs each expression once per row.
    """
    if loader.dialect.name != "postgresql":
        return None
    (setting,) = loader.query("SELECT current_setting('jit')")[0]
    loader.execute("SET jit = off")
    return str(setting)


def _keys(ids: Iterable[str]) -> Iterator[tuple[int, str, str | None, str]]:
    for n, text in enumerate(ids):
        # parse_id's first two rules inline, for the ids already in normal form (most of a
        # bulk list): a million calls and Id objects cost seconds. Same answers: parse_id
        # strips first, and fullmatch (unlike match) refuses a trailing newline.
        if CUI.fullmatch(text):
            yield n, text, text, "cui"
        elif text.isdigit():
            yield n, text, str(int(text)), "uid"
        else:
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
    matches = resolve_select(loader.dialect, loader.schema, have, _IDS)
    if matches is None:  # unreachable: resolve() required cui_status and cui_chains
        raise NotLoadedError(f"cui_status cannot be answered in {loader.describe()}")
    statement = (
        f"SELECT i.ord, i.input, m.status, m.current_cui FROM {_IDS} i "
        f"LEFT JOIN ({matches}) m ON m.ord = i.ord ORDER BY i.ord"
    )
    current = Resolution("", "unknown")
    last = -1
    for ord_, text, state, cui in stream(loader, statement):
        if ord_ != last:
            if last >= 0:
                yield _finish(current)
            # The first row of an id sets it up; only the rare later rows are compared.
            current, last = Resolution(text, state or "unknown", [cui] if cui else []), ord_
            continue
        if state and _RANK.get(state, 3) < _RANK.get(current.status, 3):
            current.status = state
        if cui and cui not in current.current:
            current.current.append(cui)
    if last >= 0:
        yield _finish(current)


def _finish(result: Resolution) -> Resolution:
    if len(result.current) > 1:  # most ids have one current CUI or none
        result.current.sort()
    return result


def dumps(results: Iterable[Resolution]) -> Iterator[str]:
    """A JSON list, streamed: one object per line between the brackets."""
    yield "["
    for n, result in enumerate(results):
        yield ("  " if n == 0 else ", ") + json.dumps(result.to_json())
    yield "]"
