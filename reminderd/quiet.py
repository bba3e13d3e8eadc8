"""Quiet hours: when a reminder may not interrupt. Pure.

A quiet period starts at `start` on some local day and ends at the next `end` after it: the
same day when start < end (12:00-13:00), the next day when it crosses midnight (22:00-08:00).
An instant is quiet when it lies in the period that starts on its own local date or on the day
before. Both ends are local wall times, so a period keeps its wall-clock shape across DST.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminderd.settings import QuietHours
from reminderd.timeutil import at_wall_time

# A reminder moved earlier lands this long before quiet hours begin.
BEFORE_QUIET = timedelta(minutes=1)


def quiet_period(instant: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The quiet period [start, end) that contains `instant`, or None if it is not quiet then."""
    if quiet is None:
        return None
    day = instant.astimezone(zone).date()
    crosses_midnight = quiet.start > quiet.end
    for start_day in (day - timedelta(days=1), day):
        end_day = start_day + timedelta(days=1) if crosses_midnight else start_day
        start = at_wall_time(start_day, quiet.start, zone)
        end = at_wall_time(end_day, quiet.end, zone)
        if start <= instant < end:
            return start, end
    return None


def place(due: datetime, event_at: datetime | None, announces: bool, floor: datetime,
          quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """Where a reminder due at `due` is shown, given quiet hours:

    - outside quiet hours: at `due`;
    - to the end of the quiet period, if it announces something that has happened ("expired":
      never earlier than its event), has no event, or the end still comes before its event;
    - else to just before the period begins, if that is after `floor` (where its series starts);
    - else at `due`, inside quiet hours: what it warns about comes before they end, and there
      is no earlier moment to say it.
    """
    period = quiet_period(due, quiet, zone)
    if period is None:
        return due
    start, end = period
    if announces or event_at is None or end < event_at:
        return end
    earlier = start - BEFORE_QUIET
    return earlier if earlier > floor else due
