"""The run metadata's statements, tested as strings, and its typed records."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone

from py_load_medgen.load import metadata, sql
from py_load_medgen.load.metadata import FileRow, RunRow


def test_records_have_the_tables_columns_in_order() -> None:
    assert tuple(f.name for f in fields(RunRow)) == sql.RUN_COLUMNS
    assert tuple(f.name for f in fields(FileRow)) == sql.FILE_COLUMNS


def test_a_row_becomes_a_typed_record_with_utc_times() -> None:
    naive = datetime(2026, 1, 7, 16, 30)  # DuckDB hands back naive UTC
    cet = datetime(2026, 1, 7, 18, 0, tzinfo=timezone(timedelta(hours=1)))
    run = RunRow.from_row(
        (
            "r1",
            "full",
            "swap",
            "succeeded",
            naive,
            cet,
            "1.0",
            "./m",
            None,
            "concepts",
            "[]",
            None,
            "h",
            None,
        )
    )
    assert run.started_at == datetime(2026, 1, 7, 16, 30, tzinfo=UTC)
    assert run.finished_at == datetime(2026, 1, 7, 17, 0, tzinfo=UTC)
    assert run.seconds == 1800.0
    # Code written against the old dicts keeps working.
    assert run["mode"] == "full" and run.get("error_message") is None
    assert run.get("error_message", "none") == "none"
    file = FileRow.from_row(("r1", "concepts", *([None] * 15), "cui,sab", None, True, "file", None))
    assert file.key == ("cui", "sab") and file.skipped is True
    assert file.compare_method == "file" and run.lock_wait_seconds is None


def test_a_schema_of_an_older_version_reads_null_for_columns_it_lacks() -> None:
    assert metadata.select_list(("a", "b"), {"a"}, "f") == 'f."a", NULL AS "b"'
    assert metadata.select_list(("a", "b")) == '"a", "b"'
    statement = metadata.run_files_sql("m", "?", metadata.select_list(sql.FILE_COLUMNS, set()))
    assert statement.startswith('SELECT NULL AS "run_id", NULL AS "table_name"')


def test_runs_statement() -> None:
    statement = metadata.runs_sql("medgen", "%s", limit=5, by_status=True)
    columns = ", ".join(f'"{c}"' for c in sql.RUN_COLUMNS)
    assert statement == (
        f'SELECT {columns} FROM "medgen"."etl_runs" WHERE status = %s '
        "ORDER BY started_at DESC LIMIT 5"
    )
    assert "WHERE" not in metadata.runs_sql("medgen", "?", limit=1, by_status=False)


def test_statements_quote_names_and_use_the_placeholder() -> None:
    odd = 'my "odd"; schema'
    assert metadata.runs_by_id_sql(odd, "?", 3).endswith(
        'FROM "my ""odd""; schema"."etl_runs" WHERE run_id IN (?, ?, ?)'
    )
    assert metadata.run_files_sql("medgen", "$1").endswith(
        'FROM "medgen"."etl_run_files" WHERE run_id = $1 ORDER BY table_name'
    )
    assert metadata.file_totals_sql("medgen", "%s", 2) == (
        'SELECT run_id, count(*), sum("rows_loaded"), sum("rows_rejected"), '
        'sum("rows_inserted"), sum("rows_updated"), sum("rows_deleted"), '
        'sum("rows_unchanged") FROM "medgen"."etl_run_files" WHERE run_id IN (%s, %s) '
        "GROUP BY run_id"
    )
    assert metadata.fail_running_sql("medgen", "%s") == (
        """UPDATE "medgen"."etl_runs" SET status = 'failed', error_message = %s, """
        "finished_at = %s WHERE status = 'running'"
    )
    assert metadata.fail_run_sql("medgen", "?").endswith("finished_at = ? WHERE run_id = ?")
    assert metadata.delete_run_sql("medgen", "?") == (
        'DELETE FROM "medgen"."etl_runs" WHERE run_id = ?'
    )
    assert metadata.running_sql("medgen") == (
        """SELECT run_id FROM "medgen"."etl_runs" WHERE status = 'running'"""
    )


def test_succeeded_files_replay_oldest_first() -> None:
    statement = metadata.succeeded_files_sql("medgen")
    assert statement.startswith('SELECT f."run_id", f."table_name",')
    assert statement.endswith(
        'r.mode FROM "medgen"."etl_run_files" f JOIN "medgen"."etl_runs" r '
        "ON r.run_id = f.run_id WHERE r.status = 'succeeded' "
        "ORDER BY r.started_at, f.table_name"
    )
