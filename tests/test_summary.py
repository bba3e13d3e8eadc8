"""The summary for Claude Code (summary.py, summary_file.py): what it holds for a credit expiring
tomorrow, what a reader at a later moment takes from it, and when the file is "not ready"."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import la, make_config
from hypothesis import given
from hypothesis import strategies as st

from reminderd import summary, summary_file
from reminderd.facts import AccountFacts, Facts
from reminderd.quota import Limit, QuotaSample
from reminderd.snooze import with_snooze
from reminderd.state import State
from reminderd.summary import summarize
from reminderd.summary_file import read_summary, urgent, words_at, write_summary
from reminderd.timeline import plan
from reminderd.timeutil import format_span

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\nclaimed_at = 2026-02-06T09:30:00\n'
EXPIRES = la(2026, 4, 7, 9, 30)
TOMORROW = la(2026, 4, 6, 10, 0)  # 23 h 30 min before the expiry: the 1-day reminder is due
USAGE = "[credit.usage]\ndaily_spend_usd = 0.5\n"


def planned(now: datetime = TOMORROW, state: State | None = None, facts: Facts | None = None, body: str = USAGE):
    config = make_config(body, credit=CREDIT)
    return plan(config, state or State(), now, facts or Facts())


def switch_on(now: datetime = TOMORROW) -> Facts:
    return Facts(account=AccountFacts(read_at=now - timedelta(hours=1), usage_credits_on=True))


def test_a_credit_expiring_tomorrow_with_usage_credits_on() -> None:
    content = summarize(planned(facts=switch_on()), State(), TOMORROW)
    (credit,) = content["credits"]
    assert credit | {"balance": None, "lowest": None} == {
        "id": "c", "label": "c", "phase": "active", "currency": "USD", "amount": 50.0, "balance": None,
        "lowest": None, "per_day": 0.5, "expires_at": "2026-04-07T09:30:00-07:00",
        "expires_local": "Tue 2026-04-07 09:30 PDT", "claim_deadline": None, "usage_credits": "on",
        "switch": "usage credits (formerly Extra Usage)",
        "where": "the Claude web app, Settings > Usage (the mobile apps cannot change it)",
        "done": "reminderd done extra-usage-off"}
    assert 20.0 < credit["balance"] < 21.0  # 50 - 0.5 a day for 59 days
    ids = [r["id"] for r in content["reminders"]]
    assert ids[0] == "c/expiry/at" and "c/expiry/-1d" in ids and "c/expiry/-7d" not in ids  # not "soon"
    reminder = urgent(content | {"written_at": TOMORROW.isoformat()}, TOMORROW)
    assert reminder is not None and reminder["id"] == "c/expiry/-1d"
    assert words_at(reminder, TOMORROW) == "Claude usage credit expires in 23 hours 30 minutes: turn usage credits off"
    assert reminder["done"] == "reminderd done extra-usage-off" and "bills your card" in reminder["message"]


def test_an_acknowledged_credit_has_no_urgent_reminder_and_usage_credits_off() -> None:
    state = State().with_acknowledged("c", "extra-usage-off", TOMORROW - timedelta(days=2))
    content = summarize(planned(state=state), state, TOMORROW)
    assert content["reminders"] == [] and content["credits"][0]["usage_credits"] == "off"


def test_a_reader_later_takes_the_reminder_live_then_and_says_the_time_left_then() -> None:
    document = summarize(planned(), State(), TOMORROW)
    later = EXPIRES - timedelta(hours=1, minutes=10)  # the 2-hour reminder is due, within AHEAD
    reminder = urgent(document, later)
    assert reminder is not None and reminder["id"] == "c/expiry/-2h"
    assert words_at(reminder, later) == "Claude usage credit expires in 1 hour 10 minutes: turn usage credits off"
    after = urgent(document, EXPIRES + timedelta(minutes=1))
    assert after is not None and after["id"] == "c/expiry/at"  # "expired" outranks every warning
    assert words_at(after, EXPIRES + timedelta(minutes=1)) == "Claude usage credit expired: turn usage credits off"
    assert urgent(document, TOMORROW - timedelta(days=1)) is None  # nothing was due yet


def test_a_snoozed_reminder_waits_for_its_snooze() -> None:
    state = with_snooze(State(), "c/expiry/-1d", TOMORROW + timedelta(hours=1))
    document = summarize(planned(state=state), state, TOMORROW)
    assert urgent(document, TOMORROW) is None
    reminder = urgent(document, TOMORROW + timedelta(hours=1))
    assert reminder is not None and reminder["id"] == "c/expiry/-1d"


def test_an_expired_credit_stays_in_play_a_week_unless_switched_off() -> None:
    week = EXPIRES + summary.RECENT
    assert [c["phase"] for c in summarize(planned(EXPIRES + timedelta(days=1)), State(),
                                          EXPIRES + timedelta(days=1))["credits"]] == ["expired"]
    assert summarize(planned(week + timedelta(minutes=1)), State(), week + timedelta(minutes=1))["credits"] == []
    off = State().with_acknowledged("c", "extra-usage-off", EXPIRES)
    assert summarize(planned(EXPIRES + timedelta(days=1), off), off, EXPIRES + timedelta(days=1))["credits"] == []


def test_a_claimable_credit_names_its_deadline_and_the_claim_reminders_are_urgent() -> None:
    now = la(2026, 2, 16, 12, 0)
    config = make_config(credit='[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n')
    content = summarize(plan(config, State(), now), State(), now)
    assert content["credits"][0]["phase"] == "claimable"
    assert content["credits"][0]["claim_deadline"] == "2026-02-16T23:59:59-08:00"
    assert urgent(content, now)["kind"] == "claim-deadline"  # type: ignore[index]


def test_the_plan_limit_the_samples_show_is_in_the_timeline_and_the_summary() -> None:
    reached, resets = TOMORROW - timedelta(hours=1), TOMORROW + timedelta(hours=2)
    samples = (QuotaSample(reached - timedelta(hours=1), Limit(80, resets), Limit(40, resets + timedelta(days=3))),
               QuotaSample(reached, Limit(100, resets), Limit(41, resets + timedelta(days=3))))
    timeline = planned(facts=Facts(quota=samples))
    assert timeline.plan_limit == (reached, resets)
    assert summarize(timeline, State(), TOMORROW)["plan_limit"] == {"reached_at": reached.isoformat(),
                                                                      "until": resets.isoformat()}
    assert planned().plan_limit is None


# -- the file -----------------------------------------------------------------------------------


def test_written_atomically_private_and_read_back(tmp_path: Path) -> None:
    assert write_summary(tmp_path, planned(), State(), TOMORROW) is None
    path = tmp_path / summary_file.NAME
    assert os.stat(path).st_mode & 0o777 == 0o600
    document = read_summary(tmp_path, TOMORROW + timedelta(hours=23))
    assert document is not None and document["schema_version"] == 1
    assert document["written_at"] == TOMORROW.isoformat() and document["credits"][0]["id"] == "c"
    assert [p.name for p in tmp_path.iterdir()] == [summary_file.NAME]  # no temporary file left


@pytest.mark.parametrize("damage", [
    "missing", "old", "ahead", "not-json", "truncated", "newer", "bool-version", "array", "no-credits", "huge",
    "naive-time"])
def test_not_ready(tmp_path: Path, damage: str) -> None:
    write_summary(tmp_path, planned(), State(), TOMORROW)
    path = tmp_path / summary_file.NAME
    document = json.loads(path.read_text())
    now = TOMORROW + timedelta(minutes=5)
    if damage == "missing":
        path.unlink()
    elif damage == "old":
        now = TOMORROW + summary_file.MAX_AGE + timedelta(seconds=1)
    elif damage == "ahead":
        now = TOMORROW - summary_file.MAX_AGE - timedelta(seconds=1)
    elif damage == "not-json":
        path.write_text("{ not json")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "newer":
        path.write_text(json.dumps(document | {"schema_version": 2}))
    elif damage == "bool-version":
        path.write_text(json.dumps(document | {"schema_version": True}))
    elif damage == "array":
        path.write_text("[1, 2]")
    elif damage == "no-credits":
        path.write_text(json.dumps(document | {"credits": None}))
    elif damage == "huge":
        path.write_text(json.dumps(document | {"padding": "x" * summary_file.MAX_BYTES}))
    elif damage == "naive-time":
        path.write_text(json.dumps(document | {"written_at": "2026-04-06T10:00:00"}))
    assert read_summary(tmp_path, now) is None
    assert read_summary(tmp_path, TOMORROW) is None or damage in ("old", "ahead")


def test_damaged_entries_are_skipped_by_readers(tmp_path: Path) -> None:
    document = summarize(planned(), State(), TOMORROW)
    document["reminders"] = [None, {"id": 3}, {"id": "x", "words": "w", "rank": "1", "due": "2026-01-01T00:00Z"},
                             {"id": "y", "words": "w", "rank": 0, "due": "yesterday"}, *document["reminders"]]
    document["credits"] = ["c", {"id": None}, *document["credits"]]
    assert urgent(document, TOMORROW)["id"] == "c/expiry/-1d"  # type: ignore[index]
    assert [c["id"] for c in summary_file.credits(document)] == ["c"]


def test_an_unchanged_summary_is_not_rewritten_for_a_while(tmp_path: Path) -> None:
    write_summary(tmp_path, planned(), State(), TOMORROW)
    path = tmp_path / summary_file.NAME
    os.utime(path, (0, 0))
    write_summary(tmp_path, planned(TOMORROW + timedelta(minutes=1)), State(), TOMORROW + timedelta(minutes=1))
    assert os.stat(path).st_mtime == 0  # the same words: not written again
    later = TOMORROW + summary_file.REWRITE_AFTER
    write_summary(tmp_path, planned(later), State(), later)
    assert os.stat(path).st_mtime > 0 and json.loads(path.read_text())["written_at"] == later.isoformat()


def test_a_summary_that_cannot_be_written_is_one_line_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    problem = write_summary(tmp_path / "file", planned(), State(), TOMORROW)
    assert problem is not None and "cannot write" in problem and "\n" not in problem


@given(st.integers(0, 400 * 86400), st.sampled_from([1, 2]))
def test_span_words_are_format_span(seconds: int, units: int) -> None:
    assert summary_file.span_words(timedelta(seconds=seconds), units) == format_span(timedelta(seconds=seconds), units)


def test_the_readers_recent_is_the_summarys() -> None:
    assert summary_file.RECENT == summary.RECENT


def test_the_balance_goes_on_at_its_pace_from_the_summarys_time() -> None:
    entry = {"balance": 10.0, "per_day": 2.0}
    written = datetime(2026, 4, 6, tzinfo=UTC)
    assert summary_file.balance_at(entry, written, written + timedelta(hours=12)) == 9.0
    assert summary_file.balance_at(entry, written, written + timedelta(days=9)) == 0.0
    assert summary_file.balance_at({"balance": None}, written, written) is None
    assert summary_file.balance_at({"balance": True}, written, written) is None
