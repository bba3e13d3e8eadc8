"""How fast the credit is spent, and when it runs out. Pure functions.

A spend rate is a range in USD per day (low / expected / high). Two sources feed it, and the
README ("How reminderd counts") states how they combine:

- the usage profile: an activity mix (low and high costs per unit times counts per day,
  expected the midpoint; token counts priced exactly), and/or `daily_spend_usd` widened by
  +/- `uncertainty`;
- balance readings (`reminderd balance`): what was really spent. The claim is the first point
  (the full amount). A drop is spend; a rise is a top-up (Auto-Reload, or a purchase), never
  negative spend. A rate is measured over at least MIN_SPAN, so two readings an hour apart do
  not make an hourly blip a daily rate.

- Claude Code's logs (ledger.py): the API-equivalent cost of Claude Code use on this machine,
  a ceiling for what the credit pays (the plan's own usage comes first), not a bill. They give
  a high rate (the 90th percentile of the daily spend over the last 14 whole days since the
  claim) and an expected one (the mean of the last 7 days with use).

Combined:
- high = the fastest of the profile's high, the readings' rates (widened) and the logs' high:
  a source never lowers the high rate another gives, so none removes another's warning;
- expected = the readings' average since the claim, once they cover MIN_SPAN and show spend
  (readings are the authority); before that the profile's expected rate, else the logs';
- low = the slower of the readings' rates (widened) once they show spend; else the profile's,
  else the logs' expected rate narrowed by `uncertainty`.

The high rate gives the earliest exhaustion: reminders use it, so they err early.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from reminderd.config import UsageProfile
from reminderd.offers import Offer

DAY = timedelta(days=1)
MIN_SPAN = DAY
PROFILE = "profile"
OBSERVATIONS = "observations"
CLAUDE_CODE_LOGS = "claude-code-logs"
LOG_HIGH_DAYS = 14  # the window of the logs' high rate (its 90th percentile)
LOG_EXPECTED_DAYS = 7  # days with use averaged for the logs' expected rate


MANUAL = "manual"  # a reading typed with `reminderd balance`


class Observation(NamedTuple):
    at: datetime
    remaining_usd: float
    source: str = MANUAL  # where the reading came from: MANUAL, later the account


class SpendRate(NamedTuple):
    """USD per day."""

    low: float
    expected: float
    high: float


class LogRates(NamedTuple):
    """What Claude Code's logs say of the pace, in USD a day."""

    high: float  # 90th percentile of the last LOG_HIGH_DAYS whole days' spend
    expected: float  # mean of the last LOG_EXPECTED_DAYS days with use
    days: int  # whole days seen since the claim


def log_rates(daily_usd: Sequence[float]) -> LogRates | None:
    """From the spend of each whole day since the claim, oldest first; None without one."""
    if not daily_usd:
        return None
    recent = sorted(daily_usd[-LOG_HIGH_DAYS:])
    rank = 0.9 * (len(recent) - 1)  # linear interpolation between closest ranks
    low_index = int(rank)
    high_index = min(low_index + 1, len(recent) - 1)
    p90 = recent[low_index] + (recent[high_index] - recent[low_index]) * (rank - low_index)
    active = [usd for usd in daily_usd if usd > 0][-LOG_EXPECTED_DAYS:]
    return LogRates(p90, sum(active) / len(active) if active else 0.0, len(daily_usd))


class TopUp(NamedTuple):
    """A reading higher than the one before it: money was added."""

    at: datetime
    from_usd: float
    to_usd: float


class Readings(NamedTuple):
    """The balance readings that count for a credit, and what they show."""

    used: tuple[Observation, ...]  # after the claim, before expiry, known by `now`; by time
    ignored: tuple[Observation, ...]  # before the claim or at/after the expiry
    spent_usd: float  # the sum of the drops since the claim
    overall: float  # USD a day since the claim (over at least MIN_SPAN)
    recent: float  # USD a day over the last MIN_SPAN or more before the latest reading
    covers_min_span: bool  # the latest reading is at least MIN_SPAN after the claim
    top_ups: tuple[TopUp, ...]

    @property
    def latest(self) -> Observation:
        return self.used[-1]


class Forecast(NamedTuple):
    """Where the balance stands and goes, from a reference point (the claim or the latest reading).

    An exhaustion instant is None when, at that rate, the credit lasts until it expires.
    """

    basis: str  # where the expected rate comes from: PROFILE or OBSERVATIONS
    sources: tuple[str, ...]  # every source used, e.g. ("profile", "observations")
    rate: SpendRate
    reference_at: datetime
    reference_balance_usd: float
    amount_usd: float
    expires_at: datetime
    earliest_exhaustion: datetime | None
    expected_exhaustion: datetime | None
    latest_exhaustion: datetime | None
    top_ups: tuple[TopUp, ...] = ()

    def balance_at(self, instant: datetime, rate: float | None = None) -> float:
        """Estimated balance at `instant` (expected rate unless given); 0 once expired."""
        if instant >= self.expires_at:
            return 0.0
        per_day = self.rate.expected if rate is None else rate
        spent = per_day * max(0.0, (instant - self.reference_at) / DAY)
        return max(0.0, self.reference_balance_usd - spent)

    def unused_at_expiry(self) -> SpendRate:
        """Credit left unspent when it expires: low (at the high rate) to high (at the low rate).

        Never more than the credit's amount: money a top-up added is not the credit.
        """
        days = max(0.0, (self.expires_at - self.reference_at) / DAY)

        def left(rate: float) -> float:
            return min(self.amount_usd, max(0.0, self.reference_balance_usd - rate * days))

        return SpendRate(low=left(self.rate.high), expected=left(self.rate.expected), high=left(self.rate.low))

    def when_balance_reaches(self, amount_usd: float, rate: float) -> datetime | None:
        """When, at `rate`, the balance falls to `amount_usd`; None if not before expiry."""
        if self.reference_balance_usd <= amount_usd:
            return self.reference_at
        if rate <= 0:
            return None
        days = (self.reference_balance_usd - amount_usd) / rate
        if days >= (self.expires_at - self.reference_at) / DAY:  # checked first: a tiny rate overflows
            return None
        return self.reference_at + DAY * days


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


