"""The offer's rules: eligibility, the claim window and expiry. Pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from reminderd.offers import PLAN_NAMES, Offer
from reminderd.settings import Credit
from reminderd.timeutil import add_calendar_days

ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not-eligible"
UNKNOWN = "unknown"


class Eligibility(NamedTuple):
    status: str  # ELIGIBLE, NOT_ELIGIBLE or UNKNOWN
    reason: str


def eligibility(credit: Credit) -> Eligibility:
    """Eligible when the plan qualifies and the subscription started by the cut-off."""
    offer = credit.offer
    if offer.fixed_expiry is not None:  # a credit found in the account: it was granted
        return Eligibility(ELIGIBLE, "your account holds it")
    qualifying = ", ".join(PLAN_NAMES.get(p, p) for p in offer.eligible_plans)
    if credit.plan is None:
        return Eligibility(UNKNOWN, f"plan not set; qualifying plans: {qualifying}")
    plan_name = PLAN_NAMES.get(credit.plan, credit.plan)
    if credit.plan not in offer.eligible_plans:
        return Eligibility(NOT_ELIGIBLE, f"the {plan_name} plan does not qualify (only {qualifying})")
    if credit.subscribed_at is None:
        if credit.claimed_at is not None:
            return Eligibility(ELIGIBLE, f"{plan_name} plan; the credit was claimed")
        return Eligibility(UNKNOWN, f"{plan_name} plan qualifies; subscribed_at not set")
    if credit.subscribed_at > offer.subscribed_by:
        return Eligibility(NOT_ELIGIBLE, f"{plan_name} subscription started after the cut-off")
    return Eligibility(ELIGIBLE, f"{plan_name} plan, subscribed before the cut-off")


def claim_in_window(offer: Offer, instant: datetime, day_end: datetime | None = None) -> bool:
    """Both ends are inclusive (claim_closes is the last second of the announced minute).

    A claim given as a date only (`instant` its first moment, `day_end` the next day's) is in the
    window when any moment of that day is: the window opens at 10:00 on its first day.
    """
    if day_end is not None:
        return instant <= offer.claim_closes and day_end > offer.claim_opens
    return offer.claim_opens <= instant <= offer.claim_closes


def expiry(offer: Offer, claimed_at: datetime) -> datetime:
    """When the credit expires: `validity_days` after the claim instant, counted on the early side.

    "60 days" can be read as 60 x 24 hours or as the same wall-clock time 60 calendar days later
    in the offer's zone; across the 2026-03-08 DST start the second is an hour earlier. We take
    whichever is earlier, so every reminder errs early.
    """
    if offer.fixed_expiry is not None:
        return offer.fixed_expiry
    elapsed = claimed_at + timedelta(days=offer.validity_days)
    calendar = add_calendar_days(claimed_at, offer.validity_days, offer.zone)
    return min(elapsed, calendar)
