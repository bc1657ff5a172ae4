"""File hygiene checks for pre-commit, with no hook repository to clone.

    python scripts/hooks/hygiene.py whitespace|eof|yaml|toml|large FILE...

Each check reports every offending file and exits 1; none rewrites a file, so CI and a
developer's commit see the same verdict.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import yaml

MAX_KB = 512


def _whitespace(path: Path) -> str | None:
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if line.rstrip(b"\r").endswith((b" ", b"\t")):
            return f"trailing whitespace on line {number}"
    return None


def _eof(path: Path) -> str | None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        return "no newline at end of file"
    if data.endswith(b"\n\n"):
        return "blank lines at end of file"
    return None


def _yaml(path: Path) -> str | None:
    try:
        list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        return f"invalid YAML: {exc}"
    return None


def _toml(path: Path) -> str | None:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return f"invalid TOML: {exc}"
    return None


def _large(path: Path) -> str | None:
    size = path.stat().st_size // 1024
    return f"{size} KB is over {MAX_KB} KB: generate data instead" if size > MAX_KB else None


CHECKS: dict[str, Callable[[Path], str | None]] = {
    "whitespace": _whitespace,
    "eof": _eof,
    "yaml": _yaml,
    "toml": _toml,
    "large": _large,
}


def main(argv: list[str]) -> int:
    check = CHECKS[argv[0]]
    failed = 0
    for name in argv[1:]:
        problem = check(Path(name))
        if problem:
            print(f"{name}: {problem}")
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
