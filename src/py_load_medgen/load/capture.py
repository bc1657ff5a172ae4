"""Applying a delta compared in the database: count and apply one table's changes between
production and staging (a file comparison's change sets are ``changes``).

Everything a step needs is passed to it: ``plan`` decides the statements once (with the
backend's ``change_slices`` for a big whole-row comparison) and the ``ChangePlan`` it returns
is what ``count``, ``apply`` and ``discard`` are given, so no loader carries state from one
call to the next. The statements themselves come from the pure functions of ``sql.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from py_load_medgen.load import sql
from py_load_medgen.release.files import FileSpec

if TYPE_CHECKING:
    from py_load_medgen.load.base import Loader


@dataclass(frozen=True)
class ChangePlan:
    """One table's change capture: matched on ``key``, or as whole rows when it is None."""

    spec: FileSpec
    key: tuple[str, ...] | None
    statements: sql.ChangeSql


def plan(
    loader: Loader, spec: FileSpec, key: tuple[str, ...] | None, staged_rows: int
) -> ChangePlan:
    """The statements that count and apply ``spec``'s changes, decided once."""
    if key:
        return ChangePlan(spec, key, sql.keyed_changes(loader.schema, spec, key))
    slices = loader.change_slices(spec, staged_rows)
    return ChangePlan(spec, None, sql.multiset_changes(loader.schema, spec, slices))


def apply_sql(schema: str, change: ChangePlan) -> list[str]:
    """Inside the publishing transaction: apply the changes, then drop the staging table."""
    drop = f"DROP TABLE {sql.qname(schema, sql.staging_name(change.spec.table))}"
    return [*change.statements.apply, drop]


def discard_sql(schema: str, change: ChangePlan) -> list[str]:
    """Remove what counting the changes left behind, and the staging table."""
    stage = sql.qname(schema, sql.staging_name(change.spec.table))
    return [*change.statements.cleanup, f"DROP TABLE IF EXISTS {stage}"]


def count(loader: Loader, change: ChangePlan, staged_rows: int) -> dict[str, int]:
    """Inserted, updated, deleted and unchanged rows between production and staging."""
    statements = change.statements
    with loader.transaction():
        for statement in statements.prepare:
            loader.execute(statement)
    for table in statements.temp_tables:
        loader.analyze_temp(table)
    inserted = int(loader.query(statements.count_inserted)[0][0])
    deleted = int(loader.query(statements.count_deleted)[0][0])
    updated = int(loader.query(statements.count_updated)[0][0]) if statements.count_updated else 0
    return {
        "inserted": inserted,
        "updated": updated,
        "deleted": deleted,
        "unchanged": staged_rows - inserted - updated,
    }


def apply(loader: Loader, change: ChangePlan) -> None:
    """Inside the caller's transaction: apply one table's changes and drop its staging."""
    for statement in apply_sql(loader.schema, change):
        loader.execute(statement)


def discard(loader: Loader, change: ChangePlan) -> None:
    with loader.transaction():
        for statement in discard_sql(loader.schema, change):
            loader.execute(statement)
