"""Quiet hours: when a reminder may not interrupt, and where it moves instead. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminderd.config import QuietHours
from reminderd.timeutil import at_wall_time

# A reminder moved earlier lands this long before quiet hours begin.
BEFORE_QUIET = timedelta(minutes=1)


def quiet_period(instant: datetime, quiet: QuietHours, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The quiet period [start, end) that contains `instant`, or None if it is not quiet then."""
    local = instant.astimezone(zone)
    day = local.date()
    candidates = [(day - timedelta(days=1), day), (day, day)]
    if quiet.start > quiet.end:  # spans midnight, e.g. 22:00-08:00
        candidates = [(day - timedelta(days=1), day), (day, day + timedelta(days=1))]
    for start_day, end_day in candidates:
        start = at_wall_time(start_day, quiet.start, zone)
        end = at_wall_time(end_day, quiet.end, zone)
        if start <= instant < end:
            return start, end
    return None


def move_out_of_quiet(due: datetime, event_at: datetime | None, quiet: QuietHours | None,
                      zone: ZoneInfo) -> datetime:
    """Move a due instant inside quiet hours to their end, unless that passes the event it
    warns about; then to just before they begin."""
    if quiet is None:
        return due
    period = quiet_period(due, quiet, zone)
    if period is None:
        return due
    start, end = period
    if event_at is None or end <= event_at:
        return end
    return start - BEFORE_QUIET
