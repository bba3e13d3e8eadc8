"""plan(config, state, now) -> Timeline: every date and every reminder, from one pure function.

`status`, `export-ics` and `run` all read the same Timeline, so they cannot disagree.

Reminder ids are stable and readable: "<credit>/<kind>/<label>", e.g.
"claude-extra-usage-2026-02/expiry/-7d". A series is "<credit>/<kind>": of a series, the daemon's
catch-up sends only the latest live reminder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.forecast import Forecast, LogRates, Observation, forecast, log_rates, readings
from reminderd.offers import Offer
from reminderd.quiet import place
from reminderd.rules import ELIGIBLE, NOT_ELIGIBLE, Eligibility, claim_in_window, eligibility, expiry
from reminderd.settings import Config, Credit, QuietHours
from reminderd.spend import LoggedUsage, daily_usd
from reminderd.state import State
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
    lead_title: str = ""  # a lead reminder's title with "{left}" for the time left before its event

    @property
    def series(self) -> str:
        return f"{self.credit_id}/{self.kind}"

    def is_live(self, now: datetime) -> bool:
        """Due, and still worth sending."""
        return self.due <= now and (self.until is None or now < self.until)

    def title_at(self, now: datetime) -> str:
        """The title as shown at `now`: a lead reminder sent late (after a suspend, a catch-up)
        says the time really left, to the nearest minute."""
        if not self.lead_title or self.event_at is None or now <= self.due:
            return self.title
        left = self.event_at - now
        return self.lead_title.replace(LEFT, format_span(timedelta(minutes=round(left / timedelta(minutes=1))),
                                                         units=2))


LEFT = "{left}"


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
    quiet_hours: QuietHours | None = None

    def upcoming(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.due > self.now)

    def live(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.is_live(self.now))


def plan(config: Config, state: State, now: datetime, logs: Mapping[str, LoggedUsage] | None = None) -> Timeline:
    """Everything reminderd knows and will say, as of `now`.

    Acknowledgements and balance readings count from the moment they were made: one recorded
    for a later time is not known yet. `logs` holds the usage ledger of each credit that reads
    Claude Code's logs (ledger.current); plan() itself never reads a file.
    """
    known = state.as_of(now)
    credits = tuple(_credit_timeline(config, credit, known, now, (logs or {}).get(credit.id))
                    for credit in config.credits)
    reminders = [
        reminder
        for ct in credits
        for reminder in _reminders(config, ct)
        if not (reminder.stops_on & ct.acknowledged.keys())
    ]
    reminders.sort(key=lambda r: (r.due, r.id))
    return Timeline(now=now, zone=config.timezone, credits=credits, reminders=tuple(reminders),
                    quiet_hours=config.quiet_hours)


def _credit_timeline(config: Config, credit: Credit, state: State, now: datetime,
                     ledger: LoggedUsage | None) -> CreditTimeline:
    offer, zone = credit.offer, config.timezone
    verdict = eligibility(credit)
    warnings: list[str] = []
    claimed, expires, in_window, fc = credit.claimed_at, None, None, None
    if claimed is not None and claimed > now:
        claimed = None  # as of `now` the claim has not happened yet (status --at an earlier time)
    if claimed is not None:
        day_end = at_wall_time(claimed.astimezone(zone).date() + timedelta(days=1), time(0), zone) \
            if credit.claimed_on_date else None
        in_window = claim_in_window(offer, claimed, day_end)
        if not in_window:
            warnings.append(
                f"claimed_at {format_local(claimed, zone)} is outside the claim window "
                f"({format_local(offer.claim_opens, zone)} to {format_local(offer.claim_closes, zone)}); "
                "check the date: reminders use it as given")
        expires = expiry(offer, claimed)
        observations = state.observations.get(credit.id, ())
        rates = None
        if credit.usage.claude_code_logs and ledger is not None:
            rates, log_warnings = _log_rates(ledger, credit, claimed, min(now, expires), zone)
            warnings += log_warnings
        fc = forecast(offer, credit.usage, claimed, expires, observations, now, rates)
        warnings += _reading_warnings(config, credit, claimed, expires, observations, now, fc)
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


def _log_rates(ledger: LoggedUsage, credit: Credit, claimed: datetime, until: datetime,
               zone: ZoneInfo) -> tuple[LogRates | None, list[str]]:
    """The pace Claude Code's logs show over the whole days from the claim to `until`."""
    first, last = claimed.astimezone(zone).date() + timedelta(days=1), until.astimezone(zone).date() - timedelta(days=1)
    priced = daily_usd(ledger, zone, credit.offer.prices, credit.offer.web_search_usd, first, last)
    warnings = [f"Claude Code logs: model {model} has no row in the price table; counted at the price of "
                f"{priced_as}" for model, priced_as in sorted(priced.unknown.items())]
    if ledger.files == 0:
        warnings.append("Claude Code logs: no transcript found on this machine (`reminderd usage` says where "
                        "it looks)")
    return (log_rates([d.usd for d in priced.days]) if first <= last else None), warnings


