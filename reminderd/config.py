"""The user's TOML config, parsed into a frozen, typed Config.

parse_config() is pure: it collects every problem in the file before raising one ConfigError
that lists them all, each line naming the file, the key, what was expected and what was found.
Unknown keys are warnings, not errors.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reminderd.errors import ConfigError
from reminderd.offers import (
    ACTIVITY_NAMES,
    BUILTIN_OFFERS,
    DEFAULT_OFFER,
    EMPTY_MAPPING,
    PLAN_NAMES,
    ActivityCost,
    Offer,
    Price,
)
from reminderd.timeutil import parse_clock, parse_duration, to_instant

NOTIFIER_BACKENDS = ("auto", "dbus", "notify-send", "osascript", "plyer", "log", "command")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class QuietHours(NamedTuple):
    start: time
    end: time


class ReminderSettings(NamedTuple):
    claim_deadline: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1), timedelta(hours=2))
    expiry: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1), timedelta(hours=2))
    low_balance_usd: float = 10.0
    unused_credit: tuple[timedelta, ...] = (timedelta(days=14), timedelta(days=3))
    unused_min_usd: float = 1.0
    usage_check_every_days: int = 7
    usage_check_time: time = time(10, 0)


class UsageProfile(NamedTuple):
    """What the user spends beyond the plan's included usage, i.e. what the credit pays for."""

    daily_spend_usd: float | None = None
    per_day: Mapping[str, float] = EMPTY_MAPPING
    tokens_per_day: Mapping[str, Price] = EMPTY_MAPPING
    uncertainty: float = 0.2

    @property
    def is_empty(self) -> bool:
        return self.daily_spend_usd is None and not self.per_day and not self.tokens_per_day


class Credit(NamedTuple):
    id: str
    offer: Offer
    plan: str | None
    subscribed_at: datetime | None
    claimed_at: datetime | None
    auto_reload: bool | None
    usage: UsageProfile


class Notifications(NamedTuple):
    backend: str = "auto"
    command: tuple[str, ...] = ()


class Config(NamedTuple):
    source: str
    timezone: ZoneInfo
    credits: tuple[Credit, ...]
    reminders: ReminderSettings = ReminderSettings()
    quiet_hours: QuietHours | None = None
    notifications: Notifications = Notifications()
    ics_path: Path | None = None
    warnings: tuple[str, ...] = ()

    def credit(self, credit_id: str) -> Credit | None:
        return next((c for c in self.credits if c.id == credit_id), None)


