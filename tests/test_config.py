"""Bad configs give one line per problem, naming file, key, expected and got; all at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT, config_text, make_config

from reminderd.config import load_config, parse_config
from reminderd.errors import ConfigError


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "bad.toml")
    return caught.value.problems


@pytest.mark.parametrize(
    ("snippet", "expected_line"),
    [
        ('[[credit]]\nplan = 5\n', 'bad.toml: credit[0].plan: expected a string, got 5'),
        ('[[credit]]\nplan = "gold"\n',
         'bad.toml: credit[0].plan: expected one of free, pro, max-5x, max-20x, team, enterprise, api, got "gold"'),
        ('[[credit]]\noffer = "nope"\n',
         'bad.toml: credit[0].offer: expected one of claude-extra-usage-2026-02 (or an [offers.nope] table), '
         'got "nope"'),
        ('[[credit]]\n[credit.usage]\ndaily_spend_usd = -1\n',
         'bad.toml: credit[0].usage.daily_spend_usd: expected a number from 0 to 1,000,000, got -1'),
        ('[[credit]]\nclaimed_at = "yesterday"\n',
         'bad.toml: credit[0].claimed_at: expected a date-time such as 2026-02-06T09:30:00, got "yesterday"'),
        ('[[credit]]\nclaimed_at = "2026-02-30T10:00:00"\n',
         'bad.toml: credit[0].claimed_at: expected a date-time such as 2026-02-06T09:30:00, '
         'got "2026-02-30T10:00:00"'),
        ('[[credit]]\nauto_reload = "maybe"\n',
         'bad.toml: credit[0].auto_reload: expected true, false or "unknown", got "maybe"'),
        ('[[credit]]\n[reminders]\nexpiry = ["7 days"]\n',
         'bad.toml: reminders.expiry: expected a list of lead times such as ["7d", "1d", "2h"], got "7 days"'),
        ('[[credit]]\n[quiet_hours]\nstart = "25:00"\nend = "08:00"\n',
         'bad.toml: quiet_hours.start: expected a time of day "HH:MM", got "25:00"'),
        ('[[credit]]\n[credit.usage.per_day]\nsnacks = 3\n',
         'bad.toml: credit[0].usage.per_day.snacks: expected one of chat_rounds, code_tasks, '
         'document_analyses, claude_code_sessions, got "snacks"'),
        ('[[credit]]\n[notifications]\nbackend = "pigeon"\n',
         'bad.toml: notifications.backend: expected one of auto, dbus, notify-send, osascript, plyer, log, '
         'command, got "pigeon"'),
        ('', 'bad.toml: credit: expected at least one [[credit]] table (see config.example.toml), got none'),
    ],
)
def test_one_clear_line_per_problem(snippet: str, expected_line: str) -> None:
    assert problems('timezone = "UTC"\n' + snippet) == [expected_line]


def test_unknown_zone() -> None:
    assert problems('timezone = "Mars/Olympus"\n[[credit]]\n') == [
        'bad.toml: timezone: expected an IANA time zone name such as "America/Los_Angeles", got "Mars/Olympus"']


@pytest.mark.parametrize(("value", "shown"), [("5", "5"), ('""', '""'), ('"../etc/passwd"', '"../etc/passwd"'),
                                              (f'"{"x" * 300}"', f'"{"x" * 300}"')])  # too long for a file name
def test_zone_that_is_not_a_zone_name(value: str, shown: str) -> None:
    assert problems(f"timezone = {value}\n[[credit]]\n") == [
        f'bad.toml: timezone: expected an IANA time zone name such as "America/Los_Angeles", got {shown}']


def test_invalid_date_in_toml_syntax_names_the_key() -> None:
    assert problems('timezone = "UTC"\n[[credit]]\nclaimed_at = 2026-02-30T10:00:00\n') == [
        "bad.toml: claimed_at (line 3): expected a valid TOML value, got 2026-02-30T10:00:00 "
        "(Invalid date or datetime)"]


def test_toml_syntax_error() -> None:
    [line] = problems('timezone = "UTC"\n[[credit]\n')
    assert line.startswith("bad.toml: line 2: TOML syntax error:")


def test_every_problem_reported_at_once() -> None:
    found = problems('timezone = "Nowhere"\n[[credit]]\nplan = "gold"\nclaimed_at = "x"\n'
                     '[credit.usage]\ndaily_spend_usd = "lots"\n')
    assert [line.split(":")[1].strip() for line in found] == [
        "timezone", "credit[0].plan", "credit[0].claimed_at", "credit[0].usage.daily_spend_usd"]


def test_unknown_keys_are_warnings() -> None:
    config = make_config("colour = \"blue\"\n[reminders]\nexpiry_lead = [\"7d\"]\n")
    assert "test.toml: credit[0].colour: unknown key, ignored" in config.warnings
    assert "test.toml: reminders.expiry_lead: unknown key, ignored (did you mean expiry?)" in config.warnings


def test_a_mistyped_key_gets_a_suggestion_and_a_plan_any_case() -> None:
    # newuser: no "did you mean daily_spend_usd?"; plan = "Pro" refused for its case
    credit = '[[credit]]\nplan = "Max 5x"\nclaimed-at = 2026-02-06\n[credit.usage]\ndaly_spend_usd = 2\n'
    config = make_config(credit=credit)
    assert config.warnings == (
        "test.toml: credit[0].claimed-at: unknown key, ignored (did you mean claimed_at?)",
        "test.toml: credit[0].usage.daly_spend_usd: unknown key, ignored (did you mean daily_spend_usd?)")
    assert config.credits[0].plan == "max-5x"
    assert make_config(credit='[[credit]]\nplan = "Pro"\n').credits[0].plan == "pro"


def test_naive_times_are_in_the_configured_zone_and_offsets_are_exact() -> None:
    naive = make_config(credit='[[credit]]\nclaimed_at = 2026-02-06T09:30:00\n', timezone="Europe/Berlin")
    exact = make_config(credit='[[credit]]\nclaimed_at = 2026-02-06T09:30:00-08:00\n', timezone="Europe/Berlin")
    assert naive.credits[0].claimed_at == datetime(2026, 2, 6, 8, 30, tzinfo=UTC)
    assert exact.credits[0].claimed_at == datetime(2026, 2, 6, 17, 30, tzinfo=UTC)


def test_time_in_the_dst_gap_is_warned_about_not_silently_shifted() -> None:
    config = make_config(credit='[[credit]]\nclaimed_at = 2026-03-08T02:30:00\n')
    assert config.credits[0].claimed_at == datetime(2026, 3, 8, 10, 30, tzinfo=UTC)  # 03:30 PDT
    assert any("does not exist in America/Los_Angeles" in w for w in config.warnings)


def test_custom_offer_as_data() -> None:
    config = parse_config(config_text(
        '[offers.acme]\nname = "ACME"\namount_usd = 25\neligible_plans = ["pro"]\n'
        'claim_opens = 2026-06-01T00:00:00\nclaim_closes = 2026-06-30T23:59:59\nvalidity_days = 30\n'
        'timezone = "UTC"\nswitch_location = "the ACME console"\nswitches = ["Overage", "Auto top-up"]\n'
        'top_up_switch = "Auto top-up"\ncaveats = ["not in the app"]\n',
        credit='[[credit]]\noffer = "acme"\nplan = "pro"\nclaimed_at = 2026-06-10T12:00:00Z\n'), "x.toml")
    offer = config.credits[0].offer
    assert (offer.name, offer.amount_usd, offer.validity_days) == ("ACME", 25.0, 30)
    assert offer.claim_opens == datetime(2026, 6, 1, tzinfo=UTC)
    assert offer.actions == ("overage-off", "auto-top-up-off") and offer.top_up_action == "auto-top-up-off"
    assert offer.where == "the ACME console (not in the app)" and offer.credit_name == "Overage credit"
    assert config.offers["acme"].switches == ("Overage", "Auto top-up")


def test_custom_offer_missing_fields() -> None:
    found = problems('[offers.acme]\nname = "ACME"\n[[credit]]\noffer = "acme"\n')
    assert "bad.toml: offers.acme.amount_usd: expected a value, got nothing" in found
    assert "bad.toml: offers.acme.validity_days: expected a value, got nothing" in found
    assert "bad.toml: offers.acme.switches: expected a value, got nothing" in found
    assert "bad.toml: offers.acme.switch_location: expected a value, got nothing" in found


def test_custom_offer_wording_is_checked_key_by_key() -> None:
    found = problems('[offers.acme]\namount_usd = 5\nclaim_opens = 2026-06-01\nclaim_closes = 2026-06-30\n'
                     'validity_days = 30\nswitch_location = ""\nswitches = []\ntop_up_switch = "Refill"\n'
                     'caveats = [1]\n[[credit]]\noffer = "acme"\n')
    assert found == [
        'bad.toml: offers.acme.switches: expected a list of at least 1 non-empty text(s), e.g. ["Overage"], got []',
        'bad.toml: offers.acme.top_up_switch: expected one of the names in switches, got "Refill"',
        "bad.toml: offers.acme.caveats: expected a list of at least 0 non-empty text(s), e.g. [\"Overage\"], got [1]",
        'bad.toml: offers.acme.switch_location: expected a non-empty line of text, got ""']


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "none.toml")
    assert "reminderd init" in str(caught.value) and str(tmp_path / "none.toml") in str(caught.value)


def test_example_config_is_valid_without_warnings() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.warnings == ()
    assert config.credits[0].claimed_at is not None


def test_bad_config_through_the_cli_exits_78_with_no_traceback(
        cli: Callable[..., Result], write_config: Callable[[str], Path]) -> None:
    path = write_config('timezone = "UTC"\n[[credit]]\nplan = "gold"\n[credit.usage]\ndaily_spend_usd = -2\n')
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"reminderd: {path}: credit[0].plan: expected one of free, pro, max-5x, max-20x, team, enterprise, api, "
        'got "gold"',
        f"reminderd: {path}: credit[0].usage.daily_spend_usd: expected a number from 0 to 1,000,000, got -2",
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("table, key", [("notifications", "push_command"), ("calendar", "password_command")])
def test_a_command_line_with_an_unclosed_quote_is_one_line_and_exit_78(
        cli: Callable[..., Result], write_config: Callable[[str], Path], table: str, key: str) -> None:
    calendar = 'caldav_url = "http://127.0.0.1:5232/me/cal/"\n' if table == "calendar" else ""
    path = write_config(f'[[credit]]\nplan = "pro"\n[{table}]\n{calendar}{key} = "pass show \'reminderd"\n')
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78
    assert result.stderr.splitlines() == [
        f"reminderd: {path}: {table}.{key}: expected a command line, e.g. \"pass show reminderd\" "
        "(no closing quotation), got \"pass show 'reminderd\""]


def test_offer_name_and_prices_source_take_no_control_characters() -> None:
    # security L7: `status` and `offers` wrote them raw to the terminal (a title change, here)
    found = problems('[offers.acme]\nname = "ACME\\u001b]0;pwned\\u0007"\nprices_source = "x\\u001b[2J"\n'
                     'amount_usd = 5\nclaim_opens = 2026-06-01\nclaim_closes = 2026-06-30\nvalidity_days = 30\n'
                     'switch_location = "the console"\nswitches = ["Overage"]\n[[credit]]\noffer = "acme"\n')
    assert found == ['bad.toml: offers.acme.name: expected a non-empty line of text, got "ACME\\u001b]0;pwned\\u0007"',
                     'bad.toml: offers.acme.prices_source: expected a non-empty line of text, got "x\\u001b[2J"']


COMMAND = '[notifications]\nbackend = "command"\ncommand = ["ntfy", "publish", "my-secret-topic"]\n'


@pytest.mark.parametrize(("mode", "owner", "expected"), [
    (0o600, None, []),
    (0o644, None, ["notifications.command: a notification command may carry a secret"]),
    (0o620, None, ["writable by others (mode 0620)"]),
    (0o666, None, ["writable by others (mode 0666)", "notifications.command: a notification command may"]),
    (0o600, 65534, ["owned by another user (uid 65534)"]),
])
def test_a_config_others_may_change_or_read_is_warned_about(tmp_path: Path, mode: int, owner: int | None,
                                                             expected: list[str]) -> None:
    # security L6: reminderd runs the programs the config names and writes where it says
    path = tmp_path / "c.toml"
    path.write_text(config_text(COMMAND))
    path.chmod(mode)
    if owner is not None:
        import os

        os.chown(path, owner, owner)
    warnings = load_config(path).warnings
    assert len(warnings) == len(expected)
    for warning, words in zip(warnings, expected, strict=True):
        assert warning.startswith(f"{path}: ") and words in warning


def test_the_permission_warning_is_one_line_in_status(tmp_path: Path, cli: Callable[..., Result]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text(COMMAND))
    path.chmod(0o666)
    result = cli("--config", str(path), "status", "--at", "2026-02-20T10:00")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"warning: {path}: writable by others (mode 0666), who can change what it tells reminderd to run and write: "
        f"chmod 600 {path}",
        f"warning: {path}: notifications.command: a notification command may carry a secret (a token, an ntfy topic) "
        f"and this file is readable by others: chmod 600 {path}"]
