"""Any credit in its own words: a custom offer's wording everywhere, several accounts named,
`done` taking the offer's switches, and `reminderd offers`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from click.testing import Result
from conftest import ROOT

from reminderd.config import parse_config
from reminderd.offers import CLAUDE_EXTRA_USAGE_2026_02, action_for
from reminderd.state import State
from reminderd.timeline import plan

Cli = Callable[..., Result]

# A credit of one month's plan fee, with a claim deadline and a 90-day validity, whose switch is
# called "Overage" (the README's worked example), tracked for two accounts.
OVERAGE = """timezone = "Europe/Berlin"

[offers.acme-spring]
name = "ACME spring credit (one month of your plan)"
product = "ACME Chat"
amount_usd = 20
eligible_plans = ["pro", "team"]
subscribed_by = 2026-04-03T09:00:00
claim_opens = 2026-04-03T09:00:00
claim_closes = 2026-04-17T23:59:59
validity_days = 90
timezone = "America/New_York"
credit_name = "spring credit"
switches = ["Overage", "Auto top-up"]
top_up_switch = "Auto top-up"
switch_location = "the ACME console, Billing > Overage"
caveats = ["the desktop app cannot change it"]
how_to_claim = "press Redeem on the Billing page"
billed_at = "pay-as-you-go prices"
balance_where = "in the console"
source = "https://acme.example/blog/spring-credit (checked 2026-04-03)"

[[credit]]
id = "home"
account = "me@home"
offer = "acme-spring"
plan = "pro"
claimed_at = 2026-04-05T10:00:00
[credit.usage]
daily_spend_usd = 0.5

