"""The commands as a user meets them: output, files written, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT, assert_golden
from freezegun import freeze_time

from reminderd.cli import main

EXAMPLE = str(ROOT / "config.example.toml")
Cli = Callable[..., Result]


@freeze_time("2026-03-01T17:00:00Z")
def test_status_text_golden_during_validity(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the config as typed in a clone; status repeats it in the commands it suggests
    result = cli("--config", "config.example.toml", "status")
    assert result.exit_code == 0, result.stderr
    assert_golden("status-2026-03-01.txt", result.stdout)


@freeze_time("2026-11-24T17:00:00Z")
def test_status_long_after_the_offer_says_so_plainly(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("--config", "config.example.toml", "status")
    assert result.exit_code == 0, result.stderr
    assert_golden("status-2026-11-24.txt", result.stdout)
    assert "expired 231 days ago" in result.stdout
    assert "closed: in the past" in result.stdout
    assert "Ran out           as early as Tue 2026-03-03" in result.stdout and "Runs out" not in result.stdout
    assert " -" not in result.stdout.replace(" - ", "").replace(" --config", "")  # no negative counts anywhere


def test_status_json_golden(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-01T09:00")
    assert result.exit_code == 0, result.stderr
    assert_golden("status-2026-03-01.json", result.stdout)
    data = json.loads(result.stdout)
    assert data["now"] == "2026-03-01T09:00:00-08:00"
    assert data["credits"][0]["expires_at"] == "2026-04-07T09:30:00-07:00"
    assert list(data) == sorted(data)


def test_status_json_before_claiming(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('timezone = "Europe/Berlin"\n[[credit]]\nplan = "max-5x"\nsubscribed_at = 2025-12-01\n')
    data = json.loads(cli("--config", str(path), "status", "--json", "--at", "2026-02-14T12:00").stdout)
    ct = data["credits"][0]
    assert ct["phase"] == "claimable"
    assert ct["claim"]["deadline"] == "2026-02-17T08:59:59+01:00"
    assert [r["id"] for r in data["reminders"]] == [
        "claude-extra-usage-2026-02/claim-deadline/-3d", "claude-extra-usage-2026-02/claim-deadline/-1d",
        "claude-extra-usage-2026-02/claim-deadline/-2h"]
    assert data["reminders"][0]["state"] == "live"
    assert data["reminders"][1]["state"] == "upcoming"


def test_bad_at_is_a_usage_error(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "status", "--at", "next tuesday")
    assert result.exit_code == 2
    assert result.stderr.startswith("reminderd: --at: expected a date or date-time")
    assert "Traceback" not in result.output


def test_missing_config_exits_78_and_says_how_to_create_one(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.toml"), "status")
    assert result.exit_code == 78
    assert "reminderd init" in result.stderr


def test_claim_writes_the_instant_and_keeps_comments(cli: Cli, write_config: Callable[[str], Path]) -> None:
    original = ('# my reminderd config\ntimezone = "America/Los_Angeles"  # where I live\n\n'
                '[[credit]]\nplan = "pro"  # twenty dollars\n\n[credit.usage]\ndaily_spend_usd = 1  # a guess\n')
    path = write_config(original)
    result = cli("--config", str(path), "claim", "--at", "2026-02-06 09:30")
    assert result.exit_code == 0, result.stderr
    text = path.read_text()
    assert text == original.replace('# twenty dollars\n', '# twenty dollars\nclaimed_at = 2026-02-06T09:30:00-08:00\n')
    assert "It expires Tue 2026-04-07 09:30 PDT." in result.stdout
    data = json.loads(cli("--config", str(path), "status", "--json", "--at", "2026-03-01").stdout)
    assert data["credits"][0]["claim"]["claimed_at"] == "2026-02-06T09:30:00-08:00"


def test_claim_outside_the_window_warns(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('timezone = "UTC"\n[[credit]]\nplan = "pro"\n')
    result = cli("--config", str(path), "claim", "--at", "2026-03-01T00:00")
    assert result.exit_code == 0
    assert "outside the claim window" in result.stderr


def test_claim_needs_credit_when_several(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('[[credit]]\nid = "a"\n[[credit]]\nid = "b"\n')
    result = cli("--config", str(path), "claim")
    assert result.exit_code == 2 and "--credit: expected one of a, b" in result.stderr
    assert cli("--config", str(path), "claim", "--credit", "b", "--at", "2026-02-07").exit_code == 0
    assert "claimed_at" in path.read_text().split("[[credit]]")[2]


def test_balance_is_recorded_and_moves_the_forecast(cli: Cli, state_dir: Path) -> None:
    before = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-02-20").stdout)
    result = cli("--config", EXAMPLE, "balance", "10", "--at", "2026-02-16T09:30")
    assert result.exit_code == 0, result.stderr
    state = json.loads((state_dir / "state.json").read_text())
    assert state["observations"]["claude-feb-2026"] == [
        {"at": "2026-02-16T17:30:00+00:00", "remaining_usd": 10.0}]
    assert (state_dir / "state.json").stat().st_mode & 0o777 == 0o600
    after = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-02-20").stdout)
    assert before["credits"][0]["forecast"]["basis"] == "profile"
    forecast = after["credits"][0]["forecast"]
    assert forecast["basis"] == "observations"
    assert forecast["spend_usd_per_day"]["expected"] == 4.0  # 40 spent in 10 days


def test_negative_balance_rejected(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "balance", "--", "-5")
    assert result.exit_code == 2 and "expected a remaining balance in USD from 0 to 1,000,000" in result.stderr


def test_every_command_has_help_with_an_example() -> None:
    for name, command in main.commands.items():  # each imported from its module when asked for
        assert command.name == name and command.help and "Example:" in command.help, name


def test_version_and_help(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("reminderd, version ")
    assert "status" in cli("-h").stdout


def test_status_and_help_do_not_import_heavy_libraries(cli: Cli, state_dir: Path) -> None:
    assert cli("--config", EXAMPLE, "done", "auto-reload-off", "--at", "2026-02-10T09:00").exit_code == 0
    assert (state_dir / "state.json").exists()  # read as a user's is, every time
    code = (f"import sys\nbefore = set(sys.modules)\n"
            f"sys.argv = ['reminderd', '--config', {EXAMPLE!r}, 'status']\n"
            "from reminderd.entry import main  # as the console script starts it\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('apscheduler', 'icalendar', 'plyer', 'jeepney', 'tomlkit', 'msgspec', 'ssl',\n"
            "                     'difflib', 'reminderd.ledger', 'reminderd.usage_logs', 'reminderd.cli_service',\n"
            "                     'reminderd.cli_calendar', 'reminderd.cli_claude', 'reminderd.cli_account',\n"
            "                     'json', 'shlex', 'importlib.util')\n"
            "         if m in sys.modules and m not in before]\n"  # an editable install loads json first: CI's does not
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("HEAVY []")


def test_done_stops_the_reminders_and_shows_in_status(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "done", "extra-usage-off", "--at", "2026-03-01T08:00")
    assert result.exit_code == 0, result.stderr
    data = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-01T09:00").stdout)
    assert data["credits"][0]["acknowledged"] == {"extra-usage-off": "2026-03-01T08:00:00-08:00"}
    assert data["reminders"] == []
    text = cli("--config", EXAMPLE, "status", "--at", "2026-03-01T09:00").stdout
    assert "Done              extra-usage-off (Sun 2026-03-01 08:00 PST)" in text


def test_done_rejects_unknown_action(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "done", "everything")
    assert result.exit_code == 2


def test_every_command_appears_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in main.commands:
        assert f"`reminderd {name}" in readme, f"reminderd {name} is not documented in the README"
    for code in (0, 1, 2, 69, 73, 74, 75, 77, 78):
        assert f"| {code} |" in readme


def test_readme_starts_with_exactly_the_two_setup_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[0] == "```sh" and lines[3] == "```"
    assert "reminderd --config config.example.toml status" in lines[1]
    assert "pytest" in lines[2]
    assert "test_command=$(sed -n '3p' README.md)" in (ROOT / ".ci/run").read_text()  # CI runs that very line


def test_closed_output_pipe_exits_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before reminderd writes a byte, as with `| head` done early
    result = subprocess.run([sys.executable, "-m", "reminderd", "--config", EXAMPLE, "export-ics"],
                            stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, timeout=30,
                            env={**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state")})
    os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == b""


def test_status_due_now_agrees_with_what_the_daemon_will_send(cli: Cli) -> None:
    # an hour before expiry, after downtime: the daemon sends only "2 hours", the latest of the series
    data = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-04-07T08:30").stdout)
    states = {r["id"].split("/", 1)[1]: r["state"] for r in data["reminders"] if "/expiry/" in r["id"]}
    assert states == {"expiry/-7d": "stale", "expiry/-1d": "stale", "expiry/-2h": "live", "expiry/at": "upcoming"}
    text = cli("--config", EXAMPLE, "status", "--at", "2026-04-07T08:30").stdout
    due_now = text.split("Due now (not yet delivered):")[1].split("Upcoming reminders")[0]
    assert "expiry/-2h" in due_now and "expiry/-7d" not in due_now and "expiry/-1d" not in due_now


# -- bad input: one line, a documented exit code, never a traceback (faults file, review m13/m14) --


def test_far_away_moments_are_usage_errors(cli: Cli) -> None:
    for at in ("9999-12-31T23:59", "0001-01-01T00:00+01:00", "9999-12-31T23:30-01:00", "1969-12-31"):
        for command in (["status"], ["balance", "5"], ["done", "extra-usage-off"], ["claim"]):
            result = cli("--config", EXAMPLE, *command, "--at", at)
            assert result.exit_code == 2, (command, at, result.stderr)
            assert result.stderr == f"reminderd: --at: expected a moment between 1970 and 2199, got {at!r}\n"


def test_balance_bounds(cli: Cli) -> None:
    assert "USD 0.00 for" in cli("--config", EXAMPLE, "balance", "--at", "2026-02-20", "--", "-0.0").stdout
    for bad in ("1e308", "nan", "inf", "-1"):
        result = cli("--config", EXAMPLE, "balance", "--", bad)
        assert result.exit_code == 2 and result.stderr.startswith("reminderd: AMOUNT: expected"), bad


def test_balance_before_the_claim_or_after_expiry_is_refused(cli: Cli) -> None:
    # review m6: it was recorded with exit 0, then silently ignored
    before = cli("--config", EXAMPLE, "balance", "5", "--at", "2026-02-01T09:00")
    assert before.exit_code == 2 and "expected a moment after the claim" in before.stderr
    after = cli("--config", EXAMPLE, "balance", "5", "--at", "2026-04-08T09:00")
    assert after.exit_code == 2 and "expected a moment before the expiry" in after.stderr


def test_a_rise_is_called_a_top_up(cli: Cli) -> None:
    result = cli("--config", EXAMPLE, "balance", "60", "--at", "2026-02-20T09:00")
    assert result.exit_code == 0 and "money was added (a top-up)" in result.stderr
    text = cli("--config", EXAMPLE, "status", "--at", "2026-02-21T09:00").stdout
    assert "the balance rose from USD 50.00 to USD 60.00" in text


def test_done_undo_brings_the_reminders_back(cli: Cli) -> None:
    assert cli("--config", EXAMPLE, "done", "extra-usage-off", "--at", "2026-03-01T08:00").exit_code == 0
    assert json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-02").stdout)["reminders"] == []
    undo = cli("--config", EXAMPLE, "done", "extra-usage-off", "--undo")
    assert undo.exit_code == 0 and "Took back extra-usage-off" in undo.stdout
    assert json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-02").stdout)["reminders"]


def test_a_future_acknowledgement_silences_nothing_yet(cli: Cli) -> None:
    # review m3
    cli("--config", EXAMPLE, "done", "extra-usage-off", "--at", "2026-04-08T09:00")
    data = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-01T09:00").stdout)
    assert data["credits"][0]["acknowledged"] == {} and data["reminders"]


def test_a_directory_as_config_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path), "status")
    assert result.exit_code == 78
    assert result.stderr == f"reminderd: {tmp_path}: expected a config file, got a directory\n"


def test_empty_names_are_errors_naming_the_key(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('[[credit]]\nid = ""\noffer = ""\n[notifications]\nbackend = ""\n')
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78
    assert result.stderr.splitlines() == [
        f'reminderd: {path}: credit[0].offer: expected a non-empty name, got ""',
        f'reminderd: {path}: credit[0].id: expected a non-empty name, got ""',
        f'reminderd: {path}: notifications.backend: expected a non-empty name, got ""']


def test_a_value_with_a_newline_stays_on_one_line(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('[[credit]]\nplan = "gold\\nplan"\n')
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78 and result.stderr.count("\n") == 1 and 'got "gold\\nplan"' in result.stderr


def test_wake_seconds_is_validated(cli: Cli) -> None:
    for bad in ("abc", "-5", "0", "nan", "61"):
        result = cli("--config", EXAMPLE, "run", env={"REMINDERD_WAKE_SECONDS": bad})
        assert result.exit_code == 2, bad
        assert result.stderr == f"reminderd: REMINDERD_WAKE_SECONDS: expected seconds from 0.1 to 60, got {bad!r}\n"


def test_claim_writes_through_a_symlink_and_only_what_reads_back(cli: Cli, tmp_path: Path) -> None:
    # review m9 and faults file: the link was replaced by a copy; 0001-01-01 wrote an invalid offset
    real = tmp_path / "dotfiles" / "reminderd.toml"
    real.parent.mkdir()
    real.write_text((ROOT / "config.example.toml").read_text().replace("\nclaimed_at = ", "\n# claimed_at = "))
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    assert cli("--config", str(link), "claim", "--at", "2026-02-06 09:30").exit_code == 0
    assert link.is_symlink() and "\nclaimed_at = 2026-02-06T09:30:00-08:00\n" in real.read_text()
    assert cli("--config", str(link), "claim", "--at", "0001-01-01").exit_code == 2
    assert "\nclaimed_at = 2026-02-06T09:30:00-08:00\n" in real.read_text()


def test_calendars_are_private(cli: Cli, tmp_path: Path) -> None:
    # faults file: export-ics -o and ics_path were 0644 under any umask; they hold usage and spend
    old = os.umask(0o022)
    try:
        target = tmp_path / "out.ics"
        assert cli("--config", EXAMPLE, "export-ics", "-o", str(target)).exit_code == 0
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o600


def test_read_only_commands_report_damage_without_moving_anything(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "state.json").write_bytes(b"\xff")
    result = cli("--config", EXAMPLE, "status")
    assert result.exit_code == 0
    assert "damaged entry ignored: the whole file: not UTF-8 text" in result.stderr
    assert "nothing was changed" in result.stderr  # and state.json stays where it is (the summary is new)
    assert sorted(p.name for p in state_dir.iterdir()) == ["state.json", "summary.json"]
    write = cli("--config", EXAMPLE, "done", "auto-reload-off")
    assert write.exit_code == 0 and "copied to state.json.damaged-" in write.stderr


def test_a_newer_state_file_exits_74_and_is_left_alone(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "state.json").write_text('{"version": 7}')
    for command in (["status"], ["balance", "5", "--at", "2026-02-20"], ["export-ics"]):
        result = cli("--config", EXAMPLE, *command)
        assert result.exit_code == 74 and "written by a newer reminderd" in result.stderr, command
    assert (state_dir / "state.json").read_text() == '{"version": 7}'


def test_done_takes_the_switchs_new_name_and_records_the_same_action(cli: Cli) -> None:
    """Since May 2026 the product says "usage credits": `done usage-credits-off` is extra-usage-off."""
    result = cli("--config", EXAMPLE, "done", "usage-credits-off", "--at", "2026-03-01T08:00")
    assert result.exit_code == 0, result.stderr
    assert "Recorded extra-usage-off" in result.stdout
    data = json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-03-01T09:00").stdout)
    assert data["credits"][0]["acknowledged"] == {"extra-usage-off": "2026-03-01T08:00:00-08:00"}
    wrong = cli("--config", EXAMPLE, "done", "usage-credit-off")
    assert wrong.exit_code == 2 and "extra-usage-off, auto-reload-off, usage-credits-off" in wrong.stderr
    assert "reminderd done extra-usage-off (or usage-credits-off)" in cli("offers").stdout


def test_a_reminder_superseded_within_the_minute_is_not_said_to_wait_for_quiet_hours() -> None:
    """With no quiet hours, the -1d claim reminder, 40 s before the -2h one that goes out in its
    place, is stale: status does not list it under "held until quiet hours end"."""
    from conftest import la, make_config

    from reminderd.catchup import to_deliver
    from reminderd.instance import DaemonInfo
    from reminderd.report import reminder_states, status_text
    from reminderd.state import State
    from reminderd.timeline import plan

    now = la(2026, 2, 16, 21, 59, 20)
    timeline = plan(make_config(), State(), now)
    assert timeline.quiet_hours is None
    states = reminder_states(timeline, State())
    assert [r.id for r in to_deliver(timeline, State())] == ["c/claim-deadline/-2h"]
    assert states["c/claim-deadline/-1d"] == "stale"
    assert "held until quiet hours end" not in status_text(timeline, State(), DaemonInfo(False, None, None))


def test_a_snoozed_reminder_shows_when_it_comes_back() -> None:
    from conftest import la, make_config

    from reminderd.instance import DaemonInfo
    from reminderd.report import status_json, status_text
    from reminderd.snooze import with_snooze
    from reminderd.state import State
    from reminderd.timeline import plan

    now = la(2026, 2, 15, 23, 59, 59) + timedelta(minutes=5)
    back = now + timedelta(hours=1)
    state = with_snooze(State(), "c/claim-deadline/-1d", back)
    timeline = plan(make_config(), state, now)
    idle = DaemonInfo(False, None, None)
    text = status_text(timeline, state, idle)
    assert "Snoozed (shown again then):\n  Mon 2026-02-16 01:04 PST  c/claim-deadline/-1d: " in text
    found = {r["id"]: r["snoozed_until"] for r in status_json(timeline, state, idle)["reminders"]}
    assert found["c/claim-deadline/-1d"] == "2026-02-16T01:04:59-08:00" and found["c/claim-deadline/-2h"] is None
    later = plan(make_config(), state, back + timedelta(seconds=1))
    assert "Snoozed" not in status_text(later, state, DaemonInfo(False, None, None))


def test_offers_says_what_a_price_rows_mark_means(cli: Cli) -> None:
    shown = cli("--config", EXAMPLE, "offers").stdout
    assert "claude-haiku-5-5@long (prompt over 100k tokens) 0.5/2.5" in shown
    assert "claude-haiku-5-5 0.1/0.5" in shown


def test_a_snooze_shows_when_the_daemon_will_really_show_it_again() -> None:
    """Not after a later reminder of its series is due (the daemon forgets that snooze), and at the
    end of the quiet hours its end falls in, not at the end itself."""
    from conftest import la, make_config

    from reminderd.instance import DaemonInfo
    from reminderd.report import status_json
    from reminderd.snooze import with_snooze
    from reminderd.state import State
    from reminderd.timeline import plan

    idle = DaemonInfo(False, None, None)
    now = la(2026, 2, 15, 23, 59, 59) + timedelta(minutes=5)  # the -1d claim reminder due; -2h at 21:59:59 on the 16th
    past_the_next = with_snooze(State(), "c/claim-deadline/-1d", la(2026, 2, 16, 22))
    shown = {r["id"]: r["snoozed_until"] for r in status_json(plan(make_config(), past_the_next, now), past_the_next,
                                                              idle)["reminders"]}
    assert shown["c/claim-deadline/-1d"] is None
    quiet = make_config('[quiet_hours]\nstart = "22:00"\nend = "08:00"\n')
    at_night = with_snooze(State(), "c/claim-deadline/-1d", la(2026, 2, 16, 2))
    shown = {r["id"]: r["snoozed_until"] for r in status_json(plan(quiet, at_night, now), at_night, idle)["reminders"]}
    assert shown["c/claim-deadline/-1d"] == "2026-02-16T08:00:00-08:00"
