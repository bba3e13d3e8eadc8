"""What the account's facts do to the timeline (issue 20 part 4), worked out by hand: a granted
credit is the configured one whose expiry is within 3 days; its expiry and balance replace the
computed ones; usage credits off acknowledges the reminders to turn them off; a credit nobody
configured is found; once a credit is gone with the switch on, the card is paying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import la, make_config
from hypothesis import given
from hypothesis import strategies as st

from reminderd.facts import AccountFacts, Facts, GrantedCredit, Money
from reminderd.forecast import ACCOUNT
from reminderd.matching import account_view
from reminderd.settings import AccountSettings
from reminderd.state import State
from reminderd.timeline import plan

CLAIMED = "claimed_at = 2026-02-06T09:30:00\n[credit.usage]\ndaily_spend_usd = 1.0\n"
COMPUTED_EXPIRY = la(2026, 4, 7, 9, 30)
ACCOUNT_EXPIRY = datetime(2026, 4, 8, 0, 0, tzinfo=UTC)  # 2026-04-07 17:00 PDT: within 3 days


def usd(amount: float) -> Money:
    return Money(round(amount * 100), "USD")


def facts(read_at: datetime, *credits: GrantedCredit, on: bool | None = True, balance: Money | None = None) -> Facts:
    return Facts(account=AccountFacts(read_at, on, balance=balance, credits=credits))


def reminders(timeline) -> dict:  # type: ignore[no-untyped-def]
    return {r.id.split("/", 1)[1]: r for r in timeline.reminders}


def test_a_granted_credit_gives_the_expiry_and_a_reading() -> None:
    now = la(2026, 3, 1, 12)
    timeline = plan(make_config(CLAIMED), State(), now, facts(now - timedelta(hours=1),
                                                              GrantedCredit(usd(31.40), ACCOUNT_EXPIRY)))
    ct = timeline.credits[0]
    assert (ct.expires_at, ct.expiry_source) == (ACCOUNT_EXPIRY, "account")
    assert ct.forecast is not None and ct.forecast.reference_balance_usd == 31.40
    assert "observations" in ct.forecast.sources and "account" in ct.forecast.sources
    assert reminders(timeline)["expiry/at"].due == ACCOUNT_EXPIRY.astimezone(la(2026, 1, 1).tzinfo)


def test_a_credit_whose_expiry_is_days_away_is_another_credit() -> None:
    now = la(2026, 3, 1, 12)
    elsewhere = GrantedCredit(Money(2000, "EUR"), datetime(2026, 6, 30, tzinfo=UTC), name="spring credit")
    timeline = plan(make_config(CLAIMED), State(), now, facts(now, elsewhere))
    configured, found = timeline.credits
    assert configured.expiry_source == "computed" and configured.expires_at == COMPUTED_EXPIRY
    assert found.discovered and found.credit.offer.currency == "EUR" and found.credit.offer.name == "spring credit"
    assert found.expires_at == datetime(2026, 6, 30, tzinfo=UTC)
    assert f"{found.credit.id}/expiry/-7d" in {r.id for r in timeline.reminders}


def test_usage_credits_off_acknowledges_and_on_again_takes_it_back() -> None:
    config = make_config(CLAIMED)
    read = la(2026, 3, 30, 12)
    off = plan(config, State(), read, facts(read, on=False))
    assert off.credits[0].acknowledged == {"extra-usage-off": read}
    assert not any(r.kind == "expiry" for r in off.reminders)
    assert "auto-reload-off" not in off.credits[0].acknowledged  # Auto-Reload is another switch
    manual = State().with_acknowledged("c", "extra-usage-off", la(2026, 3, 29))
    on = plan(config, manual, read, facts(read, on=True))  # the account saw it on after the user said off
    assert on.credits[0].acknowledged == {} and any(r.kind == "expiry" for r in on.reminders)
    later = State().with_acknowledged("c", "extra-usage-off", la(2026, 3, 30, 13))
    assert plan(config, later, la(2026, 3, 30, 14), facts(read, on=True)).credits[0].acknowledged == {
        "extra-usage-off": la(2026, 3, 30, 13)}  # the newer word wins


def test_only_the_credits_this_login_covers() -> None:
    config = make_config(CLAIMED)._replace(account=AccountSettings(claude=True, label="me@home"))
    read = la(2026, 3, 30, 12)
    assert plan(config, State(), read, facts(read, on=False)).credits[0].acknowledged == {}  # its label is unset


def test_the_whole_balance_is_a_reading_only_for_a_lone_credit() -> None:
    now = la(2026, 3, 1, 12)
    ct = plan(make_config(CLAIMED), State(), now, facts(now, balance=usd(12.5))).credits[0]
    assert ct.forecast is not None and ct.forecast.reference_balance_usd == 12.5
    view = account_view(make_config(CLAIMED), AccountFacts(now, True, balance=Money(1250, "EUR")), None, now)
    assert view.readings == {}  # never converted


def test_when_the_credit_is_gone_and_the_switch_is_on_the_card_is_paying_daily() -> None:
    config = make_config(CLAIMED)
    read = COMPUTED_EXPIRY + timedelta(minutes=20)
    timeline = plan(config, State(), read + timedelta(minutes=1), facts(read, on=True))
    paying = [r for r in timeline.reminders if r.kind == "card-paying"]
    assert paying[0].due == read and paying[0].is_live(read + timedelta(minutes=1))
    assert paying[1].due == COMPUTED_EXPIRY + timedelta(days=1)  # then daily at the time it expired
    assert paying[0].title == "Credit gone, usage credits still on: your card is paying now"
    assert "every request now bills your card at API rates" in paying[0].body
    assert not [r for r in plan(config, State(), read, facts(read, on=False)).reminders if r.kind == "card-paying"]
    before = plan(config, State(), read, facts(COMPUTED_EXPIRY - timedelta(hours=1), on=True))
    assert not [r for r in before.reminders if r.kind == "card-paying"]  # on before it went: not known yet


def test_an_account_reading_of_nothing_left_means_gone() -> None:
    now = la(2026, 3, 1, 12)
    timeline = plan(make_config(CLAIMED), State(), now, facts(now - timedelta(hours=2), GrantedCredit(
        usd(0), ACCOUNT_EXPIRY)))
    ct = timeline.credits[0]
    assert ct.gone_at == now - timedelta(hours=2)
    assert [r.kind for r in timeline.reminders if r.is_live(now) and r.kind == "card-paying"] == ["card-paying"]


def test_an_account_reading_from_the_future_is_not_known_yet() -> None:
    now = la(2026, 3, 1, 12)
    later = facts(now + timedelta(hours=1), GrantedCredit(usd(5), ACCOUNT_EXPIRY), on=False)
    ct = plan(make_config(CLAIMED), State(), now, later).credits[0]
    assert ct.acknowledged == {} and ct.expiry_source == "computed"
    assert ct.forecast is not None and ACCOUNT not in ct.forecast.sources


def test_a_credit_found_already_expired_shows_without_a_traceback() -> None:
    """The account helper's finding: an expired tranche without granted_at made a zero-long credit."""
    from reminderd.instance import DaemonInfo
    from reminderd.report import status_json, status_text

    now = la(2026, 10, 1, 12)
    gone = GrantedCredit(usd(0), datetime(2026, 9, 19, tzinfo=UTC))
    timeline = plan(make_config(CLAIMED), State(), now, facts(now, gone, on=True))
    found = timeline.credits[1]
    assert found.discovered and found.phase == "expired" and found.claimed_at is not None
    assert found.claimed_at < found.expires_at  # type: ignore[operator]
    assert "a credit found in your account" in status_text(timeline, State(), DaemonInfo(False, None, None))
    assert status_json(timeline, State(), DaemonInfo(False, None, None))["credits"][1]["phase"] == "expired"