[[credit]]
id = "work"
account = "me@work"
offer = "acme-spring"
plan = "team"
claimed_at = 2026-04-06T10:00:00
[credit.usage]
daily_spend_usd = 1
"""
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CLAUDE_WORDS = ("Extra Usage", "Auto-Reload", "Claude", "API rates", "mobile apps", "on the web")


def overage_plan():  # type: ignore[no-untyped-def]
    return plan(parse_config(OVERAGE, "acme.toml"), State(), NOW)


def test_a_custom_offer_speaks_its_own_words() -> None:
    timeline = overage_plan()
    assert timeline.reminders
    for r in timeline.reminders:
        text = r.title + " " + r.body
        assert not any(word in text for word in CLAUDE_WORDS), text
    by_id = {r.id: r for r in timeline.reminders}
    expiry = by_id["home/expiry/-7d"]
    assert expiry.title == "home (me@home): spring credit expires in 7 days: turn Overage off"
    assert "Turn Overage and Auto top-up off in the ACME console, Billing > Overage (the desktop app cannot " \
           "change it) before then." in expiry.body
    assert by_id["work/auto-reload/after-claim"].title == \
        "work (me@work): Credit claimed: check that Auto top-up is off"
    assert "`reminderd done overage-off --credit home`" in by_id["home/expiry/at"].body
    assert by_id["home/check-usage/2026-04-12"].title == \
        "home (me@home): Check your spring credit balance in the console"


def test_with_several_credits_every_title_names_its_credit() -> None:
    for r in overage_plan().reminders:
        assert r.title.startswith(f"{r.credit_id} (me@{r.credit_id}): "), r.title


def test_one_credit_keeps_the_built_in_words_byte_for_byte() -> None:
    example = parse_config((ROOT / "config.example.toml").read_text(), "example.toml")
    timeline = plan(example, State(), datetime(2026, 2, 7, tzinfo=UTC))
    titles = {r.id.split("/", 1)[1]: r.title for r in timeline.reminders}
    assert titles["expiry/-7d"] == "Claude usage credit expires in 7 days: turn usage credits off"
    assert titles["auto-reload/after-claim"] == "Credit claimed: check that Auto-Reload is off"
    assert CLAUDE_EXTRA_USAGE_2026_02.where == \
        "the Claude web app, Settings > Usage (the mobile apps cannot change it)"


def test_action_names_come_from_the_switches() -> None:
    assert [action_for(s) for s in ("Extra Usage", "Auto-Reload", "Auto top-up", "  Pay as you go! ")] == [
        "extra-usage-off", "auto-reload-off", "auto-top-up-off", "pay-as-you-go-off"]


def test_done_takes_the_offers_switch_names(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config(OVERAGE)
    wrong = cli("--config", str(path), "done", "extra-usage-off", "--credit", "home")
    assert wrong.exit_code == 2
    assert wrong.stderr == ("reminderd: ACTION: expected one of overage-off, auto-top-up-off for home, "
                            "got 'extra-usage-off'\n")
    assert cli("--config", str(path), "done", "overage-off", "--credit", "home", "--at", "2026-05-01").exit_code == 0
    data = json.loads(cli("--config", str(path), "status", "--json", "--at", "2026-06-01").stdout)
    home, work = data["credits"]
    assert home["acknowledged"] == {"overage-off": "2026-05-01T00:00:00+02:00"} and work["acknowledged"] == {}
    assert (home["account"], work["account"]) == ("me@home", "me@work")
    assert home["offer"]["actions"] == ["overage-off", "auto-top-up-off"]
    assert {r["credit"] for r in data["reminders"]} == {"work"}  # home's reminders stopped


def test_status_names_each_credit_and_account(cli: Cli, write_config: Callable[[str], Path]) -> None:
    text = cli("--config", str(write_config(OVERAGE)), "status", "--at", "2026-06-01").stdout
    assert "home (me@home): ACME spring credit (one month of your plan), USD 20" in text
    assert "work (me@work): ACME spring credit (one month of your plan), USD 20" in text
    assert "Overage and Auto top-up are switched in the ACME console, Billing > Overage" in text
    assert not any(word in text for word in CLAUDE_WORDS)


def test_offers_lists_built_in_and_custom_with_their_sources(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config(OVERAGE)
    data = json.loads(cli("--config", str(path), "offers", "--json").stdout)
    by_key = {o["key"]: o for o in data["offers"]}
    assert by_key["claude-extra-usage-2026-02"]["built_in"] is True
    builtin = by_key["claude-extra-usage-2026-02"]
    # newuser 10: it cited "the project's PROMO.md", a file the user does not have
    assert "PROMO.md" not in json.dumps(data) and "PROMO.md" not in cli("offers").stdout
    assert builtin["source_urls"] == ["https://blog.wentuo.ai/en?p=1477",
                                      "https://aitipsters.com/claude-opus-4-6-free-credits/"]
    acme = by_key["acme-spring"]
    assert acme["built_in"] is False and acme["validity_days"] == 90
    assert acme["actions"] == ["overage-off", "auto-top-up-off"]
    assert acme["claim"]["closes"] == "2026-04-17T23:59:59-04:00"
    assert acme["source"] == "https://acme.example/blog/spring-credit (checked 2026-04-03)"
    assert acme["source_urls"] == []
    text = cli("--config", str(path), "offers").stdout
    assert "acme-spring (from your config): ACME spring credit" in text
    assert "  Checked at    https://blog.wentuo.ai/en?p=1477\n                https://aitipsters.com/" in text
    assert "Done with     reminderd done overage-off | reminderd done auto-top-up-off" in text


def test_offers_without_a_config_shows_the_built_in_ones(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "none.toml"), "offers")
    assert result.exit_code == 0 and "claude-extra-usage-2026-02 (built in)" in result.stdout
    assert "showing the built-in offers only" in result.stderr


def test_the_readmes_worked_example_is_a_valid_offer() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adding a new offer")[1].split("## ")[0]
    toml = section.split("```toml\n")[1].split("```")[0]
    config = parse_config(toml, "README.md")
    offer = config.offers["acme-spring"]
    assert (offer.amount_usd, offer.validity_days, offer.actions) == (20.0, 90, ("overage-off", "auto-top-up-off"))
    assert config.credits[0].account == "me@work"


def test_the_commented_example_offer_in_the_example_config_is_valid() -> None:
    text = (ROOT / "config.example.toml").read_text()
    block = text.split("# [offers.acme-launch]\n")[1]
    lines = ["[offers.acme-launch]"] + [line[2:] for line in block.splitlines() if line.startswith("# ")]
    offer = parse_config('[[credit]]\noffer = "acme-launch"\n' + "\n".join(lines) + "\n", "example").offers[
        "acme-launch"]
    assert offer.switches == ("Overage", "Auto top-up") and offer.prices.current()["acme-1"].output == 4
