"""Small pure helpers for instants, wall-clock times and durations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def localize(naive: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """Read a naive wall-clock time in `zone`; say so when that wall time is ambiguous or missing.

    A time skipped by a DST change (02:30 on 2026-03-08 in Los Angeles) is read as the instant
    just after the gap, and a repeated one as its first occurrence; both come with a warning
    rather than a silent shift.
    """
    aware = naive.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive.replace(fold=0):
        moved = aware.astimezone(UTC).astimezone(zone)  # PEP 495: fold=0 in a gap lands after it
        return moved, f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (DST gap); read as {moved:%H:%M %Z}"
    later = naive.replace(tzinfo=zone, fold=1)
    if later.utcoffset() != aware.utcoffset():
        return aware, f"{naive:%Y-%m-%d %H:%M} happens twice in {zone.key}; read as the first ({aware:%Z})"
    return aware, None


def to_instant(value: datetime | date, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """A TOML date or date-time as an aware UTC instant; naive values are wall time in `zone`."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        aware, warning = localize(value, zone)
        return aware.astimezone(UTC), warning
    return value.astimezone(UTC), None


def parse_instant(text: str, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """An ISO-8601 date or date-time string (e.g. from --at) as an aware UTC instant."""
    stripped = text.strip()
    if "T" not in stripped and " " not in stripped and len(stripped) == 10:
        return to_instant(date.fromisoformat(stripped), zone)
    return to_instant(datetime.fromisoformat(stripped), zone)


def parse_duration(text: str) -> timedelta | None:
    """'7d', '2h', '1d12h', '30m' -> timedelta; None when the text is not of that form."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def duration_label(lead: timedelta) -> str:
    """The reverse of parse_duration, in its shortest form: 7 days -> '7d', 90 minutes -> '1h30m'."""
    minutes = int(lead.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text or "0m"


def parse_clock(text: str) -> time | None:
    """'22:00' -> time(22, 0); None when the text is not HH:MM."""
    match = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", text.strip())
    if not match:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def at_wall_time(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant `clock` on `day` in `zone` (a time inside a DST gap moves past the gap)."""
    aware, _ = localize(datetime.combine(day, clock), zone)
    return aware.astimezone(UTC)


def add_calendar_days(instant: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The same wall-clock time `days` calendar days later in `zone`."""
    local = instant.astimezone(zone)
    return at_wall_time(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), zone)


def format_local(instant: datetime, zone: ZoneInfo) -> str:
    """'Sat 2026-04-11 12:00 PDT': how every time is shown to a person."""
    return instant.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def format_span(delta: timedelta) -> str:
    """A positive span in words: '3 days', '5 hours', '12 minutes'."""
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"
