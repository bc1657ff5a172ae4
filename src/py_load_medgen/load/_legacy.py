"""The loader's old method names, kept while callers move to the modules that now hold them.

Until the split of the loader interface, the shared steps were methods of ``Loader``; they are
now functions of ``publish`` (staging, indexes, swap or refill) and ``metadata`` (the run
records). Code written against the methods keeps working through these delegates, and a
backend that keeps its tables its own way (the lake) overrides them; the shared functions call
back through these methods where a backend may do a step differently. A delta compared in the
database passes a ``ChangePlan`` (see ``capture``) between its steps: ``apply_delta`` and
``discard_delta`` take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from py_load_medgen.load import capture, metadata, publish
from py_load_medgen.load.capture import ChangePlan
from py_load_medgen.load.metadata import FileRow, RunRecord, RunRow, RunStatus, TableLoad
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FileSpec

if TYPE_CHECKING:
    from py_load_medgen.load.base import Loader


class LegacyLoaderMethods:
    """Delegates to ``publish`` and ``metadata`` under the names ``Loader`` used to have."""

    def _loader(self) -> Loader:
        return cast("Loader", self)

    def prepare_staging(self, specs: Sequence[FileSpec]) -> None:
        publish.prepare_staging(self._loader())

    def drop_staging(self, specs: Sequence[FileSpec]) -> None:
        publish.drop_staging(self._loader())

    def cleanup(self) -> None:
        """Remove every staging table, whichever run left it."""
        from py_load_medgen.release.files import FILES

        self._loader().drop_staging(FILES)

    def ensure_schema(self) -> None:
        publish.ensure_schema(self._loader())

    def create_staging(self, spec: FileSpec, encoded: EncodedFile) -> str:
        return publish.create_staging(self._loader(), spec, encoded)

    def staging_ddl(self, spec: FileSpec, encoded: EncodedFile) -> list[str]:
        loader = self._loader()
        return publish.create_staging_sql(
            loader.dialect, loader.schema, spec, encoded, unlogged=loader.unlogged
        )

    def drop_scratch(self, table: str, encoded: EncodedFile) -> None:
        publish.drop_scratch(self._loader(), table, encoded)

    def schema_exists(self) -> bool:
        return publish.schema_exists(self._loader())

    def finish_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        return publish.finish_staging(self._loader(), spec, encoded)

    def finish_delta_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        return publish.finish_staging(self._loader(), spec, encoded, for_delta=True)

    def apply_changes(
        self, specs: Sequence[FileSpec], *, strategy: str = "swap", unkeyed: Sequence[str] = ()
    ) -> None:
        publish.apply_changes(self._loader(), specs, strategy=strategy, unkeyed=unkeyed)

    def replace_contents(self, specs: Sequence[FileSpec], unkeyed: Sequence[str] = ()) -> None:
        publish.replace_contents(self._loader(), specs, unkeyed)

    def apply_delta(self, change: ChangePlan) -> None:
        """Inside the caller's transaction: apply one table's changes, drop its staging."""
        capture.apply(self._loader(), change)

    def discard_delta(self, change: ChangePlan) -> None:
        capture.discard(self._loader(), change)

    def ensure_metadata(self) -> None:
        publish.ensure_schema(self._loader())
        metadata.ensure(self._loader())

    def mark_abandoned_runs(self, by_run: str) -> int:
        return metadata.mark_abandoned_runs(self._loader(), by_run)

    def record_start(self, run: RunRecord) -> None:
        metadata.record_start(self._loader(), run)

    def record_success(self, run: RunRecord, loads: Sequence[TableLoad]) -> None:
        metadata.record_success(self._loader(), run, loads)

    def record_failure(self, run: RunRecord, error: str) -> None:
        metadata.record_failure(self._loader(), run, error)

    def record_changes(self, run_id: str, report: str) -> None:
        metadata.record_changes(self._loader(), run_id, report)

    def run_changes(self, run_id: str) -> str | None:
        return metadata.run_changes(self._loader(), run_id)

    def run_columns_sql(self) -> str:
        return metadata.run_columns_select(self._loader())

    def file_columns_select(self, prefix: str = "") -> str:
        return metadata.file_columns_select(self._loader(), prefix)

    def runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRow]:
        return metadata.runs(self._loader(), limit, status)

    def run_files(self, run_id: str) -> list[FileRow]:
        return metadata.run_files(self._loader(), run_id)

    def loaded_state(self) -> dict[str, FileRow]:
        return metadata.loaded_state(self._loader())
