"""Forecast ranges against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_config

from reminderd.forecast import Observation, combined_rate, forecast, profile_rate, readings

CLAIMED = datetime(2026, 2, 10, 20, 0, tzinfo=UTC)  # 12:00 PST
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)


def credit_with(usage: str):  # type: ignore[no-untyped-def]
    return make_config(f"[credit.usage]\n{usage}").credits[0]


def test_activity_mix_range() -> None:
    # 20 chats at 0.02-0.05 = 0.40-1.00; 2 Claude Code sessions at 0.50-2.00 = 1.00-4.00
    c = credit_with("[credit.usage.per_day]\nchat_rounds = 20\nclaude_code_sessions = 2\n")
    rate = profile_rate(c.usage, c.offer)
    assert rate is not None
    assert (rate.low, rate.expected, rate.high) == pytest.approx((1.40, 3.20, 5.00))


def test_activity_mix_exhaustion_dates() -> None:
    c = credit_with("[credit.usage.per_day]\nchat_rounds = 20\nclaude_code_sessions = 2\n")
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED)
    assert fc is not None
    # 50 / 5.00 = 10 days; 50 / 3.20 = 15.625 days; 50 / 1.40 = 35.714... days
    assert fc.earliest_exhaustion == CLAIMED + timedelta(days=10)
    assert fc.expected_exhaustion == CLAIMED + timedelta(days=15.625)
    assert fc.latest_exhaustion == CLAIMED + timedelta(days=50 / 1.4)
    assert fc.unused_at_expiry().high == 0.0


def test_daily_spend_alone_is_widened_by_uncertainty() -> None:
    c = credit_with("daily_spend_usd = 0.5\nuncertainty = 0.2\n")
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED)
    assert fc is not None
    assert (fc.rate.low, fc.rate.expected, fc.rate.high) == pytest.approx((0.4, 0.5, 0.6))
    # validity is 59 days 23 hours here (the early DST reading): 59.958 days
    days = (EXPIRES - CLAIMED) / timedelta(days=1)
    assert fc.unused_at_expiry().expected == pytest.approx(50 - 0.5 * days)  # ~20.02
    assert fc.unused_at_expiry().low == pytest.approx(50 - 0.6 * days)  # ~14.03
    assert fc.unused_at_expiry().high == pytest.approx(50 - 0.4 * days)  # ~26.02
    assert fc.earliest_exhaustion is None  # 50 / 0.6 = 83 days > 60


def test_daily_spend_with_mix_covers_both() -> None:
    c = credit_with("daily_spend_usd = 2\n[credit.usage.per_day]\nchat_rounds = 20\n")
    rate = profile_rate(c.usage, c.offer)
    assert rate is not None
    # spend 1.6-2.4 around 2; the mix says 0.40-1.00
    assert (rate.low, rate.expected, rate.high) == pytest.approx((0.4, 2.0, 2.4))


def test_tokens_priced_at_list_prices_and_overrides() -> None:
    c = credit_with('[credit.usage.tokens_per_day."opus-4.6"]\ninput = 200000\noutput = 40000\n')
    rate = profile_rate(c.usage, c.offer)
    assert rate is not None
    assert rate.expected == pytest.approx(0.2 * 5 + 0.04 * 25)  # USD 2.00 a day
    cheaper = make_config('[credit.prices."opus-4.6"]\ninput = 1\noutput = 5\n'
                          '[credit.usage.tokens_per_day."opus-4.6"]\ninput = 200000\noutput = 40000\n').credits[0]
    assert profile_rate(cheaper.usage, cheaper.offer).expected == pytest.approx(0.2 + 0.2)  # type: ignore[union-attr]


def test_observations_set_the_expected_rate_and_raise_the_high_one() -> None:
    c = credit_with("daily_spend_usd = 0.1\n")
    # 10 days after the claim 30 left (2/day); 5 days later 15 left (3/day recently);
    # overall from the claim: 35 spent in 15 days = 7/3 a day
    obs = (Observation(CLAIMED + timedelta(days=10), 30.0), Observation(CLAIMED + timedelta(days=15), 15.0))
    now = CLAIMED + timedelta(days=16)
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, obs, now)
    assert fc is not None and fc.basis == "observations" and fc.sources == ("profile", "observations")
    assert (fc.rate.low, fc.rate.expected, fc.rate.high) == pytest.approx((7 / 3 * 0.8, 7 / 3, 3 * 1.2))
    assert fc.reference_balance_usd == 15.0
    assert fc.expected_exhaustion == CLAIMED + timedelta(days=15 + 15 / (7 / 3))  # day 21.43
    assert fc.earliest_exhaustion == CLAIMED + timedelta(days=15 + 15 / 3.6)  # day 19.17
    assert fc.balance_at(now) == pytest.approx(15 - 7 / 3)


def test_observations_after_now_are_not_known_yet() -> None:
    c = credit_with("daily_spend_usd = 1\n")
    obs = (Observation(CLAIMED + timedelta(days=10), 0.0),)
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, obs, CLAIMED + timedelta(days=5))
    assert fc is not None and fc.basis == "profile"


def test_single_observation_rate() -> None:
    seen = readings(CLAIMED, 50.0, EXPIRES, (Observation(CLAIMED + timedelta(days=4), 42.0),), EXPIRES)
    combined = combined_rate(None, seen, 0.25)
    assert combined is not None
    rate, basis = combined
    assert basis == "observations"
    assert (rate.low, rate.expected, rate.high) == pytest.approx((1.5, 2.0, 2.5))


def test_a_reading_with_no_spend_yet_keeps_the_profile_rate() -> None:
    # review C1: one reading of the full USD 50 set the rate to 0 and removed every warning
    c = credit_with("daily_spend_usd = 2\n")  # 1.6-2.4 a day
    reading = Observation(CLAIMED + timedelta(days=1), 50.0)
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (reading,), CLAIMED + timedelta(days=2))
    assert fc is not None
    assert (fc.rate.low, fc.rate.expected, fc.rate.high) == pytest.approx((1.6, 2.0, 2.4))
    assert fc.basis == "profile" and fc.sources == ("profile", "observations")
    # from the reading: 50 / 2.4 = 20.83 days
    assert fc.earliest_exhaustion == reading.at + timedelta(days=50 / 2.4)


def test_a_rise_is_a_top_up_not_negative_spend() -> None:
    c = credit_with("daily_spend_usd = 2\n")
    seen = (Observation(CLAIMED + timedelta(days=5), 40.0), Observation(CLAIMED + timedelta(days=10), 60.0))
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, seen, CLAIMED + timedelta(days=10))
    assert fc is not None
    assert [(t.from_usd, t.to_usd) for t in fc.top_ups] == [(40.0, 60.0)]
    assert fc.rate.high >= 2.4  # never below the profile's
    assert fc.rate.expected == pytest.approx(1.0)  # 10 spent in 10 days: the rise is not counted
    assert fc.unused_at_expiry().high <= 50.0  # the money added is not "credit going unused"


def test_two_readings_of_one_instant_count_once() -> None:
    # review m5: the same instant written with two offsets divided by zero
    c = credit_with("daily_spend_usd = 1\n")
    at = CLAIMED + timedelta(days=6)
    seen = (Observation(at, 31.4), Observation(at.astimezone(UTC), 31.0))
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, seen, at)
    assert fc is not None and fc.reference_balance_usd == 31.0


def test_readings_hours_apart_do_not_make_an_hourly_blip_a_daily_rate() -> None:
    # review m6: 31.40 then 30.00 two hours later made the high rate USD 20 a day
    c = credit_with("daily_spend_usd = 1.5\n")
    first, second = CLAIMED + timedelta(days=10), CLAIMED + timedelta(days=10, hours=2)
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES,
                  (Observation(first, 31.4), Observation(second, 30.0)), second)
    assert fc is not None
    spent_per_day = 20 / ((second - CLAIMED) / timedelta(days=1))  # over the whole span: 2.0
    assert fc.rate.high == pytest.approx(spent_per_day * 1.2)


def test_readings_before_the_claim_or_after_expiry_do_not_count() -> None:
    seen = readings(CLAIMED, 50.0, EXPIRES, (Observation(CLAIMED - timedelta(days=1), 5.0),
                                             Observation(EXPIRES, 1.0)), EXPIRES + timedelta(days=1))
    assert seen is None


def test_a_tiny_rate_does_not_overflow() -> None:
    c = credit_with("daily_spend_usd = 1e-300\n")
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED)
    assert fc is not None and fc.earliest_exhaustion is None


def test_no_profile_no_forecast() -> None:
    c = make_config().credits[0]
    assert forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED) is None


def test_balance_is_zero_after_expiry() -> None:
    c = credit_with("daily_spend_usd = 0.1\n")
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED)
    assert fc is not None
    assert fc.balance_at(EXPIRES - timedelta(seconds=1)) > 40
    assert fc.balance_at(EXPIRES) == 0.0


# -- Claude Code's logs as a source ---------------------------------------------------------------

FORTNIGHT = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0, 26.0]


def test_log_rates_by_hand() -> None:
    from reminderd.logged import log_rates

    rates = log_rates(FORTNIGHT)
    assert rates is not None
    # 90th percentile of 14 days: rank 0.9 x 13 = 11.7, between 22 and 24: 22 + 0.7 x 2 = 23.4
    assert rates.high == pytest.approx(23.4)
    assert rates.expected == pytest.approx(sum(FORTNIGHT[-7:]) / 7)  # the last 7 days with use: 20
    assert log_rates([]) is None
    idle = log_rates([0.0, 3.0, 0.0, 0.0])
    assert idle is not None and idle.expected == 3.0  # "active" days only


def test_logs_raise_the_high_rate_only_and_never_outvote_readings() -> None:
    from reminderd.logged import log_rates

    c = credit_with("daily_spend_usd = 1.5\n")
    logs = log_rates(FORTNIGHT)
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED + timedelta(days=15), logs)
    assert fc is not None and fc.sources == ("profile", "claude-code-logs")
    assert (fc.rate.low, fc.rate.expected, fc.rate.high) == pytest.approx((1.2, 1.5, 23.4))
    readings = (Observation(CLAIMED + timedelta(days=10), 30.0),)  # 2 a day
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, readings, CLAIMED + timedelta(days=15), logs)
    assert fc is not None and fc.basis == "observations" and fc.rate.expected == pytest.approx(2.0)
    assert fc.rate.high == pytest.approx(23.4)


def test_logs_alone_give_a_forecast() -> None:
    from reminderd.logged import log_rates

    c = make_config("[credit.usage]\nuncertainty = 0.2\nclaude_code_logs = true\n").credits[0]
    fc = forecast(c.offer, c.usage, CLAIMED, EXPIRES, (), CLAIMED + timedelta(days=15), log_rates(FORTNIGHT))
    assert fc is not None and fc.basis == "claude-code-logs"
    assert (fc.rate.low, fc.rate.expected, fc.rate.high) == pytest.approx((16.0, 20.0, 23.4))
