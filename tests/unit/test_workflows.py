"""The GitHub workflows hold to the project's hardening rules (checked offline, every run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$")


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_both_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "docker.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_to_full_sha_with_version_comment(path: Path) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match:
            continue
        ref, rest = match.groups()
        if ref.startswith(("./", "docker://")):
            continue
        assert PINNED.match(ref), f"{path.name}:{number}: {ref} is not pinned to a full SHA"
        assert re.search(r"#\s*v?\d+\.\d+\.\d+", rest), f"{path.name}:{number}: no # vX.Y.Z"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_timeouts_and_concurrency(path: Path) -> None:
    workflow = load(path)
    permissions = workflow.get("permissions")
    assert permissions in ({}, {"contents": "read"}), f"broad workflow permissions: {permissions}"
    assert "write-all" not in path.read_text() and "read-all" not in path.read_text()
    concurrency = workflow.get("concurrency")
    assert isinstance(concurrency, dict) and concurrency.get("cancel-in-progress") is True
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout"
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, name


def test_ci_matrix_and_coverage_flags() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    triggers = ci[True] if True in ci else ci["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"push", "pull_request"}
    test = ci["jobs"]["test"]
    assert test["needs"] == "lint"
    assert test["strategy"]["fail-fast"] is False
    matrix = test["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert set(matrix["python-version"]) == {"3.11", "3.12"}
    steps = test["steps"]
    names = [s.get("uses", s.get("name", "")) for s in steps]
    assert names.index("Install Poetry") < next(
        i for i, n in enumerate(names) if n.startswith("actions/setup-python@")
    )
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("codecov/")]
    assert {u["with"]["files"] for u in uploads} == {
        "coverage-unit.xml",
        "coverage-integration.xml",
    }
    assert all(
        "${{ matrix.os }}-py${{ matrix.python-version }}-" in u["with"]["flags"] for u in uploads
    )
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "--cov-fail-under=90" in text


def test_docker_workflow_builds_scans_and_smoke_tests() -> None:
    docker = load(ROOT / ".github" / "workflows" / "docker.yml")
    triggers = docker[True] if True in docker else docker["on"]
    assert "Dockerfile" in triggers["push"]["paths"] and "src/**" in triggers["push"]["paths"]
    steps = docker["jobs"]["build-and-scan"]["steps"]
    build = next(s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action"))
    assert build["with"]["push"] is False and build["with"]["load"] is True
    assert build["with"]["cache-from"] == "type=gha"
    assert build["with"]["cache-to"] == "type=gha,mode=max"
    trivy = next(s for s in steps if str(s.get("uses", "")).startswith("aquasecurity/trivy"))
    assert trivy["with"]["exit-code"] == "1" and trivy["with"]["ignore-unfixed"] is True
    assert trivy["with"]["severity"] == "HIGH,CRITICAL"
    assert any("--version" in str(s.get("run", "")) for s in steps)


def test_dependabot_covers_actions_pip_and_docker() -> None:
    config = load(ROOT / ".github" / "dependabot.yml")
    assert {u["package-ecosystem"] for u in config["updates"]} == {
        "github-actions",
        "pip",
        "docker",
    }
