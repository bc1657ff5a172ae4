"""Failures of the environment, whatever raised them, as clean errors with their exit codes.

The library raises MedgenError where it knows what went wrong. What reaches the command line
otherwise is either the environment failing under it (a disk filling up, a file it may not
read, the database connection cut, memory running out) or a bug. ``classify`` names the first
kind; only the second is left as an "internal error".
"""

from __future__ import annotations

import errno
import sys
from typing import Any

from py_load_medgen.errors import DatabaseError, MedgenError, ResourceError, SourceError
from py_load_medgen.redact import redact_text

LOST = (
    "the connection to the database was lost ({detail}); nothing was published: "
    "the tables are as they were before this run"
)
LOST_HINT = "check that the server is up and reachable, then run the command again"


def connection_lost(detail: str) -> DatabaseError:
    return ConnectionLostError(LOST.format(detail=detail.strip() or "closed"), hint=LOST_HINT)


class ConnectionLostError(DatabaseError):
    """The server closed the connection, was restarted, or the session was terminated."""

    retryable = True


def disk_full(directory: object, needed: int | None = None) -> SourceError:
    more = f"; {needed:,} more bytes are needed" if needed else ""
    return SourceError(
        f"no space left on the device of {directory}{more}",
        hint="free some space there (or choose another --download-dir) and run the command "
        "again: the partial download is kept and resumed",
    )


def lost_connection(exc: BaseException) -> bool:
    """A psycopg error that means the session is gone (killed, server down or restarted)."""
    psycopg: Any = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _oserror(exc: OSError) -> MedgenError:
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(where)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SourceError(
            f"permission denied: {where} ({reason})",
            hint="check the file's owner and mode, or run as a user who may read and write it",
        )
    if exc.errno == errno.ENOMEM:
        return _out_of_memory()
    return SourceError(f"{where}: {reason}", hint="check the file or directory named")


def _out_of_memory() -> ResourceError:
    return ResourceError(
        "out of memory",
        hint="close other programs or load fewer files at once (--files); for DuckDB, set a "
        "lower memory_limit in the URI (duckdb:///file.duckdb?memory_limit=1GB)",
    )


def _driver_error(exc: BaseException) -> MedgenError | None:
    """psycopg and DuckDB errors, recognised without importing a driver that is not loaded."""
    psycopg: Any = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        message = redact_text(str(exc)).strip() or type(exc).__name__
        if lost_connection(exc):
            return connection_lost(message)
        return DatabaseError(f"database error: {message}")
    duckdb: Any = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.Error):
        message = str(exc).strip()
        if isinstance(exc, duckdb.OutOfMemoryException):
            return _out_of_memory()
        if isinstance(exc, duckdb.IOException):
            return DatabaseError(
                f"database file error: {message}",
                hint="check the DuckDB file's directory: free space, permissions, another process",
            )
        return DatabaseError(f"database error: {message}")
    return None


def classify(exc: BaseException) -> MedgenError | None:
    """The clean error for a failure of the environment, or None for a bug."""
    if isinstance(exc, MedgenError):
        return exc
    if isinstance(exc, MemoryError):
        return _out_of_memory()
    driver = _driver_error(exc)
    if driver is not None:
        return driver
    if isinstance(exc, OSError):
        return _oserror(exc)
    return None
