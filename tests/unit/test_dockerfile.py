"""The Dockerfile: a builder stage that builds the wheel, a slim non-root runtime stage."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, rest))
    return found


def test_two_stages_builder_builds_the_wheel() -> None:
    builder, final = stages()
    assert builder[0][1].endswith(" AS builder")
    runs = " ".join(rest for keyword, rest in builder if keyword == "RUN")
    assert "poetry build --format wheel" in runs and "/opt/venv" in runs
    assert "poetry" not in " ".join(rest for keyword, rest in final if keyword == "RUN")
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in final


def test_final_stage_runs_as_numeric_non_root_user() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_exec_form_entrypoint_and_labels() -> None:
    final = stages()[-1]
    entry = [rest for keyword, rest in final if keyword == "ENTRYPOINT"]
    assert json.loads(entry[-1]) == ["py-load-medgen"]
    labels = " ".join(rest for keyword, rest in final if keyword == "LABEL")
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests"} <= ignored
    assert not {"src", "pyproject.toml", "poetry.lock", "README.md"} & ignored
