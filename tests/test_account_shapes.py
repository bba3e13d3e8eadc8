"""Reading the account's answers (account_shapes.py): both shapes of money, currencies kept, every
field optional, and no answer, however changed, raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tools.fake_claude_account import SHAPES

from reminderd.account_shapes import read_grant, read_prepaid, read_usage
from reminderd.facts import ClaimableCredit, GrantedCredit, Money


def test_usage_in_euros_stays_in_euros() -> None:
    usage, problems = read_usage(SHAPES["usage-eur"])
    assert problems == []
    assert usage.on is True and usage.disabled_reason is None
    assert usage.monthly_limit == Money(400000, "EUR", 2) and str(usage.monthly_limit) == "EUR 4,000.00"
    assert usage.month_spend == Money(10600, "EUR", 2)  # cents: 106.00, not 10,600 (the trackers' trap)


def test_usage_without_a_currency_is_in_dollars() -> None:
    usage, problems = read_usage(SHAPES["usage-on"])
    assert problems == [] and usage.monthly_limit == Money(5000, "USD") and usage.month_spend == Money(1234, "USD")


def test_switched_off_and_its_reason() -> None:
    usage, _ = read_usage(SHAPES["usage-off"])
    assert usage.on is False and usage.disabled_reason == "user_disabled"
    reason_only, _ = read_usage({"extra_usage": {"disabled_reason": "org_policy"}})
    assert reason_only.on is False


def test_the_spend_object_wins_over_the_older_fields() -> None:
    usage, problems = read_usage(SHAPES["usage-spend"])
    assert problems == []
    assert usage.month_spend == Money(1050, "USD", 2) and usage.monthly_limit == Money(10000, "USD", 2)
    assert usage.balance == Money(3925, "USD", 2)


def test_an_explicit_exponent_wins() -> None:
    usage, _ = read_usage(SHAPES["usage-decimal-places"])
    assert usage.monthly_limit == Money(40000, "EUR", 3) and usage.monthly_limit.major == 40.0
    part, _ = read_prepaid({"balance": {"money": {"amount_minor": 1500, "currency": "JPY", "exponent": 0}}})
    assert part.balance == Money(1500, "JPY", 0) and str(part.balance) == "JPY 1,500"


def test_a_currency_without_cents_has_exponent_0_unless_told() -> None:
    part, _ = read_prepaid({"amount": 1500, "currency": "jpy"})
    assert part.balance == Money(1500, "JPY", 0)
    part, _ = read_prepaid({"amount": 1500, "currency": "KWD"})
    assert part.balance == Money(1500, "KWD", 3)


def test_nulls_are_unknowns_not_problems() -> None:
    usage, problems = read_usage(SHAPES["usage-nulls"])
    assert usage == (None, None, None, None, None) and problems == []


def test_no_usage_credits_in_the_answer_is_said() -> None:
    usage, problems = read_usage(SHAPES["usage-no-extra"])
    assert usage.on is None
    assert problems == ["usage: the answer says nothing of usage credits (no extra_usage, no spend)"]


def test_wrong_types_are_one_line_each() -> None:
    usage, problems = read_usage(SHAPES["usage-wrong-types"])
    assert usage.on is None and usage.monthly_limit is None and usage.month_spend is None
    assert problems == [
        'usage: extra_usage.is_enabled: expected true or false, got "yes"',
        'usage: extra_usage.monthly_limit: expected a whole amount in minor units (cents), got "lots"',
        "usage: extra_usage.used_credits: expected a whole amount in minor units (cents), got 12.5",
    ]


def test_prepaid_both_shapes() -> None:
    part, problems = read_prepaid(SHAPES["prepaid-usd"])
    assert problems == []
    assert part.balance == Money(6036, "USD")
    assert part.credits == (GrantedCredit(Money(6034, "USD"), datetime(2026, 9, 19, tzinfo=UTC)),)
    part, problems = read_prepaid(SHAPES["prepaid-money"])
    assert problems == []
    assert part.balance == Money(2550, "EUR")
    assert part.credits == (GrantedCredit(Money(2000, "EUR"), datetime(2026, 7, 1, 7, tzinfo=UTC), Money(2000, "EUR"),
                                          datetime(2026, 4, 2, 7, tzinfo=UTC), "Usage credit, April 2026"),)


def test_a_partial_prepaid_answer_keeps_what_it_can() -> None:
    part, problems = read_prepaid(SHAPES["prepaid-partial"])
    assert part.balance == Money(900, "USD")
    assert part.credits == (GrantedCredit(Money(900, "USD"), None),)  # the expiry it could not read is unknown
    assert problems == [
        "prepaid/credits: promo_tranches[0].remaining_amount_minor_units: expected an amount, got nothing",
        'prepaid/credits: promo_tranches[1].expires_at: expected a date-time such as 2026-09-19T00:00:00Z, '
        'got "tomorrow"',
        'prepaid/credits: promo_tranches[2]: expected an object, got "junk"',
    ]


def test_prepaid_nulls() -> None:
    part, problems = read_prepaid(SHAPES["prepaid-nulls"])
    assert part == (None, ())
    assert problems == ["prepaid/credits: the answer has neither a balance nor promo_tranches"]


def test_a_claimable_credit_only_when_offered_and_not_taken() -> None:
    offer, problems = read_grant(SHAPES["grant-offer"])
    assert problems == []
    assert offer == ClaimableCredit(Money(2000, "USD"), datetime(2026, 4, 17, 6, 59, tzinfo=UTC), True)
    assert read_grant(SHAPES["grant-none"]) == (None, [])
    assert read_grant({**SHAPES["grant-offer"], "granted": True}) == (None, [])


def test_a_server_value_in_a_problem_is_one_short_line() -> None:
    _, problems = read_usage({"extra_usage": {"is_enabled": "x\n\x1b[31m" + "y" * 500}})
    assert len(problems) == 1 and "\n" not in problems[0] and "\x1b" not in problems[0] and len(problems[0]) < 140


def test_naive_times_are_utc_and_offsets_are_kept() -> None:
    part, _ = read_prepaid({"promo_tranches": [
        {"remaining_amount_minor_units": 1, "expires_at": "2026-09-19T00:00:00"},
        {"remaining_amount_minor_units": 1, "expires_at": "2026-09-19T00:00:00-07:00"}]})
    assert [c.expires_at for c in part.credits] == [datetime(2026, 9, 19, tzinfo=UTC),
                                                    datetime(2026, 9, 19, 7, tzinfo=UTC)]

    part, problems = read_prepaid({"promo_tranches": [
        {"remaining_amount_minor_units": 1, "expires_at": "9999-12-31T23:59:59-01:00"}]})
    assert part.credits[0].expires_at is None and len(problems) == 1


json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["extra_usage", "spend", "is_enabled", "monthly_limit", "used_credits", "currency",
                         "decimal_places", "exponent", "amount_minor", "used", "limit", "cap", "balance", "money",
                         "amount", "promo_tranches", "remaining_amount_minor_units", "expires_at", "name",
                         "granted_at", "granted_amount_minor_units", "available", "granted", "eligible",
                         "amount_minor_units", "disabled_reason"]), inner, max_size=6),
    max_leaves=25)


@given(json_values)
def test_no_answer_raises(document: Any) -> None:
    for reader in (read_usage, read_prepaid, read_grant):
        _, problems = reader(document)
        assert all("\n" not in p for p in problems)