def _reading_warnings(config: Config, credit: Credit, claimed: datetime, expires: datetime,
                      observations: tuple[Observation, ...], now: datetime, fc: Forecast | None) -> list[str]:
    zone, offer = config.timezone, credit.offer
    seen = readings(claimed, credit.offer.amount_usd, expires, observations, now)
    out = []
    if seen is not None and seen.ignored:
        out.append(f"{len(seen.ignored)} balance reading(s) ignored: before the claim or after the expiry "
                   f"(first: {format_local(seen.ignored[0].at, zone)})")
    for top_up in seen.top_ups if seen else ():
        out.append(f"the balance rose from USD {top_up.from_usd:.2f} to USD {top_up.to_usd:.2f} by "
                   f"{format_local(top_up.at, zone)}: money was added, " + top_up_advice(offer))
    if fc is None:
        out.append("no usage profile, and no balance reading that shows spend: no exhaustion forecast "
                   "(set [credit.usage], or run `reminderd balance AMOUNT` again once you have used some)"
                   if seen is not None else
                   "no usage profile and no balance observation: no exhaustion forecast "
                   "(set [credit.usage] or run `reminderd balance AMOUNT`)")
    return out


class _Draft(NamedTuple):
    """A reminder before quiet hours place it and its title says the time left."""

    kind: str
    label: str
    due: datetime
    until: datetime | None  # for a series whose `until` is its next reminder: NEXT_IN_SERIES
    event_at: datetime | None
    announces: bool  # it says the event happened ("expired", "may be spent"): never before it
    title: str  # with LEFT where the time left before the event goes
    body: str
    stops_on: frozenset[str]


NEXT_IN_SERIES = datetime.max.replace(tzinfo=UTC)  # a marker: until the series' next reminder


def top_up_advice(offer: Offer) -> str:
    """What to do about money added to the balance, in the offer's words."""
    if offer.top_up_switch:
        return (f"perhaps by {offer.top_up_switch} charging your card; turn {offer.top_up_switch} off in "
                f"{offer.where} unless you meant to")
    return f"perhaps charged to your card; check in {offer.where}"


def _reminders(config: Config, ct: CreditTimeline) -> list[Reminder]:
    texts = _Texts(ct, config.timezone, labelled=len(config.credits) > 1)
    if ct.claimed_at is None:
        if ct.eligibility.status == NOT_ELIGIBLE:
            return []
        drafts, floor = _claim_deadline(config, ct, texts), ct.claim_opens
    elif ct.expires_at is not None:
        drafts, floor = _after_claim(config, ct, texts), ct.claimed_at
    else:
        return []
    series: dict[str, list[_Draft]] = {}
    for draft in drafts:
        series.setdefault(draft.kind, []).append(draft)
    out = []
    for members in series.values():
        out += _place_series(ct, members, floor, config)
    return out


def _place_series(ct: CreditTimeline, drafts: list[_Draft], floor: datetime, config: Config) -> list[Reminder]:
    """Place a series' reminders out of quiet hours, keeping their order.

    A reminder that lands on or before the one placed before it supersedes it (it speaks
    closer to the event), so a series never has two reminders at one moment, nor one out of
    order. Its title is then written for the time left at its placed due time.
    """
    placed: list[tuple[_Draft, datetime]] = []
    for draft in sorted(drafts, key=lambda d: d.due):
        due = place(draft.due, draft.event_at, draft.announces, floor, config.quiet_hours, config.timezone)
        while placed and placed[-1][1] >= due:
            placed.pop()
        placed.append((draft, due))
    out = []
    for index, (draft, due) in enumerate(placed):
        until = draft.until
        if until == NEXT_IN_SERIES:
            until = placed[index + 1][1] if index + 1 < len(placed) else ct.expires_at
        if until is not None and due >= until:
            continue  # placed where it is no longer worth sending
        title = draft.title
        if LEFT in title and draft.event_at is not None:
            title = title.replace(LEFT, format_span(draft.event_at - due, units=2))
        out.append(Reminder(f"{ct.credit.id}/{draft.kind}/{draft.label}", ct.credit.id, draft.kind, due, until,
                            draft.event_at, title, draft.body, draft.stops_on,
                            draft.title if LEFT in draft.title else ""))
    return out


