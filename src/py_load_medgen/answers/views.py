"""The answers every load publishes beside the tables: views, two derived tables, two functions.

Every statement is built by a pure function of the dialect, the schema and the tables present,
so a release loaded in part (``--files``) still gets every answer its tables allow, and the SQL
is tested as strings (``tests/unit/test_answers_sql.py``) as well as against both databases.

Two answers are tables, not views, because a view cannot meet the lookup target: ``xrefs``
(its ``cardinality`` counts across the whole release, which no filter on one CUI can push
through) and ``cui_status`` (a recursive walk of every history file). They are built from the
new production tables inside the publishing transaction and swapped in like a loaded table, so
user views and grants on them survive, and no reader ever sees a release without them. The
views are (re)created in the same transaction, after the swap, with ``CREATE OR REPLACE``.

MGREL reads "CUI2 is the RELA of CUI1", as UMLS's MRREL does: the row
``C5394059|…|RO|C0443147|…|inheritance_type_of`` says C0443147 (autosomal dominant
inheritance) is the inheritance type of C5394059, and ``C5399761|…|CHD|C0220722|…|isa`` says
C0220722 is a child of C5399761. Public code that reads it the other way round gets every
inheritance and hierarchy answer upside down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from py_load_medgen.answers.curies import curie_sql
from py_load_medgen.load.sql import STAGING_PREFIX, Dialect, ident, literal, qname

MAIN_PREFIXES = ("OMIM", "ORPHA", "MONDO", "HP", "MESH")
"""The xrefs a concept card shows."""

INHERITANCE_RELAS = ("has_inheritance_type", "inheritance_type_of")
MANIFESTATION_RELAS = ("manifestation_of", "has_manifestation", "not_manifestation_of")
_KEEP = "('N', '')"
"""SUPPRESS values of rows the answers use: not suppressible, not obsolete, not suppressed."""


@dataclass(frozen=True)
class Answer:
    """One published object and what its documentation says."""

    name: str
    kind: str
    """``table`` (derived, rebuilt by each load), ``view`` or ``function``."""
    needs: tuple[str, ...]
    """Tables it cannot do without; with any missing it is not created."""
    uses: tuple[str, ...]
    """Tables it reads when present: a change in any of them rebuilds a derived table."""
    description: str
    columns: tuple[tuple[str, str], ...] = ()
    statements: tuple[str, ...] = field(default=(), compare=False)
    """For a table: the statements that build it as ``_staging_<name>``; for a view or a
    function: the one that creates or replaces it."""


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _parsed_date(dialect: Dialect, column: str) -> str:
    """A history file's date ('12 Jun 2019', or ISO) as a DATE; NULL when it is neither."""
    if dialect.name == "duckdb":
        return (
            f"CAST(coalesce(try_strptime({column}, '%d %b %Y'), "
            f"try_strptime(left({column}, 10), '%Y-%m-%d')) AS DATE)"
        )
    return (
        f"CASE WHEN {column} ~ '^[0-9]{{1,2}} [A-Za-z]{{3}} [0-9]{{4}}$' "
        f"THEN to_date({column}, 'DD Mon YYYY') "
        f"WHEN {column} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' "
        f"THEN to_date(left({column}, 10), 'YYYY-MM-DD') END"
    )


# -- xrefs ---------------------------------------------------------------------------------------


