"""With --log-format json every line on stderr is a JSON object: logs, the final error and its
hint, usage errors and interruptions alike."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from py_load_medgen.cli import main


def _json_lines(err: str) -> list[dict[str, object]]:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["load", "--source", "{missing}", "--dry-run"], 5),
        (["load", "--source", "{release}", "--dry-run", "--no-such-flag"], 2),
        (["load", "--source", "{release}", "--dry-run", "--mode", "weekly"], 2),
        (["load", "--source", "{release}", "--dry-run", "--files", "NOPE.RRF"], 2),
        (["load", "--source", "{bad}", "--dry-run", "--files", "NAMES.RRF.gz"], 3),
        (["load", "--source", "{release}", "--dry-run", "--files", "NAMES.RRF.gz"], 0),
        (["status", "--db-uri", "duckdb:///{missing}/x.duckdb"], 7),
    ],
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_every_stderr_line_is_json(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    how: str,
) -> None:
    release = tmp_path / "release"
    release.mkdir()
    (release / "NAMES.RRF.gz").write_bytes(
        gzip.compress(b"#CUI|name|source|SUPPRESS|\nC0000001|a|b|N|\n")
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "NAMES.RRF.gz").write_bytes(gzip.compress(b"#CUI|name|source|SUPPRESS|\nC1|a\n"))
    paths = {"missing": tmp_path / "missing", "release": release, "bad": bad}
    argv = [a.format(**paths) for a in args] + ["--quiet", "--max-bad-rows", "0"] * (
        args[0] == "load"
    )
    if how == "flag":
        argv += ["--log-format", "json"]
    else:
        monkeypatch.setenv("MEDGEN_LOG_FORMAT", "json")
    assert main(argv) == code
    events = _json_lines(capsys.readouterr().err)
    if code:
        assert events[-1]["level"] == "error"
        assert events[-1]["exit_code"] == code
