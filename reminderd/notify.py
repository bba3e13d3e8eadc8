"""Desktop notifications: a small Notifier protocol and the backends behind it.

A backend either gets the notification accepted by something that shows it, or raises
NotifyError: the daemon records a reminder as delivered only when `send` returned. Text is
always passed as data (D-Bus arguments, argv after `--`), never through a shell or a script.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from reminderd.errors import ReminderdError

log = logging.getLogger(__name__)
APP_NAME = "reminderd"
COMMAND_TIMEOUT = 20  # seconds a notification program may take


class NotifyError(ReminderdError):
    """No backend got the notification accepted."""

    exit_code = 69  # EX_UNAVAILABLE


class Notifier(Protocol):
    name: str

    def send(self, title: str, body: str) -> None:
        """Deliver, or raise NotifyError."""


def session_bus_address() -> tuple[str | None, str]:
    """The session bus address, and how it was found (for the log).

    Some service managers start us without DBUS_SESSION_BUS_ADDRESS; the bus is then usually
    at $XDG_RUNTIME_DIR/bus.
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address, "DBUS_SESSION_BUS_ADDRESS"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    path = os.path.join(runtime, "bus")
    if os.path.exists(path):
        return f"unix:path={path}", f"DBUS_SESSION_BUS_ADDRESS is not set; using {path}"
    return None, f"DBUS_SESSION_BUS_ADDRESS is not set and there is no bus at {path}"


def escape_markup(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DBusNotifier:
    """org.freedesktop.Notifications.Notify on the session bus, through jeepney (pure Python)."""

    name = "dbus"

    def send(self, title: str, body: str) -> None:
        try:
            from jeepney import DBusAddress, new_method_call
            from jeepney.io.blocking import open_dbus_connection
            from jeepney.wrappers import DBusErrorResponse
        except ImportError as exc:
            raise NotifyError("dbus: jeepney is not installed") from exc
        address, how = session_bus_address()
        if how != "DBUS_SESSION_BUS_ADDRESS":
            log.info("dbus: %s", how)
        if address is None:
            raise NotifyError(f"dbus: {how}")
        server = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                             interface="org.freedesktop.Notifications")
        try:
            with open_dbus_connection(bus=address) as connection:
                caps = connection.send_and_get_reply(new_method_call(server, "GetCapabilities"), timeout=5)
                if caps.header.message_type.name == "error":
                    raise NotifyError(f"dbus: no notification server answers ({caps.body[0] if caps.body else ''})")
                if "body-markup" in caps.body[0]:
                    body = escape_markup(body)
                notify = new_method_call(server, "Notify", "susssasa{sv}i",
                                         (APP_NAME, 0, "dialog-warning", title, body, [],
                                          {"urgency": ("y", 2)}, 0))
                reply = connection.send_and_get_reply(notify, timeout=10)
                if reply.header.message_type.name == "error":
                    raise NotifyError(f"dbus: the notification server refused: {reply.body}")
        except NotifyError:
            raise
        except (OSError, TimeoutError, DBusErrorResponse, ValueError, KeyError) as exc:
            raise NotifyError(f"dbus: {type(exc).__name__}: {exc}") from exc


class CommandNotifier:
    """Runs a program with the title and body as its last two arguments; exit 0 means delivered."""

    def __init__(self, argv: Sequence[str], name: str = "command") -> None:
        self.argv = list(argv)
        self.name = name

    def send(self, title: str, body: str) -> None:
        if shutil.which(self.argv[0]) is None:
            raise NotifyError(f"{self.name}: {self.argv[0]} not found")
        try:
            done = subprocess.run([*self.argv, title, body], capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NotifyError(f"{self.name}: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise NotifyError(f"{self.name}: exit {done.returncode}" + (f": {detail[-1]}" if detail else ""))


def notify_send() -> CommandNotifier:
    # `--` ends the options: a title starting with "-" is text, not a flag
    return CommandNotifier(["notify-send", f"--app-name={APP_NAME}", "--urgency=critical", "--"], "notify-send")


def osascript() -> CommandNotifier:
    # the text arrives as argv of the script, never interpolated into it
    script = ["-e", "on run argv", "-e", "display notification (item 2 of argv) with title (item 1 of argv)",
              "-e", "end run"]
    return CommandNotifier(["osascript", *script], "osascript")


class PlyerNotifier:
    """plyer's notification facade. It cannot report failure on Linux (it ignores notify-send's
    exit code), so `auto` uses it last, and on Linux only where it has dbus-python."""

    name = "plyer"

    def send(self, title: str, body: str) -> None:
        try:
            from plyer import notification
        except ImportError as exc:
            raise NotifyError("plyer: not installed (pip install plyer)") from exc
        try:
            notification.notify(title=title, message=body, app_name=APP_NAME, timeout=0)
        except Exception as exc:  # plyer raises anything from its platform backends
            raise NotifyError(f"plyer: {type(exc).__name__}: {exc}") from exc


class LogNotifier:
    """Writes the notification to the log (stderr): for headless machines."""

    name = "log"

    def send(self, title: str, body: str) -> None:
        logging.getLogger("reminderd.notification").warning("%s: %s", title, body)


class FallbackNotifier:
    """Tries each backend in turn; remembers which one delivered."""

    name = "auto"

    def __init__(self, backends: Sequence[Notifier]) -> None:
        self.backends = list(backends)
        self.used: str | None = None

    def send(self, title: str, body: str) -> None:
        failures = []
        for backend in self.backends:
            try:
                backend.send(title, body)
            except NotifyError as exc:
                log.info("notification not delivered: %s; trying the next backend", exc)
                failures.append(str(exc))
                continue
            self.used = backend.name
            return
        raise NotifyError("no backend delivered it: " + "; ".join(failures))


def _plyer_can_report_failure() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    import importlib.util

    return importlib.util.find_spec("dbus") is not None


def auto_backends(platform: str = sys.platform) -> list[Notifier]:
    if platform == "darwin":
        return [osascript(), PlyerNotifier()]
    if platform.startswith("win"):
        return [PlyerNotifier()]
    backends: list[Notifier] = [DBusNotifier(), notify_send()]
    if _plyer_can_report_failure():
        backends.append(PlyerNotifier())
    return backends


SINGLE_BACKENDS: dict[str, Callable[[], Notifier]] = {
    "dbus": DBusNotifier, "notify-send": notify_send, "osascript": osascript,
    "plyer": PlyerNotifier, "log": LogNotifier,
}


def make_notifier(backend: str, command: Sequence[str] = ()) -> FallbackNotifier:
    """The notifier for a config's `notifications.backend` (always a FallbackNotifier, so callers
    can ask which backend delivered)."""
    if backend == "auto":
        return FallbackNotifier(auto_backends())
    if backend == "command":
        return FallbackNotifier([CommandNotifier(command)])
    return FallbackNotifier([SINGLE_BACKENDS[backend]()])
