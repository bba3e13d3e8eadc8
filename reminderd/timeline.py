"""plan(config, state, now) -> Timeline: every date and every reminder, from one pure function.

`status`, `export-ics` and `run` all read the same Timeline, so they cannot disagree.

Reminder ids are stable and readable: "<credit>/<kind>/<label>", e.g.
"claude-extra-usage-2026-02/expiry/-7d". A series is "<credit>/<kind>": of a series, the daemon's
catch-up sends only the latest live reminder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.config import Config, Credit
from reminderd.forecast import Forecast, forecast
from reminderd.quiet import move_out_of_quiet
from reminderd.rules import ELIGIBLE, NOT_ELIGIBLE, Eligibility, claim_in_window, eligibility, expiry
from reminderd.state import AUTO_RELOAD_OFF, EXTRA_USAGE_OFF, State
from reminderd.timeutil import at_wall_time, duration_label, format_local, format_span

# Phases of a credit, as `status` and --json name them.
NOT_OPEN_YET = "claim-not-open-yet"
CLAIMABLE = "claimable"
MISSED = "claim-missed"
NOT_ELIGIBLE_PHASE = "not-eligible"
ACTIVE = "active"
EXPIRED = "expired"



class Reminder(NamedTuple):
    id: str
    credit_id: str
    kind: str
    due: datetime
    until: datetime | None  # None: worth sending until the user acknowledges
    event_at: datetime | None  # the moment it warns about, if any
    title: str
    body: str
    stops_on: frozenset[str]

    @property
    def series(self) -> str:
        return f"{self.credit_id}/{self.kind}"

    def is_live(self, now: datetime) -> bool:
        """Due, and still worth sending."""
        return self.due <= now and (self.until is None or now < self.until)


class CreditTimeline(NamedTuple):
    credit: Credit
    eligibility: Eligibility
    phase: str
    claimed_at: datetime | None  # None also when the recorded claim is after `now`
    claim_in_window: bool | None
    expires_at: datetime | None
    forecast: Forecast | None
    acknowledged: Mapping[str, datetime]
    warnings: tuple[str, ...]

    @property
    def claim_opens(self) -> datetime:
        return self.credit.offer.claim_opens

    @property
    def claim_deadline(self) -> datetime:
        return self.credit.offer.claim_closes


class Timeline(NamedTuple):
    now: datetime
    zone: ZoneInfo
    credits: tuple[CreditTimeline, ...]
    reminders: tuple[Reminder, ...]  # ordered by due, then id

    def upcoming(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.due > self.now)

    def live(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.is_live(self.now))


def plan(config: Config, state: State, now: datetime) -> Timeline:
    """Everything reminderd knows and will say, as of `now`."""
    credits = tuple(_credit_timeline(config, credit, state, now) for credit in config.credits)
    reminders = [
        reminder
        for ct in credits
        for reminder in _reminders(config, ct)
        if not (reminder.stops_on & ct.acknowledged.keys())
    ]
    reminders.sort(key=lambda r: (r.due, r.id))
    return Timeline(now=now, zone=config.timezone, credits=credits, reminders=tuple(reminders))


def _credit_timeline(config: Config, credit: Credit, state: State, now: datetime) -> CreditTimeline:
    offer, zone = credit.offer, config.timezone
    verdict = eligibility(credit)
    warnings: list[str] = []
    claimed, expires, in_window, fc = credit.claimed_at, None, None, None
    if claimed is not None and claimed > now:
        claimed = None  # as of `now` the claim has not happened yet (status --at an earlier time)
    if claimed is not None:
        in_window = claim_in_window(offer, claimed)
        if not in_window:
            warnings.append(
                f"claimed_at {format_local(claimed, zone)} is outside the claim window "
                f"({format_local(offer.claim_opens, zone)} to {format_local(offer.claim_closes, zone)}); "
                "check the date: reminders use it as given")
        expires = expiry(offer, claimed)
        fc = forecast(offer, credit.usage, claimed, expires, state.observations.get(credit.id, ()), now)
        if fc is None:
            warnings.append("no usage profile and no balance observation: no exhaustion forecast "
                            "(set [credit.usage] or run `reminderd balance AMOUNT`)")
    if claimed is not None and expires is not None:
        phase = ACTIVE if now < expires else EXPIRED
    elif verdict.status == NOT_ELIGIBLE:
        phase = NOT_ELIGIBLE_PHASE
    elif now < offer.claim_opens:
        phase = NOT_OPEN_YET
    elif now <= offer.claim_closes:
        phase = CLAIMABLE
    else:
        phase = MISSED
    return CreditTimeline(
        credit=credit, eligibility=verdict, phase=phase, claimed_at=claimed, claim_in_window=in_window,
        expires_at=expires, forecast=fc,
        acknowledged=MappingProxyType(dict(state.acknowledged.get(credit.id, {}))),
        warnings=tuple(warnings),
    )


def _reminders(config: Config, ct: CreditTimeline) -> Iterable[Reminder]:
    texts = _Texts(ct, config.timezone)
    raw: list[Reminder] = []
    if ct.claimed_at is None:
        if ct.eligibility.status != NOT_ELIGIBLE:
            raw += _claim_deadline(config, ct, texts)
    elif ct.expires_at is not None:
        raw += _after_claim(config, ct, texts)
    for reminder in raw:
        due = move_out_of_quiet(reminder.due, reminder.event_at, config.quiet_hours, config.timezone)
        yield reminder._replace(due=due)


def _make(ct: CreditTimeline, kind: str, label: str, due: datetime, until: datetime | None,
          event_at: datetime | None, title: str, body: str, stops_on: Iterable[str]) -> Reminder:
    return Reminder(f"{ct.credit.id}/{kind}/{label}", ct.credit.id, kind, due, until, event_at,
                    title, body, frozenset(stops_on))


def _claim_deadline(config: Config, ct: CreditTimeline, texts: _Texts) -> list[Reminder]:
    deadline = ct.claim_deadline
    return [
        _make(ct, "claim-deadline", f"-{duration_label(lead)}", due, deadline, deadline,
              texts.claim_title(lead), texts.claim_body(), ())
        for lead in config.reminders.claim_deadline
        if (due := deadline - lead) >= ct.claim_opens
    ]


def _after_claim(config: Config, ct: CreditTimeline, texts: _Texts) -> list[Reminder]:
    assert ct.claimed_at is not None and ct.expires_at is not None
    settings, claimed, expires, fc = config.reminders, ct.claimed_at, ct.expires_at, ct.forecast
    stop = (EXTRA_USAGE_OFF,)
    out: list[Reminder] = []
    if ct.credit.auto_reload is not False:
        out.append(_make(ct, "auto-reload", "after-claim", claimed, expires, None,
                         texts.auto_reload_title(), texts.auto_reload_body(),
                         (AUTO_RELOAD_OFF, EXTRA_USAGE_OFF)))
    out += _usage_checks(config, ct, texts)
    if fc is not None and fc.earliest_exhaustion is not None:
        earliest = fc.earliest_exhaustion
        low_point = fc.when_balance_reaches(settings.low_balance_usd, fc.rate.high)
        if low_point is not None and low_point < earliest and settings.low_balance_usd > 0:
            out.append(_make(ct, "low-balance", f"usd{settings.low_balance_usd:g}", low_point, earliest,
                             earliest, texts.low_balance_title(settings.low_balance_usd),
                             texts.low_balance_body(), stop))
        out.append(_make(ct, "exhaustion", "at", earliest, expires, earliest,
                         texts.exhaustion_title(), texts.exhaustion_body(), stop))
    if fc is not None:
        unused = fc.unused_at_expiry()
        if unused.expected >= settings.unused_min_usd:
            out += [
                _make(ct, "unused-credit", f"-{duration_label(lead)}", due, expires, expires,
                      texts.unused_title(unused.expected), texts.unused_body(unused.low, unused.high), stop)
                for lead in settings.unused_credit
                if (due := expires - lead) > claimed
            ]
    out += [
        _make(ct, "expiry", f"-{duration_label(lead)}", due, expires, expires,
              texts.expiry_title(lead), texts.expiry_body(), stop)
        for lead in settings.expiry
        if (due := expires - lead) > claimed
    ]
    out.append(_make(ct, "expiry", "at", expires, None, expires,
                     texts.expired_title(), texts.expired_body(), stop))
    return out


def _usage_checks(config: Config, ct: CreditTimeline, texts: _Texts) -> list[Reminder]:
    """A periodic "check your usage on the web" at a fixed local time while the credit is valid."""
    every = config.reminders.usage_check_every_days
    assert ct.claimed_at is not None and ct.expires_at is not None
    if every <= 0:
        return []
    zone = config.timezone
    first_day = ct.claimed_at.astimezone(zone).date()
    dues: list[datetime] = []
    n = 1
    while (due := at_wall_time(first_day + timedelta(days=every * n), config.reminders.usage_check_time,
                               zone)) < ct.expires_at:
        dues.append(due)
        n += 1
    return [
        _make(ct, "check-usage", f"{due.astimezone(zone):%Y-%m-%d}", due,
              dues[i + 1] if i + 1 < len(dues) else ct.expires_at, None,
              texts.check_title(), texts.check_body(due), (EXTRA_USAGE_OFF,))
        for i, due in enumerate(dues)
    ]


class _Texts:
    """What each reminder says. Every text says what to switch off and where."""

    def __init__(self, ct: CreditTimeline, zone: ZoneInfo) -> None:
        self.ct, self.zone = ct, zone
        self.offer = ct.credit.offer
        self.amount = f"USD {self.offer.amount_usd:g}"
        self.where = self.offer.switch_location

    def at(self, instant: datetime | None) -> str:
        return format_local(instant, self.zone) if instant else "after the credit expires"

    def claim_title(self, lead: timedelta) -> str:
        return f"Claim your {self.amount} Extra Usage credit: {format_span(lead)} left"

    def claim_body(self) -> str:
        who = "You are eligible" if self.ct.eligibility.status == ELIGIBLE else "You may be eligible"
        return (f"{who} for the {self.offer.name}. Claim it by {self.at(self.ct.claim_deadline)} in "
                f"{self.where}: turn Extra Usage on (or press Claim on the banner). No late claims. "
                "Right after claiming, check that Auto-Reload is off.")

    def auto_reload_title(self) -> str:
        return "Credit claimed: check that Auto-Reload is off"

    def auto_reload_body(self) -> str:
        return (f"Auto-Reload tops the balance up from your card once the {self.amount} credit is "
                f"spent. Turn Auto-Reload off in {self.where}. The credit expires "
                f"{self.at(self.ct.expires_at)}.")

    def check_title(self) -> str:
        return "Check your Extra Usage balance on the web"

    def check_body(self, due: datetime) -> str:
        fc = self.ct.forecast
        expected = f" Expected balance about USD {fc.balance_at(due):.2f}." if fc else ""
        return (f"Look at your Extra Usage balance in {self.where}.{expected} Record it with "
                "`reminderd balance AMOUNT` to sharpen the forecast. Once the credit is spent or "
                f"expires ({self.at(self.ct.expires_at)}), Extra Usage bills your card at API rates: "
                "turn Extra Usage and Auto-Reload off there when the credit is gone.")

    def low_balance_title(self, threshold: float) -> str:
        return f"Extra Usage credit may be down to USD {threshold:g}"

    def low_balance_body(self) -> str:
        fc = self.ct.forecast
        assert fc is not None
        return (f"At your pace the {self.amount} credit may be spent as early as "
                f"{self.at(fc.earliest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}). "
                f"After that Extra Usage bills your card at API rates: turn Extra Usage and "
                f"Auto-Reload off in {self.where} before then.")

    def exhaustion_title(self) -> str:
        return "Extra Usage credit may be spent: turn Extra Usage off now"

    def exhaustion_body(self) -> str:
        fc = self.ct.forecast
        assert fc is not None
        return (f"Forecast: the {self.amount} credit runs out between {self.at(fc.earliest_exhaustion)} "
                f"and {self.at(fc.latest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}), "
                f"at USD {fc.rate.low:.2f}-{fc.rate.high:.2f} a day. From then on Extra Usage bills "
                f"your card at API rates. Turn Extra Usage and Auto-Reload off in {self.where}.")

    def unused_title(self, expected_usd: float) -> str:
        return f"About USD {expected_usd:.0f} of your credit will go unused"

    def unused_body(self, low: float, high: float) -> str:
        return (f"At your pace USD {low:.0f}-{high:.0f} of the {self.amount} credit will be left when "
                f"it expires {self.at(self.ct.expires_at)}; unused credit is not refunded. Use it "
                f"before then. When you are done, turn Extra Usage off in {self.where}.")

    def expiry_title(self, lead: timedelta) -> str:
        return f"Extra Usage credit expires in {format_span(lead)}: turn Extra Usage off"

    def expiry_body(self) -> str:
        return (f"Your {self.amount} credit expires {self.at(self.ct.expires_at)}. Extra Usage stays on "
                f"after that and bills your card at API rates. Turn Extra Usage and Auto-Reload off "
                f"in {self.where} before then.")

    def expired_title(self) -> str:
        return "Extra Usage credit expired: turn Extra Usage off"

    def expired_body(self) -> str:
        return (f"Your {self.amount} credit expired {self.at(self.ct.expires_at)}. If Extra Usage is "
                f"still on, it bills your card at API rates (and Auto-Reload tops it up). Turn both "
                f"off in {self.where}, then run `reminderd done extra-usage-off`.")
