"""Spent is spent (issue 17 part 1): what Claude Code's logs show as spent since the last known
balance bounds the balance, hand-worked on the review's own case (review-43ba1b3.md C1), a
balance that drops beyond what use explains is an event, and the plan's quota, where known,
decides which hours count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import assert_golden, la, make_config

from reminderd.facts import Facts
from reminderd.forecast import Observation
from reminderd.logged import LoggedSpend, log_rates, spend_bound
from reminderd.prices import Tokens
from reminderd.quota import Limit, QuotaSample, history
from reminderd.spend import LoggedUsage
from reminderd.state import State
from reminderd.timeline import plan

CLAIMED = la(2026, 2, 6, 9, 30)
OPUS_OUT = 25 / 1e6  # USD per output token of Opus 4.6


def usage(spend: dict[datetime, float], scanned_at: datetime) -> LoggedUsage:
    """A ledger holding `spend` (hour -> USD of Opus 4.6 output) as tokens, as the reader writes it."""
    hours = {f"{at.astimezone(UTC):%Y-%m-%dT%H}": {"claude-opus-4-6": Tokens(output=round(usd / OPUS_OUT))}
             for at, usd in spend.items()}
    return LoggedUsage(hours, {}, 1, scanned_at)


def burst() -> dict[datetime, float]:
    """The review's C1: USD 17 a day of Opus 4.6 on Feb 7-9 (12:00 PST), then USD 0.50 a day."""
    return {datetime(2026, 2, 7 + i, 20, tzinfo=UTC): 17.0 if i < 3 else 0.5 for i in range(17)}


LOGS = """
claimed_at = 2026-02-06T09:30:00
[credit.usage]
claude_code_logs = true
"""


def by_id(timeline) -> dict:  # type: ignore[no-untyped-def]
    return {r.id.split("/", 1)[1]: r for r in timeline.reminders}


def test_logs_over_the_credit_say_it_may_be_spent_and_nothing_goes_unused() -> None:
    now = la(2026, 2, 24, 9, 0)
    config = make_config(LOGS)
    timeline = plan(config, State(), now, Facts(usage={"c": usage(burst(), now)}))
    fc = timeline.credits[0].forecast
    assert fc is not None and fc.bound is not None
    # 3 x 17 + 14 x 0.50 = 58 since the claim; 51 by the end of the 12:00 PST hour of Feb 9
    assert fc.bound.logged_usd == pytest.approx(58.0) and fc.bound.lowest_usd == pytest.approx(-8.0)
    assert fc.bound.spent_at == la(2026, 2, 9, 13, 0)
    assert fc.earliest_exhaustion == la(2026, 2, 9, 13, 0)
    reminders = by_id(timeline)
    spent = reminders["logged-spend/since-claim"]
    assert spent.due == la(2026, 2, 9, 13, 0) and spent.is_live(now)
    assert spent.title == "Claude usage credit may be spent: your Claude Code use since Feb 6 came to USD 58.00"
    assert "USD 58.00 at API prices, could have used the whole USD 50 credit" in spent.body
    assert ("record it with `reminderd balance AMOUNT`, or turn usage credits (formerly Extra Usage) and Auto-Reload "
            "off") in spent.body
    assert not any(r.kind == "unused-credit" for r in timeline.reminders)
    assert "exhaustion/at" not in reminders  # the logs say it, with what they know
    assert fc.unused_at_expiry().low == 0.0


def test_a_reading_after_the_spend_starts_the_bound_again() -> None:
    now = la(2026, 2, 24, 9, 0)
    config = make_config(LOGS)
    state = State().with_observation("c", Observation(la(2026, 2, 20, 8, 0), 30.0))
    fc = plan(config, state, now, Facts(usage={"c": usage(burst(), now)})).credits[0].forecast
    assert fc is not None and fc.bound is not None
    # counted from the reading: the 12:00 PST use of Feb 20, 21, 22 and 23
    assert (fc.bound.since, fc.bound.balance_usd, fc.bound.logged_usd) == (la(2026, 2, 20, 8), 30.0, 2.0)
    assert fc.bound.spent_at is None
    assert "logged-spend/since-claim" not in by_id(plan(config, state, now, Facts(usage={"c": usage(burst(), now)})))


