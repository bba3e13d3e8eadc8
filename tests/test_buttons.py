"""Buttons that mean what they say, and urgency that follows the reminder (kinds.py, one table):
pure, then through the recording notification server on a private bus (D-Bus and notify-send),
then dunst on Xvfb. And a click counts only when the notification server sent it (security L4)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock, config_text, la, make_config
from daemon_process import Daemon as DaemonProcess
from daemon_process import click_button, dunst_on_xvfb, received, soon_config, wait_for
from integration import require

from reminderd.actions import DONE, SETTINGS, SNOOZE, Watcher, actions_for
from reminderd.daemon import Daemon
from reminderd.dbus_notify import DBusNotifier
from reminderd.errors import ConfigError
from reminderd.facts import Facts
from reminderd.kinds import EVERY, KINDS, Kind
from reminderd.notify import FallbackNotifier, notify_send
from reminderd.settings import Config
from reminderd.state import State, read_state
from reminderd.timeline import Reminder, plan

CLAIMED = 'claimed_at = 2026-02-10T12:00:00\n'
FAST = "[credit.usage.per_day]\nchat_rounds = 20\nclaude_code_sessions = 2\n"  # low balance, exhaustion
SLOW = "[credit.usage]\ndaily_spend_usd = 0.5\n"  # credit left unused
CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n'
OFF = ["done", "I turned it off", "snooze", "Remind me in 1 hour"]
INFO = ["settings", "Open Settings", "snooze", "Remind me later"]
# reminder -> (its buttons, whether it is a last warning)
EXPECTED = {
    "claim-deadline/-1d": (INFO, False),
    "check-usage": (INFO, False),
    "unused-credit/-14d": (INFO, False),
    "auto-reload/after-claim": (OFF, False),
    "low-balance/usd10": (OFF, False),
    "exhaustion/at": (OFF, True),
    "expiry/-7d": (OFF, False),
    "expiry/-2h": (OFF, False),
    "expiry/at": (OFF, True),
    "logged-spend/since-claim": (OFF, True),
    "balance-drop/20260219T0200Z": (INFO, False),
    "card-paying": (OFF, True),
}


def every_kind() -> dict[str, tuple[Reminder, Config]]:
    """One reminder of each kind the timeline makes (and each label EXPECTED names)."""
    from test_account_timeline import CLAIMED as ACCOUNT_CLAIMED
    from test_account_timeline import COMPUTED_EXPIRY, facts
    from test_money import DROP, LOGS, burst, drop_state, usage

    drop_spend = {datetime(2026, 2, 7 + i, 20, tzinfo=UTC): 1.0 for i in range(12)}
    paying_read = COMPUTED_EXPIRY + timedelta(minutes=20)
    found: dict[str, tuple[Reminder, Config]] = {}
    for body, credit, now, state, known in (
            (FAST, CREDIT + CLAIMED, la(2026, 2, 20), State(), Facts()),
            (SLOW, CREDIT + CLAIMED, la(2026, 2, 20), State(), Facts()),
            ("", CREDIT, la(2026, 2, 6), State(), Facts()),
            (LOGS, CREDIT, la(2026, 2, 24, 9), State(), Facts(usage={"c": usage(burst(), la(2026, 2, 24, 9))})),
            (DROP, CREDIT, la(2026, 2, 20, 12), drop_state(), Facts(usage={"c": usage(drop_spend, la(2026, 2, 20))})),
            (ACCOUNT_CLAIMED, CREDIT, paying_read, State(), facts(paying_read, on=True))):
        config = make_config(body, credit=credit)
        for reminder in plan(config, state, now, known).reminders:
            short = reminder.id.removeprefix("c/")
            found.setdefault(reminder.kind if reminder.kind in ("check-usage", "card-paying") else short,
                             (reminder, config))
    return found


def flat(buttons: tuple[tuple[str, str], ...]) -> list[str]:
    return [text for button in buttons for text in button]


# -- pure ------------------------------------------------------------------------------------------

def test_every_kind_the_timeline_makes_is_declared_in_the_table() -> None:
    assert {reminder.kind for reminder, _ in every_kind().values()} == set(KINDS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_gets_its_buttons_and_urgency(name: str) -> None:
    reminder, config = every_kind()[name]
    actions = actions_for(reminder, config, print)
    assert (flat(actions.buttons), actions.urgent) == EXPECTED[name]
    if EXPECTED[name][0] == INFO:
        assert actions.hint == ""  # no "When it is off, run ..." where nothing is asked to be off


def test_a_new_kind_needs_only_its_line_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    reminder, config = every_kind()["expiry/-7d"]
    paying = reminder._replace(id="c/a-new-kind/now", kind="a-new-kind")
    undeclared = actions_for(paying, config, print)
    assert (flat(undeclared.buttons), undeclared.urgent) == (INFO, False)  # never a button that silences
    monkeypatch.setitem(KINDS, "a-new-kind", Kind(asks_off=True, urgent=EVERY))
    actions = actions_for(paying, config, print)
    assert (flat(actions.buttons), actions.urgent) == (OFF, True)


def test_an_offer_without_a_settings_page_offers_only_remind_me_later() -> None:
    custom = ('[offers.acme]\namount_usd = 10\neligible_plans = ["pro"]\nclaim_opens = 2026-02-01T00:00:00\n'
              'claim_closes = 2026-03-01T00:00:00\n'
              'validity_days = 30\nswitches = ["Overage"]\nswitch_location = "the console"\n')
    config = make_config(custom + "[reminders]\nclaim_deadline = [\"1d\"]\n",
                         credit='[[credit]]\nid = "c"\noffer = "acme"\nplan = "pro"\n')
    (reminder,) = plan(config, State(), la(2026, 2, 2)).reminders
    assert flat(actions_for(reminder, config, print).buttons) == ["snooze", "Remind me later"]
    with_page = make_config(custom + 'settings_url = "https://acme.example/billing"\n',
                            credit='[[credit]]\nid = "c"\noffer = "acme"\nplan = "pro"\n')
    assert with_page.offers["acme"].settings_url == "https://acme.example/billing"
    with pytest.raises(ConfigError) as error:  # handed to xdg-open: a web address, nothing else
        make_config(custom + 'settings_url = "--help"\n', credit='[[credit]]\nid = "c"\noffer = "acme"\nplan = "pro"\n')
    assert error.value.problems == ['test.toml: offers.acme.settings_url: expected a web address such as '
                                    'https://claude.ai/settings/usage, got "--help"']


# -- through a private session bus ---------------------------------------------------------------------

class Clicks:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrived = threading.Event()

    def __call__(self, key: str) -> None:
        self.keys.append(key)
        self.arrived.set()


@pytest.fixture
def bus_env(session_bus: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    yield session_bus
    Watcher.close_all()


def test_the_server_is_told_each_kinds_buttons_and_urgency(clickable: Path, bus_env: str) -> None:
    reminders = every_kind()
    for name in sorted(EXPECTED):
        reminder, config = reminders[name]
        DBusNotifier().send(reminder.title, reminder.body, actions_for(reminder, config, Clicks()))
    shown = received(clickable)
    got = {name: (n["actions"], n["urgency"], n["timeout"]) for name, n in zip(sorted(EXPECTED), shown, strict=True)}
    # critical and shown until dismissed only for the last warnings; else normal, and the server's own expiry
    assert got == {name: (buttons, 2 if urgent else 1, 0 if urgent else -1)
                   for name, (buttons, urgent) in EXPECTED.items()}


def test_notify_test_is_normal(recorder: Path, cli, tmp_path: Path, session_bus: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "c.toml").write_text(config_text('[notifications]\nbackend = "dbus"\n'))
    result = cli("--config", str(tmp_path / "c.toml"), "notify-test", env={"DBUS_SESSION_BUS_ADDRESS": session_bus})
    assert result.exit_code == 0, result.output
    (shown,) = received(recorder)
    assert (shown["urgency"], shown["timeout"]) == (1, -1)


def test_notify_send_says_the_urgency_too(recorder: Path, bus_env: str) -> None:
    require("notify-send")
    reminders = every_kind()
    for name in ("expiry/-7d", "expiry/at"):
        reminder, config = reminders[name]
        FallbackNotifier([notify_send()]).send(reminder.title, reminder.body, actions_for(reminder, config, print))
    wait_for(lambda: len(received(recorder)) == 2, timeout=5, what="both notifications")
    assert [n["urgency"] for n in received(recorder)] == [1, 2]


@pytest.fixture
def opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in xdg-open first on PATH: it writes the address it was given to the returned file."""
    opened = tmp_path / "opened.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xdg-open").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{opened}"\n')
    (bin_dir / "xdg-open").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return opened


