"""--at's words for days: pure, in the config's zone, relative to an explicit now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminderd.timeutil import DAY_WORDS, EARLIEST, LATEST, OutOfRange, parse_instant, parse_moment

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 3, 8, 18, 30, tzinfo=UTC)  # 11:30 PDT, the day summer time starts


@pytest.mark.parametrize("text,expected", [
    ("now", NOW),
    ("NOW", NOW),
    ("today", datetime(2026, 3, 8, 0, 0, tzinfo=LA)),  # 00:00 PST: the day began in winter time
    ("today 14:00", datetime(2026, 3, 8, 14, 0, tzinfo=LA)),
    ("  Yesterday   9:30 ", datetime(2026, 3, 7, 9, 30, tzinfo=LA)),
    ("tomorrow", datetime(2026, 3, 9, 0, 0, tzinfo=LA)),
    ("2026-02-06 09:30", datetime(2026, 2, 6, 9, 30, tzinfo=LA)),
])
def test_words_by_hand(text: str, expected: datetime) -> None:
    instant, warning = parse_moment(text, LA, NOW)
    assert instant == expected and warning is None


def test_a_wall_time_in_the_gap_is_moved_and_said() -> None:
    instant, warning = parse_moment("today 02:30", LA, NOW)
    assert instant == datetime(2026, 3, 8, 3, 30, tzinfo=LA) and warning is not None and "DST gap" in warning


@pytest.mark.parametrize("text", ["today 25:00", "yesterday noon", "today 14:00 sharp", "next tuesday", "",
                                  "todayy"])
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(text, LA, NOW)


def test_near_the_end_of_the_range_is_out_of_range() -> None:
    with pytest.raises(OutOfRange):
        parse_moment("tomorrow", ZoneInfo("UTC"), LATEST - timedelta(hours=1))


zones = st.sampled_from([ZoneInfo(k) for k in ("UTC", "America/Los_Angeles", "Europe/Berlin", "Australia/Lord_Howe",
                                               "Asia/Kolkata", "America/Santiago", "Pacific/Chatham")])
nows = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 1),  # noqa: DTZ001 (bounds)
                    timezones=st.just(UTC))


@given(nows, zones, st.sampled_from(sorted(DAY_WORDS)), st.none() | st.times().map(lambda t: t.replace(second=0,
                                                                                                 microsecond=0)))
def test_what_it_returns_reads_back_as_the_same_instant(now: datetime, zone: ZoneInfo, word: str, clock) -> None:  # type: ignore[no-untyped-def]
    text = word if clock is None else f"{word} {clock:%H:%M}"
    instant, warning = parse_moment(text, zone, now)
    assert EARLIEST <= instant < LATEST and instant.tzinfo is UTC
    local = instant.astimezone(zone)
    # its wall time, written down without an offset or with one, is read back as the same instant
    assert parse_instant(local.replace(tzinfo=None).isoformat(), zone)[0] == instant
    assert parse_moment(local.isoformat(), zone, now)[0] == instant
    expected_day = now.astimezone(zone).date() + timedelta(days=DAY_WORDS[word])
    if warning is None:  # the day asked for, at the time asked for
        assert local.date() == expected_day
        assert (local.hour, local.minute) == ((clock.hour, clock.minute) if clock else (0, 0))
    elif "happens twice" in warning:  # a wall time a clock change repeats: the first of the two, as asked
        assert clock is not None and local.fold == 0  # astimezone() marks the second of the two with fold=1
        assert (local.date(), local.hour, local.minute) == (expected_day, clock.hour, clock.minute)
    else:  # only a wall time skipped by a clock change moves (forward, by at most the gap)
        assert "DST gap" in warning and local.date() - expected_day <= timedelta(days=1)


@given(nows, zones)
def test_now_is_now(now: datetime, zone: ZoneInfo) -> None:
    assert parse_moment("now", zone, now) == (now, None)


def test_a_wall_time_a_clock_change_repeats_is_the_first_of_the_two() -> None:
    """Found by the property above: 02:00 on the night Berlin's clocks go back happens twice."""
    instant, warning = parse_moment("today 02:00", ZoneInfo("Europe/Berlin"), datetime(2112, 10, 30, tzinfo=UTC))
    assert instant == datetime(2112, 10, 30, 0, 0, tzinfo=UTC)  # 02:00 CEST, not 02:00 CET an hour later
    assert warning == "2112-10-30 02:00 happens twice in Europe/Berlin; read as the first (CEST)"
