"""A real `reminderd run` process on a private session bus, and what it talks to: shared by the
end-to-end and the fault tests (fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(__file__).resolve().parent / "tools"
WAKE = "1"
RUNNING: list[subprocess.Popen] = []  # type: ignore[type-arg]  # stopped after each test (conftest)


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextlib.contextmanager
def dunst_on_xvfb(env: dict[str, str]) -> Iterator[subprocess.Popen]:  # type: ignore[type-arg]
    """dunst, a real notification server, on a virtual X display, answering on env's session
    bus; sets env["DISPLAY"]. Killed (even when stopped) and the display closed on exit."""
    from integration import require

    xvfb, dunst, dunstctl = require("Xvfb"), require("dunst"), require("dunstctl")
    display = f":{80 + os.getpid() % 19}"
    env["DISPLAY"] = display
    x = subprocess.Popen([xvfb, display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), what="Xvfb")
        server = subprocess.Popen([dunst], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run([dunstctl, "count", "displayed"], env=env, capture_output=True).returncode
                 == 0, what="dunst on the bus")
        yield server
    finally:
        if server is not None:
            server.kill()
            server.wait(5)
        x.terminate()
        x.wait(5)


def soon_config(close_in: int, leads: list[str]) -> str:
    """An offer whose claim deadline is `close_in` s away: a reminder with lead L is due at close - L."""
    close = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=close_in)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return (f'timezone = "UTC"\n[offers.soon]\nname = "Test credit"\namount_usd = 10\neligible_plans = ["pro"]\n'
            f"claim_opens = {(close - timedelta(days=1)).strftime(stamp)}\n"
            f"claim_closes = {close.strftime(stamp)}\nvalidity_days = 30\n"
            f'switch_location = "the test console"\nswitches = ["Extra Usage"]\n'
            f'[[credit]]\nid = "t"\noffer = "soon"\nplan = "pro"\n'
            f"[reminders]\nclaim_deadline = {json.dumps(leads)}\n")


def received(record: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in record.read_text().splitlines()]


class Daemon:
    """A `reminderd run` subprocess with its own state dir and log."""

    def __init__(self, tmp_path: Path, env: dict[str, str], name: str = "run", state_dir: Path | None = None) -> None:
        self.log = tmp_path / f"{name}.log"
        self.config = tmp_path / "config.toml"
        self.env = {"REMINDERD_WAKE_SECONDS": WAKE, **env, "REMINDERD_STATE_DIR": str(state_dir or tmp_path / "state"),
                    "PYTHONUNBUFFERED": "1"}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "reminderd", "-v", "--config", str(self.config),
                                          "run"], env=self.env, stderr=log, stdout=log, cwd=ROOT)
        RUNNING.append(self.proc)
        wait_for(lambda: "reminderd running" in self.text() or self.proc.poll() is not None, what="start")

    def text(self) -> str:
        return self.log.read_text()

    def ticks(self) -> int:
        return self.text().count("DEBUG tick (")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(2)  # the contract: exit within 2 s


def click_button(bus_address: str, notification_id: int, key: str) -> None:
    """Click a button of a notification shown by tests/tools/notify_server.py --actions."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    server = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                         interface="org.reminderd.Test")
    with open_dbus_connection(bus=bus_address) as connection:
        reply = connection.send_and_get_reply(new_method_call(server, "InvokeAction", "us", (notification_id, key)),
                                              timeout=5)
        assert reply.header.message_type.name == "method_return", reply.body


def close_notification(bus_address: str, notification_id: int) -> None:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    server = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                         interface="org.freedesktop.Notifications")
    with open_dbus_connection(bus=bus_address) as connection:
        connection.send_and_get_reply(new_method_call(server, "CloseNotification", "u", (notification_id,)), timeout=5)
