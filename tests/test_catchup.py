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


def test_a_lead_due_within_the_minute_goes_out_with_the_catch_up_in_place_of_the_stale_one() -> None:
    """checks-43ba1b3.md F2: started 11 s before the 2-hour lead with the 1-day lead overdue, the
    daemon sent both, 11 s apart, both saying "2 hours left"."""
    now = EXPIRES - timedelta(hours=2, seconds=11)
    assert ids(now) == ["c/expiry/-2h"]
    timeline = plan(make_config(NO_WEEKLY_CHECKS, credit=CREDIT), State(), now)
    sent = to_deliver(timeline, State())
    state = State().with_delivered(sent[0].id, Delivery(sent[0].due, sent[0].event_at, now))
    for later in (now + timedelta(seconds=5), now + timedelta(seconds=11), now + timedelta(minutes=30)):
        assert ids(later, state) == [], later  # neither the stale 1-day lead nor the 2-hour one again


def test_an_announcement_is_never_sent_ahead_of_its_event() -> None:
    assert ids(EXPIRES - timedelta(seconds=30)) == ["c/expiry/-2h"]


def test_the_end_of_quiet_hours_is_a_wake_time() -> None:
    """checks-43ba1b3.md F1: held reminders went out at the next minute's wake, 56 s late."""
    from reminderd.catchup import wake_times

    body = NO_WEEKLY_CHECKS + '[quiet_hours]\nstart = "22:00"\nend = "08:00"\n'
    timeline = plan(make_config(body, credit=CREDIT), State(), la(2026, 4, 4, 7, 59, 56))
    assert la(2026, 4, 5, 8, 0) not in wake_times(timeline)
    assert la(2026, 4, 4, 8, 0) in wake_times(timeline)
    assert la(2026, 4, 4, 8, 0) not in wake_times(plan(make_config(body, credit=CREDIT), State(), la(2026, 4, 4, 9)))
