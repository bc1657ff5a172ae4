"""No byte of a password is ever printed or stored, whatever characters the password holds.

Every printable ASCII character, raw and percent-encoded, in a database password on every
command, in text and JSON logs at DEBUG, on success and on each kind of failure; the same in
the password of an HTTP source. Each password is ``Kq4<c>Zq9xKp7``: a leak of either half
(a driver splitting the user-info at ``c`` and echoing the rest as a host) is caught too.
"""

from __future__ import annotations

import gzip
import json
import string
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from py_load_medgen import cli
from py_load_medgen.redact import redact_text, redact_uri, secrets_of
from tests.helpers import query
from tests.servers.http_files import serve

HEAD, TAIL = "Kq4", "Zq9xKp7"
PRINTABLE = [c for c in string.printable if c.isprintable()]  # 95 characters, space included
NAMES = b"#CUI|name|source|SUPPRESS|\nC0000001|a|b|N|\n"


def password(c: str) -> str:
    return f"{HEAD}{c}{TAIL}"


def with_password(uri: str, secret: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://postgres:{secret}@{parts.hostname}:{parts.port}{parts.path}"


def assert_clean(text: str) -> None:
    assert HEAD not in text, text
    assert TAIL not in text, text


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secret-release")
    (root / "NAMES.RRF.gz").write_bytes(gzip.compress(NAMES))
    return root


@pytest.fixture(scope="module")
def bad_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secret-bad")
    (root / "NAMES.RRF.gz").write_bytes(b"not gzip")
    return root


@pytest.fixture(scope="module")
def loaded_uri(pg_admin_dsn: str) -> Iterator[str]:
    """One database with a release loaded, shared by the module's read-only commands."""
    import uuid

    from tests.conftest import create_database, drop_database

    name = f"medgen_test_{uuid.uuid4().hex[:12]}"
    uri = create_database(pg_admin_dsn, name)
    try:
        yield uri
    finally:
        drop_database(pg_admin_dsn, name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


# Every character, on the commands' shared paths: a success and a refused connection.
# The whole matrix of commands runs with the passwords that hold the characters a URI parser
# splits at, and with one password holding every printable character at once.
EVERY = "".join(PRINTABLE)
MATRIX = [password(c) for c in "#/?@: %[]'\\"] + [HEAD + EVERY + TAIL]


def _logging(log_format: str) -> tuple[str, ...]:
    return ("--log-format", log_format, "--log-level", "DEBUG", "--quiet")


def _load(capsys: pytest.CaptureFixture[str], source: Path, uri: str, *extra: str) -> int:
    code, text = run(
        capsys,
        "load",
        "--source",
        str(source),
        "--files",
        "NAMES.RRF.gz",
        "--db-uri",
        uri,
        "--rejects-dir",
        str(source.parent / "rejects"),
        *extra,
    )
    assert_clean(text)
    return code


@pytest.mark.slow
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_every_character_on_success_and_on_failure(
    loaded_uri: str, release: Path, capsys: pytest.CaptureFixture[str], encoded: bool
) -> None:
    assert _load(capsys, release, with_password(loaded_uri, "Load-pw-1"), "--quiet") == 0
    port = f":{urlsplit(loaded_uri).port}/"
    for i, c in enumerate(PRINTABLE):
        secret = quote(password(c), safe="") if encoded else password(c)
        uri = with_password(loaded_uri, secret)
        log_format = ("text", "json")[i % 2]
        code, text = run(capsys, "status", "--db-uri", uri, *_logging(log_format))
        assert code == 0, (c, text)
        assert_clean(text)
        code, text = run(
            capsys, "status", "--db-uri", uri.replace(port, ":1/"), *_logging(log_format)
        )
        assert code == 4, (c, text)
        assert_clean(text)


@pytest.mark.slow
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_command_with_the_splitting_characters(
    loaded_uri: str,
    release: Path,
    bad_release: Path,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
    encoded: bool,
) -> None:
    logging_args = _logging(log_format)
    assert _load(capsys, release, with_password(loaded_uri, "Load-pw-1"), *logging_args) == 0
    port = f":{urlsplit(loaded_uri).port}/"
    for raw in MATRIX:
        secret = quote(raw, safe="") if encoded else raw
        uri = with_password(loaded_uri, secret)
        outcomes = [_load(capsys, release, uri, *logging_args)]
        for args in (
            ("status",),
            ("status", "--json"),
            ("history",),
            ("history", "--json"),
            ("verify", "--source", str(release)),
            ("verify", "--json"),
            ("schema",),
            ("check-update", "--source", str(release)),
            ("check-update", "--source", str(release), "--json"),
            ("status", "--schema", "nothing_here"),  # exit 7: nothing loaded
        ):
            code, text = run(capsys, *args, "--db-uri", uri, *logging_args)
            outcomes.append(code)
            assert_clean(text)
        outcomes.append(_load(capsys, bad_release, uri, *logging_args))  # bad input
        assert outcomes == [0] * 10 + [7, 3], (raw, outcomes)
        # The server refuses: a port nothing listens on, a database that does not exist.
        for target in (uri.replace(port, ":1/"), uri.rsplit("/", 1)[0] + "/no_such_database"):
            for command in ("status", "history", "verify", "check-update"):
                code, text = run(capsys, command, "--db-uri", target, *logging_args)
                assert code == 4, (raw, command, text)
                assert_clean(text)
                if log_format == "json":
                    assert all(json.loads(line) for line in text.splitlines() if line.strip())
    stored = query(loaded_uri, "SELECT row_to_json(r)::text FROM medgen.etl_runs r")
    assert stored
    for (row,) in stored:
        assert_clean(row)


@pytest.mark.parametrize("c", PRINTABLE)
def test_redaction_of_every_character_raw_and_encoded(c: str) -> None:
    for secret in (password(c), quote(password(c), safe="")):
        uri = f"postgresql://me:{secret}@db.example:5432/medgen?sslmode=require"
        assert_clean(redact_uri(uri))
        assert redact_uri(uri).endswith("@db.example:5432/medgen?sslmode=require")
        assert_clean(redact_text(f"cannot connect to {uri}: refused", tuple(secrets_of(uri))))
        assert_clean(redact_text(f"host=db password='{secret}'", tuple(secrets_of(uri))))


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_http_source_password_never_shown_or_stored(
    pg_uri: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    root = tmp_path / "srv" / "pub" / "medgen"
    root.mkdir(parents=True)
    (root / "NAMES.RRF.gz").write_bytes(gzip.compress(NAMES))
    logging_args = ("--log-format", log_format, "--log-level", "DEBUG", "--quiet")
    cache = tmp_path / "cache"
    with serve(root) as (url, server):
        for c in ("#", "/", "?", "@", ":", " ", "%", "'", '"', "\\"):
            secret = url.replace("http://", f"http://medgen:{password(c)}@")
            for args in (
                ("download", "--files", "NAMES.RRF.gz", "--download-dir", str(cache)),
                ("download", "--files", "NAMES.RRF.gz", "--download-dir", str(cache), "--json"),
                ("load", "--files", "NAMES.RRF.gz", "--download-dir", str(cache)),
                ("load", "--files", "NAMES.RRF.gz", "--download-dir", str(cache), "--json"),
                ("check-update",),
                ("check-update", "--json"),
            ):
                db = () if args[0] == "download" else ("--db-uri", pg_uri)
                code, text = run(capsys, *args, "--source", secret, *db, *logging_args)
                assert code in (0, 10), text
                assert_clean(text)
                if args[0] == "check-update":
                    assert "medgen:" not in text  # not even the user name of the source
        assert server.gets("NAMES.RRF.gz")
    for stored in cache.rglob("*"):
        if stored.is_file() and not stored.name.endswith(".gz"):
            assert_clean(stored.read_text(errors="replace"))
    for (row,) in query(pg_uri, "SELECT row_to_json(r)::text FROM medgen.etl_runs r"):
        assert_clean(row)
