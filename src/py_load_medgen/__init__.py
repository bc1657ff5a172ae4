"""py-load-medgen: keep a database an exact, up-to-date mirror of NCBI MedGen.

The library first, the command line a thin layer over it::

    import py_load_medgen

    result = py_load_medgen.load("./medgen", db_uri="duckdb:///mirror.duckdb")
    print(result.render())

Every command of the CLI is one function here (``load``, ``download``, ``status``,
``history``, ``verify``, ``check_update``, ``diff``, ``changes``, ``generate_release``,
``derive_release``, ``ddl``, ``data_dictionary``); each returns a result with ``render()``
(text) and ``to_json()``.
The answers layer (``lookup``, ``resolve``, ``export_sssom``...) is the subpackage
``py_load_medgen.answers``. Failures raise a ``MedgenError`` subclass that knows its exit
code. Everything not named in ``__all__`` is internal and may change.
"""

# Two functions share their name with a module: ``load`` (the backends' package) and
# ``verify``. Importing a submodule binds it on this package only the first time, so the
# submodules are imported here, before the functions are bound; from then on
# ``py_load_medgen.load`` is the function and ``py_load_medgen.load.base`` still imports.
from py_load_medgen import load as _backends  # noqa: F401
from py_load_medgen import verify as _verification  # noqa: F401
from py_load_medgen.api import (
    DataDictionary,
    DerivedRelease,
    GeneratedRelease,
    changes,
    check_update,
    data_dictionary,
    ddl,
    derive_release,
    diff,
    download,
    generate_release,
    history,
    load,
    split_names,
    status,
    vacuum,
    verify,
)
from py_load_medgen.checkupdate import FileCheck, UpdateCheck
from py_load_medgen.compare.report import ChangeReport
from py_load_medgen.errors import (
    ConfigError,
    DatabaseError,
    ExitCode,
    InputError,
    IntegrityError,
    LockedError,
    MedgenError,
    NotLoadedError,
    SchemaDriftError,
    SourceError,
    TooManyBadRowsError,
    TransientSourceError,
    UsageError,
    VerifyMismatchError,
)
from py_load_medgen.load.base import Loader
from py_load_medgen.load.metadata import FileRow, RunRecord, RunRow, RunStatus, TableLoad
from py_load_medgen.load.registry import open_loader
from py_load_medgen.pipeline import LoadOptions, Mode, RunResult, Strategy
from py_load_medgen.report import History, RunSummary, Status, TableStatus
from py_load_medgen.runner import DownloadResult
from py_load_medgen.source.location import DEFAULT_SOURCE
from py_load_medgen.source.mirror import DownloadSettings
from py_load_medgen.source.retry import RetryPolicy
from py_load_medgen.verify import TableCheck, Verification
from py_load_medgen.version import __version__

__all__ = [  # noqa: RUF022 - grouped by kind, as the docs list them
    # commands
    "load",
    "download",
    "status",
    "history",
    "verify",
    "check_update",
    "generate_release",
    "derive_release",
    "diff",
    "changes",
    "vacuum",
    "ddl",
    "data_dictionary",
    # lookup, resolve and the exports: the subpackage py_load_medgen.answers
    # options
    "LoadOptions",
    "Mode",
    "Strategy",
    "RunStatus",
    "DownloadSettings",
    "RetryPolicy",
    "DEFAULT_SOURCE",
    "split_names",
    # results
    "RunResult",
    "RunRecord",
    "TableLoad",
    "RunRow",
    "FileRow",
    "DownloadResult",
    "Status",
    "TableStatus",
    "History",
    "RunSummary",
    "Verification",
    "TableCheck",
    "UpdateCheck",
    "FileCheck",
    "GeneratedRelease",
    "DerivedRelease",
    "ChangeReport",
    "DataDictionary",
    # backends
    "Loader",
    "open_loader",
    # errors
    "MedgenError",
    "ExitCode",
    "UsageError",
    "ConfigError",
    "InputError",
    "SchemaDriftError",
    "TooManyBadRowsError",
    "SourceError",
    "TransientSourceError",
    "IntegrityError",
    "DatabaseError",
    "LockedError",
    "NotLoadedError",
    "VerifyMismatchError",
    "__version__",
]
