"""Buttons on the desktop notification: what each reminder offers and records (pure), snoozes in
the state and the timeline (pure), and clicks through a real session bus, to the project's
notification server with the "actions" capability and to dunst on Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, Clock, config_text, make_config
from daemon_process import Daemon as DaemonProcess
from daemon_process import click_button, close_notification, dunst_on_xvfb, received, wait_for
from integration import require

from reminderd.actions import DONE, SNOOZE, Actions, Watcher, actions_for, done_action
from reminderd.catchup import snoozed
from reminderd.daemon import Daemon
from reminderd.dbus_notify import DBusNotifier
from reminderd.snooze import SNOOZE_FOR, snoozes, with_snooze
from reminderd.state import State, parse_state, read_state, to_json
from reminderd.timeline import plan

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\n'
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)
START = EXPIRES - timedelta(days=6)  # the daemon fixture starts here: the 7-day warning is due
NO_CHECKS = "[reminders]\nusage_check_every_days = 0\n"
BUTTONS = ["done", "I turned it off", "snooze", "Remind me in 1 hour"]


def reminder(kind_prefix: str, now: datetime, body: str = NO_CHECKS, credit: str = CREDIT):  # type: ignore[no-untyped-def]
    config = make_config(body, credit=credit)
    timeline = plan(config, State(), now)
    return config, next(r for r in timeline.reminders if r.id.startswith(kind_prefix))


# -- what each reminder offers (pure) ----------------------------------------------------------

def test_each_button_records_the_switch_its_reminder_asks_for() -> None:
    config, expiry = reminder("c/expiry/-7d", EXPIRES)
    assert done_action(expiry, config) == "extra-usage-off"
    config, top_up = reminder("c/auto-reload", EXPIRES)
    assert done_action(top_up, config) == "auto-reload-off"
    config, claim = reminder("c/claim-deadline", datetime(2026, 2, 1, tzinfo=UTC),
                             credit='[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n')
    assert done_action(claim, config) is None
    assert actions_for(claim, config, print).buttons == (("settings", "Open Settings"), ("snooze", "Remind me later"))


def test_the_hint_says_what_to_run_unless_the_body_already_does() -> None:
    config, expiry = reminder("c/expiry/-7d", EXPIRES)
    actions = actions_for(expiry, config, print)
    assert [text for button in actions.buttons for text in button] == BUTTONS
    assert actions.hint == "When it is off, run `reminderd done extra-usage-off`."
    config, expired = reminder("c/expiry/at", EXPIRES)
    assert "then run `reminderd done extra-usage-off`" in expired.body
    assert actions_for(expired, config, print).hint == ""


def test_with_several_credits_the_hint_names_the_credit() -> None:
    two = CREDIT + '[[credit]]\nid = "d"\nplan = "max-5x"\nclaimed_at = 2026-02-12T12:00:00\n'
    config, expiry = reminder("d/expiry/-7d", EXPIRES, credit=two)
    assert actions_for(expiry, config, print).hint == "When it is off, run `reminderd done extra-usage-off --credit d`."


# -- snoozes (pure) ------------------------------------------------------------------------------

def snoozed_ids(state: State, now: datetime) -> tuple[list[str], list[str]]:
    again, forget = snoozed(plan(make_config(NO_CHECKS, credit=CREDIT), state, now), state)
    return [r.id for r in again], forget


def test_a_snoozed_reminder_comes_back_when_its_snooze_ends() -> None:
    shown = EXPIRES - timedelta(days=6)
    state = with_snooze(State(), "c/expiry/-7d", shown + SNOOZE_FOR)
    assert snoozed_ids(state, shown + SNOOZE_FOR - timedelta(seconds=1)) == ([], [])
    assert snoozed_ids(state, shown + SNOOZE_FOR) == (["c/expiry/-7d"], [])


def test_a_snooze_is_forgotten_once_its_reminder_is_followed_acknowledged_or_past() -> None:
    state = with_snooze(State(), "c/expiry/-7d", EXPIRES - timedelta(days=5))
    assert snoozed_ids(state, EXPIRES - timedelta(hours=12)) == ([], ["c/expiry/-7d"])  # the 1-day one is due
    acknowledged = state.with_acknowledged("c", "extra-usage-off", EXPIRES - timedelta(days=5, hours=1))
    assert snoozed_ids(acknowledged, EXPIRES - timedelta(days=5)) == ([], ["c/expiry/-7d"])


def test_a_snooze_ending_in_quiet_hours_waits_for_their_end() -> None:
    quiet = NO_CHECKS + '[quiet_hours]\nstart = "22:00"\nend = "08:00"\n'  # Los Angeles
    night = datetime(2026, 4, 5, 7, 30, tzinfo=UTC)  # 00:30 in Los Angeles
    state = with_snooze(State(), "c/expiry/-7d", night)
    timeline = plan(make_config(quiet, credit=CREDIT), state, night)
    assert snoozed(timeline, state) == ([], [])
    morning = datetime(2026, 4, 5, 15, 0, tzinfo=UTC)  # 08:00
    again, _ = snoozed(plan(make_config(quiet, credit=CREDIT), state, morning), state)
    assert [r.id for r in again] == ["c/expiry/-7d"]


def test_snoozes_are_kept_in_the_state_and_a_damaged_one_costs_only_itself() -> None:
    state = with_snooze(State(), "c/expiry/-7d", EXPIRES)
    assert snoozes(parse_state(json.dumps(to_json(state)), "s").state) == {"c/expiry/-7d": EXPIRES}
    raw = to_json(state)
    raw["snoozed"]["c/expiry/-1d"] = {"until": "soon"}
    loaded = parse_state(json.dumps(raw), "s")
    assert snoozes(loaded.state) == {"c/expiry/-7d": EXPIRES} and loaded.damaged


# -- through a real session bus ------------------------------------------------------------------

class Clicks:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrived = threading.Event()

    def __call__(self, key: str) -> None:
        self.keys.append(key)
        self.arrived.set()


def offer(clicks: Clicks, hint: str = "When it is off, run `reminderd done extra-usage-off`.") -> Actions:
    return Actions((("done", "I turned it off"), ("snooze", "Remind me in 1 hour")), hint, clicks)


def no_watchers_within(seconds: float) -> None:
    wait_for(lambda: Watcher.active() == 0, timeout=seconds, what="the watcher to end")


@pytest.fixture
def bus_env(session_bus: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    yield session_bus
    Watcher.close_all()


def test_buttons_are_shown_and_a_click_comes_back(clickable: Path, bus_env: str) -> None:
    clicks = Clicks()
    DBusNotifier().send("Turn it off", "Soon.", offer(clicks))
    (shown,) = received(clickable)
    assert shown["actions"] == BUTTONS and shown["body"] == "Soon."  # no hint where there are buttons
    assert Watcher.active() == 1
    click_button(bus_env, shown["id"], DONE)
    assert clicks.arrived.wait(5) and clicks.keys == [DONE]
    no_watchers_within(5)


def test_a_notification_closed_unclicked_ends_its_watch(clickable: Path, bus_env: str) -> None:
    clicks = Clicks()
    DBusNotifier().send("Turn it off", "Soon.", offer(clicks))
    close_notification(bus_env, received(clickable)[0]["id"])
    no_watchers_within(5)
    assert clicks.keys == []


def test_without_the_capability_the_body_says_what_to_run(recorder: Path, bus_env: str) -> None:
    DBusNotifier().send("Turn it off", "Soon.", offer(Clicks()))
    (shown,) = received(recorder)
    assert shown["actions"] == [] and shown["body"] == "Soon. When it is off, run `reminderd done extra-usage-off`."
    assert Watcher.active() == 0


def test_stopping_lets_every_watch_go_at_once(clickable: Path, bus_env: str) -> None:
    for _ in range(3):
        DBusNotifier().send("t", "b", offer(Clicks()))
    assert Watcher.active() == 3
    Watcher.close_all()
    no_watchers_within(1)


@pytest.fixture
def daemon(tmp_path: Path, bus_env: str):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(config_text(NO_CHECKS + '[notifications]\nbackend = "dbus"\n',
                                  credit=CREDIT + "auto_reload = false\n"))
    clock = Clock(START)
    running = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock)
    running.start(paused=True)
    yield running, clock
    running.stop()


def shown_and_clicked(daemon, clickable: Path, bus_env: str, button: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The daemon shows its first reminder, and a person clicks `button` on it."""
    running, _ = daemon
    running.tick("test")
    (shown,) = received(clickable)
    click_button(bus_env, shown["id"], button)
    return shown


