"""How fast the credit is spent, and when it runs out. Pure functions.

A spend rate is a range in USD per day (low / expected / high). Three sources feed it, and the
README ("How reminderd counts") states how they combine:

- the usage profile: an activity mix (low and high costs per unit times counts per day,
  expected the midpoint; token counts priced exactly), and/or `daily_spend_usd` widened by
  +/- `uncertainty`;
- balance readings (`reminderd balance`, later the account): what was really spent. The claim
  is the first point (the full amount). A drop is spend; a rise is a top-up (Auto-Reload, or a
  purchase), never negative spend; a drop far beyond what logged use and the profile's high
  rate allow, where the logs cover the time, is an event (credit vanishing at a plan change):
  the expected pace leaves it out, the high pace does not (it may have been spend after all). A rate is measured
  over at least MIN_SPAN, so two readings an hour apart do not make an hourly blip a daily rate.
- Claude Code's logs (logged.py): a ceiling on what the credit paid since the last known
  balance, so a lower bound on the balance, and a pace (LogRates).

Combined:
- high = the fastest of the profile's high, the readings' rates (widened) and the logs' high:
  a source never lowers the high rate another gives, so none removes another's warning;
- expected = the readings' average since the claim, once they cover MIN_SPAN and show spend
  (readings are the authority); before that the profile's expected rate, else the logs';
- low = the slower of the readings' rates (widened) once they show spend; else the profile's,
  else the logs' expected rate narrowed by `uncertainty`.

The earliest exhaustion is the earliest of the high rate from the last known balance and the
logs' bound (reached, or from where it stands at the high rate): reminders use it, so they err
early.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from reminderd.logged import HOUR, LoggedSpend, LogRates, SpendBound, spend_bound
from reminderd.offers import Offer
from reminderd.settings import UsageProfile

DAY = timedelta(days=1)
MIN_SPAN = DAY
PROFILE = "profile"
OBSERVATIONS = "observations"
CLAUDE_CODE_LOGS = "claude-code-logs"
ACCOUNT = "account"
MANUAL = "manual"  # a reading typed with `reminderd balance`
DROP_MIN_USD = 5.0  # a drop beyond what use explains by at least this much, and DROP_MIN_SHARE of the balance
DROP_MIN_SHARE = 0.2


MANUAL = "manual"  # a reading typed with `reminderd balance`


class Observation(NamedTuple):
    """A balance reading: what was left at `at`, and where the figure came from."""

    at: datetime
    remaining_usd: float
    source: str = MANUAL  # where the reading came from: MANUAL, or ACCOUNT


class SpendRate(NamedTuple):
    """USD per day."""

    low: float
    expected: float
    high: float


class TopUp(NamedTuple):
    """A reading higher than the one before it: money was added."""

    at: datetime
    from_usd: float
    to_usd: float


class BalanceDrop(NamedTuple):
    """A reading far lower than use explains since the point before it: credit vanished."""

    at: datetime  # the reading that shows it
    since: datetime  # the point before it (the claim or a reading)
    from_usd: float
    to_usd: float
    explained_usd: float  # what logged use and the profile's high rate allow in between

    @property
    def unexplained_usd(self) -> float:
        return self.from_usd - self.to_usd - self.explained_usd


# What use allows to be spent between two instants (the logs' counted cost, the profile's high
# rate over the time between), or None when nothing tells.
Allowance = Callable[[datetime, datetime], "float | None"]


class Readings(NamedTuple):
    """The balance readings that count for a credit, and what they show."""

    used: tuple[Observation, ...]  # after the claim, before expiry, known by `now`; by time
    ignored: tuple[Observation, ...]  # before the claim or at/after the expiry
    spent_usd: float  # the sum of the drops since the claim (a vanished part not counted)
    overall: float  # USD a day since the claim (over at least MIN_SPAN)
    recent: float  # USD a day over the last MIN_SPAN or more before the latest reading
    covers_min_span: bool  # the latest reading is at least MIN_SPAN after the claim
    top_ups: tuple[TopUp, ...]
    drops: tuple[BalanceDrop, ...] = ()
    fastest: float = 0.0  # the faster of overall and recent with the vanished parts counted as spend

    @property
    def fast(self) -> float:
        """The pace that times the warnings: a drop taken for vanished credit may have been spend
        after all (a profile that underestimates), so here it counts."""
        return max(self.overall, self.recent, self.fastest)

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
    bound: SpendBound | None = None  # what the logs allow since the reference, when they are read
    drops: tuple[BalanceDrop, ...] = ()

    def balance_at(self, instant: datetime, rate: float | None = None) -> float:
        """Estimated balance at `instant` (expected rate unless given); 0 once expired."""
        if instant >= self.expires_at:
            return 0.0
        per_day = self.rate.expected if rate is None else rate
        spent = per_day * max(0.0, (instant - self.reference_at) / DAY)
        return max(0.0, self.reference_balance_usd - spent)

    def lowest_at(self, instant: datetime) -> float:
        """The lowest balance the sources allow at `instant` (at or after the logs' as_of): the
        high rate from the reference, or the logs' bound and the high rate after it."""
        lowest = self.reference_balance_usd - self.rate.high * max(0.0, (instant - self.reference_at) / DAY)
        if self.bound is not None:
            after = self.rate.high * max(0.0, (instant - self.bound.as_of) / DAY)
            lowest = min(lowest, self.bound.lowest_usd - after)
        return lowest

    def unused_at_expiry(self) -> SpendRate:
        """Credit left unspent when it expires: low (the lowest the sources allow) to high (at the
        low rate). Never more than the credit's amount: money a top-up added is not the credit.
        """
        days = max(0.0, (self.expires_at - self.reference_at) / DAY)

        def left(balance: float) -> float:
            return min(self.amount_usd, max(0.0, balance))

        return SpendRate(low=left(self.lowest_at(self.expires_at)),
                         expected=left(self.reference_balance_usd - self.rate.expected * days),
                         high=left(self.reference_balance_usd - self.rate.low * days))

    def lowest_reaches(self, amount_usd: float) -> datetime | None:
        """When the lowest balance the sources allow falls to `amount_usd`; None if not before expiry."""
        found = [self.when_balance_reaches(amount_usd, self.rate.high)]
        bound = self.bound
        if bound is not None:
            reached = bound.reached(amount_usd)
            if reached is None and self.rate.high > 0:
                days = (bound.lowest_usd - amount_usd) / self.rate.high
                if days < (self.expires_at - bound.as_of) / DAY:
                    reached = bound.as_of + DAY * days
            found.append(reached)
        return min((f for f in found if f is not None), default=None)

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
    rows = offer.prices.current()
    tokens = sum(count.input / 1e6 * rows[model].input + count.output / 1e6 * rows[model].output
                 for model, count in usage.tokens_per_day.items() if model in rows)
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
             observations: Sequence[Observation], now: datetime, allowance: Allowance | None = None) -> Readings | None:
    """The readings known at `now` that count, and the spend they show; None if none counts.

    Two readings of the same instant are one: the one recorded last wins. A drop beyond what
    `allowance` allows (by DROP_MIN_USD and DROP_MIN_SHARE of the balance before it) is a
    BalanceDrop, and only the allowed part counts as spend.
    """
    by_instant = {o.at: o for o in observations if o.at <= now}
    known = sorted(by_instant.values(), key=lambda o: o.at)
    used = tuple(o for o in known if claimed_at < o.at < expires_at)
    ignored = tuple(o for o in known if not claimed_at < o.at < expires_at)
    if not used:
        return None
    points = [Observation(claimed_at, amount_usd), *used]
    drops, raw, events = [], [], []
    for a, b in zip(points, points[1:], strict=False):
        drop = max(0.0, a.remaining_usd - b.remaining_usd)
        raw.append(drop)
        allowed = allowance(a.at, b.at) if allowance is not None and drop > 0 else None
        if allowed is not None and drop - allowed >= max(DROP_MIN_USD, DROP_MIN_SHARE * a.remaining_usd):
            events.append(BalanceDrop(b.at, a.at, a.remaining_usd, b.remaining_usd, allowed))
            drop = allowed
        drops.append(drop)
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
        drops=tuple(events),
        fastest=max(sum(raw) / _days_at_least_min_span(claimed_at, last.at),
                    sum(raw[start:]) / _days_at_least_min_span(points[start].at, last.at)),
    )


