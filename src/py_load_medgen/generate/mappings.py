"""Row rules of the mapping and link files: ids, HPO, HPO-OMIM, PubMed, sources."""

from __future__ import annotations

import random
from collections.abc import Iterator

from py_load_medgen.generate.base import _Fmt, _groups, _Row, _Text
from py_load_medgen.generate.vocabulary import _LINK_SOURCES, _SOURCES
from py_load_medgen.generate.world import _variant, _World


def _source_links(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    for i, count in _groups(rng, rows, w.n, 2.1):
        cui, name = w.cui(i), w.name(i)
        base = w.h(i) >> 12
        group: list[_Row] = []
        for k in range(count):
            if k >= len(_LINK_SOURCES):
                # Past one id per source, further links are OMIM allelic variants, which keeps
                # this file free of exact duplicates as NCBI's is.
                group.append((cui, name, f"{w.mim(i)}.{k:04d}", "OMIM"))
                continue
            source = _LINK_SOURCES[(base + k) % len(_LINK_SOURCES)]
            if source == "Orphanet":
                ident = w.orpha(i)
            elif source == "MeSH":
                ident = w.code(i, "MSH")
            else:
                ident = w.code(i, source)
            group.append((cui, name, ident, source))
        yield group


def _hpo_mappings(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    for i, count in _groups(rng, rows, w.n, 1.05):
        cui, name = w.cui(i), w.name(i)
        hpo_str = name if rand() < 0.7 else _variant(name, w.h(i))
        group: list[_Row] = []
        for k in range(count):
            group.append((cui, w.hp(i), hpo_str, name, w.source(i), w.sty(i, k)[2]))
        yield group


def _hpo_omim(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    rand = rng.random
    n = w.n
    need_dup = True
    for i, count in _groups(rng, rows, n, 26.0):
        omim_cui, mim, omim_name = w.cui(i), w.mim(i), w.name(i).upper()
        group: list[_Row] = []
        while len(group) < count:
            j = int(rand() * n)
            relationship = "" if rand() < 0.85 else ("NOT", "frequent", "occasional")[j % 3]
            feature = w.name(j)
            row = (
                omim_cui, mim, omim_name, relationship, w.cui(j), w.hp(j), feature, feature,
                w.source(j), w.sty(j, 0)[2],
            )  # fmt: skip
            group.append(row)
            # The file repeats a mapping once per semantic type of the feature...
            if len(group) < count and rand() < 0.15:
                group.append((*row[:-1], w.sty(j, 1)[2]))
            # ...and also has plain exact duplicates.
            if len(group) < count and (need_dup or rand() < 0.005):
                group.append(row)
                need_dup = False
        yield group


_PMID_POOL = 1 << 16


def _pubmed_links(
    w: _World, rng: random.Random, rows: int, fmt: _Fmt
) -> Iterator[list[_Row] | _Text]:
    rand = rng.random
    # Drawing a PMID per row would dominate the run time at 48 M rows: slices of a shuffled
    # pool give distinct PMIDs within a concept at the cost of one draw per concept.
    pmids = [str(int(rand() * 40_000_000) + 1) for _ in range(_PMID_POOL)]
    pmids += pmids
    # Whole lines are rendered here when the column order allows: ~85 % of a release's rows
    # are PubMed links, and one C-level join per concept is the difference that matters.
    # Bytes, not str: one non-Latin-1 name makes a whole str batch four bytes per character,
    # and encoding, counting and joining it then cost more than generating it.
    tails = [(p + fmt.end).encode() for p in pmids] if fmt.native else []
    sep = fmt.sep
    bsep = sep.encode()
    need_dup = True
    for i, count in _groups(rng, rows, w.n, 500.0):
        uid, cui, name = str(w.uid(i)), w.cui(i), w.name(i)
        start = int(rand() * _PMID_POOL)
        dup = count >= 2 and (need_dup or rand() < 0.02)
        need_dup = need_dup and not dup
        spans = [(start, min(count - done, _PMID_POOL)) for done in range(0, count, _PMID_POOL)]
        if fmt.native:
            prefix = f"{uid}{sep}{cui}{sep}{name}{sep}".encode()
            if prefix.count(bsep) != 3 or b"\n" in prefix:
                raise RuntimeError(f"pubmed_links: a value of {cui} contains {sep!r} or LF")
            if len(spans) == 1 and not dup:
                # prefix + "p1|\n" + prefix + "p2|\n" ...: one C-level join per concept.
                yield _Text(prefix + prefix.join(tails[start : start + count]), count)
                continue
            lines = [prefix + tail for s, take in spans for tail in tails[s : s + take]]
            if dup:
                lines[-1] = lines[0]
            yield _Text(b"".join(lines), count)
        else:
            group: list[_Row] = [
                (uid, cui, name, p) for s, take in spans for p in pmids[s : s + take]
            ]
            if dup:
                group[-1] = group[0]
            yield group


def _sources(w: _World, rng: random.Random, rows: int, fmt: _Fmt) -> Iterator[list[_Row]]:
    group: list[_Row] = list(_SOURCES[:rows])
    for k in range(len(group), rows):
        url = f"https://example.org/gtr/submitter/{k}" if k % 3 else ""
        group.append((f"Submitter {k}'s contributed terms", f"SRC{k:04d}", "Terms from GTR", url))
    yield group
