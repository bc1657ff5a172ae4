"""Standard exports of the answers: SSSOM, KGX and an HPO-annotation-shaped TSV.

Each streams rows from the database to the file a batch at a time, so memory stays flat, and
returns the rows it wrote (the tests check they equal the views' counts).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from py_load_medgen.answers.curies import CURIE_MAP
from py_load_medgen.answers.db import Target, connected, present, require, stream, table
from py_load_medgen.load.base import Loader
from py_load_medgen.load.sql import RUNS, qname

SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "mapping_justification",
    "mapping_cardinality",
    "comment",
)
PREDICATES = {"1:1": "skos:exactMatch"}
"""A 1:1 mapping is an exact match; any other cardinality a close match."""
JUSTIFICATION = "semapv:UnspecifiedMatching"
"""MedGen does not say how a source's mapping was made."""

KGX_NODE_COLUMNS = ("id", "category", "name", "description", "xref", "provided_by")
KGX_EDGE_COLUMNS = (
    "id",
    "subject",
    "predicate",
    "object",
    "category",
    "negated",
    "knowledge_level",
    "agent_type",
    "primary_knowledge_source",
)
BIOLINK_CATEGORIES: tuple[tuple[str, str], ...] = (
    # (semantic type name, biolink category), first match by priority wins
    ("Disease or Syndrome", "biolink:Disease"),
    ("Neoplastic Process", "biolink:Disease"),
    ("Congenital Abnormality", "biolink:Disease"),
    ("Mental or Behavioral Dysfunction", "biolink:Disease"),
    ("Pathologic Function", "biolink:Disease"),
    ("Sign or Symptom", "biolink:PhenotypicFeature"),
    ("Finding", "biolink:PhenotypicFeature"),
    ("Anatomical Abnormality", "biolink:PhenotypicFeature"),
    ("Gene or Genome", "biolink:Gene"),
    ("Amino Acid, Peptide, or Protein", "biolink:Protein"),
    ("Pharmacologic Substance", "biolink:ChemicalEntity"),
    ("Organic Chemical", "biolink:ChemicalEntity"),
    ("Body Part, Organ, or Organ Component", "biolink:AnatomicalEntity"),
    ("Cell", "biolink:Cell"),
    ("Organism Attribute", "biolink:OrganismAttribute"),
    ("Laboratory Procedure", "biolink:Procedure"),
    ("Therapeutic or Preventive Procedure", "biolink:Procedure"),
    ("Diagnostic Procedure", "biolink:Procedure"),
)
DEFAULT_CATEGORY = "biolink:NamedThing"
HPOA_COLUMNS = (
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
)


@dataclass
class ExportResult:
    paths: list[Path]
    rows: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"paths": [str(p) for p in self.paths], "rows": self.rows}

    def render(self) -> str:
        return "\n".join(
            f"{p}: {n:,} rows" for p, n in zip(self.paths, self.rows.values(), strict=True)
        )


def _curie_sql(column: str) -> str:
    return f"CASE WHEN {column} LIKE 'CN%' THEN 'MEDGEN:' || {column} ELSE 'UMLS:' || {column} END"


def _writer(fh: IO[str]) -> Any:
    return csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def _clean(value: Any) -> Any:
    # TAB and line breaks inside a value would break a TSV row (MGDEF has bare CRs).
    if isinstance(value, str):
        return (
            " ".join(value.replace("\t", " ").split())
            if any(c in value for c in "\t\r\n")
            else value
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def _write(
    path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]], preamble: str = ""
) -> int:
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(preamble)
        out = _writer(fh)
        out.writerow(list(header))
        for row in rows:
            out.writerow([_clean(v) for v in row])
            count += 1
    return count


def _release(loader: Loader) -> str:
    rows = loader.query(
        f"SELECT max(release_time) FROM {qname(loader.schema, RUNS)} WHERE status = 'succeeded'"
    )
    value = rows[0][0] if rows else None
    return (value if isinstance(value, datetime) else datetime.now(UTC)).strftime("%Y-%m-%d")


