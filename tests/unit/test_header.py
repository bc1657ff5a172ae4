from __future__ import annotations

import pytest

from py_load_medgen.errors import InputError, SchemaDriftError
from py_load_medgen.parse.header import parse_header
from py_load_medgen.release.files import spec_for_table

NAMES = spec_for_table("concepts")
LINKS = spec_for_table("source_links")
HISTORY = spec_for_table("hpo_cui_history")


def test_rrf_header() -> None:
    layout = parse_header("NAMES.RRF.gz", NAMES, b"#CUI|name|source|SUPPRESS|\nC1|x|y|N|\n")
    assert layout.delimiter == b"|"
    assert layout.trailing and not layout.crlf
    assert layout.targets == ("cui", "preferred_name", "source", "suppress")
    assert layout.header_length == len(b"#CUI|name|source|SUPPRESS|\n")
    assert not layout.reordered and layout.unknown == ()


def test_tab_header_without_hash_or_trailing_delimiter() -> None:
    layout = parse_header("HPO_CUI_history.txt", HISTORY, b"HPO_Id\tCUI\tDate\tIsCurrent\r\n")
    assert layout.delimiter == b"\t"
    assert not layout.trailing and layout.crlf
    assert layout.targets == ("hpo_id", "cui", "date", "is_current")


def test_reordered_and_case_insensitive() -> None:
    layout = parse_header("NAMES.RRF.gz", NAMES, b"suppress|Name|CUI|SOURCE\n")
    assert layout.targets == ("suppress", "preferred_name", "cui", "source")
    assert layout.reordered


def test_known_rename_is_accepted() -> None:
    old = parse_header("x", LINKS, b"#CUI|pref_name|source_id|source|\n")
    new = parse_header("x", LINKS, b"#CUI_or_CN_id|pref_name|source_id|source|\n")
    assert old.targets == new.targets


def test_unknown_column_warns(caplog: pytest.LogCaptureFixture) -> None:
    layout = parse_header("NAMES.RRF.gz", NAMES, b"#CUI|name|source|SUPPRESS|extra|\n")
    assert layout.unknown == ("extra",)
    assert "unknown column(s) extra" in caplog.text
    with pytest.raises(SchemaDriftError, match="--strict-schema"):
        parse_header(
            "NAMES.RRF.gz", NAMES, b"#CUI|name|source|SUPPRESS|extra|\n", strict_schema=True
        )


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "empty file"),
        (b"#CUI|name|source|SUPPRESS|", "not terminated"),
        (b"#CUI|source|SUPPRESS|\n", "required column 'name' is missing"),
        (b"#CUI|name|name|SUPPRESS|\n", "duplicated header column 'name'"),
        (b"#CUI|CUI_or_CN_id|pref_name|source_id|source|\n", None),
        (b"#CUI,name,source,SUPPRESS\n", "unknown delimiter"),
        (b"C0000727|Acute abdomen|GTR|N|\n", "no header line"),
        (b"<html><body>404</body></html>|\n", "HTML page"),
        (b"#CUI|na;me|source|SUPPRESS|\n", "is not a column name"),
        (b"#CUI|\xffname|source|SUPPRESS|\n", "not valid UTF-8"),
        (b"#CUI||source|SUPPRESS|\n", "has no name"),
    ],
)
def test_bad_headers(head: bytes, message: str | None) -> None:
    spec = LINKS if b"CUI_or_CN_id" in head else NAMES
    with pytest.raises(InputError) as info:
        parse_header("F", spec, head)
    if message:
        assert message in str(info.value)
    assert str(info.value).startswith("F, line 1")
