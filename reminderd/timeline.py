"""plan(config, state, now) -> Timeline: every date and every reminder, from one pure function.

`status`, `export-ics` and `run` all read the same Timeline, so they cannot disagree.

Reminder ids are stable and readable: "<credit>/<kind>/<label>", e.g.
"claude-extra-usage-2026-02/expiry/-7d". A series is "<credit>/<kind>": of a series, the daemon's
catch-up sends only the latest live reminder.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.facts import Facts
from reminderd.forecast import Forecast, Observation, forecast, readings
from reminderd.logged import LoggedSpend, LogRates, log_rates
from reminderd.matching import AccountView, account_view
from reminderd.quiet import place
from reminderd.quota import history
from reminderd.record import State
from reminderd.reminder import (
    ACCOUNT,
    ACTIVE,
    CLAIMABLE,
    COMPUTED,
    EXPIRED,
    LEFT,
    MISSED,
    NOT_ELIGIBLE_PHASE,
    NOT_OPEN_YET,
    CreditTimeline,
    Reminder,
    Timeline,
    credit_label,
    top_up_advice,
)
from reminderd.rules import NOT_ELIGIBLE, claim_in_window, eligibility, expiry
from reminderd.settings import Config, Credit
from reminderd.spend import HOUR, LoggedUsage, hourly, local_days
from reminderd.timeutil import add_calendar_days, at_wall_time, duration_label, format_local, format_span
from reminderd.wording import Texts

__all__ = ["ACTIVE", "CLAIMABLE", "EXPIRED", "MISSED", "NOT_ELIGIBLE_PHASE", "NOT_OPEN_YET", "NO_FACTS",
           "CreditTimeline", "Reminder", "Timeline", "credit_label", "plan", "top_up_advice"]
NO_FACTS = Facts()

def plan(config: Config, state: State, now: datetime, facts: Facts = NO_FACTS) -> Timeline:
    """Everything reminderd knows and will say, as of `now`.

    Acknowledgements and balance readings count from the moment they were made: one recorded
    for a later time is not known yet. `facts` holds what the sources learned (the usage ledger
    of each credit that reads Claude Code's logs, the plan's quota); plan() itself never reads a
    file.
    """
    known = state.as_of(now)
    view = account_view(config, facts.account, config.account.label if config.account else None, now)
    credits = tuple(_credit_timeline(config, credit, known, now, facts, view)
                    for credit in (*config.credits, *view.discovered))
    payer = _card_payer(credits)
    reminders = [
        reminder
        for ct in credits
        for reminder in _reminders(config, ct, labelled=len(credits) > 1, card_pays=ct.credit.id == payer)
        if not (reminder.stops_on & ct.acknowledged.keys())
    ]
    reminders.sort(key=lambda r: (r.due, r.id))
    return Timeline(now=now, zone=config.timezone, credits=credits, reminders=tuple(reminders),
                    quiet_hours=config.quiet_hours, plan_limit=history(facts.quota, now).limit_reached(now))


def _credit_timeline(config: Config, credit: Credit, state: State, now: datetime, facts: Facts,
                     view: AccountView) -> CreditTimeline:
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
        expires = view.expires.get(credit.id) or expiry(offer, claimed)
        observations = _with(state.observations.get(credit.id, ()), view.readings.get(credit.id))
        rates, logged = None, None
        ledger = facts.usage.get(credit.id)
        if credit.usage.claude_code_logs and ledger is not None and offer.currency == "USD":
            logged, rates, log_warnings = _logged(ledger, facts, credit, claimed, min(now, expires), zone, now)
            warnings += log_warnings
        fc = forecast(offer, credit.usage, claimed, expires, observations, now, rates, logged)
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
    covered = credit.id in view.covered
    switch = view.switch_on if covered else None
    acknowledged = _acknowledged(state.acknowledged.get(credit.id, {}), offer.actions[0], switch, view.read_at)
    return CreditTimeline(
        credit=credit, eligibility=verdict, phase=phase, claimed_at=claimed, claim_in_window=in_window,
        expires_at=expires, forecast=fc, acknowledged=MappingProxyType(acknowledged), warnings=tuple(warnings),
        expiry_source=ACCOUNT if credit.id in view.expires or offer.fixed_expiry else COMPUTED,
        usage_credits_on=switch, discovered=credit.offer.fixed_expiry is not None,
        gone_at=_gone_at(expires, observations, now) if expires is not None else None,
        switch_read_at=view.read_at if switch is not None else None,
    )


def _with(observations: tuple[Observation, ...], reading: Observation | None) -> tuple[Observation, ...]:
    """The recorded readings and the account's latest, which the daemon records too."""
    if reading is None or any(o.at == reading.at for o in observations):
        return observations
    return tuple(sorted((*observations, reading), key=lambda o: o.at))