def _claim_deadline(config: Config, ct: CreditTimeline, texts: _Texts) -> list[_Draft]:
    deadline = ct.claim_deadline
    return [
        _Draft("claim-deadline", f"-{duration_label(lead)}", due, deadline, deadline, False,
               texts.claim_title(), texts.claim_body(), frozenset())
        for lead in config.reminders.claim_deadline
        if (due := deadline - lead) >= ct.claim_opens
    ]


def _after_claim(config: Config, ct: CreditTimeline, texts: _Texts) -> list[_Draft]:
    assert ct.claimed_at is not None and ct.expires_at is not None
    settings, claimed, expires, fc = config.reminders, ct.claimed_at, ct.expires_at, ct.forecast
    offer = ct.credit.offer
    stop = frozenset({offer.actions[0]})
    out: list[_Draft] = []
    if offer.top_up_action is not None and ct.credit.auto_reload is not False:
        out.append(_Draft("auto-reload", "after-claim", claimed, expires, None, True,
                          texts.auto_reload_title(), texts.auto_reload_body(), stop | {offer.top_up_action}))
    out += _usage_checks(config, ct, texts)
    if fc is not None and fc.earliest_exhaustion is not None:
        earliest = fc.earliest_exhaustion
        low_point = fc.when_balance_reaches(settings.low_balance_usd, fc.rate.high)
        if low_point is not None and low_point < earliest and settings.low_balance_usd > 0:
            out.append(_Draft("low-balance", f"usd{settings.low_balance_usd:g}", low_point, earliest, earliest,
                              False, texts.low_balance_title(settings.low_balance_usd), texts.low_balance_body(),
                              stop))
        out.append(_Draft("exhaustion", "at", earliest, expires, earliest, True,
                          texts.exhaustion_title(), texts.exhaustion_body(), stop))
    if fc is not None:
        unused = fc.unused_at_expiry()
        if unused.expected >= max(settings.unused_min_usd, UNUSED_SHOWN_FROM):
            out += [
                _Draft("unused-credit", f"-{duration_label(lead)}", due, expires, expires, False,
                       texts.unused_title(unused.expected), texts.unused_body(unused.low, unused.high), stop)
                for lead in settings.unused_credit
                if (due := expires - lead) > claimed
            ]
    out += [
        _Draft("expiry", f"-{duration_label(lead)}", due, expires, expires, False,
               texts.expiry_title(), texts.expiry_body(), stop)
        for lead in settings.expiry
        if (due := expires - lead) > claimed
    ]
    out.append(_Draft("expiry", "at", expires, None, expires, True,
                      texts.expired_title(), texts.expired_body(), stop))
    return out


# The unused-credit reminder names a whole number of dollars: below this it would say "USD 0".
UNUSED_SHOWN_FROM = 0.5


def _usage_checks(config: Config, ct: CreditTimeline, texts: _Texts) -> list[_Draft]:
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
        _Draft("check-usage", f"{due.astimezone(zone):%Y-%m-%d}", due, NEXT_IN_SERIES, None, False,
               texts.check_title(), texts.check_body(due), frozenset({ct.credit.offer.actions[0]}))
        for due in dues
    ]


