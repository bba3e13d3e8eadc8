"""What Claude Code's logs say the credit may have paid: a bound on the balance, and a pace. Pure.

The logs give the API-equivalent cost of Claude Code use on this machine. That is a ceiling on
what the credit paid since a known balance (the claim's full amount, the latest reading, the
account's figure): the plan's own quota pays first, except for requests billed to usage credits
whatever the quota (fast mode, models tagged credits_only). Where the quota's state is unknown,
all of the cost counts (the safe side); where the plan is known to have paid for an hour
(quota.py), only its credits-only part. So the balance is at least the known balance minus the
cost that counts since then: `SpendBound.lowest_usd`. Once that is at or below zero the credit
may be spent, whatever the forecast's pace says.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

HOUR = timedelta(hours=1)
LOG_HIGH_DAYS = 14  # the window of the logs' high rate
LOG_EXPECTED_DAYS = 7  # days with use averaged for the logs' expected rate


class LoggedSpend(NamedTuple):
    """The logged cost that counts against the credit, per UTC hour with use, known up to `as_of`."""

    hours: tuple[tuple[datetime, float], ...]  # (hour start, USD), oldest first
    as_of: datetime

    def between(self, start: datetime, end: datetime) -> float:
        """The cost of the hours that overlap [start, end): a whole hour counts (the safe side)."""
        return sum(usd for at, usd in self.hours if at + HOUR > start and at < end)


class SpendBound(NamedTuple):
    """The lowest balance the logs allow: the known balance minus what they count since it."""

    since: datetime  # when the balance was known
    balance_usd: float  # what it was then
    logged_usd: float  # the cost counted since the start of that hour, up to as_of
    as_of: datetime
    hours: tuple[tuple[datetime, float], ...]  # the hours counted

    @property
    def lowest_usd(self) -> float:
        return self.balance_usd - self.logged_usd

    def reached(self, amount_usd: float) -> datetime | None:
        """When the counted cost brought the lowest balance to `amount_usd` (the end of that hour,
        or as_of if sooner); None if it has not."""
        if self.balance_usd <= amount_usd:
            return self.since
        total = 0.0
        for start, usd in self.hours:
            total += usd
            if self.balance_usd - total <= amount_usd:
                return max(self.since, min(start + HOUR, self.as_of))
        return None

    @property
    def spent_at(self) -> datetime | None:
        """When the logs could have used the whole balance; None if they could not."""
        return self.reached(0.0) if self.lowest_usd <= 0 else None


def spend_bound(logged: LoggedSpend, since: datetime, balance_usd: float) -> SpendBound:
    hours = tuple((at, usd) for at, usd in logged.hours if at + HOUR > since and at < logged.as_of and usd > 0)
    return SpendBound(since, balance_usd, sum(usd for _, usd in hours), logged.as_of, hours)


class LogRates(NamedTuple):
    """What Claude Code's logs say of the pace, in USD a day."""

    high: float  # the larger of the 90th percentile and the mean of days with use, last LOG_HIGH_DAYS days
    expected: float  # mean of the last LOG_EXPECTED_DAYS days with use
    days: int  # whole days seen since the claim


def log_rates(daily_usd: Sequence[float]) -> LogRates | None:
    """From the spend of each whole day since the claim, oldest first; None without one. The
    high rate never drops to 0 while the window has spend: one heavy day in 14 has a 90th
    percentile of 0, and its mean is what it shows."""
    if not daily_usd:
        return None
    window = daily_usd[-LOG_HIGH_DAYS:]
    recent = sorted(window)
    rank = 0.9 * (len(recent) - 1)  # linear interpolation between closest ranks
    low_index = int(rank)
    high_index = min(low_index + 1, len(recent) - 1)
    p90 = recent[low_index] + (recent[high_index] - recent[low_index]) * (rank - low_index)
    used = [usd for usd in window if usd > 0]
    active = [usd for usd in daily_usd if usd > 0][-LOG_EXPECTED_DAYS:]
    return LogRates(max(p90, sum(used) / len(used) if used else 0.0),
                    sum(active) / len(active) if active else 0.0, len(daily_usd))
