"""Eligibility, the claim window and expiry, at their edges, seen from several zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import la, make_config

from reminderd.offers import CLAUDE_EXTRA_USAGE_2026_02 as OFFER
from reminderd.rules import ELIGIBLE, NOT_ELIGIBLE, UNKNOWN, claim_in_window, eligibility, expiry
from reminderd.state import State
from reminderd.timeline import plan

# The same instants written as wall time in each zone (worked out by hand: PST is UTC-8,
# CET UTC+1, JST UTC+9; none of them changes offset in February).
CLOSES_LAST_SECOND = {
    "America/Los_Angeles": "2026-02-16T23:59:59",
    "Europe/Berlin": "2026-02-17T08:59:59",
    "Asia/Tokyo": "2026-02-17T16:59:59",
    "UTC": "2026-02-17T07:59:59",
}
CLOSED_FIRST_SECOND = {
    "America/Los_Angeles": "2026-02-17T00:00:00",
    "Europe/Berlin": "2026-02-17T09:00:00",
    "Asia/Tokyo": "2026-02-17T17:00:00",
    "UTC": "2026-02-17T08:00:00",
}
OPENS = {
    "America/Los_Angeles": "2026-02-05T10:00:00",
    "Europe/Berlin": "2026-02-05T19:00:00",
    "Asia/Tokyo": "2026-02-06T03:00:00",
    "UTC": "2026-02-05T18:00:00",
}
BEFORE_OPEN = {
    "America/Los_Angeles": "2026-02-05T09:59:59",
    "Europe/Berlin": "2026-02-05T18:59:59",
    "Asia/Tokyo": "2026-02-06T02:59:59",
    "UTC": "2026-02-05T17:59:59",
}
CUTOFF_LAST_SECOND = {
    "America/Los_Angeles": "2026-02-04T23:59:59",
    "Europe/Berlin": "2026-02-05T08:59:59",
    "Asia/Tokyo": "2026-02-05T16:59:59",
    "UTC": "2026-02-05T07:59:59",
}
CUTOFF_PASSED = {
    "America/Los_Angeles": "2026-02-05T00:00:00",
    "Europe/Berlin": "2026-02-05T09:00:00",
    "Asia/Tokyo": "2026-02-05T17:00:00",
    "UTC": "2026-02-05T08:00:00",
}
ZONES = sorted(CLOSES_LAST_SECOND)


def credit(zone: str, **keys: str) -> str:
    lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return f'[[credit]]\nid = "c"\nplan = "pro"\n{lines}'


def claimed_in_window(zone: str, claimed_at: str) -> bool | None:
    config = make_config(timezone=zone, credit=credit(zone, subscribed_at="2025-01-01", claimed_at=claimed_at))
    ct = plan(config, State(), datetime(2026, 6, 1, tzinfo=UTC)).credits[0]
    return ct.claim_in_window


@pytest.mark.parametrize("zone", ZONES)
def test_claim_window_edges_to_the_second(zone: str) -> None:
    assert claimed_in_window(zone, OPENS[zone]) is True
    assert claimed_in_window(zone, CLOSES_LAST_SECOND[zone]) is True
    assert claimed_in_window(zone, BEFORE_OPEN[zone]) is False
    assert claimed_in_window(zone, CLOSED_FIRST_SECOND[zone]) is False


@pytest.mark.parametrize("zone", ZONES)
def test_claim_outside_window_is_flagged_not_accepted_silently(zone: str) -> None:
    config = make_config(timezone=zone, credit=credit(zone, claimed_at=CLOSED_FIRST_SECOND[zone]))
    ct = plan(config, State(), datetime(2026, 6, 1, tzinfo=UTC)).credits[0]
    assert [w for w in ct.warnings if "outside the claim window" in w]
    assert ct.expires_at is not None  # still planned: the user may know better than we do


@pytest.mark.parametrize("zone", ZONES)
def test_eligibility_cutoff_edges_to_the_second(zone: str) -> None:
    last = make_config(timezone=zone, credit=credit(zone, subscribed_at=CUTOFF_LAST_SECOND[zone]))
    late = make_config(timezone=zone, credit=credit(zone, subscribed_at=CUTOFF_PASSED[zone]))
    assert eligibility(last.credits[0]).status == ELIGIBLE
    assert eligibility(late.credits[0]).status == NOT_ELIGIBLE


@pytest.mark.parametrize("zone", ZONES)
def test_claim_phase_at_the_deadline_seen_from_each_zone(zone: str) -> None:
    config = make_config(timezone=zone, credit=credit(zone, subscribed_at="2025-01-01"))
    deadline = datetime.fromisoformat(CLOSES_LAST_SECOND[zone]).replace(tzinfo=config.timezone)
    assert plan(config, State(), deadline).credits[0].phase == "claimable"
    assert plan(config, State(), deadline + timedelta(seconds=1)).credits[0].phase == "claim-missed"


@pytest.mark.parametrize(
    ("plan_name", "status"),
    [("pro", ELIGIBLE), ("max-5x", ELIGIBLE), ("max-20x", ELIGIBLE), ("free", NOT_ELIGIBLE),
     ("team", NOT_ELIGIBLE), ("enterprise", NOT_ELIGIBLE), ("api", NOT_ELIGIBLE)],
)
def test_eligible_plans(plan_name: str, status: str) -> None:
    config = make_config(credit=f'[[credit]]\nplan = "{plan_name}"\nsubscribed_at = 2025-01-01\n')
    assert eligibility(config.credits[0]).status == status


def test_eligibility_unknown_without_plan_or_start() -> None:
    assert eligibility(make_config(credit="[[credit]]\n").credits[0]).status == UNKNOWN
    assert eligibility(make_config(credit='[[credit]]\nplan = "pro"\n').credits[0]).status == UNKNOWN


def test_window_bounds_match_the_announcement() -> None:
    assert OFFER.claim_opens == la(2026, 2, 5, 10, 0, 0)
    assert OFFER.claim_closes == la(2026, 2, 16, 23, 59, 59)
    assert claim_in_window(OFFER, la(2026, 2, 16, 23, 59, 59))
    assert not claim_in_window(OFFER, la(2026, 2, 17, 0, 0, 0))


def test_expiry_after_dst_change_is_sixty_calendar_days_in_pacific_time() -> None:
    # Claimed in PST; the 2026-03-08 change to PDT falls inside the 60 days. 60 x 24 h would be
    # 2026-04-11 13:00 PDT; the same wall time 60 days later is 12:00 PDT, an hour earlier: taken.
    claimed = la(2026, 2, 10, 12, 0)
    expires = expiry(OFFER, claimed)
    assert expires == datetime(2026, 4, 11, 19, 0, tzinfo=UTC)
    assert expires.astimezone(OFFER.zone).strftime("%Y-%m-%d %H:%M %Z") == "2026-04-11 12:00 PDT"


def test_expiry_seen_from_tokyo_is_the_same_instant() -> None:
    config = make_config(timezone="Asia/Tokyo", credit=credit("Asia/Tokyo", claimed_at="2026-02-11T05:00:00"))
    ct = plan(config, State(), datetime(2026, 3, 1, tzinfo=UTC)).credits[0]
    # 2026-02-11 05:00 JST = 2026-02-10 12:00 PST
    assert ct.expires_at == datetime(2026, 4, 11, 19, 0, tzinfo=UTC)


def test_every_possible_expiry_falls_in_pdt() -> None:
    for claimed in (OFFER.claim_opens, OFFER.claim_closes):
        assert expiry(OFFER, claimed).astimezone(OFFER.zone).tzname() == "PDT"
    assert expiry(OFFER, OFFER.claim_opens) == la(2026, 4, 6, 10, 0)
    assert expiry(OFFER, OFFER.claim_closes) == la(2026, 4, 17, 23, 59, 59)