def test_open_settings_opens_the_switchs_page_and_records_nothing(clickable: Path, bus_env: str,
                                                                   opener: Path) -> None:
    reminder, config = every_kind()["check-usage"]
    clicks = Clicks()
    DBusNotifier().send(reminder.title, reminder.body, actions_for(reminder, config, clicks))
    click_button(bus_env, received(clickable)[0]["id"], SETTINGS)
    wait_for(opener.exists, timeout=5, what="the opener")
    assert opener.read_text() == "https://claude.ai/settings/usage\n"
    wait_for(lambda: Watcher.active() == 0, timeout=5, what="the watcher to end")
    assert clicks.keys == []  # neither "done" nor a snooze
    DBusNotifier().send(reminder.title, reminder.body, actions_for(reminder, config, clicks))
    click_button(bus_env, received(clickable)[1]["id"], SNOOZE)
    assert clicks.arrived.wait(5) and clicks.keys == [SNOOZE]  # "Remind me later" is the snooze


NO_CHECKS = "[reminders]\nusage_check_every_days = 0\n"
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)


def forge(bus_address: str, notification_id: int, key: str) -> None:
    """What any client of the session bus can do: broadcast the server's signal as its own."""
    from jeepney import DBusAddress, new_method_call, new_signal
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    server = DBusAddress("/org/freedesktop/Notifications", interface="org.freedesktop.Notifications")
    with open_dbus_connection(bus=bus_address) as connection:
        connection.send(new_signal(server, "ActionInvoked", "us", (notification_id, key)))
        # the bus handles one connection's messages in order: once this is answered, the signal is routed
        connection.send_and_get_reply(new_method_call(message_bus, "GetId"), timeout=5)


