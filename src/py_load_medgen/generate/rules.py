"""One row rule per table: the columns it produces and its generator of row groups."""

from __future__ import annotations

from dataclasses import dataclass

from py_load_medgen.generate.concepts import (
    _concept_names,
    _concepts,
    _definitions,
    _merged,
    _semantic_types,
)
from py_load_medgen.generate.history import _cui_history, _ontology_history, _uid_cui_history
from py_load_medgen.generate.mappings import (
    _hpo_mappings,
    _hpo_omim,
    _pubmed_links,
    _source_links,
    _sources,
)
from py_load_medgen.generate.relations import _attributes, _relationships
from py_load_medgen.generate.world import _RowsFn


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