def _days_at_least_min_span(start: datetime, end: datetime) -> float:
    return max(end - start, MIN_SPAN) / DAY


def combined_rate(profile: SpendRate | None, seen: Readings | None, uncertainty: float,
                  logs: LogRates | None = None) -> tuple[SpendRate, str] | None:
    """The spend rate and the source of its expected value; None when nothing tells a pace."""
    spend_seen = seen is not None and seen.fast > 0
    logs_seen = logs is not None and logs.high > 0
    if profile is None and not spend_seen and not logs_seen:
        return None
    highs = [profile.high] if profile is not None else []
    if logs is not None and logs_seen:
        highs.append(logs.high)
    if seen is not None and spend_seen:
        slow, fast = min(seen.overall, seen.recent), seen.fast
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


def allowance(profile: SpendRate | None, logged: LoggedSpend | None) -> Allowance:
    """What use allows to be spent between two instants, where Claude Code's logs cover the time
    (they measure spend; a profile alone is a guess, and readings outrank it): the logs' counted
    cost, plus the profile's high rate over the time for the use the logs do not see. None where
    the logs do not cover it: a drop there is spend."""
    def allowed(start: datetime, end: datetime) -> float | None:
        if logged is None or end > logged.as_of + HOUR:
            return None
        return logged.between(start, end) + (profile.high * (end - start) / DAY if profile is not None else 0.0)

    return allowed