def test_a_forged_click_from_another_connection_is_not_recorded(clickable: Path, bus_env: str,
                                                               tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text(NO_CHECKS + '[notifications]\nbackend = "dbus"\n',
                                  credit=CREDIT + CLAIMED + "auto_reload = false\n"))
    running = Daemon(config, tmp_path / "state.json", tmp_path / "lock", Clock(EXPIRES - timedelta(days=6)))
    running.start(paused=True)
    try:
        running.tick("test")
        (shown,) = received(clickable)
        forge(bus_env, shown["id"], DONE)  # before the real click: a watcher that took it would stop there
        click_button(bus_env, shown["id"], SNOOZE)
        state = tmp_path / "state.json"
        wait_for(lambda: read_state(state).state.extra.get("snoozed") or read_state(state).state.acknowledged,
                 timeout=5, what="a click recorded")
        assert read_state(state).state.acknowledged == {}  # the forged "I turned it off" counted for nothing
        assert list(read_state(state).state.extra["snoozed"]) == ["c/expiry/-7d"]  # the real click did
    finally:
        running.stop()


# -- dunst on Xvfb, a real notification server --------------------------------------------------------

def dunst_env(session_bus: str, tmp_path: Path, pick: str) -> dict[str, str]:
    """dunst's context menu runs a dmenu-like program with one line per button; this one keeps
    the menu in menu.txt and picks the line with `pick`, as a person would."""
    menu, script = tmp_path / "menu.txt", tmp_path / "pick.sh"
    script.write_text(f'#!/bin/sh\ncat > "{menu}"\ngrep -m1 "{pick}" "{menu}"\n')
    script.chmod(0o755)
    (tmp_path / "xdg" / "dunst").mkdir(parents=True)
    (tmp_path / "xdg" / "dunst" / "dunstrc").write_text(f'[global]\n    dmenu = "{script}"\n')
    return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "HOME": str(tmp_path)}


