"""Small pure helpers for instants, wall-clock times and durations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?$")

# Every instant reminderd accepts (config, --at, state) lies in this range, and every span it
# adds (validity, lead times, check intervals) is bounded in config.py, so no date arithmetic
# below can leave datetime's range (years 1..9999) or a zone's tables.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RANGE_TEXT = "a moment between 1970 and 2199"


class OutOfRange(ValueError):
    """An instant outside [EARLIEST, LATEST)."""


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
    """A TOML date or date-time as an aware UTC instant; naive values are wall time in `zone`.

    Raises OutOfRange for a moment outside [EARLIEST, LATEST), checked before any conversion
    that could overflow.
    """
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if not 1 < value.year < 9999:  # far from datetime's limits before any offset is applied
        raise OutOfRange(f"expected {RANGE_TEXT}")
    if value.tzinfo is None:
        aware, warning = localize(value, zone)
        return _in_range(aware.astimezone(UTC)), warning
    return _in_range(value.astimezone(UTC)), None


def _in_range(instant: datetime) -> datetime:
    if not EARLIEST <= instant < LATEST:
        raise OutOfRange(f"expected {RANGE_TEXT}")
    return instant


def parse_iso(text: str) -> date | datetime:
    """An ISO-8601 date ('2026-02-06') or date-time string; raise ValueError otherwise."""
    stripped = text.strip()
    if "T" not in stripped and " " not in stripped and len(stripped) == 10:
        return date.fromisoformat(stripped)
    return datetime.fromisoformat(stripped)


def parse_instant(text: str, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """An ISO-8601 date or date-time string (e.g. from --at) as an aware UTC instant.

    Raises ValueError (OutOfRange for a moment outside the range reminderd handles).
    """
    return to_instant(parse_iso(text), zone)


DAY_WORDS = {"yesterday": -1, "today": 0, "tomorrow": 1}


def parse_moment(text: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, str | None]:
    """What --at takes, as an aware UTC instant: an ISO-8601 date or date-time (parse_instant),
    `now`, or `today`, `yesterday`, `tomorrow` (the start of that day in `zone`, as a date is),
    each optionally followed by a wall time: "today 14:00". Days are counted in `zone` from `now`.

    Raises ValueError (OutOfRange for a moment outside the range reminderd handles).
    """
    words = text.strip().lower().split()
    if words == ["now"]:
        return _in_range(now.astimezone(UTC)), None
    if words and words[0] in DAY_WORDS and len(words) <= 2:
        clock = parse_clock(words[1]) if len(words) == 2 else time(0, 0)
        if clock is None:
            raise ValueError(f"expected a time of day HH:MM after {words[0]!r}")
        day = now.astimezone(zone).date() + timedelta(days=DAY_WORDS[words[0]])
        return to_instant(datetime.combine(day, clock), zone)
    return parse_instant(text, zone)


def parse_duration(text: str) -> timedelta | None:
    """'7d', '2h', '1d12h', '30m' -> timedelta; None when the text is not of that form.

    At most six digits per unit, so the result always fits a timedelta; callers bound it further.
    """
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


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def format_span(delta: timedelta, units: int = 1) -> str:
    """A span in words, rounded down: '3 days', '5 hours'; with units=2 also the next unit when
    it is not zero: '6 days 23 hours', '9 hours 1 minute'. Rounding down never overstates the
    time left."""
    seconds = int(abs(delta.total_seconds()))
    for index, (_, size) in enumerate(_UNITS):
        if seconds >= size:
            parts = []
            for unit, unit_size in _UNITS[index:index + units]:
                count = seconds // unit_size
                seconds -= count * unit_size
                if count:
                    parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
            return " ".join(parts)
    return "less than a minute"
