"""`reminderd status` output: a text summary for people and a stable JSON document for scripts.

The JSON contract (schema_version 1) is documented in the README and golden-tested: keys are
sorted, times are ISO-8601 with the configured zone's offset, money is rounded to cents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reminderd.catchup import announced, held_by_quiet_hours, latest_live, to_deliver
from reminderd.forecast import SpendRate
from reminderd.instance import DaemonInfo
from reminderd.quiet import quiet_period
from reminderd.quota import QuotaSample, history
from reminderd.reminder import done_command, several_configured
from reminderd.snooze import snoozes
from reminderd.state import State
from reminderd.timeline import (
    ACTIVE,
    CLAIMABLE,
    EXPIRED,
    MISSED,
    NOT_ELIGIBLE_PHASE,
    NOT_OPEN_YET,
    CreditTimeline,
    Reminder,
    Timeline,
    credit_label,
)
from reminderd.timeutil import format_local, format_span
from reminderd.wording import sources_text

SCHEMA_VERSION = 1
GAUGE_WIDTH = 20

# Reminder states in the JSON and text output.
UPCOMING, LIVE, HELD, DELIVERED, STALE = "upcoming", "live", "held", "delivered", "stale"


def _snoozed(timeline: Timeline, state: State) -> list[tuple[Reminder, datetime]]:
    """The reminders a "Remind me later" put off, and when the daemon shows them again: at the
    snooze's end, or at the end of the quiet hours it falls in; not at all when a later reminder
    of the series is due by then or the reminder is over (catchup.snoozed forgets those)."""
    until, out = snoozes(state), []
    for r in timeline.reminders:
        back = until.get(r.id)
        if back is None or back <= timeline.now:
            continue
        period = quiet_period(back, timeline.quiet_hours, timeline.zone)
        if period is not None:
            back = period[1]
        superseded = any(o.series == r.series and r.due < o.due <= back for o in timeline.reminders)
        if not superseded and (r.until is None or back < r.until):
            out.append((r, back))
    return out


def reminder_states(timeline: Timeline, state: State) -> dict[str, str]:
    """Each reminder's state as the daemon sees it at the timeline's `now`: `live` ones are
    exactly what it sends now (catchup.to_deliver); `held` ones wait for quiet hours to end; a
    due one it will never send (past its `until`, or superseded by a later reminder of its
    series) is `stale`. Deliveries recorded after `now` are not known yet."""
    known = state.as_of(timeline.now)
    sendable = {r.id for r in to_deliver(timeline, known)}
    latest = {r.id for r in latest_live(timeline)}
    states = {}
    for r in timeline.reminders:
        if announced(known.delivered.get(r.id, ()), r):
            states[r.id] = DELIVERED
        elif r.due > timeline.now:
            states[r.id] = UPCOMING
        elif r.id in sendable:
            states[r.id] = LIVE
        else:
            # held only by quiet hours; a latest one not sent otherwise is superseded (a warning of
            # its series due within the minute goes out in its place)
            states[r.id] = HELD if r.id in latest and held_by_quiet_hours(timeline, r) else STALE
    return states


# -- JSON ---------------------------------------------------------------------------------------


def status_json(timeline: Timeline, state: State, daemon: DaemonInfo,
                channels_off: tuple[str, ...] = ()) -> dict[str, Any]:
    zone = timeline.zone
    snoozed = {r.id: until for r, until in _snoozed(timeline, state)}

    def iso(instant: datetime | None) -> str | None:
        return instant.astimezone(zone).isoformat(timespec="seconds") if instant else None

    def usd(value: float) -> float:
        return round(value, 2)

    def rng(rate: SpendRate) -> dict[str, float]:
        return {"low": usd(rate.low), "expected": usd(rate.expected), "high": usd(rate.high)}

    def credit(ct: CreditTimeline) -> dict[str, Any]:
        offer, fc = ct.credit.offer, ct.forecast
        return {
            "id": ct.credit.id,
            "account": ct.credit.account,
            "offer": {"key": offer.key, "name": offer.name, "amount_usd": usd(offer.amount_usd),
                      "validity_days": offer.validity_days, "switches": list(offer.switches),
                      "actions": list(offer.actions), "top_up_switch": offer.top_up_switch,
                      "where": offer.where},
            "plan": ct.credit.plan,
            "eligibility": {"status": ct.eligibility.status, "reason": ct.eligibility.reason},
            "phase": ct.phase,
            "claim": {"opens": iso(ct.claim_opens), "deadline": iso(ct.claim_deadline),
                      "claimed_at": iso(ct.claimed_at), "in_window": ct.claim_in_window},
            "expires_at": iso(ct.expires_at),
            "expiry_source": ct.expiry_source if ct.expires_at is not None else None,
            "source": "account" if ct.discovered else "config",
            "usage_credits_on": ct.usage_credits_on,
            "currency": offer.currency,
            "forecast": None if fc is None else {
                "basis": fc.basis,
                "sources": list(fc.sources),
                "spend_usd_per_day": rng(fc.rate),
                "balance_now_usd": usd(fc.balance_at(timeline.now)),
                "lowest_balance_now_usd": usd(max(0.0, min(fc.balance_at(timeline.now), fc.lowest_at(timeline.now)))),
                "logged": None if fc.bound is None else {
                    "since": iso(fc.bound.since), "balance_then_usd": usd(fc.bound.balance_usd),
                    "counted_usd": usd(fc.bound.logged_usd), "as_of": iso(fc.bound.as_of),
                    "spent_at": iso(fc.bound.spent_at)},
                "balance_drops": [{"at": iso(d.at), "since": iso(d.since), "from_usd": usd(d.from_usd),
                                   "to_usd": usd(d.to_usd), "explained_usd": usd(d.explained_usd)}
                                  for d in fc.drops],
                "exhaustion": {"earliest": iso(fc.earliest_exhaustion),
                               "expected": iso(fc.expected_exhaustion),
                               "latest": iso(fc.latest_exhaustion)},
                "unused_at_expiry_usd": rng(fc.unused_at_expiry()),
            },
            "acknowledged": {action: iso(at) for action, at in ct.acknowledged.items()},
            "warnings": list(ct.warnings),
        }

    states = reminder_states(timeline, state)

    def reminder(r: Reminder) -> dict[str, Any]:
        return {"id": r.id, "credit": r.credit_id, "kind": r.kind, "due": iso(r.due),
                "until": iso(r.until), "event_at": iso(r.event_at), "title": r.title, "body": r.body,
                "state": states[r.id], "snoozed_until": iso(snoozed.get(r.id))}

    return {
        "schema_version": SCHEMA_VERSION,
        "now": iso(timeline.now),
        "timezone": zone.key,
        "credits": [credit(ct) for ct in timeline.credits],
        "reminders": [reminder(r) for r in timeline.reminders],
        "daemon": {"running": daemon.running, "pid": daemon.pid, "last_wake": iso(daemon.last_wake)},
        "channels_off": list(channels_off),
        "plan_limit": plan_limit_json(timeline.plan_limit, zone),
    }


def plan_limit(samples: Sequence[QuotaSample], now: datetime) -> tuple[datetime, datetime] | None:
    """The latest stretch of the plan's quota at 100 % the samples show by `now` (Timeline.plan_limit)."""
    return history(samples, now).limit_reached(now)