def xrefs_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    """One row per (cui, CURIE), with the cardinality of the mapping across the release."""

    def curie(source: str, ident_: str) -> str:
        return curie_sql(source, ident_, regex=dialect.regex_match)

    parts = []
    if "source_links" in present:
        parts.append(
            f"SELECT cui, source, source_id, 'MedGenIDMappings' AS origin, "
            f"{curie('source', 'source_id')} AS curie FROM {qname(schema, 'source_links')}"
        )
    if "concept_names" in present:
        for column in ("sdui", "code"):
            parts.append(
                f"SELECT cui, sab AS source, {column} AS source_id, "
                f"'MGCONSO.{column.upper()}' AS origin, {curie('sab', column)} AS curie "
                f"FROM {qname(schema, 'concept_names')} "
                f"WHERE {column} <> '' AND {column} <> cui AND suppress NOT IN ('O', 'E')"
            )
    if not parts:
        return None
    union = " UNION ALL ".join(parts)
    return (
        f"WITH raw AS ({union}), "
        "one AS (SELECT cui, curie, split_part(curie, ':', 1) AS prefix, "
        "min(source) AS source, min(source_id) AS source_id, "
        "string_agg(DISTINCT origin, ',' ORDER BY origin) AS origin "
        "FROM raw WHERE curie IS NOT NULL GROUP BY cui, curie), "
        "counted AS (SELECT one.*, count(*) OVER (PARTITION BY cui, prefix) AS per_cui, "
        "count(*) OVER (PARTITION BY curie) AS per_curie FROM one) "
        "SELECT cui, curie, source, source_id, origin, "
        "CASE WHEN per_curie = 1 THEN (CASE WHEN per_cui = 1 THEN '1:1' ELSE '1:n' END) "
        "ELSE (CASE WHEN per_cui = 1 THEN 'n:1' ELSE 'n:n' END) END AS cardinality "
        "FROM counted"
    )


# -- cui_status ----------------------------------------------------------------------------------

_TERM_HISTORIES = (
    ("hpo_cui_history", "hpo_id", "hpo"),
    ("mondo_cui_history", "mondo_id", "mondo"),
    ("ordo_cui_history", "ordo_id", "ordo"),
)
MAX_CHAIN = 32
"""Steps a replacement chain may take; a longer one (a cycle among retired CUIs) ends retired."""


def _term_key(column: str, kind: str) -> str:
    if kind == "ordo":
        return (
            f"CASE WHEN upper(left({column}, 9)) = 'ORPHANET_' "
            f"THEN 'ORPHA:' || substr({column}, 10) ELSE {column} END"
        )
    return column


