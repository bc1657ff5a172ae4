"""One base error; each error knows its exit code, whether a retry can help, and its context."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and the CLI reference."""

    OK = 0
    FAILURE = 1
    """Unexpected internal error (a bug): please report it."""
    USAGE = 2
    """Bad command line, configuration or environment."""
    BAD_INPUT = 3
    """A source file is malformed: wrong layout, bad rows above the limit, bad encoding..."""
    DATABASE = 4
    """The database refused or failed (connection, permissions, constraint)."""
    SOURCE = 5
    """The release could not be fetched or failed verification (network, missing file, size)."""
    LOCKED = 6
    """Another load holds the lock on this database and schema."""
    NOT_LOADED = 7
    """The operation needs a release already loaded (delta, status, verify)."""
    VERIFY_MISMATCH = 8
    """verify found the database differing from the source or the metadata."""
    RESOURCES = 9
    """The machine ran out of a resource the run needs: memory."""
    UPDATE_AVAILABLE = 10
    """check-update: the server has a newer release than the one loaded."""
    NOT_FOUND = 11
    """lookup: a query matched no concept (the cards of the others are still printed)."""
    INTERRUPTED = 130
    """SIGINT or SIGTERM: the run was rolled back."""


class MedgenError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILURE
    retryable: bool = False
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(MedgenError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """Invalid configuration value or file."""


class InputError(MedgenError):
    """Malformed source data. Carries the file, line, column and byte offset where known."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.offset = offset
        where = [p for p in (file, f"line {line}" if line is not None else None) if p]
        if column is not None:
            where.append(f"column {column}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)
        self.detail = message


class SchemaDriftError(InputError):
    """The header lacks a required column, or (with --strict-schema) has an unknown one."""


class TooManyBadRowsError(InputError):
    """More malformed rows than --max-bad-rows allows."""


class SourceError(MedgenError):
    """The release could not be obtained or did not verify."""

    exit_code = ExitCode.SOURCE


class TransientSourceError(SourceError):
    """A failure that a retry may cure: timeout, reset, 5xx, 429."""

    retryable = True


class IntegrityError(SourceError):
    """A downloaded or local file failed verification (size, gzip CRC, header, HTML page)."""


class DatabaseError(MedgenError):
    exit_code = ExitCode.DATABASE


class LockedError(DatabaseError):
    exit_code = ExitCode.LOCKED


class NotLoadedError(MedgenError):
    exit_code = ExitCode.NOT_LOADED


class VerifyMismatchError(MedgenError):
    exit_code = ExitCode.VERIFY_MISMATCH


class ResourceError(MedgenError):
    """Out of memory: the environment, not the input or the tool, stopped the run."""

    exit_code = ExitCode.RESOURCES
