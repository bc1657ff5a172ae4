"""The synthetic release generator and the next-build deriver.

Every check reads the written bytes back with its own small parser (split on LF only, map
columns by header name), independent of the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from py_load_medgen.generate import (
    BUILD_TIME,
    CHURN_KINDS,
    ChurnKind,
    derive_release,
    generate_release,
)
from py_load_medgen.release.files import BY_TABLE, CUI_PATTERN, FILES, FileSpec

SCALE = 0.001
SEED = 7

Row = tuple[bytes, ...]


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _records(path: Path) -> tuple[bytes, list[bytes]]:
    """Header and data records, split on LF only (CR is data)."""
    lines = _content(path).split(b"\n")
    assert lines[-1] == b"", f"{path.name} does not end with LF"
    return lines[0], lines[1:-1]


def _table(path: Path, spec: FileSpec) -> tuple[list[str], list[Row]]:
    """Header names in file order, and rows with fields in the spec's column order."""
    header, records = _records(path)
    body = header[1:] if header.startswith(b"#") else header
    delim = b"|" if body.count(b"|") >= body.count(b"\t") else b"\t"
    trailing = body.endswith(delim)
    names = [n.decode() for n in body.split(delim)]
    if trailing:
        names.pop()
    lookup = {alias: c.name for c in spec.columns for alias in c.header_names()}
    columns = [lookup[n] for n in names]
    position = [columns.index(c) for c in spec.column_names]
    rows: list[Row] = []
    for rec in records:
        fields = rec.split(delim)
        if trailing:
            assert fields.pop() == b""
        assert len(fields) == len(names), rec
        rows.append(tuple(fields[k] for k in position))
    return names, rows


def _recount(old_path: Path, new_path: Path, spec: FileSpec) -> dict[str, int]:
    """What a delta comparison sees: by natural key, or as multisets of whole rows."""
    _, old = _table(old_path, spec)
    _, new = _table(new_path, spec)
    if spec.natural_key:
        k = spec.column_names.index(spec.natural_key[0])
        before = {row[k]: row for row in old}
        after = {row[k]: row for row in new}
        assert len(before) == len(old)
        assert len(after) == len(new), f"{spec.table}: derived keys not unique"
        both = before.keys() & after.keys()
        updated = sum(before[key] != after[key] for key in both)
        return {
            "inserted": len(after.keys() - before.keys()),
            "updated": updated,
            "deleted": len(before.keys() - after.keys()),
            "unchanged": len(both) - updated,
        }
    old_rows, new_rows = Counter(old), Counter(new)
    deleted = sum((old_rows - new_rows).values())
    return {
        "inserted": sum((new_rows - old_rows).values()),
        "updated": 0,
        "deleted": deleted,
        "unchanged": len(old) - deleted,
    }


def _column(rows: list[Row], spec: FileSpec, name: str) -> list[bytes]:
    k = spec.column_names.index(name)
    return [row[k] for row in rows]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("release")
    counts = generate_release(out, scale=SCALE, seed=SEED)
    return out, counts


def _rows(release: tuple[Path, dict[str, int]], table: str) -> list[Row]:
    spec = BY_TABLE[table]
    return _table(release[0] / spec.name, spec)[1]


