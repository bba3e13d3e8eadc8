"""Which reminders to deliver now: a pure function of (timeline, state).

A reminder is sent when it is live (due, and its `until` has not passed) and was not delivered
for its (id, due). Of one series only the latest live reminder counts: after a long downtime
the user gets "expires in 2 hours", not also the stale "7 days" and "1 day" before it.
"""

from __future__ import annotations

from reminderd.state import State, delivery_key
from reminderd.timeline import Reminder, Timeline


def to_deliver(timeline: Timeline, state: State) -> list[Reminder]:
    latest: dict[str, Reminder] = {}
    for reminder in timeline.live():  # ordered by due, so the last one per series wins
        latest[reminder.series] = reminder
    return [r for r in latest.values() if delivery_key(r.id, r.due) not in state.delivered]