def _acknowledged(manual: Mapping[str, datetime], switch_action: str, switch_on: bool | None,
                  read_at: datetime | None) -> dict[str, datetime]:
    """What the user did, with what the account saw of the switch: off acknowledges the reminders
    to turn it off; on takes back an acknowledgement older than the reading. The newer wins."""
    acks = dict(manual)
    if switch_on is None or read_at is None:
        return acks
    said = acks.get(switch_action)
    if switch_on is False and (said is None or said > read_at):
        acks[switch_action] = read_at
    elif switch_on is True and said is not None and said < read_at:
        del acks[switch_action]
    return acks


def _gone_at(expires: datetime, observations: tuple[Observation, ...], now: datetime) -> datetime | None:
    """When the credit was known to be gone: its expiry, or the first of the account's readings of
    nothing left that nothing since contradicts; None while it may still hold money."""
    gone = expires if expires <= now else None
    for reading in observations:
        if reading.at > now or reading.source != ACCOUNT:
            continue
        if reading.remaining_usd > 0.005:
            gone = expires if expires <= now else None
        elif gone is None or reading.at < gone:
            gone = reading.at
    return gone


def _logged(ledger: LoggedUsage, facts: Facts, credit: Credit, claimed: datetime, until: datetime,
            zone: ZoneInfo, now: datetime) -> tuple[LoggedSpend | None, LogRates | None, list[str]]:
    """What Claude Code's logs count against the credit, hour by hour up to `now` (all of an
    hour's cost, or only its credits-only part where the plan is known to have paid), and the
    pace they show over the whole local days from the claim to `until`."""
    hours, unknown = hourly(ledger, credit.offer.prices, credit.offer.web_search_usd, claimed - HOUR)
    quota = history(facts.quota, now)
    counted = tuple((h.start, h.credits_only_usd if quota.plan_paid(h.start, h.start + HOUR) else h.usd)
                    for h in hours if h.start < now)
    warnings = [f"Claude Code logs: model {model} has no row in the price table; counted at the price of "
                f"{priced_as}" for model, priced_as in sorted(unknown.items())]
    if ledger.files == 0:
        warnings.append("Claude Code logs: no transcript found on this machine (`reminderd usage` says where "
                        "it looks)")
    if ledger.scanned_at is None:
        return None, None, warnings
    first, last = claimed.astimezone(zone).date() + timedelta(days=1), until.astimezone(zone).date() - timedelta(days=1)
    by_day: dict[date, float] = {}
    for start, usd in counted:
        for day, share in local_days(start, zone):
            by_day[day] = by_day.get(day, 0.0) + usd * share
    daily = [by_day.get(first + timedelta(days=n), 0.0) for n in range((last - first).days + 1)]
    return LoggedSpend(counted, min(ledger.scanned_at, now)), log_rates(daily) if daily else None, warnings


def _reading_warnings(config: Config, credit: Credit, claimed: datetime, expires: datetime,
                      observations: tuple[Observation, ...], now: datetime, fc: Forecast | None) -> list[str]:
    zone, offer = config.timezone, credit.offer
    seen = readings(claimed, credit.offer.amount_usd, expires, observations, now)
    out = []
    if seen is not None and seen.ignored:
        out.append(f"{len(seen.ignored)} balance reading(s) ignored: before the claim or after the expiry "
                   f"(first: {format_local(seen.ignored[0].at, zone)})")
    for top_up in fc.top_ups if fc else ():
        out.append(f"the balance rose from USD {top_up.from_usd:.2f} to USD {top_up.to_usd:.2f} by "
                   f"{format_local(top_up.at, zone)}: money was added, " + top_up_advice(offer))
    for drop in fc.drops if fc else ():
        out.append(f"the balance fell by USD {drop.unexplained_usd:.2f} more than your logged use and profile "
                   f"allow, from USD {drop.from_usd:.2f} to USD {drop.to_usd:.2f} by {format_local(drop.at, zone)}: "
                   f"check {offer.where}")
    # No forecast matters once the credit has expired, and a credit found in the account has no
    # [credit.usage] to set nor a --credit for `balance`: its readings come from the account.
    if fc is None and now < expires and offer.fixed_expiry is None:
        profile = "daily_spend_usd or per_day in [credit.usage]"
        logs = ", no Claude Code use in its logs yet," if credit.usage.claude_code_logs else ""
        out.append(f"no usage profile{logs} and no balance reading that shows spend: no exhaustion forecast "
                   f"(set {profile}, or run `reminderd balance AMOUNT` again once you have used some)"
                   if seen is not None else
                   f"no usage profile{logs} and no balance observation: no exhaustion forecast "
                   f"(set {profile}, or run `reminderd balance AMOUNT`)")
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


def _card_payer(credits: tuple[CreditTimeline, ...]) -> str | None:
    """The credit whose "your card is paying" reminders are due, if any: the switch is the login's,
    so one credit says it, the one gone last, and only once every credit the login covers that may
    still hold money is gone (while one does, it pays, not the card)."""
    covered = [ct for ct in credits if ct.usage_credits_on is not None and ct.claimed_at is not None]
    if not covered or any(ct.gone_at is None for ct in covered):
        return None
    return max(covered, key=lambda ct: (ct.gone_at, ct.credit.id)).credit.id


