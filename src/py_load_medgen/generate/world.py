"""The world: every fact several files must agree on, as a pure function of a concept index."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import cast

from py_load_medgen.generate.base import (
    _M64,
    _MIN_ROWS,
    _aui_like,
    _Fmt,
    _mix,
    _perm,
    _rng,
    _Row,
    _Text,
)
from py_load_medgen.generate.vocabulary import (
    _CONCEPT_SOURCES,
    _EPONYMS,
    _FINDINGS,
    _GENES,
    _GREEK,
    _MIMTYPES,
    _MOIS,
    _NOUNS,
    _ODD_NAMES,
    _ORGANS,
    _QUALIFIERS,
    _ROMAN,
    _STYS,
)
from py_load_medgen.release.files import FILES, FileSpec

# ---------------------------------------------------------------------------------------------
# The world: every fact several files must agree on (CUIs, names, UIDs, ontology ids) is a pure
# function of a concept's index in the CUI pool, so no file needs another file's content.

# Up to this many concepts (scale ~2) their CUIs and names are kept in memory (~80 MB at most);
# above it they are recomputed on every use, so memory stays bounded at any scale.
_CACHE_CONCEPTS = 500_000


def _rows_for(spec: FileSpec, scale: float) -> int:
    return max(_MIN_ROWS, round(spec.scale_rows * scale))


def _an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


class _World:
    def __init__(self, seed: int, scale: float) -> None:
        self.seed = seed
        self.rows = {spec.table: _rows_for(spec, scale) for spec in FILES}
        self.salt = _mix((seed & _M64) ^ 0x4D656447656E)
        n = self.n = self.rows["concepts"]
        # About 3 % of real CUIs are NCBI-made CN ids; they sort after every C id.
        n_cn = max(1, round(n * 0.03))
        n_c = n - n_cn
        lo = 700
        span = 5_980_000 - lo
        if 2 * n_c > span:
            span = 9_999_999 - lo
            n_c = min(n_c, span // 2)
            n_cn = n - n_c
        self.n_c = n_c
        self.c_lo = lo
        # Two or more numbers per concept: the last slot of each gap is never a live CUI, so
        # retired (merged) CUIs can be made there without clashing.
        self.c_gap = span // max(n_c, 1)
        self.cn_gap = 40
        self.cn_width = max(6, len(str(n_cn * self.cn_gap + 1)))
        self.uid = _perm(1, 2_000_000, 2 * n, self.salt ^ 1)
        self.retired_uid_base = self.uid.lo + self.uid.span
        self._hp = _perm(1, 600_000, n, self.salt ^ 2)
        self._mondo = _perm(1, 1_000_000, n, self.salt ^ 3)
        self._orpha = _perm(1, 600_000, n, self.salt ^ 4)
        self._mim = _perm(100_000, 520_000, n, self.salt ^ 5)
        self._msh = _perm(1, 999_999, n, self.salt ^ 6)
        self._nci = _perm(1_000, 199_000, n, self.salt ^ 7)
        self._sct = _perm(10_000_000, 890_000_000, n, self.salt ^ 8)
        # Never more than the concepts: every table has the same minimum and these two are far
        # smaller at any scale; one retired CUI per concept slot keeps them unique.
        self.retired = min(n, max(self.rows["merged_concepts"], self.rows["cui_history"]))
        # Tabulation hashing: three lookups and two XORs per concept fact, several times
        # cheaper in Python than any arithmetic 64-bit mixer, with bounded memory.
        r = _rng("medgen-world", seed)
        self._t0 = tuple(r.getrandbits(62) for _ in range(4096))
        self._t1 = tuple(r.getrandbits(62) for _ in range(4096))
        self._t2 = tuple(r.getrandbits(62) for _ in range(4096))
        # Atom ids referred to by relationships and attributes; NCBI's files repeat them too.
        self.auis = tuple(_aui_like(r.random) for _ in range(8192))
        # CUIs and names are asked for many times (random references, one group per table);
        # below a fixed size they are remembered, above it recomputed: memory stays bounded.
        self.cui: Callable[[int], str] = self._make_cui
        self.name: Callable[[int], str] = self._make_name
        if n <= _CACHE_CONCEPTS:
            cuis = [self._make_cui(i) for i in range(n)]
            names = [self._make_name(i) for i in range(n)]
            self.cui = cast(Callable[[int], str], cuis.__getitem__)
            self.name = cast(Callable[[int], str], names.__getitem__)

    # -- per-concept facts ------------------------------------------------------------------

    def h(self, i: int) -> int:
        return self._t0[i & 4095] ^ self._t1[(i >> 12) & 4095] ^ self._t2[(i >> 24) & 4095]

    def _make_cui(self, i: int) -> str:
        h = self._t0[i & 4095] ^ self._t1[(i >> 12) & 4095] ^ self._t2[(i >> 24) & 4095]
        if i < self.n_c:
            gap = self.c_gap
            return f"C{self.c_lo + i * gap + h % (gap - 1):07d}"
        num = 1 + (i - self.n_c) * self.cn_gap + h % (self.cn_gap - 1)
        return f"CN{num:0{self.cn_width}d}"

    def retired_cui(self, k: int) -> str:
        b = k * self.n // self.retired
        if b < self.n_c:
            return f"C{self.c_lo + b * self.c_gap + self.c_gap - 1:07d}"
        j = b - self.n_c
        return f"CN{1 + j * self.cn_gap + self.cn_gap - 1:0{self.cn_width}d}"

    def replacement(self, k: int) -> int:
        """Index of the live concept a retired CUI was merged into."""
        return _mix(k ^ self.salt ^ 0x6D657267) % self.n

    def source(self, i: int) -> str:
        return _CONCEPT_SOURCES[(self.h(i) >> 20) % len(_CONCEPT_SOURCES)]

    def hp(self, i: int) -> str:
        return f"HP:{self._hp(i):07d}"

    def mondo(self, i: int) -> str:
        return f"MONDO:{self._mondo(i):07d}"

    def orpha(self, i: int) -> str:
        return f"Orphanet_{self._orpha(i)}"

    def mim(self, i: int) -> str:
        return str(self._mim(i))

    def sty(self, i: int, k: int) -> tuple[str, str, str]:
        # 7 is coprime with len(_STYS): the first len(_STYS) types of a concept are distinct.
        return _STYS[((self.h(i) >> 8) + 7 * k) % len(_STYS)]

    def code(self, i: int, sab: str) -> str:
        """The concept's code in a source vocabulary, as MGCONSO's CODE shows it."""
        if sab == "HPO":
            return self.hp(i)
        if sab == "ORDO":
            return self.orpha(i)
        if sab == "MONDO":
            return self.mondo(i)
        if sab == "OMIM":
            return self.mim(i)
        if sab == "MSH":
            return f"D{self._msh(i):06d}"
        if sab == "NCI":
            return f"C{self._nci(i)}"
        if sab == "SNOMEDCT_US":
            return str(self._sct(i))
        if sab == "MEDLINEPLUS":
            return str(self._msh(i) % 9000 + 1)
        return self.cui(i)

    def _make_name(self, i: int) -> str:
        # The first concepts always carry the awkward names, so even a tiny release has them.
        if i == 0:
            return "Chédiak-Higashi syndrome"
        if i % 2 == 1 and i // 2 < len(_ODD_NAMES):
            return _ODD_NAMES[i // 2]
        h = self.h(i)
        kind = h % 100
        a = (h >> 8) & 0xFFFF
        b = (h >> 24) & 0xFFFF
        c = (h >> 40) & 0xFFFF
        if kind < 22:
            return f"{_EPONYMS[a % len(_EPONYMS)]} {_NOUNS[b % 3]}"
        if kind < 42:
            base = f"{_QUALIFIERS[a % len(_QUALIFIERS)]} {_NOUNS[b % len(_NOUNS)]}"
            style = c % 4
            if style == 0:
                return f"{base} {c % 40 + 1}"
            if style == 1:
                return f"{base}, type {_ROMAN[c % len(_ROMAN)]}"
            if style == 2:
                return f"{base} type {c % 12 + 1}{'ABCDE'[c % 5]}"
            return base
        if kind < 66:
            return _FINDINGS[a % len(_FINDINGS)].format(_ORGANS[b % len(_ORGANS)])
        if kind < 78:
            return f"{_GENES[a % len(_GENES)]}-related {_NOUNS[b % len(_NOUNS)]}"
        if kind < 84:
            return _GREEK[a % len(_GREEK)]
        if kind < 90:
            words = f"{_QUALIFIERS[a % len(_QUALIFIERS)]} {_NOUNS[b % len(_NOUNS)]}".split(" ")
            return f"{words[-1].capitalize()}, {' '.join(words[:-1])}"
        if kind < 96:
            noun = _NOUNS[b % len(_NOUNS)]
            return f"{_EPONYMS[a % len(_EPONYMS)]}-like {noun} with {_ORGANS[c % len(_ORGANS)]}"
        return _ODD_NAMES[a % len(_ODD_NAMES)]

    def definition(self, i: int, k: int, rand: Callable[[], float], line_breaks: bool) -> str:
        h = _mix(self.h(i) + k)
        finding1 = _FINDINGS[h % len(_FINDINGS)].format(_ORGANS[(h >> 8) % len(_ORGANS)])
        finding2 = _FINDINGS[(h >> 16) % len(_FINDINGS)].format(_ORGANS[(h >> 24) % len(_ORGANS)])
        qualifier = _QUALIFIERS[(h >> 32) % len(_QUALIFIERS)].lower()
        sentences = [
            f"{self.name(i)} is {_an(qualifier)} {qualifier} disorder characterized by "
            f"{finding1.lower()} and {finding2.lower()}."
        ]
        extra = (h >> 40) % 6
        if extra == 0:
            sentences.append(f"It is inherited in an {_MOIS[(h >> 44) % 2].lower()} pattern.")
        elif extra == 1:
            sentences.append(f'Also called "{_EPONYMS[(h >> 44) % len(_EPONYMS)]} disease".')
        elif extra == 2:
            sentences.append(f"Mutations in the {_GENES[(h >> 44) % len(_GENES)]} gene cause it.")
        elif extra == 3:
            sentences.append("The patient's symptoms vary; see the clinician's notes.")
        elif extra == 4:
            sentences.append("[supplied by OMIM, Jun 2019]")
        if not line_breaks:
            return " ".join(sentences)
        # NCBI's definitions use bare CR as a line break; sometimes doubled, sometimes last.
        text = ("\r\r" if rand() < 0.3 else "\r").join(sentences)
        if rand() < 0.1:
            text += "\r"
        return text

    def attribute_value(self, i: int, kind: str, rand: Callable[[], float]) -> str:
        r = rand()
        if kind == "text":
            if r < 0.02:
                return "Path C:\\MedGen\\notes and a\ttab"
            if r < 0.04:
                return 'The so-called "Bobble-head doll" sign'
            return self.definition(i, 7, rand, False)
        if kind == "mimtype":
            return _MIMTYPES[int(r * len(_MIMTYPES))]
        if kind == "digit":
            return str(int(r * 5))
        if kind == "xref":
            return f"UMLS:{self.cui(i)}"
        if kind == "prevalence":
            return ("<1 / 1 000 000", "1-9 / 1 000 000", "1-9 / 100 000", "Unknown")[int(r * 4)]
        if kind == "moi":
            return _MOIS[int(r * len(_MOIS))]
        if kind == "gene":
            return _GENES[int(r * len(_GENES))]
        if kind == "treenum":
            return f"C{int(r * 26):02d}.{int(r * 997) % 1000:03d}.{int(r * 99991) % 1000:03d}"
        if kind == "ctv3":
            return f"X{int(r * 65535):04X}"
        if kind == "yyyymmdd":
            return _DATE_COMPACT[int(r * len(_DATE_COMPACT))]
        if kind == "sty":
            return self.sty(i, 0)[2]
        return ("CTRP", "CDISC", "FDA", "NICHD")[int(r * 4)]


_DATE_COMPACT = tuple(f"20{y:02d}{m:02d}28" for y in range(2, 26) for m in (1, 3, 7, 10, 12))


def _variant(name: str, h: int) -> str:
    """Another atom's spelling of a concept name, in the styles found in MGCONSO."""
    style = h % 7
    if style == 0:
        return name.lower()
    if style == 1:
        return name.upper()
    if style == 2 and " " in name:
        words = name.split(" ")
        return f"{words[-1].capitalize()}, {' '.join(words[:-1])}"
    if style == 3:
        return f"{name} (disorder)"
    if style == 4:
        return f"{name}, NOS"
    if style == 5:
        initials = "".join(w[0] for w in name.replace("-", " ").split() if w[:1].isalpha())
        return initials.upper() or name
    return f"{name} {h % 9 + 1}"


_RowsFn = Callable[[_World, random.Random, int, _Fmt], Iterator[list[_Row] | _Text]]
