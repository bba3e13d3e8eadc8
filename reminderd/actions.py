"""Acting on a desktop notification: the buttons a reminder offers ("I turned it off", "Remind
me in 1 hour"), what a click records, and the threads that wait for the click.

A notification server that advertises the `actions` capability shows the buttons and emits
ActionInvoked(id, key) when one is clicked, and NotificationClosed(id, reason) when the
notification goes; many send both only to the connection that called Notify. So that
connection stays open after Notify, in a Watcher thread, until one of the two arrives, at most
WATCH_FOR, at most MAX_WATCHERS at a time (the oldest is let go). Where the server cannot show
buttons (and on every other backend) the body says which command to run instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from reminderd.settings import Config
    from reminderd.timeline import Reminder

log = logging.getLogger(__name__)

DONE = "done"
SNOOZE = "snooze"
WATCH_FOR = 24 * 3600.0  # seconds a notification's buttons are listened to
MAX_WATCHERS = 16


class Actions(NamedTuple):
    """What a notification offers to do, for the backend delivering it."""

    buttons: tuple[tuple[str, str], ...]  # (key, label), in the order shown
    hint: str  # appended to the body where buttons cannot be shown
    on_action: Callable[[str], None]  # called with the key, from a watcher thread


def done_action(reminder: Reminder, config: Config) -> str | None:
    """What "I turned it off" records for `reminder`: the switch it asks to turn off (the top-up
    switch for the Auto-Reload check, else the offer's main switch); None for a reminder that
    no switch stops (the claim deadline)."""
    if not reminder.stops_on:
        return None
    credit = config.credit(reminder.credit_id)
    if credit is None:
        return None
    offer = credit.offer
    if reminder.kind == "auto-reload" and offer.top_up_action in reminder.stops_on:
        return offer.top_up_action
    return offer.actions[0]


def actions_for(reminder: Reminder, config: Config, on_action: Callable[[str], None]) -> Actions:
    action = done_action(reminder, config)
    buttons: tuple[tuple[str, str], ...] = ((SNOOZE, "Remind me in 1 hour"),)
    hint = ""
    if action is not None:
        buttons = ((DONE, "I turned it off"), *buttons)
        command = f"reminderd done {action}" + (f" --credit {reminder.credit_id}" if len(config.credits) > 1 else "")
        if command not in reminder.body:
            hint = f"When it is off, run `{command}`."
    return Actions(buttons, hint, on_action)


def with_hint(body: str, actions: Actions | None) -> str:
    """The body for a backend that cannot show buttons."""
    return f"{body} {actions.hint}" if actions is not None and actions.hint else body


# -- waiting for the click ---------------------------------------------------------------------

class Watcher:
    """One notification's D-Bus connection, kept open in a daemon thread until it is clicked,
    closed, WATCH_FOR passes, or close() (the daemon stops)."""

    _all: list[Watcher] = []
    _lock = threading.Lock()

    def __init__(self, connection: Any, queue: Any, notification_id: int, on_action: Callable[[str], None],
                 lifetime: float = WATCH_FOR) -> None:
        self.connection, self.queue, self.id = connection, queue, notification_id
        self.on_action, self.deadline = on_action, time.monotonic() + lifetime
        self.closed = threading.Event()
        with Watcher._lock:
            Watcher._all.append(self)
            surplus = Watcher._all[:-MAX_WATCHERS]
        for old in surplus:
            old.close()
        threading.Thread(target=self._run, name=f"notification-{notification_id}", daemon=True).start()

    def close(self) -> None:
        """Stop listening at once (from any thread)."""
        import socket

        self.closed.set()
        with contextlib.suppress(OSError):
            self.connection.sock.shutdown(socket.SHUT_RDWR)

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            watchers = list(cls._all)
        for watcher in watchers:
            watcher.close()

    @classmethod
    def active(cls) -> int:
        with cls._lock:
            return len(cls._all)

    def _run(self) -> None:
        from jeepney import HeaderFields

        try:
            while not self.closed.is_set():
                left = self.deadline - time.monotonic()
                if left <= 0:
                    return
                message = self.connection.recv_until_filtered(self.queue, timeout=left)
                member = message.header.fields.get(HeaderFields.member)
                if not message.body or message.body[0] != self.id:
                    continue  # another notification's
                if member == "NotificationClosed":
                    return
                if member == "ActionInvoked" and message.body[1] in (DONE, SNOOZE):
                    self._act(message.body[1])
                    return
        except (TimeoutError, OSError, ValueError, RuntimeError):
            return  # the bus went away, or close()
        finally:
            with Watcher._lock, contextlib.suppress(ValueError):
                Watcher._all.remove(self)
            with contextlib.suppress(OSError):
                self.connection.close()

    def _act(self, key: str) -> None:
        try:
            self.on_action(key)
        except Exception:
            log.exception("acting on the notification's %r failed", key)
