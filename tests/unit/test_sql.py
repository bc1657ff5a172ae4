from __future__ import annotations

from py_load_medgen.load import sql
from py_load_medgen.release.files import spec_for_table
from py_load_medgen.release.schema import Index, data_dictionary_markdown, indexes


def test_identifiers_are_always_quoted() -> None:
    assert sql.ident('a "b"; drop') == '"a ""b""; drop"'
    assert sql.qname("my schema", "t") == '"my schema"."t"'
    assert sql.literal("it's") == "'it''s'"


def test_create_table_postgres() -> None:
    spec = spec_for_table("concepts")
    ddl = sql.create_table(
        sql.POSTGRES, "medgen", "_staging_concepts", spec, scratch_columns=["_trailing"]
    )
    assert ddl.startswith('CREATE TABLE "medgen"."_staging_concepts" (')  # durable by default
    assert '"cui" text COLLATE "C"' in ddl and '"preferred_name" text,' in ddl
    assert '"_trailing" text' in ddl
    assert 'CONSTRAINT "concepts_cui_shape" CHECK ("cui" ~ \'^(?:C\\d{7}|CN\\d+)$\')' in ddl


def test_unlogged_is_an_explicit_choice() -> None:
    spec = spec_for_table("concepts")
    ddl = sql.create_table(sql.POSTGRES, "m", "t", spec, unlogged=True)
    assert ddl.startswith('CREATE UNLOGGED TABLE "m"."t" (')
    # DuckDB has no such tables: the option changes nothing there.
    assert sql.create_table(sql.DUCKDB, "m", "t", spec, unlogged=True).startswith("CREATE TABLE")


def test_create_table_duckdb_types() -> None:
    spec = spec_for_table("pubmed_links")
    ddl = sql.create_table(sql.DUCKDB, "m", "t", spec)
    assert ddl.startswith('CREATE TABLE "m"."t" (')
    assert '"uid" bigint' in ddl and '"cui" VARCHAR' in ddl


def test_indexes_cover_cui_columns_and_natural_keys() -> None:
    rel = indexes(spec_for_table("relationships"))
    assert Index("relationships", ("rui",), unique=True) in rel
    assert {i.columns for i in rel} == {("rui",), ("cui1",), ("cui2",)}
    assert (
        sql.create_index("m", "t", rel[0], name="x") == 'CREATE UNIQUE INDEX "x" ON "m"."t" ("rui")'
    )


def test_data_dictionary_mentions_every_table() -> None:
    text = data_dictionary_markdown()
    for table in ("concepts", "pubmed_links", "mondo_cui_history"):
        assert f"## `{table}`" in text
    assert "`CUI_or_CN_id`, `CUI` (older builds)" in text