def export_sssom(target: Target, path: Path, *, schema: str = "medgen") -> ExportResult:
    """``xrefs`` as an SSSOM TSV, its metadata block (with the curie_map) first."""
    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, "xrefs", "concepts")
        date = _release(loader)
        meta = [
            f"# mapping_set_id: https://www.ncbi.nlm.nih.gov/medgen/sssom/{date}",
            "# mapping_set_description: Cross-references of MedGen concepts, as served by NCBI "
            "(MedGenIDMappings and MGCONSO), exported by py-load-medgen",
            "# license: https://www.ncbi.nlm.nih.gov/home/about/policies/",
            f"# mapping_date: {date}",
            "# curie_map:",
            *(f"#   {prefix}: {url}" for prefix, url in CURIE_MAP.items()),
        ]
        statement = (
            f"SELECT {_curie_sql('x.cui')}, c.preferred_name, x.cardinality, x.curie, "
            f"x.cardinality, x.source, x.origin FROM {table(loader, 'xrefs')} x "
            f"LEFT JOIN {table(loader, 'concepts')} c ON c.cui = x.cui ORDER BY x.cui, x.curie"
        )
        rows = (
            (subject, label, PREDICATES.get(card, "skos:closeMatch"), curie, JUSTIFICATION,
             card, f"{origin} ({source})")
            for subject, label, card, curie, _card, source, origin in stream(loader, statement)
        )  # fmt: skip
        count = _write(path, SSSOM_COLUMNS, rows, "\n".join(meta) + "\n")
        return ExportResult([path], {"mappings": count})


def _category_sql(loader: Loader) -> str:
    whens = " ".join(
        f"WHEN t.sty = '{sty.replace(chr(39), chr(39) * 2)}' THEN {n}"
        for n, (sty, _cat) in enumerate(BIOLINK_CATEGORIES)
    )
    return (
        f"(SELECT min(CASE {whens} ELSE {len(BIOLINK_CATEGORIES)} END) "
        f"FROM {table(loader, 'semantic_types')} t WHERE t.cui = c.cui)"
    )


def export_kgx(
    target: Target, directory: Path, *, schema: str = "medgen", with_pubmed: bool = False
) -> ExportResult:
    """KGX TSV: ``nodes.tsv`` (every concept) and ``edges.tsv`` (hierarchy, phenotypes,
    inheritance; PubMed citations only ``with_pubmed``)."""
    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, "concepts")
        directory.mkdir(parents=True, exist_ok=True)
        category = _category_sql(loader) if "semantic_types" in have else "NULL"
        xrefs = (
            f"(SELECT string_agg(DISTINCT x.curie, '|' ORDER BY x.curie) "
            f"FROM {table(loader, 'xref_pairs')} x "
            "WHERE x.cui = c.cui)"
            if "xref_pairs" in have
            else "NULL"
        )
        definition = (
            f"(SELECT min(d.definition) FROM {table(loader, 'definitions')} d "
            "WHERE d.cui = c.cui AND d.suppress IN ('N', ''))"
            if "definitions" in have
            else "NULL"
        )
        nodes_sql = (
            f"SELECT {_curie_sql('c.cui')}, {category}, c.preferred_name, {definition}, {xrefs} "
            f"FROM {table(loader, 'concepts')} c ORDER BY c.cui"
        )

        def nodes() -> Iterator[tuple[Any, ...]]:
            for curie, cat, name, desc, xref in stream(loader, nodes_sql):
                kind = (
                    BIOLINK_CATEGORIES[cat][1]
                    if cat is not None and cat < len(BIOLINK_CATEGORIES)
                    else DEFAULT_CATEGORY
                )
                yield curie, kind, name, desc, xref, "infores:medgen"
            if with_pubmed and "pubmed_links" in have:
                for (pmid,) in stream(
                    loader,
                    f"SELECT DISTINCT pmid FROM {table(loader, 'pubmed_links')} ORDER BY pmid",
                ):
                    yield f"PMID:{pmid}", "biolink:Publication", None, None, None, "infores:pubmed"

        node_path = directory / "nodes.tsv"
        node_count = _write(node_path, KGX_NODE_COLUMNS, nodes())
        edge_path = directory / "edges.tsv"
        edge_count = _write(edge_path, KGX_EDGE_COLUMNS, _edges(loader, have, with_pubmed))
        return ExportResult([node_path, edge_path], {"nodes": node_count, "edges": edge_count})


