"""The user's TOML config, parsed into a frozen, typed Config.

parse_config() is pure: it collects every problem in the file before raising one ConfigError
that lists them all, each line naming the file, the key, what was expected and what was found.
Unknown keys are warnings, not errors.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reminderd.errors import ConfigError
from reminderd.offers import (
    ACTIVITY_NAMES,
    BUILTIN_OFFERS,
    DEFAULT_OFFER,
    PLAN_NAMES,
    WORDING_KEYS,
    ActivityCost,
    Offer,
    action_for,
)
from reminderd.prices import CLAUDE_PRICES, Price, PriceTable, normalise_key
from reminderd.settings import (
    AccountSettings,
    CalendarSettings,
    Config,
    Credit,
    Notifications,
    PushTarget,
    QuietHours,
    ReminderSettings,
    TokenCounts,
    UsageProfile,
)
from reminderd.timeutil import RANGE_TEXT, OutOfRange, parse_clock, parse_duration, parse_iso, to_instant
from reminderd.urls import describe, is_one_url

NOTIFIER_BACKENDS = ("auto", "dbus", "notify-send", "osascript", "plyer", "log", "command")
# Bounds that keep every date computation inside datetime's range (see timeutil.EARLIEST/LATEST).
MAX_DAYS = 3650  # validity, lead times
MAX_CHECK_EVERY_DAYS = 366
MAX_USD = 1_000_000.0
MAX_COUNT = 1e12  # activities or tokens a day
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
PRICE_ROW_KEYS = frozenset({"cache_read", "fast", "credits_only", "from"})  # besides input and output


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


def load_config(path: Path) -> Config:
    """Read and parse the config file at `path`."""
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no config file here; create one with `reminderd init` "
             "or copy config.example.toml, or pass --config PATH"]
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: expected a config file, got a directory"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config file: {exc.strerror}"]) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: expected a UTF-8 text file, got undecodable bytes"]) from None
    config = parse_config(text, str(path))
    return config._replace(warnings=(*config.warnings, *_permission_warnings(path, config)))


def _permission_warnings(path: Path, config: Config) -> list[str]:
    """The config names programs reminderd runs and files it writes, so others must not be able
    to change it; and others must not read the secrets some keys carry."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    out = []
    mine = (os.getuid(), 0) if hasattr(os, "getuid") else (st.st_uid,)
    if st.st_uid not in mine:
        out.append(f"{path}: owned by another user (uid {st.st_uid}), who can change what it tells reminderd "
                   "to run and write: use a config file of your own")
    elif st.st_mode & 0o022:
        out.append(f"{path}: writable by others (mode {st.st_mode & 0o777:04o}), who can change what it tells "
                   f"reminderd to run and write: chmod 600 {path}")
    if st.st_mode & 0o044:
        notifications = config.notifications
        for key, value, what, instead in (
                ("notifications.push", notifications.push, "push URLs carry secrets",
                 ", or let push_command print them"),
                ("notifications.command", notifications.command,
                 "a notification command may carry a secret (a token, an ntfy topic)", "")):
            if value:
                out.append(f"{path}: {key}: {what} and this file is readable by others: chmod 600 {path}{instead}")
    return out


