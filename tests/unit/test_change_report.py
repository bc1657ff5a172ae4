"""The change report (`diff`): per-table counts and the concept-level summary.

Expected values come from an independent recount (rows read the simplest way, matched by
natural key in Python dicts), from the generator's own account of the churn it made, or from
changes planted by hand in a generated release.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from py_load_medgen.cli import cli, main
from py_load_medgen.compare.report import ChangeReport, diff_releases
from py_load_medgen.generate import CHURN_KINDS, ChurnKind, derive_release, generate_release
from py_load_medgen.release.files import BY_TABLE, FileSpec
from py_load_medgen.source.local import LocalSource
from tests.helpers import read_file_rows

Row = list[str]


def _recount(old: Path, new: Path, spec: FileSpec) -> dict[str, int]:
    before_rows, after_rows = read_file_rows(old, spec), read_file_rows(new, spec)
    if spec.natural_key:
        k = spec.column_names.index(spec.natural_key[0])
        before = {r[k]: r for r in before_rows}
        after = {r[k]: r for r in after_rows}
        both = before.keys() & after.keys()
        updated = sum(before[key] != after[key] for key in both)
        return {
            "inserted": len(after.keys() - before.keys()),
            "updated": updated,
            "deleted": len(before.keys() - after.keys()),
            "unchanged": len(both) - updated,
        }
    old_c, new_c = Counter(before_rows), Counter(after_rows)
    deleted = sum((old_c - new_c).values())
    return {
        "inserted": sum((new_c - old_c).values()),
        "updated": 0,
        "deleted": deleted,
        "unchanged": len(before_rows) - deleted,
    }


def _diff(old: Path, new: Path, **kwargs: Any) -> ChangeReport:
    return diff_releases(LocalSource(old), LocalSource(new), **kwargs)


# --- genuine NCBI builds ----------------------------------------------------------------------


def test_genuine_names_one_week(real_data: Path) -> None:
    releases = real_data / "releases"
    report = _diff(releases / "2021-08-11", releases / "2021-08-18", files=["NAMES.RRF.gz"])
    assert report.to_json()["tables"] == {
        "concepts": {"inserted": 10, "updated": 8, "deleted": 1, "unchanged": 204_573}
    }
    # Five of the eight updates renamed the concept; the others changed its source only.
    assert report.concept("added").count == 10
    assert report.concept("retired").count == 1
    assert report.concept("renamed").count == 5
    assert report.concept("retired").examples[0].cui == "CN282547"
    assert report.concept("merged").count is None  # MERGED.RRF.gz was not compared


@pytest.mark.parametrize(
    ("old", "new"), [("2021-08-11", "2021-08-18"), ("2021-08-18", "2022-05-11")]
)
def test_genuine_builds_match_an_independent_recount(real_data: Path, old: str, new: str) -> None:
    releases = real_data / "releases"
    report = _diff(releases / old, releases / new)
    assert set(report.tables) == {"concepts", "relationships"}
    for table, counts in report.to_json()["tables"].items():
        spec = BY_TABLE[table]
        expected = _recount(releases / old / spec.name, releases / new / spec.name, spec)
        assert counts == expected, table
    # Retired and added concepts are the CUIs NAMES lost and gained.
    spec = BY_TABLE["concepts"]
    before = {r[0] for r in read_file_rows(releases / old / spec.name, spec)}
    after = {r[0] for r in read_file_rows(releases / new / spec.name, spec)}
    assert report.concept("added").count == len(after - before)
    assert report.concept("retired").count == len(before - after)


# --- generated releases -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    generate_release(out, scale=0.002, seed=21)
    return out


@pytest.mark.parametrize("kind", CHURN_KINDS)
def test_counts_agree_with_the_generator(base: Path, tmp_path: Path, kind: ChurnKind) -> None:
    expected = derive_release(base, tmp_path, churn=0.05, seed=8, kind=kind)
    report = _diff(base, tmp_path)
    assert report.to_json()["tables"] == expected


def _rewrite(path: Path, spec: FileSpec, edit: Callable[[list[Row]], list[Row]]) -> None:
    """Rewrite a served file with ``edit`` applied to its rows (fields in file order)."""
    data = path.read_bytes()
    gz = data[:2] == b"\x1f\x8b"
    text = (gzip.decompress(data) if gz else data).decode()
    lines = text.split("\n")
    assert lines.pop() == ""
    header, body = lines[0], lines[1:]
    delim = spec.delimiter
    tail = delim if spec.trailing_delimiter else ""
    rows = [line[: len(line) - len(tail)].split(delim) for line in body]
    out = "\n".join([header, *(delim.join(r) + tail for r in edit(rows))]) + "\n"
    raw = out.encode()
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)


@pytest.fixture(scope="module")
def planted(base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Next week's build with one change of every kind a curator reads, made by hand."""
    new = tmp_path_factory.mktemp("planted")
    derive_release(base, new, churn=0.0)  # a byte copy
    names = read_file_rows(base / "NAMES.RRF.gz", BY_TABLE["concepts"])
    retired, merged, into, renamed, moved = (names[k][0] for k in (10, 11, 12, 13, 14))
    plan: dict[str, Any] = {"retired": retired, "merged": merged, "into": into}
    plan["renamed"] = (renamed, names[13][1])

    def concepts(rows: list[Row]) -> list[Row]:
        out = []
        for row in rows:
            if row[0] in (retired, merged):
                continue
            if row[0] == renamed:
                out.append([row[0], "Planted new name", *row[2:]])
            elif row[0] == moved:
                out.append([row[0], row[1], "PLANTED", row[3]])  # an update that is no rename
            else:
                out.append(row)
        return [*out, ["CN999999", "Planted syndrome", "OMIM", "N"]]

    _rewrite(new / "NAMES.RRF.gz", BY_TABLE["concepts"], concepts)
    _rewrite(
        new / "MERGED.RRF.gz", BY_TABLE["merged_concepts"], lambda rows: [*rows, [merged, into]]
    )
    defs = read_file_rows(base / "MGDEF.RRF.gz", BY_TABLE["definitions"])
    counts = Counter(defs)
    unique = next(r for r in defs if counts[r] == 1 and "\r" not in r[1])
    plan["definition"] = unique[0]

    def definitions(rows: list[Row]) -> list[Row]:
        return [
            [r[0], r[1] + " Planted sentence.", *r[2:]] if tuple(r) == unique else r for r in rows
        ]

    _rewrite(new / "MGDEF.RRF.gz", BY_TABLE["definitions"], definitions)
    links = read_file_rows(base / "MedGenIDMappings.txt.gz", BY_TABLE["source_links"])
    omim = next(r for r in links if r[3] == "OMIM")
    plan["lost"] = (omim[0], f"OMIM {omim[2]}")
    plan["gained"] = (names[0][0], "HPO HP:9999999")

    def source_links(rows: list[Row]) -> list[Row]:
        kept = [r for r in rows if tuple(r) != omim]
        return [[names[0][0], names[0][1], "HP:9999999", "HPO"], *kept]

    _rewrite(new / "MedGenIDMappings.txt.gz", BY_TABLE["source_links"], source_links)
    plan["dir"] = new
    return plan


