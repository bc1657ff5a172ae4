"""The compare stage: exact multiset differences of two releases of a file, from the files."""

from __future__ import annotations

import gzip
import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from py_load_medgen.compare import CompareOptions, compare_files
from py_load_medgen.compare.align import Aligner, ReshuffledError
from py_load_medgen.compare.changeset import ChangeSet
from py_load_medgen.compare.unpaired import Unpaired
from py_load_medgen.release.files import spec_for_table

NAMES = spec_for_table("concepts")
DEFS = spec_for_table("definitions")
LINKS = spec_for_table("source_links")
PUBMED = spec_for_table("pubmed_links")


def write(
    path: Path, header: str, rows: list[str], *, members: int = 1, crlf: bool = False
) -> Path:
    end = "\r\n" if crlf else "\n"
    data = (header + end + "".join(r + end for r in rows)).encode()
    if path.suffix != ".gz":
        path.write_bytes(data)
        return path
    cut = [len(data) * i // members for i in range(members + 1)]
    path.write_bytes(b"".join(gzip.compress(data[a:b]) for a, b in itertools.pairwise(cut)))
    return path


def names_rows(n: int, start: int = 0) -> list[str]:
    return [f"C{i:07d}|name of {i}|MSH|N|" for i in range(start, start + n)]


def as_lines(change: ChangeSet, side: str) -> Counter[tuple[object, ...]]:
    rows = change.deleted if side == "deleted" else change.inserted
    assert rows is not None
    return Counter(rows)


def expect(spec_rows: list[tuple[object, ...]]) -> Counter[tuple[object, ...]]:
    return Counter(spec_rows)


def parsed(rows: list[str]) -> list[tuple[object, ...]]:
    return [tuple(r.split("|")[:4]) for r in rows]


def churn(rows: list[str], rng: random.Random, changes: int) -> list[str]:
    new = list(rows)
    for n in range(changes):
        k = rng.randrange(len(new))
        op = rng.random()
        if op < 0.3:
            del new[k]
        elif op < 0.6:
            new.insert(k, f"C9{n:06d}|inserted {n}|OMIM|N|")
        else:
            new[k] = new[k].replace("name of", "renamed")
    return new


def check(old: list[str], new: list[str], change: ChangeSet) -> None:
    assert change.method == "file", change.reason
    assert as_lines(change, "deleted") == Counter(parsed(old)) - Counter(parsed(new))
    assert as_lines(change, "inserted") == Counter(parsed(new)) - Counter(parsed(old))
    assert change.new_rows == len(new)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_keeping_churn_exact(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    old = names_rows(30_000)
    new = churn(old, rng, 400)
    header = "#CUI|name|source|SUPPRESS|"
    a = write(tmp_path / "old.gz", header, old)
    b = write(tmp_path / "new.gz", header, new, members=3)  # several gzip members
    with compare_files(NAMES, a, b) as change:
        check(old, new, change)
        assert change.deleted_count + change.inserted_count < 800


def test_moved_rows_and_duplicates_are_no_change(tmp_path: Path) -> None:
    old = names_rows(5_000)
    new = list(old)
    new[10], new[4000] = new[4000], new[10]  # a move is no change
    new.insert(100, old[7])  # a duplicate: one inserted copy
    old2 = old + [old[20]] * 3  # three copies before, one now: two deleted
    header = "#CUI|name|source|SUPPRESS|"
    with compare_files(
        NAMES, write(tmp_path / "o.gz", header, old2), write(tmp_path / "n.gz", header, new)
    ) as change:
        check(old2, new, change)
        assert change.deleted_count == 3 and change.inserted_count == 1


def test_identical_content_is_empty(tmp_path: Path) -> None:
    old = names_rows(2_000)
    header = "#CUI|name|source|SUPPRESS|"
    with compare_files(
        NAMES,
        write(tmp_path / "o.gz", header, old),
        write(tmp_path / "n.gz", header, old, members=2),
    ) as change:
        assert (change.deleted_count, change.inserted_count, change.new_rows) == (0, 0, 2000)


def test_carriage_returns_inside_values(tmp_path: Path) -> None:
    old = [f"C{i:07d}|line one\rline two {i}|GHR|N|" for i in range(3000)]
    new = list(old)
    new[1500] = "C0001500|line one\rline 2 changed|GHR|N|"
    header = "#CUI|DEF|source|SUPPRESS|"
    with compare_files(
        DEFS, write(tmp_path / "o.gz", header, old), write(tmp_path / "n.gz", header, new)
    ) as change:
        assert list(change.deleted or []) == [("C0001500", "line one\rline two 1500", "GHR", "N")]
        assert list(change.inserted or []) == [("C0001500", "line one\rline 2 changed", "GHR", "N")]
        assert change.inserted is not None
        encoded = change.inserted.encoded()
        assert b"".join(encoded.blocks()) == b"C0001500|line one\\rline 2 changed|GHR|N\n"
        assert encoded.copy_columns == list(DEFS.column_names)


def test_reordered_renamed_columns_and_crlf_compare_as_values(tmp_path: Path) -> None:
    old = [f"C{i:07d}|name {i}|{i}|OMIM" for i in range(2000)]
    new_rows = [f"OMIM|{i}|C{i:07d}|name {i}" for i in range(2000) if i != 5]
    new_rows[100] = "OMIM|101|C0000101|changed"
    a = write(tmp_path / "o.txt", "#CUI|pref_name|source_id|source", old)
    b = write(tmp_path / "n.txt", "#source|source_id|CUI_or_CN_id|pref_name", new_rows, crlf=True)
    with compare_files(LINKS, a, b) as change:
        assert change.method == "file", change.reason
        assert Counter(change.deleted or []) == Counter(
            [("C0000005", "name 5", "5", "OMIM"), ("C0000101", "name 101", "101", "OMIM")]
        )
        assert list(change.inserted or []) == [("C0000101", "changed", "101", "OMIM")]


def test_integer_columns_come_as_ints(tmp_path: Path) -> None:
    old = [f"{i}|C{i:07d}|n|{1000 + i}|" for i in range(100)]
    new = old[:50] + old[51:]
    header = "#UID|CUI|NAME|PMID|"
    with compare_files(
        PUBMED, write(tmp_path / "o.gz", header, old), write(tmp_path / "n.gz", header, new)
    ) as change:
        assert list(change.deleted or []) == [(50, "C0000050", "n", 1050)]


def test_different_columns_fall_back(tmp_path: Path) -> None:
    a = write(tmp_path / "o.txt", "#Source|Abbreviation|Description|URL", ["a|b|c|d"])
    b = write(tmp_path / "n.txt", "#Source|Abbreviation|Description", ["a|b|c"])
    change = compare_files(spec_for_table("sources"), a, b)
    assert change.method == "fallback" and "different columns" in (change.reason or "")
    assert change.deleted is None and change.workdir is None


def test_unreadable_previous_file_falls_back(tmp_path: Path) -> None:
    a = tmp_path / "o.gz"
    a.write_bytes(b"<html>gone</html>")
    b = write(tmp_path / "n.gz", "#CUI|name|source|SUPPRESS|", names_rows(3))
    change = compare_files(NAMES, a, b)
    assert change.method == "fallback" and "previous file" in (change.reason or "")


def test_shuffled_file_detected_early(tmp_path: Path) -> None:
    old = names_rows(40_000)
    new = list(old)
    random.Random(4).shuffle(new)
    header = "#CUI|name|source|SUPPRESS|"
    a, b = write(tmp_path / "o.gz", header, old), write(tmp_path / "n.gz", header, new)
    change = compare_files(NAMES, a, b, options=CompareOptions(detect_after=200_000))
    assert change.method == "fallback" and "reordered" in (change.reason or "")
    # Told never to give up, the same files compare exactly, spilling to partitions.
    options = CompareOptions(detect_after=0, memory_budget=100_000, partitions=8)
    with compare_files(NAMES, a, b, options=options) as change:
        assert (change.deleted_count, change.inserted_count) == (0, 0)


def test_reshuffle_is_told_after_an_eighth_when_nearly_nothing_pairs(tmp_path: Path) -> None:
    old = [line.encode() for line in names_rows(200_000)]
    new = list(old)
    random.Random(5).shuffle(new)
    detect_after = 4_000_000
    aligner = Aligner(
        iter([b"\n".join(old) + b"\n"]),
        iter([b"\n".join(new) + b"\n"]),
        Unpaired(tmp_path / "spill", budget=1 << 30),
        detect_after=detect_after,
    )
    with pytest.raises(ReshuffledError):
        aligner.run()
    assert aligner.new.consumed < detect_after


def test_a_head_half_rewritten_is_not_taken_for_a_reshuffle(tmp_path: Path) -> None:
    # Half of the first eighth changed, the rest in order: below the early limit, so the
    # comparison goes on (the 50 % limit at ``detect_after`` is met too) and stays exact.
    rng = random.Random(6)
    old = names_rows(40_000)
    new = list(old)
    for i in range(0, 5_000, 2):
        new[i] = f"C{i:07d}|renamed {rng.random()}|MSH|N|"
    header = "#CUI|name|source|SUPPRESS|"
    options = CompareOptions(detect_after=800_000)
    with compare_files(
        NAMES,
        write(tmp_path / "o.gz", header, old),
        write(tmp_path / "n.gz", header, new),
        options=options,
    ) as change:
        assert change.method == "file"
        check(old, new, change)


def test_spilled_comparison_is_exact(tmp_path: Path) -> None:
    rng = random.Random(9)
    old = names_rows(20_000)
    new = churn(old, rng, 3000)
    new[100:5000] = reversed(new[100:5000])
    header = "#CUI|name|source|SUPPRESS|"
    options = CompareOptions(detect_after=0, memory_budget=50_000, partitions=4)
    with compare_files(
        NAMES,
        write(tmp_path / "o.gz", header, old),
        write(tmp_path / "n.gz", header, new),
        options=options,
    ) as change:
        check(old, new, change)


def test_long_lines_and_file_ends_without_line_feed(tmp_path: Path) -> None:
    long = "x" * 10_000_000
    old = [f"C0000001|{long}|MSH|N|", *names_rows(10, 2)]
    new = [f"C0000001|{long}y|MSH|N|", *names_rows(10, 2)]
    header = "#CUI|name|source|SUPPRESS|"
    a = write(tmp_path / "o.txt", header, old)
    b = tmp_path / "n.txt"
    b.write_bytes(("#CUI|name|source|SUPPRESS|\n" + "\n".join(new)).encode())
    with compare_files(NAMES, a, b) as change:
        check(old, new, change)