def test_the_logs_are_known_up_to_now_only() -> None:
    config = make_config(LOGS)
    early = la(2026, 2, 8, 9, 0)  # status --at an earlier moment: the later hours are not known yet
    fc = plan(config, State(), early, Facts(usage={"c": usage(burst(), la(2026, 2, 24))})).credits[0].forecast
    assert fc is not None and fc.bound is not None
    assert fc.bound.logged_usd == pytest.approx(17.0) and fc.bound.as_of == early


def test_one_heavy_day_in_fourteen_keeps_the_logs_high_rate() -> None:
    rates = log_rates([45.0] + [0.0] * 13)  # the review's case: p90 is 0
    assert rates is not None and rates.high == 45.0 and rates.expected == 45.0


def test_the_pace_counts_only_whole_days_and_hours_after_a_reading() -> None:
    logged = LoggedSpend(((la(2026, 2, 7, 12), 1.0), (la(2026, 2, 7, 13), 2.0), (la(2026, 2, 8, 12), 4.0)),
                         la(2026, 2, 9))
    bound = spend_bound(logged, la(2026, 2, 7, 13, 30), 10.0)  # the hour of the reading counts: safe side
    assert bound.logged_usd == 6.0 and bound.lowest_usd == 4.0
    assert bound.reached(5.0) == la(2026, 2, 8, 13) and bound.reached(3.0) is None


DROP = """
claimed_at = 2026-02-06T09:30:00
[credit.usage]
daily_spend_usd = 1.0
claude_code_logs = true
"""


def drop_state() -> State:
    return (State().with_observation("c", Observation(la(2026, 2, 11, 18), 45.0))
            .with_observation("c", Observation(la(2026, 2, 18, 18), 10.0)))  # 35 gone in 7 days


def test_a_balance_that_falls_beyond_logged_use_is_an_event_not_a_pace() -> None:
    now = la(2026, 2, 20, 12)
    spend = {datetime(2026, 2, 7 + i, 20, tzinfo=UTC): 1.0 for i in range(12)}  # USD 1 a day, logged
    state = drop_state()
    timeline = plan(make_config(DROP), state, now, Facts(usage={"c": usage(spend, now)}))
    ct = timeline.credits[0]
    assert ct.forecast is not None
    (drop,) = ct.forecast.drops
    # logged between the readings: Feb 12-18, 7 x 1.00; the profile's high rate 1.20 a day x 7 days
    assert drop.explained_usd == pytest.approx(7.0 + 1.2 * 7) and drop.unexplained_usd == pytest.approx(19.6)
    assert any("the balance fell by USD 19.60 more than your logged use" in w for w in ct.warnings)
    reminder = by_id(timeline)["balance-drop/20260219T0200Z"]
    assert reminder.title == "Your Claude usage credit balance fell by USD 19.60 more than your use explains"
    assert "Settings > Usage" in reminder.body and reminder.is_live(now)
    # the expected pace ignores the vanished part: 5 + 15.4 spent in 12.35 days; the high one does not
    days = (la(2026, 2, 18, 18) - CLAIMED) / timedelta(days=1)
    assert ct.forecast.rate.expected == pytest.approx((5 + 15.4) / days)
    assert ct.forecast.rate.high >= 35 / 7


def test_without_logs_a_drop_is_spend() -> None:
    now = la(2026, 2, 20, 12)
    state = State().with_observation("c", Observation(la(2026, 2, 16, 9, 30), 20.0))
    ct = plan(make_config("claimed_at = 2026-02-06T09:30:00\n[credit.usage]\ndaily_spend_usd = 0.5\n"),
              state, now).credits[0]
    assert ct.forecast is not None and ct.forecast.drops == () and ct.forecast.rate.expected == pytest.approx(3.0)


def sample(at: datetime, five: float | None, seven: float | None) -> QuotaSample:
    return QuotaSample(at, None if five is None else Limit(five, at + timedelta(hours=2)),
                       None if seven is None else Limit(seven, at + timedelta(days=3)))