def parse_config(text: str, source: str) -> Config:
    """Parse TOML text into a Config; raise ConfigError listing every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_describe_syntax_error(exc, text, source)]) from None
    except RecursionError:
        raise ConfigError([f"{source}: expected a TOML document, got values nested too deeply to read"]) from None
    return _Parser(source).config(raw)


def _describe_syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> str:
    message = str(exc)
    reason = re.sub(r"\s*\(at .*\)$", "", getattr(exc, "msg", None) or message)
    line_no: int | None = getattr(exc, "lineno", None)  # Python 3.14+; older ones only say it in words
    if line_no is None:
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line_no = int(where.group(1)) if where else None
    if line_no is None:
        return f"{source}: TOML syntax error: {reason} (at the end of the file)"
    line = text.splitlines()[line_no - 1] if line_no <= len(text.splitlines()) else ""
    key = re.match(r"^\s*([A-Za-z0-9_.\"-]+)\s*=\s*(.*)$", line)
    if key:
        got = key.group(2).split("#")[0].strip()
        return (f"{source}: {key.group(1)} (line {line_no}): expected a valid TOML value, "
                f"got {got} ({reason})")
    return f"{source}: line {line_no}: TOML syntax error: {reason}"


def _figure(value: float) -> str:
    """1000000.0 -> '1,000,000'; 0.01 -> '0.01'."""
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


_TYPE_NAMES = {bool: "true or false", str: "a string", dict: "a table", list: "a list"}


def _show(value: Any) -> str:
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


class _Parser:
    """Walks the raw TOML dict, collecting problems instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.invalid_offers: set[str] = set()  # [offers.NAME] tables described wrongly: reported already

    # -- reporting ------------------------------------------------------------------------

    def problem(self, key: str, expected: str, got: Any) -> None:
        self.problems.append(f"{self.source}: {key}: expected {expected}, got {_show(got)}")

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {message}")

    def unknown_keys(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        import difflib

        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                self.warn(f"{prefix}{key}", "unknown key, ignored" + (f" (did you mean {close[0]}?)" if close else ""))

    # -- typed getters: each returns the default after recording a problem -----------------

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
        expected = f"a number from {_figure(minimum)} to {_figure(maximum)}"
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
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
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

    # -- sections -----------------------------------------------------------------------------

    def config(self, raw: dict[str, Any]) -> Config:
        self.unknown_keys(raw, {"timezone", "reminders", "quiet_hours", "notifications",
                                "ics_path", "offers", "credit", "calendar", "prices", "account"}, "")
        zone = self.zone(raw.get("timezone"), "timezone", None)
        overrides = self.price_rows(raw.get("prices"), "prices")  # every offer's table, before its own rows
        offers = {key: offer._replace(prices=offer.prices.with_rows(overrides)) if overrides else offer
                  for key, offer in BUILTIN_OFFERS.items()}
        for key, value in self.table(raw, "offers", "offers").items():
            offer = self.custom_offer(key, value, zone, CLAUDE_PRICES.with_rows(overrides))
            if offer is not None:
                offers[key] = offer
            else:
                self.invalid_offers.add(key)
        credits = self.credits(raw.get("credit"), offers, zone)
        reminders = self.reminder_settings(self.table(raw, "reminders", "reminders"))
        quiet = self.quiet_hours(raw)
        notifications = self.notifications(self.table(raw, "notifications", "notifications"))
        ics = self.string(raw.get("ics_path"), "ics_path")
        calendar = self.calendar(self.table(raw, "calendar", "calendar"))
        account = self.account(self.table(raw, "account", "account"))
        if self.problems:
            raise ConfigError(self.problems)
        return Config(
            source=self.source,
            timezone=zone,
            credits=tuple(credits),
            reminders=reminders,
            quiet_hours=quiet,
            notifications=notifications,
            ics_path=Path(ics).expanduser() if ics else None,
            warnings=tuple(self.warnings),
            offers=MappingProxyType(offers),
            calendar=calendar,
            account=account,
        )

    def calendar(self, raw: dict[str, Any]) -> CalendarSettings | None:
        if not raw:
            return None
        self.unknown_keys(raw, {"caldav_url", "username", "password_command"}, "calendar.")
        given = raw.get("caldav_url")
        if isinstance(given, str) and given.strip() and not given.isprintable():
            from reminderd.urls import redact

            self.problem("calendar.caldav_url", "a non-empty line of text", redact(given))
            given = None
        url = self.text(given, "calendar.caldav_url", "")
        if not url and "caldav_url" not in raw:
            self.problems.append(f"{self.source}: calendar.caldav_url: expected the address of a CalDAV calendar, "
                                 "got nothing")
        from reminderd.urls import check_url, redact

        why = check_url(url) if url else None
        if why:
            self.problem("calendar.caldav_url", why, redact(url))
        argv = self.command(raw.get("password_command"), "calendar.password_command")
        username = self.text(raw.get("username"), "calendar.username", "") or None
        return CalendarSettings(url, username, argv) if url and not why else None

    def account(self, raw: dict[str, Any]) -> AccountSettings | None:
        """[account]: None unless `claude = true` (reading the account is opt-in)."""
        if not raw:
            return None
        self.unknown_keys(raw, set(AccountSettings._fields), "account.")
        default = AccountSettings()
        claude = raw.get("claude", False)
        if not isinstance(claude, bool):
            self.problem("account.claude", "true or false", claude)
        credentials = self.text(raw.get("credentials_file"), "account.credentials_file", "")
        base = self.text(raw.get("api_base"), "account.api_base", default.api_base).rstrip("/")
        from reminderd.urls import check_api_base, check_organization

        why = check_api_base(base)
        if why:
            self.problem("account.api_base", why, base)
        organization = self.text(raw.get("organization"), "account.organization", "") or None
        if organization is not None and not check_organization(organization):
            self.problem("account.organization", "an organization id (letters, digits and '-')", organization)
        poll = self.whole(raw.get("poll_minutes", default.poll_minutes), "account.poll_minutes", 15, 1440,
                          "minutes", default.poll_minutes)
        label = self.text(raw.get("label"), "account.label", "") or None
        if claude is not True:
            if "claude" not in raw:
                self.warn("account.claude", "not set: the account is not read (claude = true reads it)")
            return None
        return AccountSettings(claude=True, credentials_file=Path(credentials).expanduser() if credentials else None,
                               api_base=base, organization=organization, label=label, poll_minutes=poll)

    def custom_offer(self, key: str, raw: Any, config_zone: ZoneInfo, prices: PriceTable) -> Offer | None:
        path = f"offers.{key}"
        if not isinstance(raw, dict):
            self.problem(path, "a table describing an offer", raw)
            return None
        known = {"name", "amount_usd", "eligible_plans", "subscribed_by", "claim_opens",
                 "claim_closes", "validity_days", "timezone", "switch_location", "prices",
                 "prices_source", "activity_costs", "web_search_usd", "settings_url", *WORDING_KEYS}
        self.unknown_keys(raw, known, f"{path}.")
        before = len(self.problems)
        zone = self.zone(raw.get("timezone"), f"{path}.timezone", config_zone)
        for required in ("amount_usd", "claim_opens", "claim_closes", "validity_days", "switches",
                         "switch_location"):
            if required not in raw:
                self.problems.append(f"{self.source}: {path}.{required}: expected a value, got nothing")
        amount = self.number(raw.get("amount_usd"), f"{path}.amount_usd", minimum=0.01)
        opens = self.instant(raw.get("claim_opens"), f"{path}.claim_opens", zone)
        closes = self.instant(raw.get("claim_closes"), f"{path}.claim_closes", zone)
        subscribed_by = self.instant(raw.get("subscribed_by"), f"{path}.subscribed_by", zone)
        validity = raw.get("validity_days")
        if validity is not None:
            validity = self.whole(validity, f"{path}.validity_days", 1, MAX_DAYS, "days", 0) or None
        plans = raw.get("eligible_plans", [])
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            self.problem(f"{path}.eligible_plans", "a list of plan names", plans)
            plans = []
        if opens and closes and closes <= opens:
            self.problem(f"{path}.claim_closes", "an instant after claim_opens", raw.get("claim_closes"))
        prices = prices.with_rows(self.price_rows(raw.get("prices"), f"{path}.prices"))
        activities = self.activity_costs(raw.get("activity_costs"), f"{path}.activity_costs", {})
        wording = self.wording(raw, path)
        location = self.text(raw.get("switch_location"), f"{path}.switch_location", "")
        settings_url = self.page_url(raw.get("settings_url"), f"{path}.settings_url")
        name = self.text(raw.get("name"), f"{path}.name", key)
        prices_source = self.text(raw.get("prices_source"), f"{path}.prices_source", "")
        if len(self.problems) > before or amount is None or opens is None or closes is None or validity is None:
            return None
        assert isinstance(validity, int)
        return Offer(
            key=key,
            name=name,
            amount_usd=amount,
            eligible_plans=tuple(plans),
            subscribed_by=subscribed_by or closes,
            claim_opens=opens,
            claim_closes=closes,
            validity_days=validity,
            zone=zone,
            switch_location=location,
            web_search_usd=self.number(raw.get("web_search_usd"), f"{path}.web_search_usd", default=0.01) or 0.0,
            prices=prices,
            prices_source=prices_source,
            activities=MappingProxyType(activities),
            settings_url=settings_url,
            **wording,
        )

    def text(self, value: Any, path: str, default: str) -> str:
        """A non-empty line of text (a name, a phrase of the offer's wording)."""
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            self.problem(path, "a non-empty line of text", value)
            return default
        return value.strip()

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

    def texts(self, value: Any, path: str, minimum: int) -> tuple[str, ...]:
        expected = f"a list of at least {minimum} non-empty text(s), e.g. [\"Overage\"]"
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) < minimum or not all(
                isinstance(v, str) and v.strip() and v.isprintable() for v in value):
            self.problem(path, expected, value)
            return ()
        return tuple(v.strip() for v in value)

    def wording(self, raw: dict[str, Any], path: str) -> dict[str, Any]:
        """The words a custom offer's reminders use (see offers.Offer)."""
        switches = self.texts(raw.get("switches"), f"{path}.switches", 1)
        if len({action_for(s) for s in switches}) < len(switches):
            self.problem(f"{path}.switches", "names that differ in more than case and punctuation", raw["switches"])
        top_up = raw.get("top_up_switch")
        if top_up is not None and top_up not in switches:
            self.problem(f"{path}.top_up_switch", "one of the names in switches", top_up)
            top_up = None
        first = switches[0] if switches else "it"
        return {
            "product": self.text(raw.get("product"), f"{path}.product", ""),
            "credit_name": self.text(raw.get("credit_name"), f"{path}.credit_name", f"{first} credit"),
            "switches": switches or ("it",),
            "top_up_switch": top_up,
            "caveats": self.texts(raw.get("caveats"), f"{path}.caveats", 0),
            "how_to_claim": self.text(raw.get("how_to_claim"), f"{path}.how_to_claim", ""),
            "billed_at": self.text(raw.get("billed_at"), f"{path}.billed_at", "its usual rates"),
            "balance_where": self.text(raw.get("balance_where"), f"{path}.balance_where", ""),
            "source": self.text(raw.get("source"), f"{path}.source", ""),
        }

    def price_rows(self, raw: Any, path: str) -> dict[str, Price]:
        """[prices."MODEL"] rows: `input`, `output` (USD per million tokens), optional `cache_read`,
        `fast` (fast mode's multiplier), `credits_only`, `from` (the first day it holds)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(path, "a table of models", raw)
            return {}
        rows = {}
        for model, row in raw.items():
            where = f"{path}.{model}"
            before = len(self.problems)
            pair = self.pair(row, where, "USD per million tokens", PRICE_ROW_KEYS)
            if not isinstance(row, dict):
                continue
            credits_only = row.get("credits_only", False)
            if not isinstance(credits_only, bool):
                self.problem(f"{where}.credits_only", "true or false", credits_only)
            since = row.get("from")
            if since is not None and (isinstance(since, datetime) or not isinstance(since, date)):
                self.problem(f"{where}.from", "a date such as 2026-06-01 (the first day the price holds)", since)
            read = self.number(row.get("cache_read"), f"{where}.cache_read")
            fast = self.number(row.get("fast"), f"{where}.fast", minimum=1.0, maximum=100.0)
            if pair is not None and len(self.problems) == before:
                rows[model] = Price(*pair, cache_read=read, fast=fast, credits_only=credits_only is True,
                                    source=f"your config ({where})", since=since)
        return rows

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

    def activity_costs(self, raw: Any, path: str, base: Mapping[str, ActivityCost]) -> dict[str, ActivityCost]:
        costs = dict(base)
        if raw is None:
            return costs
        if not isinstance(raw, dict):
            self.problem(path, "a table of activities", raw)
            return costs
        for name, pair in raw.items():
            expected = "[low, high] in USD per unit, low <= high"
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_USD
                               for v in pair)
                    or pair[0] > pair[1]):
                self.problem(f"{path}.{name}", expected, pair)
                continue
            costs[name] = ActivityCost(float(pair[0]), float(pair[1]))
        return costs

    def credits(self, raw: Any, offers: Mapping[str, Offer], zone: ZoneInfo) -> list[Credit]:
        if raw is None:
            self.problems.append(f"{self.source}: credit: expected at least one [[credit]] table "
                                 "(see config.example.toml), got none")
            return []
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            self.problem("credit", "[[credit]] tables", raw)
            return []
        credits: list[Credit] = []
        for index, item in enumerate(raw):
            credit = self.credit(item, index, offers, zone)
            if credit is None:
                continue
            if any(c.id == credit.id for c in credits):
                self.problem(f"credit[{index}].id", "an id not used by another credit", credit.id)
            credits.append(credit)
        return credits

    def credit(self, raw: dict[str, Any], index: int, offers: Mapping[str, Offer],
               zone: ZoneInfo) -> Credit | None:
        path = f"credit[{index}]"
        self.unknown_keys(raw, {"id", "offer", "plan", "subscribed_at", "claimed_at", "auto_reload",
                                "usage", "prices", "activity_costs", "account"}, f"{path}.")
        account = self.text(raw.get("account"), f"{path}.account", "") or None
        offer_key = self.name(raw.get("offer"), f"{path}.offer", DEFAULT_OFFER)
        offer = offers.get(offer_key)
        if offer is None and offer_key not in self.invalid_offers:
            names = ", ".join(sorted(offers))
            self.problem(f"{path}.offer", f"one of {names} (or an [offers.{offer_key}] table)", offer_key)
        credit_id = self.name(raw.get("id"), f"{path}.id", offer_key)
        if not _ID.match(credit_id):
            self.problem(f"{path}.id", "lower-case letters, digits, '.', '_' or '-'", credit_id)
        plan = self.string(raw.get("plan"), f"{path}.plan")
        if plan is not None and plan.strip().lower().replace(" ", "-") in PLAN_NAMES:  # "Pro", "Max 5x"
            plan = plan.strip().lower().replace(" ", "-")
        if plan is not None and plan not in PLAN_NAMES:
            self.problem(f"{path}.plan", "one of " + ", ".join(PLAN_NAMES), plan)
            plan = None
        subscribed = self.instant(raw.get("subscribed_at"), f"{path}.subscribed_at", zone)
        claimed_raw = raw.get("claimed_at")
        claimed = self.instant(claimed_raw, f"{path}.claimed_at", zone)
        claimed_on_date = isinstance(claimed_raw, date) and not isinstance(claimed_raw, datetime)
        auto_reload_raw = raw.get("auto_reload", "unknown")
        auto_reload: bool | None = None
        if isinstance(auto_reload_raw, bool):
            auto_reload = auto_reload_raw
        elif auto_reload_raw != "unknown":
            self.problem(f"{path}.auto_reload", 'true, false or "unknown"', auto_reload_raw)
        if offer is not None:
            offer = offer._replace(
                prices=offer.prices.with_rows(self.price_rows(raw.get("prices"), f"{path}.prices")),
                activities=MappingProxyType(self.activity_costs(
                    raw.get("activity_costs"), f"{path}.activity_costs", offer.activities)),
            )
        usage = self.usage(self.table(raw, "usage", f"{path}.usage"), f"{path}.usage", offer)
        if offer is None:
            return None
        return Credit(id=credit_id, offer=offer, plan=plan, subscribed_at=subscribed,
                      claimed_at=claimed, auto_reload=auto_reload, usage=usage, claimed_on_date=claimed_on_date,
                      account=account)

    def usage(self, raw: dict[str, Any], path: str, offer: Offer | None) -> UsageProfile:
        self.unknown_keys(raw, {"daily_spend_usd", "per_day", "tokens_per_day", "uncertainty", "claude_code_logs",
                                "claude_code_dirs"}, f"{path}.")
        logs = raw.get("claude_code_logs", False)
        if not isinstance(logs, bool):
            self.problem(f"{path}.claude_code_logs", "true or false", logs)
            logs = False
        dirs = self.texts(raw.get("claude_code_dirs"), f"{path}.claude_code_dirs", 1)
        daily = self.number(raw.get("daily_spend_usd"), f"{path}.daily_spend_usd")
        uncertainty = self.number(raw.get("uncertainty"), f"{path}.uncertainty", maximum=0.99, default=0.2)
        per_day: dict[str, float] = {}
        activities = offer.activities if offer else ACTIVITY_NAMES
        for name, count in self.table(raw, "per_day", f"{path}.per_day").items():
            if name not in activities:
                expected = ("one of " + ", ".join(activities)) if activities else \
                    "an activity the offer prices in activity_costs (this offer prices none)"
                self.problem(f"{path}.per_day.{name}", expected, name)
                continue
            value = self.number(count, f"{path}.per_day.{name}", maximum=MAX_COUNT)
            if value is not None:
                per_day[name] = value
        tokens: dict[str, TokenCounts] = {}
        for model, row in self.table(raw, "tokens_per_day", f"{path}.tokens_per_day").items():
            key = normalise_key(model)
            if offer is not None and key not in offer.prices.rows:
                self.problem(f"{path}.tokens_per_day.{model}",
                             "a model with a price: " + ", ".join(sorted(offer.prices.rows)), model)
                continue
            pair = self.pair(row, f"{path}.tokens_per_day.{model}", "tokens per day", maximum=MAX_COUNT)
            if pair is not None:
                tokens[key] = TokenCounts(*pair)
        return UsageProfile(daily_spend_usd=daily, per_day=MappingProxyType(per_day),
                            tokens_per_day=MappingProxyType(tokens), uncertainty=uncertainty or 0.0,
                            claude_code_logs=logs, claude_code_dirs=tuple(Path(d).expanduser() for d in dirs))

    def reminder_settings(self, raw: dict[str, Any]) -> ReminderSettings:
        default = ReminderSettings()
        known = {"claim_deadline", "expiry", "low_balance_usd", "unused_credit",
                 "unused_min_usd", "usage_check_every_days", "usage_check_time"}
        self.unknown_keys(raw, known, "reminders.")
        every = self.whole(raw.get("usage_check_every_days", default.usage_check_every_days),
                           "reminders.usage_check_every_days", 0, MAX_CHECK_EVERY_DAYS, "days (0 = off)",
                           default.usage_check_every_days)
        return ReminderSettings(
            claim_deadline=self.durations(raw.get("claim_deadline"), "reminders.claim_deadline",
                                          default.claim_deadline),
            expiry=self.durations(raw.get("expiry"), "reminders.expiry", default.expiry),
            low_balance_usd=self.number(raw.get("low_balance_usd"), "reminders.low_balance_usd",
                                        default=default.low_balance_usd) or 0.0,
            unused_credit=self.durations(raw.get("unused_credit"), "reminders.unused_credit",
                                         default.unused_credit),
            unused_min_usd=self.number(raw.get("unused_min_usd"), "reminders.unused_min_usd",
                                       default=default.unused_min_usd) or 0.0,
            usage_check_every_days=every,
            usage_check_time=self.clock(raw.get("usage_check_time"), "reminders.usage_check_time",
                                        default.usage_check_time) or default.usage_check_time,
        )

    def quiet_hours(self, raw: dict[str, Any]) -> QuietHours | None:
        table = self.table(raw, "quiet_hours", "quiet_hours")
        if not table:
            return None
        self.unknown_keys(table, {"start", "end"}, "quiet_hours.")
        start = self.clock(table.get("start"), "quiet_hours.start", None)
        end = self.clock(table.get("end"), "quiet_hours.end", None)
        for key, _value in (("start", start), ("end", end)):
            if key not in table:
                self.problems.append(f"{self.source}: quiet_hours.{key}: expected \"HH:MM\", got nothing")
        if start is None or end is None:
            return None
        if start == end:
            self.problem("quiet_hours.end", "a time different from quiet_hours.start", table.get("end"))
            return None
        return QuietHours(start, end)

    def notifications(self, raw: dict[str, Any]) -> Notifications:
        self.unknown_keys(raw, {"backend", "command", "push", "push_command"}, "notifications.")
        backend = self.name(raw.get("backend"), "notifications.backend", "auto")
        if backend not in NOTIFIER_BACKENDS:
            self.problem("notifications.backend", "one of " + ", ".join(NOTIFIER_BACKENDS), backend)
            backend = "auto"
        command = raw.get("command", [])
        if not isinstance(command, list) or not all(isinstance(c, str) and c for c in command):
            self.problem("notifications.command", 'a list of strings, e.g. ["ntfy", "publish", "me"]', command)
            command = []
        if backend == "command" and not command:
            self.problems.append(f"{self.source}: notifications.command: expected a program to run "
                                 "when backend = \"command\", got nothing")
        push = self.push_urls(raw.get("push"))
        argv = self.command(raw.get("push_command"), "notifications.push_command")
        return Notifications(backend=backend, command=tuple(command), push=push, push_command=argv)

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

    def push_urls(self, value: Any) -> tuple[PushTarget, ...]:
        """Push channels: Apprise URLs, or [[notifications.push]] tables with a `name` and a `url`.
        Only their shape is checked here (Apprise reads them when the channel is built); a bad one
        is an error naming its place, never its text (a URL carries a token or a password)."""
        if value is None:
            return ()
        expected = ('a list of Apprise URLs, e.g. ["ntfy://ntfy.sh/my-topic"], or [[notifications.push]] tables '
                    'with a name and a url')
        if not isinstance(value, list):
            self.problem("notifications.push", expected, "a value of another kind")
            return ()
        targets: list[PushTarget] = []
        for index, entry in enumerate(value):
            where = f"notifications.push[{index}]"
            if isinstance(entry, dict):
                self.unknown_keys(entry, {"name", "url"}, f"{where}.")
                name = self.name(entry.get("name"), f"{where}.name", "") or None
                if name is not None and not _ID.match(name):
                    self.problem(f"{where}.name", "lower-case letters, digits, '.', '_' or '-'", name)
                url = entry.get("url")
            else:
                name, url = None, entry
            if not isinstance(url, str) or not is_one_url(url.strip()):
                self.problems.append(f"{self.source}: {where}{'.url' if isinstance(entry, dict) else ''}: expected "
                                     "one Apprise URL such as ntfy://ntfy.sh/my-topic, got "
                                     f"{describe(url) if isinstance(url, str) else 'a value of another kind'}")
                continue
            if name is not None and any(t.name == name for t in targets):
                self.problem(f"{where}.name", "a name no other push channel has", name)
            targets.append(PushTarget(url.strip(), name))
        return tuple(targets)
