"""Settings: flags > environment > TOML file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from py_load_medgen import config
from py_load_medgen.cli import cli
from py_load_medgen.errors import ConfigError

COMMANDS = {"load": {"schema", "max_bad_rows", "db_uri"}, "schema": {"schema", "db_uri"}}


def test_env_names() -> None:
    assert config.env_name("--db-uri") == "MEDGEN_DB_URI"
    assert config.env_name("max-bad-rows") == "MEDGEN_MAX_BAD_ROWS"


def test_file_sections_override_top_level(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('schema = "top"\n[load]\nschema = "loadonly"\nmax_bad_rows = 5\n')
    result = config.load_config(path, COMMANDS)
    assert result == {
        "load": {"schema": "loadonly", "max_bad_rows": 5},
        "schema": {"schema": "top"},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('schemma = "x"\n', "unknown setting(s) schemma"),
        ("[load]\nbogus = 1\n", "[load] has unknown setting(s) bogus"),
        ('[nosuch]\nschema = "x"\n', "unknown section(s) nosuch"),
        ("schema = \n", "cannot read config file"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        config.load_config(path, COMMANDS)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_config(tmp_path / "nope.toml", COMMANDS)


def test_default_config_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    monkeypatch.setattr(config, "default_config_path", lambda: tmp_path / "absent.toml")
    assert config.load_config(None, COMMANDS) == {}


def test_precedence_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`schema` prints DDL naming the schema, so the winning value is visible on stdout."""
    monkeypatch.delenv("MEDGEN_SCHEMA", raising=False)
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    monkeypatch.setattr(config, "default_config_path", lambda: tmp_path / "absent.toml")
    path = tmp_path / "c.toml"
    path.write_text('schema = "from_file"\n')
    runner = CliRunner()

    def schema_used(*args: str, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(cli, ["schema", "--db-uri", "postgresql://x/y", *args], env=env)
        assert result.exit_code == 0, result.output
        first = result.output.splitlines()[0]
        return first.split('"')[1]

    assert schema_used() == "medgen"
    assert schema_used("--config", str(path)) == "from_file"
    assert schema_used("--config", str(path), env={"MEDGEN_SCHEMA": "from_env"}) == "from_env"
    assert (
        schema_used(
            "--config", str(path), "--schema", "from_flag", env={"MEDGEN_SCHEMA": "from_env"}
        )
        == "from_flag"
    )
    assert schema_used(env={"MEDGEN_CONFIG": str(path)}) == "from_file"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('max-bad-rows = "ten"', ["max-bad-rows = 'ten'", "expected an integer"]),
        ('[load]\nmode = "weekly"', ["mode = 'weekly'", "expected one of full, delta"]),
        ("[load]\ndry-run = 3", ["dry-run = 3", "expected true or false"]),
        ('[verify]\nparallel = "many"', ["parallel = 'many'", "expected an integer in 1..16"]),
    ],
)
def test_a_bad_type_in_the_config_file_names_the_file_the_key_and_the_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: list[str]
) -> None:
    from py_load_medgen.cli import main

    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    command = "verify" if "verify" in text else "load"
    code = main([command, "--config", str(path), "--source", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err
    for word in words:
        assert word in err
    assert "Invalid value for '--" not in err
