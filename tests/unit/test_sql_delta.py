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


def test_multiset_changes_use_except_all_and_replace_shrunk_rows() -> None:
    spec = spec_for_table("pubmed_links")
    changes = sql.multiset_changes("m", spec)
    cols = '"uid", "cui", "name", "pmid"'
    assert changes.prepare[0] == (
        f'CREATE TEMP TABLE "_delta_gone_pubmed_links" AS SELECT {cols} FROM "m"."pubmed_links" '
        f'EXCEPT ALL SELECT {cols} FROM "m"."_staging_pubmed_links"'
    )
    assert changes.count_updated is None
    delete, reinsert, insert = changes.apply
    assert delete.startswith('DELETE FROM "m"."pubmed_links" t WHERE EXISTS')
    assert 'd."pmid" = t."pmid"' in delete
    assert reinsert.startswith(
        f'INSERT INTO "m"."pubmed_links" ({cols}) SELECT {cols} FROM "m"."_staging'
    )
    assert insert.endswith('FROM "_delta_added_pubmed_links"')
    assert len(changes.cleanup) == 3


def test_optional_columns_compare_null_safely() -> None:
    changes = sql.multiset_changes("m", spec_for_table("sources"))
    assert 'd."url" IS NOT DISTINCT FROM t."url"' in changes.apply[0]
    assert 'd."source" = t."source"' in changes.apply[0]