def readings(claimed_at: datetime, amount_usd: float, expires_at: datetime,
             observations: Sequence[Observation], now: datetime) -> Readings | None:
    """The readings known at `now` that count, and the spend they show; None if none counts.

    Two readings of the same instant are one: the one recorded last wins.
    """
    by_instant = {o.at: o for o in observations if o.at <= now}
    known = sorted(by_instant.values(), key=lambda o: o.at)
    used = tuple(o for o in known if claimed_at < o.at < expires_at)
    ignored = tuple(o for o in known if not claimed_at < o.at < expires_at)
    if not used:
        return None
    points = [Observation(claimed_at, amount_usd), *used]
    drops = [max(0.0, a.remaining_usd - b.remaining_usd) for a, b in zip(points, points[1:], strict=False)]
    top_ups = tuple(TopUp(b.at, a.remaining_usd, b.remaining_usd)
                    for a, b in zip(points, points[1:], strict=False) if b.remaining_usd > a.remaining_usd)
    last = points[-1]
    # the recent window reaches back to the latest point at least MIN_SPAN before the last one
    start = max((i for i, p in enumerate(points) if last.at - p.at >= MIN_SPAN), default=0)
    return Readings(
        used=used,
        ignored=ignored,
        spent_usd=sum(drops),
        overall=sum(drops) / _days_at_least_min_span(claimed_at, last.at),
        recent=sum(drops[start:]) / _days_at_least_min_span(points[start].at, last.at),
        covers_min_span=last.at - claimed_at >= MIN_SPAN,
        top_ups=top_ups,
    )


def _days_at_least_min_span(start: datetime, end: datetime) -> float:
    return max(end - start, MIN_SPAN) / DAY


def combined_rate(profile: SpendRate | None, seen: Readings | None, uncertainty: float,
                  logs: LogRates | None = None) -> tuple[SpendRate, str] | None:
    """The spend rate and the source of its expected value; None when nothing tells a pace."""
    spend_seen = seen is not None and seen.spent_usd > 0
    logs_seen = logs is not None and logs.high > 0
    if profile is None and not spend_seen and not logs_seen:
        return None
    highs = [profile.high] if profile is not None else []
    if logs is not None and logs_seen:
        highs.append(logs.high)
    if seen is not None and spend_seen:
        slow, fast = min(seen.overall, seen.recent), max(seen.overall, seen.recent)
        highs.append(fast * (1 + uncertainty))
        low = slow * (1 - uncertainty)
        if seen.covers_min_span or (profile is None and not logs_seen):
            expected, basis = seen.overall, OBSERVATIONS
        elif profile is not None:
            expected, basis = profile.expected, PROFILE
        else:
            assert logs is not None
            expected, basis = logs.expected, CLAUDE_CODE_LOGS
    elif profile is not None:
        low, expected, basis = profile.low, profile.expected, PROFILE
    else:
        assert logs is not None
        low, expected, basis = logs.expected * (1 - uncertainty), logs.expected, CLAUDE_CODE_LOGS
    high = max(highs)
    low = min(low, high)
    return SpendRate(low, min(max(expected, low), high), high), basis


def forecast(offer: Offer, usage: UsageProfile, claimed_at: datetime, expires_at: datetime,
             observations: Sequence[Observation], now: datetime, logs: LogRates | None = None) -> Forecast | None:
    """The forecast as known at `now` (readings after `now` are not yet known)."""
    seen = readings(claimed_at, offer.amount_usd, expires_at, observations, now)
    profile = profile_rate(usage, offer)
    combined = combined_rate(profile, seen, usage.uncertainty, logs)
    if combined is None:
        return None
    rate, basis = combined
    sources = tuple(name for name, used in ((PROFILE, profile is not None), (OBSERVATIONS, seen is not None),
                                            (CLAUDE_CODE_LOGS, logs is not None and logs.high > 0)) if used)
    if seen is not None:
        reference_at, balance = seen.latest.at, seen.latest.remaining_usd
    else:
        reference_at, balance = claimed_at, offer.amount_usd
    partial = Forecast(basis, sources, rate, reference_at, balance, offer.amount_usd, expires_at,
                       None, None, None, seen.top_ups if seen else ())
    return partial._replace(
        earliest_exhaustion=partial.when_balance_reaches(0.0, rate.high),
        expected_exhaustion=partial.when_balance_reaches(0.0, rate.expected),
        latest_exhaustion=partial.when_balance_reaches(0.0, rate.low),
    )
