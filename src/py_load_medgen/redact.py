"""Keep secrets out of every message: URIs and libpq connection strings lose their passwords.

A password may hold any byte, ``/ # ? @ :`` and spaces included, typed raw or percent-encoded.
``urlsplit`` ends the user-info at the first ``/ # ?``, so a password holding one of them would
be taken for a host or a path and printed. Here the user-info runs from the scheme to the
*last* ``@`` of the URI: a wrong guess hides too much, never too little. Every password the
tool is given is also remembered (``secrets_of``) and replaced wherever it appears, which
catches the pieces a driver may echo from a URI it split differently.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

MASK = "***"

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)
# In free text a URI ends at white space; its user-info ends at the last "@" before that.
_URI_IN_TEXT = re.compile(r"([a-z][a-z0-9+.-]*://)(\S*)@", re.IGNORECASE)


def split_uri(uri: str) -> tuple[str, str | None, str]:
    """``(scheme://, user-info or None, rest)`` with the user-info ending at the last ``@``."""
    match = _SCHEME.match(uri)
    if match is None or "@" not in uri[match.end() :]:
        return (match.group(0) if match else ""), None, uri[match.end() if match else 0 :]
    head = match.group(0)
    userinfo, rest = uri[match.end() :].rsplit("@", 1)
    return head, userinfo, rest


def _masked_userinfo(userinfo: str) -> str:
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}" if colon else user


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by ``***`` (and query-string passwords too)."""
    if not _SCHEME.match(uri):
        return _KV_PASSWORD.sub(rf"\1{MASK}", uri)
    head, userinfo, rest = split_uri(uri)
    rest = _KV_PASSWORD.sub(rf"\1{MASK}", rest)
    if userinfo is None:
        return head + rest
    return f"{head}{_masked_userinfo(userinfo)}@{rest}"


def public_uri(uri: str) -> str:
    """A source URL as it may be shown or stored: no user-info at all, no password parameter."""
    if not _SCHEME.match(uri):
        return uri
    head, _userinfo, rest = split_uri(uri)
    return head + _KV_PASSWORD.sub(rf"\1{MASK}", rest)


def normalized_uri(uri: str) -> str:
    """The URI with its password percent-encoded, so a driver that splits the user-info at
    ``/ # ? @`` reads the password the user meant (and never echoes a piece of it as a host)."""
    head, userinfo, rest = split_uri(uri)
    if userinfo is None or ":" not in userinfo:
        return uri
    user, _, password = userinfo.partition(":")
    return f"{head}{user}:{quote(unquote(password), safe='')}@{rest}"


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URI passwords, ``password=`` pairs and any known secret values from text."""
    # Longest first: a secret that contains another must not be left half replaced.
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    text = _URI_IN_TEXT.sub(lambda m: f"{m.group(1)}{_masked_userinfo(m.group(2))}@", text)
    return _KV_PASSWORD.sub(rf"\1{MASK}", text)


def _forms(password: str) -> set[str]:
    """Every spelling a password may take in a message: as typed, decoded, encoded."""
    decoded = unquote(password)
    return {password, decoded, quote(decoded, safe=""), quote(decoded)} - {""}


def secrets_of(uri: str | None) -> set[str]:
    """The passwords a URI or libpq connection string carries, in every spelling."""
    if not uri:
        return set()
    found: set[str] = set()
    _head, userinfo, rest = split_uri(uri) if _SCHEME.match(uri) else ("", None, uri)
    if userinfo is not None and ":" in userinfo:
        found |= _forms(userinfo.partition(":")[2])
    for match in _KV_PASSWORD.finditer(rest):
        value = match.group(2)
        if value.startswith("'") and value.endswith("'") and len(value) > 1:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found |= _forms(value)
    return found


def environment_secrets(env: dict[str, str] | None = None) -> set[str]:
    """Passwords libpq would take from the environment: ``PGPASSWORD`` and the ``.pgpass``
    file (``PGPASSFILE``), every line of it, since which line libpq picks is its business."""
    env = dict(os.environ) if env is None else env
    found = _forms(env["PGPASSWORD"]) if env.get("PGPASSWORD") else set()
    passfile = env.get("PGPASSFILE") or str(Path.home() / ".pgpass")
    try:
        lines = Path(passfile).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = re.split(r"(?<!\\):", line, maxsplit=4)
        if len(fields) == 5:
            password = re.sub(r"\\(.)", r"\1", fields[4])
            found |= {password} - {""}
    return found
