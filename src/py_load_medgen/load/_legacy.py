"""The loader's old method names, kept while callers move to the modules that now hold them.

Until the split of the loader interface, the shared steps were methods of ``Loader``; they are
now functions of ``publish`` (staging, indexes, swap or refill) and ``metadata`` (the run
records). Code written against the methods keeps working through these delegates; new code
calls the functions. Change application has no delegates: it now passes a ``ChangePlan``
between its steps (see ``changes``), which the old signatures cannot carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from py_load_medgen.load import metadata, publish
from py_load_medgen.load.metadata import FileRow, RunRecord, RunRow, RunStatus, TableLoad
from py_load_medgen.parse.stream import EncodedFile
from py_load_medgen.release.files import FileSpec

if TYPE_CHECKING:
    from py_load_medgen.load.base import Loader


class LegacyLoaderMethods:
    """Delegates to ``publish`` and ``metadata`` under the names ``Loader`` used to have."""

    def _loader(self) -> Loader:
        return cast("Loader", self)

    def prepare_staging(self, specs: Sequence[FileSpec] = ()) -> None:
        publish.prepare_staging(self._loader())

    def drop_staging(self, specs: Sequence[FileSpec] = ()) -> None:
        publish.drop_staging(self._loader())

    def cleanup(self) -> None:
        publish.drop_staging(self._loader())

    def ensure_schema(self) -> None:
        publish.ensure_schema(self._loader())

    def create_staging(self, spec: FileSpec, encoded: EncodedFile) -> str:
        return publish.create_staging(self._loader(), spec, encoded)

    def finish_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        return publish.finish_staging(self._loader(), spec, encoded)

    def finish_delta_staging(self, spec: FileSpec, encoded: EncodedFile) -> tuple[str, ...] | None:
        return publish.finish_staging(self._loader(), spec, encoded, for_delta=True)

    def apply_changes(self, specs: Sequence[FileSpec], *, strategy: str = "swap") -> None:
        publish.apply_changes(self._loader(), specs, strategy=strategy)

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

    def runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRow]:
        return metadata.runs(self._loader(), limit, status)

    def run_files(self, run_id: str) -> list[FileRow]:
        return metadata.run_files(self._loader(), run_id)

    def loaded_state(self) -> dict[str, FileRow]:
        return metadata.loaded_state(self._loader())