# --- generate_release -------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    again = generate_release(tmp_path, scale=SCALE, seed=SEED)
    assert again == release[1]
    names = sorted(p.name for p in release[0].iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (tmp_path / name).read_bytes() == (release[0] / name).read_bytes(), name


def test_seed_changes_the_data(release: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    generate_release(tmp_path, scale=SCALE, seed=SEED + 1, files=["concepts"])
    assert _content(tmp_path / "NAMES.RRF.gz") != _content(release[0] / "NAMES.RRF.gz")


def test_a_table_alone_matches_the_full_release(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    counts = generate_release(tmp_path, scale=SCALE, seed=SEED, files=["semantic_types"])
    assert counts == {"semantic_types": release[1]["semantic_types"]}
    assert [p.name for p in tmp_path.iterdir()] == ["MGSTY.RRF.gz"]
    assert (tmp_path / "MGSTY.RRF.gz").read_bytes() == (release[0] / "MGSTY.RRF.gz").read_bytes()


def test_uncached_concepts_give_the_same_bytes(
    release: tuple[Path, dict[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large scales recompute CUIs and names instead of caching them: same values either way.
    monkeypatch.setattr("py_load_medgen.generate.world._CACHE_CONCEPTS", 0)
    tables = ["concepts", "relationships", "pubmed_links", "hpo_omim_mappings"]
    generate_release(tmp_path, scale=SCALE, seed=SEED, files=tables)
    for spec in (BY_TABLE[t] for t in tables):
        assert (tmp_path / spec.name).read_bytes() == (release[0] / spec.name).read_bytes()


def test_every_file_is_written_with_the_spec_header(release: tuple[Path, dict[str, int]]) -> None:
    out, counts = release
    assert set(counts) == {spec.table for spec in FILES}
    assert sorted(p.name for p in out.iterdir()) == sorted(spec.name for spec in FILES)
    for spec in FILES:
        raw = (out / spec.name).read_bytes()
        assert (raw[:2] == b"\x1f\x8b") == spec.name.endswith(".gz"), spec.name
        header, records = _records(out / spec.name)
        expected = "#" + spec.delimiter.join(c.source for c in spec.columns)
        if spec.trailing_delimiter:
            expected += spec.delimiter
        assert header == expected.encode(), spec.name
        assert len(records) == counts[spec.table], spec.name


def test_gzip_header_has_the_build_time_and_no_file_name(tmp_path: Path) -> None:
    generate_release(tmp_path, scale=SCALE, files=["merged_concepts"], gzip_mtime=1_600_000_000)
    head = (tmp_path / "MERGED.RRF.gz").read_bytes()[:10]
    assert head[3] == 0, "FLG must be clear: no FNAME (temporary names would leak in)"
    assert int.from_bytes(head[4:8], "little") == 1_600_000_000
    generate_release(tmp_path, scale=SCALE, files=["merged_concepts"])
    head = (tmp_path / "MERGED.RRF.gz").read_bytes()[:10]
    assert int.from_bytes(head[4:8], "little") == BUILD_TIME
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left"


def test_every_line_has_the_same_number_of_fields(release: tuple[Path, dict[str, int]]) -> None:
    for spec in FILES:
        delim = spec.delimiter.encode()
        expected = len(spec.columns) - 1 + (1 if spec.trailing_delimiter else 0)
        header, records = _records(release[0] / spec.name)
        for line in [header, *records]:
            assert line.count(delim) == expected, (spec.name, line)
            assert not line.endswith(b"\r"), (spec.name, line)
            if spec.trailing_delimiter:
                assert line.endswith(delim), (spec.name, line)
            else:
                assert not line.endswith(delim), (spec.name, line)


def test_tab_files_hold_no_awkward_characters(release: tuple[Path, dict[str, int]]) -> None:
    tab_files = [spec for spec in FILES if spec.delimiter == "\t"]
    assert {s.table for s in tab_files} >= {"uid_cui_history", "cui_history", "hpo_cui_history"}
    for spec in tab_files:
        assert not spec.trailing_delimiter
        _, records = _records(release[0] / spec.name)
        for rec in records:
            for char in (b"|", b"\\", b'"', b"'", b"\r"):
                assert char not in rec, (spec.name, rec)


def test_natural_keys_are_unique(release: tuple[Path, dict[str, int]]) -> None:
    keyed = [spec for spec in FILES if spec.natural_key]
    assert {s.table for s in keyed} == {
        "concepts", "concept_names", "relationships", "attributes", "semantic_types",
        "merged_concepts", "sources",
    }  # fmt: skip
    for spec in keyed:
        rows = _rows(release, spec.table)
        keys = _column(rows, spec, spec.natural_key[0])
        assert len(set(keys)) == len(keys), spec.table


def test_definitions_contain_bare_carriage_returns(release: tuple[Path, dict[str, int]]) -> None:
    spec = BY_TABLE["definitions"]
    rows = _rows(release, "definitions")
    with_cr = [d for d in _column(rows, spec, "definition") if b"\r" in d]
    assert with_cr
    assert not any(b"\r\n" in d for d in with_cr)
    for other in FILES:
        if other.table != "definitions":
            assert b"\r" not in _content(release[0] / other.name), other.name


def test_text_is_utf8_with_accents_and_greek(release: tuple[Path, dict[str, int]]) -> None:
    for spec in FILES:
        _content(release[0] / spec.name).decode("utf-8")
    names = _content(release[0] / "NAMES.RRF.gz").decode("utf-8")
    assert "Chédiak-Higashi syndrome" in names
    assert re.search("[\u03b1-\u03c9\u0394]", names), "Greek letters"
    assert any(ord(ch) > 127 for ch in _content(release[0] / "MGCONSO.RRF.gz").decode())


def test_pipe_files_carry_quotes_backslashes_and_tabs(
    release: tuple[Path, dict[str, int]],
) -> None:
    text = b"".join(_content(release[0] / spec.name) for spec in FILES if spec.delimiter == "|")
    for char in (b"\\", b'"', b"'", b"\t"):
        assert char in text, char
    # A backslash right before a delimiter is what trips COPY's text format.
    assert b"\\|" in text


def test_empty_fields_and_rela(release: tuple[Path, dict[str, int]]) -> None:
    spec = BY_TABLE["relationships"]
    rela = _column(_rows(release, "relationships"), spec, "rela")
    share = rela.count(b"") / len(rela)
    assert 0.03 < share < 0.10
    assert b"||" in _content(release[0] / "MGCONSO.RRF.gz")
    relationship = _column(
        _rows(release, "hpo_omim_mappings"), BY_TABLE["hpo_omim_mappings"], "relationship"
    )
    assert b"" in relationship


def test_unkeyed_tables_repeat_rows(release: tuple[Path, dict[str, int]]) -> None:
    for table in ("definitions", "pubmed_links", "hpo_omim_mappings"):
        rows = _rows(release, table)
        assert len(set(rows)) < len(rows), table


def test_sty_values_contain_commas(release: tuple[Path, dict[str, int]]) -> None:
    sty = _column(_rows(release, "semantic_types"), BY_TABLE["semantic_types"], "sty")
    assert any(b"," in value for value in sty)


def test_cuis_are_shared_across_files(release: tuple[Path, dict[str, int]]) -> None:
    concepts = _column(_rows(release, "concepts"), BY_TABLE["concepts"], "cui")
    assert concepts == sorted(concepts), "NAMES is sorted by CUI"
    assert all(CUI_PATTERN.match(c.decode()) for c in concepts)
    assert any(c.startswith(b"CN") for c in concepts)
    live = set(concepts)
    references = {
        "concept_names": ["cui"],
        "definitions": ["cui"],
        "relationships": ["cui1", "cui2"],
        "attributes": ["cui"],
        "semantic_types": ["cui"],
        "merged_concepts": ["to_cui"],
        "source_links": ["cui"],
        "hpo_mappings": ["cui"],
        "hpo_omim_mappings": ["omim_cui", "hpo_cui"],
        "pubmed_links": ["cui"],
        "uid_cui_history": ["cui"],
        "cui_history": ["current_cui"],
        "hpo_cui_history": ["cui"],
        "mondo_cui_history": ["cui"],
        "ordo_cui_history": ["cui"],
    }
    for table, columns in references.items():
        rows = _rows(release, table)
        for column in columns:
            assert set(_column(rows, BY_TABLE[table], column)) <= live, (table, column)
    # Retired CUIs are CUI-shaped but no longer live.
    retired = _column(_rows(release, "merged_concepts"), BY_TABLE["merged_concepts"], "cui")
    assert all(CUI_PATTERN.match(c.decode()) for c in retired)
    assert not set(retired) & live
    previous = _column(_rows(release, "cui_history"), BY_TABLE["cui_history"], "previous_cui")
    assert set(retired) <= set(previous)
    # The same concept has the same name everywhere.
    names = dict(
        zip(
            concepts,
            _column(_rows(release, "concepts"), BY_TABLE["concepts"], "preferred_name"),
            strict=True,
        )
    )
    links = _rows(release, "pubmed_links")
    spec = BY_TABLE["pubmed_links"]
    for cui, name in zip(_column(links, spec, "cui"), _column(links, spec, "name"), strict=True):
        assert names[cui] == name


def _all_match(pattern: str, values: list[bytes]) -> bool:
    compiled = re.compile(pattern.encode())
    return all(compiled.fullmatch(v) for v in values)


def test_identifier_shapes(release: tuple[Path, dict[str, int]]) -> None:
    conso_spec = BY_TABLE["concept_names"]
    conso = _rows(release, "concept_names")
    auis = _column(conso, conso_spec, "aui")
    assert _all_match(r"A\d{7,8}|AN\d{7}", auis)
    assert any(a.startswith(b"AN") for a in auis)
    sdui = set(_column(conso, conso_spec, "sdui"))
    assert any(re.fullmatch(rb"HP:\d{7}", s) for s in sdui)
    assert any(re.fullmatch(rb"Orphanet_\d+", s) for s in sdui)
    assert any(re.fullmatch(rb"MONDO:\d{7}", s) for s in sdui)
    codes = _column(conso, conso_spec, "code")
    assert any(re.fullmatch(rb"\d{6}\.\d{4}", c) for c in codes), "allelic OMIM codes"
    assert any(re.fullmatch(rb"MTHU\d{6}", c) for c in codes)
    suppress = Counter(_column(conso, conso_spec, "suppress"))
    assert set(suppress) <= {b"N", b"Y", b"O", b"E"}
    assert suppress[b"N"] > 0.8 * len(conso)

    rels = _rows(release, "relationships")
    ruis = _column(rels, BY_TABLE["relationships"], "rui")
    assert _all_match(r"R\d{8,9}|RN\d{8}", ruis)
    assert any(r.startswith(b"RN") for r in ruis)
    for table in ("attributes", "semantic_types"):
        atuis = _column(_rows(release, table), BY_TABLE[table], "atui")
        assert _all_match(r"AT\d{8}", atuis), table

    links = _rows(release, "pubmed_links")
    for column in ("uid", "pmid"):
        assert _all_match(r"[1-9]\d*", _column(links, BY_TABLE["pubmed_links"], column))
    for table in ("uid_cui_history", "hpo_cui_history", "mondo_cui_history", "ordo_cui_history"):
        rows = _rows(release, table)
        assert _all_match(r"\d{2} [A-Z][a-z]{2} \d{4}", _column(rows, BY_TABLE[table], "date"))
        assert set(_column(rows, BY_TABLE[table], "is_current")) == {b"0", b"1"}
    for table, pattern in (
        ("hpo_cui_history", r"HP:\d{7}"),
        ("mondo_cui_history", r"MONDO:\d{7}"),
        ("ordo_cui_history", r"Orphanet_\d+"),
    ):
        spec = BY_TABLE[table]
        assert _all_match(pattern, _column(_rows(release, table), spec, spec.column_names[0]))


def test_sources_file(release: tuple[Path, dict[str, int]]) -> None:
    spec = BY_TABLE["sources"]
    rows = _rows(release, "sources")
    abbreviations = _column(rows, spec, "abbreviation")
    assert {b"GTR", b"OMIM", b"HPO", b"SNOMEDCT_US"} <= set(abbreviations)
    assert b"" in _column(rows, spec, "url")


def test_scale_sets_row_counts(tmp_path: Path) -> None:
    small = generate_release(tmp_path / "a", scale=0.001, files=["concepts", "definitions"])
    large = generate_release(tmp_path / "b", scale=0.002, files=["NAMES.RRF.gz", "definitions"])
    assert small == {"concepts": 234, "definitions": 80}
    assert large == {"concepts": 468, "definitions": 160}
    tiny = generate_release(tmp_path / "c", scale=1e-9, files=["concepts", "merged_concepts"])
    assert tiny == {"concepts": 20, "merged_concepts": 20}
    _, records = _records(tmp_path / "b" / "MGDEF.RRF.gz")
    assert len(records) == 160


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        generate_release(tmp_path, files=["no_such_table"])
    with pytest.raises(ValueError, match="scale"):
        generate_release(tmp_path, scale=0)
    with pytest.raises(ValueError, match="churn"):
        derive_release(tmp_path, tmp_path / "x", churn=0.95)


# --- derive_release ---------------------------------------------------------------------------


def test_derived_counts_match_an_independent_recount(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    result = derive_release(release[0], tmp_path, churn=0.05, seed=3)
    assert set(result) == {spec.table for spec in FILES}
    for spec in FILES:
        assert result[spec.table] == _recount(
            release[0] / spec.name, tmp_path / spec.name, spec
        ), spec.table
    for table in ("concept_names", "relationships", "attributes", "pubmed_links"):
        counts = result[table]
        assert counts["inserted"] > 0 and counts["deleted"] > 0, table
    for table in ("concept_names", "relationships", "attributes"):
        assert result[table]["updated"] > 0, table
    # Unkeyed tables gained exact duplicates of rows they already had.
    spec = BY_TABLE["pubmed_links"]
    _, old = _table(release[0] / spec.name, spec)
    _, new = _table(tmp_path / spec.name, spec)
    old_count, new_count = Counter(old), Counter(new)
    assert any(new_count[row] > count for row, count in old_count.items())
    # CR stays data: the definitions still hold it, and no line ends with it.
    _, defs = _records(tmp_path / "MGDEF.RRF.gz")
    assert any(b"\r" in d for d in defs)
    assert not any(d.endswith(b"\r") for d in defs)


def test_derived_keys_stay_well_formed(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    derive_release(release[0], tmp_path, churn=0.1, seed=5, files=["concepts", "concept_names"])
    old = set(_column(_rows(release, "concepts"), BY_TABLE["concepts"], "cui"))
    _, rows = _table(tmp_path / "NAMES.RRF.gz", BY_TABLE["concepts"])
    new = set(_column(rows, BY_TABLE["concepts"], "cui"))
    assert new - old
    assert all(CUI_PATTERN.match(c.decode()) for c in new)
    _, rows = _table(tmp_path / "MGCONSO.RRF.gz", BY_TABLE["concept_names"])
    assert _all_match(r"A\d{7,8}|AN\d{7}", _column(rows, BY_TABLE["concept_names"], "aui"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MGCONSO.RRF.gz", "NAMES.RRF.gz"]


def test_derive_is_deterministic(release: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    tables = ["definitions", "relationships", "uid_cui_history"]
    first = derive_release(release[0], tmp_path / "a", churn=0.03, files=tables)
    second = derive_release(release[0], tmp_path / "b", churn=0.03, files=tables)
    assert first == second
    for spec in (BY_TABLE[t] for t in tables):
        assert (tmp_path / "a" / spec.name).read_bytes() == (
            tmp_path / "b" / spec.name
        ).read_bytes()
        # Next week's build: a week later in the gzip header too.
        if spec.compressed:
            before = (release[0] / spec.name).read_bytes()[4:8]
            after = (tmp_path / "a" / spec.name).read_bytes()[4:8]
            week = 7 * 24 * 3600
            assert int.from_bytes(after, "little") == int.from_bytes(before, "little") + week


def test_reordered_columns_keep_every_row(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    tables = ["concept_names", "uid_cui_history", "definitions"]
    result = derive_release(release[0], tmp_path, churn=0.0, reorder_columns=tables)
    for spec in FILES:
        old_names, old_rows = _table(release[0] / spec.name, spec)
        new_names, new_rows = _table(tmp_path / spec.name, spec)
        assert result[spec.table] == {
            "inserted": 0,
            "updated": 0,
            "deleted": 0,
            "unchanged": len(old_rows),
        }
        if spec.table in tables:
            assert sorted(new_names) == sorted(old_names)
            assert new_names != old_names, spec.table
            header, _ = _records(tmp_path / spec.name)
            assert header.startswith(b"#")
            # Same rows in the same order once mapped back by header name.
            assert new_rows == old_rows, spec.table
        else:
            assert (tmp_path / spec.name).read_bytes() == (release[0] / spec.name).read_bytes()


def test_zero_churn_copies_bytes(release: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    result = derive_release(release[0], tmp_path, churn=0.0)
    for spec in FILES:
        a = hashlib.sha256((release[0] / spec.name).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / spec.name).read_bytes()).hexdigest()
        assert a == b, spec.name
        assert result[spec.table]["unchanged"] == release[1][spec.table]


def test_churn_and_reordering_together(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    tables = ["concepts", "pubmed_links", "hpo_omim_mappings"]
    result = derive_release(
        release[0], tmp_path, churn=0.05, seed=11, reorder_columns=tables, files=tables
    )
    for table in tables:
        spec = BY_TABLE[table]
        assert result[table] == _recount(release[0] / spec.name, tmp_path / spec.name, spec)


def test_derive_on_genuine_ncbi_files(real_data: Path, tmp_path: Path) -> None:
    source = real_data / "releases" / "2021-08-11"
    if not (source / "MGREL.RRF.gz").exists():
        pytest.skip("genuine MGREL rows not available")
    spec = BY_TABLE["relationships"]
    result = derive_release(
        source, tmp_path, churn=0.02, reorder_columns=["relationships"], files=["relationships"]
    )
    assert result == {"relationships": _recount(source / spec.name, tmp_path / spec.name, spec)}
    assert result["relationships"]["updated"] > 0
    copied = derive_release(real_data, tmp_path / "copy", churn=0.0, files=["concepts"])
    assert copied == {"concepts": {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 234_073}}
    original = hashlib.sha256((real_data / "NAMES.RRF.gz").read_bytes()).hexdigest()
    copy = hashlib.sha256((tmp_path / "copy" / "NAMES.RRF.gz").read_bytes()).hexdigest()
    assert copy == original


def test_scale_one_approximates_a_real_release() -> None:
    total = sum(max(20, round(spec.scale_rows)) for spec in FILES)
    assert 50_000_000 < total < 60_000_000
    assert BY_TABLE["pubmed_links"].scale_rows / total > 0.8


# --- churn kinds ------------------------------------------------------------------------------

KIND_TABLES = ["concepts", "concept_names", "definitions", "pubmed_links", "uid_cui_history"]


def _kept_in_order(old: list[Row], new: list[Row]) -> bool:
    """The rows of ``new`` that were in ``old`` appear in ``old``'s order."""
    once = {row for row, n in Counter(old).items() if n == 1}
    position = {row: k for k, row in enumerate(old) if row in once}
    seen = [position[row] for row in new if row in position]
    return seen == sorted(seen)


@pytest.mark.parametrize("kind", ["ordered", "random", "shuffle"])
def test_every_churn_kind_counts_what_a_comparison_finds(
    release: tuple[Path, dict[str, int]], tmp_path: Path, kind: ChurnKind
) -> None:
    result = derive_release(
        release[0],
        tmp_path,
        churn=0.3,
        seed=4,
        kind=kind,
        files=KIND_TABLES,
    )
    for table in KIND_TABLES:
        spec = BY_TABLE[table]
        assert result[table] == _recount(release[0] / spec.name, tmp_path / spec.name, spec)
        assert result[table]["inserted"] > 0 and result[table]["deleted"] > 0, table
    # The churn rate is the share of rows touched: a third each deleted, updated, inserted.
    concepts = result["concepts"]
    touched = concepts["inserted"] + concepts["updated"] + concepts["deleted"]
    assert 0.15 < touched / release[1]["concepts"] < 0.45


def test_ordered_churn_keeps_the_row_order(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    derive_release(release[0], tmp_path, churn=0.3, seed=4, kind="ordered", files=KIND_TABLES)
    for table in KIND_TABLES:
        spec = BY_TABLE[table]
        old, new = _rows(release, table), _table(tmp_path / spec.name, spec)[1]
        assert _kept_in_order(old, new), table
    # NAMES stays sorted by CUI: new concepts were given CUIs between their neighbours, so
    # they sit among the old ones rather than after them.
    spec = BY_TABLE["concepts"]
    old_cuis = _column(_rows(release, "concepts"), spec, "cui")
    new_cuis = _column(_table(tmp_path / spec.name, spec)[1], spec, "cui")
    assert new_cuis == sorted(new_cuis)
    added = set(new_cuis) - set(old_cuis)
    assert any(cui < max(old_cuis) for cui in added)
    assert all(CUI_PATTERN.match(c.decode()) for c in added)


def test_random_churn_scatters_the_new_rows(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    derive_release(release[0], tmp_path, churn=0.3, seed=4, kind="random", files=KIND_TABLES)
    spec = BY_TABLE["concepts"]
    old, new = _rows(release, "concepts"), _table(tmp_path / spec.name, spec)[1]
    # Rows that did not change keep their order; the new ones are out of place.
    assert _kept_in_order(old, new)
    cuis = _column(new, spec, "cui")
    assert cuis != sorted(cuis)
    # New rows are spread over the file, not piled at one end.
    fresh = [k for k, row in enumerate(new) if row not in set(old)]
    assert min(fresh) < len(new) // 3 and max(fresh) > 2 * len(new) // 3


def test_shuffle_reorders_every_row_and_keeps_them(
    release: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    tables = ["concept_names", "pubmed_links"]
    result = derive_release(release[0], tmp_path / "a", churn=0.0, kind="shuffle", files=tables)
    for table in tables:
        spec = BY_TABLE[table]
        old, new = _rows(release, table), _table(tmp_path / "a" / spec.name, spec)[1]
        assert Counter(new) == Counter(old), table
        assert new != old, table
        assert result[table] == {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": len(old)}
    # One shuffled file in an otherwise ordered build.
    derive_release(release[0], tmp_path / "b", churn=0.0, shuffle=["MGCONSO.RRF.gz"], files=tables)
    spec = BY_TABLE["pubmed_links"]
    assert (tmp_path / "b" / spec.name).read_bytes() == (release[0] / spec.name).read_bytes()
    spec = BY_TABLE["concept_names"]
    assert _table(tmp_path / "b" / spec.name, spec)[1] != _rows(release, "concept_names")


@pytest.mark.parametrize("kind", ["random", "shuffle"])
def test_every_churn_kind_is_deterministic_by_seed(
    release: tuple[Path, dict[str, int]], tmp_path: Path, kind: ChurnKind
) -> None:
    tables = ["concepts", "relationships", "pubmed_links"]
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        derive_release(
            release[0],
            tmp_path / name,
            churn=0.05,
            seed=seed,
            kind=kind,
            files=tables,
        )
    for spec in (BY_TABLE[t] for t in tables):
        a, b, c = ((tmp_path / n / spec.name).read_bytes() for n in "abc")
        assert a == b, spec.table
        assert a != c, spec.table


def test_churn_kinds_on_genuine_ncbi_rows(real_data: Path, tmp_path: Path) -> None:
    source = real_data / "releases" / "2021-08-11"
    spec = BY_TABLE["concepts"]
    for kind in CHURN_KINDS:
        out = tmp_path / kind
        result = derive_release(source, out, churn=0.01, seed=2, kind=kind, files=["concepts"])
        assert result == {"concepts": _recount(source / spec.name, out / spec.name, spec)}
    ordered = _column(_table(tmp_path / "ordered" / spec.name, spec)[1], spec, "cui")
    assert ordered == sorted(ordered)
