"""The user's TOML config, parsed into a frozen, typed Config.

parse_config() is pure: it collects every problem in the file before raising one ConfigError
that lists them all, each line naming the file, the key, what was expected and what was found.
Unknown keys are warnings, not errors. This module reads the credits and reminders; the typed
values come from config_values, offers and prices from config_offers, and the tables for what
reminderd reaches out to (notifications, calendar, account, quiet hours) from config_edges.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from reminderd.config_edges import EdgeReader
from reminderd.config_offers import OfferReader
from reminderd.config_values import ID_PATTERN, MAX_CHECK_EVERY_DAYS, MAX_COUNT
from reminderd.errors import ConfigError
from reminderd.offers import ACTIVITY_NAMES, BUILTIN_OFFERS, DEFAULT_OFFER, PLAN_NAMES, Offer
from reminderd.prices import CLAUDE_PRICES, normalise_key
from reminderd.settings import Config, Credit, ReminderSettings, TokenCounts, UsageProfile


def load_config(path: Path) -> Config:
    """Read and parse the config file at `path`."""
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no config file here; create one with `reminderd init` (a commented starter), "
             "or pass --config PATH"]
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


class _Parser(OfferReader, EdgeReader):
    """Walks the raw TOML dict, collecting problems instead of stopping at the first."""

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
        if not ID_PATTERN.match(credit_id):
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
