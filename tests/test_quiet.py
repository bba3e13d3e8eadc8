"""Quiet hours: which instants are quiet, and where a reminder goes instead (hand-worked examples;
the rules over generated inputs are in test_properties.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from conftest import LA, la

from reminderd.quiet import place, quiet_period
from reminderd.settings import QuietHours

NIGHT = QuietHours(time(22, 0), time(8, 0))
LUNCH = QuietHours(time(12, 0), time(13, 0))
FLOOR = la(2026, 2, 1)


def move(due: datetime, event: datetime | None, quiet: QuietHours = NIGHT, announces: bool = False) -> datetime:
    return place(due, event, announces, FLOOR, quiet, LA)


def test_quiet_hours_move_a_reminder_to_their_end() -> None:
    assert move(la(2026, 3, 1, 23, 30), la(2026, 3, 5)) == la(2026, 3, 2, 8, 0)
    assert move(la(2026, 3, 2, 7, 59), None) == la(2026, 3, 2, 8, 0)
    assert move(la(2026, 3, 2, 8, 0), None) == la(2026, 3, 2, 8, 0)
    assert move(la(2026, 3, 2, 21, 59), None) == la(2026, 3, 2, 21, 59)


def test_quiet_hours_move_earlier_when_the_end_would_pass_the_event() -> None:
    event = la(2026, 4, 11, 3, 0)
    assert move(event - timedelta(hours=2), event) == la(2026, 4, 10, 21, 59)


def test_an_announcement_never_moves_before_its_event() -> None:
    event = la(2026, 4, 11, 3, 0)  # "expired" at 03:00 is said at 08:00, not the evening before
    assert move(event, event, announces=True) == la(2026, 4, 11, 8, 0)


def test_no_earlier_moment_than_the_series_start_leaves_it_in_quiet_hours() -> None:
    event = la(2026, 4, 11, 3, 0)
    assert place(event - timedelta(hours=2), event, False, la(2026, 4, 10, 23, 0), NIGHT, LA) == \
        event - timedelta(hours=2)


def test_quiet_hours_across_the_dst_night() -> None:
    # the night of 2026-03-07/08 is one hour shorter; the end is still 08:00 local (PDT)
    moved = move(la(2026, 3, 8, 3, 30), None)
    assert moved == la(2026, 3, 8, 8, 0) and moved.astimezone(UTC).hour == 15


def test_daytime_quiet_hours() -> None:
    assert move(la(2026, 3, 2, 12, 30), None, LUNCH) == la(2026, 3, 2, 13, 0)
    assert move(la(2026, 3, 2, 23, 0), None, LUNCH) == la(2026, 3, 2, 23, 0)


def test_daytime_quiet_hours_leave_the_morning_alone() -> None:
    # review C2: 00:00-12:00 counted as quiet, moving morning reminders by up to a day
    for hour in (0, 7, 9, 11):
        assert quiet_period(la(2026, 3, 20, hour, 0), LUNCH, LA) is None
        assert move(la(2026, 3, 20, hour, 0), la(2026, 3, 21), LUNCH) == la(2026, 3, 20, hour, 0)
    assert quiet_period(la(2026, 3, 20, 12, 0), LUNCH, LA) == (la(2026, 3, 20, 12, 0), la(2026, 3, 20, 13, 0))
    assert quiet_period(la(2026, 3, 20, 13, 0), LUNCH, LA) is None
