"""Acting on a desktop notification: the buttons a reminder offers, what a click records or
opens, and the threads that wait for the click.

A reminder that asks to turn a switch off offers "I turned it off" and "Remind me in 1 hour";
an informational one (kinds.py says which) offers "Open Settings" (the offer's settings_url,
in the browser) and "Remind me later". The last warnings are critical; the rest normal.

A notification server that advertises the `actions` capability shows the buttons and emits
ActionInvoked(id, key) when one is clicked, and NotificationClosed(id, reason) when the
notification goes; many send both only to the connection that called Notify. So that
connection stays open after Notify, in a Watcher thread, until one of the two arrives, at most
WATCH_FOR, at most MAX_WATCHERS at a time (the oldest is let go). Where the server cannot show
buttons (and on every other backend) the body says which command to run instead.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reminderd.matching import offer_of
from reminderd.reminder import done_command
from reminderd.seams import Actions

if TYPE_CHECKING:
    from reminderd.settings import Config
    from reminderd.timeline import Reminder

log = logging.getLogger(__name__)

DONE = "done"
SNOOZE = "snooze"
SETTINGS = "settings"
KEYS = (DONE, SNOOZE, SETTINGS)
OPEN_WITHIN = 10.0  # seconds the desktop's opener gets
WATCH_FOR = 24 * 3600.0  # seconds a notification's buttons are listened to
MAX_WATCHERS = 16


def done_action(reminder: Reminder, config: Config) -> str | None:
    """What "I turned it off" records for `reminder`: the switch it asks to turn off (the top-up
    switch for the Auto-Reload check, else the offer's main switch); None for a reminder that
    does not ask to turn anything off (the claim deadline, the weekly check: kinds.py)."""
    from reminderd.kinds import kind_of

    if not reminder.stops_on or not kind_of(reminder).asks_off:
        return None
    offer = offer_of(config, reminder.credit_id)
    if offer is None:
        return None
    if reminder.kind == "auto-reload" and offer.top_up_action in reminder.stops_on:
        return offer.top_up_action
    return offer.actions[0]


def actions_for(reminder: Reminder, config: Config, on_action: Callable[[str], None]) -> Actions:
    """The buttons of `reminder`'s notification; `on_action` gets DONE and SNOOZE ("Open
    Settings" is handled here: it records nothing)."""
    from reminderd.kinds import is_urgent

    action = done_action(reminder, config)
    urgent = is_urgent(reminder)
    if action is None:
        offer = offer_of(config, reminder.credit_id)
        page = offer.settings_url if offer is not None else ""
        settings = ((SETTINGS, "Open Settings"),) if page else ()
        return Actions((*settings, (SNOOZE, "Remind me later")), "",
                       functools.partial(_open_or_pass_on, page, on_action), urgent)
    hint = ""
    command = done_command(action, reminder.credit_id, config.credit(reminder.credit_id) is None,
                           len(config.credits) > 1)
    if command not in reminder.body:
        hint = f"When it is off, run `{command}`."
    return Actions(((DONE, "I turned it off"), (SNOOZE, "Remind me in 1 hour")), hint, on_action, urgent)


def _open_or_pass_on(page: str, on_action: Callable[[str], None], key: str) -> None:
    if key == SETTINGS:
        open_page(page)
    elif key == SNOOZE:
        on_action(key)


def open_page(url: str) -> None:
    """Open `url` with the desktop's opener (xdg-open; open on macOS), from a watcher thread."""
    import sys

    from reminderd.bounded import CannotRun, run

    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        done = run([opener, url], OPEN_WITHIN)
    except CannotRun as exc:
        log.warning("cannot open %s: %s: %s", url, opener, exc.strerror or exc)
        return
    if done.timed_out:
        log.warning("cannot open %s: %s gave no answer within %g s", url, opener, OPEN_WITHIN)
    elif done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        log.warning("cannot open %s: %s exit %s%s", url, opener, done.returncode, f": {detail[-1]}" if detail else "")
    else:
        log.info("opened %s", url)


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
                 lifetime: float = WATCH_FOR, sender: str | None = None) -> None:
        self.connection, self.queue, self.id = connection, queue, notification_id
        self.sender = sender  # the notification server's unique bus name: no one else's signal counts
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
                if self.sender is not None and message.header.fields.get(HeaderFields.sender) != self.sender:
                    continue  # a broadcast by another client of the bus, not the server's
                if not message.body or message.body[0] != self.id:
                    continue  # another notification's
                if member == "NotificationClosed":
                    return
                if member == "ActionInvoked" and message.body[1] in KEYS:
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
