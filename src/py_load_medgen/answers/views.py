"""The answers every load publishes beside the tables: views, two derived tables, two functions.

Every statement is built by a pure function of the dialect, the schema and the tables present,
so a release loaded in part (``--files``) still gets every answer its tables allow, and the SQL
is tested as strings (``tests/unit/test_answers_sql.py``) as well as against both databases.

Two views rest on derived tables, because a view alone cannot meet the lookup target:
``xrefs`` on ``xref_pairs`` (every id normalised to a CURIE once, indexed on ``cui`` and
``curie``) and ``cui_status`` on ``cui_chains`` (the replacement chains, walked once). A full
load builds them from its staging tables before publishing (``answers/publish.py``), and the
publishing transaction swaps them in like a loaded table, so user views and grants on them
survive and no reader ever sees a release without them; a delta rebuilds, inside its
transaction, those whose input rows it changed. The views are (re)created in the same
transaction, after the swap, with ``CREATE OR REPLACE``. ORDO ids, served as
``Orphanet_N`` and answered as ``ORPHA:N``, get an index on that expression
(``KEY_INDEXES``), so every kind of id ``lookup`` takes is an index probe.

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
from py_load_medgen.load.sql import (
    ANSWER_INDEX_SUFFIX,
    STAGING_PREFIX,
    Dialect,
    ident,
    literal,
    qname,
)

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


def _read(schema: str, table: str, staged: frozenset[str]) -> str:
    """The table a derived table reads: this load's staging table when it staged one (a full
    load builds its derived tables before publishing), else the production table."""
    return qname(schema, STAGING_PREFIX + table if table in staged else table)


def xref_pairs_select(
    dialect: Dialect,
    schema: str,
    present: set[str],
    staged: frozenset[str] = frozenset(),
    cuis: str | None = None,
) -> str | None:
    """One row per (cui, CURIE) as served, the CURIE normalised once, at load time.

    ``cuis``, a query of CUIs: only their rows (a delta refreshes the pairs of the concepts
    whose rows it changed; each pair comes from one row of one table, so a concept's pairs
    depend on that concept's rows alone)."""

    def curie(source: str, ident_: str) -> str:
        return curie_sql(source, ident_, regex=dialect.regex_match)

    only = f" AND cui IN ({cuis})" if cuis else ""
    parts = []
    if "source_links" in present:
        parts.append(
            f"SELECT cui, source, source_id, 'MedGenIDMappings' AS origin, "
            f"{curie('source', 'source_id')} AS curie FROM {_read(schema, 'source_links', staged)}"
            + (f" WHERE cui IN ({cuis})" if cuis else "")
        )
    if "concept_names" in present:
        # An atom whose CODE equals its SDUI (HPO, ORDO, MONDO) is normalised once.
        names = _read(schema, "concept_names", staged)
        keep = "suppress NOT IN ('O', 'E')"
        parts += [
            f"SELECT cui, sab, sdui, CASE WHEN code = sdui THEN 'MGCONSO.BOTH' "
            f"ELSE 'MGCONSO.SDUI' END, {curie('sab', 'sdui')} FROM {names} "
            f"WHERE sdui <> '' AND sdui <> cui AND {keep}{only}",
            f"SELECT cui, sab, code, 'MGCONSO.CODE', {curie('sab', 'code')} FROM {names} "
            f"WHERE code <> '' AND code <> cui AND code <> sdui AND {keep}{only}",
        ]
    if not parts:
        return None
    # No aggregate at all: the rows go in as normalised, and ``xrefs`` groups the few rows a
    # query asks for. OFFSET 0 keeps the CURIE computed once per row: without it PostgreSQL
    # pushes the IS NOT NULL test into each branch and evaluates the whole CASE twice, which
    # made up half of the build.
    return (
        f"SELECT cui, curie, split_part(curie, ':', 1) AS prefix, source, source_id, origin "
        f"FROM ({' UNION ALL '.join(parts)} OFFSET 0) raw(cui, source, source_id, origin, curie) "
        "WHERE curie IS NOT NULL"
    )


def refresh_statements(
    dialect: Dialect, schema: str, present: set[str], name: str, cuis: str
) -> list[str] | None:
    """The statements that bring derived table ``name`` up to date in place when only the
    concepts that ``cuis`` (a query) lists changed; None where the table must be rebuilt.

    Only ``xref_pairs`` qualifies: its rows are per-row projections keyed by CUI. Rebuilding
    it whole cost a delta at scale 1.0 3.7 s (the CURIE of 1.5 M rows, two indexes) whatever
    the number of changed rows; ``cui_chains`` follows links across concepts, and costs
    0.08 s to rebuild.
    """
    if name != "xref_pairs" or name not in present:
        return None
    select = xref_pairs_select(dialect, schema, present, cuis=cuis)
    if select is None:
        return None
    table = qname(schema, name)
    columns = "cui, curie, prefix, source, source_id, origin"
    return [
        f"DELETE FROM {table} WHERE cui IN ({cuis})",
        f"INSERT INTO {table} ({columns}) {select}",
    ]


def xrefs_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    """One row per (cui, CURIE) with the cardinality of the mapping across the release.

    Grouped and counted at query time through the pairs' indexes (no window function): a
    filter on ``cui`` or ``curie`` costs a few index probes, and nothing is built at load.
    """
    del dialect
    if "xref_pairs" not in present:
        return None
    pairs = qname(schema, "xref_pairs")
    origin = ", ".join(
        f"CASE WHEN bool_or(origin IN ({', '.join(literal(o) for o in served)})) "
        f"THEN {literal(name)} END"
        for name, served in (
            ("MGCONSO.CODE", ("MGCONSO.CODE", "MGCONSO.BOTH")),
            ("MGCONSO.SDUI", ("MGCONSO.SDUI", "MGCONSO.BOTH")),
            ("MedGenIDMappings", ("MedGenIDMappings",)),
        )
    )
    per_cui = (
        f"(SELECT count(DISTINCT a.curie) FROM {pairs} a "
        "WHERE a.cui = p.cui AND a.prefix = p.prefix)"
    )
    per_curie = f"(SELECT count(DISTINCT b.cui) FROM {pairs} b WHERE b.curie = p.curie)"
    return (
        "SELECT p.cui, p.curie, p.source, p.source_id, p.origin, "
        f"CASE WHEN {per_curie} = 1 THEN (CASE WHEN {per_cui} = 1 THEN '1:1' ELSE '1:n' END) "
        f"ELSE (CASE WHEN {per_cui} = 1 THEN 'n:1' ELSE 'n:n' END) END AS cardinality "
        "FROM (SELECT cui, curie, prefix, min(source) AS source, min(source_id) AS source_id, "
        f"concat_ws(',', {origin}) AS origin FROM {pairs} GROUP BY cui, curie, prefix) p"
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


def cui_chains_select(
    dialect: Dialect, schema: str, present: set[str], staged: frozenset[str] = frozenset()
) -> str | None:
    """Where each CUI that MERGED or MedGen_CUI_history replaces ends: a few thousand rows,
    walked once per load so that ``cui_status`` answers one id with index probes."""
    del dialect
    if "concepts" not in present:
        return None
    q = {t: _read(schema, t, staged) for t in present}
    live = q["concepts"]
    edges = []
    if "merged_concepts" in present:
        edges.append(f"SELECT cui, to_cui FROM {q['merged_concepts']}")
    if "cui_history" in present:
        edges.append(f"SELECT previous_cui, current_cui FROM {q['cui_history']}")
    edge_sql = " UNION ".join(edges) or f"SELECT cui, cui FROM {live} WHERE FALSE"
    return (
        "WITH RECURSIVE "
        # A current concept ends its chain whatever the history says of it.
        f"edges AS (SELECT DISTINCT src, dst FROM ({edge_sql}) e(src, dst) "
        "WHERE dst IS NOT NULL AND dst <> '' AND dst <> src "
        f"AND NOT EXISTS (SELECT 1 FROM {live} c WHERE c.cui = e.src)), "
        "walk(origin, node, depth) AS (SELECT DISTINCT src, src, 0 FROM edges "
        "UNION SELECT w.origin, e.dst, w.depth + 1 FROM walk w JOIN edges e ON e.src = w.node "
        f"WHERE w.depth < {MAX_CHAIN}), "
        "ends AS (SELECT w.origin, w.node AS current_cui, min(w.depth) AS chain_length "
        f"FROM walk w JOIN {live} c ON c.cui = w.node GROUP BY w.origin, w.node), "
        # Distinct concepts reached, not the deepest step: a cycle among retired CUIs
        # would otherwise count to MAX_CHAIN.
        "lengths AS (SELECT origin, count(DISTINCT node) - 1 AS chain_length FROM walk "
        "GROUP BY origin) "
        "SELECT origin, current_cui, chain_length FROM ends UNION ALL "
        "SELECT l.origin, NULL, l.chain_length FROM lengths l "
        "WHERE NOT EXISTS (SELECT 1 FROM ends e WHERE e.origin = l.origin)"
    )


def cui_status_select(dialect: Dialect, schema: str, present: set[str]) -> str | None:
    """Every id the release knows, its status and where its replacement chain ends.

    A view, not a table: only the CUIs that MERGED or MedGen_CUI_history replace are walked
    (a few thousand), so the walk costs milliseconds per query and nothing at load time, and a
    filter on ``id`` reaches the tables' indexes. One row per id and CUI it maps to (a
    current-mapping row of a history file, or the CUI itself).
    """
    if "concepts" not in present or "cui_chains" not in present:
        return None
    q = {t: qname(schema, t) for t in present}
    live = q["concepts"]
    text = dialect.text

    def parsed(column: str) -> str:
        return _parsed_date(dialect, column)

    acted = "CAST(NULL AS DATE)"
    if "cui_history" in present:
        acted = (
            f"(SELECT max({parsed('h.date_of_action')}) FROM {q['cui_history']} h "
            "WHERE h.previous_cui = k.cui)"
        )
    other_cuis = [f"SELECT {c} FROM {q[t]}" for t, c in _history_cuis(present)]
    no_uid = f"CAST(NULL AS {dialect.bigint})"
    starts = [f"SELECT k.cui, 'cui', k.cui, {acted}, {no_uid} FROM {live} k"]
    if other_cuis:
        # CUIs only the history knows (not current concepts): retired or replaced.
        starts.append(
            f"SELECT k.cui, 'cui', k.cui, {acted}, {no_uid} "
            f"FROM ({' UNION '.join(other_cuis)}) k(cui) "
            f"WHERE k.cui IS NOT NULL AND k.cui <> '' AND NOT EXISTS "
            f"(SELECT 1 FROM {live} c WHERE c.cui = k.cui)"
        )
    histories = [("uid_cui_history", "uid", f"CAST(uid AS {text})", "uid")]
    histories += [(t, c, _term_key(c, k), k) for t, c, k in _TERM_HISTORIES]
    for table_name, column, key, kind in histories:
        if table_name not in present:
            continue
        table = q[table_name]
        uid = "uid" if kind == "uid" else no_uid
        starts += [
            f"SELECT {key}, '{kind}', cui, {parsed('date')}, {uid} FROM {table} "
            "WHERE is_current = 1",
            # An id none of whose rows is current is retired as of its latest row.
            f"SELECT {key}, '{kind}', CAST(NULL AS {text}), max({parsed('date')}), {uid} "
            f"FROM {table} GROUP BY {column} HAVING max(is_current) < 1",
        ]
    return (
        f"WITH starts(id, id_type, cui, last_action_date, uid) AS ({' UNION ALL '.join(starts)}) "
        "SELECT s.id, s.id_type, CASE WHEN c.cui IS NOT NULL THEN 'current' "
        "WHEN e.current_cui IS NOT NULL THEN 'merged' ELSE 'retired' END AS status, "
        "coalesce(c.cui, e.current_cui) AS current_cui, CASE WHEN c.cui IS NOT NULL THEN 0 "
        "ELSE coalesce(e.chain_length, 0) END AS chain_length, "
        f"s.last_action_date, s.uid FROM starts s LEFT JOIN {live} c ON c.cui = s.cui "
        f"LEFT JOIN {qname(schema, 'cui_chains')} e ON e.origin = s.cui"
    )


def _history_cuis(present: set[str]) -> list[tuple[str, str]]:
    """The (table, column) pairs whose CUIs ``cui_status`` knows beyond the current concepts."""
    out = []
    for table_name, columns in (
        ("merged_concepts", ("cui", "to_cui")),
        ("cui_history", ("previous_cui", "current_cui")),
        ("uid_cui_history", ("cui",)),
        *((t, ("cui",)) for t, _c, _k in _TERM_HISTORIES),
    ):
        if table_name in present:
            out += [(table_name, c) for c in columns]
    return out


def resolve_select(dialect: Dialect, schema: str, present: set[str], ids: str) -> str | None:
    """The rows ``cui_status`` holds for each id of the table ``ids`` (``ord``, ``key``,
    ``kind``, as ``resolve`` uploads them), as ``(ord, status, current_cui)``; an id the view
    does not know has no row, and CURIEs also reach their concepts through ``xref_pairs``.

    The view's rules, driven by the ids: joined to the view, a bulk resolve made the server
    build every id's status first (2.3 million rows at scale 1.0, most of them retired UIDs
    grouped by uid) and sort it, twice. Here each id reaches the rows of its own key: a CUI
    is probed in ``concepts`` and, only when not current, in the history columns (indexed);
    UIDs and term ids join their history's rows, with no grouping. A history row that is
    not current answers retired with no CUI: ``resolve`` keeps the best status and the
    distinct current CUIs of an id's rows, so such a row changes the answer only when the id
    has no current row, which is when the view's ``max(is_current) < 1`` group says retired.
    Only a row above 1 (never served) makes that group say nothing, hence the NOT IN.
    """
    if "concepts" not in present or "cui_chains" not in present:
        return None
    q = {t: qname(schema, t) for t in present}
    live = q["concepts"]

    def known(cui: str) -> str:
        # OR short-circuits: the history probes run only for CUIs that are not current.
        probes = [f"EXISTS (SELECT 1 FROM {live} c WHERE c.cui = {cui})"]
        history = _history_cuis(present)
        probes += [f"EXISTS (SELECT 1 FROM {q[t]} h WHERE h.{c} = {cui})" for t, c in history]
        return "(" + " OR ".join(probes) + ")"

    starts = [f"SELECT i.ord, i.key FROM {ids} i WHERE i.kind = 'cui' AND {known('i.key')}"]
    if "xref_pairs" in present:
        starts.append(
            f"SELECT i.ord, x.cui FROM {ids} i JOIN {q['xref_pairs']} x ON x.curie = i.key "
            f"WHERE i.kind = 'curie' AND {known('x.cui')}"
        )

    def answering(table_name: str, column: str, key: str) -> str:
        # The rows of a history that answer its ids: the current ones, and the retired ones of
        # ids with no row above 1 (an uncorrelated NOT IN: one hash of the few such ids).
        table = q[table_name]
        return (
            f"SELECT {key} AS id, CASE WHEN h.is_current = 1 THEN h.cui END AS cui "
            f"FROM {table} h WHERE h.is_current = 1 OR (h.is_current < 1 AND h.{column} "
            f"NOT IN (SELECT g.{column} FROM {table} g WHERE g.is_current > 1 "
            f"AND g.{column} IS NOT NULL))"
        )

    if "uid_cui_history" in present:
        # A UID's digits as the bigint the table holds; longer than any bigint, no UID at all.
        uid = f"CASE WHEN length(i.key) < 19 THEN CAST(i.key AS {dialect.bigint}) END"
        starts.append(
            f"SELECT i.ord, h.cui FROM {ids} i JOIN "
            f"({answering('uid_cui_history', 'uid', 'h.uid')}) h "
            f"ON h.id = {uid} WHERE i.kind = 'uid'"
        )
    terms = [answering(t, c, _term_key(f"h.{c}", k)) for t, c, k in _TERM_HISTORIES if t in present]
    if terms:
        # Term ids are CURIEs (HP:, MONDO:, ORPHA:): only an id parsed as one can match them.
        starts.append(
            f"SELECT i.ord, h.cui FROM {ids} i JOIN ({' UNION ALL '.join(terms)}) h "
            "ON h.id = i.key WHERE i.kind = 'curie'"
        )
    return (
        f"SELECT s.ord, CASE WHEN c.cui IS NOT NULL THEN 'current' "
        "WHEN e.current_cui IS NOT NULL THEN 'merged' ELSE 'retired' END AS status, "
        f"coalesce(c.cui, e.current_cui) AS current_cui FROM ({' UNION ALL '.join(starts)}) "
        f"s(ord, cui) LEFT JOIN {live} c ON c.cui = s.cui "
        f"LEFT JOIN {qname(schema, 'cui_chains')} e ON e.origin = s.cui"
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
        f"(SELECT string_agg(DISTINCT x.curie, ' ' ORDER BY x.curie) "
        f"FROM {qname(schema, 'xref_pairs')} x "
        f"WHERE x.cui = c.cui AND x.prefix IN {_in(MAIN_PREFIXES)})"
        if "xref_pairs" in present
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
    "xref_pairs": (
        "table",
        (),
        ("source_links", "concept_names"),
        "What `xrefs` reads: one row per (cui, CURIE, origin), each CURIE normalised once when "
        "the release is published, indexed on `cui` and `curie`. Query `xrefs`.",
        (
            ("cui", "MedGen concept id"),
            ("curie", "Normalised CURIE"),
            ("prefix", "Its prefix (OMIM, ORPHA, MONDO...)"),
            ("source", "Source or SAB it was served under"),
            ("source_id", "The id as served"),
            (
                "origin",
                "MedGenIDMappings, MGCONSO.SDUI, MGCONSO.CODE, or MGCONSO.BOTH (an atom "
                "whose SDUI and CODE are the same id)",
            ),
        ),
    ),
    "xrefs": (
        "view",
        ("xref_pairs",),
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
    "cui_chains": (
        "table",
        ("concepts",),
        ("concepts", "merged_concepts", "cui_history"),
        "What `cui_status` reads: where the chain of each CUI that MERGED or MedGen_CUI_history "
        f"replaces ends (followed at most {MAX_CHAIN} steps, never around a cycle), walked once "
        "per load. Query `cui_status`.",
        (
            ("origin", "A replaced CUI"),
            ("current_cui", "The current concept its chain reaches; NULL when none"),
            ("chain_length", "Steps to reach it (concepts reached, for a dead end)"),
        ),
    ),
    "cui_status": (
        "view",
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
        "replacement chain (MERGED, then MedGen_CUI_history) ends at. A view: only the CUIs "
        "those two files replace are walked, at query time, at most "
        f"{MAX_CHAIN} steps and never around a cycle. One row per id and CUI it maps to (an "
        "id with two current rows in a history file has two).",
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
            (
                "last_action_date",
                "Date of the id's latest action in the history files (DATE, "
                "from NCBI's '12 Jun 2019'); NULL when they do not mention it",
            ),
            (
                "uid",
                "The UID as a number, on UID rows: `WHERE id_type = 'uid' AND uid = 123` "
                "reaches the history's index, where `id = '123'` reads all of it",
            ),
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
        ("concepts", "definitions", "semantic_types", "xref_pairs"),
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

_TABLE_BUILDERS = {"xref_pairs": xref_pairs_select, "cui_chains": cui_chains_select}
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
TABLE_INDEXES = {"xref_pairs": ("cui", "curie"), "cui_chains": ("origin",)}


@dataclass(frozen=True)
class KeyIndex:
    """An index the answers add to a loaded table, on the id as ``cui_status`` serves it, so
    that a lookup of that id is an index probe rather than a scan of the whole history."""

    table: str
    expression: str

    @property
    def name(self) -> str:
        return f"{self.table}_{ANSWER_INDEX_SUFFIX.lstrip('_')}"

    def statement(self, schema: str, *, staged: bool) -> str:
        """CREATE INDEX on the table, or on its staging table under the name the swap gives
        back (PostgreSQL only: DuckDB cannot rename a table that has an index)."""
        prefix = STAGING_PREFIX if staged else ""
        return (
            f"CREATE INDEX {ident(prefix + self.name)} ON "
            f"{qname(schema, prefix + self.table)} (({self.expression}))"
        )


KEY_INDEXES = tuple(
    KeyIndex(table, _term_key(column, kind))
    for table, column, kind in _TERM_HISTORIES
    if _term_key(column, kind) != column  # a plain column has its index from the schema
)


def answers(
    dialect: Dialect, schema: str, present: set[str], staged: frozenset[str] = frozenset()
) -> list[Answer]:
    """Every answer the tables in ``present`` allow, in build order, with its statements.

    ``staged``: tables a full load has staged and not yet published; the derived tables are
    then built from those staging tables (and from the production tables of the others).
    """
    out = []
    have = set(present)
    for name in ORDER:
        kind, needs, uses, description, columns = _DOC[name]
        if any(table not in have for table in needs):
            continue
        if kind == "table":
            select = _TABLE_BUILDERS[name](dialect, schema, have, staged)
        else:
            select = _BUILDERS[name](dialect, schema, have)
        if select is None:
            continue
        if kind == "table":
            target = qname(schema, STAGING_PREFIX + name)
            # Logged like every table a load publishes by default: a server crash or a failover
            # must not empty the answers while the tables they come from survive.
            statements = [
                f"DROP TABLE IF EXISTS {target}",
                f"CREATE TABLE {target} AS {select}",
            ]
            if dialect.name == "postgresql":
                # DuckDB scans by zone maps and cannot rename a table with an index.
                statements += [
                    f"CREATE INDEX {ident(f'{STAGING_PREFIX}{name}_{column}_idx')} "
                    f"ON {target} ({ident(column)})"
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