def test_what_the_account_said_is_kept_for_after_a_restart() -> None:
    """The daemon keeps the switch and the figures in the state: a restart, before the account is
    read again, neither forgets that usage credits are off nor the balance it gave."""
    from reminderd.matching import with_account_facts

    config = make_config(CLAIMED)
    read = la(2026, 3, 30, 12)
    said = facts(read, GrantedCredit(usd(12.5), ACCOUNT_EXPIRY), on=False).account
    kept = with_account_facts(State(), config, said, read)
    assert kept.acknowledged["c"] == {"extra-usage-off": read}
    assert [(o.remaining_usd, o.source) for o in kept.observations["c"]] == [(12.5, ACCOUNT)]
    restarted = plan(config, kept, read + timedelta(minutes=1))  # no account facts yet
    assert not any(r.kind == "expiry" for r in restarted.reminders)
    assert with_account_facts(kept, config, said, read + timedelta(hours=1)) == kept  # nothing new: nothing kept
    again = facts(read + timedelta(days=1), GrantedCredit(usd(12.5), ACCOUNT_EXPIRY), on=True).account
    later = with_account_facts(kept, config, again, read + timedelta(days=1))
    assert later.acknowledged["c"] == {}  # on again: the older acknowledgement is taken back
    assert len(later.observations["c"]) == 2  # the same figure, a day on: the pace needs it


