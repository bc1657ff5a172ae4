"""The answers' SQL as strings, and the CURIE rules in Python and SQL agreeing."""

from __future__ import annotations

import duckdb
import pytest

from py_load_medgen.answers.curies import CURIE, cui_curie, curie_sql, parse_id
from py_load_medgen.answers.views import (
    KEY_INDEXES,
    ORDER,
    TABLE_INDEXES,
    answers,
    cui_status_select,
    drop_statements,
    hierarchy_select,
    inheritance_select,
    views_markdown,
)
from py_load_medgen.load.sql import ANSWER_INDEX_SUFFIX, DERIVED_TABLES, DUCKDB, POSTGRES
from py_load_medgen.release.files import FILES

ALL = {s.table for s in FILES}

SERVED = [
    # (source, id as served, CURIE or None)
    ("OMIM", "154700", "OMIM:154700"),
    ("OMIM", "MTHU000123", None),
    ("OMIM", "100800.0001", "OMIM:100800.0001"),
    ("Orphanet", "Orphanet_558", "ORPHA:558"),
    ("ORDO", "Orphanet_558", "ORPHA:558"),
    ("Orphanet", "558", "ORPHA:558"),
    ("MONDO", "MONDO:0007947", "MONDO:0007947"),
    ("HPO", "HP:0001166", "HP:0001166"),
    ("HPO", "1166", "HP:0001166"),
    ("MeSH", "D008382", "MESH:D008382"),
    ("MSH", "D008382", "MESH:D008382"),
    ("SNOMEDCT_US", "19346006", "SNOMEDCT:19346006"),
    ("NCI", "C3380", "NCIT:C3380"),
    ("GTR", "CN000010", "MEDGEN:CN000010"),
    ("UMLS", "C0024796", "UMLS:C0024796"),
    ("GTR", "12345", None),
    ("OMIM", "", None),
]


@pytest.mark.parametrize(("source", "served", "expected"), SERVED)
def test_curie_sql_normalises(source: str, served: str, expected: str | None) -> None:
    statement = "SELECT " + curie_sql("s", "i", regex=DUCKDB.regex_match) + " FROM t"
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE t (s VARCHAR, i VARCHAR)")
        conn.execute("INSERT INTO t VALUES (?, ?)", [source, served])
        assert conn.execute(statement).fetchall() == [(expected,)]
    if expected is not None:
        assert CURIE.match(expected)
        # the CURIE, and a prefixed id as served, reach the same key in Python
        for typed in (expected, served) if (":" in served or "_" in served) else (expected,):
            parsed = parse_id(typed)
            assert parsed is not None
            assert parsed.key == (served if parsed.kind == "cui" else expected)


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("C0024796", "cui", "C0024796"),
        ("CN000010", "cui", "CN000010"),
        ("UMLS:C0024796", "cui", "C0024796"),
        ("MEDGEN:CN000010", "cui", "CN000010"),
        ("  7890 ", "uid", "7890"),
        ("MEDGEN:7890", "uid", "7890"),
        ("OMIM:154700", "curie", "OMIM:154700"),
        ("mim:154700", "curie", "OMIM:154700"),
        ("ORPHA:558", "curie", "ORPHA:558"),
        ("Orphanet_558", "curie", "ORPHA:558"),
        ("hp:1166", "curie", "HP:0001166"),
        ("MONDO:7947", "curie", "MONDO:0007947"),
        ("MESH:d008382", "curie", "MESH:D008382"),
        ("SNOMEDCT_US:19346006", "curie", "SNOMEDCT:19346006"),
    ],
)
def test_parse_id(text: str, kind: str, key: str) -> None:
    parsed = parse_id(text)
    assert parsed is not None and (parsed.kind, parsed.key) == (kind, key)


@pytest.mark.parametrize("text", ["marfan syndrome", "OMIM:MTHU000001", "Marfan: type 1", ""])
def test_free_text_is_not_an_id(text: str) -> None:
    assert parse_id(text) is None


def test_cn_ids_are_never_umls() -> None:
    assert cui_curie("CN000010") == "MEDGEN:CN000010"
    assert cui_curie("C0024796") == "UMLS:C0024796"