def dunst_history(env: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    out = subprocess.run([require("dunstctl"), "history"], env=env, capture_output=True, text=True, check=True).stdout
    return [{key: value["data"] for key, value in n.items()} for n in json.loads(out)["data"][0]]


def test_dunst_offers_open_settings_on_a_claim_reminder_and_opens_the_page(
        session_bus: str, tmp_path: Path, opener: Path) -> None:
    dunstctl = require("dunstctl")
    env = dunst_env(session_bus, tmp_path, "Open Settings")
    with dunst_on_xvfb(env):
        (tmp_path / "config.toml").write_text(
            soon_config(61, ["1m"]).replace('switches = ["Extra Usage"]\n', 'switches = ["Extra Usage"]\n'
                                            'settings_url = "https://test.example/settings"\n'))
        daemon = DaemonProcess(tmp_path, env)
        wait_for(lambda: subprocess.run([dunstctl, "count", "displayed"], env=env, capture_output=True,
                                        text=True).stdout.strip() == "1", what="the reminder on screen")
        subprocess.run([dunstctl, "context"], env=env, check=True, timeout=10)
        wait_for(opener.exists, timeout=10, what="the page opened")
        assert opener.read_text() == "https://test.example/settings\n"
        lines = (tmp_path / "menu.txt").read_text().splitlines()
        assert sorted(line.split(" (")[0] for line in lines) == ["#Open Settings", "#Remind me later"]
        subprocess.run([dunstctl, "close-all"], env=env, check=True, timeout=10)
        wait_for(lambda: dunst_history(env), timeout=5, what="the notification closed")
        # dunst's history has no urgency, but its effect: a normal one expires (dunst's default 10 s)
        assert [n["timeout"] for n in dunst_history(env)] == [10_000_000]
        assert "from the notification" not in daemon.text()  # nothing recorded
        assert daemon.stop() == 0


def test_dunst_shows_the_reminder_at_expiry_as_critical(session_bus: str, tmp_path: Path) -> None:
    dunstctl = require("dunstctl")
    env = dunst_env(session_bus, tmp_path, "I turned it off")
    with dunst_on_xvfb(env):
        expired = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        claimed = expired - timedelta(days=30)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        (tmp_path / "config.toml").write_text(
            f'timezone = "UTC"\n[offers.soon]\nname = "Test credit"\namount_usd = 10\neligible_plans = ["pro"]\n'
            f"claim_opens = {(claimed - timedelta(days=1)).strftime(stamp)}\n"
            f"claim_closes = {(claimed + timedelta(days=1)).strftime(stamp)}\nvalidity_days = 30\n"
            'switch_location = "the test console"\nswitches = ["Extra Usage"]\n'
            f'[[credit]]\nid = "t"\noffer = "soon"\nplan = "pro"\nclaimed_at = {claimed.strftime(stamp)}\n'
            '[reminders]\nusage_check_every_days = 0\nexpiry = []\n[notifications]\nbackend = "dbus"\n')
        daemon = DaemonProcess(tmp_path, env)
        wait_for(lambda: "delivered t/expiry/at" in daemon.text(), what="the reminder at expiry")
        subprocess.run([dunstctl, "context"], env=env, check=True, timeout=10)
        wait_for(lambda: "recorded extra-usage-off for t from the notification" in daemon.text(), timeout=10,
                 what="the click recorded")
        subprocess.run([dunstctl, "close-all"], env=env, check=True, timeout=10)
        wait_for(lambda: dunst_history(env), timeout=5, what="the notification closed")
        assert [n["timeout"] for n in dunst_history(env)] == [0]  # critical: shown until dismissed
        assert daemon.stop() == 0
