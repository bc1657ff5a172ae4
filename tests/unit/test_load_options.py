"""The library's front door refuses what the CLI's choices would: no silent full load."""

from __future__ import annotations

from typing import Any

import pytest

from py_load_medgen.errors import ExitCode, UsageError
from py_load_medgen.pipeline import MODES, STRATEGIES, LoadOptions


@pytest.mark.parametrize(
    ("field", "value"),
    [("mode", "Delta"), ("mode", "incremental"), ("strategy", "Swap"), ("strategy", "")],
)
def test_an_unknown_mode_or_strategy_is_an_error_naming_the_allowed_ones(
    field: str, value: str
) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(UsageError) as caught:
        LoadOptions(**kwargs)
    allowed = MODES if field == "mode" else STRATEGIES
    assert repr(value) in caught.value.message
    assert all(repr(a) in caught.value.message for a in allowed)
    assert caught.value.exit_code is ExitCode.USAGE


def test_the_allowed_values_pass() -> None:
    for mode in MODES:
        for strategy in STRATEGIES:
            options = LoadOptions(mode=mode, strategy=strategy)
            assert (options.mode, options.strategy) == (mode, strategy)
    assert MODES == ("full", "delta") and STRATEGIES == ("swap", "truncate")


@pytest.mark.parametrize("limit", [-0.1, 1.5])
def test_shrink_limit_is_a_fraction(limit: float) -> None:
    with pytest.raises(UsageError, match="shrink_limit"):
        LoadOptions(shrink_limit=limit)


def test_durable_tables_and_guards_are_the_defaults() -> None:
    options = LoadOptions()
    assert not options.unlogged and not options.allow_shrink and not options.allow_older
    assert options.shrink_limit == 0.5