def test_the_card_is_not_paying_while_another_credit_of_the_login_holds_money() -> None:
    """newuser-21969a5 problem 1: the February credit gone, an April credit in EUR still holding
    money, usage credits on: the April credit pays, not the card. Once it is gone too, one series
    says the card pays (problem 2: never one per credit), for the credit gone last."""
    config = make_config(CLAIMED)
    april = GrantedCredit(Money(2000, "EUR"), datetime(2026, 7, 1, tzinfo=UTC), name="Usage credit, April 2026")
    june = la(2026, 6, 15, 12)
    running = plan(config, State(), june, facts(june, april, on=True))
    assert [ct.gone_at is not None for ct in running.credits] == [True, False]
    assert not [r for r in running.reminders if r.kind == "card-paying"]
    july = la(2026, 7, 2, 12)
    both_gone = plan(config, State(), july, facts(july, april, on=True))
    paying = [r for r in both_gone.reminders if r.kind == "card-paying"]
    assert paying and {r.credit_id for r in paying} == {both_gone.credits[1].credit.id}
    # then daily, at the hour it went (17:00 PDT), from the next day: one a day, each labelled by its day
    assert [r.due for r in paying][:2] == [july, datetime(2026, 7, 4, tzinfo=UTC)]


def test_a_credit_found_in_the_account_speaks_its_currency_and_asks_the_account() -> None:
    """problems 3 and 4: EUR stays EUR; no claim window or plan is made up; its reminders offer
    "I turned it off", and the command they name is `reminderd account`, which sees the switch."""
    from reminderd.actions import actions_for, done_action
    from reminderd.instance import DaemonInfo
    from reminderd.report import status_text

    config = make_config(CLAIMED)
    april = GrantedCredit(Money(2000, "EUR"), datetime(2026, 7, 1, tzinfo=UTC), name="Usage credit, April 2026")
    now = la(2026, 6, 25, 12)
    timeline = plan(config, State(), now, facts(now, april, on=True))
    text = status_text(timeline, State(), DaemonInfo(False, None, None))
    found = text.split("\n\n")[2]
    assert found.startswith("account-2026-06-30: Usage credit, April 2026, EUR 20\n")
    assert "Found in          your Claude account, read Thu 2026-06-25 12:00 PDT" in found
    assert "Granted           not said by the account" in found
    assert "Eligibility" not in found and "Claim window" not in found and "Time left" not in found
    expiry = next(r for r in timeline.reminders if r.credit_id == "account-2026-06-30" and r.kind == "expiry")
    assert expiry.title.startswith("account-2026-06-30: ")  # two credits: each title names its own
    assert "Your EUR 20 credit" in expiry.body
    assert done_action(expiry, config) == "extra-usage-off"
    assert actions_for(expiry, config, lambda key: None).buttons[0] == ("done", "I turned it off")


@given(credits=st.lists(st.tuples(st.integers(0, 3000), st.integers(-90, 120), st.sampled_from(["USD", "EUR"])),
                        max_size=3),
       on=st.booleans(), days=st.integers(0, 200), read_ago=st.integers(0, 72))
def test_the_card_paying_rule(credits: list[tuple[int, int, str]], on: bool, days: int, read_ago: int) -> None:
    """Whatever the account holds: "your card is paying" is said for at most one credit, only with
    usage credits on, and never while a credit of the login may still hold money."""
    now = la(2026, 2, 10) + timedelta(days=days)
    read = now - timedelta(hours=read_ago)
    granted = [GrantedCredit(Money(cents, currency), now + timedelta(days=offset))
               for cents, offset, currency in credits]
    timeline = plan(make_config(CLAIMED), State(), now, facts(read, *granted, on=on))
    ids = [r.id for r in timeline.reminders]
    assert len(ids) == len(set(ids))  # an id names one reminder: deliveries and status are keyed by it
    payers = {r.credit_id for r in timeline.reminders if r.kind == "card-paying"}
    assert len(payers) <= 1
    if payers:
        assert on
        assert all(ct.gone_at is not None for ct in timeline.credits if ct.claimed_at is not None)


