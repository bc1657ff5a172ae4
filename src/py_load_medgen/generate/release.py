"""Writing a synthetic release: each table streamed into its served file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path

from py_load_medgen.generate.base import _BATCH, BUILD_TIME, _AtomicOutput, _Fmt, _rng, _Text
from py_load_medgen.generate.rules import _RULES, _Rule
from py_load_medgen.generate.world import _World
from py_load_medgen.release.files import BY_TABLE, FILES, FileSpec, spec_for_file

# ---------------------------------------------------------------------------------------------
# Writing


def _resolve_tables(files: Sequence[str] | None) -> list[FileSpec]:
    if files is None:
        return list(FILES)
    if isinstance(files, str):
        raise TypeError("files must be a sequence of table names, not a string")
    wanted: set[str] = set()
    for item in files:
        spec = BY_TABLE.get(item) or spec_for_file(item)
        if spec is None:
            raise ValueError(f"unknown MedGen table or file {item!r}")
        wanted.add(spec.table)
    return [spec for spec in FILES if spec.table in wanted]


def _column_order(spec: FileSpec, rule: _Rule) -> tuple[int, ...] | None:
    """Positions in the rule's rows of the spec's columns; None when already in spec order."""
    if sorted(rule.columns) != sorted(spec.column_names):
        raise RuntimeError(
            f"generator rule for {spec.table} covers {rule.columns}, but the spec has "
            f"{spec.column_names}: update the rule in generate.py"
        )
    order = tuple(rule.columns.index(name) for name in spec.column_names)
    return None if order == tuple(range(len(order))) else order


def _write_table(
    spec: FileSpec, world: _World, out_dir: Path, compresslevel: int, gzip_mtime: int
) -> int:
    rule = _RULES[spec.table]
    order = _column_order(spec, rule)
    reorder = itemgetter(*order) if order is not None else None
    sep = spec.delimiter
    end = sep + "\n" if spec.trailing_delimiter else "\n"
    per_line = len(spec.columns) - 1 + (1 if spec.trailing_delimiter else 0)
    header = "#" + sep.join(c.source for c in spec.columns) + end
    target = world.rows[spec.table]
    rng = _rng("medgen-generate", world.seed, spec.table)
    output = _AtomicOutput(
        out_dir / spec.name, gz=spec.compressed, mtime=gzip_mtime, compresslevel=compresslevel
    )
    fmt = _Fmt(sep, end, order is None)
    written = 0
    try:
        output.write(header.encode("utf-8"))
        parts: list[bytes] = []
        rows = 0
        join = sep.join
        bsep = sep.encode()

        def flush() -> None:
            output.write(b"".join(parts))

        for block in rule.rows(world, rng, target, fmt):
            if isinstance(block, _Text):
                # Rendered by rules that check their own variable parts (see _pubmed_links).
                parts.append(block.data)
                rows += block.rows
            elif block:
                lines = map(join, block) if reorder is None else map(join, map(reorder, block))
                data = (end.join(lines) + end).encode()
                # A delimiter or LF inside a value would shift every later column: C-speed
                # counts over the rendered rows prove there is none.
                if data.count(bsep) != per_line * len(block) or data.count(b"\n") != len(block):
                    raise RuntimeError(f"{spec.table}: a generated value contains {sep!r} or LF")
                parts.append(data)
                rows += len(block)
            if rows >= _BATCH:
                flush()
                written += rows
                parts.clear()
                rows = 0
        if rows:
            flush()
            written += rows
        if written != target:
            raise RuntimeError(f"{spec.table}: generated {written} rows, expected {target}")
        output.commit(gzip_mtime)
    except BaseException:
        output.abort()
        raise
    return written


def generate_release(
    out_dir: Path,
    *,
    scale: float = 0.01,
    seed: int = 0,
    files: Sequence[str] | None = None,
    compresslevel: int = 6,
    gzip_mtime: int = BUILD_TIME,
) -> dict[str, int]:
    """Write a synthetic MedGen release into ``out_dir``; return the rows written per table.

    ``scale`` 1.0 approximates a real release (about 55 M rows, most of them PubMed links);
    every table gets at least a handful of rows. ``files`` selects tables (table or served file
    names; all 17 by default). The output is a pure function of the arguments: gzip members
    carry ``gzip_mtime`` and no file name, and a table's bytes do not depend on which other
    tables are generated. Files appear under their served names only once complete.
    """
    if not scale > 0 or math.isinf(scale):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if not 0 <= compresslevel <= 9:
        raise ValueError(f"compresslevel must be 0..9, not {compresslevel!r}")
    specs = _resolve_tables(files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = _World(seed, scale)
    return {
        spec.table: _write_table(spec, world, out_dir, compresslevel, gzip_mtime) for spec in specs
    }
