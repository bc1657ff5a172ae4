"""The header line names the columns: detect the delimiter, map the columns by name.

Column order, renames and the delimiter are data, not assumptions: a reordered file still
lands right, a renamed column is accepted when the spec lists the old name, and a column NCBI
adds is reported rather than breaking a weekly run (unless the run asks for a strict schema).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from py_load_medgen.errors import InputError, SchemaDriftError
from py_load_medgen.release.files import CUI_PATTERN, FileSpec

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
_DELIMITERS = (b"|", b"\t")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/-]*$")


@dataclass(frozen=True)
class Layout:
    """How one served file is laid out, as read from its header."""

    file: str
    spec: FileSpec
    delimiter: bytes
    trailing: bool
    """Every line ends with a delimiter before its terminator."""
    crlf: bool
    """Lines end with CR LF (the header did); otherwise LF only."""
    fields: tuple[str, ...]
    """Header names in file order, as served (without ``#``)."""
    targets: tuple[str | None, ...]
    """Per field, the table column it loads into; None for a column the spec does not know."""
    missing_optional: tuple[str, ...]
    header_length: int
    """Bytes of the header line including its terminator."""

    @property
    def nfields(self) -> int:
        return len(self.fields)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(f for f, t in zip(self.fields, self.targets, strict=True) if t is None)

    @property
    def reordered(self) -> bool:
        known = [t for t in self.targets if t is not None]
        order = [c for c in self.spec.column_names if c in known]
        return known != order


def parse_header(file: str, spec: FileSpec, head: bytes, *, strict_schema: bool = False) -> Layout:
    """Read the header from the first bytes of a file (at least its first line)."""
    if not head:
        raise InputError("empty file: no header line", file=file, line=1)
    end = head.find(b"\n")
    if end < 0:
        if len(head) >= MAX_HEADER_BYTES:
            raise InputError(
                f"no line end within the first {MAX_HEADER_BYTES} bytes: not a MedGen file",
                file=file,
                line=1,
            )
        raise InputError("the header line is not terminated by a line feed", file=file, line=1)
    raw = head[:end]
    crlf = raw.endswith(b"\r")
    if crlf:
        raw = raw[:-1]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("header is not valid UTF-8", file=file, line=1, offset=exc.start) from None
    if text.lstrip().startswith("<"):
        raise InputError(
            "the file is an HTML page, not a MedGen file (an error page saved by a download?)",
            file=file,
            line=1,
        )
    delimiter = _detect_delimiter(file, text)
    body = text[1:] if text.startswith("#") else text
    trailing = body.endswith(delimiter)
    if trailing:
        body = body[: -len(delimiter)]
    fields = tuple(name.strip() for name in body.split(delimiter))
    _check_names(file, spec, fields)
    targets, missing_optional = _map_columns(file, spec, fields, strict_schema=strict_schema)
    return Layout(
        file=file,
        spec=spec,
        delimiter=delimiter.encode(),
        trailing=trailing,
        crlf=crlf,
        fields=fields,
        targets=targets,
        missing_optional=missing_optional,
        header_length=end + 1,
    )


def _detect_delimiter(file: str, text: str) -> str:
    counts = {d.decode(): text.count(d.decode()) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise InputError(
            "unknown delimiter: the header has neither '|' nor TAB between column names",
            file=file,
            line=1,
        )
    return best


def _check_names(file: str, spec: FileSpec, fields: tuple[str, ...]) -> None:
    first = fields[0]
    if CUI_PATTERN.match(first) or first.isdigit():
        raise InputError(
            f"no header line: the first line starts with the value {first!r}; expected column "
            f"names such as #{spec.columns[0].source}",
            file=file,
            line=1,
        )
    for position, name in enumerate(fields, start=1):
        if not name:
            raise SchemaDriftError(f"header column {position} has no name", file=file, line=1)
        if not _NAME_RE.match(name):
            raise InputError(
                f"header column {position} {name!r} is not a column name; is this a MedGen file?",
                file=file,
                line=1,
            )
    seen: set[str] = set()
    for name in fields:
        key = name.lower()
        if key in seen:
            raise SchemaDriftError(f"duplicated header column {name!r}", file=file, line=1)
        seen.add(key)


def _map_columns(
    file: str, spec: FileSpec, fields: tuple[str, ...], *, strict_schema: bool
) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
    by_header = {n.lower(): c.name for c in spec.columns for n in c.header_names()}
    targets: list[str | None] = [by_header.get(f.lower()) for f in fields]
    mapped = [t for t in targets if t is not None]
    if len(set(mapped)) != len(mapped):
        dup = next(t for t in mapped if mapped.count(t) > 1)
        raise SchemaDriftError(
            f"two header columns map to column {dup!r} (a column and its old name?)",
            file=file,
            line=1,
        )
    missing_required = [c for c in spec.columns if c.required and c.name not in mapped]
    if missing_required:
        col = missing_required[0]
        raise SchemaDriftError(
            f"required column {col.source!r} is missing from the header "
            f"(found: {', '.join(fields)})",
            file=file,
            line=1,
            column=col.source,
        )
    unknown = [f for f, t in zip(fields, targets, strict=True) if t is None]
    if unknown:
        if strict_schema:
            raise SchemaDriftError(
                f"unknown column(s) {', '.join(unknown)} (--strict-schema is on)",
                file=file,
                line=1,
                hint="update py-load-medgen, or drop --strict-schema to load the known columns",
            )
        log.warning(
            "%s: unknown column(s) %s not loaded into %s (recorded in the run metadata)",
            file,
            ", ".join(unknown),
            spec.table,
        )
    missing_optional = tuple(c.name for c in spec.columns if c.name not in mapped)
    return tuple(targets), missing_optional
