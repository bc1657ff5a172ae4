"""Synthetic MedGen releases for tests and benchmarks.

``generate_release`` writes a release with the layout, size and quirks of NCBI's files;
``derive_release`` turns an existing release (generated or genuine) into "next week's build"
with a known amount of churn, so delta loads can be checked against exact expected counts.

The file layouts come from :mod:`py_load_medgen.release.files` (headers, delimiters, trailing
delimiters, natural keys, sizes); this module only knows how to invent plausible values for
each column. Everything is a pure function of the arguments: the same call writes the same
bytes, and a table's file does not depend on which other tables were asked for.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import hashlib
import io
import itertools
import math
import os
import random
import re
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, TypeVar, cast

from py_load_medgen.release.files import BY_TABLE, FILES, ColumnType, FileSpec, spec_for_file

__all__ = ["BUILD_TIME", "derive_release", "generate_release"]

BUILD_TIME = 1_767_803_400
"""Default gzip MTIME: Wednesday 2026-01-07 16:30 UTC, NCBI's usual weekly build slot."""

_MIN_ROWS = 20
# Up to this many concepts (scale ~2) their CUIs and names are kept in memory (~80 MB at most);
# above it they are recomputed on every use, so memory stays bounded at any scale.
_CACHE_CONCEPTS = 500_000
# Rows handed to zlib at once: large enough that the join/encode/compress calls dominate the
# per-batch Python overhead, small enough to keep memory flat at any scale.
_BATCH = 32_768
_READ_SIZE = 1 << 20
_WEEK = 7 * 24 * 3600
_M64 = (1 << 64) - 1

_Row = tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Deterministic building blocks


