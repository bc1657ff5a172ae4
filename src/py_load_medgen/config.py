"""Settings from flags > environment > TOML file > defaults.

Click already resolves a flag before its environment variable before a ``default_map``
before the default; the TOML file becomes the ``default_map``. Keys at the top level of the
file apply to every command; a table named after a command (``[load]``) applies to it alone.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from py_load_medgen.errors import ConfigError

APP = "py-load-medgen"
ENV_PREFIX = "MEDGEN_"
CONFIG_ENV = "MEDGEN_CONFIG"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def default_db_uri() -> str:
    """The embedded default: a DuckDB file in the user's data directory."""
    return f"duckdb:///{(data_dir() / 'medgen-mirror.duckdb').as_posix()}"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def shown_path(path: Path | None) -> str:
    """The config file a command read, for messages."""
    if path is not None:
        return str(path)
    return os.environ.get(CONFIG_ENV) or str(default_config_path())


def expected(param: Any) -> str:
    """What a click option takes, in words, for a config-file error."""
    kind = getattr(param, "type", None)
    if getattr(param, "is_flag", False):
        return "expected true or false"
    choices = getattr(kind, "choices", None)
    if choices:
        return "expected one of " + ", ".join(map(str, choices))
    name = {"integer": "an integer", "float": "a number", "text": "a string"}
    type_name = getattr(kind, "name", "value")
    words = name.get(type_name, name.get(type_name.split()[0], f"a {type_name}"))
    low, high = getattr(kind, "min", None), getattr(kind, "max", None)
    if low is not None or high is not None:
        words += f" in {low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
    return "expected " + words


def env_name(option: str) -> str:
    """The environment variable of an option: ``--db-uri`` -> ``MEDGEN_DB_URI``."""
    return ENV_PREFIX + option.lstrip("-").replace("-", "_").upper()


def load_config(path: Path | None, commands: dict[str, set[str]]) -> dict[str, Any]:
    """Read a TOML config file into a click ``default_map`` for the given commands.

    ``commands`` maps each command name to the option keys it accepts; unknown keys are an
    error (a typo should not be silently ignored).
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    if path is None:
        path = Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    every = {k for keys in commands.values() for k in keys}
    shared = {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}
    unknown = sorted(set(shared) - every)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    result: dict[str, Any] = {}
    for command, keys in commands.items():
        table = data.get(command)
        # "schema" is both a command and a setting: only a TOML table is a command's section.
        section = (
            {k.replace("-", "_"): v for k, v in table.items()} if isinstance(table, dict) else {}
        )
        bad = sorted(set(section) - keys)
        if bad:
            raise ConfigError(f"{path}: [{command}] has unknown setting(s) {', '.join(bad)}")
        merged = {k: v for k, v in shared.items() if k in keys} | section
        if merged:
            result[command] = merged
    stray = sorted(k for k, v in data.items() if isinstance(v, dict) and k not in commands)
    if stray:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(stray)}")
    return result
