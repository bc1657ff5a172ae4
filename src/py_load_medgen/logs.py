"""Structured logging to stderr: readable text, or one JSON object per line.

Every record carries the run id, the release and the phase of the run it belongs to, taken
from context variables that the pipeline sets, so no call site has to pass them along.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from py_load_medgen.redact import environment_secrets, redact_text, secrets_of

RUN_ID: ContextVar[str | None] = ContextVar("run_id", default=None)
RELEASE: ContextVar[str | None] = ContextVar("release", default=None)
PHASE: ContextVar[str | None] = ContextVar("phase", default=None)

_SECRETS: list[str] = []
_FORMAT: list[str] = []  # the format of this command's logs, once setup_logging has run
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    """A value (a password) that must never reach a log line."""
    if value:
        _SECRETS.append(value)


def forget_secrets() -> None:
    """A new command starts with none: an embedding process (or a test run) runs many, and
    one command's password must not blank out the text of the next."""
    _SECRETS.clear()


def register_secrets(*uris: str | None) -> None:
    """Remember the passwords of these URIs and of the environment (PGPASSWORD, .pgpass)."""
    for uri in uris:
        for secret in secrets_of(uri):
            register_secret(secret)
    for secret in environment_secrets():
        register_secret(secret)


def scrub(text: str) -> str:
    return redact_text(text, tuple(_SECRETS))


def chosen_format() -> str:
    """The log format of this command ("text" until the command says otherwise)."""
    return _FORMAT[0] if _FORMAT else "text"


def preset_format(argv: list[str]) -> None:
    """The log format as the command line or environment asks, before the command parses
    its options: an error can come before the command sets up its logging."""
    import os

    fmt = os.environ.get("MEDGEN_LOG_FORMAT", "text")
    for i, arg in enumerate(argv):
        if arg.startswith("--log-format="):
            fmt = arg.split("=", 1)[1]
        elif arg == "--log-format" and i + 1 < len(argv):
            fmt = argv[i + 1]
    _FORMAT[:] = [fmt]


def final_message(level: str, message: str, **fields: Any) -> str:
    """The last line(s) a command writes to stderr (an error and its hint) in the log format."""
    message = scrub(message)
    if chosen_format() != "json":
        lines = [message]
        if fields.get("hint"):
            lines.append(f"hint: {scrub(str(fields['hint']))}")
        return "\n".join(lines)
    event: dict[str, Any] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": "py_load_medgen",
        "message": message,
        "run_id": RUN_ID.get(),
    }
    for key, value in fields.items():
        if value is not None:
            event[key] = scrub(value) if isinstance(value, str) else value
    return json.dumps(event, default=str)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    from py_load_medgen import events

    events.emit("phase", phase=name)
    token = PHASE.set(name)
    try:
        yield
    finally:
        PHASE.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID.get()
        record.release = RELEASE.get()
        record.phase = PHASE.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                event[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            event["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(event, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        where = " ".join(f"[{v}]" for v in (getattr(record, "phase", None),) if v)
        line = f"{stamp} {record.levelname:<7} {where + ' ' if where else ''}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    A live progress display swaps ``sys.stderr`` for a proxy that prints above its bars (and
    test harnesses swap it for a capture); a handler holding the original stream would write
    through both.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    # Each command starts outside any run: a run id left by an earlier command in the same
    # process (tests, embedding applications) must not stamp this command's records.
    for var in (RUN_ID, RELEASE, PHASE):
        var.set(None)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_medgen", False):
            root.removeHandler(handler)
    _FORMAT[:] = [fmt]
    handler = _StderrHandler()
    handler._medgen = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("psycopg", "urllib3", "pyftpdlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
