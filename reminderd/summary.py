"""What matters now, in a few values, for the places that have no time to plan: Claude Code's status
line and session hook read it from a small file (summary_file.py) that the daemon and every `status`
keep current. Pure: a function of (timeline, state, now).

Per credit still in play: its balance estimate and currency, expiry, claim deadline and whether usage
credits are on. The urgent reminders: those that ask for action now (expiring soon, may be spent,
claim deadline, the card paying), due now or within AHEAD, so the file stays right for a day without
a daemon; a reader picks the one live at its own `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reminderd.record import State
from reminderd.reminder import (
    ACTIVE,
    CLAIMABLE,
    EXPIRED,
    CreditTimeline,
    Reminder,
    Timeline,
    credit_label,
    done_command,
    several_configured,
)
from reminderd.snooze import snoozes
from reminderd.timeutil import format_local

SOON = timedelta(days=2)  # an expiry warning further ahead than this is not urgent (the 7-day one)
RECENT = timedelta(days=7)  # a reminder with no end ("expired") stays urgent this long after it fell due
AHEAD = timedelta(days=1)  # reminders due this soon are in the file already: it stays right for a day

# How urgent each kind is, most urgent first: money leaving now, then what may be gone, then what comes.
CARD_PAYING, EXPIRED_NOW, MAY_BE_SPENT, EXPIRING, CLAIM = range(5)
KIND_RANK = {"card-paying": CARD_PAYING, "logged-spend": MAY_BE_SPENT, "exhaustion": MAY_BE_SPENT,
             "expiry": EXPIRING, "claim-deadline": CLAIM}

ON, OFF, UNKNOWN = "on", "off", "unknown"


def summarize(timeline: Timeline, state: State, now: datetime) -> dict[str, Any]:
    """The summary's content (JSON values): `credits[]` and `reminders[]` (most urgent first; of a
    series, several may be due at one moment: a reader takes the latest, as the daemon does)."""
    zone = timeline.zone
    snoozed = snoozes(state.as_of(now))
    several = several_configured(timeline.credits)  # `done` then names its credit
    by_id = {ct.credit.id: ct for ct in timeline.credits}
    reminders = sorted((r for r in timeline.reminders if _urgent(r, now)), key=lambda r: _rank(r))
    shown = {r.credit_id for r in reminders}
    return {
        "credits": [_credit(ct, now, zone, several) for ct in timeline.credits
                    if _in_play(ct, now) or ct.credit.id in shown],
        "reminders": [_reminder(r, by_id[r.credit_id], now, snoozed.get(r.id), several, zone) for r in reminders],
        "plan_limit": None if timeline.plan_limit is None else
        {"reached_at": _iso(timeline.plan_limit[0], zone), "until": _iso(timeline.plan_limit[1], zone)},
    }


def usage_credits(ct: CreditTimeline) -> str:
    """on, off (the account said so, or the user did `done`), or unknown."""
    if ct.credit.offer.actions[0] in ct.acknowledged:
        return OFF
    return ON if ct.usage_credits_on else UNKNOWN


def _in_play(ct: CreditTimeline, now: datetime) -> bool:
    if ct.phase in (ACTIVE, CLAIMABLE):
        return True
    return (ct.phase == EXPIRED and ct.expires_at is not None and now - ct.expires_at <= RECENT
            and usage_credits(ct) != OFF)


def _urgent(reminder: Reminder, now: datetime) -> bool:
    if reminder.kind not in KIND_RANK or reminder.due > now + AHEAD:
        return False
    if reminder.until is None:
        return now - reminder.due <= RECENT
    if reminder.until <= now:
        return False
    return not (reminder.kind == "expiry" and reminder.event_at is not None and reminder.event_at - reminder.due > SOON)


def _rank(reminder: Reminder) -> tuple[int, datetime]:
    rank = KIND_RANK[reminder.kind]
    if reminder.kind == "expiry" and reminder.event_at is not None and reminder.due >= reminder.event_at:
        rank = EXPIRED_NOW
    return rank, reminder.event_at or reminder.due


def _iso(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return instant.astimezone(zone).isoformat(timespec="seconds") if instant is not None else None


def _done(ct: CreditTimeline, several: bool) -> str:
    return done_command(ct.credit.offer.actions[0], ct.credit.id, ct.discovered, several)


def _credit(ct: CreditTimeline, now: datetime, zone: ZoneInfo, several: bool) -> dict[str, Any]:
    offer, fc = ct.credit.offer, ct.forecast
    balance = lowest = per_day = None
    if fc is not None and ct.phase == ACTIVE:
        balance = round(fc.balance_at(now), 2)
        lowest = round(max(0.0, min(fc.balance_at(now), fc.lowest_at(now))), 2)
        per_day = round(fc.rate.expected, 4)
    if ct.gone_at is not None and ct.gone_at <= now:
        balance = lowest = 0.0
    return {
        "id": ct.credit.id,
        "label": credit_label(ct.credit),
        "phase": ct.phase,
        "currency": offer.currency,
        "amount": offer.amount_usd,
        "balance": balance,
        "lowest": lowest,
        "per_day": per_day,
        "expires_at": _iso(ct.expires_at, zone),
        "expires_local": format_local(ct.expires_at, zone) if ct.expires_at else None,
        "claim_deadline": _iso(ct.claim_deadline, zone) if ct.phase == CLAIMABLE else None,
        "usage_credits": usage_credits(ct),
        "switch": offer.switch,
        "where": offer.where,
        "done": _done(ct, several),
    }


def _reminder(r: Reminder, ct: CreditTimeline, now: datetime, snoozed_until: datetime | None,
              several: bool, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "credit": r.credit_id,
        "kind": r.kind,
        "rank": _rank(r)[0],  # lower is more urgent
        "due": _iso(r.due, zone),
        "until": _iso(r.until, zone),
        "event_at": _iso(r.event_at, zone),
        "words": r.title,  # as of its due time: the same words all along, so an unchanged file stays unwritten
        "template": r.lead_title or None,  # "{left}" marks the time left, for a reader at a later moment
        "message": r.body,
        "done": _done(ct, several) if r.stops_on else None,
        "snoozed_until": _iso(snoozed_until, zone) if snoozed_until is not None and snoozed_until > now else None,
    }
