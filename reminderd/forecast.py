"""How fast the credit is spent, and when it runs out. Pure functions.

A spend rate is a range in USD per day (low / expected / high). It comes from balance
observations when there are any (they are what really happened), else from the usage profile:

- activity mix: low and high are the activities' low and high costs per unit times the counts
  per day; expected is the midpoint. Token counts per model are priced exactly and added.
- daily_spend_usd: the expected rate, widened by +/- `uncertainty`; with a mix too, the range
  also covers the mix's low and high.
- observations: expected is the average rate from the claim to the latest observation; low and
  high are the slower and the faster of that and the rate between the last two points (the
  claim counts as the first point), widened by +/- `uncertainty`.

The high rate gives the earliest exhaustion: reminders use it, so they err early.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from reminderd.config import UsageProfile
from reminderd.offers import Offer

DAY = timedelta(days=1)
PROFILE = "profile"
OBSERVATIONS = "observations"


class Observation(NamedTuple):
    at: datetime
    remaining_usd: float


class SpendRate(NamedTuple):
    """USD per day."""

    low: float
    expected: float
    high: float


class Forecast(NamedTuple):
    """Where the balance stands and goes, from a reference point (the claim or an observation).

    An exhaustion instant is None when, at that rate, the credit lasts until it expires.
    """

    basis: str  # PROFILE or OBSERVATIONS
    rate: SpendRate
    reference_at: datetime
    reference_balance_usd: float
    expires_at: datetime
    earliest_exhaustion: datetime | None
    expected_exhaustion: datetime | None
    latest_exhaustion: datetime | None

    def balance_at(self, instant: datetime, rate: float | None = None) -> float:
        """Estimated balance at `instant` (expected rate unless given); 0 once expired."""
        if instant >= self.expires_at:
            return 0.0
        per_day = self.rate.expected if rate is None else rate
        spent = per_day * max(0.0, (instant - self.reference_at) / DAY)
        return max(0.0, self.reference_balance_usd - spent)

    def unused_at_expiry(self) -> SpendRate:
        """USD left unspent when the credit expires: low (at the high rate) to high."""
        def left(rate: float) -> float:
            days = max(0.0, (self.expires_at - self.reference_at) / DAY)
            return max(0.0, self.reference_balance_usd - rate * days)

        return SpendRate(low=left(self.rate.high), expected=left(self.rate.expected), high=left(self.rate.low))

    def when_balance_reaches(self, amount_usd: float, rate: float) -> datetime | None:
        """When, at `rate`, the balance falls to `amount_usd`; None if not before expiry."""
        if self.reference_balance_usd <= amount_usd:
            return self.reference_at
        if rate <= 0:
            return None
        instant = self.reference_at + DAY * ((self.reference_balance_usd - amount_usd) / rate)
        return instant if instant < self.expires_at else None


def profile_rate(usage: UsageProfile, offer: Offer) -> SpendRate | None:
    """The spend rate a described usage pattern implies; None when nothing is described."""
    if usage.is_empty:
        return None
    u = usage.uncertainty
    tokens = sum(
        count.input / 1e6 * offer.prices[model].input + count.output / 1e6 * offer.prices[model].output
        for model, count in usage.tokens_per_day.items()
    )
    mix_low = tokens + sum(n * offer.activities[name].low for name, n in usage.per_day.items())
    mix_high = tokens + sum(n * offer.activities[name].high for name, n in usage.per_day.items())
    has_mix = bool(usage.per_day or usage.tokens_per_day)
    if usage.daily_spend_usd is not None:
        daily = usage.daily_spend_usd
        low, high = daily * (1 - u), daily * (1 + u)
        if has_mix:
            low, high = min(low, mix_low), max(high, mix_high)
        return SpendRate(low, daily, high)
    if mix_low == mix_high:
        return SpendRate(mix_low * (1 - u), mix_low, mix_high * (1 + u))
    return SpendRate(mix_low, (mix_low + mix_high) / 2, mix_high)


def observed_rate(claimed_at: datetime, amount_usd: float, observations: Sequence[Observation],
                  uncertainty: float) -> SpendRate | None:
    """The spend rate the balance observations show; None without a usable observation."""
    points = [(claimed_at, amount_usd)] + [(o.at, o.remaining_usd) for o in observations
                                          if o.at > claimed_at]
    if len(points) < 2:
        return None

    def rate(a: tuple[datetime, float], b: tuple[datetime, float]) -> float:
        return max(0.0, (a[1] - b[1]) / ((b[0] - a[0]) / DAY))

    overall, recent = rate(points[0], points[-1]), rate(points[-2], points[-1])
    return SpendRate(min(overall, recent) * (1 - uncertainty), overall, max(overall, recent) * (1 + uncertainty))


def forecast(offer: Offer, usage: UsageProfile, claimed_at: datetime, expires_at: datetime,
             observations: Sequence[Observation], now: datetime) -> Forecast | None:
    """The forecast as known at `now` (observations after `now` are not yet known)."""
    known = sorted((o for o in observations if claimed_at < o.at <= now), key=lambda o: o.at)
    rate = observed_rate(claimed_at, offer.amount_usd, known, usage.uncertainty)
    if rate is not None:
        basis, reference_at, balance = OBSERVATIONS, known[-1].at, known[-1].remaining_usd
    else:
        rate = profile_rate(usage, offer)
        if rate is None:
            return None
        basis, reference_at, balance = PROFILE, claimed_at, offer.amount_usd
    partial = Forecast(basis, rate, reference_at, balance, expires_at, None, None, None)
    return Forecast(
        basis, rate, reference_at, balance, expires_at,
        earliest_exhaustion=partial.when_balance_reaches(0.0, rate.high),
        expected_exhaustion=partial.when_balance_reaches(0.0, rate.expected),
        latest_exhaustion=partial.when_balance_reaches(0.0, rate.low),
    )
