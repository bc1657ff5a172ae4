"""A tiny but complete MedGen release with planted answers, written file by file.

The generator draws plausible rows; these are chosen so every answer has a known value:
directions of MGREL, MTHU codes, CN ids, cardinalities, merge chains (and a cycle), negated
and inheritance phenotypes, a cycle in the hierarchy, a suppressed name.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

from py_load_medgen.release.files import FILES, FileSpec

N = "N"

CONCEPTS: list[tuple[str, ...]] = [
    ("C0000001", "Marfan syndrome", "OMIM", N),
    ("C0000002", "Arachnodactyly", "HPO", N),
    ("C0000003", "Autosomal dominant inheritance", "HPO", N),
    ("C0000004", "Tall stature", "HPO", N),
    ("C0000005", "Connective tissue disease", "MONDO", N),
    ("C0000006", "Heritable disorder", "MONDO", N),
    ("C0000007", "Loop disorder A", "NCI", N),
    ("C0000008", "Loop disorder B", "NCI", N),
    ("CN000010", "Marfanoid habitus syndrome", "GTR", N),
    ("C0000012", "Shared OMIM disease one", "OMIM", N),
    ("C0000013", "Shared OMIM disease two", "OMIM", N),
    ("C0000014", "Two OMIM disease", "OMIM", N),
    ("C0000015", "Suppressed concept", "OMIM", "Y"),
]

ROWS: dict[str, list[tuple[str, ...]]] = {
    "concepts": CONCEPTS,
    "concept_names": [
        # CUI TS STT ISPREF AUI SAUI SCUI SDUI SAB TTY CODE STR SUPPRESS
        (
            "C0000001",
            "P",
            "PF",
            "Y",
            "A0000001",
            "",
            "",
            "",
            "OMIM",
            "PT",
            "154700",
            "Marfan syndrome",
            N,
        ),
        (
            "C0000001",
            "S",
            "VO",
            "N",
            "A0000002",
            "",
            "",
            "",
            "OMIM",
            "ETAL",
            "MTHU000001",
            "Marfan syndrome, type X",
            N,
        ),
        (
            "C0000001",
            "S",
            "PF",
            "Y",
            "A0000003",
            "",
            "MONDO:0007947",
            "MONDO:0007947",
            "MONDO",
            "PT",
            "MONDO:0007947",
            "Marfan syndrome (MONDO)",
            N,
        ),
        (
            "C0000001",
            "S",
            "PF",
            "Y",
            "A0000004",
            "",
            "",
            "Orphanet_558",
            "ORDO",
            "PT",
            "Orphanet_558",
            "MFS",
            N,
        ),
        (
            "C0000001",
            "S",
            "PF",
            "Y",
            "A0000005",
            "",
            "",
            "C0000001",
            "MedGen",
            "PT",
            "C0000001",
            "Marfan's syndrome",
            N,
        ),
        (
            "C0000002",
            "P",
            "PF",
            "Y",
            "A0000006",
            "",
            "",
            "HP:0001166",
            "HPO",
            "PT",
            "HP:0001166",
            "Arachnodactyly",
            N,
        ),
        ("C0000004", "S", "PF", "Y", "A0000007", "", "", "", "OMIM", "PT", "", "Zebra fever", "Y"),
        (
            "C0000004",
            "P",
            "PF",
            "Y",
            "A0000008",
            "",
            "",
            "HP:0000098",
            "HPO",
            "PT",
            "HP:0000098",
            "Tall stature",
            N,
        ),
        (
            "CN000010",
            "P",
            "PF",
            "Y",
            "A0000009",
            "",
            "",
            "",
            "GTR",
            "PT",
            "CN000010",
            "Marfanoid habitus syndrome",
            N,
        ),
        (
            "C0000014",
            "P",
            "PF",
            "Y",
            "A0000010",
            "",
            "",
            "",
            "OMIM",
            "PT",
            "100001",
            "Two OMIM disease",
            "O",
        ),
    ],  # fmt: skip
    "definitions": [
        ("C0000001", "A disorder of connective tissue.\rIt affects the heart.", "GeneReviews", N),
        ("C0000001", "Suppressed text", "OMIM", "Y"),
    ],
    "relationships": [
        # CUI1 AUI1 STYPE1 REL CUI2 AUI2 RELA RUI SAB SL SUPPRESS ("CUI2 is the RELA of CUI1")
        (
            "C0000001",
            "A1",
            "AUI",
            "RO",
            "C0000003",
            "A3",
            "inheritance_type_of",
            "R01",
            "OMIM",
            "OMIM",
            N,
        ),
        (
            "C0000003",
            "A3",
            "AUI",
            "RO",
            "C0000013",
            "A13",
            "has_inheritance_type",
            "R02",
            "OMIM",
            "OMIM",
            N,
        ),
        (
            "C0000001",
            "A1",
            "AUI",
            "RO",
            "C0000002",
            "A2",
            "manifestation_of",
            "R03",
            "OMIM",
            "OMIM",
            N,
        ),
        (
            "C0000004",
            "A4",
            "AUI",
            "RO",
            "C0000001",
            "A1",
            "has_manifestation",
            "R04",
            "OMIM",
            "OMIM",
            N,
        ),
        (
            "C0000001",
            "A1",
            "AUI",
            "RO",
            "C0000012",
            "A12",
            "not_manifestation_of",
            "R05",
            "OMIM",
            "OMIM",
            N,
        ),
        ("C0000005", "A5", "SCUI", "CHD", "C0000001", "A1", "isa", "R06", "MONDO", "MONDO", N),
        (
            "C0000005",
            "A5",
            "SCUI",
            "PAR",
            "C0000006",
            "A6",
            "inverse_isa",
            "R07",
            "MONDO",
            "MONDO",
            N,
        ),
        ("C0000007", "A7", "SCUI", "CHD", "C0000008", "A8", "isa", "R08", "NCI", "NCI", N),
        ("C0000008", "A8", "SCUI", "CHD", "C0000007", "A7", "isa", "R09", "NCI", "NCI", N),
        ("C0000005", "A5", "SCUI", "CHD", "C0000014", "A14", "part_of", "R10", "NCI", "NCI", N),
        ("C0000006", "A6", "SCUI", "CHD", "C0000014", "A14", "", "R11", "MSH", "MSH", N),
        (
            "C0000001",
            "A1",
            "AUI",
            "RO",
            "C0000004",
            "A4",
            "inheritance_type_of",
            "R12",
            "OMIM",
            "OMIM",
            "O",
        ),
    ],  # fmt: skip
    "attributes": [("C0000001", "A0000001", "AUI", "154700", "AT1", "MIM", "OMIM", "154700", N)],
    "semantic_types": [
        ("C0000001", "T047", "B2.2.1.2.1", "Disease or Syndrome", "AT01"),
        ("C0000002", "T033", "A2.2", "Finding", "AT02"),
        ("C0000002", "T184", "A2.2.2", "Sign or Symptom", "AT03"),
        ("CN000010", "T019", "B2.3", "Congenital Abnormality", "AT04"),
    ],
    "merged_concepts": [("C0000020", "C0000021"), ("C0000030", "C0000031")],
    "source_links": [
        ("C0000001", "Marfan syndrome", "154700", "OMIM"),
        ("C0000001", "Marfan syndrome", "Orphanet_558", "Orphanet"),
        ("CN000010", "Marfanoid habitus syndrome", "154705", "OMIM"),
        ("C0000012", "Shared OMIM disease one", "600000", "OMIM"),
        ("C0000013", "Shared OMIM disease two", "600000", "OMIM"),
        ("C0000014", "Two OMIM disease", "100001", "OMIM"),
        ("C0000014", "Two OMIM disease", "100002", "OMIM"),
        ("C0000004", "Tall stature", "MTHU000099", "OMIM"),
    ],
    "hpo_mappings": [
        ("C0000002", "HP:0001166", "Arachnodactyly", "Arachnodactyly", "HPO", "Finding"),
        ("C0000002", "HP:0001166", "Arachnodactyly", "Arachnodactyly", "HPO", "Sign or Symptom"),
    ],
    "hpo_omim_mappings": [
        (
            "C0000001",
            "154700",
            "MARFAN SYNDROME",
            "",
            "C0000002",
            "HP:0001166",
            "Arachnodactyly",
            "Arachnodactyly",
            "HPO",
            "Finding",
        ),
        (
            "C0000001",
            "154700",
            "MARFAN SYNDROME",
            "",
            "C0000002",
            "HP:0001166",
            "Arachnodactyly",
            "Arachnodactyly",
            "HPO",
            "Sign or Symptom",
        ),
        (
            "C0000001",
            "154700",
            "MARFAN SYNDROME",
            "",
            "C0000003",
            "HP:0000006",
            "Autosomal dominant inheritance",
            "Autosomal dominant inheritance",
            "HPO",
            "Finding",
        ),
        (
            "C0000013",
            "600000",
            "SHARED TWO",
            "NOT",
            "C0000004",
            "HP:0000098",
            "Tall stature",
            "Tall stature",
            "HPO",
            "Finding",
        ),
    ],  # fmt: skip
    "pubmed_links": [
        ("1001", "C0000001", "Marfan syndrome", "11"),
        ("1001", "C0000001", "Marfan syndrome", "12"),
        ("1001", "C0000001", "Marfan syndrome", "13"),
        ("1004", "C0000002", "Arachnodactyly", "13"),
    ],
    "sources": [("Online Mendelian Inheritance in Man", "OMIM", "OMIM", "https://omim.org")],
    "uid_cui_history": [
        ("1001", "C0000001", "12 Jun 2019", "1"),
        ("1001", "C0000009", "01 Jan 2010", "0"),
        ("1002", "C0000020", "03 Feb 2015", "1"),
        ("1003", "C0000001", "04 Mar 2016", "0"),
    ],
    "cui_history": [
        ("C0000021", "C0000001", "05 Mar 2020"),
        ("C0000021", "C0000001", "01 Jan 2018"),
        ("C0000031", "C0000030", "06 Apr 2021"),
        ("C0000040", "", "07 May 2022"),
    ],
    "hpo_cui_history": [
        ("HP:0001166", "C0000002", "12 Jun 2019", "1"),
        ("HP:0000001", "C0000040", "13 Jun 2019", "0"),
    ],
    "mondo_cui_history": [("MONDO:0007947", "C0000001", "14 Jun 2019", "1")],
    "ordo_cui_history": [("Orphanet_558", "C0000021", "15 Jun 2019", "1")],
}

EXPECTED_XREFS = {
    # (cui, curie): (origin, cardinality)
    ("C0000001", "OMIM:154700"): ("MGCONSO.CODE,MedGenIDMappings", "1:1"),
    ("C0000001", "ORPHA:558"): ("MGCONSO.CODE,MGCONSO.SDUI,MedGenIDMappings", "1:1"),
    ("C0000001", "MONDO:0007947"): ("MGCONSO.CODE,MGCONSO.SDUI", "1:1"),
    ("C0000002", "HP:0001166"): ("MGCONSO.CODE,MGCONSO.SDUI", "1:1"),
    ("C0000004", "HP:0000098"): ("MGCONSO.CODE,MGCONSO.SDUI", "1:1"),
    ("CN000010", "OMIM:154705"): ("MedGenIDMappings", "1:1"),
    ("C0000012", "OMIM:600000"): ("MedGenIDMappings", "n:1"),
    ("C0000013", "OMIM:600000"): ("MedGenIDMappings", "n:1"),
    ("C0000014", "OMIM:100001"): ("MedGenIDMappings", "1:n"),
    ("C0000014", "OMIM:100002"): ("MedGenIDMappings", "1:n"),
}


def write_release(directory: Path, rows: dict[str, list[tuple[str, ...]]] | None = None) -> Path:
    """Every file of a release under ``directory``, with ``rows`` (default: ROWS)."""
    data = ROWS if rows is None else rows
    directory.mkdir(parents=True, exist_ok=True)
    for spec in FILES:
        _write(directory / spec.name, spec, data.get(spec.table, []))
    return directory


def _write(path: Path, spec: FileSpec, rows: Sequence[tuple[str, ...]]) -> None:
    delimiter = spec.delimiter
    end = delimiter if spec.trailing_delimiter else ""
    header = "#" + delimiter.join(c.source for c in spec.columns) + end
    lines = [header] + [delimiter.join(row) + end for row in rows]
    for row in rows:
        assert len(row) == len(spec.columns), (spec.table, row)
    payload = ("\n".join(lines) + "\n").encode()
    if spec.compressed:
        path.write_bytes(gzip.compress(payload, mtime=1_700_000_000))
    else:
        path.write_bytes(payload)