def system_timezone() -> ZoneInfo:
    """The host's IANA zone ($TZ first), via tzlocal, which APScheduler installs anyway."""
    import tzlocal

    try:
        return ZoneInfo(tzlocal.get_localzone_name() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def load_config(path: Path) -> Config:
    """Read and parse the config file at `path`."""
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no config file here; create one with `reminderd init` "
             "or copy config.example.toml, or pass --config PATH"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config file: {exc.strerror}"]) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: expected a UTF-8 text file, got undecodable bytes"]) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str) -> Config:
    """Parse TOML text into a Config; raise ConfigError listing every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_describe_syntax_error(exc, text, source)]) from None
    return _Parser(source).config(raw)


def _describe_syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> str:
    message = str(exc)
    where = re.search(r"\(at line (\d+), column (\d+)\)", message)
    reason = re.sub(r"\s*\(at .*\)$", "", message)
    if not where:
        return f"{source}: TOML syntax error: {reason} (at the end of the file)"
    line_no = int(where.group(1))
    line = text.splitlines()[line_no - 1] if line_no <= len(text.splitlines()) else ""
    key = re.match(r"^\s*([A-Za-z0-9_.\"-]+)\s*=\s*(.*)$", line)
    if key:
        got = key.group(2).split("#")[0].strip()
        return (f"{source}: {key.group(1)} (line {line_no}): expected a valid TOML value, "
                f"got {got} ({reason})")
    return f"{source}: line {line_no}: TOML syntax error: {reason}"


_TYPE_NAMES = {bool: "true or false", str: "a string", dict: "a table", list: "a list"}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value) if not isinstance(value, (int, float)) else str(value)


class _Parser:
    """Walks the raw TOML dict, collecting problems instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    # -- reporting ------------------------------------------------------------------------

    def problem(self, key: str, expected: str, got: Any) -> None:
        self.problems.append(f"{self.source}: {key}: expected {expected}, got {_show(got)}")

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {message}")

    def unknown_keys(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        for key in table:
            if key not in known:
                self.warn(f"{prefix}{key}", "unknown key, ignored")

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

    def number(self, value: Any, path: str, *, minimum: float = 0.0,
               default: float | None = None) -> float | None:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, f"a number >= {minimum:g}", value)
            return default
        if value < minimum or value != value or value == float("inf"):
            self.problem(path, f"a number >= {minimum:g}", value)
            return default
        return float(value)

    def zone(self, value: Any, path: str, default: ZoneInfo | None) -> ZoneInfo:
        """`default` None means the system's zone, looked up only when needed (tzlocal is slow)."""
        if value is None:
            return default or system_timezone()
        if isinstance(value, str) and value:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(value)
        self.problem(path, 'an IANA time zone name such as "America/Los_Angeles"', value)
        return ZoneInfo("UTC")  # only to go on collecting problems: this config is rejected

    def instant(self, value: Any, path: str, zone: ZoneInfo) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.problem(path, "a date-time such as 2026-02-06T09:30:00", value)
                return None
        if not isinstance(value, (datetime, date)):
            self.problem(path, "a date-time such as 2026-02-06T09:30:00", value)
            return None
        instant, warning = to_instant(value, zone)
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
                                "ics_path", "offers", "credit"}, "")
        zone = self.zone(raw.get("timezone"), "timezone", None)
        offers = dict(BUILTIN_OFFERS)
        for key, value in self.table(raw, "offers", "offers").items():
            offer = self.custom_offer(key, value, zone)
            if offer is not None:
                offers[key] = offer
        credits = self.credits(raw.get("credit"), offers, zone)
        reminders = self.reminder_settings(self.table(raw, "reminders", "reminders"))
        quiet = self.quiet_hours(raw)
        notifications = self.notifications(self.table(raw, "notifications", "notifications"))
        ics = self.string(raw.get("ics_path"), "ics_path")
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
        )

    def custom_offer(self, key: str, raw: Any, config_zone: ZoneInfo) -> Offer | None:
        path = f"offers.{key}"
        if not isinstance(raw, dict):
            self.problem(path, "a table describing an offer", raw)
            return None
        known = {"name", "amount_usd", "eligible_plans", "subscribed_by", "claim_opens",
                 "claim_closes", "validity_days", "timezone", "switch_location", "prices",
                 "prices_source", "activity_costs"}
        self.unknown_keys(raw, known, f"{path}.")
        before = len(self.problems)
        zone = self.zone(raw.get("timezone"), f"{path}.timezone", config_zone)
        for required in ("amount_usd", "claim_opens", "claim_closes", "validity_days"):
            if required not in raw:
                self.problems.append(f"{self.source}: {path}.{required}: expected a value, got nothing")
        amount = self.number(raw.get("amount_usd"), f"{path}.amount_usd", minimum=0.01)
        opens = self.instant(raw.get("claim_opens"), f"{path}.claim_opens", zone)
        closes = self.instant(raw.get("claim_closes"), f"{path}.claim_closes", zone)
        subscribed_by = self.instant(raw.get("subscribed_by"), f"{path}.subscribed_by", zone)
        validity = raw.get("validity_days")
        if validity is not None and (isinstance(validity, bool) or not isinstance(validity, int)
                                     or validity < 1):
            self.problem(f"{path}.validity_days", "a whole number of days >= 1", validity)
        plans = raw.get("eligible_plans", [])
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            self.problem(f"{path}.eligible_plans", "a list of plan names", plans)
            plans = []
        if opens and closes and closes <= opens:
            self.problem(f"{path}.claim_closes", "an instant after claim_opens", raw.get("claim_closes"))
        prices = self.prices(raw.get("prices"), f"{path}.prices", {})
        activities = self.activity_costs(raw.get("activity_costs"), f"{path}.activity_costs", {})
        if len(self.problems) > before or amount is None or opens is None or closes is None:
            return None
        assert isinstance(validity, int)
        return Offer(
            key=key,
            name=self.string(raw.get("name"), f"{path}.name", key) or key,
            amount_usd=amount,
            eligible_plans=tuple(plans),
            subscribed_by=subscribed_by or closes,
            claim_opens=opens,
            claim_closes=closes,
            validity_days=validity,
            zone=zone,
            switch_location=self.string(raw.get("switch_location"), f"{path}.switch_location",
                                        "the provider's web console") or "",
            prices=MappingProxyType(prices),
            prices_source=self.string(raw.get("prices_source"), f"{path}.prices_source", "") or "",
            activities=MappingProxyType(activities),
        )

    def prices(self, raw: Any, path: str, base: Mapping[str, Price]) -> dict[str, Price]:
        prices = dict(base)
        if raw is None:
            return prices
        if not isinstance(raw, dict):
            self.problem(path, "a table of models", raw)
            return prices
        for model, row in raw.items():
            pair = self.price_pair(row, f"{path}.{model}", "USD per million tokens")
            if pair is not None:
                prices[model] = pair
        return prices

    def price_pair(self, row: Any, path: str, unit: str) -> Price | None:
        if not isinstance(row, dict):
            self.problem(path, f"a table {{ input = ..., output = ... }} in {unit}", row)
            return None
        self.unknown_keys(row, {"input", "output"}, f"{path}.")
        missing = [side for side in ("input", "output") if side not in row]
        if missing:
            self.problems.append(f"{self.source}: {path}.{missing[0]}: expected a number in {unit}, got nothing")
            return None
        values = [self.number(row.get(side), f"{path}.{side}") for side in ("input", "output")]
        if values[0] is None or values[1] is None:
            return None
        return Price(values[0], values[1])

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
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in pair)
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
                                "usage", "prices", "activity_costs"}, f"{path}.")
        offer_key = self.string(raw.get("offer"), f"{path}.offer", DEFAULT_OFFER) or DEFAULT_OFFER
        offer = offers.get(offer_key)
        if offer is None:
            names = ", ".join(sorted(offers))
            self.problem(f"{path}.offer", f"one of {names} (or an [offers.{offer_key}] table)", offer_key)
        credit_id = self.string(raw.get("id"), f"{path}.id", offer_key) or offer_key
        if not _ID.match(credit_id):
            self.problem(f"{path}.id", "lower-case letters, digits, '.', '_' or '-'", credit_id)
        plan = self.string(raw.get("plan"), f"{path}.plan")
        if plan is not None and plan not in PLAN_NAMES:
            self.problem(f"{path}.plan", "one of " + ", ".join(PLAN_NAMES), plan)
            plan = None
        subscribed = self.instant(raw.get("subscribed_at"), f"{path}.subscribed_at", zone)
        claimed = self.instant(raw.get("claimed_at"), f"{path}.claimed_at", zone)
        auto_reload_raw = raw.get("auto_reload", "unknown")
        auto_reload: bool | None = None
        if isinstance(auto_reload_raw, bool):
            auto_reload = auto_reload_raw
        elif auto_reload_raw != "unknown":
            self.problem(f"{path}.auto_reload", 'true, false or "unknown"', auto_reload_raw)
        if offer is not None:
            offer = offer._replace(
                prices=MappingProxyType(self.prices(raw.get("prices"), f"{path}.prices", offer.prices)),
                activities=MappingProxyType(self.activity_costs(
                    raw.get("activity_costs"), f"{path}.activity_costs", offer.activities)),
            )
        usage = self.usage(self.table(raw, "usage", f"{path}.usage"), f"{path}.usage", offer)
        if offer is None:
            return None
        return Credit(id=credit_id, offer=offer, plan=plan, subscribed_at=subscribed,
                      claimed_at=claimed, auto_reload=auto_reload, usage=usage)

    def usage(self, raw: dict[str, Any], path: str, offer: Offer | None) -> UsageProfile:
        self.unknown_keys(raw, {"daily_spend_usd", "per_day", "tokens_per_day", "uncertainty"}, f"{path}.")
        daily = self.number(raw.get("daily_spend_usd"), f"{path}.daily_spend_usd")
        uncertainty = self.number(raw.get("uncertainty"), f"{path}.uncertainty", default=0.2)
        if uncertainty is not None and uncertainty >= 1:
            self.problem(f"{path}.uncertainty", "a fraction between 0 and 1", uncertainty)
            uncertainty = 0.2
        per_day: dict[str, float] = {}
        activities = offer.activities if offer else ACTIVITY_NAMES
        for name, count in self.table(raw, "per_day", f"{path}.per_day").items():
            if name not in activities:
                self.problem(f"{path}.per_day.{name}", "one of " + ", ".join(activities), name)
                continue
            value = self.number(count, f"{path}.per_day.{name}")
            if value is not None:
                per_day[name] = value
        tokens: dict[str, Price] = {}
        for model, row in self.table(raw, "tokens_per_day", f"{path}.tokens_per_day").items():
            if offer is not None and model not in offer.prices:
                self.problem(f"{path}.tokens_per_day.{model}",
                             "a model with a price: " + ", ".join(offer.prices), model)
                continue
            pair = self.price_pair(row, f"{path}.tokens_per_day.{model}", "tokens per day")
            if pair is not None:
                tokens[model] = pair
        return UsageProfile(daily_spend_usd=daily, per_day=MappingProxyType(per_day),
                            tokens_per_day=MappingProxyType(tokens), uncertainty=uncertainty or 0.0)

    def reminder_settings(self, raw: dict[str, Any]) -> ReminderSettings:
        default = ReminderSettings()
        known = {"claim_deadline", "expiry", "low_balance_usd", "unused_credit",
                 "unused_min_usd", "usage_check_every_days", "usage_check_time"}
        self.unknown_keys(raw, known, "reminders.")
        every = raw.get("usage_check_every_days", default.usage_check_every_days)
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            self.problem("reminders.usage_check_every_days", "a whole number of days >= 0 (0 = off)", every)
            every = default.usage_check_every_days
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
        self.unknown_keys(raw, {"backend", "command"}, "notifications.")
        backend = self.string(raw.get("backend"), "notifications.backend", "auto") or "auto"
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
        return Notifications(backend=backend, command=tuple(command))
