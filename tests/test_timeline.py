"""plan(): one reminder series per trap in PROMO.md, at the right instants."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import LA, la, make_config

from reminderd.forecast import Observation
from reminderd.state import State
from reminderd.timeline import Reminder, Timeline, plan

CLAIMED = "2026-02-10T12:00:00"  # PST; expiry 2026-04-11 12:00 PDT
EXPIRES = la(2026, 4, 11, 12, 0)
NOW = la(2026, 2, 20, 9, 0)


def planned(body: str = "", state: State | None = None, now: datetime = NOW, claimed: str | None = CLAIMED,
            zone: str = "America/Los_Angeles") -> Timeline:
    claim_line = f"claimed_at = {claimed}\n" if claimed else ""
    credit = f'[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n{claim_line}'
    return plan(make_config(body, credit=credit, timezone=zone), state or State(), now)


def by_id(timeline: Timeline) -> dict[str, Reminder]:
    return {r.id.removeprefix("c/"): r for r in timeline.reminders}


def test_claim_deadline_series_when_eligible_and_unclaimed() -> None:
    reminders = by_id(planned(claimed=None, now=la(2026, 2, 6)))
    deadline = la(2026, 2, 16, 23, 59, 59)
    assert reminders["claim-deadline/-3d"].due == deadline - timedelta(days=3)
    assert reminders["claim-deadline/-1d"].due == deadline - timedelta(days=1)
    assert reminders["claim-deadline/-2h"].due == deadline - timedelta(hours=2)
    assert all(r.until == deadline for r in reminders.values())
    assert "Settings > Usage" in reminders["claim-deadline/-1d"].body


def test_no_claim_reminders_when_not_eligible_or_claimed() -> None:
    not_eligible = plan(make_config(credit='[[credit]]\nplan = "team"\n'), State(), la(2026, 2, 6))
    assert not_eligible.reminders == ()
    assert not [r for r in planned().reminders if r.kind == "claim-deadline"]


def test_auto_reload_check_right_after_claim_unless_known_off() -> None:
    reminders = by_id(planned())
    assert reminders["auto-reload/after-claim"].due == la(2026, 2, 10, 12, 0)
    assert "Auto-Reload off" in reminders["auto-reload/after-claim"].body
    credit = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'
    off = plan(make_config(credit=credit), State(), NOW)
    assert not [r for r in off.reminders if r.kind == "auto-reload"]


def test_expiry_series_and_the_reminder_at_expiry() -> None:
    reminders = by_id(planned())
    assert reminders["expiry/-7d"].due == EXPIRES - timedelta(days=7)
    assert reminders["expiry/-1d"].due == EXPIRES - timedelta(days=1)
    assert reminders["expiry/-2h"].due == EXPIRES - timedelta(hours=2)
    at = reminders["expiry/at"]
    assert at.due == EXPIRES and at.until is None  # billing goes on until switched off
    for r in (reminders["expiry/-7d"], at):
        assert "Extra Usage" in r.body and "Auto-Reload" in r.body and "mobile apps cannot" in r.body
    assert reminders["expiry/-7d"].due.astimezone(LA).strftime("%H:%M %Z") == "12:00 PDT"


def test_low_balance_and_exhaustion_from_the_fast_end_of_the_forecast() -> None:
    # 20 chats + 2 Claude Code sessions: USD 1.40-5.00 a day, earliest exhaustion after 10 days
    t = planned("[credit.usage.per_day]\nchat_rounds = 20\nclaude_code_sessions = 2\n")
    reminders = by_id(t)
    earliest = la(2026, 2, 20, 12, 0)
    assert reminders["exhaustion/at"].due == earliest
    assert reminders["exhaustion/at"].until == EXPIRES
    # USD 10 left at 5.00 a day: 8 days after the claim
    assert reminders["low-balance/usd10"].due == la(2026, 2, 18, 12, 0)
    assert reminders["low-balance/usd10"].until == earliest
    assert "turn usage credits off" in reminders["exhaustion/at"].title
    assert not [r for r in t.reminders if r.kind == "unused-credit"]


def test_unused_credit_warned_early_enough_to_use_it() -> None:
    reminders = by_id(planned("[credit.usage]\ndaily_spend_usd = 0.5\n"))
    assert reminders["unused-credit/-14d"].due == EXPIRES - timedelta(days=14)
    assert reminders["unused-credit/-3d"].due == EXPIRES - timedelta(days=3)
    # 50 - 0.5 * 59.958 days = about 20
    assert reminders["unused-credit/-14d"].title == "About USD 20 of your credit will go unused"
    assert "not refunded" in reminders["unused-credit/-14d"].body
    assert "exhaustion/at" not in reminders


def test_weekly_usage_check_keeps_local_time_across_dst() -> None:
    checks = [r for r in planned().reminders if r.kind == "check-usage"]
    local = [r.due.astimezone(LA) for r in checks]
    assert [d.strftime("%m-%d %H:%M %Z") for d in local] == [
        "02-17 10:00 PST", "02-24 10:00 PST", "03-03 10:00 PST", "03-10 10:00 PDT",
        "03-17 10:00 PDT", "03-24 10:00 PDT", "03-31 10:00 PDT", "04-07 10:00 PDT"]
    assert checks[0].until == checks[1].due and checks[-1].until == EXPIRES


def test_acknowledging_extra_usage_off_stops_the_reminders_that_ask_for_it() -> None:
    state = State().with_acknowledged("c", "extra-usage-off", la(2026, 2, 15))
    assert planned(state=state).reminders == ()
    only_reload = State().with_acknowledged("c", "auto-reload-off", la(2026, 2, 11))
    kinds = {r.kind for r in planned(state=only_reload).reminders}
    assert "auto-reload" not in kinds and "expiry" in kinds


def test_status_at_an_earlier_time_does_not_know_the_claim_yet() -> None:
    t = planned(now=la(2026, 2, 8))
    assert t.credits[0].phase == "claimable" and t.credits[0].claimed_at is None
    assert {r.kind for r in t.reminders} == {"claim-deadline"}


def test_phases_over_the_life_of_the_offer() -> None:
    assert planned(claimed=None, now=la(2026, 1, 1)).credits[0].phase == "claim-not-open-yet"
    assert planned(claimed=None, now=la(2026, 11, 24)).credits[0].phase == "claim-missed"
    assert planned(now=EXPIRES - timedelta(seconds=1)).credits[0].phase == "active"
    assert planned(now=EXPIRES).credits[0].phase == "expired"


def test_observation_moves_the_forecast_and_the_reminders() -> None:
    body = "[credit.usage]\ndaily_spend_usd = 0.5\n"
    before = by_id(planned(body))
    state = State().with_observation("c", Observation(la(2026, 2, 15, 12, 0), 20.0))  # 6/day
    after = by_id(planned(body, state=state))
    assert "exhaustion/at" not in before and "exhaustion/at" in after
    assert after["exhaustion/at"].due < la(2026, 2, 19)


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo", "UTC"])
def test_reminder_instants_do_not_depend_on_the_display_zone(zone: str) -> None:
    la_plan = planned()
    other = plan(make_config(timezone=zone, credit=(
        '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00-08:00\n'
        '[credit.usage]\ndaily_spend_usd = 2\n')), State(), NOW)
    assert {r.id: r.due for r in other.reminders if r.kind == "expiry"} == {
        r.id: r.due for r in la_plan.reminders if r.kind == "expiry"}


# -- quiet hours in plan() (quiet.py's own rules: tests/test_quiet.py) ---------------------------


def test_plan_applies_quiet_hours() -> None:
    body = '[quiet_hours]\nstart = "22:00"\nend = "08:00"\n'
    credit = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T23:00:00\n'
    reminders = by_id(plan(make_config(body, credit=credit), State(), NOW))
    assert reminders["auto-reload/after-claim"].due == la(2026, 2, 11, 8, 0)
    assert reminders["expiry/-2h"].due == la(2026, 4, 11, 21, 0)  # 21:00 PDT, before quiet hours
    # the expiry at 23:00 is in quiet hours: "expired" waits for their end, never comes before it
    assert reminders["expiry/at"].due == la(2026, 4, 12, 8, 0)


def test_no_forecast_says_what_would_give_one() -> None:
    """newuser-21969a5 problem 7: with the logs on and nothing in them yet, the warning said to
    "set [credit.usage]", which was set."""
    config = make_config("claimed_at = 2026-02-06T09:30:00\n[credit.usage]\nclaude_code_logs = true\n")
    (warning,) = plan(config, State(), la(2026, 2, 8)).credits[0].warnings
    assert warning == ("no usage profile, no Claude Code use in its logs yet, and no balance observation: no "
                       "exhaustion forecast (set daily_spend_usd or per_day in [credit.usage], or run "
                       "`reminderd balance AMOUNT`)")