def test_planted_concept_changes_are_reported(base: Path, planted: dict[str, Any]) -> None:
    report = _diff(base, planted["dir"])
    tables = report.to_json()["tables"]
    assert {t: c for t, c in tables.items() if c["inserted"] or c["updated"] or c["deleted"]} == {
        "concepts": {
            "inserted": 1,
            "updated": 2,
            "deleted": 2,
            "unchanged": tables["concepts"]["unchanged"],
        },
        "merged_concepts": {
            "inserted": 1,
            "updated": 0,
            "deleted": 0,
            "unchanged": tables["merged_concepts"]["unchanged"],
        },
        "definitions": {
            "inserted": 1,
            "updated": 0,
            "deleted": 1,
            "unchanged": tables["definitions"]["unchanged"],
        },
        "source_links": {
            "inserted": 1,
            "updated": 0,
            "deleted": 1,
            "unchanged": tables["source_links"]["unchanged"],
        },
    }

    def listed(kind: str) -> list[tuple[str, str]]:
        category = report.concept(kind)
        assert category.count == len(category.examples)
        return [(e.cui, e.detail) for e in category.examples]

    assert listed("added") == [("CN999999", "Planted syndrome")]
    # A concept merged into another is not also counted as retired.
    assert [cui for cui, _ in listed("retired")] == [planted["retired"]]
    assert listed("merged")[0][0] == planted["merged"]
    assert listed("merged")[0][1].startswith(f"into {planted['into']}")
    cui, old_name = planted["renamed"]
    assert listed("renamed") == [(cui, f"{old_name!r} -> 'Planted new name'")]
    assert listed("definition") == [(planted["definition"], "1 definition row(s) replaced by 1")]
    assert listed("mapping_gained") == [planted["gained"]]
    assert listed("mapping_lost") == [planted["lost"]]
    text = report.render()
    assert "Planted syndrome" in text and "concepts merged into another" in text
    # What is stored with a run reads back the same.
    again = ChangeReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again.to_json() == report.to_json()
    assert again.render() == text


def test_examples_are_capped_and_full_lists_go_to_rows(
    base: Path, tmp_path: Path, planted: dict[str, Any]
) -> None:
    derived = tmp_path / "next"
    derive_release(base, derived, churn=0.2, seed=3, files=["concepts"])
    report = _diff(base, derived, rows_dir=tmp_path / "rows", examples=2)
    added = report.concept("added")
    assert added.count is not None and added.count > 2
    assert len(added.examples) == 2
    assert f"and {added.count - 2:,} more in {tmp_path / 'rows'}" in report.render()
    with (tmp_path / "rows" / "concept_changes.csv").open(newline="", encoding="utf-8") as fh:
        kinds = Counter(row["kind"] for row in csv.DictReader(fh))
    assert kinds["added"] == added.count
    assert kinds["retired"] == report.concept("retired").count