def _mix(x: int) -> int:
    """splitmix64 finaliser: well-spread 64-bit salts and offsets from small integers."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class _Perm:
    """A bijection ``j -> lo + (j * step + off) mod span``: unique ids without a seen-set."""

    lo: int
    span: int
    step: int
    off: int

    def __call__(self, j: int) -> int:
        return self.lo + (j * self.step + self.off) % self.span


def _perm(lo: int, span: int, count: int, salt: int) -> _Perm:
    span = max(span, count, 1)
    # A golden-ratio stride scatters consecutive rows across the range (ids do not look
    # sequential) while staying a bijection as long as it is coprime with the span.
    step = max(1, int(span * 0.6180339887)) | 1
    while math.gcd(step, span) != 1:
        step += 2
    return _Perm(lo, span, step, _mix(salt) % span)


def _rng(*parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by random.seed: stable across runs and platforms,
    # unlike hash(). Not for cryptography: these are test data.
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """An expanded table so a weighted choice costs one random() and one index."""
    return tuple(value for value, weight in pairs for _ in range(weight))


def _groups(rng: random.Random, rows: int, n: int, mean: float) -> Iterator[tuple[int, int]]:
    """Split ``rows`` rows into groups of rows sharing one CUI index, in CUI order.

    Group sizes are skewed (1 + exponential), as in the real files where some concepts have
    one row and a few have thousands, yet they always add up to exactly ``rows``: each draw
    aims at the mean of what is left, so the total self-corrects without any lookahead.
    """
    groups = max(1, min(n, rows, round(rows / mean)))
    left = rows
    rand = rng.random
    expo = rng.expovariate
    for g in range(groups):
        lo = g * n // groups
        hi = (g + 1) * n // groups
        index = lo + int(rand() * (hi - lo))
        remaining = groups - g
        if remaining == 1:
            count = left
        else:
            avg = left / remaining
            count = 1 + int(expo(1.0 / (avg - 1.0))) if avg > 1.000001 else 1
            count = min(count, left - (remaining - 1))
        left -= count
        yield index, count


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date_strings() -> tuple[str, ...]:
    first = _dt.date(2012, 1, 1).toordinal()
    last = _dt.date(2025, 12, 31).toordinal()
    out = []
    for ordinal in range(first, last + 1):
        d = _dt.date.fromordinal(ordinal)
        # Month names spelled out here: strftime("%b") follows the locale.
        out.append(f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}")
    return tuple(out)


_DATES = _date_strings()

# ---------------------------------------------------------------------------------------------
# Vocabulary. Names with apostrophes, quotes, backslashes and TABs exist in NCBI's pipe files
# (or are the characters that break naive CSV/COPY handling); they are only ever used in
# pipe-delimited files, never in the TAB-delimited history files.

_EPONYMS = (
    "Alström", "Angelman", "Bardet-Biedl", "Bartter", "Beckwith-Wiedemann", "Chédiak-Higashi",
    "Charcot-Marie-Tooth", "Cockayne", "Cornelia de Lange", "Crouzon", "Dandy-Walker",
    "Ehlers-Danlos", "Fanconi", "Gaucher", "Gitelman", "Hirschsprung", "Joubert", "Kabuki",
    "Kallmann", "Leigh", "Li-Fraumeni", "Löfgren", "Marfan", "Marinesco-Sjögren", "Ménétrier",
    "Meckel-Gruber", "Noonan", "Papillon-Lefèvre", "Pelger-Huët", "Pfeiffer", "Prader-Willi",
    "Rett", "Sjögren", "Smith-Lemli-Opitz", "Stargardt", "Stüve-Wiedemann", "Treacher Collins",
    "Usher", "Waardenburg", "Wolf-Hirschhorn", "Zellweger", "Sézary", "Krabbe", "Niemann-Pick",
    "Tay-Sachs", "Wilson", "Alport", "Canavan", "Béclard", "Müller",
)  # fmt: skip
_NOUNS = (
    "syndrome", "disease", "anomaly", "dysplasia", "myopathy", "neuropathy", "cardiomyopathy",
    "ataxia", "muscular dystrophy", "deficiency", "encephalopathy", "nephropathy",
    "retinopathy", "leukodystrophy", "epilepsy", "hypoplasia", "cancer", "carcinoma",
    "lymphoma", "anemia", "hearing loss", "intellectual disability", "cataract",
)  # fmt: skip
_QUALIFIERS = (
    "Congenital", "Familial", "Hereditary", "Progressive", "Autosomal recessive",
    "Autosomal dominant", "X-linked", "Early-onset", "Juvenile", "Infantile", "Severe",
    "Isolated", "Generalized", "Focal", "Primary", "Neonatal", "Adult-onset", "Atypical",
    "Spinocerebellar", "Dilated", "Hypertrophic", "Sensorineural",
)  # fmt: skip
_ORGANS = (
    "abdomen", "kidney", "liver", "heart", "lung", "retina", "cerebellum", "skin", "bone",
    "thyroid", "pancreas", "skeletal muscle", "optic nerve", "cornea", "inner ear",
    "spinal cord", "aorta", "adrenal gland", "hand", "foot", "palate", "teeth", "hair", "nail",
    "corpus callosum", "femur", "eyelid", "mitral valve",
)  # fmt: skip
_FINDINGS = (
    "Abnormality of the {}", "Hypoplasia of the {}", "Aplasia of the {}", "Neoplasm of {}",
    "Abnormal {} morphology", "Cyst of {}", "Malformation of the {}", "Enlarged {}",
    "Agenesis of the {}", "Dysplasia of the {}",
)  # fmt: skip
_GENES = (
    "BRCA1", "BRCA2", "CFTR", "FBN1", "MECP2", "SCN1A", "COL1A1", "COL4A5", "PAH", "GBA1",
    "HEXA", "TP53", "MYH7", "LMNA", "DMD", "PKD1", "RET", "FGFR3", "KCNQ1", "NF1", "TTN",
    "ATP7B", "SMN1", "HBB", "GJB2",
)  # fmt: skip
_GREEK = (
    "α-Thalassemia",  # noqa: RUF001
    "β-Thalassemia",
    "α-Mannosidosis",  # noqa: RUF001
    "β-Ketothiolase deficiency",
    "γ-Glutamylcysteine synthetase deficiency",  # noqa: RUF001
    "δ-Storage pool disease",
    "κ Light chain deficiency",
    "Δ4-3-oxosteroid 5β-reductase deficiency",
)
_ODD_NAMES = (
    "Peau d'orange",
    "O'nyong'nyong fever",
    'Drug not collected - "too expensive"',
    "Mosaic 45,X\\46,XX",
    "Hypoplasia of the\tfemur",
    '"Happy puppet" syndrome',
    "Deletion 9p\\",
    "Sensation 'as if ...'",
    "Agonadism, 46,XY, with intellectual disability, short stature, retarded bone age",
    "HNSHA due to pyrimidine-5'-nucleotidase deficiency",
    'Crohn\'s disease, "pediatric"',
    "Stool like rabbit's",
)
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")

_STYS = (
    ("T047", "B2.2.1.2.1", "Disease or Syndrome"),
    ("T033", "A2.2", "Finding"),
    ("T019", "A1.2.2.1", "Congenital Abnormality"),
    ("T191", "B2.2.1.2.1.2", "Neoplastic Process"),
    ("T184", "A2.2.2", "Sign or Symptom"),
    ("T028", "A1.2.3.5", "Gene or Genome"),
    ("T116", "A1.4.1.2.1.7", "Amino Acid, Peptide, or Protein"),
    ("T034", "A2.2.1", "Laboratory or Test Result"),
    ("T048", "B2.2.1.2.1.1", "Mental or Behavioral Dysfunction"),
    ("T046", "B2.2.1.2", "Pathologic Function"),
    ("T049", "B2.2.1.2.2", "Cell or Molecular Dysfunction"),
    ("T037", "B2.3", "Injury or Poisoning"),
    ("T190", "A1.2.2", "Anatomical Abnormality"),
    ("T061", "B1.3.1.3", "Therapeutic or Preventive Procedure"),
    ("T023", "A1.2.3.1", "Body Part, Organ, or Organ Component"),
    ("T201", "A2.3", "Clinical Attribute"),
    ("T114", "A1.4.1.2.1.5", "Nucleic Acid, Nucleoside, or Nucleotide"),
    ("T032", "A2.1.1", "Organism Attribute"),
    ("T045", "A2.2.2.1", "Genetic Function"),
)

_CONCEPT_SOURCES = _weighted(
    [("SNOMEDCT_US", 430), ("GTR", 210), ("NCI", 190), ("OMIM", 150), ("MSH", 15), ("ORDO", 3),
     ("HPO", 2)]
)  # fmt: skip
_ATOM_SABS = _weighted(
    [("SNOMEDCT_US", 25), ("NCI", 15), ("MSH", 12), ("OMIM", 12), ("HPO", 12), ("ORDO", 8),
     ("MONDO", 10), ("GTR", 4), ("MEDLINEPLUS", 2)]
)  # fmt: skip
_TTYS = {
    "SNOMEDCT_US": ("PT", "SY", "FN"),
    "NCI": ("PT", "SY"),
    "MSH": ("MH", "ET", "PM", "NM"),
    "OMIM": ("PT", "ETAL", "PHENO", "ACR"),
    "HPO": ("PT", "SY", "ET"),
    "ORDO": ("PT", "SY"),
    "MONDO": ("PT", "SY"),
    "GTR": ("PT", "SY", "AB"),
    "MEDLINEPLUS": ("PT", "SY"),
}
_STTS = ("PF", "PF", "VO", "VC", "VW")
_SUPPRESS = _weighted([("N", 950), ("Y", 30), ("O", 15), ("E", 5)])

# (STYPE1, REL, RELA, SAB) in roughly the proportions of a genuine MGREL.
_REL_TEMPLATES = tuple(
    template
    for template, weight in (
        (("AUI", "RO", "manifestation_of", "OMIM"), 70),
        (("AUI", "RO", "has_manifestation", "OMIM"), 30),
        (("AUI", "RO", "inheritance_type_of", "OMIM"), 15),
        (("SCUI", "RO", "is_finding_of_disease", "NCI"), 40),
        (("SCUI", "RO", "is_not_finding_of_disease", "NCI"), 22),
        (("SCUI", "RO", "may_be_finding_of_disease", "NCI"), 11),
        (("SCUI", "RO", "may_be_molecular_abnormality_of_disease", "NCI"), 7),
        (("SCUI", "RO", "may_be_cytogenetic_abnormality_of_disease", "NCI"), 9),
        (("AUI", "CHD", "part_of", "ORDO"), 90),
        (("CUI", "RO", "manifestation_of", "HPO"), 75),
        (("SCUI", "PAR", "inverse_isa", "NCI"), 31),
        (("SCUI", "CHD", "isa", "NCI"), 15),
        (("AUI", "PAR", "inverse_isa", "HPO"), 14),
        (("AUI", "CHD", "isa", "HPO"), 10),
        (("AUI", "SY", "expanded_form_of", "OMIM"), 4),
        (("AUI", "SY", "has_expanded_form", "OMIM"), 4),
        (("AUI", "SY", "permuted_term_of", "MSH"), 4),
        (("AUI", "SY", "has_permuted_term", "MSH"), 4),
        (("AUI", "CHD", "isa", "GTR"), 4),
        (("AUI", "RQ", "related_to", "OMIM"), 3),
        (("SCUI", "RB", "has_clinical_course", "MSH"), 2),
        (("AUI", "RO", "gene_product_sequence_variation_encoded_by_gene_mutant", "NCI"), 2),
    )
    for _ in range(weight)
)

# (SAB, STYPE, ATN, kind of value) for MGSAT rows.
_SAT_TEMPLATES = (
    ("OMIM", "AUI", "MIMTYPEMEANING", "mimtype"),
    ("OMIM", "AUI", "MIMTYPE", "digit"),
    ("OMIM", "SCUI", "SOS", "text"),
    ("HPO", "AUI", "HPO_COMMENT", "text"),
    ("HPO", "CUI", "HPO_XREF", "xref"),
    ("ORDO", "SDUI", "ORPHA_PREVALENCE", "prevalence"),
    ("GTR", "CUI", "MODE_OF_INHERITANCE", "moi"),
    ("GTR", "CUI", "GENE", "gene"),
    ("MSH", "SDUI", "MN", "treenum"),
    ("MSH", "SDUI", "DC", "digit"),
    ("SNOMEDCT_US", "AUI", "CTV3ID", "ctv3"),
    ("SNOMEDCT_US", "AUI", "EFFECTIVE_TIME", "yyyymmdd"),
    ("SNOMEDCT_US", "AUI", "ACTIVE", "digit"),
    ("NCI", "SCUI", "Semantic_Type", "sty"),
    ("NCI", "SCUI", "Contributing_Source", "contrib"),
    ("NCI", "SCUI", "DEFINITION", "text"),
)
_MOIS = (
    "Autosomal recessive inheritance",
    "Autosomal dominant inheritance",
    "X-linked recessive inheritance",
    "Mitochondrial inheritance",
    "Somatic mutation",
)
_MIMTYPES = (
    "Phenotype description, molecular basis known",
    "Gene description",
    "Phenotype description or locus, molecular basis unknown",
)
_DEF_SOURCES = (
    "Genetics Home Reference",
    "NCI",
    "MSH",
    "HPO",
    "OMIM",
    "GeneReviews",
    "ORDO",
    "MONDO",
    "MedlinePlus Genetics",
    "SNOMED CT",
)
_LINK_SOURCES = ("OMIM", "Orphanet", "HPO", "MONDO", "MeSH", "SNOMEDCT_US", "NCI")

# (Source, Abbreviation, Description, URL): a URL is sometimes missing in the real file.
_SOURCES: tuple[tuple[str, str, str, str], ...] = (
    (
        "Genetic Testing Registry",
        "GTR",
        "NCBI's registry of genetic tests and the conditions they test for",
        "https://www.ncbi.nlm.nih.gov/gtr/",
    ),
    (
        "Online Mendelian Inheritance in Man",
        "OMIM",
        "Catalog of human genes and genetic disorders",
        "https://omim.org/",
    ),
    (
        "Human Phenotype Ontology",
        "HPO",
        "Standardized vocabulary of phenotypic abnormalities",
        "https://hpo.jax.org/",
    ),
    (
        "Orphanet Rare Disease Ontology",
        "ORDO",
        "Orphanet's structured vocabulary for rare diseases",
        "https://www.orphadata.com/",
    ),
    (
        "Mondo Disease Ontology",
        "MONDO",
        "A unified disease ontology harmonizing several sources",
        "https://mondo.monarchinitiative.org/",
    ),
    (
        "NCI Thesaurus",
        "NCI",
        "National Cancer Institute's reference terminology",
        "https://ncit.nci.nih.gov/",
    ),
    (
        "SNOMED CT, US Edition",
        "SNOMEDCT_US",
        "Systematized Nomenclature of Medicine - Clinical Terms",
        "https://www.nlm.nih.gov/healthit/snomedct/",
    ),
    (
        "Medical Subject Headings",
        "MSH",
        'NLM\'s controlled vocabulary for indexing "MEDLINE"',
        "https://www.nlm.nih.gov/mesh/",
    ),
    (
        "MedlinePlus Health Topics",
        "MEDLINEPLUS",
        "Consumer health information",
        "https://medlineplus.gov/",
    ),
    (
        "GeneReviews",
        "GeneReviews",
        "Expert-authored disease descriptions",
        "https://www.ncbi.nlm.nih.gov/books/NBK1116/",
    ),
    (
        "Genetics Home Reference",
        "GHR",
        "Consumer information about genetic conditions (now MedlinePlus Genetics)",
        "",
    ),
    (
        "ClinVar",
        "ClinVar",
        "Relationships among human variations and phenotypes",
        "https://www.ncbi.nlm.nih.gov/clinvar/",
    ),
    (
        "UMLS Metathesaurus",
        "MTH",
        "Concepts and names created by the UMLS editors",
        "https://www.nlm.nih.gov/research/umls/",
    ),
    (
        "Medical Genetics Summaries",
        "MGS",
        "NCBI's summaries of pharmacogenetic and other tests",
        "",
    ),
    (
        "American College of Medical Genetics and Genomics",
        "ACMG",
        "ACT sheets and practice guidelines",
        "https://www.acmg.net/",
    ),
    (
        "Clinical Pharmacogenetics Implementation Consortium",
        "CPIC",
        "Gene/drug clinical practice guidelines",
        "https://cpicpgx.org/",
    ),
    (
        "Disease Ontology",
        "DOID",
        "Human disease ontology",
        "https://disease-ontology.org/",
    ),
    (
        "Gene Ontology",
        "GO",
        "Functions of genes and gene products",
        "http://geneontology.org/",
    ),
    (
        "International Classification of Diseases, Tenth Revision, Clinical Modification",
        "ICD10CM",
        "US clinical modification of ICD-10",
        "",
    ),
    (
        "Logical Observation Identifiers Names and Codes",
        "LNC",
        "Laboratory and clinical observations",
        "https://loinc.org/",
    ),
    (
        "European Molecular Genetics Quality Network",
        "EMQN",
        "Best practice guidelines",
        "https://www.emqn.org/",
    ),
    (
        "PharmGKB",
        "PharmGKB",
        "Pharmacogenomics knowledge base",
        "https://www.pharmgkb.org/",
    ),
    (
        "Newborn Screening Coding and Terminology Guide",
        "NBSTRN",
        "Terms used in newborn screening",
        "",
    ),
    (
        "UniProtKB/Swiss-Prot",
        "UniProtKB",
        "Curated protein sequence database",
        "https://www.uniprot.org/",
    ),
    (
        "Office of Rare Diseases Research",
        "ORDR",
        "NIH's Genetic and Rare Diseases Information Center",
        "",
    ),
)


# ---------------------------------------------------------------------------------------------
# The world: every fact several files must agree on (CUIs, names, UIDs, ontology ids) is a pure
# function of a concept's index in the CUI pool, so no file needs another file's content.


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


# ---------------------------------------------------------------------------------------------
# One row rule per table: the spec column names it produces (in its own order; the writer maps
# them onto the spec's order) and a generator of row groups. Per-row work is kept to a few
# random draws: columns that do not depend on the concept come from a pool of pre-drawn
# fragments, so one draw fills several columns.


class _Fmt(NamedTuple):
    sep: str
    end: str
    native: bool
    """The rule's column order is the spec's: the rule may render whole lines itself."""


class _Text(NamedTuple):
    """Rendered UTF-8 lines (each ending with the line end) and how many there are."""

    data: bytes
    rows: int


_RowsFn = Callable[[_World, random.Random, int, _Fmt], Iterator[list[_Row] | _Text]]
_T = TypeVar("_T")

_FRAGMENTS = 2048


def _pool(size: int, make: Callable[[], _T]) -> tuple[_T, ...]:
    return tuple(make() for _ in range(size))


def _aui_like(rand: Callable[[], float]) -> str:
    if rand() < 0.15:
        return f"AN{int(rand() * 2_000_000):07d}"
    return f"A{1_000_000 + int(rand() * 44_000_000)}"


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


@dataclass(frozen=True)
class _Rule:
    columns: tuple[str, ...]
    rows: _RowsFn


_HISTORY_COLUMNS = ("cui", "date", "is_current")
_RULES: dict[str, _Rule] = {
    "concepts": _Rule(("cui", "preferred_name", "source", "suppress"), _concepts),
    "concept_names": _Rule(
        (
            "cui",
            "ts",
            "stt",
            "ispref",
            "aui",
            "saui",
            "scui",
            "sdui",
            "sab",
            "tty",
            "code",
            "str",
            "suppress",
        ),
        _concept_names,
    ),  # fmt: skip
    "definitions": _Rule(("cui", "definition", "source", "suppress"), _definitions),
    "relationships": _Rule(
        ("cui1", "aui1", "stype1", "rel", "cui2", "aui2", "rela", "rui", "sab", "sl", "suppress"),
        _relationships,
    ),  # fmt: skip
    "attributes": _Rule(
        ("cui", "metaui", "stype", "code", "atui", "atn", "sab", "atv", "suppress"), _attributes
    ),
    "semantic_types": _Rule(("cui", "tui", "stn", "sty", "atui"), _semantic_types),
    "merged_concepts": _Rule(("cui", "to_cui"), _merged),
    "source_links": _Rule(("cui", "pref_name", "source_id", "source"), _source_links),
    "hpo_mappings": _Rule(
        ("cui", "sdui", "hpo_str", "medgen_str", "medgen_str_sab", "sty"), _hpo_mappings
    ),
    "hpo_omim_mappings": _Rule(
        (
            "omim_cui",
            "mim_number",
            "omim_name",
            "relationship",
            "hpo_cui",
            "hpo_id",
            "hpo_name",
            "medgen_name",
            "medgen_source",
            "sty",
        ),
        _hpo_omim,
    ),  # fmt: skip
    "pubmed_links": _Rule(("uid", "cui", "name", "pmid"), _pubmed_links),
    "sources": _Rule(("source", "abbreviation", "description", "url"), _sources),
    "uid_cui_history": _Rule(("uid", *_HISTORY_COLUMNS), _uid_cui_history),
    "cui_history": _Rule(("previous_cui", "current_cui", "date_of_action"), _cui_history),
    "hpo_cui_history": _Rule(
        ("hpo_id", *_HISTORY_COLUMNS), _ontology_history(lambda w, i: w.hp(i))
    ),
    "mondo_cui_history": _Rule(
        ("mondo_id", *_HISTORY_COLUMNS), _ontology_history(lambda w, i: w.mondo(i))
    ),
    "ordo_cui_history": _Rule(
        ("ordo_id", *_HISTORY_COLUMNS), _ontology_history(lambda w, i: w.orpha(i))
    ),
}


# ---------------------------------------------------------------------------------------------
# Writing


def _resolve_tables(files: Sequence[str] | None) -> list[FileSpec]:
    if files is None:
        return list(FILES)
    if isinstance(files, str):
        raise TypeError("files must be a sequence of table names, not a string")
    wanted: set[str] = set()
    for item in files:
        spec = BY_TABLE.get(item) or spec_for_file(item)
        if spec is None:
            raise ValueError(f"unknown MedGen table or file {item!r}")
        wanted.add(spec.table)
    return [spec for spec in FILES if spec.table in wanted]


def _column_order(spec: FileSpec, rule: _Rule) -> tuple[int, ...] | None:
    """Positions in the rule's rows of the spec's columns; None when already in spec order."""
    if sorted(rule.columns) != sorted(spec.column_names):
        raise RuntimeError(
            f"generator rule for {spec.table} covers {rule.columns}, but the spec has "
            f"{spec.column_names}: update the rule in generate.py"
        )
    order = tuple(rule.columns.index(name) for name in spec.column_names)
    return None if order == tuple(range(len(order))) else order


class _AtomicOutput:
    """A file written under a temporary name and renamed into place only when complete."""

    def __init__(self, path: Path, *, gz: bool, mtime: int | None, compresslevel: int) -> None:
        self.path = path
        # Not mkstemp: its 0600 mode would survive the rename; this name is unique enough for
        # one writer per process and directory, and the umask applies as for any new file.
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.raw = self.tmp.open("wb", buffering=_READ_SIZE)
        self.gz: gzip.GzipFile | None = None
        self.write: Callable[[bytes], object] = self.raw.write
        if gz:
            # An empty file name keeps the gzip header free of the temporary name, and the
            # fixed MTIME makes the bytes depend on the arguments only.
            self.gz = gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=self.raw,
                mtime=mtime if mtime is not None else BUILD_TIME,
                compresslevel=compresslevel,
            )
            self.write = self.gz.write

    def commit(self, file_mtime: int | None) -> None:
        if self.gz is not None:
            self.gz.close()
        self.raw.close()
        if file_mtime is not None:
            os.utime(self.tmp, (file_mtime, file_mtime))
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.gz is not None:
            with contextlib.suppress(OSError):
                self.gz.close()
        self.raw.close()
        self.tmp.unlink(missing_ok=True)


def _write_table(
    spec: FileSpec, world: _World, out_dir: Path, compresslevel: int, gzip_mtime: int
) -> int:
    rule = _RULES[spec.table]
    order = _column_order(spec, rule)
    reorder = itemgetter(*order) if order is not None else None
    sep = spec.delimiter
    end = sep + "\n" if spec.trailing_delimiter else "\n"
    per_line = len(spec.columns) - 1 + (1 if spec.trailing_delimiter else 0)
    header = "#" + sep.join(c.source for c in spec.columns) + end
    target = world.rows[spec.table]
    rng = _rng("medgen-generate", world.seed, spec.table)
    output = _AtomicOutput(
        out_dir / spec.name, gz=spec.compressed, mtime=gzip_mtime, compresslevel=compresslevel
    )
    fmt = _Fmt(sep, end, order is None)
    written = 0
    try:
        output.write(header.encode("utf-8"))
        parts: list[bytes] = []
        rows = 0
        join = sep.join
        bsep = sep.encode()

        def flush() -> None:
            output.write(b"".join(parts))

        for block in rule.rows(world, rng, target, fmt):
            if isinstance(block, _Text):
                # Rendered by rules that check their own variable parts (see _pubmed_links).
                parts.append(block.data)
                rows += block.rows
            elif block:
                lines = map(join, block) if reorder is None else map(join, map(reorder, block))
                data = (end.join(lines) + end).encode()
                # A delimiter or LF inside a value would shift every later column: C-speed
                # counts over the rendered rows prove there is none.
                if data.count(bsep) != per_line * len(block) or data.count(b"\n") != len(block):
                    raise RuntimeError(f"{spec.table}: a generated value contains {sep!r} or LF")
                parts.append(data)
                rows += len(block)
            if rows >= _BATCH:
                flush()
                written += rows
                parts.clear()
                rows = 0
        if rows:
            flush()
            written += rows
        if written != target:
            raise RuntimeError(f"{spec.table}: generated {written} rows, expected {target}")
        output.commit(gzip_mtime)
    except BaseException:
        output.abort()
        raise
    return written


def generate_release(
    out_dir: Path,
    *,
    scale: float = 0.01,
    seed: int = 0,
    files: Sequence[str] | None = None,
    compresslevel: int = 6,
    gzip_mtime: int = BUILD_TIME,
) -> dict[str, int]:
    """Write a synthetic MedGen release into ``out_dir``; return the rows written per table.

    ``scale`` 1.0 approximates a real release (about 55 M rows, most of them PubMed links);
    every table gets at least a handful of rows. ``files`` selects tables (table or served file
    names; all 17 by default). The output is a pure function of the arguments: gzip members
    carry ``gzip_mtime`` and no file name, and a table's bytes do not depend on which other
    tables are generated. Files appear under their served names only once complete.
    """
    if not scale > 0 or math.isinf(scale):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if not 0 <= compresslevel <= 9:
        raise ValueError(f"compresslevel must be 0..9, not {compresslevel!r}")
    specs = _resolve_tables(files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = _World(seed, scale)
    return {
        spec.table: _write_table(spec, world, out_dir, compresslevel, gzip_mtime) for spec in specs
    }


# ---------------------------------------------------------------------------------------------
# Deriving the next build


_DATE_RE = re.compile(rb"^(\d{1,2} [A-Z][a-z]{2} )(\d{4})$")
_DIGITS_RE = re.compile(rb"^(.*?)(\d+)$")


@dataclass(frozen=True)
class _Layout:
    delimiter: bytes
    trailing: bool
    crlf: bool
    hashed: bool
    names: tuple[bytes, ...]
    columns: tuple[str | None, ...]
    """Spec column name of each field, None for a column the spec does not know."""

    @property
    def eol(self) -> bytes:
        return b"\r\n" if self.crlf else b"\n"

    def header(self, order: Sequence[int] | None) -> bytes:
        names = self.names if order is None else tuple(self.names[k] for k in order)
        body = self.delimiter.join(names) + (self.delimiter if self.trailing else b"")
        return (b"#" if self.hashed else b"") + body + self.eol


def _read_layout(spec: FileSpec, line: bytes) -> _Layout:
    crlf = line.endswith(b"\r")
    if crlf:
        line = line[:-1]
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    hashed = line.startswith(b"#")
    body = line[1:] if hashed else line
    delimiter = b"|" if body.count(b"|") >= body.count(b"\t") else b"\t"
    trailing = body.endswith(delimiter)
    names = tuple(body.split(delimiter))
    if trailing:
        names = names[:-1]
    lookup: dict[str, str] = {}
    for column in spec.columns:
        for alias in column.header_names():
            lookup.setdefault(alias.lower(), column.name)
    columns = tuple(lookup.get(name.strip().decode("utf-8", "replace").lower()) for name in names)
    return _Layout(delimiter, trailing, crlf, hashed, names, columns)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _gzip_mtime(path: Path) -> int:
    with path.open("rb") as fh:
        head = fh.read(8)
    return int.from_bytes(head[4:8], "little")


def _open_source(path: Path) -> io.BufferedIOBase:
    if _is_gzip(path):
        return gzip.open(path, "rb")
    return path.open("rb")


def _record_blocks(fh: io.BufferedIOBase) -> Iterator[list[bytes]]:
    """Records split on LF only: CR is data (MGDEF's in-field line breaks)."""
    rest = b""
    while chunk := fh.read(_READ_SIZE):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def _digest(record: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(record, digest_size=8).digest(), "little")


def _multiset_overlap(a: array[int], b: array[int]) -> int:
    """Size of the multiset intersection of two digest lists."""
    xs, ys = sorted(a), sorted(b)
    i = j = common = 0
    while i < len(xs) and j < len(ys):
        if xs[i] == ys[j]:
            common += 1
            i += 1
            j += 1
        elif xs[i] < ys[j]:
            i += 1
        else:
            j += 1
    return common


def _update_column(spec: FileSpec, layout: _Layout, key: Sequence[int]) -> int:
    """The field a churned row changes: descriptive text first, as real weekly edits are."""
    candidates = [k for k, name in enumerate(layout.columns) if name is not None and k not in key]
    if not candidates:
        candidates = [k for k in range(len(layout.names)) if k not in key]
    if not candidates:
        raise ValueError(f"{spec.table}: no column outside the natural key to change")

    def rank(k: int) -> int:
        name = layout.columns[k]
        if name is None:
            return 5
        column = spec.column(name)
        if column.type is ColumnType.TEXT and not column.identifier and "date" not in name:
            return 0
        if name in ("suppress", "is_current"):
            return 1
        if "date" in name:
            return 2
        if "cui" not in name:
            return 3
        return 4

    return min(candidates, key=rank)


def _change(spec: FileSpec, name: str | None, value: bytes, rand: Callable[[], float]) -> bytes:
    """A different, still well-formed value for one field (never adds a delimiter or LF)."""
    column = spec.column(name) if name is not None else None
    if name == "suppress":
        return b"Y" if value == b"N" else b"N"
    if column is not None and column.type is ColumnType.SMALLINT:
        return b"0" if value == b"1" else b"1"
    if column is not None and column.type is ColumnType.BIGINT:
        return str(int(value) + 1).encode() if value.isdigit() else value + b"1"
    date = _DATE_RE.match(value)
    if date:
        return date.group(1) + str(int(date.group(2)) + 1).encode()
    if name is not None and "cui" in name:
        digits = _DIGITS_RE.match(value)
        if digits:
            prefix, number = digits.groups()
            bumped = str(int(number) + 1).encode()
            if len(bumped) <= len(number):
                return prefix + bumped.rjust(len(number), b"0")
            return prefix + bumped
        return value + b"1"
    r = rand()
    if r < 0.4 and value[:1].isalpha() and value[:1].isascii():
        return value[:1].swapcase() + value[1:]
    if r < 0.6 and b" syndrome" in value:
        return value.replace(b" syndrome", b" disease", 1)
    return value + (b" (disorder)" if r < 0.8 else b", revised")


class _KeyMint:
    """New natural-key values guaranteed absent from the source: past the largest number seen
    for the same prefix (C..., AN..., RN...), or suffixed when the key has no digits."""

    def __init__(self, cui_shaped: bool) -> None:
        self.cui_shaped = cui_shaped
        self.top: dict[bytes, tuple[int, int]] = {}
        self.plain: set[bytes] = set()

    def see(self, key: bytes) -> None:
        m = _DIGITS_RE.match(key)
        if m is None:
            self.plain.add(key)
            return
        prefix, digits = m.groups()
        number, width = int(digits), len(digits)
        top, top_width = self.top.get(prefix, (-1, width))
        if number > top:
            self.top[prefix] = (number, max(width, top_width))

    def mint(self, template: bytes) -> bytes:
        m = _DIGITS_RE.match(template)
        if m is None:
            candidate = template + b"X"
            while candidate in self.plain:
                candidate += b"X"
            self.plain.add(candidate)
            return candidate
        prefix = m.group(1)
        number, width = self.top.get(prefix, (0, len(m.group(2))))
        number += 1
        if self.cui_shaped and prefix == b"C" and len(str(number)) > 7:
            # C ids are exactly seven digits; past C9999999 new concepts get CN ids.
            prefix = b"CN"
            number, width = self.top.get(prefix, (0, 6))
            number += 1
        self.top[prefix] = (number, width)
        return prefix + str(number).encode().rjust(width, b"0")


def _copy_counting(src: Path, dest: Path) -> int:
    """Byte-identical copy; returns the data rows (records after the header)."""
    tmp = dest.with_name(f".{dest.name}.copy.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    lines = 0
    last = b"\n"
    with _open_source(src) as fh:
        while chunk := fh.read(_READ_SIZE):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


class _RowShape:
    """Splitting, rendering and changing rows of one file as its header lays them out."""

    def __init__(
        self, spec: FileSpec, layout: _Layout, order: list[int] | None, rand: Callable[[], float]
    ) -> None:
        self.spec = spec
        self.layout = layout
        self.nfields = len(layout.names)
        self.delim = layout.delimiter
        self.tail = layout.delimiter if layout.trailing else b""
        self.pick = itemgetter(*order) if order is not None else None
        key = tuple(layout.columns.index(k) for k in spec.natural_key if k in layout.columns)
        # A header lacking a key column makes the table unkeyed for this comparison.
        self.keyed = bool(spec.natural_key) and len(key) == len(spec.natural_key)
        self.key = key[0] if self.keyed else -1
        self.upd = _update_column(spec, layout, key if self.keyed else ())
        self.rand = rand

    def split(self, rec: bytes) -> list[bytes] | None:
        """The fields of a record; None when it does not have the header's shape."""
        fields = rec.split(self.delim)
        if self.layout.trailing:
            if fields[-1] != b"":
                return None
            fields.pop()
        return fields if len(fields) == self.nfields else None

    def canonical(self, fields: Sequence[bytes]) -> bytes:
        """The record in the source's column order (what multiset counting compares)."""
        return self.delim.join(fields) + self.tail

    def render(self, fields: Sequence[bytes]) -> bytes:
        if self.pick is not None:
            fields = self.pick(fields)
        return self.delim.join(fields) + self.tail

    def changed(self, fields: list[bytes]) -> list[bytes]:
        new = list(fields)
        new[self.upd] = _change(
            self.spec, self.layout.columns[self.upd], fields[self.upd], self.rand
        )
        return new


def _derive_file(
    spec: FileSpec, src: Path, dest: Path, churn: float, seed: int, reorder: bool
) -> dict[str, int]:
    rng = _rng("medgen-derive", seed, spec.table)
    rand = rng.random
    gz = _is_gzip(src)
    mtime = _gzip_mtime(src) + _WEEK if gz else None
    # Next week's build: the file time moves on a week, as NCBI's listing would show.
    file_mtime = mtime if mtime is not None else int(src.stat().st_mtime) + _WEEK
    with _open_source(src) as fh, tempfile.TemporaryFile(dir=dest.parent) as spill:
        blocks = _record_blocks(fh)
        first = next(blocks, None)
        if not first:
            raise ValueError(f"{src}: empty file, no header line")
        layout = _read_layout(spec, first[0])
        order: list[int] | None = None
        if reorder:
            if len(layout.names) < 2:
                raise ValueError(f"{spec.table}: a single column cannot be reordered")
            order = list(range(len(layout.names)))
            shuffler = _rng("medgen-derive-order", seed, spec.table)
            while order == sorted(order):
                shuffler.shuffle(order)
        shape = _RowShape(spec, layout, order, rand)
        keyed, kpos, pick = shape.keyed, shape.key, shape.pick
        mint = _KeyMint(spec.column(spec.natural_key[0]).cui_shape if keyed else False)
        # One draw per row decides its fate: delete, update, keep and insert a new row after
        # it, keep and duplicate it (unkeyed tables only), or keep it.
        c_delete, c_update, c_insert = churn, 2 * churn, 3 * churn
        c_dup = c_insert + (0.0 if keyed else churn / 20)
        eol, crlf = layout.eol, layout.crlf
        counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        # Digests of whole rows taken out and put in (unkeyed tables), so the result counts
        # what a multiset comparison sees even where an added row equals a removed one.
        removed: array[int] = array("Q")
        added: array[int] = array("Q")
        total = 0
        records = itertools.chain([first[1:]], blocks)
        output = _AtomicOutput(dest, gz=gz, mtime=mtime, compresslevel=6)
        try:
            output.write(layout.header(order))
            for block in records:
                out: list[bytes] = []
                emit = out.append
                for raw in block:
                    rec = raw[:-1] if crlf and raw.endswith(b"\r") else raw
                    total += 1
                    r = rand()
                    if r >= c_dup and pick is None and not keyed:
                        # The common case on the biggest files: no need to split the row.
                        emit(rec)
                        counts["unchanged"] += 1
                        continue
                    fields = shape.split(rec)
                    if fields is None:
                        # A malformed line (more delimiters than columns, as NCBI once
                        # served) cannot be changed safely: pass it through untouched.
                        parts = rec.split(shape.delim)
                        if keyed and len(parts) > kpos:
                            mint.see(parts[kpos])
                        emit(rec)
                        counts["unchanged"] += 1
                        continue
                    if keyed:
                        mint.see(fields[kpos])
                    if r < c_delete:
                        counts["deleted"] += 1
                        if not keyed:
                            removed.append(_digest(rec))
                        continue
                    if r < c_update:
                        new = shape.changed(fields)
                        emit(shape.render(new))
                        if keyed:
                            counts["updated"] += 1
                        else:
                            removed.append(_digest(rec))
                            added.append(_digest(shape.canonical(new)))
                        continue
                    emit(rec if pick is None else shape.render(fields))
                    counts["unchanged"] += 1
                    if r >= c_dup:
                        continue
                    if r >= c_insert:
                        emit(rec if pick is None else shape.render(fields))
                        added.append(_digest(rec))
                    elif keyed:
                        # A new key is only known to be new once every key has been seen.
                        spill.write(rec + b"\n")
                    else:
                        new = shape.changed(fields)
                        emit(shape.render(new))
                        added.append(_digest(shape.canonical(new)))
                if out:
                    output.write(eol.join(out) + eol)
            spill.seek(0)
            for line in spill:
                template = shape.split(line[:-1])
                if template is None:  # pragma: no cover - only well-formed rows are spilled
                    raise RuntimeError(f"{spec.table}: a spilled row lost its shape")
                template[kpos] = mint.mint(template[kpos])
                output.write(shape.render(shape.changed(template)) + eol)
                counts["inserted"] += 1
            output.commit(file_mtime)
        except BaseException:
            output.abort()
            raise
    if not keyed:
        common = _multiset_overlap(removed, added)
        counts["inserted"] = len(added) - common
        counts["deleted"] = len(removed) - common
        counts["updated"] = 0
        counts["unchanged"] = total - counts["deleted"]
    return counts


def derive_release(
    src_dir: Path,
    out_dir: Path,
    *,
    churn: float = 0.01,
    seed: int = 1,
    reorder_columns: Sequence[str] = (),
    files: Sequence[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Write a changed copy of the release in ``src_dir`` (generated or genuine) to ``out_dir``.

    About ``churn`` of the rows of each file are deleted, as many updated (one non-key field
    changed) and as many inserted (new natural keys, past every key of the source); tables
    without a natural key also gain a few exact duplicates. Tables named in ``reorder_columns``
    get their columns (header and rows) in a different, deterministic order. Files with no
    churn and no reordering are copied byte for byte.

    Returns per table ``inserted``/``updated``/``deleted``/``unchanged`` as a comparison of the
    two files would count them: by natural key where the table has one (assuming the source's
    keys are unique), otherwise as multiset differences of whole rows (an update is then a
    deletion plus an insertion, and ``updated`` is 0). Files are streamed; memory grows only
    with the churned rows (8 bytes each). Tables absent from ``src_dir`` are skipped.
    """
    if not 0 <= churn <= 0.3:
        raise ValueError(f"churn must be between 0 and 0.3, not {churn!r}")
    if isinstance(reorder_columns, str):
        raise TypeError("reorder_columns must be a sequence of table names, not a string")
    reorder = (
        {spec.table for spec in _resolve_tables(reorder_columns)} if reorder_columns else set()
    )
    specs = _resolve_tables(files)
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise FileNotFoundError(f"no release directory at {src_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if src_dir.resolve() == out_dir.resolve():
        raise ValueError("derive_release needs an output directory other than the source")
    present = {p.name.lower(): p for p in src_dir.iterdir() if p.is_file()}
    results: dict[str, dict[str, int]] = {}
    for spec in specs:
        src = next((present[n.lower()] for n in spec.served_names if n.lower() in present), None)
        if src is None:
            continue
        dest = out_dir / src.name
        if churn == 0 and spec.table not in reorder:
            rows = _copy_counting(src, dest)
            results[spec.table] = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": rows}
        else:
            results[spec.table] = _derive_file(spec, src, dest, churn, seed, spec.table in reorder)
    return results
