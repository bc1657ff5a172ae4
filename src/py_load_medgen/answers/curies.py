"""Identifiers as people and other resources write them, and the one normal form we store.

MedGen serves ids in several shapes (``Orphanet_558`` in MGCONSO, ``558`` or ``Orphanet_558`` in
MedGenIDMappings, OMIM numbers bare, HPO ids with their prefix). Everything this package
answers uses one CURIE per id: ``OMIM:154700``, ``ORPHA:558``, ``MONDO:0007947``, ``HP:0001250``,
``MESH:D008382``, ``SNOMEDCT:19346006``, ``NCIT:C3380``. A concept id is ``UMLS:C0024796``
when it came from UMLS and ``MEDGEN:CN123456`` when NCBI made it: UMLS has never heard of a
``CN`` id. OMIM's ``MTHU…`` codes were made up by UMLS for rows that have no MIM number and are
dropped. The same rules exist twice, once in Python (for the ids people type) and once as SQL
(for the ids in the tables); ``tests/unit/test_answers_sql.py`` checks they agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # canonical prefix: (source names and SABs that carry it, served prefixes to strip)
    "OMIM": (("OMIM", "MIM"), ("OMIM:", "MIM:")),
    "ORPHA": (("ORPHANET", "ORDO"), ("ORPHANET_", "ORPHA:", "ORPHANET:", "ORDO:")),
    "MONDO": (("MONDO",), ("MONDO:",)),
    "HP": (("HPO", "HP"), ("HP:", "HPO:")),
    "MESH": (("MESH", "MSH"), ("MESH:", "MSH:")),
    "SNOMEDCT": (("SNOMEDCT_US", "SNOMEDCT", "SNOMED CT"), ("SNOMEDCT:", "SNOMEDCT_US:")),
    "NCIT": (("NCI", "NCIT"), ("NCIT:", "NCI:")),
    "MEDLINEPLUS": (("MEDLINEPLUS",), ("MEDLINEPLUS:",)),
}
"""The sources whose ids become xrefs. MGCONSO atoms of any other SAB are not mapped: their
CODE is the CUI itself or an id with no settled CURIE prefix."""

PADDED = {"HP": 7, "MONDO": 7}
"""Prefixes whose local ids have a fixed width (a bare ``1250`` is ``HP:0001250``)."""

CURIE_MAP: dict[str, str] = {
    "UMLS": "https://uts.nlm.nih.gov/uts/umls/concept/",
    "MEDGEN": "https://www.ncbi.nlm.nih.gov/medgen/",
    "OMIM": "https://omim.org/entry/",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
    "HP": "http://purl.obolibrary.org/obo/HP_",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "SNOMEDCT": "http://snomed.info/id/",
    "NCIT": "http://purl.obolibrary.org/obo/NCIT_",
    "MEDLINEPLUS": "https://medlineplus.gov/",
    "PMID": "http://www.ncbi.nlm.nih.gov/pubmed/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
    "biolink": "https://w3id.org/biolink/vocab/",
    "RO": "http://purl.obolibrary.org/obo/RO_",
}
"""Expansions of every prefix the exports write (the SSSOM ``curie_map``)."""

CUI = re.compile(r"^(?:C\d{7}|CN\d+)$")
CURIE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*:[^\s:][^\s]*$")
_PREFIXED = re.compile(r"^([A-Za-z][A-Za-z0-9_ ]*):(\S+)$")
_ORPHANET = re.compile(r"^Orphanet_(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Id:
    """An id someone typed, in the form the tables store."""

    text: str
    kind: str
    """``cui``, ``uid`` or ``curie``."""
    key: str
    """A CUI (``C0024796``, ``CN123``), a UID's digits, or a CURIE (``OMIM:154700``)."""


def cui_curie(cui: str) -> str:
    """A concept id as a CURIE: ``MEDGEN:`` for NCBI-made ``CN`` ids, ``UMLS:`` otherwise."""
    return f"MEDGEN:{cui}" if cui.startswith("CN") else f"UMLS:{cui}"


def parse_id(text: str) -> Id | None:
    """The id ``text`` names, or None when it is not an id (free text, for a name search)."""
    value = text.strip()
    if CUI.match(value):
        return Id(text, "cui", value)
    if value.isdigit():
        return Id(text, "uid", str(int(value)))
    orphanet = _ORPHANET.match(value)
    if orphanet:
        return Id(text, "curie", f"ORPHA:{orphanet.group(1)}")
    match = _PREFIXED.match(value)
    if not match:
        return None
    prefix, local = match.group(1).upper(), match.group(2)
    if prefix in ("UMLS", "MEDGEN", "MEDGENCUI") and CUI.match(local.upper()):
        return Id(text, "cui", local.upper())
    if prefix in ("MEDGEN", "MEDGENUID") and local.isdigit():
        return Id(text, "uid", str(int(local)))
    if prefix in ("ORPHA", "ORPHANET", "ORDO"):
        return Id(text, "curie", f"ORPHA:{local}") if local.isdigit() else None
    for canonical, (sources, _strip) in PREFIXES.items():
        if prefix == canonical or prefix in sources:
            if canonical == "OMIM" and local.upper().startswith("MTHU"):
                return None
            if canonical in PADDED and local.isdigit():
                local = local.zfill(PADDED[canonical])
            if canonical in ("NCIT", "MESH"):
                local = local.upper()
            return Id(text, "curie", f"{canonical}:{local}")
    return None


# -- the same rules as SQL ---------------------------------------------------------------------


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _strip(expr: str, prefixes: tuple[str, ...]) -> str:
    """``expr`` without the first of ``prefixes`` it starts with (compared upper-case)."""
    out = expr
    for prefix in reversed(prefixes):
        n = len(prefix)
        out = (
            f"CASE WHEN upper(left({expr}, {n})) = {_lit(prefix)} "
            f"THEN substr({expr}, {n + 1}) ELSE {out} END"
        )
    return out


def curie_sql(source: str, ident: str, *, regex: str) -> str:
    """SQL for the CURIE of id ``ident`` served by source ``source`` (both SQL expressions).

    NULL when the id is empty, a UMLS-made OMIM code, or from a source without a prefix.
    ``regex`` formats ``{column}`` and ``{pattern}`` into the dialect's regular-expression
    test (patterns are anchored). A simple ``CASE upper(source) WHEN …`` evaluates the source
    once per row: this runs over every MGCONSO atom inside the publishing transaction.
    """
    cn = regex.format(column=ident, pattern=_lit("^CN[0-9]+$"))
    cui = regex.format(column=ident, pattern=_lit("^C[0-9]{7}$"))
    whens = [
        f"WHEN {_lit(s)} THEN CASE WHEN {cui} THEN 'UMLS:' || {ident} END" for s in ("UMLS", "MTH")
    ]
    for canonical, (sources, strip) in PREFIXES.items():
        local = _strip(ident, strip)
        if canonical in PADDED:
            digits = regex.format(column=local, pattern=_lit("^[0-9]+$"))
            width = PADDED[canonical]
            local = f"CASE WHEN {digits} THEN lpad({local}, {width}, '0') ELSE {local} END"
        elif canonical in ("NCIT", "MESH"):
            local = f"upper({local})"
        for name in sources:
            whens.append(f"WHEN {_lit(name)} THEN {_lit(canonical + ':')} || {local}")
    return (
        f"CASE WHEN {ident} IS NULL OR {ident} = '' OR upper(left({ident}, 4)) = 'MTHU' "
        f"THEN NULL WHEN {cn} THEN 'MEDGEN:' || {ident} "
        f"ELSE CASE upper({source}) {' '.join(whens)} END END"
    )
