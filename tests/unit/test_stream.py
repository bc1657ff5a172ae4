from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from py_load_medgen.errors import InputError, TooManyBadRowsError
from py_load_medgen.parse.stream import EncodedFile, RejectSink
from py_load_medgen.release.files import spec_for_table

NAMES = spec_for_table("concepts")
DEFS = spec_for_table("definitions")
PUBMED = spec_for_table("pubmed_links")
HISTORY = spec_for_table("hpo_cui_history")
HEADER = b"#CUI|name|source|SUPPRESS|\n"


def write(tmp_path: Path, name: str, data: bytes, compress: bool = True) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def encode(path: Path, spec=NAMES, **kw) -> tuple[EncodedFile, bytes]:
    enc = EncodedFile(path, spec, **kw)
    return enc, b"".join(enc.blocks())


def test_fast_path_escapes_and_keeps_trailing_field(tmp_path: Path) -> None:
    data = HEADER + b"C1|a\\b|GTR|N|\nC2|x\ry|GTR|N|\n"
    enc, out = encode(write(tmp_path, "NAMES.RRF.gz", data))
    assert out == b"C1|a\\\\b|GTR|N|\nC2|x\\ry|GTR|N|\n"
    assert enc.copy_columns == ["cui", "preferred_name", "source", "suppress", "_trailing"]
    assert enc.scratch_columns == ["_trailing"]
    assert enc.stats.rows_read == 2 and enc.stats.rows_rejected == 0


def test_careful_path_gives_the_same_bytes_as_the_fast_path(tmp_path: Path) -> None:
    rows = b"".join(f"C{i:07d}|n\\{i}\r|S\t|N|\n".encode() for i in range(5000))
    _, fast = encode(write(tmp_path, "NAMES.RRF.gz", HEADER + rows))
    bad = HEADER + rows + b"C9|short|\n"
    enc, careful = encode(write(tmp_path, "NAMES2.RRF.gz", bad))
    assert careful == fast
    assert enc.stats.rows_rejected == 1


def test_bad_rows_quarantined_with_line_numbers(tmp_path: Path) -> None:
    data = HEADER + b"C1|a|b|N|\nC2|a|b|\nC3|a|b|N|x|\nC4|a|b|N|\nC5|a|b|N|junk\n"
    sink = RejectSink(tmp_path / "rejects")
    enc, out = encode(write(tmp_path, "NAMES.RRF.gz", data), rejects=sink)
    assert out == b"C1|a|b|N|\nC4|a|b|N|\n"
    assert enc.stats.rejected_lines == [3, 4, 6]
    assert [enc.file_line(1), enc.file_line(2)] == [2, 5]
    text = (tmp_path / "rejects" / "NAMES.RRF.gz.rejects").read_text()
    assert "# NAMES.RRF.gz line 3: expected 4 fields, found 3\nC2|a|b|\n" in text
    assert "line 6: expected 4 fields, found 5" in text


def test_max_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "NAMES.RRF.gz", HEADER + b"C1|a|\nC2|b|\n")
    with pytest.raises(TooManyBadRowsError, match=r"line 3: .*max-bad-rows=1"):
        encode(path, max_bad_rows=1)
    with pytest.raises(TooManyBadRowsError, match="line 2: .*strict"):
        encode(path, max_bad_rows=0)


def test_invalid_utf8_names_line_column_and_offset(tmp_path: Path) -> None:
    data = HEADER + b"C1|ok|GTR|N|\nC2|caf\xe9|GTR|N|\n"
    with pytest.raises(InputError) as info:
        encode(write(tmp_path, "NAMES.RRF.gz", data))
    assert info.value.line == 3 and info.value.column == "name"
    assert info.value.offset == len(HEADER) + len(b"C1|ok|GTR|N|\nC2|caf")
    assert "invalid UTF-8 (byte 0xe9)" in str(info.value)