def cui_status_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    """Every id the release knows, its status and where its replacement chain ends.

    Only ids whose CUI is not a current concept are walked: the millions of UIDs and CUIs
    that point at a current concept are answered by one join.
    """
    if "concepts" not in present:
        return None
    q = {t: qname(schema, t) for t in present}
    live = q["concepts"]
    edges = []
    if "merged_concepts" in present:
        edges.append(f"SELECT cui AS src, to_cui AS dst FROM {q['merged_concepts']}")
    if "cui_history" in present:
        edges.append(
            f"SELECT previous_cui, current_cui FROM {q['cui_history']} "
            "WHERE current_cui IS NOT NULL"
        )
    # starts: (id, id_type, cui) where cui is where the walk begins (NULL: nothing current)
    other_cuis = []
    starts = []
    actions = []
    if "merged_concepts" in present:
        other_cuis += [
            f"SELECT cui FROM {q['merged_concepts']}",
            f"SELECT to_cui FROM {q['merged_concepts']}",
        ]
    if "cui_history" in present:
        other_cuis += [
            f"SELECT previous_cui FROM {q['cui_history']}",
            f"SELECT current_cui FROM {q['cui_history']}",
        ]
        actions.append(
            f"SELECT previous_cui AS id, 'cui' AS id_type, date_of_action AS action_date "
            f"FROM {q['cui_history']}"
        )
    text = dialect.text
    if "uid_cui_history" in present:
        table = q["uid_cui_history"]
        other_cuis.append(f"SELECT cui FROM {table}")
        starts += [
            f"SELECT DISTINCT CAST(uid AS {text}), 'uid', cui FROM {table} WHERE is_current = 1",
            f"SELECT CAST(uid AS {text}), 'uid', NULL FROM {table} "
            "GROUP BY uid HAVING max(is_current) < 1",
        ]
        actions.append(f"SELECT CAST(uid AS {text}), 'uid', date FROM {table}")
    for table_name, column, kind in _TERM_HISTORIES:
        if table_name not in present:
            continue
        table, key = q[table_name], _term_key(column, kind)
        other_cuis.append(f"SELECT cui FROM {table}")
        starts += [
            f"SELECT DISTINCT {key}, '{kind}', cui FROM {table} WHERE is_current = 1",
            f"SELECT {key}, '{kind}', NULL FROM {table} GROUP BY {column} "
            "HAVING max(is_current) < 1",
        ]
        actions.append(f"SELECT {key}, '{kind}', date FROM {table}")
    cui_starts = [f"SELECT cui, 'cui', cui FROM {live}"]
    if other_cuis:
        # CUIs only the history knows: those not current concepts (the rest came first).
        cui_starts.append(
            f"SELECT cui, 'cui', cui FROM ({' UNION '.join(other_cuis)}) k(cui) "
            f"WHERE cui IS NOT NULL AND cui <> '' AND NOT EXISTS "
            f"(SELECT 1 FROM {live} c WHERE c.cui = k.cui)"
        )
    starts = cui_starts + starts
    edge_sql = " UNION ".join(edges) or f"SELECT cui, cui FROM {live} WHERE FALSE"
    acted = ""
    last_join = ""
    last_col = f"CAST(NULL AS {text})"
    if actions:
        acted = (
            ", acted AS (SELECT id, id_type, action_date FROM (SELECT id, id_type, action_date, "
            f"row_number() OVER (PARTITION BY id, id_type ORDER BY "
            f"{_parsed_date(dialect, 'action_date')} DESC NULLS LAST, action_date DESC) AS rn "
            f"FROM ({' UNION ALL '.join(actions)}) a(id, id_type, action_date)) n WHERE rn = 1)"
        )
        last_join = " LEFT JOIN acted a ON a.id = r.id AND a.id_type = r.id_type"
        last_col = "a.action_date"
    return (
        f"WITH RECURSIVE starts(id, id_type, cui) AS ({' UNION ALL '.join(starts)}), "
        # A current concept ends its chain whatever the history says of it.
        f"edges AS (SELECT DISTINCT src, dst FROM ({edge_sql}) e(src, dst) "
        "WHERE dst IS NOT NULL AND dst <> '' AND dst <> src "
        f"AND NOT EXISTS (SELECT 1 FROM {live} c WHERE c.cui = e.src)), "
        "seeds AS (SELECT DISTINCT s.cui FROM starts s WHERE s.cui IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {live} c WHERE c.cui = s.cui)), "
        "walk(origin, node, depth) AS (SELECT cui, cui, 0 FROM seeds "
        "UNION SELECT w.origin, e.dst, w.depth + 1 FROM walk w JOIN edges e ON e.src = w.node "
        f"WHERE w.depth < {MAX_CHAIN}), "
        "ends AS (SELECT w.origin, w.node AS current_cui, min(w.depth) AS chain_length "
        f"FROM walk w JOIN {live} c ON c.cui = w.node GROUP BY w.origin, w.node), "
        # Distinct concepts reached, not the deepest step: a cycle among retired CUIs
        # would otherwise count to MAX_CHAIN.
        "lengths AS (SELECT origin, count(DISTINCT node) - 1 AS chain_length FROM walk "
        "GROUP BY origin), "
        f"direct AS (SELECT s.id, s.id_type, s.cui AS current_cui FROM starts s JOIN {live} c "
        "ON c.cui = s.cui), "
        "resolved AS (SELECT id, id_type, 'current' AS status, current_cui, 0 AS chain_length "
        "FROM direct UNION ALL SELECT s.id, s.id_type, 'merged', e.current_cui, "
        "e.chain_length FROM starts s JOIN ends e ON e.origin = s.cui), "
        # Dead ends: no current CUI, or a walk that reached no current concept. An id with
        # another, live mapping is not retired (a term may map to several CUIs).
        "dead AS (SELECT s.id, s.id_type, 0 AS chain_length FROM starts s WHERE s.cui IS NULL "
        "UNION ALL SELECT s.id, s.id_type, l.chain_length FROM starts s JOIN lengths l "
        "ON l.origin = s.cui WHERE NOT EXISTS (SELECT 1 FROM ends e WHERE e.origin = s.cui)), "
        "retired AS (SELECT d.id, d.id_type, 'retired' AS status, "
        f"CAST(NULL AS {text}) AS current_cui, max(d.chain_length) AS chain_length "
        "FROM dead d WHERE NOT EXISTS (SELECT 1 FROM resolved r WHERE r.id = d.id "
        "AND r.id_type = d.id_type) GROUP BY d.id, d.id_type)"
        f"{acted} "
        "SELECT r.id, r.id_type, r.status, r.current_cui, r.chain_length, "
        f"{last_col} AS last_action_date FROM (SELECT * FROM resolved UNION ALL "
        f"SELECT * FROM retired) r{last_join}"
    )


