"""The change-capture statements, as strings: portable SQL, quoted names, exact semantics."""

from __future__ import annotations

from py_load_medgen.load import sql
from py_load_medgen.release.files import spec_for_table


def test_keyed_changes_classify_keys_in_one_full_join() -> None:
    spec = spec_for_table("concepts")
    changes = sql.keyed_changes('we"ird', spec, ("cui",))
    prod, stage = '"we""ird"."concepts"', '"we""ird"."_staging_concepts"'
    keys = '"_delta_keys_concepts"'
    (prepare,) = changes.prepare
    assert prepare.startswith(
        f'CREATE TEMP TABLE {keys} AS SELECT coalesce(p."cui", s."cui") AS "cui", '
        """CASE WHEN p."cui" IS NULL THEN 'i' WHEN s."cui" IS NULL THEN 'd' ELSE 'u' END AS kind """
        f'FROM {prod} p FULL JOIN {stage} s ON p."cui" = s."cui" WHERE '
    )
    assert 's."suppress" IS DISTINCT FROM p."suppress"' in prepare
    assert changes.count_inserted == f"SELECT count(*) FROM {keys} WHERE kind = 'i'"
    assert changes.count_updated == f"SELECT count(*) FROM {keys} WHERE kind = 'u'"
    delete, update, insert = changes.apply
    assert delete == (
        f"DELETE FROM {prod} p WHERE EXISTS "
        f"""(SELECT 1 FROM {keys} c WHERE c.kind = 'd' AND p."cui" = c."cui")"""
    )
    assert update.startswith(f'UPDATE {prod} p SET "preferred_name" = s."preferred_name", ')
    assert '"cui" = s."cui"' not in update.split(" FROM ")[0]  # the key is never rewritten
    assert update.endswith("""WHERE c.kind = 'u' AND p."cui" = c."cui" AND s."cui" = c."cui\"""")
    assert insert.startswith(f'INSERT INTO {prod} ("cui", "preferred_name"')
    assert changes.temp_tables == ("_delta_keys_concepts",)
    assert changes.cleanup == (f"DROP TABLE IF EXISTS {keys}",)


def test_multiset_changes_aggregate_both_releases_once() -> None:
    spec = spec_for_table("pubmed_links")
    changes = sql.multiset_changes("m", spec)
    cols = '"uid", "cui", "name", "pmid"'
    assert changes.prepare == (
        f'CREATE TEMP TABLE "_delta_diff_pubmed_links" AS SELECT {cols}, '
        "CAST(sum(side) AS bigint) AS n, count(*) FILTER (WHERE side < 0) AS copies FROM ("
        f'SELECT {cols}, 1 AS side FROM "m"."pubmed_links" UNION ALL '
        f'SELECT {cols}, -1 AS side FROM "m"."_staging_pubmed_links") u '
        f"GROUP BY {cols} HAVING sum(side) <> 0",
    )
    assert changes.count_updated is None
    assert changes.count_deleted.endswith("WHERE n > 0")
    delete, insert = changes.apply
    assert delete.startswith(
        'DELETE FROM "m"."pubmed_links" t WHERE EXISTS '
        '(SELECT 1 FROM "_delta_diff_pubmed_links" d WHERE d.n > 0 AND '
    )
    assert 'd."pmid" = t."pmid"' in delete
    assert insert == (
        f'INSERT INTO "m"."pubmed_links" ({cols}) SELECT d."uid", d."cui", d."name", d."pmid" '
        'FROM "_delta_diff_pubmed_links" d, '
        "generate_series(1, CASE WHEN d.n > 0 THEN d.copies ELSE -d.n END) g"
    )
    assert "_staging_" not in insert  # the rows to add come from the diff alone
    assert changes.cleanup == ('DROP TABLE IF EXISTS "_delta_diff_pubmed_links"',)


def test_optional_columns_compare_null_safely() -> None:
    changes = sql.multiset_changes("m", spec_for_table("sources"))
    assert 'd."url" IS NOT DISTINCT FROM t."url"' in changes.apply[0]
    assert 'd."source" = t."source"' in changes.apply[0]


def test_multiset_changes_in_slices_create_then_add_one_range_at_a_time() -> None:
    spec = spec_for_table("pubmed_links")
    slices = ('("uid" < 10 OR "uid" IS NULL)', '"uid" >= 10')
    first, second = sql.multiset_changes("m", spec, slices).prepare
    assert first.startswith('CREATE TEMP TABLE "_delta_diff_pubmed_links" AS SELECT ')
    assert second.startswith('INSERT INTO "_delta_diff_pubmed_links" SELECT ')
    for statement, where in zip((first, second), slices, strict=True):
        # the same range on both sides: a row and its copy are always aggregated together
        assert f'FROM "m"."pubmed_links" WHERE {where} UNION ALL' in statement
        assert f'FROM "m"."_staging_pubmed_links" WHERE {where}) u' in statement
    whole = sql.multiset_changes("m", spec)
    assert sql.multiset_changes("m", spec, slices).apply == whole.apply
