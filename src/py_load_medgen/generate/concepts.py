"""Row rules of the concept files: NAMES, MGCONSO, MGDEF, MGSTY, MERGED."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from py_load_medgen.generate.base import (
    _BATCH,
    _FRAGMENTS,
    _Fmt,
    _groups,
    _perm,
    _pool,
    _Row,
)
from py_load_medgen.generate.vocabulary import (
    _ATOM_SABS,
    _DEF_SOURCES,
    _STTS,
    _STYS,
    _SUPPRESS,
    _TTYS,
)
from py_load_medgen.generate.world import _variant, _World


def _concepts(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    cui, name, source = w.cui, w.name, w.source
    sup, nsup = _SUPPRESS, len(_SUPPRESS)
    for start in range(0, rows, _BATCH):
        stop = min(rows, start + _BATCH)
        yield [(cui(i), name(i), source(i), sup[int(rand() * nsup)]) for i in range(start, stop)]


def _atom_ids(w: _World, i: int, sab: str, rand: Callable[[], float]) -> tuple[str, str, str, str]:
    """SAUI, SCUI, SDUI and CODE of an atom: their presence and shape depend on the source."""
    code = w.code(i, sab)
    if sab in ("HPO", "ORDO", "MONDO", "MSH"):
        return ("", "", code, code)
    if sab == "OMIM":
        r = rand()
        if r < 0.15:
            # Allelic variants: the entry number, a dot and a four-digit variant number.
            return ("", code, "", f"{code}.{int(rand() * 60) + 1:04d}")
        if r < 0.2:
            return ("", "", "", f"MTHU{int(rand() * 90_000) + 1:06d}")
        return ("", code, "", code)
    if sab == "NCI":
        return ("", code, "", code)
    if sab == "SNOMEDCT_US":
        return (str(int(rand() * 3_000_000_000) + 100_000), code, "", code)
    return ("", "", "", code)


def _concept_names(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random

    def fragment() -> tuple[str, str, str, str, str, str, bool]:
        sab = _ATOM_SABS[int(rand() * len(_ATOM_SABS))]
        ttys = _TTYS[sab]
        return (
            "P" if rand() < 0.3 else "S",
            _STTS[int(rand() * len(_STTS))],
            "Y" if rand() < 0.6 else "N",
            sab,
            ttys[int(rand() * len(ttys))],
            _SUPPRESS[int(rand() * len(_SUPPRESS))],
            rand() < 0.15,  # an NCBI-made AN... atom id rather than a UMLS A... one
        )

    frags = _pool(_FRAGMENTS, fragment)
    nfrags = len(frags)
    # _Perm's sequence, stepped by addition: the same unique ids without a multiply and a
    # modulo per row.
    a = _perm(1_000_000, 44_000_000, rows, w.salt ^ 11)
    an = _perm(1, 9_999_999, rows, w.salt ^ 12)
    a_lo, a_step, a_val, a_span = a.lo, a.step, a.off, a.span
    an_lo, an_step, an_val, an_span = an.lo, an.step, an.off, an.span
    for i, count in _groups(rng, rows, w.n, rows / w.n):
        cui, name, h = w.cui(i), w.name(i), w.h(i)
        ids: dict[str, tuple[str, str, str, str]] = {}
        group: list[_Row] = []
        for k in range(count):
            ts, stt, ispref, sab, tty, sup, made_by_ncbi = frags[int(rand() * nfrags)]
            if k == 0:
                ts, stt, ispref, sab, tty = "P", "PF", "Y", w.source(i), "PT"
                text = name
            else:
                text = _variant(name, h + k)
            atom = ids.get(sab)
            if atom is None:
                atom = ids[sab] = _atom_ids(w, i, sab, rand)
            if made_by_ncbi:
                aui = f"AN{an_lo + an_val:07d}"
                an_val += an_step
                if an_val >= an_span:
                    an_val -= an_span
            else:
                aui = f"A{a_lo + a_val}"
                a_val += a_step
                if a_val >= a_span:
                    a_val -= a_span
            saui, scui, sdui, code = atom
            group.append((cui, ts, stt, ispref, aui, saui, scui, sdui, sab, tty, code, text, sup))
        yield group


def _definitions(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    need_dup = True
    first = True
    for i, count in _groups(rng, rows, w.n, 2.5):
        cui = w.cui(i)
        group: list[_Row] = []
        base = int(rand() * len(_DEF_SOURCES))
        for k in range(count):
            # NCBI repeats some definition rows exactly; the first chance is always taken.
            if k > 0 and (need_dup or rand() < 0.02):
                group.append(group[-1])
                need_dup = False
                continue
            breaks = first or rand() < 0.12
            first = False
            text = w.definition(i, k, rand, breaks)
            sup = _SUPPRESS[int(rand() * len(_SUPPRESS))]
            group.append((cui, text, _DEF_SOURCES[(base + k) % len(_DEF_SOURCES)], sup))
        yield group


def _semantic_types(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    at = _perm(10_000_000, 89_999_999, rows, w.salt ^ 41)
    at_lo, at_step, at_val, at_span = at.lo, at.step, at.off, at.span
    nstys = len(_STYS)
    for i, count in _groups(rng, rows, w.n, 1.28):
        cui = w.cui(i)
        # As _World.sty: consecutive types of one concept are distinct.
        base = w.h(i) >> 8
        group: list[_Row] = []
        for k in range(count):
            tui, stn, sty = _STYS[(base + 7 * k) % nstys]
            group.append((cui, tui, stn, sty, f"AT{at_lo + at_val:08d}"))
            at_val += at_step
            if at_val >= at_span:
                at_val -= at_span
        yield group


def _merged(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    # Fully determined by the retired-CUI space shared with cui_history: no draws.
    group: list[_Row] = []
    for k in range(rows):
        kk = k * w.retired // rows
        group.append((w.retired_cui(kk), w.cui(w.replacement(kk))))
    yield group
