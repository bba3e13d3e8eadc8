"""Typed values read out of a parsed TOML table, for the config's readers: each getter records a
problem naming the file, the key, what was expected and what was found, and returns a default,
so that one run reports every problem in the file."""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reminderd.timeutil import RANGE_TEXT, OutOfRange, parse_clock, parse_duration, parse_iso, to_instant

# Bounds that keep every date computation inside datetime's range (see timeutil.EARLIEST/LATEST).
MAX_DAYS = 3650  # validity, lead times
MAX_CHECK_EVERY_DAYS = 366
MAX_USD = 1_000_000.0
MAX_COUNT = 1e12  # activities or tokens a day
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class UnknownSystemZone(ValueError):
    """The host's zone has no IANA name reminderd can use."""


def system_timezone() -> ZoneInfo:
    """The host's IANA zone ($TZ first), via tzlocal, which APScheduler installs anyway.

    Raises UnknownSystemZone when $TZ is not an IANA name (a POSIX rule such as "JST-9", a typo)
    or the zone found does not keep the host's current UTC offset: guessing would shift every
    time shown.
    """
    import time as _time

    import tzlocal

    tz_env = os.environ.get("TZ", "").removeprefix(":")
    if tz_env:
        try:
            zone = ZoneInfo(tz_env)
        except (ZoneInfoNotFoundError, ValueError):
            raise UnknownSystemZone(f'TZ="{tz_env}" is not an IANA zone name') from None
    else:
        try:
            zone = ZoneInfo(tzlocal.get_localzone_name() or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise UnknownSystemZone("the system's zone has no IANA name") from None
    host_offset = _time.localtime().tm_gmtoff
    if datetime.now(zone).utcoffset() != timedelta(seconds=host_offset):
        raise UnknownSystemZone(f"the system's zone ({zone.key}) does not match its clock's UTC offset")
    return zone


def figure(value: float) -> str:
    """1000000.0 -> '1,000,000'; 0.01 -> '0.01'."""
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        import json  # only to show a bad value: quoted, with control characters escaped

        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    return repr(value) if not isinstance(value, (int, float)) else str(value)


class ValueReader:
    """Collects problems and warnings instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, key: str, expected: str, got: Any) -> None:
        self.problems.append(f"{self.source}: {key}: expected {expected}, got {show(got)}")

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {message}")

    def unknown_keys(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        for key in table:
            if key not in known:
                import difflib  # only for a key to correct: 1 ms of every start otherwise

                close = difflib.get_close_matches(key, sorted(known), n=1)
                self.warn(f"{prefix}{key}", "unknown key, ignored" + (f" (did you mean {close[0]}?)" if close else ""))

    def table(self, parent: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.problem(path, "a table", value)
            return {}
        return value

    def string(self, value: Any, path: str, default: str | None = None) -> str | None:
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(path, "a string", value)
            return default
        return value

    def number(self, value: Any, path: str, *, minimum: float = 0.0, maximum: float = MAX_USD,
               default: float | None = None) -> float | None:
        expected = f"a number from {figure(minimum)} to {figure(maximum)}"
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, expected, value)
            return default
        if not math.isfinite(value) or not minimum <= value <= maximum:
            self.problem(path, expected, value)
            return default
        return float(value)

    def whole(self, value: Any, path: str, minimum: int, maximum: int, what: str, default: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.problem(path, f"a whole number of {what} from {minimum} to {maximum}", value)
            return default
        return value

    def name(self, value: Any, path: str, default: str) -> str:
        """A non-empty string (an id, an offer, a backend): absent gives the default, "" is an error."""
        text = self.string(value, path)
        if text is None:
            return default
        if not text.strip():
            self.problem(path, "a non-empty name", text)
            return default
        return text

    def text(self, value: Any, path: str, default: str) -> str:
        """A non-empty line of text (a name, a phrase of the offer's wording)."""
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            self.problem(path, "a non-empty line of text", value)
            return default
        return value.strip()

    def texts(self, value: Any, path: str, minimum: int) -> tuple[str, ...]:
        expected = f"a list of at least {minimum} non-empty text(s), e.g. [\"Overage\"]"
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) < minimum or not all(
                isinstance(v, str) and v.strip() and v.isprintable() for v in value):
            self.problem(path, expected, value)
            return ()
        return tuple(v.strip() for v in value)

    def zone(self, value: Any, path: str, default: ZoneInfo | None) -> ZoneInfo:
        """`default` None means the system's zone, looked up only when needed (tzlocal is slow)."""
        if value is None and default is not None:
            return default
        if value is None:
            try:
                return system_timezone()
            except UnknownSystemZone as exc:
                self.problems.append(f"{self.source}: {path}: expected an IANA time zone name such as "
                                     f'"America/Los_Angeles", got nothing, and {exc}: set it in the config')
                return ZoneInfo("UTC")  # only to go on collecting problems: this config is rejected
        if isinstance(value, str) and value:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
                return ZoneInfo(value)
        self.problem(path, 'an IANA time zone name such as "America/Los_Angeles"', value)
        return ZoneInfo("UTC")  # only to go on collecting problems: this config is rejected

    def instant(self, value: Any, path: str, zone: ZoneInfo) -> datetime | None:
        if value is None:
            return None
        expected = "a date-time such as 2026-02-06T09:30:00"
        if isinstance(value, str):
            try:
                value = parse_iso(value)
            except ValueError:
                self.problem(path, expected, value)
                return None
        if not isinstance(value, (datetime, date)):
            self.problem(path, expected, value)
            return None
        try:
            instant, warning = to_instant(value, zone)
        except OutOfRange:
            self.problem(path, RANGE_TEXT, value)
            return None
        if warning:
            self.warn(path, warning)
        return instant

    def durations(self, value: Any, path: str, default: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if value is None:
            return default
        expected = 'a list of lead times such as ["7d", "1d", "2h"]'
        if not isinstance(value, list):
            self.problem(path, expected, value)
            return default
        leads = []
        for item in value:
            lead = parse_duration(item) if isinstance(item, str) else None
            if lead is None:
                self.problem(path, expected, item)
                return default
            if not timedelta(0) < lead <= timedelta(days=MAX_DAYS):
                self.problem(path, f"lead times longer than 0 and at most {MAX_DAYS} days", item)
                return default
            leads.append(lead)
        return tuple(sorted(set(leads), reverse=True))

    def clock(self, value: Any, path: str, default: time | None) -> time | None:
        if value is None:
            return default
        parsed = parse_clock(value) if isinstance(value, str) else None
        if parsed is None:
            self.problem(path, 'a time of day "HH:MM"', value)
            return default
        return parsed

    def page_url(self, value: Any, path: str) -> str:
        """A web page the desktop's opener is given (the page with the switches), or ""."""
        text = self.text(value, path, "")
        if text:
            from reminderd.urls import check_page_url

            why = check_page_url(text)
            if why:
                self.problem(path, why, text)
                return ""
        return text

    def command(self, value: Any, path: str) -> tuple[str, ...]:
        """A program to run with its arguments: a list, or one string split as a shell would."""
        if value is None:
            return ()
        if isinstance(value, str):
            import shlex

            try:
                value = shlex.split(value)
            except ValueError as exc:  # an unclosed quote, a trailing backslash
                self.problem(path, f'a command line, e.g. "pass show reminderd" ({str(exc).lower()})', value)
                return ()
        return self.texts(value, path, 1)

    def pair(self, row: Any, path: str, unit: str, optional: frozenset[str] = frozenset(),
             maximum: float = MAX_USD) -> tuple[float, float] | None:
        """A table's `input` and `output` numbers."""
        if not isinstance(row, dict):
            self.problem(path, f"a table {{ input = ..., output = ... }} in {unit}", row)
            return None
        self.unknown_keys(row, {"input", "output", *optional}, f"{path}.")
        missing = [side for side in ("input", "output") if side not in row]
        if missing:
            self.problems.append(f"{self.source}: {path}.{missing[0]}: expected a number in {unit}, got nothing")
            return None
        values = [self.number(row.get(side), f"{path}.{side}", maximum=maximum) for side in ("input", "output")]
        if values[0] is None or values[1] is None:
            return None
        return values[0], values[1]
