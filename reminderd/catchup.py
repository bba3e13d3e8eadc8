"""Which reminders to deliver now: a pure function of (timeline, state).

A reminder is sent when it is live (due, and its `until` has not passed) and not yet delivered
for the event it warns about. Of one series only the latest live reminder counts: after a long
downtime the user gets "expires in 2 hours", not also the stale "7 days" and "1 day" before it;
and a warning of the same series due within the next AHEAD is part of the same catch-up (sent
now, in its place, rather than a minute after a stale one that says the same). During quiet
hours a due reminder waits for their end, unless it would be too late then; that end is a due
time of its own (wake_times).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from reminderd.quiet import quiet_period
from reminderd.record import DESKTOP, Delivery, State
from reminderd.snooze import snoozes
from reminderd.timeline import Reminder, Timeline

# A delivered reminder comes back only when the event it warned about moved by more than this
# (a corrected claim date, a forecast that changed): not when an edit shifts only its due time.
REARM_AFTER = timedelta(hours=1)
# A warning due this soon after a catch-up is sent with it, in place of the stale one it supersedes.
AHEAD = timedelta(minutes=1)


def announced(records: Sequence[Delivery], reminder: Reminder, channel: str = DESKTOP) -> bool:
    """Whether a delivery on `channel` covers `reminder`: shown for the same event (give or take
    REARM_AFTER), or for a reminder without an event (a weekly check, the Auto-Reload check), or
    recorded by a version that did not keep the event. Each channel has its own deliveries: one
    failing never makes another repeat."""
    return any(record.channel == channel and (record.event_at is None or reminder.event_at is None
                                              or abs(record.event_at - reminder.event_at) <= REARM_AFTER)
               for record in records)


def held_by_quiet_hours(timeline: Timeline, reminder: Reminder) -> bool:
    """Whether a due reminder waits for the end of the quiet hours `now` is in: yes, unless it
    would no longer be worth sending then, or what it warns about comes before then."""
    period = quiet_period(timeline.now, timeline.quiet_hours, timeline.zone)
    if period is None:
        return False
    end = period[1]
    if reminder.until is not None and reminder.until <= end:
        return False
    return not (reminder.event_at is not None and timeline.now < reminder.event_at <= end)


def latest_live(timeline: Timeline) -> list[Reminder]:
    """The latest live reminder of each series."""
    latest: dict[str, Reminder] = {}
    for reminder in timeline.live():  # ordered by due, so the last one per series wins
        latest[reminder.series] = reminder
    return list(latest.values())


def to_deliver(timeline: Timeline, state: State, channel: str = DESKTOP) -> list[Reminder]:
    """What `channel` sends now: of each series the latest live reminder, or the warning of that
    series due within AHEAD; nothing already sent for its event, or superseded by a later member
    sent already, or held by quiet hours."""
    members: dict[str, list[Reminder]] = {}
    for reminder in timeline.reminders:  # by due time
        members.setdefault(reminder.series, []).append(reminder)
    out = []
    for latest in latest_live(timeline):
        series = members[latest.series]
        later = series[series.index(latest) + 1:]
        if any(announced(state.delivered.get(r.id, ()), r, channel) for r in later):
            continue  # a later one went out already (ahead of its time, by a catch-up)
        soon = next((r for r in later if r.due <= timeline.now + AHEAD and _a_warning_now(r, timeline.now)), None)
        chosen = soon or latest
        if not announced(state.delivered.get(chosen.id, ()), chosen, channel) and \
                not held_by_quiet_hours(timeline, chosen):
            out.append(chosen)
    return out


def _a_warning_now(reminder: Reminder, now: datetime) -> bool:
    """Whether `reminder` may go out at `now`: a warning whose event is still ahead (one that
    says its event happened is never early) and that is worth sending then."""
    return reminder.event_at is not None and now < reminder.event_at and reminder.due < reminder.event_at \
        and (reminder.until is None or now < reminder.until)


def wake_times(timeline: Timeline) -> set[datetime]:
    """When the daemon must look again: each upcoming reminder's due time, and the end of the
    quiet hours `now` is in (what they held goes out then, not at the next minute's wake)."""
    times = {r.due for r in timeline.upcoming()}
    period = quiet_period(timeline.now, timeline.quiet_hours, timeline.zone)
    if period is not None:
        times.add(period[1])
    return times


def snoozed(timeline: Timeline, state: State) -> tuple[list[Reminder], list[str]]:
    """The snoozed reminders to show once more now, and the snoozes to forget because their
    reminder is no longer the latest live one of its series (acknowledged, followed by the
    next one, or past)."""
    live = {r.id: r for r in latest_live(timeline)}
    again, forget = [], []
    for reminder_id, until in sorted(snoozes(state).items()):
        if until > timeline.now:
            continue
        reminder = live.get(reminder_id)
        if reminder is None:
            forget.append(reminder_id)
        elif not held_by_quiet_hours(timeline, reminder):
            again.append(reminder)
    return again, forget
