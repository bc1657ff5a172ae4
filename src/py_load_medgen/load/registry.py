"""Backends by URI scheme: the built-in ones registered here, others as entry points.

The built-in PostgreSQL and DuckDB backends are named in code, so a source checkout or a test
run without installed metadata finds them; entry points in the ``py_load_medgen.loaders`` group
add to them, a third party's exactly like ours. A backend's driver is imported only when its
scheme is used.
"""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points

from py_load_medgen.errors import UsageError
from py_load_medgen.load.base import Loader

GROUP = "py_load_medgen.loaders"

BUILT_IN: dict[str, str] = {
    "postgresql": "py_load_medgen.load.postgres:PostgresLoader",
    "postgres": "py_load_medgen.load.postgres:PostgresLoader",
    "duckdb": "py_load_medgen.load.duckdb:DuckDBLoader",
}
"""URI scheme -> ``module:class`` of the backends that ship with the package."""


def available() -> dict[str, EntryPoint]:
    """Known backends: URI scheme -> entry point; installed entry points add to the built-in.

    Examples:
        >>> {"duckdb", "postgres", "postgresql"} <= set(available())
        True
    """
    backends = {name: EntryPoint(name, value, GROUP) for name, value in BUILT_IN.items()}
    backends.update((ep.name, ep) for ep in entry_points(group=GROUP))
    return backends


def scheme_of(uri: str) -> str:
    """The backend's name in a database URI: ``postgresql+psycopg://`` is ``postgresql``.

    Examples:
        >>> scheme_of("duckdb:///mirror.duckdb")
        'duckdb'
    """
    # Not urlsplit: a password holding "[" or "]" makes it raise (an "invalid IPv6 URL").
    found = re.match(r"([a-z][a-z0-9+.-]*):", uri, re.IGNORECASE)
    scheme = found.group(1).lower() if found else ""
    if not scheme:
        raise UsageError(
            f"database URI {uri.split('@')[-1]!r} has no scheme",
            hint="use postgresql://user@host/db or duckdb:///path/to/file.duckdb",
        )
    return scheme.split("+", 1)[0]


def open_loader(uri: str, schema: str) -> Loader:
    """The loader for ``uri``'s scheme (not yet connected; use it as a context manager).

    Examples:
        >>> loader = open_loader("duckdb:///:memory:", "medgen")
        >>> with loader:
        ...     loader.query("SELECT 42")
        [(42,)]
    """
    scheme = scheme_of(uri)
    backends = available()
    entry = backends.get(scheme)
    if entry is None:
        installed = ", ".join(sorted(backends)) or "none"
        raise UsageError(
            f"no backend for URI scheme {scheme!r}; installed backends: {installed}",
            hint="install the package that provides it, or check the URI",
        )
    try:
        factory = entry.load()
    except ImportError as exc:
        raise UsageError(
            f"the {scheme!r} backend cannot be imported: {exc}",
            hint="for PostgreSQL install the extra: pip install 'py-load-medgen[postgres]'",
        ) from None
    loader = factory(uri, schema)
    if not isinstance(loader, Loader):
        raise UsageError(f"entry point {entry.value} for {scheme!r} did not give a Loader")
    return loader
