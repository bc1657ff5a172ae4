"""Backends by URI scheme, registered as entry points in the ``py_load_medgen.loaders`` group.

The built-in PostgreSQL and DuckDB backends register exactly as a third-party one would, and a
backend's driver is imported only when its scheme is used.
"""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points

from py_load_medgen.errors import UsageError
from py_load_medgen.load.base import Loader

GROUP = "py_load_medgen.loaders"


def available() -> dict[str, EntryPoint]:
    """Installed backends: URI scheme -> entry point."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def scheme_of(uri: str) -> str:
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
    """The loader for ``uri``'s scheme (not yet connected)."""
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
