"""The two seams of the daemon (DESIGN 7.1): facts come in through sources, reminders and the
timeline go out through channels. The daemon loops over both and names none of them; each one
fails alone, behind one shared Backoff.

- A Source (the usage ledger of Claude Code's logs, the plan's quota the status line saw, the
  account) refreshes one field of facts.Facts within a deadline, in a job of its own, after the
  deliveries; when it fails, the failure is logged once and its last good value kept.
- A Channel (the desktop, each push URL, the live .ics file, a CalDAV calendar) carries one
  reminder out (`deliver`), or, with the TIMELINE capability, the whole timeline (`publish`).
  What it can do is declared in `capabilities`, never found out by its class. It keeps its own
  delivery records (its `id`, stable across restarts and secret rotations) and gets at most
  `timeout` seconds for one delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from reminderd.facts import Facts
from reminderd.reminder import Reminder
from reminderd.settings import Config

# Capabilities a channel may declare.
BUTTONS = "buttons"  # shows the reminder's buttons and calls back when one is clicked
TIMELINE = "timeline"  # carries the whole timeline (a calendar), not one reminder at a time


class Actions(NamedTuple):
    """What a notification offers to do (actions.actions_for), for the channel carrying it."""

    buttons: tuple[tuple[str, str], ...]  # (key, label), in the order shown
    hint: str  # appended to the body where buttons cannot be shown
    on_action: Callable[[str], None]  # called with the key, from a watcher thread
    urgent: bool = False  # a last warning: critical, shown until dismissed


class Outgoing(NamedTuple):
    """One reminder as a channel carries it."""

    reminder: Reminder
    title: str  # as of the moment it is sent (a late lead says the time really left)
    body: str
    actions: Actions | None = None

    def text_without_buttons(self) -> str:
        return f"{self.body} {self.actions.hint}" if self.actions is not None and self.actions.hint else self.body


class ChannelError(Exception):
    """A channel did not carry what it was given; the message is one line for the log."""


class Channel(Protocol):
    id: str  # its delivery records' key: the user's name for it, never a plain hash of a secret
    name: str  # how the log and notify-test name it (never a secret)
    capabilities: frozenset[str]
    timeout: float  # seconds one delivery may take

    def deliver(self, item: Outgoing) -> str:
        """Carry one reminder out; return how (for the log). Raise ChannelError on failure."""

    def publish(self, config: Config, state_path: Any, now: datetime, facts: Facts) -> str | None:
        """TIMELINE channels: bring what they hold in step with the timeline at `now`; return a
        line for the log when something changed. Raise ChannelError on failure."""

    def cancel(self) -> None:
        """Make a delivery in progress (in another thread) give up at once."""


class Source(Protocol):
    name: str
    field: str  # the field of facts.Facts it fills
    every: timedelta  # how often it is refreshed

    def refresh(self, config: Config, state_dir: Any, now: datetime, deadline: float) -> Any:
        """The field's new value, learned by `deadline` (time.monotonic()); raise on failure."""

    # Optional: `keep(state, config=, value=, now=) -> State`, what of a new value the state keeps
    # for after a restart (the account's switch and figures). Pure; called until it is written.


RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
RETRIES = "1, 2, 4 ... minutes (at most an hour apart)"  # how a log line says it


class Backoff:
    """After each failure in a row, a pause of 1, 2, 4 ... minutes, at most an hour; a success
    ends it. One for each channel and each source."""

    def __init__(self) -> None:
        self.failures = 0
        self.retry_at: datetime | None = None

    def ready(self, now: datetime) -> bool:
        return self.retry_at is None or now >= self.retry_at

    def failed(self, now: datetime) -> timedelta:
        self.failures += 1
        pause: timedelta = min(RETRY_MAX, RETRY_FIRST * 2 ** min(self.failures - 1, 16))
        self.retry_at = now + pause
        return pause

    def succeeded(self) -> None:
        self.failures, self.retry_at = 0, None


def minutes(pause: timedelta) -> str:
    return f"{int(pause.total_seconds() // 60)} min"
