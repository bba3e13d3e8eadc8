"""Desktop notifications: a small Notifier protocol and the backends behind it.

A backend either gets the notification accepted by something that shows it, or raises
NotifyError: the daemon records a reminder as delivered only when `send` returned. Text is
always passed as data (D-Bus arguments, argv after `--`), never through a shell or a script.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from xml.sax.saxutils import escape as escape_markup

from reminderd.bounded import CannotRun, Running
from reminderd.errors import ReminderdError
from reminderd.record import DESKTOP
from reminderd.seams import BUTTONS, ChannelError

if TYPE_CHECKING:
    from reminderd.seams import Actions, Outgoing

log = logging.getLogger(__name__)
APP_NAME = "reminderd"
# Each backend gets at most this long, whatever the other side does (a wedged bus, a stopped
# notification server, a hanging script); then the next backend is tried.
SEND_TIMEOUT = 10.0


class NotifyError(ReminderdError):
    """No backend got the notification accepted."""

    exit_code = 69  # EX_UNAVAILABLE


URGENCY = "urgency"  # a backend that says how urgent a notification is (send(..., urgent=))


class Notifier(Protocol):
    """One way to show a notification. What it can do beyond a title and a body is declared in
    its `capabilities` (seams.BUTTONS: send(title, body, actions); URGENCY: send(..., urgent=)),
    never found out from its class."""

    name: str

    def send(self, title: str, body: str) -> None:
        """Deliver within SEND_TIMEOUT, or raise NotifyError."""

    def cancel(self) -> None:
        """Make a send in progress (in another thread) give up at once."""


def session_bus_address() -> tuple[str | None, str]:
    """The session bus address, and how it was found (for the log).

    Some service managers start us without DBUS_SESSION_BUS_ADDRESS; the bus is then usually
    at $XDG_RUNTIME_DIR/bus, if that directory is ours alone (a bus someone else put there would
    read every reminder and could click its buttons).
    """
    from reminderd import paths

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address, "DBUS_SESSION_BUS_ADDRESS"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    path = os.path.join(runtime, "bus")
    if paths.runtime_dir() is None and paths.runtime_dir_problem():
        return None, f"DBUS_SESSION_BUS_ADDRESS is not set, and {path} is not used: {runtime} is not yours alone"
    if os.path.exists(path):
        return f"unix:path={path}", f"DBUS_SESSION_BUS_ADDRESS is not set; using {path}"
    return None, f"DBUS_SESSION_BUS_ADDRESS is not set and there is no bus at {path}"


class _Watchdog:
    """Shuts a socket down when a deadline passes or on cancel(): a call blocked on it returns.

    jeepney bounds authentication but waits for the bus's Hello reply without a limit; shutting
    the socket down is what ends any wait on it, from any thread.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.sock = sock
        self.fired = False
        self.timer = threading.Timer(seconds, self.fire)
        self.timer.daemon = True
        self.timer.start()

    def fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.timer.cancel()


@functools.cache
def _connection_class() -> Any:
    """jeepney's DBusConnection, whose epoll selector is closed if the Hello in its constructor
    fails (else the half-made object holds it until the garbage collector runs). Built on first
    use, so jeepney is imported only when D-Bus is."""
    from jeepney.io.blocking import DBusConnection

    class Connection(DBusConnection):  # type: ignore[misc]
        def __init__(self, sock: socket.socket) -> None:
            try:
                super().__init__(sock)
            except BaseException:
                self.selector.close()
                raise

    return Connection