# -- views -----------------------------------------------------------------------------------


def disease_phenotypes_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    parts = []
    null_id = f"CAST(NULL AS {dialect.identifier_text.split(' COLLATE')[0]})"
    if "hpo_omim_mappings" in present:
        parts.append(
            "SELECT omim_cui AS disease_cui, hpo_cui AS phenotype_cui, hpo_id, "
            "lower(relationship) LIKE 'not%' AS negated, "
            "lower(hpo_name) LIKE '%inheritance%' AS is_inheritance, "
            f"'MedGen_HPO_OMIM_Mapping' AS source FROM {qname(schema, 'hpo_omim_mappings')}"
        )
    if "relationships" in present:
        name = (
            f"coalesce((SELECT lower(c.preferred_name) FROM {qname(schema, 'concepts')} c "
            "WHERE c.cui = p.phenotype_cui), '') LIKE '%inheritance%'"
            if "concepts" in present
            else "FALSE"
        )
        parts.append(
            "SELECT disease_cui, phenotype_cui, hpo_id, negated, "
            f"{name} AS is_inheritance, source FROM ("
            "SELECT CASE WHEN rela = 'has_manifestation' THEN cui2 ELSE cui1 END AS disease_cui, "
            "CASE WHEN rela = 'has_manifestation' THEN cui1 ELSE cui2 END AS phenotype_cui, "
            f"{null_id} AS hpo_id, rela = 'not_manifestation_of' AS negated, "
            f"'MGREL:' || sab AS source FROM {qname(schema, 'relationships')} "
            f"WHERE rela IN {_in(MANIFESTATION_RELAS)} AND suppress IN {_KEEP} "
            "AND cui1 <> cui2) p"
        )
    if not parts:
        return None
    return (
        "SELECT disease_cui, phenotype_cui, min(hpo_id) AS hpo_id, "
        # A pair is negated only when every source that mentions it says so.
        "bool_and(negated) AS negated, bool_or(is_inheritance) AS is_inheritance, "
        "string_agg(DISTINCT source, ',' ORDER BY source) AS sources "
        f"FROM ({' UNION ALL '.join(parts)}) u GROUP BY disease_cui, phenotype_cui"
    )


def inheritance_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    parts = []
    if "relationships" in present:
        parts.append(
            "SELECT CASE WHEN rela = 'inheritance_type_of' THEN cui1 ELSE cui2 END AS disease_cui, "
            "CASE WHEN rela = 'inheritance_type_of' THEN cui2 ELSE cui1 END AS inheritance_cui, "
            f"'MGREL:' || sab AS source FROM {qname(schema, 'relationships')} "
            f"WHERE rela IN {_in(INHERITANCE_RELAS)} AND suppress IN {_KEEP} AND cui1 <> cui2"
        )
    if "hpo_omim_mappings" in present:
        parts.append(
            "SELECT omim_cui, hpo_cui, 'MedGen_HPO_OMIM_Mapping' "
            f"FROM {qname(schema, 'hpo_omim_mappings')} "
            "WHERE lower(hpo_name) LIKE '%inheritance%' AND lower(relationship) NOT LIKE 'not%'"
        )
    if not parts:
        return None
    name = (
        f"(SELECT c.preferred_name FROM {qname(schema, 'concepts')} c "
        "WHERE c.cui = i.inheritance_cui)"
        if "concepts" in present
        else f"CAST(NULL AS {dialect.text})"
    )
    return (
        f"SELECT i.disease_cui, i.inheritance_cui, {name} AS inheritance_name, i.sources "
        "FROM (SELECT disease_cui, inheritance_cui, "
        "string_agg(DISTINCT source, ',' ORDER BY source) AS sources "
        f"FROM ({' UNION ALL '.join(parts)}) u GROUP BY disease_cui, inheritance_cui) i"
    )


