"""``lookup``: concept cards for ids of any kind or for free text.

An id (``C…``, ``CN…``, a UID, ``OMIM:154700``, ``ORPHA:558``, ``MONDO:…``, ``HP:…``,
``MESH:…``) is resolved through ``cui_status`` and ``xrefs`` to the current concepts; anything
else is a case-insensitive name search over preferred names and MGCONSO strings whose names
are not suppressed, ranked: exact names first, then names that start with the text, then by
similarity (``pg_trgm`` on PostgreSQL where the extension exists, the length difference
otherwise; Jaro-Winkler on DuckDB), preferred names before synonyms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from py_load_medgen.answers.curies import cui_curie, parse_id
from py_load_medgen.answers.db import Target, connected, present, require, table
from py_load_medgen.answers.views import MAIN_PREFIXES
from py_load_medgen.load.base import Loader


@dataclass
class ConceptCard:
    cui: str
    name: str | None
    status: str
    """Status of what was asked for: current, merged (asked for a replaced id) or retired."""
    query: str
    matched: str | None = None
    """The name that matched a text search, or the id that was asked for."""
    curie: str = ""
    definitions: list[dict[str, str]] = field(default_factory=list)
    semantic_types: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cui": self.cui,
            "curie": self.curie,
            "name": self.name,
            "status": self.status,
            "query": self.query,
            "matched": self.matched,
            "semantic_types": self.semantic_types,
            "definitions": self.definitions,
            "xrefs": self.xrefs,
        }

    def render(self) -> str:
        lines = [f"{self.cui}  {self.name or '(no name)'}"]
        if self.status != "current" or self.matched not in (None, self.cui):
            lines.append(f"  asked: {self.query} ({self.status})")
        if self.semantic_types:
            lines.append(f"  types: {'; '.join(self.semantic_types)}")
        main = [x for x in self.xrefs if x.split(":", 1)[0] in MAIN_PREFIXES]
        if main:
            lines.append(f"  xrefs: {' '.join(main)}")
        for definition in self.definitions[:3]:
            text = " ".join(definition["text"].split())
            lines.append(f"  def:   {text[:300]} [{definition['source']}]")
        return "\n".join(lines)


@dataclass
class LookupResult:
    cards: list[ConceptCard]
    not_found: list[str]

    def to_json(self) -> list[dict[str, Any]]:
        return [card.to_json() for card in self.cards]

    def render(self) -> str:
        parts = [card.render() for card in self.cards]
        parts += [f"{q}: nothing found" for q in self.not_found]
        return "\n\n".join(parts)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def lookup(
    target: Target, queries: Sequence[str], *, schema: str = "medgen", limit: int = 10
) -> LookupResult:
    """Concept cards for each query: an id of any kind, or free text."""
    with connected(target, schema) as loader:
        have = present(loader)
        require(loader, have, "concepts")
        cards: list[ConceptCard] = []
        not_found: list[str] = []
        for query in queries:
            hits = _ids(loader, have, query) if parse_id(query) else _search(loader, query, limit)
            if not hits:
                not_found.append(query)
            cards += [
                ConceptCard(cui, None, status, query, matched, cui_curie(cui))
                for cui, status, matched in hits
            ]
        _fill(loader, have, cards)
        return LookupResult(cards, not_found)


def _ids(loader: Loader, have: set[str], query: str) -> list[tuple[str, str, str | None]]:
    parsed = parse_id(query)
    if parsed is None:
        return []
    p = loader.placeholder
    found: dict[str, str] = {}
    # The id_type (and, for a UID, the number) lets the view's filter reach one history
    # file's index instead of reading every branch.
    kind: str | None = None
    params: tuple[object, ...]
    if parsed.kind == "uid":
        where, params = f"id_type = 'uid' AND uid = {p}", (int(parsed.key),)
    elif parsed.kind == "cui":
        where, params = f"id_type = 'cui' AND id = {p}", (parsed.key,)
    else:
        kind = {"HP": "hpo", "MONDO": "mondo", "ORPHA": "ordo"}.get(parsed.key.split(":")[0])
        where, params = f"id_type = '{kind}' AND id = {p}", (parsed.key,)
    if "cui_status" in have and (parsed.kind != "curie" or kind is not None):
        rows = loader.query(
            f"SELECT status, current_cui FROM {table(loader, 'cui_status')} WHERE {where}",
            params,
        )
        for status, current in rows:
            if current is not None:
                found.setdefault(current, status)
        if rows and not found:
            return [(parsed.key, "retired", parsed.key)] if parsed.kind == "cui" else []
    elif parsed.kind == "cui":
        rows = loader.query(
            f"SELECT cui FROM {table(loader, 'concepts')} WHERE cui = {p}", (parsed.key,)
        )
        found.update({cui: "current" for (cui,) in rows})
    if parsed.kind == "curie" and "xref_pairs" in have:
        # Two steps, not a join: a join into the cui_status view would compute all of it.
        cuis = [
            cui
            for (cui,) in loader.query(
                f"SELECT DISTINCT cui FROM {table(loader, 'xref_pairs')} WHERE curie = {p}",
                (parsed.key,),
            )
        ]
        statuses: dict[str, tuple[str, str]] = {}
        if cuis and "cui_status" in have:
            marks = ", ".join(p for _ in cuis)
            for cui, status, current in loader.query(
                f"SELECT id, status, current_cui FROM {table(loader, 'cui_status')} "
                f"WHERE id_type = 'cui' AND id IN ({marks})",
                cuis,
            ):
                if current is not None:
                    statuses[cui] = (current, status)
        for cui in cuis:
            current, status = statuses.get(cui, (cui, "current"))
            found.setdefault(current, status)
    return [(cui, status, parsed.key) for cui, status in sorted(found.items())]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _trigram_schema(loader: Loader) -> str | None:
    if loader.dialect.name != "postgresql":
        return None
    rows = loader.query(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )
    return str(rows[0][0]) if rows else None


def _search(loader: Loader, text: str, limit: int) -> list[tuple[str, str, str | None]]:
    words = text.split()
    if not words:
        return []
    p = loader.placeholder
    have = present(loader)
    match = " AND ".join(f"name ILIKE {p} ESCAPE '\\'" for _ in words)
    sources = [
        f"SELECT cui, preferred_name AS name, 0 AS synonym FROM {table(loader, 'concepts')} "
        "WHERE suppress IN ('N', '')"
    ]
    if "concept_names" in have:
        sources.append(
            f"SELECT cui, str, 1 FROM {table(loader, 'concept_names')} WHERE suppress IN ('N', '')"
        )
    trigram = _trigram_schema(loader)
    if loader.dialect.name == "duckdb":
        similarity = f"jaro_winkler_similarity(lower(name), lower({p}))"
    elif trigram:
        similarity = f'"{trigram}".similarity(name, {p})'
    else:
        similarity = f"-abs(length(name) - length({p}))"
    statement = (
        f"SELECT cui, name, CASE WHEN lower(name) = lower({p}) THEN 0 "
        f"WHEN lower(name) LIKE lower({p}) ESCAPE '\\' THEN 1 ELSE 2 END AS tier, "
        f"{similarity} AS score, synonym FROM ("
        f"{' UNION ALL '.join(sources)}) n WHERE {match}"
    )
    ranked = (
        "SELECT cui, name FROM (SELECT cui, name, row_number() OVER (PARTITION BY cui "
        "ORDER BY tier, synonym, score DESC, name) AS rn, tier, synonym, score "
        f"FROM ({statement}) m) r WHERE rn = 1 ORDER BY tier, synonym, score DESC, name, cui "
        f"LIMIT {int(limit)}"
    )
    params = [text, text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    params += [text] + [_like(w) for w in words]
    rows = loader.query(ranked, params)
    return [(cui, "current", name) for cui, name in rows]


def _fill(loader: Loader, have: set[str], cards: Iterable[ConceptCard]) -> None:
    """Names, definitions, semantic types and xrefs of the cards' concepts, a query each."""
    by_cui: dict[str, list[ConceptCard]] = {}
    for card in cards:
        by_cui.setdefault(card.cui, []).append(card)
    if not by_cui:
        return
    cuis = sorted(by_cui)
    marks = ", ".join(loader.placeholder for _ in cuis)

    def rows(statement: str) -> list[tuple[Any, ...]]:
        return loader.query(statement, cuis)

    for cui, name in rows(
        f"SELECT cui, preferred_name FROM {table(loader, 'concepts')} WHERE cui IN ({marks})"
    ):
        for card in by_cui[cui]:
            card.name = name
    if "definitions" in have:
        for cui, text, source in rows(
            f"SELECT DISTINCT cui, definition, source FROM {table(loader, 'definitions')} "
            f"WHERE cui IN ({marks}) AND suppress IN ('N', '') ORDER BY cui, source, definition"
        ):
            for card in by_cui[cui]:
                card.definitions.append({"source": source, "text": text})
    if "semantic_types" in have:
        for cui, sty in rows(
            f"SELECT DISTINCT cui, sty FROM {table(loader, 'semantic_types')} "
            f"WHERE cui IN ({marks}) ORDER BY cui, sty"
        ):
            for card in by_cui[cui]:
                card.semantic_types.append(sty)
    if "xref_pairs" in have:
        for cui, curie in rows(
            f"SELECT DISTINCT cui, curie FROM {table(loader, 'xref_pairs')} WHERE cui IN ({marks}) "
            "ORDER BY cui, curie"
        ):
            for card in by_cui[cui]:
                card.xrefs.append(curie)
