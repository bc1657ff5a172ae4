"""Publishing and change application: their statements, tested as strings."""

from __future__ import annotations

from py_load_medgen.load import capture, changes, publish, sql
from py_load_medgen.load.capture import ChangePlan
from py_load_medgen.release.files import BY_TABLE, FILES
from py_load_medgen.release.schema import Index

CONCEPTS = BY_TABLE["concepts"]


def test_every_staging_table_is_dropped_whichever_run_left_it() -> None:
    statements = publish.drop_staging_sql('odd "s"')
    # Each file's staging table, the change sets a file comparison stages, and the derived
    # tables of the answers a full load stages beside them.
    assert len(statements) == len(FILES) + len(changes.staging_tables(FILES)) + 2
    assert statements[0] == 'DROP TABLE IF EXISTS "odd ""s"""."_staging_concepts"'
    assert statements[-2:] == [
        'DROP TABLE IF EXISTS "odd ""s"""."_staging_xref_pairs"',
        'DROP TABLE IF EXISTS "odd ""s"""."_staging_cui_chains"',
    ]


def test_staging_is_recreated_empty() -> None:
    class Encoded:
        scratch_columns = ("_trailing",)
        raw_records = False

    drop, create = publish.create_staging_sql(sql.POSTGRES, "m", CONCEPTS, Encoded())  # type: ignore[arg-type]
    assert drop == 'DROP TABLE IF EXISTS "m"."_staging_concepts"'
    assert create.startswith('CREATE TABLE "m"."_staging_concepts" (')  # durable by default
    assert '"_trailing"' in create
    _drop, unlogged = publish.create_staging_sql(
        sql.POSTGRES,
        "m",
        CONCEPTS,
        Encoded(),  # type: ignore[arg-type]
        unlogged=True,
    )
    assert unlogged.startswith('CREATE UNLOGGED TABLE "m"."_staging_concepts" (')


def test_truncate_strategy_refills_in_place() -> None:
    cols = '"cui", "preferred_name", "source", "suppress"'
    assert publish.replace_contents_sql("m", CONCEPTS) == [
        'DELETE FROM "m"."concepts"',
        f'INSERT INTO "m"."concepts" ({cols}) SELECT {cols} FROM "m"."_staging_concepts"',
        'DROP TABLE "m"."_staging_concepts"',
    ]


def test_staged_index_names_and_schema_question() -> None:
    assert publish.staged_index(Index("concepts", ("cui",), unique=True)).startswith("_staging_")
    assert publish.schema_exists_sql("?") == (
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?"
    )


def test_a_change_plan_carries_everything_apply_and_discard_need() -> None:
    statements = sql.keyed_changes("m", CONCEPTS, ("cui",))
    plan = ChangePlan(CONCEPTS, ("cui",), statements)
    assert capture.apply_sql("m", plan) == [
        *statements.apply,
        'DROP TABLE "m"."_staging_concepts"',
    ]
    assert capture.discard_sql("m", plan) == [
        *statements.cleanup,
        'DROP TABLE IF EXISTS "m"."_staging_concepts"',
    ]


def test_whole_row_plans_take_the_backends_slices() -> None:
    class Sliced:
        schema = "m"

        def change_slices(self, spec: object, staged_rows: int) -> tuple[str, ...]:
            return ("\"cui\" < 'C5'", "\"cui\" >= 'C5'") if staged_rows > 10 else ()

    small = capture.plan(Sliced(), CONCEPTS, None, 5)  # type: ignore[arg-type]
    big = capture.plan(Sliced(), CONCEPTS, None, 50)  # type: ignore[arg-type]
    assert small.statements == sql.multiset_changes("m", CONCEPTS)
    assert big.statements == sql.multiset_changes(
        "m", CONCEPTS, ("\"cui\" < 'C5'", "\"cui\" >= 'C5'")
    )
    assert big.statements != small.statements
    keyed = capture.plan(Sliced(), CONCEPTS, ("cui",), 50)  # type: ignore[arg-type]
    assert keyed.statements == sql.keyed_changes("m", CONCEPTS, ("cui",))
