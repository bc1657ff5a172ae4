"""Writes the malformed inputs of this folder; run it to regenerate them after a change here.

Each case is a folder holding one served file; cases.toml says how a load must fail on it.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES_HEADER = b"#CUI|name|source|SUPPRESS|\n"
GOOD = b"C0000727|Acute abdomen|GTR|N|\n"
PUBMED_HEADER = b"#UID|CUI|NAME|PMID|\n"


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


CASES: dict[str, tuple[str, bytes]] = {
    "wrong_field_count": (
        "NAMES.RRF.gz",
        gz(NAMES_HEADER + GOOD + b"C0000729|Abdominal cramps|GTR|\n"),
    ),
    "too_many_bad_rows": (
        "NAMES.RRF.gz",
        gz(NAMES_HEADER + GOOD + b"C1|a|\n" + b"C2|b|\n" + b"C3|c|x|y|z|\n"),
    ),
    "missing_header_column": ("NAMES.RRF.gz", gz(b"#CUI|source|SUPPRESS|\nC0000727|GTR|N|\n")),
    "duplicated_header_column": (
        "NAMES.RRF.gz",
        gz(b"#CUI|name|name|SUPPRESS|\nC0000727|a|b|N|\n"),
    ),
    "two_names_for_one_column": (
        "MedGenIDMappings.txt.gz",
        gz(b"#CUI|CUI_or_CN_id|pref_name|source_id|source|\nC1|C1|n|1|OMIM|\n"),
    ),
    "empty_column_name": ("NAMES.RRF.gz", gz(b"#CUI||source|SUPPRESS|\n" + GOOD)),
    "empty_gzip": ("NAMES.RRF.gz", gz(b"")),
    "empty_plain_file": ("MedGen_Sources.txt", b""),
    "header_only": ("NAMES.RRF.gz", gz(NAMES_HEADER)),
    "no_header": ("NAMES.RRF.gz", gz(GOOD + GOOD)),
    "unknown_delimiter": ("NAMES.RRF.gz", gz(b"#CUI,name,source,SUPPRESS\nC0000727,a,b,N\n")),
    "header_not_terminated": ("NAMES.RRF.gz", gz(b"#CUI|name|source|SUPPRESS|")),
    "header_invalid_utf8": ("NAMES.RRF.gz", gz(b"#CUI|n\xffame|source|SUPPRESS|\n" + GOOD)),
    "invalid_utf8": (
        "NAMES.RRF.gz",
        gz(NAMES_HEADER + GOOD + b"C0000729|Caf\xe9 syndrome|GTR|N|\n"),
    ),
    "nul_byte": ("NAMES.RRF.gz", gz(NAMES_HEADER + b"C0000729|Nul\x00name|GTR|N|\n")),
    "crlf_rows_in_lf_file": ("NAMES.RRF.gz", gz(NAMES_HEADER + GOOD + b"C0000729|a|GTR|N|\r\n")),
    "lf_rows_in_crlf_file": (
        "HPO_CUI_history.txt",
        b"HPO_Id\tCUI\tDate\tIsCurrent\r\nHP:0000001\tC0000727\t12 Jun 2019\t1\r\n"
        b"HP:0000002\tC0000729\t12 Jun 2019\t1\n",
    ),
    "truncated_gzip": ("NAMES.RRF.gz", gz(NAMES_HEADER + GOOD * 2000)[:-60]),
    "corrupt_gzip": ("NAMES.RRF.gz", b""),  # filled below: a flipped CRC byte
    "not_gzip": ("NAMES.RRF.gz", NAMES_HEADER + GOOD),
    "html_page_as_gz": (
        "MGREL.RRF.gz",
        b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>\n",
    ),
    "html_page_as_txt": (
        "MedGen_Sources.txt",
        b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n",
    ),
    "garbage_after_gzip": ("NAMES.RRF.gz", gz(NAMES_HEADER + GOOD) + b"this is not gzip"),
    "overlong_line": ("NAMES.RRF.gz", gz(NAMES_HEADER + b"C0000727|" + b"x" * (40 << 20))),
    "bad_cui_shape": ("NAMES.RRF.gz", gz(NAMES_HEADER + GOOD + b"X0000729|Bad id|GTR|N|\n")),
    "integer_too_large": (
        "medgen_pubmed_lnk.txt.gz",
        gz(PUBMED_HEADER + b"1|C0000727|n|123|\n2|C0000727|n|99999999999999999999|\n"),
    ),
    "not_an_integer": ("medgen_pubmed_lnk.txt.gz", gz(PUBMED_HEADER + b"1|C0000727|n|PMID123|\n")),
    "empty_integer": ("medgen_pubmed_lnk.txt.gz", gz(PUBMED_HEADER + b"|C0000727|n|123|\n")),
    "smallint_out_of_range": (
        "HPO_CUI_history.txt",
        b"HPO_Id\tCUI\tDate\tIsCurrent\nHP:0000001\tC0000727\t12 Jun 2019\t70000\n",
    ),
    "unknown_column_strict": (
        "NAMES.RRF.gz",
        gz(b"#CUI|name|source|SUPPRESS|NEW|\nC0000727|a|b|N|x|\n"),
    ),
    "binary_garbage": ("MedGen_CUI_history.txt", bytes(range(256)) * 4),
}


def main() -> None:
    for case, (name, data) in CASES.items():
        folder = HERE / case
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        content = data
        if case == "corrupt_gzip":
            blob = bytearray(gz(NAMES_HEADER + GOOD * 100))
            blob[-6] ^= 0xFF
            content = bytes(blob)
        (folder / name).write_bytes(content)


if __name__ == "__main__":
    main()