def test_nul_byte(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 2, byte offset 31: NUL byte"):
        encode(write(tmp_path, "NAMES.RRF.gz", HEADER + b"C1|a\x00|GTR|N|\n"))


def test_crlf_file_and_mixed_endings(tmp_path: Path) -> None:
    head = b"HPO_Id\tCUI\tDate\tIsCurrent\r\n"
    _, out = encode(
        write(tmp_path, "h.txt", head + b"HP:1\tC1\t12 Jun 2019\t1\r\n", False), HISTORY
    )
    assert out == b"HP:1\tC1\t12 Jun 2019\t1\n"
    with pytest.raises(InputError, match="line 3: line ends with LF alone"):
        encode(
            write(tmp_path, "h2.txt", head + b"HP:1\tC1\td\t1\r\nHP:2\tC2\td\t1\n", False), HISTORY
        )
    with pytest.raises(InputError, match="line 2: line ends with CR LF"):
        encode(write(tmp_path, "n.gz", HEADER + b"C1|a|b|N|\r\n"))


def test_cr_inside_definitions_survives(tmp_path: Path) -> None:
    data = b"#CUI|DEF|source|SUPPRESS|\nC1|first\rsecond\r|GHR|N|\n"
    _, out = encode(write(tmp_path, "MGDEF.RRF.gz", data), DEFS)
    assert out == b"C1|first\\rsecond\\r|GHR|N|\n"


def test_raw_records(tmp_path: Path) -> None:
    data = HEADER + b"C1|a\\b|GTR|N|\n"
    enc, out = encode(write(tmp_path, "NAMES.RRF.gz", data), raw_records=True)
    assert enc.copy_columns[-1] == "raw_record"
    assert out == b"C1|a\\\\b|GTR|N|C1\\|a\\\\b\\|GTR\\|N\\|\n"


def test_unknown_column_gets_scratch_column(tmp_path: Path) -> None:
    enc, _ = encode(
        write(tmp_path, "NAMES.RRF.gz", b"#CUI|name|new|source|SUPPRESS|\nC1|a|z|b|N|\n")
    )
    assert enc.copy_columns == [
        "cui",
        "preferred_name",
        "_unknown_3",
        "source",
        "suppress",
        "_trailing",
    ]


def test_value_checks_in_dry_run(tmp_path: Path) -> None:
    data = b"#UID|CUI|NAME|PMID|\n1|C1|n|2|\n2|C1|n|x|\n"
    path = write(tmp_path, "medgen_pubmed_lnk.txt.gz", data)
    encode(path, PUBMED)  # the database checks types on a real load
    with pytest.raises(InputError, match="line 3, column PMID: 'x' is not an integer"):
        encode(path, PUBMED, validate_values=True)
    big = write(tmp_path, "p2.gz", b"#UID|CUI|NAME|PMID|\n99999999999999999999|C1|n|2|\n")
    with pytest.raises(InputError, match="column UID"):
        encode(big, PUBMED, validate_values=True)
    shape = write(tmp_path, "NAMES.RRF.gz", HEADER + b"X1|a|b|N|\n")
    with pytest.raises(InputError, match="column CUI: 'X1' is not a MedGen concept id"):
        encode(shape, validate_values=True)


def test_overlong_line_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from py_load_medgen.parse import stream

    monkeypatch.setattr(stream, "MAX_LINE_BYTES", 4 << 20)
    data = HEADER + b"C1|" + b"x" * (24 << 20)  # no line feed: memory must stay bounded
    with pytest.raises(InputError, match="line 2: line is longer than 4 MiB"):
        encode(write(tmp_path, "NAMES.RRF.gz", data))


def test_last_line_without_newline(tmp_path: Path) -> None:
    enc, out = encode(write(tmp_path, "NAMES.RRF.gz", HEADER + b"C1|a|b|N|"))
    assert out == b"C1|a|b|N|\n" and enc.stats.rows_read == 1


def test_header_only_is_refused_and_plain_file_accepted(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="header but no data rows"):
        encode(write(tmp_path, "NAMES.RRF", HEADER, compress=False))
    _, out = encode(write(tmp_path, "NAMES2.RRF", HEADER + b"C1|a|b|N|\n", compress=False))
    assert out == b"C1|a|b|N|\n"