def hierarchy_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    del dialect
    if "relationships" not in present:
        return None
    upward = "(rela = 'inverse_isa' OR (rela = '' AND rel = 'PAR'))"
    return (
        "SELECT parent_cui, child_cui, sab, "
        "CASE WHEN bool_or(isa) THEN 'isa' ELSE 'CHD' END AS rel FROM ("
        f"SELECT CASE WHEN {upward} THEN cui2 ELSE cui1 END AS parent_cui, "
        f"CASE WHEN {upward} THEN cui1 ELSE cui2 END AS child_cui, sab, rela <> '' AS isa "
        f"FROM {qname(schema, 'relationships')} "
        "WHERE (rela IN ('isa', 'inverse_isa') OR (rela = '' AND rel IN ('CHD', 'PAR'))) "
        f"AND suppress IN {_KEEP} AND cui1 <> cui2) h GROUP BY parent_cui, child_cui, sab"
    )


def concept_cards_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    if "concepts" not in present:
        return None
    none = f"CAST(NULL AS {dialect.text})"
    entry = "d.definition || ' [' || d.source || ']'"
    definitions = (
        f"(SELECT string_agg(DISTINCT {entry}, chr(10) ORDER BY {entry}) "
        f"FROM {qname(schema, 'definitions')} d "
        "WHERE d.cui = c.cui AND d.suppress IN ('N', ''))"
        if "definitions" in present
        else none
    )
    types = (
        "(SELECT string_agg(DISTINCT t.sty, '; ' ORDER BY t.sty) "
        f"FROM {qname(schema, 'semantic_types')} t WHERE t.cui = c.cui)"
        if "semantic_types" in present
        else none
    )
    xrefs = (
        f"(SELECT string_agg(x.curie, ' ' ORDER BY x.curie) FROM {qname(schema, 'xrefs')} x "
        f"WHERE x.cui = c.cui AND split_part(x.curie, ':', 1) IN {_in(MAIN_PREFIXES)})"
        if "xrefs" in present
        else none
    )
    return (
        "SELECT c.cui, c.preferred_name AS name, c.source AS name_source, "
        f"{definitions} AS definitions, {types} AS semantic_types, {xrefs} AS xrefs "
        f"FROM {qname(schema, 'concepts')} c WHERE c.suppress IN ('N', '')"
    )


# -- functions -----------------------------------------------------------------------------


def walk_functions(dialect: Dialect, schema: str) -> list[str]:
    """``ancestors(cui)`` and ``descendants(cui)``: every concept above or below, cycle-safe.

    ``UNION`` (not ``UNION ALL``) stops the recursion at concepts already reached, so a cycle
    in the source hierarchy ends instead of looping.
    """
    hierarchy = qname(schema, "hierarchy")
    out = []
    for name, column, step, other in (
        ("ancestors", "ancestor_cui", "parent_cui", "child_cui"),
        ("descendants", "descendant_cui", "child_cui", "parent_cui"),
    ):

        def body(start: str, column: str = column, step: str = step, other: str = other) -> str:
            return (
                f"WITH RECURSIVE walk({column}) AS (SELECT h.{step} FROM {hierarchy} h "
                f"WHERE h.{other} = {start} UNION SELECT h.{step} FROM {hierarchy} h "
                f"JOIN walk w ON h.{other} = w.{column}) "
                f"SELECT w.{column} FROM walk w WHERE w.{column} <> {start}"
            )

        target = qname(schema, name)
        if dialect.name == "duckdb":
            out.append(f"CREATE OR REPLACE MACRO {target}(start_cui) AS TABLE {body('start_cui')}")
        else:
            out.append(
                f"CREATE OR REPLACE FUNCTION {target}(start_cui text) "
                f"RETURNS TABLE ({column} text) LANGUAGE sql STABLE AS "
                f"$answers$ {body('start_cui')} $answers$"
            )
    return out


# -- the whole set -------------------------------------------------------------------------