def plan_limit_json(limit: tuple[datetime, datetime] | None, zone: ZoneInfo) -> dict[str, str] | None:
    if limit is None:
        return None
    return {"reached_at": limit[0].astimezone(zone).isoformat(timespec="seconds"),
            "until": limit[1].astimezone(zone).isoformat(timespec="seconds")}


LIMIT_SHOWN_FOR = timedelta(days=7)  # a plan limit that ended longer ago than this is not news


def plan_limit_text(limit: tuple[datetime, datetime] | None, now: datetime, zone: ZoneInfo) -> str | None:
    """'Plan limit reached at ... (usage credits paying until ...)', from what Claude Code's status line saw."""
    if limit is None or now - limit[1] > LIMIT_SHOWN_FOR:
        return None
    start, end = format_local(limit[0], zone), format_local(limit[1], zone)
    if limit[1] > now:
        return f"Plan limit reached at {start} (usage credits paying until {end})"
    return f"Plan limit last reached at {start} (usage credits paid until {end})"


# -- text ---------------------------------------------------------------------------------------


def gauge(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * GAUGE_WIDTH)
    return "[" + "#" * filled + "." * (GAUGE_WIDTH - filled) + "]"


def status_text(timeline: Timeline, state: State, daemon: DaemonInfo, channels_off: tuple[str, ...] = (),
                reminderd: str = "reminderd") -> str:
    """`reminderd` is the command as the user types it for this config (with its --config)."""
    lines = [f"As of {format_local(timeline.now, timeline.zone)} ({timeline.zone.key})"]
    if daemon.running:
        woke = f", last woke {format_local(daemon.last_wake, timeline.zone)}" if daemon.last_wake else ""
        lines.append(f"Daemon: running (pid {daemon.pid}{woke})")
    else:
        lines.append(f"Daemon: not running (start it with `{reminderd} run`, or as a service)")
    lines += [f"  ! channel off: {line}" for line in channels_off]
    limit = plan_limit_text(timeline.plan_limit, timeline.now, timeline.zone)
    if limit:
        lines.append(f"{limit}, as Claude Code's status line saw it")
    for ct in timeline.credits:
        lines += [""] + _credit_lines(ct, timeline)
    lines += [""] + _reminder_lines(timeline, state)
    return "\n".join(lines) + "\n"


