"""Row rules of the history files: UID, CUI and ontology-term histories."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from py_load_medgen.generate.base import _DATES, _Fmt, _groups, _mix, _Row
from py_load_medgen.generate.world import _RowsFn, _World


def _uid_cui_history(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    dates, ndates = _DATES, len(_DATES)
    old = w.retired_uid_base
    for i, count in _groups(rng, rows, w.n, 8.5):
        cui = w.cui(i)
        group: list[_Row] = [(str(w.uid(i)), cui, dates[int(rand() * ndates)], "1")]
        group += [
            (str(u), cui, dates[int(rand() * ndates)], "0") for u in range(old, old + count - 1)
        ]
        old += count - 1
        yield group


def _cui_history(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    group: list[_Row] = []
    for k in range(rows):
        kk = k * w.retired // rows
        date = _DATES[_mix(kk ^ w.salt) % len(_DATES)]
        group.append((w.retired_cui(kk), w.cui(w.replacement(kk)), date))
    yield group


def _ontology_history(term: Callable[[_World, int], str]) -> _RowsFn:
    def rows_fn(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
        rand = rng.random
        ndates = len(_DATES)
        for i, count in _groups(rng, rows, w.n, 1.3):
            ident = term(w, i)
            group: list[_Row] = [(ident, w.cui(i), _DATES[int(rand() * ndates)], "1")]
            for _ in range(count - 1):
                other = w.cui(int(rand() * w.n))
                group.append((ident, other, _DATES[int(rand() * ndates)], "0"))
            yield group

    return rows_fn