def tick_after(daemon, later: timedelta) -> None:  # type: ignore[no-untyped-def]
    running, clock = daemon
    clock.now = START + later
    running.tick("test")


def test_clicking_done_records_it_and_stops_the_series(daemon, clickable: Path, bus_env: str,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    shown_and_clicked(daemon, clickable, bus_env, DONE)
    wait_for(lambda: read_state(tmp_path / "state.json").state.acknowledged.get("c"), timeout=5,
             what="the acknowledgement")
    assert list(read_state(tmp_path / "state.json").state.acknowledged["c"]) == ["extra-usage-off"]
    for hours in (24 * 5, 24 * 5 + 23, 24 * 6 + 12):  # the 1-day, 2-hour and at-expiry reminders
        tick_after(daemon, timedelta(hours=hours))
    assert len(received(clickable)) == 1


def test_a_snoozed_reminder_comes_once_more_an_hour_later(daemon, clickable: Path, bus_env: str,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    first = shown_and_clicked(daemon, clickable, bus_env, SNOOZE)
    wait_for(lambda: snoozes(read_state(tmp_path / "state.json").state), timeout=5, what="the snooze")
    for minutes in (30, 59):
        tick_after(daemon, timedelta(minutes=minutes))
    assert len(received(clickable)) == 1
    for minutes in (60, 61, 120):
        tick_after(daemon, timedelta(minutes=minutes))
    shown = received(clickable)
    assert first["summary"] == "Claude usage credit expires in 6 days: turn usage credits off"
    assert [n["summary"] for n in shown[1:]] == [
        "Claude usage credit expires in 5 days 23 hours: turn usage credits off"]
    state = read_state(tmp_path / "state.json").state
    assert snoozes(state) == {} and len(state.delivered["c/expiry/-7d"]) == 2


# -- end to end: a daemon process, a click, `status` ---------------------------------------------------

def claimed_config(due_in: int) -> str:
    """A credit claimed so that its 1-minute expiry warning is due `due_in` seconds from now
    (and its at-expiry reminder a minute later)."""
    validity = timedelta(days=30)
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(minutes=1, seconds=due_in)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return (f'timezone = "UTC"\n[offers.soon]\nname = "Test credit"\namount_usd = 10\neligible_plans = ["pro"]\n'
            f"claim_opens = {(now - validity - timedelta(days=1)).strftime(stamp)}\n"
            f"claim_closes = {now.strftime(stamp)}\n"
            f'validity_days = 30\nswitch_location = "the test console"\nswitches = ["Extra Usage"]\n'
            f'[[credit]]\nid = "t"\noffer = "soon"\nplan = "pro"\n'
            f"claimed_at = {(expires - validity).strftime(stamp)}\n"
            '[reminders]\nusage_check_every_days = 0\nexpiry = ["1m"]\n'
            '[notifications]\nbackend = "dbus"\n')


def status_json(daemon: DaemonProcess) -> dict:  # type: ignore[type-arg]
    result = subprocess.run([sys.executable, "-m", "reminderd", "--config", str(daemon.config), "status", "--json"],
                            env=daemon.env, capture_output=True, text=True, timeout=20, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_end_to_end_a_click_is_in_status_and_nothing_of_that_kind_follows(
        clickable: Path, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(claimed_config(1))
    daemon = DaemonProcess(tmp_path, env)
    wait_for(lambda: received(clickable), timeout=10, what="the reminder")
    before = status_json(daemon)
    assert [r["id"] for r in before["reminders"]] == ["t/expiry/-1m", "t/expiry/at"]
    click_button(env["DBUS_SESSION_BUS_ADDRESS"], received(clickable)[0]["id"], DONE)
    wait_for(lambda: "recorded extra-usage-off for t from the notification" in daemon.text(), timeout=5,
             what="the click recorded")
    after = status_json(daemon)
    assert list(after["credits"][0]["acknowledged"]) == ["extra-usage-off"]
    assert after["reminders"] == []  # "expired: turn usage credits off" will not come
    assert daemon.stop() == 0


def test_real_notification_server_dunst_shows_the_buttons_and_a_click_is_recorded(
        session_bus: str, tmp_path: Path) -> None:
    dunstctl = require("dunstctl")
    # dunst's context menu runs a dmenu-like program with one line per button; this one picks
    # "I turned it off", as a person would
    menu = tmp_path / "menu.txt"
    pick = tmp_path / "pick.sh"
    pick.write_text(f'#!/bin/sh\ncat > "{menu}"\ngrep -m1 "I turned it off" "{menu}"\n')
    pick.chmod(0o755)
    (tmp_path / "xdg" / "dunst").mkdir(parents=True)
    (tmp_path / "xdg" / "dunst" / "dunstrc").write_text(f'[global]\n    dmenu = "{pick}"\n')
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "HOME": str(tmp_path)}
    with dunst_on_xvfb(env):
        (tmp_path / "config.toml").write_text(claimed_config(1))
        daemon = DaemonProcess(tmp_path, env)
        wait_for(lambda: subprocess.run([dunstctl, "count", "displayed"], env=env, capture_output=True,
                                        text=True).stdout.strip() == "1", what="the reminder on screen")
        subprocess.run([dunstctl, "context"], env=env, check=True, timeout=10)
        wait_for(lambda: "recorded extra-usage-off for t from the notification" in daemon.text(), timeout=10,
                 what="the click recorded")
        lines = menu.read_text().splitlines()
        assert [line.split(" (")[0] for line in lines] == ["#I turned it off", "#Remind me in 1 hour"]
        assert "extra-usage-off" in status_json(daemon)["credits"][0]["acknowledged"]
        assert daemon.stop() == 0