def _edges(loader: Loader, have: set[str], with_pubmed: bool) -> Iterator[tuple[Any, ...]]:
    parts = []
    if "hierarchy" in have:
        parts.append(
            f"SELECT DISTINCT {_curie_sql('child_cui')}, 'biolink:subclass_of', "
            f"{_curie_sql('parent_cui')}, 'biolink:Association', FALSE "
            f"FROM {table(loader, 'hierarchy')}"
        )
    if "disease_phenotypes" in have:
        parts.append(
            f"SELECT {_curie_sql('disease_cui')}, 'biolink:has_phenotype', "
            f"{_curie_sql('phenotype_cui')}, 'biolink:DiseaseToPhenotypicFeatureAssociation', "
            f"negated FROM {table(loader, 'disease_phenotypes')} WHERE NOT is_inheritance"
        )
    if "inheritance" in have:
        parts.append(
            f"SELECT {_curie_sql('disease_cui')}, 'biolink:has_mode_of_inheritance', "
            f"{_curie_sql('inheritance_cui')}, "
            f"'biolink:DiseaseOrPhenotypicFeatureToGeneticInheritanceAssociation', FALSE "
            f"FROM {table(loader, 'inheritance')}"
        )
    n = 0
    for part in parts:
        for subject, predicate, obj, category, negated in stream(loader, part + " ORDER BY 1, 3"):
            n += 1
            yield (f"medgen:{n}", subject, predicate, obj, category, negated,
                   "knowledge_assertion", "manual_agent", "infores:medgen")  # fmt: skip
    if with_pubmed and "pubmed_links" in have:
        statement = (
            f"SELECT DISTINCT {_curie_sql('cui')}, pmid FROM {table(loader, 'pubmed_links')} "
            "ORDER BY 1, 2"
        )
        for subject, pmid in stream(loader, statement):
            n += 1
            yield (f"medgen:{n}", subject, "biolink:mentioned_by", f"PMID:{pmid}",
                   "biolink:InformationContentEntityToNamedThingAssociation", False,
                   "knowledge_assertion", "manual_agent", "infores:pubmed")  # fmt: skip


def export_disease_phenotype(target: Target, path: Path, *, schema: str = "medgen") -> ExportResult:
    """``disease_phenotypes`` shaped like HPO's phenotype.hpoa, ``NOT`` in ``qualifier``."""
    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, "disease_phenotypes")
        name = (
            f"(SELECT c.preferred_name FROM {table(loader, 'concepts')} c "
            "WHERE c.cui = p.disease_cui)"
            if "concepts" in have
            else "NULL"
        )
        statement = (
            f"SELECT {_curie_sql('p.disease_cui')}, {name}, p.negated, p.hpo_id, "
            f"{_curie_sql('p.phenotype_cui')}, p.is_inheritance, p.sources "
            f"FROM {table(loader, 'disease_phenotypes')} p ORDER BY p.disease_cui, p.phenotype_cui"
        )
        date = _release(loader)
        rows = (
            (disease, dname, "NOT" if negated else "", hpo or phenotype, disease, "IEA", "", "",
             "", "", "I" if inheritance else "P", f"{sources.replace(',', ';')}[{date}]")
            for disease, dname, negated, hpo, phenotype, inheritance, sources
            in stream(loader, statement)
        )  # fmt: skip
        preamble = f"#description: MedGen disease-phenotype associations\n#date: {date}\n"
        count = _write(path, HPOA_COLUMNS, rows, preamble)
        return ExportResult([path], {"associations": count})
