"""The quick start says what to do offline, and its sample never touches the real mirror."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def quickstart(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "quickstart.sh"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


@pytest.mark.slow
def test_offline_it_names_sample_and_source_dir(tmp_path: Path) -> None:
    # A server that does not answer, as NCBI is offline: port 1 on this machine.
    run = quickstart(tmp_path, "--source", "http://127.0.0.1:1/pub/medgen/", "--retries", "1")
    assert run.returncode == 5, run.stderr
    assert "--sample" in run.stderr and "--source DIR" in run.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("quickstart-sample")  # one writer of the repository's .cache
def test_sample_loads_into_its_own_file_and_says_which(tmp_path: Path) -> None:
    run = quickstart(tmp_path, "--sample", "--quiet")
    assert run.returncode == 0, run.stderr
    own = ROOT / ".cache" / "sample-mirror.duckdb"
    assert f"its own database: {own}" in run.stdout
    assert own.exists()
    assert not list((tmp_path / "data").rglob("*.duckdb"))  # the real default is untouched