def test_mgrel_read_as_cui2_rela_of_cui1() -> None:
    inheritance = inheritance_select(POSTGRES, "medgen", {"relationships"})
    assert inheritance is not None
    assert "CASE WHEN rela = 'inheritance_type_of' THEN cui1 ELSE cui2 END AS disease_cui" in (
        inheritance
    )
    hierarchy = hierarchy_select(POSTGRES, "medgen", {"relationships"})
    assert hierarchy is not None
    assert (
        "CASE WHEN (rela = 'inverse_isa' OR (rela = '' AND rel = 'PAR')) THEN cui2 ELSE cui1 END "
        "AS parent_cui" in hierarchy
    )
    assert "part_of" not in hierarchy


@pytest.mark.parametrize("dialect", [POSTGRES, DUCKDB])
def test_every_answer_with_every_table(dialect: object) -> None:
    made = answers(dialect, 'my "odd" schema', ALL)  # type: ignore[arg-type]
    assert [a.name for a in made] == [*ORDER, "ancestors/descendants"]
    for answer in made:
        assert answer.statements
        for statement in answer.statements:
            assert '"my ""odd"" schema".' in statement
    tables = {a.name: a for a in made if a.kind == "table"}
    assert set(tables) == {"xref_pairs", "cui_chains"}  # what views cannot serve fast enough
    has_index = any("CREATE INDEX" in s for s in tables["xref_pairs"].statements)
    assert has_index == (dialect is POSTGRES)  # DuckDB cannot rename an indexed table


def test_answers_need_their_tables() -> None:
    names = [a.name for a in answers(POSTGRES, "medgen", {"concepts"})]
    assert names == ["cui_chains", "cui_status", "concept_cards"]
    assert answers(POSTGRES, "medgen", {"pubmed_links"}) == []
    only_rel = [a.name for a in answers(DUCKDB, "medgen", {"relationships"})]
    assert only_rel == ["disease_phenotypes", "inheritance", "hierarchy", "ancestors/descendants"]


def test_drop_statements_cover_everything() -> None:
    text = "\n".join(drop_statements(POSTGRES, "medgen"))
    for name in ORDER:
        assert f'"medgen"."{name}"' in text


def test_views_markdown_documents_every_answer() -> None:
    text = views_markdown()
    for name in ORDER:
        assert f"### `{name}`" in text
    assert "`ancestors(cui)`" in text


def test_derived_tables_are_the_ones_staging_cleanup_knows() -> None:
    made = answers(POSTGRES, "medgen", ALL)
    assert {a.name for a in made if a.kind == "table"} == set(DERIVED_TABLES) == set(TABLE_INDEXES)


def test_a_full_load_builds_derived_tables_from_its_staging_tables() -> None:
    made = answers(POSTGRES, "m", ALL, staged=frozenset({"concept_names", "concepts"}))
    pairs = "\n".join(next(a for a in made if a.name == "xref_pairs").statements)
    assert '"m"."_staging_concept_names"' in pairs and '"m"."concept_names"' not in pairs
    assert '"m"."source_links"' in pairs  # not staged by this load: read as published
    chains = "\n".join(next(a for a in made if a.name == "cui_chains").statements)
    assert '"m"."_staging_concepts"' in chains and '"m"."merged_concepts"' in chains
    views = [s for a in made if a.kind == "view" for s in a.statements]
    assert views and not any("_staging_" in s for s in views)  # views read what is published


def test_key_indexes_match_the_ids_cui_status_serves() -> None:
    """The planner uses an expression index only for the very expression of the query."""
    view = cui_status_select(POSTGRES, "medgen", ALL | {"cui_chains"})
    assert view is not None
    assert [i.table for i in KEY_INDEXES] == ["ordo_cui_history"]  # HP and MONDO ids as served
    for index in KEY_INDEXES:
        assert f"SELECT {index.expression}, 'ordo'" in view
        assert index.name.endswith(ANSWER_INDEX_SUFFIX)
        staged = index.statement("m", staged=True)
        assert staged.startswith(f'CREATE INDEX "_staging_{index.name}" ON "m"."_staging_')


def test_resolve_keys_parse_like_parse_id() -> None:
    """resolve inlines parse_id's CUI and UID rules; the keys must be parse_id's keys."""
    from py_load_medgen.answers.resolution import _keys

    texts = ["C0000001", "C0000001\n", " C0000001", "CN12", "c0000001", "0042", "42 ", "\u0663"]
    texts += ["", "HP:1250", "UMLS:C0000001", "Orphanet_558", "nonsense", "99999999999999999999"]
    for n, text, key, kind in _keys(texts):
        parsed = parse_id(text)
        assert texts[n] == text
        assert (key, kind) == ((parsed.key, parsed.kind) if parsed else (None, "none")), text
