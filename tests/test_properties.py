"""The rules of the timeline (README, "How reminderd counts"), proven over generated inputs.

Each rule_* function states one rule for a plan() output; test_every_rule_holds checks all of
them on every generated case (drawing a case costs more than checking it): zones with
half-hour offsets and southern DST, quiet hours crossing midnight or not (one minute to
23 h 59 min), claims across and outside the window, any lead lists, usage profiles, and
reading sequences with rises, equal instants, readings before the claim and after expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from strategies import Scenario, logged_usage, readings, scenarios, state_with

from reminderd.catchup import held_by_quiet_hours, to_deliver
from reminderd.config import parse_config
from reminderd.facts import AccountFacts, Facts, GrantedCredit, Money
from reminderd.forecast import forecast, profile_rate
from reminderd.instance import DaemonInfo
from reminderd.quiet import BEFORE_QUIET, place, quiet_period
from reminderd.report import status_json, status_text
from reminderd.state import State
from reminderd.timeline import Reminder, Timeline, plan
from reminderd.timeutil import format_span, parse_duration

ANNOUNCING = ("expiry/at", "exhaustion/at", "logged-spend/", "balance-drop/", "card-paying/")  # the event happened


def nows(scenario: Scenario) -> st.SearchStrategy[datetime]:
    base = scenario.claimed_at or datetime(2026, 2, 10, tzinfo=UTC)
    return st.integers(-6 * 24, 75 * 24).map(lambda h: base + timedelta(hours=h))


@st.composite
def planned(draw: st.DrawFn, claimed: bool | None = None) -> tuple[Scenario, Timeline, State]:
    scenario = draw(scenarios(claimed))
    now = draw(nows(scenario))
    state = state_with(draw(readings(scenario.claimed_at or now)))
    usage = {"c": draw(logged_usage(scenario.claimed_at or now))} if scenario.reads_logs else {}
    facts = Facts(usage=usage, account=draw(st.none() | accounts(now)))
    return scenario, plan(parse_config(scenario.text, "gen.toml"), state, now, facts), state


@st.composite
def accounts(draw: st.DrawFn, now: datetime) -> AccountFacts:
    """What the account may say around `now`: the switch, and credits (matching the claim or
    not, spent or not, gone or not) in USD or another currency."""
    credits = draw(st.lists(st.builds(
        lambda cents, minutes, currency: GrantedCredit(Money(cents, currency), now + timedelta(minutes=minutes)),
        st.integers(0, 20_000), st.integers(-90 * 1440, 90 * 1440), st.sampled_from(["USD", "EUR"])), max_size=3))
    read_at = now - timedelta(minutes=draw(st.integers(-60, 3 * 24 * 60)))  # a reading from the future is unknown
    return AccountFacts(read_at, draw(st.none() | st.booleans()), credits=tuple(credits))


def kind_label(r: Reminder) -> str:
    return r.id.removeprefix(f"{r.credit_id}/")


def series(timeline: Timeline) -> dict[str, list[Reminder]]:
    out: dict[str, list[Reminder]] = {}
    for r in timeline.reminders:
        out.setdefault(r.series, []).append(r)
    return out


def rule_an_announcement_is_never_due_before_its_event(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    for r in timeline.reminders:
        if kind_label(r).startswith(ANNOUNCING):
            assert r.event_at is not None and r.due >= r.event_at, r


def rule_a_warning_is_due_before_what_it_warns_about_and_worth_sending(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    for r in timeline.reminders:
        if r.until is not None:
            assert r.due < r.until, r
        if r.event_at is not None and not kind_label(r).startswith(ANNOUNCING):
            assert r.due < r.event_at, r  # quiet hours never move a warning past its event


def rule_a_lead_title_says_the_time_left_at_its_due_time(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    for r in timeline.reminders:
        if r.lead_title:
            assert r.event_at is not None
            assert r.title == r.lead_title.replace("{left}", format_span(r.event_at - r.due, units=2))
            _assert_true_time_left(r.title, r.lead_title, r.event_at - r.due, rounding=timedelta(0))
            # and when sent later, it says the time left then (to the nearest minute)
            for late in (timedelta(seconds=1), timedelta(minutes=7), timedelta(hours=3)):
                if r.until is None or r.due + late < r.until:
                    _assert_true_time_left(r.title_at(r.due + late), r.lead_title, r.event_at - r.due - late,
                                           rounding=timedelta(seconds=30))


UNIT = {"day": timedelta(days=1), "hour": timedelta(hours=1), "minute": timedelta(minutes=1)}


def _assert_true_time_left(title: str, template: str, left: timedelta, rounding: timedelta) -> None:
    """Never more than the time left; less by under the smallest unit it names (it rounds down)."""
    before, after = template.split("{left}")
    words = title.removeprefix(before).removesuffix(after).split()
    said, smallest = timedelta(0), UNIT["minute"]
    if words != ["less", "than", "a", "minute"]:
        for count, unit in zip(words[::2], words[1::2], strict=True):
            said += int(count) * UNIT[unit.rstrip("s")]
            smallest = UNIT[unit.rstrip("s")]
    assert said <= left + rounding, (title, left)
    assert left - said < smallest + rounding, (title, left)


def rule_quiet_hours_hold_a_reminder_only_when_nothing_else_is_in_time(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    for r in timeline.reminders:
        period = quiet_period(r.due, timeline.quiet_hours, timeline.zone)
        if period is not None:
            # only a warning whose event comes before quiet hours end, with no earlier moment free
            assert not kind_label(r).startswith(ANNOUNCING) and r.event_at is not None and r.event_at <= period[1], r
            assert period[0] - BEFORE_QUIET <= _series_start(timeline, r), r


def _series_start(timeline: Timeline, r: Reminder) -> datetime:
    ct = next(c for c in timeline.credits if c.credit.id == r.credit_id)
    return ct.claimed_at if ct.claimed_at is not None else ct.claim_opens


def rule_an_id_names_one_reminder(case: tuple[Scenario, Timeline, State]) -> None:
    """Deliveries, snoozes and status are keyed by the id (the card-paying series once gave two
    reminders of one day the same one)."""
    _, timeline, _ = case
    ids = [r.id for r in timeline.reminders]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def rule_a_series_keeps_its_order_and_never_collapses(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    for members in series(timeline).values():
        dues = [r.due for r in members]
        assert dues == sorted(dues) and len(set(dues)) == len(dues), members
        # a lead series in the order of its leads: the one closer to the event comes later
        nominal = [_nominal(r) for r in members]
        if None not in nominal:
            assert nominal == sorted(nominal), members


def _nominal(r: Reminder) -> datetime | None:
    label = r.id.rsplit("/", 1)[1]
    lead = parse_duration(label[1:]) if label.startswith("-") else None
    if label == "at":
        return r.event_at
    return r.event_at - lead if lead is not None and r.event_at is not None else None


def rule_readings_never_remove_a_warning_the_profile_gives(case: tuple[Scenario, Timeline, State]) -> None:
    scenario, timeline, state = case
    ct = timeline.credits[0]
    if ct.claimed_at is None or ct.expires_at is None or not scenario.has_profile:
        return
    profile = profile_rate(ct.credit.usage, ct.credit.offer)
    assert profile is not None and ct.forecast is not None  # a profile always gives a forecast
    fc = ct.forecast
    assert fc.rate.high >= profile.high - 1e-9
    assert fc.rate.low <= fc.rate.expected <= fc.rate.high
    # the earliest exhaustion is never later than the profile's high rate from the latest reading
    from_reference = fc.when_balance_reaches(0.0, profile.high)
    if from_reference is not None:
        assert fc.earliest_exhaustion is not None and fc.earliest_exhaustion <= from_reference
    # and the profile alone, without readings, warns no earlier than the latest reading allows
    alone = forecast(ct.credit.offer, ct.credit.usage, ct.claimed_at, ct.expires_at, (), timeline.now)
    assert alone is not None and alone.rate.high <= fc.rate.high + 1e-9


def rule_a_rising_balance_is_said_to_be_a_top_up(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    ct = timeline.credits[0]
    if ct.forecast is None:
        return
    rises = len(ct.forecast.top_ups)
    assert sum("the balance rose" in w for w in ct.warnings) == rises


@given(scenarios(), st.data())
def test_records_count_as_of_now(scenario: Scenario, data: st.DataObject) -> None:
    now = data.draw(nows(scenario))
    later = now + timedelta(hours=data.draw(st.integers(1, 2000)))
    config = parse_config(scenario.text, "gen.toml")
    observations = data.draw(readings(scenario.claimed_at or now))
    state = state_with(observations, {"extra-usage-off": later, "auto-reload-off": later})
    assert plan(config, state, now) == plan(config, state.as_of(now), now)
    # an acknowledgement from the future silences nothing yet
    assert plan(config, state, now).reminders == plan(config, state_with(observations), now).reminders


def rule_catch_up_sends_one_per_series_and_respects_quiet_hours(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, state = case
    sent = to_deliver(timeline, State())
    assert len({r.series for r in sent}) == len(sent)
    for r in sent:
        assert r.is_live(timeline.now)
        assert not held_by_quiet_hours(timeline, r)
        period = quiet_period(timeline.now, timeline.quiet_hours, timeline.zone)
        if period is not None:  # sent in quiet hours only when it would be too late after them
            assert (r.until is not None and r.until <= period[1]) or (
                r.event_at is not None and timeline.now < r.event_at <= period[1]), r


def rule_logs_that_could_have_spent_the_balance_say_so_now_and_nothing_goes_unused(
        case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, _ = case
    ct = timeline.credits[0]
    fc = ct.forecast
    said = [r for r in timeline.reminders if r.kind == "logged-spend"]
    if fc is None or fc.bound is None or fc.bound.lowest_usd > 0 or ct.expires_at is None \
            or fc.bound.spent_at is None or fc.bound.spent_at >= ct.expires_at:
        assert said == [] or ct.forecast is None or ct.credit.offer.actions[0] in ct.acknowledged
        return
    if ct.credit.offer.actions[0] in ct.acknowledged:
        return  # the user turned it off: nothing more to say
    assert fc.bound.spent_at <= timeline.now
    (reminder,) = said
    # due when the logs reached the balance, or at the end of the quiet hours it fell in
    assert reminder.due == place(fc.bound.spent_at, fc.bound.spent_at, True, ct.claimed_at or reminder.due,
                                 timeline.quiet_hours, timeline.zone)
    assert reminder.due <= timeline.now or quiet_period(fc.bound.spent_at, timeline.quiet_hours, timeline.zone)
    assert not any(r.kind == "unused-credit" for r in timeline.reminders)
    assert fc.earliest_exhaustion is not None and fc.earliest_exhaustion <= fc.bound.spent_at


def rule_the_bound_starts_at_the_last_known_balance(case: tuple[Scenario, Timeline, State]) -> None:
    _, timeline, state = case
    ct = timeline.credits[0]
    if ct.forecast is None or ct.forecast.bound is None or ct.claimed_at is None or ct.expires_at is None:
        return
    if "account" in ct.forecast.sources:
        return  # the account's reading is a known balance too (test_account_timeline)
    known = [o for o in state.as_of(timeline.now).observations.get("c", ()) if ct.claimed_at < o.at < ct.expires_at]
    since = known[-1].at if known else ct.claimed_at
    balance = known[-1].remaining_usd if known else ct.credit.offer.amount_usd
    assert (ct.forecast.bound.since, ct.forecast.bound.balance_usd) == (since, balance)
    assert ct.forecast.bound.as_of <= timeline.now


RULES = [rule for name, rule in sorted(globals().items()) if name.startswith("rule_")]


@given(planned())
def test_every_rule_holds(case: tuple[Scenario, Timeline, State]) -> None:
    for rule in RULES:
        rule(case)


@given(st.data())
def test_logs_over_the_balance_say_so(data: st.DataObject) -> None:
    """The logs' rules on cases where the logs could have spent the credit (rare in planned())."""
    scenario = data.draw(scenarios(claimed=True, logs=True))
    assert scenario.claimed_at is not None
    now = scenario.claimed_at + timedelta(hours=data.draw(st.integers(1, 62 * 24)))
    state = state_with(data.draw(readings(scenario.claimed_at)))
    facts = Facts(usage={"c": data.draw(logged_usage(scenario.claimed_at, heavy=True))})
    case = scenario, plan(parse_config(scenario.text, "gen.toml"), state, now, facts), state
    rule_logs_that_could_have_spent_the_balance_say_so_now_and_nothing_goes_unused(case)
    rule_the_bound_starts_at_the_last_known_balance(case)
    rule_an_announcement_is_never_due_before_its_event(case)


def test_the_rules_are_all_checked() -> None:
    assert len(RULES) == 11


@given(planned(), st.booleans())
def test_status_renders_every_generated_case(case: tuple[Scenario, Timeline, State], running: bool) -> None:
    """`status` text and --json for any config, readings and logs (review M1 crashed on the logs)."""
    import json

    _, timeline, state = case
    daemon = DaemonInfo(running, 4242 if running else None, timeline.now if running else None)
    assert status_text(timeline, state, daemon).startswith("As of ")
    json.dumps(status_json(timeline, state, daemon))
