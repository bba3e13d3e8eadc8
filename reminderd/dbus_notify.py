"""Desktop notifications over D-Bus (org.freedesktop.Notifications), through jeepney, pure
Python: the whole exchange bounded by one deadline, buttons where the server has them."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from reminderd.errors import NotifyError
from reminderd.notifier import APP_NAME, SEND_TIMEOUT, escape_markup
from reminderd.seams import BUTTONS

if TYPE_CHECKING:
    from reminderd.seams import Actions

log = logging.getLogger("reminderd.notify")


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

