from __future__ import annotations

from py_load_medgen.redact import redact_text, redact_uri


def test_uri_password_removed() -> None:
    assert (
        redact_uri("postgresql://me:s3cret@db:5432/medgen") == "postgresql://me:***@db:5432/medgen"
    )
    assert redact_uri("postgresql://me@db/medgen") == "postgresql://me@db/medgen"
    assert redact_uri("postgresql://db/m?password=s3cret&sslmode=require") == (
        "postgresql://db/m?password=***&sslmode=require"
    )
    assert redact_uri("host=db password='s 3cret' user=me") == "host=db password=*** user=me"


def test_text_scrubbed_of_uris_and_known_secrets() -> None:
    text = "failed: ftp://anon:pw123@example.org/x and token s3cret"
    assert redact_text(text, ("s3cret",)) == "failed: ftp://anon:***@example.org/x and token ***"