def _relative(instant: datetime, now: datetime, future: str, past: str) -> str:
    """'in 3 days' / '3 days ago': never a negative count."""
    span = format_span(instant - now)
    return future.format(span) if instant > now else past.format(span)


def _claim_lines(ct: CreditTimeline, now: datetime, at: Callable[[datetime | None], str],
                 row: Callable[[str, str], str]) -> list[str]:
    out = [row("Eligibility", f"{ct.eligibility.status} ({ct.eligibility.reason})")]
    window = f"{at(ct.claim_opens)} to {at(ct.claim_deadline)}"
    if now < ct.claim_opens:
        window += _relative(ct.claim_opens, now, " (opens in {})", "")
    elif now <= ct.claim_deadline:
        window += _relative(ct.claim_deadline, now, " (open: closes in {})", "")
    else:
        window += " (closed: in the past)"
    out.append(row("Claim window", window))
    if ct.claimed_at is None:
        out.append(row("Claimed", "not recorded (run `reminderd claim` once you have claimed)"))
    else:
        out.append(row("Claimed", at(ct.claimed_at)))
    return out


def _credit_lines(ct: CreditTimeline, timeline: Timeline) -> list[str]:
    now, zone = timeline.now, timeline.zone
    offer, fc = ct.credit.offer, ct.forecast

    def at(instant: datetime | None) -> str:
        return format_local(instant, zone) if instant else "not before it expires"

    def row(label: str, value: str) -> str:
        return f"  {label:<18}{value}"

    out = [f"{credit_label(ct.credit)}: {offer.name}, {offer.currency} {offer.amount_usd:g}"]
    if ct.discovered:  # no claim, no plan: the account holds it
        read = f", read {at(ct.switch_read_at)}" if ct.switch_read_at is not None else ""
        out.append(row("Found in", f"your Claude account{read}"))
        granted = ct.credit.subscribed_at
        out.append(row("Granted", at(granted) if granted is not None else "not said by the account"))
    else:
        out += _claim_lines(ct, now, at, row)
    if ct.expires_at is not None and ct.claimed_at is not None:
        said = ", as your account says" if ct.expiry_source == "account" else ""
        out.append(row("Expires", at(ct.expires_at)
                       + _relative(ct.expires_at, now, f" (in {{}}{said})", f" (expired {{}} ago{said})")))
        if not ct.discovered or ct.credit.subscribed_at is not None:  # a validity to measure against
            total = max(1.0, (ct.expires_at - ct.claimed_at).total_seconds())
            left = max(0.0, (ct.expires_at - now).total_seconds())
            out.append(row("Time left", f"{gauge(left / total)} {int(left // 86400)} of {offer.validity_days} days"))
    if fc is not None:
        # an expired credit's forecast is history: said in the past tense, never as if still to come
        past = ct.expires_at is not None and now >= ct.expires_at
        balance = fc.balance_at(now)
        basis = sources_text(fc.sources)
        cur = offer.currency  # a credit found in the account counts in its own

        def by(instant: datetime | None) -> str:
            """A forecast date; one already past (the credit still running) is said to be."""
            return at(instant) + (", already past" if instant is not None and instant <= now and not past else "")

        if past:
            out.append(row("Credit left", "none: the credit expired"))
        else:
            out.append(row("Credit left", f"{gauge(balance / offer.amount_usd)} about {cur} {balance:.2f} of "
                                          f"{offer.amount_usd:g} (estimated from {basis})"))
        if fc.bound is not None and fc.bound.logged_usd > 0 and not past:
            bound = fc.bound
            since = "the claim" if bound.since == ct.claimed_at else f"your reading of USD {bound.balance_usd:.2f}"
            out.append(row("Logged use", f"USD {bound.logged_usd:.2f} at API prices since {since} "
                                         f"({at(bound.since)}): as low as USD {max(0.0, bound.lowest_usd):.2f} left"))
            out.append(row("", "(Claude Code on this machine: a ceiling on what the credit paid, not a bill)"))
        lately = " (none seen lately)" if fc.rate.high == 0 else ""
        out.append(row("Spend", f"{cur} {fc.rate.low:.2f}-{fc.rate.high:.2f} a day "
                                f"(expected {fc.rate.expected:.2f}){lately}"))
        runs_out = "Ran out" if past else "Runs out"
        if fc.earliest_exhaustion is None:
            out.append(row(runs_out, "not before it expired, at your pace" if past
                           else "not before it expires, at your pace"))
        else:
            out.append(row(runs_out, f"as early as {by(fc.earliest_exhaustion)}"))
            out.append(row("", f"expected {by(fc.expected_exhaustion)}"))
            lasts = "lasted until it expired" if past else "lasts until it expires"
            out.append(row("", f"at the latest {by(fc.latest_exhaustion)}" if fc.latest_exhaustion
                           else f"at the slowest pace it {lasts}"))
        unused = fc.unused_at_expiry()
        if unused.high < 0.01:
            unused_text = "none"
        elif unused.expected < 0.01:
            unused_text = f"none expected (up to {cur} {unused.high:.2f} at the slowest pace)"
        else:
            unused_text = (f"about {cur} {unused.expected:.2f} ({cur} {unused.low:.2f}-{unused.high:.2f}); "
                           f"it {'was' if past else 'is'} not refunded")
        out.append(row("Left unused" if past else "Unused at expiry", unused_text))
    for action, when in sorted(ct.acknowledged.items()):
        out.append(row("Done", f"{action} ({at(when)})"))
    out += [f"  ! {warning}" for warning in ct.warnings]
    out += [f"  > {line}" for line in _advice(ct, several_configured(timeline.credits))]
    return out