_DOC = {
    "xrefs": (
        "table",
        ("concepts",),
        ("source_links", "concept_names"),
        "Cross-references of each concept to other vocabularies, one row per (cui, curie): "
        "from MedGenIDMappings and from the SDUI and CODE of MGCONSO atoms that are not "
        "obsolete. Taken as served, never inferred through a third id. OMIM `MTHU…` codes "
        "(made by UMLS) are dropped; a `CN…` id is `MEDGEN:CN…`, never `UMLS:`.",
        (
            ("cui", "MedGen concept id"),
            (
                "curie",
                "Normalised CURIE: OMIM:, ORPHA: (from Orphanet_N), MONDO:, HP:, MESH:, "
                "SNOMEDCT:, NCIT:, MEDLINEPLUS:, MEDGEN: (CN ids), UMLS:",
            ),
            ("source", "Source name (MedGenIDMappings) or SAB (MGCONSO) it was served under"),
            ("source_id", "The id as served, e.g. Orphanet_558"),
            (
                "origin",
                "Where it came from: MedGenIDMappings, MGCONSO.SDUI, MGCONSO.CODE "
                "(comma-separated when several agree)",
            ),
            (
                "cardinality",
                "1:1, 1:n (the concept has several ids of this prefix), n:1 (the id "
                "belongs to several concepts) or n:n, across the release",
            ),
        ),
    ),
    "cui_status": (
        "table",
        ("concepts",),
        (
            "merged_concepts",
            "cui_history",
            "uid_cui_history",
            "hpo_cui_history",
            "mondo_cui_history",
            "ordo_cui_history",
        ),
        "Every id the release knows (CUIs and CN ids from any table, MedGen UIDs, HPO, MONDO "
        "and ORDO ids from the history files) with its status and the current concept its "
        "replacement chain (MERGED, then MedGen_CUI_history) ends at. One row per id and "
        f"current CUI. A chain is followed at most {MAX_CHAIN} steps and never around a cycle.",
        (
            ("id", "The id: a CUI, a UID's digits, or a CURIE (HP:…, MONDO:…, ORPHA:…)"),
            ("id_type", "cui, uid, hpo, mondo or ordo"),
            (
                "status",
                "current (a concept of this release, or mapped to one as is), merged "
                "(reaches one through replacements) or retired (reaches none)",
            ),
            ("current_cui", "The current concept it resolves to; NULL when retired"),
            ("chain_length", "Replacement steps taken to reach it (0 for a current concept)"),
            ("last_action_date", "Date of the id's latest history row, as NCBI wrote it"),
        ),
    ),
    "disease_phenotypes": (
        "view",
        (),
        ("hpo_omim_mappings", "relationships", "concepts"),
        "Phenotypic features of diseases, one row per (disease, phenotype) pair, from "
        "MedGen_HPO_OMIM_Mapping (its rows repeat once per semantic type) and MGREL "
        "manifestation_of / has_manifestation / not_manifestation_of, read in the right "
        "direction.",
        (
            ("disease_cui", "The disease"),
            ("phenotype_cui", "The feature"),
            ("hpo_id", "HPO id of the feature, when a source gives it"),
            ("negated", "True when every source says the disease does NOT have the feature"),
            ("is_inheritance", "The 'feature' is a mode of inheritance, not a phenotype"),
            ("sources", "Comma-separated: MedGen_HPO_OMIM_Mapping, MGREL:<SAB>"),
        ),
    ),
    "inheritance": (
        "view",
        (),
        ("relationships", "hpo_omim_mappings", "concepts"),
        "Modes of inheritance of diseases, from MGREL has_inheritance_type / "
        "inheritance_type_of and the inheritance rows of MedGen_HPO_OMIM_Mapping.",
        (
            ("disease_cui", "The disease"),
            ("inheritance_cui", "The mode of inheritance"),
            ("inheritance_name", "Its preferred name"),
            ("sources", "Comma-separated: MGREL:<SAB>, MedGen_HPO_OMIM_Mapping"),
        ),
    ),
    "hierarchy": (
        "view",
        ("relationships",),
        ("relationships",),
        "Parent-child links between concepts from MGREL isa / inverse_isa and plain CHD / PAR "
        "rows (partonomy rows such as part_of are left out), one row per (parent, child, "
        "source). Functions `ancestors(cui)` and `descendants(cui)` walk it, cycle-safe: "
        "`SELECT * FROM medgen.ancestors('C0220722')`.",
        (
            ("parent_cui", "The broader concept"),
            ("child_cui", "The narrower concept"),
            ("sab", "Source of the link"),
            ("rel", "isa when a source said so explicitly, CHD for a plain CHD/PAR row"),
        ),
    ),
    "concept_cards": (
        "view",
        ("concepts",),
        ("concepts", "definitions", "semantic_types", "xrefs"),
        "What a person wants on one screen: the preferred name, definitions with their "
        "source, semantic types and the main xrefs (OMIM, ORPHA, MONDO, HP, MESH) of every "
        "concept whose name is not suppressed.",
        (
            ("cui", "MedGen concept id"),
            ("name", "Preferred name"),
            ("name_source", "Source of the preferred name"),
            ("definitions", "Definitions, one a line, each followed by [its source]"),
            ("semantic_types", "Semantic types, '; '-separated"),
            ("xrefs", "Main CURIEs, space-separated"),
        ),
    ),
}

