"""The change-capture statements, as strings: portable SQL, quoted names, exact semantics."""

from __future__ import annotations

from py_load_medgen.load import sql
from py_load_medgen.release.files import spec_for_table


def test_keyed_changes_match_on_the_key_and_compare_the_rest() -> None:
    spec = spec_for_table("concepts")
    changes = sql.keyed_changes('we"ird', spec, ("cui",))
    prod, stage = '"we""ird"."concepts"', '"we""ird"."_staging_concepts"'
    assert changes.count_inserted == (
        f"SELECT count(*) FROM {stage} s WHERE NOT EXISTS "
        f'(SELECT 1 FROM {prod} p WHERE p."cui" = s."cui")'
    )
    assert changes.apply[0] == (
        f"DELETE FROM {prod} p WHERE NOT EXISTS "
        f'(SELECT 1 FROM {stage} s WHERE p."cui" = s."cui")'
    )
    update = changes.apply[1]
    assert update.startswith(f'UPDATE {prod} p SET "preferred_name" = s."preferred_name", ')
    assert 's."suppress" IS DISTINCT FROM p."suppress"' in update
    assert '"cui" = s."cui"' not in update.split(" FROM ")[0]  # the key is never rewritten
    assert changes.prepare == () and changes.cleanup == ()


def test_multiset_changes_aggregate_both_releases_once() -> None:
    spec = spec_for_table("pubmed_links")
    changes = sql.multiset_changes("m", spec)
    cols = '"uid", "cui", "name", "pmid"'
    assert changes.prepare == (
        f'CREATE TEMP TABLE "_delta_diff_pubmed_links" AS SELECT {cols}, sum(side) AS n FROM ('
        f'SELECT {cols}, 1 AS side FROM "m"."pubmed_links" UNION ALL '
        f'SELECT {cols}, -1 AS side FROM "m"."_staging_pubmed_links") u '
        f"GROUP BY {cols} HAVING sum(side) <> 0",
    )
    assert changes.count_updated is None
    assert changes.count_deleted.endswith("WHERE n > 0")
    delete, insert = changes.apply
    assert delete.startswith('DELETE FROM "m"."pubmed_links" t WHERE EXISTS')
    assert 'd."pmid" = t."pmid"' in delete
    assert insert.startswith(
        f'INSERT INTO "m"."pubmed_links" ({cols}) SELECT {cols} FROM "m"."_staging'
    )
    assert changes.cleanup == ('DROP TABLE IF EXISTS "_delta_diff_pubmed_links"',)


def test_optional_columns_compare_null_safely() -> None:
    changes = sql.multiset_changes("m", spec_for_table("sources"))
    assert 'd."url" IS NOT DISTINCT FROM t."url"' in changes.apply[0]
    assert 'd."source" = t."source"' in changes.apply[0]
