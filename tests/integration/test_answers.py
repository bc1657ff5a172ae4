"""The answers (views, derived tables, lookup, resolve, exports) on both backends.

Planted answers come from ``tests/planted.py``, a release written row by row; the genuine
checks load NCBI's own MGREL and NAMES rows of the 2022-05-11 build.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from py_load_medgen import answers
from py_load_medgen.answers.curies import CURIE
from py_load_medgen.answers.exports import HPOA_COLUMNS, KGX_EDGE_COLUMNS, KGX_NODE_COLUMNS
from py_load_medgen.errors import ExitCode
from tests.helpers import load_release, query
from tests.planted import EXPECTED_XREFS, ROWS, write_release


@pytest.fixture
def planted(tmp_path: Path, db_uri: str) -> str:
    assert load_release(write_release(tmp_path / "release"), db_uri) == 0
    return db_uri


def rows(uri: str, statement: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in query(uri, statement)]


def test_xrefs_are_normalised_with_cardinality(planted: str) -> None:
    got = rows(planted, "SELECT cui, curie, origin, cardinality FROM medgen.xrefs")
    assert {(c, x): (o, k) for c, x, o, k in got} == EXPECTED_XREFS
    # a CN id is MEDGEN:, never UMLS:; MTHU codes and the concept's own id are not xrefs
    assert not [r for r in got if "MTHU" in str(r[1]) or str(r[1]).startswith("UMLS:CN")]
    served = rows(planted, "SELECT source_id FROM medgen.xrefs WHERE curie = 'ORPHA:558'")
    assert served == [("Orphanet_558",)]


def test_cui_status_follows_chains_cycle_safe(planted: str) -> None:
    got = {
        (i, t): (s, c, n, d)
        for i, t, s, c, n, d in rows(
            planted,
            "SELECT id, id_type, status, current_cui, chain_length, last_action_date "
            "FROM medgen.cui_status",
        )
    }
    assert got[("C0000001", "cui")] == ("current", "C0000001", 0, None)
    assert got[("C0000020", "cui")] == ("merged", "C0000001", 2, None)  # MERGED, then history
    assert got[("C0000021", "cui")] == ("merged", "C0000001", 1, date(2020, 3, 5))  # latest
    assert got[("C0000030", "cui")] == ("retired", None, 1, None)  # a cycle ends retired
    assert got[("C0000031", "cui")][:2] == ("retired", None)
    assert got[("C0000040", "cui")] == ("retired", None, 0, date(2022, 5, 7))
    assert got[("C0000009", "cui")] == ("retired", None, 0, None)  # only a UID row knows it
    assert got[("1001", "uid")] == ("current", "C0000001", 0, date(2019, 6, 12))
    assert got[("1002", "uid")] == ("merged", "C0000001", 2, date(2015, 2, 3))
    assert got[("1003", "uid")] == ("retired", None, 0, date(2016, 3, 4))
    assert got[("HP:0001166", "hpo")][:2] == ("current", "C0000002")
    assert got[("HP:0000001", "hpo")][:2] == ("retired", None)
    assert got[("MONDO:0007947", "mondo")][:2] == ("current", "C0000001")
    assert got[("ORPHA:558", "ordo")][:3] == ("merged", "C0000001", 1)
    assert len(got) == len(rows(planted, "SELECT id, id_type FROM medgen.cui_status"))
    assert got[("CN000010", "cui")][:2] == ("current", "CN000010")


def test_disease_phenotypes_one_row_per_pair(planted: str) -> None:
    got = rows(
        planted,
        "SELECT disease_cui, phenotype_cui, hpo_id, negated, is_inheritance, sources "
        "FROM medgen.disease_phenotypes ORDER BY 1, 2",
    )
    assert got == [
        # two STY rows and an MGREL row: one pair; manifestation_of read as CUI2 of CUI1
        ("C0000001", "C0000002", "HP:0001166", False, False, "MGREL:OMIM,MedGen_HPO_OMIM_Mapping"),
        ("C0000001", "C0000003", "HP:0000006", False, True, "MedGen_HPO_OMIM_Mapping"),
        ("C0000001", "C0000004", None, False, False, "MGREL:OMIM"),  # has_manifestation
        ("C0000001", "C0000012", None, True, False, "MGREL:OMIM"),  # not_manifestation_of
        ("C0000013", "C0000004", "HP:0000098", True, False, "MedGen_HPO_OMIM_Mapping"),
    ]


def test_inheritance_and_hierarchy_directions(planted: str) -> None:
    assert rows(planted, "SELECT * FROM medgen.inheritance ORDER BY 1, 2") == [
        ("C0000001", "C0000003", "Autosomal dominant inheritance",
         "MGREL:OMIM,MedGen_HPO_OMIM_Mapping"),
        ("C0000013", "C0000003", "Autosomal dominant inheritance", "MGREL:OMIM"),
    ]  # fmt: skip
    assert rows(planted, "SELECT * FROM medgen.hierarchy ORDER BY 1, 2") == [
        ("C0000005", "C0000001", "MONDO", "isa"),
        ("C0000006", "C0000005", "MONDO", "isa"),  # PAR/inverse_isa: CUI2 is the parent
        ("C0000006", "C0000014", "MSH", "CHD"),  # part_of left out, plain CHD kept
        ("C0000007", "C0000008", "NCI", "isa"),
        ("C0000008", "C0000007", "NCI", "isa"),
    ]
    up = rows(planted, "SELECT * FROM medgen.ancestors('C0000001') ORDER BY 1")
    assert up == [("C0000005",), ("C0000006",)]
    down = rows(planted, "SELECT * FROM medgen.descendants('C0000006') ORDER BY 1")
    assert down == [("C0000001",), ("C0000005",), ("C0000014",)]
    assert rows(planted, "SELECT * FROM medgen.ancestors('C0000007')") == [("C0000008",)]


def test_concept_cards(planted: str) -> None:
    card = rows(planted, "SELECT * FROM medgen.concept_cards WHERE cui = 'C0000001'")
    assert card == [
        ("C0000001", "Marfan syndrome", "OMIM",
         "A disorder of connective tissue.\rIt affects the heart. [GeneReviews]",
         "Disease or Syndrome", "MONDO:0007947 OMIM:154700 ORPHA:558"),
    ]  # fmt: skip
    assert not rows(planted, "SELECT * FROM medgen.concept_cards WHERE cui = 'C0000015'")


def test_lookup_ids_and_text(planted: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import run_cli

    queries = ["OMIM:154700", "ORPHA:558", "orphanet_558", "UMLS:C0000020", "1002",
               "MEDGEN:CN000010", "hp:1166", "marfan", "zebra"]  # fmt: skip
    # "zebra" matches only a suppressed name: exit 11 says a query found nothing.
    assert run_cli("lookup", "--db-uri", planted, "--json", *queries) == ExitCode.NOT_FOUND
    cards = json.loads(capsys.readouterr().out)
    by_query: dict[str, list[dict[str, object]]] = {}
    for card in cards:
        assert {"cui", "name", "status", "xrefs"} <= card.keys()
        by_query.setdefault(str(card["query"]), []).append(card)
    assert [c["cui"] for c in by_query["OMIM:154700"]] == ["C0000001"]
    assert by_query["OMIM:154700"][0]["xrefs"] == ["MONDO:0007947", "OMIM:154700", "ORPHA:558"]
    assert [(c["cui"], c["status"]) for c in by_query["ORPHA:558"]] == [("C0000001", "merged")]
    assert by_query["orphanet_558"][0]["cui"] == "C0000001"
    assert [(c["cui"], c["status"]) for c in by_query["UMLS:C0000020"]] == [("C0000001", "merged")]
    assert by_query["1002"][0]["cui"] == "C0000001"
    assert by_query["MEDGEN:CN000010"][0]["curie"] == "MEDGEN:CN000010"
    assert by_query["hp:1166"][0]["cui"] == "C0000002"
    marfan = [c["cui"] for c in by_query["marfan"]]
    assert marfan[0] == "C0000001"  # starts with the text and is a preferred name
    assert "CN000010" in marfan
    assert "zebra" not in by_query  # the only match is a suppressed name
    assert run_cli("lookup", "--db-uri", planted, "C0000001") == 0
    assert "Marfan syndrome" in capsys.readouterr().out
    assert run_cli("lookup", "--db-uri", planted, "C0000001", "zebra") == ExitCode.NOT_FOUND
    printed = capsys.readouterr().out
    assert "Marfan syndrome" in printed and "zebra: nothing found" in printed


def test_resolve_stdin_json(
    planted: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from tests.helpers import run_cli

    ids = ["C0000001", "C0000020", "C0000030", "1003", "OMIM:600000", "nonsense", "C0000001"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(ids[1:]) + "\n\n"))
    assert run_cli("resolve", "--db-uri", planted, "--json", ids[0], "-") == 0
    got = json.loads(capsys.readouterr().out)
    assert got == [
        {"id": "C0000001", "status": "current", "current": ["C0000001"]},
        {"id": "C0000020", "status": "merged", "current": ["C0000001"]},
        {"id": "C0000030", "status": "retired", "current": []},
        {"id": "1003", "status": "retired", "current": []},
        {"id": "OMIM:600000", "status": "current", "current": ["C0000012", "C0000013"]},
        {"id": "nonsense", "status": "unknown", "current": []},
        {"id": "C0000001", "status": "current", "current": ["C0000001"]},
    ]


def test_resolve_agrees_with_cui_status(planted: str) -> None:
    """resolve answers from the ids' own keys, not through the view: it must say what the view
    says of every id it holds (and, for a CURIE, of the concepts xref_pairs maps it to)."""
    rank = {"current": 0, "merged": 1, "retired": 2, "unknown": 3}
    view: dict[str, list[tuple[object, ...]]] = {}
    for ident, kind, state, cui in rows(
        planted, "SELECT id, id_type, status, current_cui FROM medgen.cui_status"
    ):
        view.setdefault(str(ident), []).append((kind, state, cui))
    pairs = rows(planted, "SELECT curie, cui FROM medgen.xref_pairs")
    for curie, cui in pairs:
        view.setdefault(str(curie), []).extend(
            (kind, state, current)
            for kind, state, current in view.get(str(cui), [])
            if kind == "cui"
        )
    wanted = [*sorted(view), "C9999999", "4242", "HP:9999999", "nonsense", "C0000001"]
    got = list(answers.resolve(planted, wanted))
    assert [r.id for r in got] == wanted
    for result in got:
        found = view.get(result.id, [])
        best = min((str(s) for _k, s, _c in found), key=rank.__getitem__, default="unknown")
        current = sorted({str(c) for _k, _s, c in found if c})
        assert (result.status, result.current) == (best, current), result.id
    statuses = {r.status for r in got}
    assert statuses == {"current", "merged", "retired", "unknown"}


def _tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    table = list(csv.reader(lines, delimiter="\t"))
    return table[0], table[1:]


def test_exports_match_the_views(planted: str, tmp_path: Path) -> None:
    from tests.helpers import run_cli

    sssom = tmp_path / "medgen.sssom.tsv"
    assert run_cli("export", "sssom", str(sssom), "--db-uri", planted) == 0
    text = sssom.read_text(encoding="utf-8")
    assert "# curie_map:" in text and "#   MEDGEN: " in text and "# license: " in text
    header, body = _tsv(sssom)
    assert {"subject_id", "predicate_id", "object_id", "mapping_justification"} <= set(header)
    assert len(body) == len(EXPECTED_XREFS)
    mapped = {(r[0], r[3]): r[2] for r in body}
    assert mapped[("UMLS:C0000001", "OMIM:154700")] == "skos:exactMatch"
    assert mapped[("UMLS:C0000014", "OMIM:100001")] == "skos:closeMatch"
    assert mapped[("MEDGEN:CN000010", "OMIM:154705")] == "skos:exactMatch"
    prefixes = {line.split(":")[0].strip("# ") for line in text.splitlines() if line[:4] == "#   "}
    for row in body:
        assert CURIE.match(row[0]) and CURIE.match(row[3]), row
        assert {row[0].split(":")[0], row[3].split(":")[0], *row[2].split(":")[:1]} <= prefixes

    kgx = tmp_path / "kgx"
    assert run_cli("export", "kgx", str(kgx), "--db-uri", planted) == 0
    nodes_header, nodes = _tsv(kgx / "nodes.tsv")
    edges_header, edges = _tsv(kgx / "edges.tsv")
    assert tuple(nodes_header) == KGX_NODE_COLUMNS and tuple(edges_header) == KGX_EDGE_COLUMNS
    assert len(nodes) == len(ROWS["concepts"])
    categories = {n[0]: n[1] for n in nodes}
    assert categories["UMLS:C0000001"] == "biolink:Disease"
    assert categories["UMLS:C0000002"] == "biolink:PhenotypicFeature"
    assert categories["MEDGEN:CN000010"] == "biolink:Disease"
    assert all(CURIE.match(e[1]) and CURIE.match(e[3]) for e in edges)
    count = rows(planted, "SELECT (SELECT count(*) FROM medgen.hierarchy) + "
                 "(SELECT count(*) FROM medgen.disease_phenotypes WHERE NOT is_inheritance) + "
                 "(SELECT count(*) FROM medgen.inheritance)")[0][0]  # fmt: skip
    assert len(edges) == count
    assert not [e for e in edges if e[2] == "biolink:mentioned_by"]
    assert run_cli("export", "kgx", str(kgx), "--with-pubmed", "--db-uri", planted) == 0
    _, nodes = _tsv(kgx / "nodes.tsv")
    _, edges = _tsv(kgx / "edges.tsv")
    assert sorted(n[0] for n in nodes if n[1] == "biolink:Publication") == [
        "PMID:11", "PMID:12", "PMID:13"]  # fmt: skip
    assert len([e for e in edges if e[2] == "biolink:mentioned_by"]) == 4

    hpoa = tmp_path / "disease_phenotype.tsv"
    assert run_cli("export", "disease-phenotype", str(hpoa), "--db-uri", planted) == 0
    header, body = _tsv(hpoa)
    assert tuple(header) == HPOA_COLUMNS
    assert len(body) == rows(planted, "SELECT count(*) FROM medgen.disease_phenotypes")[0][0]
    negated = [(r[0], r[3]) for r in body if r[2] == "NOT"]
    assert negated == [("UMLS:C0000001", "UMLS:C0000012"), ("UMLS:C0000013", "HP:0000098")]
    assert all(re.match(r"^(HP:\d{7}|UMLS:C\d{7}|MEDGEN:CN\d+)$", r[3]) for r in body)


def test_python_api_typed_and_arrow(planted: str) -> None:
    result = answers.lookup(planted, ["C0000001"])
    assert result.cards[0].to_json()["name"] == "Marfan syndrome"
    assert "C0000001  Marfan syndrome" in result.render()
    resolved = list(answers.resolve(planted, ["C0000020"]))
    assert resolved[0].current == ["C0000001"] and resolved[0].render().startswith("C0000020")
    table = answers.arrow(planted, "inheritance")
    assert table.num_rows == 2 and "inheritance_cui" in table.column_names


def test_delta_refreshes_the_answers(planted: str, tmp_path: Path) -> None:
    changed = {k: list(v) for k, v in ROWS.items()}
    changed["source_links"].append(("C0000004", "Tall stature", "HP:0000098", "HPO"))
    changed["source_links"].append(("C0000005", "Connective tissue disease", "123", "OMIM"))
    changed["relationships"].append(
        ("C0000014", "A14", "AUI", "RO", "C0000003", "A3", "inheritance_type_of", "R99",
         "OMIM", "OMIM", "N")
    )  # fmt: skip
    changed["cui_history"].append(("C0000012", "C0000013", "08 Aug 2023"))
    release = write_release(tmp_path / "next", changed)
    assert load_release(release, planted, "--mode", "delta") == 0
    assert rows(planted, "SELECT cardinality FROM medgen.xrefs WHERE curie = 'OMIM:123'") == [
        ("1:1",)
    ]
    assert ("C0000014", "C0000003") in rows(
        planted, "SELECT disease_cui, inheritance_cui FROM medgen.inheritance"
    )
    # C0000012 is still a concept (NAMES), so the history row does not retire it
    assert rows(planted, "SELECT status FROM medgen.cui_status WHERE id = 'C0000012'") == [
        ("current",)
    ]


def test_answers_survive_reloads_with_user_views(pg_uri: str, tmp_path: Path) -> None:
    import psycopg

    release = write_release(tmp_path / "release")
    assert load_release(release, pg_uri) == 0
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute("CREATE VIEW medgen.my_cards AS SELECT cui, name FROM medgen.concept_cards")
        conn.execute("CREATE VIEW medgen.my_omim AS SELECT * FROM medgen.xrefs "
                     "WHERE curie LIKE 'OMIM:%'")  # fmt: skip
    assert load_release(release, pg_uri) == 0
    assert load_release(release, pg_uri, "--strategy", "truncate") == 0
    assert rows(pg_uri, "SELECT count(*) FROM medgen.my_cards")[0][0] == 12
    assert rows(pg_uri, "SELECT count(*) FROM medgen.my_omim")[0][0] == 6
    assert rows(pg_uri, "SELECT count(*) FROM medgen.xrefs")[0][0] == len(EXPECTED_XREFS)


def test_partial_load_publishes_what_it_can(db_uri: str, tmp_path: Path) -> None:
    release = write_release(tmp_path / "release")
    assert load_release(release, db_uri, "--files", "NAMES.RRF.gz,MGREL.RRF.gz") == 0
    assert rows(db_uri, "SELECT count(*) FROM medgen.hierarchy")[0][0] == 5
    assert rows(db_uri, "SELECT count(*) FROM medgen.cui_status")[0][0] == len(ROWS["concepts"])
    names = {r[0] for r in rows(db_uri, "SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'medgen'")}  # fmt: skip
    assert "xrefs" not in names  # nothing to build it from


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_genuine_mgrel_directions(
    backend: str, real_data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = request.getfixturevalue("pg_uri" if backend == "postgresql" else "duckdb_uri")
    source = real_data / "releases" / "2022-05-11"
    assert load_release(source, uri, "--files", "NAMES.RRF.gz,MGREL.RRF.gz") == 0
    inheritance = rows(uri, "SELECT inheritance_cui, inheritance_name FROM medgen.inheritance "
                            "WHERE disease_cui = 'C5394059'")  # fmt: skip
    assert inheritance == [("C0443147", "Autosomal dominant inheritance")]
    assert not rows(uri, "SELECT 1 FROM medgen.inheritance WHERE inheritance_cui = 'C5394059'")
    assert ("C5399761", "C0220722") in rows(
        uri, "SELECT parent_cui, child_cui FROM medgen.hierarchy"
    )
    assert ("C5399761",) in rows(uri, "SELECT * FROM medgen.ancestors('C0220722')")
    # read the right way round, a few modes of inheritance serve thousands of diseases
    diseases, modes = rows(
        uri,
        "SELECT count(DISTINCT disease_cui), count(DISTINCT inheritance_cui) "
        "FROM medgen.inheritance",
    )[0]
    assert int(str(diseases)) > 1000
    assert int(str(modes)) < 50
    named = rows(uri, "SELECT DISTINCT inheritance_name FROM medgen.inheritance")
    assert ("Autosomal recessive inheritance",) in named


def test_name_search_with_and_without_trigrams(pg_uri: str, tmp_path: Path) -> None:
    import psycopg

    assert load_release(write_release(tmp_path / "release"), pg_uri) == 0
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchall()
    ranked = [c.cui for c in answers.lookup(pg_uri, ["marfan"]).cards]
    with psycopg.connect(pg_uri, autocommit=True) as conn:
        conn.execute("DROP EXTENSION pg_trgm")
    fallback = [c.cui for c in answers.lookup(pg_uri, ["marfan"]).cards]
    assert ranked[0] == fallback[0] == "C0000001"
    assert set(ranked) == set(fallback) == {"C0000001", "CN000010"}


def _mark(uri: str) -> None:
    """Comment both derived tables: a rebuilt one is a new table, without the comment."""
    from py_load_medgen.load.registry import open_loader

    with open_loader(uri, "medgen") as loader:
        for name in ("xref_pairs", "cui_chains"):
            loader.execute(f"COMMENT ON TABLE medgen.{name} IS 'seen'")


def _kept(uri: str) -> set[str]:
    """The derived tables that still carry the comment ``_mark`` gave them."""
    if uri.startswith("duckdb"):
        statement = (
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'medgen' "
            "AND comment = 'seen'"
        )
    else:
        statement = (
            "SELECT relname FROM pg_class WHERE relnamespace = 'medgen'::regnamespace "
            "AND obj_description(oid, 'pg_class') = 'seen'"
        )
    return {str(name) for (name,) in rows(uri, statement)}


def test_derived_tables_rebuilt_only_when_their_inputs_change(
    planted: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The first, whole load built both before publishing (on PostgreSQL on the second
    # connection while the other files copied).
    first = [r.getMessage() for r in caplog.get_records("setup")]
    built = {m.split()[1] for m in first if m.startswith("answers: ")}
    assert built >= {"xref_pairs", "cui_chains"}
    _mark(planted)
    assert _kept(planted) == {"xref_pairs", "cui_chains"}
    # Another file, the same rows in another order: nothing changed, nothing is rebuilt.
    reordered = {k: list(v) for k, v in ROWS.items()}
    reordered["source_links"].reverse()
    assert load_release(write_release(tmp_path / "reordered", reordered), planted,
                        "--mode", "delta") == 0  # fmt: skip
    assert _kept(planted) == {"xref_pairs", "cui_chains"}
    # A new MedGenIDMappings row, found by comparing the kept files: xref_pairs is refreshed
    # in place for that concept (and serves it); compared in the database, it is rebuilt.
    # cui_chains is not touched either way.
    more = {k: list(v) for k, v in reordered.items()}
    more["source_links"].append(("C0000005", "Connective tissue disease", "123", "OMIM"))
    assert load_release(write_release(tmp_path / "more", more), planted, "--mode", "delta") == 0
    assert _kept(planted) == {"xref_pairs", "cui_chains"}
    assert rows(planted, "SELECT cui FROM medgen.xref_pairs WHERE curie = 'OMIM:123'") == [
        ("C0000005",)
    ]
    more["source_links"].append(("C0000006", "Another disease", "124", "OMIM"))
    assert load_release(write_release(tmp_path / "more2", more), planted, "--mode", "delta",
                        "--no-keep-files") == 0  # fmt: skip
    assert _kept(planted) == {"cui_chains"}
    # A new concept feeds cui_chains, which is rebuilt but comes out the same: the published
    # one stays. A new history row changes a chain: the rebuilt one is swapped in.
    more["concepts"].append(("C0000099", "A new concept", "OMIM", "N"))
    assert load_release(write_release(tmp_path / "more3", more), planted, "--mode", "delta") == 0
    assert _kept(planted) == {"cui_chains"}
    more["cui_history"].append(("C0000041", "C0000099", "10 Oct 2024"))
    assert load_release(write_release(tmp_path / "more4", more), planted, "--mode", "delta") == 0
    assert _kept(planted) == set()
    assert rows(planted, "SELECT status, current_cui FROM medgen.cui_status "
                         "WHERE id = 'C0000041'") == [("merged", "C0000099")]  # fmt: skip
    assert rows(planted, "SELECT cui FROM medgen.xref_pairs WHERE curie = 'OMIM:123'") == [
        ("C0000005",)
    ]
    # A full load of one file rebuilds what reads it, before publishing, and nothing else.
    _mark(planted)
    chained = {k: list(v) for k, v in more.items()}
    chained["cui_history"].append(("C0000040", "C0000002", "09 Sep 2024"))
    release = write_release(tmp_path / "chained", chained)
    caplog.clear()
    assert load_release(release, planted, "--files", "MedGen_CUI_history.txt") == 0
    again = [r.getMessage() for r in caplog.records if r.getMessage().startswith("answers: ")]
    assert [m.split()[1] for m in again] == ["cui_chains"]  # staged before publishing
    assert _kept(planted) == {"xref_pairs"}
    assert rows(planted, "SELECT status, current_cui FROM medgen.cui_status "
                         "WHERE id = 'C0000040'") == [("merged", "C0000002")]  # fmt: skip
    staged = rows(planted, "SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name LIKE '\\_staging\\_%' ESCAPE '\\'")  # fmt: skip
    assert staged == [(0,)]


_BIG = ("concepts", "concept_names", "source_links", "xref_pairs", "uid_cui_history",
        "hpo_cui_history", "mondo_cui_history", "ordo_cui_history")  # fmt: skip


@pytest.mark.parametrize(
    "ident", ["C0000020", "1002", "OMIM:154700", "ORPHA:558", "HP:0001166", "MONDO:0007947"]
)
def test_lookup_of_every_id_kind_is_an_index_probe(pg_uri: str, tmp_path: Path, ident: str) -> None:
    """Every statement ``lookup`` runs for an id reaches the tables that hold ids through an
    index: with sequential scans priced out, none is left that reads one of them whole."""
    from py_load_medgen.load.registry import open_loader

    assert load_release(write_release(tmp_path / "release"), pg_uri) == 0
    loader = open_loader(pg_uri, "medgen")
    loader.connect()
    try:
        seen: list[tuple[str, tuple[object, ...]]] = []
        real = loader.query

        def recording(statement: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
            seen.append((statement, tuple(params)))
            return real(statement, params)

        loader.query = recording  # type: ignore[method-assign]
        result = answers.lookup(loader, [ident])
        loader.query = real  # type: ignore[method-assign]
        assert result.cards, ident
        probes = [(s, p) for s, p in seen if "medgen" in s and "WHERE" in s]
        assert any("cui_status" in s or "xref_pairs" in s for s, _ in probes)
        loader.execute("SET enable_seqscan = off")
        for statement, params in probes:
            plan = "\n".join(r[0] for r in loader.query("EXPLAIN " + statement, params))
            scanned = [t for t in _BIG if f"Seq Scan on {t} " in plan]
            assert not scanned, (ident, statement, plan)
    finally:
        loader.close()
