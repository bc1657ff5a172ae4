"""One declarative spec per file of the MedGen release.

Everything the tool knows about a particular MedGen file lives here: the names it is served
under, the table it loads into, how its header columns map to table columns, which columns are
required, which renames are accepted, and which columns form its natural key.  Parsing, schema
generation, the generator, downloads and the loaders all consult these specs and never
re-describe a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from py_load_medgen.errors import UsageError

MAX_IDENTIFIER_BYTES = 1024
"""A sane maximum for an identifier (the longest real ones are tens of bytes), well below the
~2.7 kB a PostgreSQL btree index entry can hold: a longer value is a bad row, not a database
error."""


class ColumnType(Enum):
    """Logical column types; each backend renders them in its own SQL dialect."""

    TEXT = "text"
    BIGINT = "bigint"
    SMALLINT = "smallint"


@dataclass(frozen=True)
class Column:
    """One source column and the table column it lands in."""

    name: str
    """Table column name (snake_case)."""
    source: str
    """Header name as NCBI serves it today, without the leading ``#``."""
    description: str
    type: ColumnType = ColumnType.TEXT
    aliases: tuple[str, ...] = ()
    """Other header names accepted for this column (renames seen in older builds)."""
    required: bool = True
    """A header without this column is an error; an optional one missing loads as NULL."""
    identifier: bool = False
    """Holds an identifier (CUI, AUI, code...): compared bytewise, indexed with COLLATE "C"."""
    indexed: bool = False
    """Gets a secondary index of its own (every CUI column does)."""
    cui_shape: bool = False
    """Every value must look like a CUI (C + 7 digits or CN + digits); enforced on load."""

    @property
    def max_bytes(self) -> int | None:
        """The longest value the column takes: an identifier or an indexed column is bounded
        (no index can hold an unbounded value, and no real identifier is near the bound);
        free text is not."""
        return MAX_IDENTIFIER_BYTES if self.identifier or self.indexed else None

    def header_names(self) -> tuple[str, ...]:
        """Every header name that maps to this column, preferred name first."""
        return (self.source, *self.aliases)


@dataclass(frozen=True)
class FileSpec:
    """A file of the release and the table it loads into."""

    table: str
    served_names: tuple[str, ...]
    """File names as served (first is the canonical one); matched case-insensitively."""
    columns: tuple[Column, ...]
    description: str
    natural_key: tuple[str, ...] = ()
    """Candidate unique key used to match rows in delta loads; checked against the data."""
    delimiter: str = "|"
    """The delimiter NCBI uses today. Parsing detects the real one from the header."""
    trailing_delimiter: bool = True
    """Whether lines end with a delimiter before the newline, as the RRF files do."""
    scale_rows: int = 0
    """Approximate rows in a real (2026) release; used by the generator at scale 1.0."""
    column_by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_by_name", {c.name: c for c in self.columns})

    @property
    def name(self) -> str:
        """The canonical served file name."""
        return self.served_names[0]

    @property
    def compressed(self) -> bool:
        return self.name.endswith(".gz")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return self.column_by_name[name]


def _cui(
    source: str = "CUI",
    name: str = "cui",
    desc: str = "MedGen concept id (CUI or CN id)",
    aliases: tuple[str, ...] = (),
) -> Column:
    return Column(name, source, desc, aliases=aliases, identifier=True, indexed=True)


def _id(
    name: str, source: str, desc: str, aliases: tuple[str, ...] = (), indexed: bool = False
) -> Column:
    return Column(name, source, desc, aliases=aliases, identifier=True, indexed=indexed)


def _text(name: str, source: str, desc: str, required: bool = True) -> Column:
    return Column(name, source, desc, required=required)


_SUPPRESS = _id("suppress", "SUPPRESS", "Suppressibility flag (N, Y, O or E)")

