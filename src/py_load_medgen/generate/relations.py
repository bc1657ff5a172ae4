"""Row rules of MGREL and MGSAT: relationships and attributes."""

from __future__ import annotations

import random
from collections.abc import Iterator

from py_load_medgen.generate.base import _FRAGMENTS, _Fmt, _groups, _perm, _pool, _Row
from py_load_medgen.generate.vocabulary import _REL_TEMPLATES, _SAT_TEMPLATES, _SUPPRESS
from py_load_medgen.generate.world import _World


def _relationships(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random

    def fragment() -> tuple[str, str, str, str, str, bool]:
        stype1, rel, rela, sab = _REL_TEMPLATES[int(rand() * len(_REL_TEMPLATES))]
        if rand() < 0.06:
            rela = ""
        sup = _SUPPRESS[int(rand() * len(_SUPPRESS))]
        return (stype1, rel, rela, sab, sup, rand() < 0.12)

    frags = _pool(_FRAGMENTS, fragment)
    nfrags = len(frags)
    auis, nauis = w.auis, len(w.auis)
    r = _perm(10_000_000, 290_000_000, rows, w.salt ^ 21)
    rn = _perm(1, 99_999_999, rows, w.salt ^ 22)
    r_lo, r_step, r_val, r_span = r.lo, r.step, r.off, r.span
    rn_lo, rn_step, rn_val, rn_span = rn.lo, rn.step, rn.off, rn.span
    n = w.n
    cui = w.cui
    for i, count in _groups(rng, rows, n, rows / n):
        cui1 = cui(i)
        group: list[_Row] = []
        for _ in range(count):
            stype1, rel, rela, sab, sup, made_by_ncbi = frags[int(rand() * nfrags)]
            if made_by_ncbi:
                rui = f"RN{rn_lo + rn_val:08d}"
                rn_val += rn_step
                if rn_val >= rn_span:
                    rn_val -= rn_span
            else:
                rui = f"R{r_lo + r_val}"
                r_val += r_step
                if r_val >= r_span:
                    r_val -= r_span
            aui1 = auis[int(rand() * nauis)]
            aui2 = auis[int(rand() * nauis)]
            cui2 = cui(int(rand() * n))
            group.append((cui1, aui1, stype1, rel, cui2, aui2, rela, rui, sab, sab, sup))
        yield group


def _attributes(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    n = w.n

    def fragment() -> tuple[str, str, str, str, str | None, str]:
        sab, stype, atn, kind = _SAT_TEMPLATES[int(rand() * len(_SAT_TEMPLATES))]
        # Values that name the concept itself are made per row; the rest come from the pool.
        value = None if kind in ("xref", "sty") else w.attribute_value(int(rand() * n), kind, rand)
        return (sab, stype, atn, kind, value, _SUPPRESS[int(rand() * len(_SUPPRESS))])

    frags = _pool(_FRAGMENTS, fragment)
    nfrags = len(frags)
    auis, nauis = w.auis, len(w.auis)
    at = _perm(10_000_000, 89_999_999, rows, w.salt ^ 31)
    at_lo, at_step, at_val, at_span = at.lo, at.step, at.off, at.span
    for i, count in _groups(rng, rows, n, rows / n):
        cui = w.cui(i)
        codes: dict[str, str] = {}
        group: list[_Row] = []
        for _ in range(count):
            sab, stype, atn, kind, value, sup = frags[int(rand() * nfrags)]
            if value is None:
                value = w.attribute_value(i, kind, rand)
            if stype == "CUI":
                metaui = cui
            elif stype == "AUI":
                metaui = auis[int(rand() * nauis)]
            else:
                metaui = ""
            code = codes.get(sab)
            if code is None:
                code = codes[sab] = w.code(i, sab)
            atui = f"AT{at_lo + at_val:08d}"
            at_val += at_step
            if at_val >= at_span:
                at_val -= at_span
            group.append((cui, metaui, stype, code, atui, atn, sab, value, sup))
        yield group
