"""The price table against what Claude Code 2.1.332 itself charges (tests/golden/claude_code_prices.json,
measured by tests/tools/measure_claude_code_prices.py against a local fake API), and the rules
that apply it (issue 17 part 3; review M6)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import GOLDEN, config_text, make_config

from reminderd.config import parse_config
from reminderd.errors import ConfigError
from reminderd.prices import (
    CLAUDE_PRICES,
    FAST,
    LONG,
    Tokens,
    cost,
    ledger_key,
    match,
    normalise_key,
    normalise_model,
    rate,
)

MEASURED = json.loads((GOLDEN / "claude_code_prices.json").read_text())
KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")  # Tokens order


def per_million(key: str, table=CLAUDE_PRICES) -> dict[str, float]:  # type: ignore[no-untyped-def]
    found = rate(key, table, 0.01)
    return {kind: round(found.per_token[i] * 1e6, 6) for i, kind in enumerate(KINDS)}


@pytest.mark.parametrize("model", sorted(MEASURED["models"]))
def test_every_model_costs_what_claude_code_charges(model: str) -> None:
    measured = MEASURED["models"][model]
    key = normalise_model(model)
    assert match(key, CLAUDE_PRICES)[1], f"{model} ({key}) has no row"
    assert per_million(key) == {kind: measured[kind] for kind in KINDS}
    fast = per_million(key + FAST)
    if measured["fast_input"] is None:
        assert fast == per_million(key)  # no fast price: a fast response costs the standard one
    else:
        assert (fast["input"], fast["output"]) == (measured["fast_input"], measured["fast_output"])
        assert fast["cache_read"] == measured["fast_cache_read"]
        assert fast["cache_write_5m"] == measured["fast_cache_write_5m"]
    long = measured.get("long_prompt")
    if long is not None:
        prompt = long["above_prompt_tokens"]
        assert ledger_key(model, prompt, None) == key and ledger_key(model, prompt + 1, None) == key + LONG
        assert per_million(key + LONG) == {kind: long[kind] for kind in KINDS}


def test_fast_mode_and_tagged_models_always_bill_credits() -> None:
    assert rate("claude-opus-4-6@fast", CLAUDE_PRICES, 0.01).credits_only
    assert not rate("claude-opus-4-6", CLAUDE_PRICES, 0.01).credits_only
    table = CLAUDE_PRICES.with_rows({"claude-mythos-5": CLAUDE_PRICES.current()["claude-mythos-5"]._replace(
        credits_only=True)})
    assert rate("claude-mythos-5", table, 0.01).credits_only


def test_us_only_inference_costs_a_tenth_more() -> None:
    key = ledger_key("claude-opus-4-6", 10, "standard", "us")
    assert cost(Tokens(output=1_000_000), rate(key, CLAUDE_PRICES, 0.01).per_token) == pytest.approx(27.5)


def test_an_unknown_speed_is_charged_as_fast() -> None:
    assert ledger_key("claude-opus-4-6", 10, "turbo").endswith(FAST)
    assert not ledger_key("claude-opus-4-6", 10, "standard").endswith(FAST)
    assert not ledger_key("claude-opus-4-6", 10, None).endswith(FAST)


@pytest.mark.parametrize(("raw", "model"), [
    ("claude-opus-4-6-20260205", "claude-opus-4-6"), ("claude-opus-4-6[1m]", "claude-opus-4-6"),
    ("anthropic/claude-4.6-opus", "claude-opus-4-6"), ("us.anthropic.claude-opus-4-6-v1:0", "claude-opus-4-6"),
    ("opus-4.6", "claude-opus-4-6"), ("claude-opus-4-20250514", "claude-opus-4"), ("claude-opus-4-0", "claude-opus-4"),
    ("claude-sonnet-5-5-20260928", "claude-sonnet-5-5"), ("claude-3-opus-20240229", "claude-opus-3"),
    ("Claude-Haiku-4-5", "claude-haiku-4-5"), ("gpt-5", "gpt-5"),
])
def test_model_ids_are_claude_codes_without_their_suffixes(raw: str, model: str) -> None:
    assert normalise_model(raw) == model


def test_the_longest_known_id_ending_at_a_separator_wins() -> None:
    assert match("claude-opus-4-5", CLAUDE_PRICES) == ("claude-opus-4-5", True)  # never Opus 4
    assert match("claude-opus-4-9", CLAUDE_PRICES) == ("claude-opus-4", False)  # a newer minor: warned


@pytest.mark.parametrize("model", ["claude-3-opus-20240229", "claude-opus-9", "gpt-5", "claude-unknown-1"])
def test_an_unknown_model_is_never_below_opus_4(model: str) -> None:
    """Review M6: Opus 3, 4 and 4.1 were priced as Opus 4.6 (5/25), 3x low, under a warning that
    called it the dearest."""
    found = rate(normalise_model(model), CLAUDE_PRICES, 0.01)
    assert not found.known
    assert cost(Tokens(input=10**6, output=10**6), found.per_token) >= 90.0


def test_an_unknown_model_of_a_known_family_is_priced_at_its_dearest_row() -> None:
    found = rate(normalise_model("claude-3-5-sonnet-20241022"), CLAUDE_PRICES, 0.01)
    assert not found.known and found.priced_as.startswith("claude-sonnet") and found.per_token[1] * 1e6 == 15


def test_a_config_row_overrides_for_every_credit_and_from_a_day() -> None:
    config = make_config('[prices."claude-opus-4-6"]\ninput = 6\noutput = 30\nfast = 3\nfrom = 2026-03-01\n'
                         '[prices."opus-4.5"]\ninput = 1\noutput = 2\ncredits_only = true\n')
    table = config.credits[0].offer.prices
    before, after = rate("claude-opus-4-6@fast", table, 0.01, date(2026, 2, 28)), rate(
        "claude-opus-4-6@fast", table, 0.01, date(2026, 3, 1))
    assert (before.per_token[1] * 1e6, after.per_token[1] * 1e6) == (150.0, 90.0)
    assert rate("claude-opus-4-5", table, 0.01).credits_only  # an old-style key names the same model


def test_an_older_fast_row_key_still_works() -> None:
    assert normalise_key("opus-4.6-fast") == "claude-opus-4-6@fast"
    table = make_config('[credit.prices."opus-4.6-fast"]\ninput = 20\noutput = 100\n').credits[0].offer.prices
    assert rate("claude-opus-4-6@fast", table, 0.01).per_token[1] * 1e6 == 100.0


def test_a_bad_price_row_is_one_line_naming_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(config_text('[prices."claude-opus-4-6"]\ninput = 5\noutput = -1\nfast = 0.5\nfrom = "May"\n'),
                     "c.toml")
    assert error.value.problems == [
        "c.toml: prices.claude-opus-4-6.output: expected a number from 0 to 1,000,000, got -1",
        "c.toml: prices.claude-opus-4-6.from: expected a date such as 2026-06-01 (the first day the price holds), "
        'got "May"',
        "c.toml: prices.claude-opus-4-6.fast: expected a number from 1 to 100, got 0.5",
    ]