_BUILDERS = {
    "xrefs": xrefs_select,
    "cui_status": cui_status_select,
    "disease_phenotypes": disease_phenotypes_select,
    "inheritance": inheritance_select,
    "hierarchy": hierarchy_select,
    "concept_cards": concept_cards_select,
}
ORDER = tuple(_DOC)
"""Build order: the tables first (concept_cards reads xrefs)."""
TABLE_INDEXES = {"xrefs": ("cui", "curie"), "cui_status": ("id", "current_cui")}


def answers(dialect: Dialect, schema: str, present: set[str]) -> list[Answer]:
    """Every answer the tables in ``present`` allow, in build order, with its statements."""
    out = []
    have = set(present)
    for name in ORDER:
        kind, needs, uses, description, columns = _DOC[name]
        if any(table not in have for table in needs):
            continue
        select = _BUILDERS[name](dialect, schema, have)
        if select is None:
            continue
        if kind == "table":
            staged = qname(schema, STAGING_PREFIX + name)
            statements = [f"DROP TABLE IF EXISTS {staged}", f"CREATE TABLE {staged} AS {select}"]
            if dialect.name == "postgresql":
                # DuckDB scans by zone maps and cannot rename a table with an index.
                statements += [
                    f"CREATE INDEX {ident(f'{STAGING_PREFIX}{name}_{column}_idx')} "
                    f"ON {staged} ({ident(column)})"
                    for column in TABLE_INDEXES[name]
                ]
        else:
            statements = [f"CREATE OR REPLACE VIEW {qname(schema, name)} AS {select}"]
        out.append(Answer(name, kind, needs, uses, description, columns, tuple(statements)))
        have.add(name)
    if "hierarchy" in have:
        out.append(
            Answer(
                "ancestors/descendants",
                "function",
                ("relationships",),
                ("relationships",),
                "Every concept above / below a CUI in `hierarchy`.",
                statements=tuple(walk_functions(dialect, schema)),
            )
        )
    return out


def drop_statements(dialect: Dialect, schema: str) -> list[str]:
    """What removes every answer (views first: they read the tables)."""
    out = [
        f"DROP VIEW IF EXISTS {qname(schema, name)} CASCADE"
        for name in reversed(ORDER)
        if _DOC[name][0] == "view"
    ]
    out += [
        f"DROP TABLE IF EXISTS {qname(schema, name)} CASCADE"
        for name in ORDER
        if _DOC[name][0] == "table"
    ]
    if dialect.name == "duckdb":
        out += [
            f"DROP MACRO TABLE IF EXISTS {qname(schema, n)}" for n in ("ancestors", "descendants")
        ]
    else:
        out += [
            f"DROP FUNCTION IF EXISTS {qname(schema, n)}(text)"
            for n in ("ancestors", "descendants")
        ]
    return out


def views_markdown() -> str:
    """The data dictionary's section on the answers."""
    out = [
        "## Answers: views and derived tables",
        "",
        "Each load also publishes these, in the same transaction as the tables (see "
        "[Recipes](recipes.md)). Derived tables are rebuilt when a table they read changed.",
        "",
    ]
    for name in ORDER:
        kind, needs, uses, description, columns = _DOC[name]
        label = "derived table" if kind == "table" else "view"
        out += [
            f"### `{name}` ({label})",
            "",
            description,
            "",
            f"- Reads: {', '.join(f'`{t}`' for t in uses)}",
            "",
        ]
        out += ["| column | description |", "|---|---|"]
        out += [f"| `{c}` | {d} |" for c, d in columns]
        out.append("")
    return "\n".join(out).rstrip("\n")