def test_what_to_run_once_it_is_off_is_a_command_that_works_for_each_credit() -> None:
    """A credit found in the account has no config table `done --credit` could name: the hook, the
    summary and status all say `reminderd account`; a configured credit among several names itself."""
    from reminderd.hook import message
    from reminderd.instance import DaemonInfo
    from reminderd.report import status_text
    from reminderd.summary import summarize

    now = la(2026, 10, 1, 12)
    gone = GrantedCredit(usd(0), datetime(2026, 9, 19, tzinfo=UTC))
    timeline = plan(make_config(CLAIMED), State(), now, facts(now, gone, on=True))
    document = summarize(timeline, State(), now)
    found = next(c for c in document["credits"] if c["id"] == timeline.credits[1].credit.id)
    assert found["done"] == "reminderd account"
    urgent = [r for r in document["reminders"] if r["credit"] == found["id"] and r["done"]]
    assert urgent and all(r["done"] == "reminderd account" for r in urgent)
    assert all(message(document, r, now).count("reminderd account") == 1 for r in urgent), \
        [message(document, r, now) for r in urgent]  # said once, not again after the body that says it
    assert "--credit account-" not in message(document, urgent[0], now)
    march = la(2026, 3, 1, 12)  # the configured credit in play beside one found in the account
    beside = summarize(plan(make_config(CLAIMED), State(), march, facts(march, GrantedCredit(
        usd(20), datetime(2026, 5, 1, tzinfo=UTC)), on=True)), State(), march)
    done = {c["id"]: c["done"] for c in beside["credits"]}
    assert done["c"] == "reminderd done extra-usage-off" and len(done) == 2  # the only one in the config
    assert "--credit account-" not in status_text(timeline, State(), DaemonInfo(False, None, None))

    two = make_config(CLAIMED + '[[credit]]\nid = "work"\nplan = "pro"\nsubscribed_at = 2025-09-01\n' + CLAIMED)
    expired = plan(two, State(), la(2026, 4, 20, 12))
    assert "`reminderd done extra-usage-off --credit c`" in status_text(expired, State(), DaemonInfo(False, None, None))


def test_status_shows_a_daily_series_once_not_a_month_of_lines() -> None:
    from reminderd.instance import DaemonInfo
    from reminderd.report import status_text

    now = la(2026, 3, 1, 12)
    timeline = plan(make_config(CLAIMED), State(), now, facts(now - timedelta(hours=2), GrantedCredit(
        usd(0), ACCOUNT_EXPIRY)))
    upcoming = [r for r in timeline.upcoming() if r.kind == "card-paying"]
    assert len(upcoming) > 20
    text = status_text(timeline, State(), DaemonInfo(False, None, None))
    listed = [line for line in text.split("Upcoming reminders:")[1].splitlines() if "/card-paying/" in line]
    assert len(listed) == 3, text  # the first two, and the line that says how many follow and the last
    assert f"... and {len(upcoming) - 2} more card-paying reminders, the last" in listed[-1]
    assert upcoming[-1].id in listed[-1]


def test_no_advice_to_set_a_profile_where_it_cannot_be_followed_or_no_longer_matters() -> None:
    """A credit found in the account has no [credit.usage] and `balance --credit` cannot name it;
    an expired credit needs no exhaustion forecast. A live configured one still gets the advice."""
    bare = "claimed_at = 2026-02-06T09:30:00\n"
    now = la(2026, 10, 1, 12)
    timeline = plan(make_config(bare), State(), now,
                    facts(now, GrantedCredit(usd(3), datetime(2026, 10, 19, tzinfo=UTC)), on=True))
    found, expired = timeline.credits[1], timeline.credits[0]
    assert found.discovered and found.phase == "active" and expired.phase == "expired"
    assert not [w for w in found.warnings + expired.warnings if "no exhaustion forecast" in w]
    live = plan(make_config(bare), State(), la(2026, 3, 1, 12)).credits[0]
    assert [w for w in live.warnings if "no exhaustion forecast" in w]