_HISTORY_DATE = _text("date", "Date", "Date of the change as NCBI writes it, e.g. '12 Jun 2019'")
_IS_CURRENT = Column(
    "is_current", "IsCurrent", "1 when the mapping is current, 0 when retired", ColumnType.SMALLINT
)


def _ontology_history(table: str, prefix: str, served: tuple[str, ...], label: str) -> FileSpec:
    return FileSpec(
        table=table,
        served_names=served,
        delimiter="\t",
        trailing_delimiter=False,
        description=f"History of the CUI assigned to each {label} term.",
        columns=(
            _id(
                f"{prefix.lower()}_id",
                f"{prefix}_Id",
                f"{label} term id",
                aliases=(f"{prefix}_ID",),
                indexed=True,
            ),
            _cui(),
            _HISTORY_DATE,
            _IS_CURRENT,
        ),
        scale_rows=35_000,
    )


FILES: tuple[FileSpec, ...] = (
    FileSpec(
        table="concepts",
        served_names=("NAMES.RRF.gz",),
        description="One row per MedGen concept with its preferred name.",
        columns=(
            Column(
                "cui",
                "CUI",
                "MedGen concept id (CUI or CN id)",
                identifier=True,
                indexed=True,
                cui_shape=True,
            ),
            _text("preferred_name", "name", "Preferred name of the concept"),
            _text("source", "source", "Source vocabulary of the preferred name"),
            _SUPPRESS,
        ),
        natural_key=("cui",),
        scale_rows=234_073,
    ),
    FileSpec(
        table="concept_names",
        served_names=("MGCONSO.RRF.gz",),
        description="Every name (atom) of every concept, by source vocabulary (13 columns, "
        "not the 18-column UMLS MRCONSO).",
        columns=(
            _cui(),
            _id("ts", "TS", "Term status (P preferred, S non-preferred)"),
            _id("stt", "STT", "String type"),
            _id("ispref", "ISPREF", "Y when this atom is the preferred one of its string"),
            _id("aui", "AUI", "Atom id (A... from UMLS, AN... made by NCBI)"),
            _id("saui", "SAUI", "Source atom id"),
            _id("scui", "SCUI", "Source concept id"),
            _id("sdui", "SDUI", "Source descriptor id (HP:0000118, Orphanet_99791, MONDO:...)"),
            _id("sab", "SAB", "Source abbreviation"),
            _id("tty", "TTY", "Term type in the source"),
            _id("code", "CODE", "Code in the source (may be UMLS-made, MTHU..., or allelic)"),
            _text("str", "STR", "The name itself"),
            _SUPPRESS,
        ),
        natural_key=("aui",),
        scale_rows=1_000_000,
    ),
    FileSpec(
        table="definitions",
        served_names=("MGDEF.RRF.gz",),
        description="Definitions of concepts; several per CUI, one per source. Definitions "
        "contain bare carriage returns as in-field line breaks.",
        columns=(
            _cui(),
            _text("definition", "DEF", "Definition text (may contain CR line breaks)"),
            _text("source", "source", "Free-text source, e.g. 'Genetics Home Reference'"),
            _SUPPRESS,
        ),
        scale_rows=80_000,
    ),
    FileSpec(
        table="relationships",
        served_names=("MGREL.RRF.gz",),
        description="Relationships between concepts (atoms), one row per relationship.",
        columns=(
            _cui("CUI1", "cui1", "CUI of the first concept"),
            _id("aui1", "AUI1", "AUI of the first atom"),
            _id("stype1", "STYPE1", "What the first id refers to (CUI, AUI, SCUI...)"),
            _id("rel", "REL", "Relationship (PAR, CHD, RO, RB, RN, SY...)"),
            _cui("CUI2", "cui2", "CUI of the second concept"),
            _id("aui2", "AUI2", "AUI of the second atom"),
            _id("rela", "RELA", "Relationship attribute (empty on about 6 % of rows)"),
            _id("rui", "RUI", "Relationship id (R... from UMLS, RN... made by NCBI)"),
            _id("sab", "SAB", "Source abbreviation"),
            _id("sl", "SL", "Source of the relationship label"),
            _SUPPRESS,
        ),
        natural_key=("rui",),
        scale_rows=1_500_000,
    ),
    FileSpec(
        table="attributes",
        served_names=("MGSAT.RRF.gz",),
        description="Attributes of concepts and atoms (MedGen's MRSAT).",
        columns=(
            _cui(),
            _id("metaui", "METAUI", "Id of the atom or relationship the attribute belongs to"),
            _id("stype", "STYPE", "What METAUI refers to"),
            _id("code", "CODE", "Code in the source"),
            _id("atui", "ATUI", "Attribute id"),
            _id("atn", "ATN", "Attribute name"),
            _id("sab", "SAB", "Source abbreviation"),
            _text("atv", "ATV", "Attribute value"),
            _SUPPRESS,
        ),
        natural_key=("atui",),
        scale_rows=1_500_000,
    ),
    FileSpec(
        table="semantic_types",
        served_names=("MGSTY.RRF.gz",),
        description="Semantic types of concepts.",
        columns=(
            _cui(),
            _id("tui", "TUI", "Semantic type id (T047...)"),
            _id("stn", "STN", "Semantic type tree number"),
            _text("sty", "STY", "Semantic type name (may contain commas)"),
            _id("atui", "ATUI", "Attribute id"),
        ),
        natural_key=("atui",),
        scale_rows=300_000,
    ),
    FileSpec(
        table="merged_concepts",
        served_names=("MERGED.RRF.gz",),
        description="Concepts merged into another: the retired CUI and the CUI that replaces it.",
        columns=(
            _cui(desc="Retired CUI", aliases=("CUI1", "MERGED_CUI")),
            _cui("toCUI", "to_cui", "CUI that replaces it", aliases=("CUI2", "TO_CUI")),
        ),
        natural_key=("cui",),
        scale_rows=2_500,
    ),
    FileSpec(
        table="source_links",
        served_names=("MedGenIDMappings.txt.gz",),
        description="Identifiers of each concept in other sources (OMIM, Orphanet, HPO, MONDO...).",
        columns=(
            _cui("CUI_or_CN_id", desc="MedGen concept id (CUI or CN id)", aliases=("CUI",)),
            _text("pref_name", "pref_name", "Preferred name"),
            _id("source_id", "source_id", "Identifier in the source"),
            _id("source", "source", "Source name"),
        ),
        scale_rows=500_000,
    ),
    FileSpec(
        table="hpo_mappings",
        served_names=("MedGen_HPO_Mapping.txt.gz",),
        description="Mapping between MedGen concepts and HPO terms.",
        columns=(
            _cui(),
            _id("sdui", "SDUI", "HPO id (HP:...)", indexed=True),
            _text("hpo_str", "HpoStr", "HPO term name"),
            _text("medgen_str", "MedGenStr", "MedGen name"),
            _id("medgen_str_sab", "MedGenStr_SAB", "Source of the MedGen name"),
            _text("sty", "STY", "Semantic type"),
        ),
        scale_rows=20_484,
    ),
    FileSpec(
        table="hpo_omim_mappings",
        served_names=("MedGen_HPO_OMIM_Mapping.txt.gz",),
        description="Phenotypic features (HPO) of OMIM diseases; rows repeat per semantic type.",
        columns=(
            _cui("OMIM_CUI", "omim_cui", "CUI of the OMIM disease"),
            _id("mim_number", "MIM_number", "OMIM number"),
            _text("omim_name", "OMIM_name", "OMIM disease name"),
            _id("relationship", "relationship", "Qualifier of the association (may be empty)"),
            _cui("HPO_CUI", "hpo_cui", "CUI of the HPO feature"),
            _id("hpo_id", "HPO_ID", "HPO id (HP:...)"),
            _text("hpo_name", "HPO_name", "HPO term name"),
            _text("medgen_name", "MedGen_name", "MedGen name of the feature"),
            _id("medgen_source", "MedGen_source", "Source of the MedGen name"),
            _text("sty", "STY", "Semantic type"),
        ),
        scale_rows=211_400,
    ),
    FileSpec(
        table="pubmed_links",
        served_names=("medgen_pubmed_lnk.txt.gz",),
        description="PubMed articles cited for each concept; one row per UID and PMID.",
        columns=(
            Column("uid", "UID", "MedGen UID (integer)", ColumnType.BIGINT),
            _cui(),
            _text("name", "NAME", "Concept name"),
            Column("pmid", "PMID", "PubMed id", ColumnType.BIGINT),
        ),
        scale_rows=48_000_000,
    ),
    FileSpec(
        table="sources",
        served_names=("MedGen_Sources.txt",),
        description="The sources MedGen draws on.",
        columns=(
            _text("source", "Source", "Source name"),
            _id("abbreviation", "Abbreviation", "Source abbreviation (SAB)"),
            _text("description", "Description", "What the source is"),
            _text("url", "URL", "Home page", required=False),
        ),
        natural_key=("abbreviation",),
        scale_rows=123,
    ),
    FileSpec(
        table="uid_cui_history",
        served_names=("MedGen_UID_CUI_history.txt",),
        delimiter="\t",
        trailing_delimiter=False,
        description="History of the CUI each MedGen UID pointed to.",
        columns=(
            Column("uid", "UID", "MedGen UID (integer)", ColumnType.BIGINT, indexed=True),
            _cui(),
            _HISTORY_DATE,
            _IS_CURRENT,
        ),
        scale_rows=2_000_000,
    ),
    FileSpec(
        table="cui_history",
        served_names=("MedGen_CUI_history.txt",),
        delimiter="\t",
        trailing_delimiter=False,
        description="CUIs retired or replaced, and when.",
        columns=(
            _cui("Previous_CUI", "previous_cui", "CUI before the action"),
            _cui("Current_CUI", "current_cui", "CUI after the action"),
            _text("date_of_action", "Date_Of_Action", "Date of the action as NCBI writes it"),
        ),
        scale_rows=3_000,
    ),
    _ontology_history("hpo_cui_history", "HPO", ("HPO_CUI_history.txt",), "HPO"),
    _ontology_history(
        "mondo_cui_history", "MONDO", ("MONDO_CUI_history.txt", "Mondo_CUI_history.txt"), "MONDO"
    ),
    _ontology_history("ordo_cui_history", "ORDO", ("ORDO_CUI_history.txt",), "ORDO (Orphanet)"),
)

BY_TABLE: dict[str, FileSpec] = {f.table: f for f in FILES}
_BY_NAME: dict[str, FileSpec] = {n.lower(): f for f in FILES for n in f.served_names}

CUI_PATTERN = re.compile(r"^(?:C\d{7}|CN\d+)$")
"""Shape of a MedGen concept id: ``C`` + 7 digits (UMLS) or ``CN`` + digits (made by NCBI)."""


def spec_for_file(name: str) -> FileSpec | None:
    """The spec of a served file name, matched case-insensitively; ``None`` when unknown."""
    return _BY_NAME.get(name.lower())


def spec_for_table(table: str) -> FileSpec:
    return BY_TABLE[table]


def select_specs(names: Sequence[str]) -> list[FileSpec]:
    """The specs for ``--files`` (served file names or table names); all when empty."""
    if not names:
        return list(FILES)
    chosen: list[FileSpec] = []
    for name in names:
        spec = spec_for_file(name) or next((s for s in FILES if s.table == name), None)
        if spec is None:
            known = ", ".join(s.name for s in FILES)
            raise UsageError(f"unknown file {name!r} in --files; known files: {known}")
        if spec not in chosen:
            chosen.append(spec)
    return chosen
