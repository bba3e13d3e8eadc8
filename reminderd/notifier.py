"""What every desktop notification backend is: the Notifier protocol, and the limits they share."""

from __future__ import annotations

from typing import Protocol

APP_NAME = "reminderd"
# Each backend gets at most this long, whatever the other side does (a wedged bus, a stopped
# notification server, a hanging script); then the next backend is tried.
SEND_TIMEOUT = 10.0
URGENCY = "urgency"  # a backend that says how urgent a notification is (send(..., urgent=))


def escape_markup(text: str) -> str:
    """The body as a server that renders markup shows it literally. (xml.sax.saxutils.escape does
    the same, but importing it loads urllib.request, http.client and ssl: 3 MB the daemon keeps.)"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Notifier(Protocol):
    """One way to show a notification. What it can do beyond a title and a body is declared in
    its `capabilities` (seams.BUTTONS: send(title, body, actions); URGENCY: send(..., urgent=)),
    never found out from its class."""

    name: str

    def send(self, title: str, body: str) -> None:
        """Deliver within SEND_TIMEOUT, or raise NotifyError."""

    def cancel(self) -> None:
        """Make a send in progress (in another thread) give up at once."""

