"""Where a release is: the one place that tells a local directory from a server's URL.

``load``, ``verify``, ``download`` and ``check-update`` all take a ``--source``; each asks here
whether it is remote, so a ``file://`` URL or a bare path means the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_SOURCE = "https://ftp.ncbi.nlm.nih.gov/pub/medgen/"
"""NCBI's release directory, used when no source is given."""

REMOTE_SCHEMES = ("https", "http", "ftp")


def is_remote(location: str) -> bool:
    """Whether ``location`` is fetched over the network (anything with a scheme but ``file``).

    Examples:
        >>> is_remote("ftp://ftp.ncbi.nlm.nih.gov/pub/medgen/"), is_remote("./medgen")
        (True, False)
        >>> is_remote("file:///data/medgen")
        False
    """
    return "://" in location and not location.lower().startswith("file://")


def local_path(location: str) -> Path:
    """The directory a local ``location`` names: a path, or the path of a ``file://`` URL.

    Examples:
        >>> local_path("file:///data/medgen").as_posix()
        '/data/medgen'
    """
    if location.lower().startswith("file://"):
        return Path(unquote(urlsplit(location).path))
    return Path(location)