def _reminders(config: Config, ct: CreditTimeline, labelled: bool, card_pays: bool) -> list[Reminder]:
    texts = Texts(ct, config.timezone, labelled=labelled, several=len(config.credits) > 1)
    if ct.claimed_at is None:
        if ct.eligibility.status == NOT_ELIGIBLE:
            return []
        drafts, floor = _claim_deadline(config, ct, texts), ct.claim_opens
    elif ct.expires_at is not None:
        drafts, floor = _after_claim(config, ct, texts), ct.claimed_at
        if card_pays:
            drafts += _card_paying(config, ct, texts, frozenset({ct.credit.offer.actions[0]}))
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


def _claim_deadline(config: Config, ct: CreditTimeline, texts: Texts) -> list[_Draft]:
    deadline = ct.claim_deadline
    return [
        _Draft("claim-deadline", f"-{duration_label(lead)}", due, deadline, deadline, False,
               texts.claim_title(), texts.claim_body(), frozenset())
        for lead in config.reminders.claim_deadline
        if (due := deadline - lead) >= ct.claim_opens
    ]


def _after_claim(config: Config, ct: CreditTimeline, texts: Texts) -> list[_Draft]:
    assert ct.claimed_at is not None and ct.expires_at is not None
    settings, claimed, expires, fc = config.reminders, ct.claimed_at, ct.expires_at, ct.forecast
    offer = ct.credit.offer
    stop = frozenset({offer.actions[0]})
    out: list[_Draft] = []
    if offer.top_up_action is not None and ct.credit.auto_reload is not False:
        out.append(_Draft("auto-reload", "after-claim", claimed, expires, None, True,
                          texts.auto_reload_title(), texts.auto_reload_body(), stop | {offer.top_up_action}))
    out += _usage_checks(config, ct, texts)
    spent_at = fc.bound.spent_at if fc is not None and fc.bound is not None else None
    if fc is not None and fc.earliest_exhaustion is not None:
        earliest = fc.earliest_exhaustion
        low_point = fc.lowest_reaches(settings.low_balance_usd)
        if low_point is not None and low_point < earliest and settings.low_balance_usd > 0:
            out.append(_Draft("low-balance", f"usd{settings.low_balance_usd:g}", low_point, earliest, earliest,
                              False, texts.low_balance_title(settings.low_balance_usd), texts.low_balance_body(),
                              stop))
        if spent_at is None or earliest < spent_at:  # else the logs say it, below
            out.append(_Draft("exhaustion", "at", earliest, expires, earliest, True,
                              texts.exhaustion_title(), texts.exhaustion_body(), stop))
    if fc is not None and fc.bound is not None and spent_at is not None and spent_at < expires:
        label = "since-claim" if fc.bound.since == claimed else f"since-{fc.bound.since.astimezone(UTC):%Y%m%dT%H%MZ}"
        out.append(_Draft("logged-spend", label, spent_at, expires, spent_at, True,
                          texts.logged_spend_title(), texts.logged_spend_body(), stop))
    for drop in fc.drops if fc is not None else ():
        out.append(_Draft("balance-drop", f"{drop.at.astimezone(UTC):%Y%m%dT%H%MZ}", drop.at, expires, drop.at,
                          True, texts.balance_drop_title(drop.unexplained_usd), texts.balance_drop_body(drop),
                          frozenset()))
    if fc is not None and spent_at is None:  # once the logs may have spent it all, none goes unused
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


CARD_PAYING_FOR = timedelta(days=366)  # the daily "your card is paying" reminder gives up after this


def _card_paying(config: Config, ct: CreditTimeline, texts: Texts, stop: frozenset[str]) -> list[_Draft]:
    """Once the credit is gone and the account says usage credits are still on: at once, then daily
    (at the time it went) until they are off or acknowledged."""
    gone, read = ct.gone_at, ct.switch_read_at
    if not ct.usage_credits_on or gone is None or read is None or read < gone:
        return []
    zone, first = config.timezone, max(gone, read)
    first_day = first.astimezone(zone).date()  # a reminder a day, labelled by its day: the daily ones start the next
    dues = [first] + [at for k in range(1, CARD_PAYING_FOR.days + 2)
                      if first_day < (at := add_calendar_days(gone, k, zone)).astimezone(zone).date()
                      and at <= first + CARD_PAYING_FOR]
    return [_Draft("card-paying", f"{due.astimezone(zone):%Y-%m-%d}", due, due + timedelta(days=1), gone, True,
                   texts.card_paying_title(), texts.card_paying_body(), stop)
            for due in dues if due <= read + timedelta(days=31)]


# The unused-credit reminder names a whole number of dollars: below this it would say "USD 0".
UNUSED_SHOWN_FROM = 0.5


def _usage_checks(config: Config, ct: CreditTimeline, texts: Texts) -> list[_Draft]:
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