class DBusNotifier:
    """org.freedesktop.Notifications.Notify on the session bus, through jeepney (pure Python).

    The whole exchange (connect, authenticate, Hello, GetCapabilities, Notify) is bounded by one
    deadline; a wedged bus or a stopped server makes it fail, never hang.
    """

    capabilities = frozenset({BUTTONS})

    name = "dbus"

    def __init__(self, timeout: float = SEND_TIMEOUT) -> None:
        self.timeout = timeout
        self._watchdog: _Watchdog | None = None
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        if self._watchdog is not None:
            self._watchdog.fire()

    def send(self, title: str, body: str, actions: Actions | None = None) -> None:
        self._cancelled = False
        try:
            from jeepney import DBusAddress, HeaderFields, new_method_call
            from jeepney.bus import get_bus
            from jeepney.io.blocking import prep_socket
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
        import time

        deadline = time.monotonic() + self.timeout

        def left() -> float:
            return max(0.01, deadline - time.monotonic())

        watchdog, sock, connection, watching = None, None, None, False
        try:
            sock = prep_socket(get_bus(address), timeout=min(2.0, self.timeout))  # connect + auth
            watchdog = self._watchdog = _Watchdog(sock, left())
            connection = _connection_class()(sock)  # sends Hello and waits for the reply
            caps = connection.send_and_get_reply(new_method_call(server, "GetCapabilities"), timeout=left())
            if caps.header.message_type.name == "error":
                raise NotifyError(f"dbus: no notification server answers ({caps.body[0] if caps.body else ''})")
            buttons = actions is not None and "actions" in caps.body[0]
            if actions is not None and not buttons:
                from reminderd.actions import with_hint

                body = with_hint(body, actions)
            if "body-markup" in caps.body[0]:
                body = escape_markup(body)
            # the server's unique name: only its signals are clicks (anyone on the bus can broadcast)
            server_name = caps.header.fields.get(HeaderFields.sender)
            signals = _listen_for_clicks(connection, server, server_name, left()) if buttons else None
            flat = [text for button in actions.buttons for text in button] if buttons and actions else []
            # critical (shown until dismissed) only for a last warning; else normal, and the
            # server's own expiry (-1)
            urgent = actions is not None and actions.urgent
            notify = new_method_call(server, "Notify", "susssasa{sv}i",
                                     (APP_NAME, 0, "dialog-warning", title, body, flat,
                                      {"urgency": ("y", 2 if urgent else 1)}, 0 if urgent else -1))
            reply = connection.send_and_get_reply(notify, timeout=left())
            if reply.header.message_type.name == "error":
                raise NotifyError(f"dbus: the notification server refused: {reply.body}")
            if (signals is not None and actions is not None
                    and reply.header.fields.get(HeaderFields.sender) == server_name):
                from reminderd.actions import Watcher

                watchdog.close()
                Watcher(connection, signals, reply.body[0], actions.on_action, sender=server_name)
                watching = True
        except NotifyError:
            raise
        except (OSError, TimeoutError, DBusErrorResponse, ValueError, KeyError, IndexError) as exc:
            if self._cancelled:
                raise NotifyError("dbus: stopped") from exc
            if watchdog is not None and watchdog.fired or isinstance(exc, TimeoutError):
                raise NotifyError(f"dbus: no answer within {self.timeout:g} s (bus or notification server "
                                  "not responding)") from exc
            raise NotifyError(f"dbus: {type(exc).__name__}: {exc}") from exc
        finally:
            if watchdog is not None:
                watchdog.close()
            if not watching:
                if connection is not None:
                    connection.close()
                if sock is not None:
                    sock.close()  # also when Hello never came back and the connection was never made
            self._watchdog = None


def _listen_for_clicks(connection: Any, server: Any, sender: str | None, timeout: float) -> Any:
    """Ask the bus for the server's signals (some servers broadcast them; others send them only
    to the caller of Notify) and queue them from now on, before Notify, so none is missed. Only
    those the server (`sender`, its unique name) sent: another client's broadcast is no click."""
    from collections import deque

    from jeepney import MatchRule
    from jeepney.bus_messages import message_bus

    if not sender:
        raise NotifyError("dbus: the notification server's reply named no sender")
    rule = MatchRule(type="signal", sender=sender, interface=server.interface, path=server.object_path)
    queue: deque[Any] = deque(maxlen=64)
    connection.filter(rule, queue=queue)
    reply = connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=timeout)
    if reply.header.message_type.name == "error":
        raise NotifyError(f"dbus: the bus refused to pass on the notification's signals: {reply.body}")
    return queue


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
        self._running: Running | None = None
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        running = self._running
        if running is not None:
            running.cancel()

    def send(self, title: str, body: str, urgent: bool = False) -> None:
        if shutil.which(self.argv[0]) is None:
            raise NotifyError(f"{self.name}: {self.argv[0]} not found")
        if self.escape_body:
            body = escape_markup(body)
        argv = list(self.argv)
        if self.urgency_option:
            argv.insert(1, f"{self.urgency_option}={'critical' if urgent else 'normal'}")
        self._cancelled = False
        try:
            running = self._running = Running([*argv, title, body])
        except CannotRun as exc:
            raise NotifyError(f"{self.name}: {exc.strerror or exc}") from exc
        try:
            done = running.wait(time.monotonic() + self.timeout)
        finally:
            self._running = None
        if self._cancelled:
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
