"""Catch-up and dedupe: pure, with an explicit now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import la, make_config

from reminderd.catchup import to_deliver
from reminderd.state import Delivery, State
from reminderd.timeline import plan

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'
EXPIRES = la(2026, 4, 11, 12, 0)


NO_WEEKLY_CHECKS = "[reminders]\nusage_check_every_days = 0\n"


def ids(now: datetime, state: State | None = None, body: str = NO_WEEKLY_CHECKS) -> list[str]:
    timeline = plan(make_config(body, credit=CREDIT), state or State(), now)
    return [r.id for r in to_deliver(timeline, state or State())]


def test_nothing_before_the_first_due_time() -> None:
    assert ids(EXPIRES - timedelta(days=7, seconds=1)) == []


def test_due_reminder_is_delivered() -> None:
    assert ids(EXPIRES - timedelta(days=7)) == ["c/expiry/-7d"]


def test_after_downtime_only_the_latest_of_a_series() -> None:
    # down from before the 7-day reminder until after the 2-hour one: one notification, not three
    assert ids(EXPIRES - timedelta(hours=1)) == ["c/expiry/-2h"]


def test_delivered_is_not_sent_again_and_earlier_ones_stay_silent() -> None:
    now = EXPIRES - timedelta(hours=1)
    state = State().with_delivered("c/expiry/-2h", Delivery(EXPIRES - timedelta(hours=2), EXPIRES, now))
    assert ids(now, state) == []


def test_a_moved_event_rearms_the_reminder() -> None:
    now = EXPIRES - timedelta(days=6)
    older_claim = EXPIRES - timedelta(days=1)  # delivered for an expiry a day earlier (an older claim date)
    record = Delivery(older_claim - timedelta(days=7), older_claim, now - timedelta(days=1))
    assert ids(now, State().with_delivered("c/expiry/-7d", record)) == ["c/expiry/-7d"]


def test_a_shifted_due_time_alone_does_not_rearm_it() -> None:
    # delivered for this very expiry, at a due time an edit has since moved (quiet hours, a zone)
    now = EXPIRES - timedelta(days=6)
    record = Delivery(EXPIRES - timedelta(days=7, hours=3), EXPIRES + timedelta(minutes=1), now)
    assert ids(now, State().with_delivered("c/expiry/-7d", record)) == []


def test_after_expiry_the_at_expiry_reminder_stays_live_until_acknowledged() -> None:
    long_after = EXPIRES + timedelta(days=200)
    assert ids(long_after) == ["c/expiry/at"]
    acked = State().with_acknowledged("c", "extra-usage-off", long_after)
    assert ids(long_after, acked) == []


def test_stale_reminders_are_not_sent() -> None:
    # the claim-deadline series is worth sending only until the deadline
    unclaimed = '[[credit]]\nid = "c"\nplan = "pro"\n'
    timeline = plan(make_config(credit=unclaimed), State(), datetime(2026, 2, 17, 9, tzinfo=UTC))
    assert to_deliver(timeline, State()) == []


def test_one_per_series_across_series() -> None:
    body = "[credit.usage]\ndaily_spend_usd = 3\n[reminders]\nusage_check_every_days = 0\n"
    got = ids(EXPIRES - timedelta(hours=1), body=body)
    assert sorted(got) == ["c/exhaustion/at", "c/expiry/-2h"]


def test_a_forecast_moving_away_and_back_is_not_news_again() -> None:
    # found by the daemon's state machine: only the latest delivery was kept, so an event seen
    # before counted as new once the forecast had moved elsewhere in between
    now = EXPIRES - timedelta(days=6)
    state = (State().with_delivered("c/expiry/-7d", Delivery(EXPIRES - timedelta(days=7), EXPIRES, now))
             .with_delivered("c/expiry/-7d", Delivery(now, EXPIRES + timedelta(days=3), now)))
    assert ids(now, state) == []


def test_each_channel_has_its_own_deliveries() -> None:
    now = EXPIRES - timedelta(days=6)
    state = State().with_delivered("c/expiry/-7d", Delivery(EXPIRES - timedelta(days=7), EXPIRES, now))
    timeline = plan(make_config(NO_WEEKLY_CHECKS, credit=CREDIT), state, now)
    assert to_deliver(timeline, state) == []
    assert [r.id for r in to_deliver(timeline, state, "push:0123456789ab")] == ["c/expiry/-7d"]