def _read_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pylist()
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in table]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_changed_rows_rebuild_the_new_release(base: Path, tmp_path: Path, fmt: str) -> None:
    new = tmp_path / "new"
    tables = ["concepts", "relationships", "definitions", "pubmed_links", "uid_cui_history"]
    expected = derive_release(base, new, churn=0.1, seed=5, kind="random", files=tables)
    rows_dir = tmp_path / "rows"
    _diff(base, new, rows_dir=rows_dir, rows_format=fmt)
    for table in tables:
        spec = BY_TABLE[table]
        changed = _read_rows(rows_dir / f"{table}.{fmt}")
        labels = Counter(row["change"] for row in changed)
        counts = expected[table]
        assert labels["inserted"] == counts["inserted"], table
        assert labels["deleted"] == counts["deleted"], table
        assert labels["updated-before"] == labels["updated-after"] == counts["updated"], table

        def as_tuple(row: dict[str, str], spec: FileSpec = spec) -> tuple[str, ...]:
            return tuple(row[c] for c in spec.column_names)

        old = Counter(tuple(str(v) for v in r) for r in read_file_rows(base / spec.name, spec))
        removed = Counter(
            as_tuple(r) for r in changed if r["change"] in ("deleted", "updated-before")
        )
        added = Counter(
            as_tuple(r) for r in changed if r["change"] in ("inserted", "updated-after")
        )
        rebuilt = old - removed + added
        assert rebuilt == Counter(
            tuple(str(v) for v in r) for r in read_file_rows(new / spec.name, spec)
        ), table


def test_identical_files_are_not_compared_but_counted(base: Path, tmp_path: Path) -> None:
    derive_release(base, tmp_path, churn=0.0, files=["concepts", "sources"])
    report = _diff(base, tmp_path)
    concepts = report.tables["concepts"]
    assert concepts.method == "same"
    assert concepts.to_json() == {
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": len(read_file_rows(base / "NAMES.RRF.gz", BY_TABLE["concepts"])),
    }
    assert set(report.tables) == {"concepts", "sources"}


# --- the command ------------------------------------------------------------------------------


def test_diff_command_text_json_and_rows(real_data: Path, tmp_path: Path) -> None:
    releases = real_data / "releases"
    old, new = str(releases / "2021-08-11"), str(releases / "2021-08-18")
    runner = CliRunner()
    result = runner.invoke(cli, ["diff", old, new, "--files", "NAMES.RRF.gz", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tables"] == {
        "concepts": {"inserted": 10, "updated": 8, "deleted": 1, "unchanged": 204_573}
    }
    assert data["concepts"]["added"]["count"] == 10
    result = runner.invoke(cli, ["diff", old, new, "--rows", str(tmp_path / "rows")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("table"))
    assert header.split() == ["table", "inserted", "updated", "deleted", "unchanged"]
    assert next(line for line in lines if line.startswith("concepts ")).split() == [
        "concepts",
        "10",
        "8",
        "1",
        "204,573",
    ]
    assert sorted(p.name for p in (tmp_path / "rows").iterdir()) == [
        "concept_changes.csv",
        "concepts.csv",
        "relationships.csv",
    ]


def test_diff_command_rejects_sources_without_common_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "no MedGen file in common" in capsys.readouterr().err


def test_diff_fetches_a_release_over_http(
    real_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.servers.http_files import serve

    releases = real_data / "releases"
    served = tmp_path / "served"
    shutil.copytree(releases / "2021-08-18", served)
    with serve(served) as (url, _server):
        code = main(
            [
                "diff",
                str(releases / "2021-08-11"),
                url,
                "--files",
                "NAMES.RRF.gz",
                "--download-dir",
                str(tmp_path / "cache"),
                "--json",
            ]
        )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tables"]["concepts"] == {
        "inserted": 10,
        "updated": 8,
        "deleted": 1,
        "unchanged": 204_573,
    }


def test_generate_from_a_release_prints_what_diff_finds(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "next"
    args = ["generate", "--from", str(base), "--churn", "0.03", "--seed", "4", str(out)]
    assert main([*args, "--churn-kind", "random", "--files", "NAMES.RRF.gz,MGCONSO.RRF.gz"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["table", "inserted", "updated", "deleted", "unchanged"]
    printed = {
        cells[0]: dict(zip(lines[0].split("\t")[1:], map(int, cells[1:]), strict=True))
        for cells in (line.split("\t") for line in lines[1:])
    }
    assert set(printed) == {"concepts", "concept_names"}
    assert _diff(base, out).to_json()["tables"] == printed
    # A wrong kind is a usage error, before anything is written.
    assert main([*args, "--churn-kind", "sideways"]) == 2