class _Texts:
    """What each reminder says, in the offer's own words (offers.Offer's wording fields). Every
    text says what to switch off and where. With several credits, each title names its credit
    (and account), so two "expires in 1 day" are never alike."""

    def __init__(self, ct: CreditTimeline, zone: ZoneInfo, labelled: bool) -> None:
        self.ct, self.zone = ct, zone
        self.offer = offer = ct.credit.offer
        self.amount = f"USD {offer.amount_usd:g}"
        self.where = offer.where
        self.label = f"{credit_label(ct.credit)}: " if labelled else ""
        self.done = f"reminderd done {offer.actions[0]}" + (f" --credit {ct.credit.id}" if labelled else "")

    def at(self, instant: datetime | None) -> str:
        return format_local(instant, self.zone) if instant else "after the credit expires"

    def claim_title(self) -> str:
        return f"{self.label}Claim your {self.amount} {self.offer.credit_name}: {LEFT} left"

    def claim_body(self) -> str:
        who = "You are eligible" if self.ct.eligibility.status == ELIGIBLE else "You may be eligible"
        top_up = self.offer.top_up_switch
        after = f" Right after claiming, check that {top_up} is off." if top_up else ""
        return (f"{who} for the {self.offer.name}. Claim it by {self.at(self.ct.claim_deadline)} in "
                f"{self.where}: {self.offer.claim_how}. No late claims.{after}")

    def auto_reload_title(self) -> str:
        return f"{self.label}Credit claimed: check that {self.offer.top_up_switch} is off"

    def auto_reload_body(self) -> str:
        top_up = self.offer.top_up_switch
        return (f"{top_up} tops the balance up from your card once the {self.amount} credit is "
                f"spent. Turn {top_up} off in {self.where}. The credit expires "
                f"{self.at(self.ct.expires_at)}.")

    def check_title(self) -> str:
        where = f" {self.offer.balance_where}" if self.offer.balance_where else ""
        return f"{self.label}Check your {self.offer.switch} balance{where}"

    def check_body(self, due: datetime) -> str:
        fc, offer = self.ct.forecast, self.offer
        expected = f" Expected balance about USD {fc.balance_at(due):.2f}." if fc else ""
        return (f"Look at your {offer.switch} balance in {self.where}.{expected} Record it with "
                "`reminderd balance AMOUNT` to sharpen the forecast. Once the credit is spent or "
                f"expires ({self.at(self.ct.expires_at)}), {offer.switch} bills your card at {offer.billed_at}: "
                f"turn {offer.all_switches} off there when the credit is gone.")

    def low_balance_title(self, threshold: float) -> str:
        return f"{self.label}{self.offer.credit_name} may be down to USD {threshold:g}"

    def low_balance_body(self) -> str:
        fc, offer = self.ct.forecast, self.offer
        assert fc is not None
        return (f"At your pace the {self.amount} credit may be spent as early as "
                f"{self.at(fc.earliest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}). "
                f"After that {offer.switch} bills your card at {offer.billed_at}: turn {offer.all_switches} "
                f"off in {self.where} before then.")

    def exhaustion_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} may be spent: turn {self.offer.switch} off now"

    def exhaustion_body(self) -> str:
        fc, offer = self.ct.forecast, self.offer
        assert fc is not None
        return (f"Forecast: the {self.amount} credit runs out between {self.at(fc.earliest_exhaustion)} "
                f"and {self.at(fc.latest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}), "
                f"at USD {fc.rate.low:.2f}-{fc.rate.high:.2f} a day. From then on {offer.switch} bills "
                f"your card at {offer.billed_at}. Turn {offer.all_switches} off in {self.where}.")

    def unused_title(self, expected_usd: float) -> str:
        return f"{self.label}About USD {math.floor(expected_usd + 0.5)} of your credit will go unused"

    def unused_body(self, low: float, high: float) -> str:
        return (f"At your pace USD {low:.0f}-{high:.0f} of the {self.amount} credit will be left when "
                f"it expires {self.at(self.ct.expires_at)}; unused credit is not refunded. Use it "
                f"before then. When you are done, turn {self.offer.switch} off in {self.where}.")

    def expiry_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} expires in {LEFT}: turn {self.offer.switch} off"

    def expiry_body(self) -> str:
        offer = self.offer
        return (f"Your {self.amount} credit expires {self.at(self.ct.expires_at)}. {offer.switch} stays on "
                f"after that and bills your card at {offer.billed_at}. Turn {offer.all_switches} off "
                f"in {self.where} before then.")

    def expired_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} expired: turn {self.offer.switch} off"

    def expired_body(self) -> str:
        offer = self.offer
        top_up = f" (and {offer.top_up_switch} tops it up)" if offer.top_up_switch else ""
        them = {1: "it", 2: "both"}.get(len(offer.switches), "them all")
        return (f"Your {self.amount} credit expired {self.at(self.ct.expires_at)}. If {offer.switch} is "
                f"still on, it bills your card at {offer.billed_at}{top_up}. Turn {them} off in {self.where}, "
                f"then run `{self.done}`.")


def credit_label(credit: Credit) -> str:
    """How a credit is named where several are shown together: its id, and its account if set."""
    return f"{credit.id} ({credit.account})" if credit.account else credit.id
