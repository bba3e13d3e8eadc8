"""Whether the plan's own quota or usage credits paid for an hour of use: what Claude Code's
status line saw of the plan's limits, as facts. Pure.

Each sample is what one status-line run saw: the 5-hour and the weekly limit's used percentage
and when each resets. Within a limit's window the percentage only rises, so a sample below 100 %
says the limit stood below 100 % from the window's start up to the sample; a sample at 100 %
says it stands there until the reset. An hour is known to be paid by the plan only when both
limits are known to be below 100 % for the whole hour and neither is known to be at 100 %
in it; otherwise it is unknown or limited, and its logged cost counts against the credit (the
safe side).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

FIVE_HOURS = timedelta(hours=5)
SEVEN_DAYS = timedelta(days=7)
FULL = 100.0


class Limit(NamedTuple):
    used_percent: float
    resets_at: datetime


class QuotaSample(NamedTuple):
    """What one status-line run saw; a limit is None when the input did not say."""

    at: datetime
    five_hour: Limit | None
    seven_day: Limit | None


Interval = tuple[datetime, datetime]


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _covers(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(a <= start and end <= b for a, b in intervals)


def _overlaps(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(a < end and start < b for a, b in intervals)


class QuotaHistory(NamedTuple):
    """What the samples tell, as intervals of time."""

    five_hour_below: tuple[Interval, ...] = ()
    seven_day_below: tuple[Interval, ...] = ()
    at_limit: tuple[Interval, ...] = ()  # either limit at 100 %

    def plan_paid(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) is known to be paid by the plan's quota (both limits below 100 %)."""
        return (_covers(self.five_hour_below, start, end) and _covers(self.seven_day_below, start, end)
                and not _overlaps(self.at_limit, start, end))

    def limit_reached(self, now: datetime) -> Interval | None:
        """The stretch at a limit that holds `now` or ended last before it (for status)."""
        known = [i for i in self.at_limit if i[0] <= now]
        return max(known, default=None, key=lambda i: i[1])


def history(samples: Iterable[QuotaSample], now: datetime) -> QuotaHistory:
    """The intervals the samples known at `now` establish."""
    five: list[Interval] = []
    seven: list[Interval] = []
    full: list[Interval] = []
    for sample in samples:
        if sample.at > now:
            continue
        for limit, window, below in ((sample.five_hour, FIVE_HOURS, five), (sample.seven_day, SEVEN_DAYS, seven)):
            if limit is None or limit.resets_at <= sample.at:
                continue  # a reset already past says nothing about this window
            if limit.used_percent >= FULL:
                full.append((sample.at, limit.resets_at))
            else:
                below.append((limit.resets_at - window, sample.at))  # empty if the reset is too far
    return QuotaHistory(tuple(_merged(five)), tuple(_merged(seven)), tuple(_merged(full)))