def test_hours_the_plan_is_known_to_have_paid_do_not_count() -> None:
    now = la(2026, 2, 10, 18)
    spend = {la(2026, 2, 10, 12): 30.0, la(2026, 2, 10, 14): 30.0}
    quota = (sample(la(2026, 2, 10, 13, 59), 60.0, 40.0),  # both limits below 100 % from 11:00 on
             sample(la(2026, 2, 10, 14, 30), 100.0, 41.0))  # the 5-hour limit at 100 %: credits pay
    known = history(quota, now)
    assert known.plan_paid(la(2026, 2, 10, 12), la(2026, 2, 10, 13))
    assert not known.plan_paid(la(2026, 2, 10, 14), la(2026, 2, 10, 15))
    fc = plan(make_config(LOGS), State(), now, Facts(usage={"c": usage(spend, now)}, quota=quota)).credits[0].forecast
    assert fc is not None and fc.bound is not None and fc.bound.logged_usd == pytest.approx(30.0)
    unknown = plan(make_config(LOGS), State(), now, Facts(usage={"c": usage(spend, now)})).credits[0].forecast
    assert unknown is not None and unknown.bound is not None and unknown.bound.logged_usd == pytest.approx(60.0)


def test_fast_mode_counts_even_while_the_plan_pays() -> None:
    now = la(2026, 2, 10, 18)
    hours = {"2026-02-10T20": {"claude-opus-4-6@fast": Tokens(output=100_000)}}  # 150/M: USD 15
    quota = (sample(la(2026, 2, 10, 12, 59), 10.0, 10.0), sample(la(2026, 2, 10, 13, 1), 10.0, 10.0))
    facts = Facts(usage={"c": LoggedUsage(hours, {}, 1, now)}, quota=quota)
    fc = plan(make_config(LOGS), State(), now, facts).credits[0].forecast
    assert fc is not None and fc.bound is not None and fc.bound.logged_usd == pytest.approx(15.0)


def test_a_sample_without_limits_or_with_a_past_reset_tells_nothing() -> None:
    at = la(2026, 2, 10, 12)
    known = history([QuotaSample(at, None, Limit(10, at + timedelta(days=1))),
                     QuotaSample(at, Limit(10, at - timedelta(minutes=1)), Limit(10, at + timedelta(days=1)))],
                    at + timedelta(hours=1))
    assert not known.plan_paid(at - timedelta(hours=1), at)


# -- status renders every basis (issue 17 part 2; review M1) ---------------------------------------


def _transcript(path: Path, spend: dict[datetime, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"type": "assistant", "timestamp": f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z",
                         "requestId": f"r{i}", "message": {"id": f"m{i}", "model": "claude-opus-4-6",
                                                           "usage": {"input_tokens": 0,
                                                                     "output_tokens": round(usd / OPUS_OUT)}}})
             for i, (at, usd) in enumerate(sorted(spend.items()))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


BASES = {
    "profile": "[credit.usage]\ndaily_spend_usd = 1.5\n",
    "observations": "",
    "logs": "[credit.usage]\nclaude_code_logs = true\nclaude_code_dirs = [\"{root}\"]\n",
    "all": "[credit.usage]\ndaily_spend_usd = 1.5\nclaude_code_logs = true\nclaude_code_dirs = [\"{root}\"]\n",
}


@pytest.mark.parametrize("basis", sorted(BASES))
def test_status_renders_every_basis(basis: str, cli, write_config, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from freezegun import freeze_time

    root = tmp_path / "claude"
    _transcript(root / "projects" / "p" / "s.jsonl", burst())
    config = write_config('timezone = "America/Los_Angeles"\n[[credit]]\nid = "c"\nplan = "pro"\n'
                          "subscribed_at = 2025-09-01\nclaimed_at = 2026-02-06T09:30:00\n"
                          + BASES[basis].format(root=root))
    monkeypatch.chdir(config.parent)  # the golden holds the config's name as typed, not this run's tmp path
    config = Path(config.name)
    with freeze_time("2026-02-24T17:00:00Z"):
        if basis in ("observations", "all"):
            assert cli("--config", str(config), "balance", "44", "--at", "2026-02-08T12:00").exit_code == 0
        text = cli("--config", str(config), "status")
        data = cli("--config", str(config), "status", "--json")
    assert text.exit_code == 0 and data.exit_code == 0, text.output + data.output
    assert_golden(f"status-basis-{basis}.txt", text.stdout)
    forecast = json.loads(data.stdout)["credits"][0]["forecast"]
    assert forecast["sources"] == {"profile": ["profile"], "observations": ["observations"],
                                   "logs": ["claude-code-logs"],
                                   "all": ["profile", "observations", "claude-code-logs"]}[basis]