def _advice(ct: CreditTimeline, several: bool) -> list[str]:
    offer = ct.credit.offer
    where = offer.where
    done = offer.actions[0] in ct.acknowledged
    if ct.phase == NOT_ELIGIBLE_PHASE:
        return ["Not eligible for this offer: nothing to claim, nothing to switch off."]
    if ct.phase == NOT_OPEN_YET:
        return ["The claim window has not opened yet; reminders before the deadline are planned."]
    if ct.phase == CLAIMABLE:
        return [f"Claim it before the deadline in {where}, then run `reminderd claim`."]
    if ct.phase == MISSED:
        return ["The claim window closed and no claim was recorded: this offer is over for you. "
                "If you did claim, record it with `reminderd claim --at DATETIME`. For a credit you hold "
                "now: [account] in the config reads it from your account, or describe it as [offers.NAME] "
                "(README: \"Adding a new offer\")."]
    if ct.phase == EXPIRED and not done:
        then = f"`{done_command(offer.actions[0], ct.credit.id, ct.discovered, several)}`"
        then += " (it reads the switch)" if ct.discovered else ""
        return [f"The credit has expired. If {offer.setting} is still on, it bills your card at {offer.billed_at}: "
                f"turn {offer.all_switches} off in {where}, then run {then}."]
    if ct.phase == ACTIVE and not done:
        return [offer.switches_are_where]
    return []


SERIES_SHOWN = 7  # a longer run of one credit's reminders of one kind (the daily card-paying) is cut short


def _upcoming_lines(upcoming: tuple[Reminder, ...], zone: ZoneInfo) -> list[str]:
    """One line per reminder, except that a long series shows its first two and says how many follow."""
    series: dict[tuple[str, str], list[Reminder]] = {}
    for r in upcoming:
        series.setdefault((r.credit_id, r.kind), []).append(r)
    out = []
    for r in upcoming:
        same = series[(r.credit_id, r.kind)]
        position = same.index(r)
        if len(same) <= SERIES_SHOWN or position < 2:
            out.append(f"  {format_local(r.due, zone)}  {r.id}: {r.title}")
        if len(same) > SERIES_SHOWN and position == 1:
            out.append(f"  ... and {len(same) - 2} more {r.kind} reminders, the last "
                       f"{format_local(same[-1].due, zone)} ({same[-1].id})")
    return out


def _reminder_lines(timeline: Timeline, state: State) -> list[str]:
    zone = timeline.zone
    states = reminder_states(timeline, state)
    later = _snoozed(timeline, state)
    live = [r for r in timeline.reminders if states[r.id] == LIVE]
    held = [r for r in timeline.reminders if states[r.id] == HELD]
    upcoming = timeline.upcoming()
    out = []
    if live:
        out.append("Due now (not yet delivered):")
        out += [f"  {format_local(r.due, zone)}  {r.id}: {r.title_at(timeline.now)}" for r in live]
    if later:
        out.append("Snoozed (shown again then):")
        out += [f"  {format_local(until, zone)}  {r.id}: {r.title}" for r, until in later]
    if held:
        out.append("Due, held until quiet hours end:")
        out += [f"  {format_local(r.due, zone)}  {r.id}: {r.title}" for r in held]
    if upcoming:
        out.append("Upcoming reminders:")
        out += _upcoming_lines(upcoming, zone)
    else:
        out.append("Upcoming reminders: none")
    return out
