"""Desktop notifications: the backends behind the Notifier protocol (notifier.py; D-Bus is in
dbus_notify.py), tried in turn, and the desktop as a channel.

A backend either gets the notification accepted by something that shows it, or raises
NotifyError: the daemon records a reminder as delivered only when `send` returned. Text is
always passed as data (D-Bus arguments, argv after `--`), never through a shell or a script.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from reminderd.bounded import CannotRun, Stoppable
from reminderd.dbus_notify import DBusNotifier
from reminderd.errors import NotifyError
from reminderd.notifier import APP_NAME, SEND_TIMEOUT, URGENCY, Notifier, escape_markup
from reminderd.record import DESKTOP
from reminderd.seams import BUTTONS, ChannelError

if TYPE_CHECKING:
    from reminderd.seams import Actions, Outgoing

log = logging.getLogger(__name__)


class CommandNotifier:
    """Runs a program with the title and body as its last two arguments; exit 0 means delivered.

    The program runs in a process group of its own: on timeout or cancel() the whole group is
    killed, so nothing it started is left behind.
    """

    def __init__(self, argv: Sequence[str], name: str = "command", timeout: float = SEND_TIMEOUT,
                 escape_body: bool = False, urgency_option: str | None = None) -> None:
        self.argv = list(argv)
        self.name = name
        self.timeout = timeout
        self.escape_body = escape_body
        self.capabilities = frozenset({URGENCY}) if urgency_option else frozenset()
        self.urgency_option = urgency_option  # e.g. "--urgency": given "critical" or "normal" before the text
        self.runner = Stoppable()

    def cancel(self) -> None:
        self.runner.cancel()

    def send(self, title: str, body: str, urgent: bool = False) -> None:
        if shutil.which(self.argv[0]) is None:
            raise NotifyError(f"{self.name}: {self.argv[0]} not found")
        if self.escape_body:
            body = escape_markup(body)
        argv = list(self.argv)
        if self.urgency_option:
            argv.insert(1, f"{self.urgency_option}={'critical' if urgent else 'normal'}")
        try:
            done = self.runner.run([*argv, title, body], self.timeout)
        except CannotRun as exc:
            raise NotifyError(f"{self.name}: {exc.strerror or exc}") from exc
        if done is None:
            raise NotifyError(f"{self.name}: stopped")
        if done.timed_out:
            raise NotifyError(f"{self.name}: no answer within {self.timeout:g} s; stopped it")
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
            raise NotifyError(f"{self.name}: exit {done.returncode}" + (f": {detail[-1]}" if detail else ""))


def notify_send() -> CommandNotifier:
    # `--` ends the options: a title starting with "-" is text, not a flag. notify-send cannot
    # ask the server whether it reads markup; every common one does, so the body is escaped.
    return CommandNotifier(["notify-send", f"--app-name={APP_NAME}", "--"], "notify-send", escape_body=True,
                           urgency_option="--urgency")


def osascript() -> CommandNotifier:
    # the text arrives as argv of the script, never interpolated into it
    script = ["-e", "on run argv", "-e", "display notification (item 2 of argv) with title (item 1 of argv)",
              "-e", "end run"]
    return CommandNotifier(["osascript", *script], "osascript")


class PlyerNotifier:
    """plyer's notification facade. It cannot report failure on Linux (it ignores notify-send's
    exit code), so `auto` uses it last, and on Linux only where it has dbus-python. plyer has no
    timeout: the call runs in a thread that is abandoned after SEND_TIMEOUT."""

    name = "plyer"

    def cancel(self) -> None:
        pass  # the waiting thread gives up at its deadline; plyer's own thread is abandoned

    def send(self, title: str, body: str) -> None:
        try:
            from plyer import notification
        except ImportError as exc:
            raise NotifyError("plyer: not installed (pip install plyer)") from exc
        outcome: list[BaseException | None] = []

        def call() -> None:
            try:
                notification.notify(title=title, message=body, app_name=APP_NAME, timeout=0)
                outcome.append(None)
            except Exception as exc:  # plyer raises anything from its platform backends
                outcome.append(exc)

        worker = threading.Thread(target=call, name="plyer-notify", daemon=True)
        worker.start()
        worker.join(SEND_TIMEOUT)
        if not outcome:
            raise NotifyError(f"plyer: no answer within {SEND_TIMEOUT:g} s")
        if outcome[0] is not None:
            raise NotifyError(f"plyer: {type(outcome[0]).__name__}: {outcome[0]}") from outcome[0]


class LogNotifier:
    """Writes the notification to the log (stderr): for headless machines."""

    name = "log"

    def cancel(self) -> None:
        pass

    def send(self, title: str, body: str) -> None:
        logging.getLogger("reminderd.notification").warning("%s: %s", title, body)


class DesktopChannel:
    """The desktop's notifications (the backend `notifications.backend` names, or the first that
    works), as a seams.Channel: a fresh FallbackNotifier for each delivery."""

    id = DESKTOP
    name = "desktop"
    capabilities = frozenset({BUTTONS})
    timeout = SEND_TIMEOUT

    def __init__(self, make: Callable[[], FallbackNotifier]) -> None:
        self.make = make
        self._sending: FallbackNotifier | None = None

    def deliver(self, item: Outgoing) -> str:
        notifier = self._sending = self.make()
        try:
            notifier.send(item.title, item.body, item.actions)
        except NotifyError as exc:
            raise ChannelError(str(exc)) from None
        finally:
            self._sending = None
        return notifier.used or "desktop"

    def publish(self, *args: Any) -> str | None:
        raise NotImplementedError  # not a TIMELINE channel

    def cancel(self) -> None:
        sending = self._sending
        if sending is not None:
            sending.cancel()


class FallbackNotifier:
    """Tries each backend in turn; remembers which one delivered."""

    name = "auto"

    def __init__(self, backends: Sequence[Notifier]) -> None:
        self.backends = list(backends)
        self.used: str | None = None
        self._current: Notifier | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Stop a send in progress and try no further backend (the daemon is stopping)."""
        self._cancelled = True
        current = self._current
        if current is not None:
            current.cancel()

    def send(self, title: str, body: str, actions: Actions | None = None) -> None:
        """Deliver through the first backend that can; `actions` become buttons where the
        notification server shows them, else a line in the body saying what to run."""
        from reminderd.actions import with_hint

        failures = []
        for backend in self.backends:
            if self._cancelled:
                failures.append(f"{backend.name}: not tried (stopping)")
                continue
            self._current = backend
            try:
                capabilities: frozenset[str] = getattr(backend, "capabilities", frozenset())
                if BUTTONS in capabilities:
                    backend.send(title, body, actions)  # type: ignore[call-arg]
                elif URGENCY in capabilities:
                    backend.send(title, with_hint(body, actions),  # type: ignore[call-arg]
                                 urgent=actions is not None and actions.urgent)
                else:
                    backend.send(title, with_hint(body, actions))
            except NotifyError as exc:
                log.info("notification not delivered: %s; trying the next backend", exc)
                failures.append(str(exc))
                continue
            finally:
                self._current = None
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
