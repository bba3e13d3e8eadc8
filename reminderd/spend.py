"""What Claude Code's logged use cost, per hour and per local day, at a price table. Pure.

The ledger (ledger.py) keeps tokens per UTC hour and per model key, never dollars: prices and the
configured zone may change later, and these functions apply them when asked.
"""

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.prices import PriceTable, Rate, Tokens, cost, rate

HOUR = timedelta(hours=1)
HOUR_FORMAT = "%Y-%m-%dT%H"  # how the ledger keys an hour (UTC)


class LoggedUsage(NamedTuple):
    """What the ledger holds for one credit: tokens per UTC hour and model key."""

    hours: Mapping[str, Mapping[str, Tokens]]  # "2026-02-09T01" (UTC) -> model key -> tokens
    skipped: Mapping[str, int]  # reason -> lines
    files: int  # transcript files it has read
    scanned_at: datetime | None
    skipped_in: Mapping[str, Mapping[str, int]] = {}  # transcript -> reason -> lines, where any was skipped
    pending: int = 0  # transcripts not read yet: the last refresh stopped at its deadline


NO_USAGE = LoggedUsage({}, {}, 0, None)


class DaySpend(NamedTuple):
    day: date
    usd: float
    by_model: Mapping[str, float]


class Priced(NamedTuple):
    days: tuple[DaySpend, ...]
    unknown: Mapping[str, str]  # model key -> the table key it was priced as


class HourSpend(NamedTuple):
    """The logged cost of one UTC hour."""

    start: datetime
    usd: float
    credits_only_usd: float  # of which requests billed to usage credits whatever the plan's quota


def hour_start(text: str) -> datetime | None:
    """The start of a ledger hour ("2026-02-09T01"); None for a key that is not one."""
    if len(text) != 13 or text[4] + text[7] + text[10] != "--T":
        return None
    try:  # read by hand: strptime costs more than the rest of status for a long ledger
        return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), tzinfo=UTC)
    except ValueError:
        return None


class _Rates:
    """rate() of each model key, once per key and price row."""

    def __init__(self, table: PriceTable, web_search_usd: float) -> None:
        self.table, self.web_search_usd = table, web_search_usd
        self.cache: dict[tuple[str, date | None], Rate] = {}
        self.unknown: dict[str, str] = {}
        self.dated = any(len(rows) > 1 for rows in table.rows.values())

    def __call__(self, key: str, at: datetime) -> Rate:
        day = at.date() if self.dated else None
        found = self.cache.get((key, day))
        if found is None:
            found = self.cache[(key, day)] = rate(key, self.table, self.web_search_usd, day)
            if not found.known:
                self.unknown[key] = found.priced_as
        return found


def hourly(usage: LoggedUsage, table: PriceTable, web_search_usd: float,
           start: datetime | None = None) -> tuple[list[HourSpend], dict[str, str]]:
    """The cost of every hour with use from the one holding `start` on, oldest first, and the
    model keys the table did not know (-> what they were priced as)."""
    rates = _Rates(table, web_search_usd)
    first = None if start is None else start.replace(minute=0, second=0, microsecond=0)
    out = []
    for text, models in usage.hours.items():
        begin = hour_start(text)
        if begin is None or first is not None and begin < first:
            continue
        usd = credits_only = 0.0
        for key, tokens in models.items():
            found = rates(key, begin)
            amount = cost(tokens, found.per_token)
            usd += amount
            if found.credits_only:
                credits_only += amount
        out.append(HourSpend(begin, usd, credits_only))
    out.sort()
    return out, rates.unknown


def daily_usd(usage: LoggedUsage, zone: ZoneInfo, table: PriceTable, web_search_usd: float,
              start: date | None = None, end: date | None = None) -> Priced:
    """USD per local day in `zone`, from `start` to `end` inclusive (None: the ledger's own
    extent); days without use are listed with 0. An hour that spans a local midnight (zones
    with a half-hour offset) is split between the two days in proportion."""
    by_day: dict[date, dict[str, float]] = {}
    rates = _Rates(table, web_search_usd)
    for hour_text, models in usage.hours.items():
        begin = hour_start(hour_text)
        if begin is None:
            continue
        shares = local_days(begin, zone)
        if start is not None and all(day < start for day, _ in shares) or \
                end is not None and all(day > end for day, _ in shares):
            continue
        for key, tokens in models.items():
            usd = cost(tokens, rates(key, begin).per_token)
            for day, share in shares:
                day_models = by_day.setdefault(day, {})
                day_models[key] = day_models.get(key, 0.0) + usd * share
    if not by_day and (start is None or end is None):
        return Priced((), rates.unknown)
    first = start or min(by_day)
    last = end or max(by_day)
    days = []
    day = first
    while day <= last:
        usd_by_model = by_day.get(day, {})
        days.append(DaySpend(day, math.fsum(usd_by_model.values()), dict(sorted(usd_by_model.items()))))
        day += timedelta(days=1)
    return Priced(tuple(days), rates.unknown)


def local_days(begin: datetime, zone: ZoneInfo) -> list[tuple[date, float]]:
    """The local day(s) of the UTC hour starting at `begin`, with each one's share of it: an
    hour starting at hh:30 local (a half-hour zone) at 23:30 spans midnight and is split."""
    local = begin.astimezone(zone)
    if local.minute == 0 or local.hour != 23:
        return [(local.date(), 1.0)]
    before = (60 - local.minute) / 60
    return [(local.date(), before), (local.date() + timedelta(days=1), 1.0 - before)]