def forecast(offer: Offer, usage: UsageProfile, claimed_at: datetime, expires_at: datetime,
             observations: Sequence[Observation], now: datetime, logs: LogRates | None = None,
             logged: LoggedSpend | None = None) -> Forecast | None:
    """The forecast as known at `now` (readings after `now` are not yet known). `logs` is the
    pace Claude Code's logs show, `logged` the cost they count against the credit."""
    profile = profile_rate(usage, offer)
    seen = readings(claimed_at, offer.amount_usd, expires_at, observations, now, allowance(profile, logged))
    combined = combined_rate(profile, seen, usage.uncertainty, logs)
    if seen is not None:
        reference_at, balance = seen.latest.at, seen.latest.remaining_usd
    else:
        reference_at, balance = claimed_at, offer.amount_usd
    bound = spend_bound(logged, reference_at, balance) if logged is not None else None
    if combined is None:
        if bound is None or not bound.hours:
            return None
        combined = SpendRate(0.0, 0.0, 0.0), CLAUDE_CODE_LOGS  # only what the logs already count
    rate, basis = combined
    if basis == CLAUDE_CODE_LOGS and bound is not None and bound.as_of > reference_at:
        # the logs are the only pace: what they counted is taken as spent (the safe side), and
        # the pace goes on from where they stand
        reference_at, balance = bound.as_of, max(0.0, bound.lowest_usd)
    sources = tuple(name for name, used in (
        (PROFILE, profile is not None), (OBSERVATIONS, seen is not None),
        (CLAUDE_CODE_LOGS, logs is not None and logs.high > 0 or bound is not None and bound.logged_usd > 0),
        (ACCOUNT, seen is not None and any(o.source == ACCOUNT for o in seen.used))) if used)
    partial = Forecast(basis, sources, rate, reference_at, balance, offer.amount_usd, expires_at,
                       None, None, None, seen.top_ups if seen else (), bound, seen.drops if seen else ())
    return partial._replace(
        earliest_exhaustion=partial.lowest_reaches(0.0),
        expected_exhaustion=partial.when_balance_reaches(0.0, rate.expected),
        latest_exhaustion=partial.when_balance_reaches(0.0, rate.low),
    )
