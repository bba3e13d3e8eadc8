"""Push channels: reminders to a phone or a mailbox through Apprise (ntfy, Pushover, Telegram,
e-mail, Matrix, Gotify and 100 more), the `reminderd[push]` extra, imported only when a push
URL is configured.

Each URL is a channel of its own, with its own delivery records (state.Delivery.channel), so
one that fails never blocks or repeats the others. A send is bounded by PUSH_TIMEOUT and is a
success only when Apprise says the one service it had succeeded (a partial result is a
failure). URLs carry secrets: they are never logged or shown whole, only their scheme, and
in the state a channel is named by a hash of its URL.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from reminderd.notify import NotifyError

PUSH_TIMEOUT = 10.0


def channel_id(url: str) -> str:
    """How the state names a push channel: by a hash of its URL, never the URL."""
    return "push:" + hashlib.sha256(url.encode()).hexdigest()[:12]


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_ONE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")  # Apprise skips text before a URL, and splits at spaces


def describe(url: str) -> str:
    """A URL as it may be shown: its scheme only ("ntfy://…"), and only if it looks like one
    (text before "://" that is not a scheme may be a token)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"{scheme if _SCHEME.fullmatch(scheme) else '?'}://…"


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        from reminderd.extras import missing

        raise NotifyError(missing("push")) from None
    for name in ("apprise", "urllib3"):
        _mute(logging.getLogger(name))
    return apprise


def _mute(logger: logging.Logger) -> None:
    """Apprise's plugins log the URL they post to ("Sent ntfy notification to
    'https://ntfy.sh/<secret topic>'"), and urllib3 under them each request's path: none of that
    may reach the journal. Our own log line says which channel failed and Apprise's status."""
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())  # else Python's last-resort handler prints warnings
    logger.propagate = False
    logger.setLevel(logging.CRITICAL + 1)


def readable(url: str) -> bool:
    """Whether Apprise reads `url` as exactly one service it can send to (it also takes several
    URLs in one string, split at spaces and commas: each entry must be one channel)."""
    if not _ONE_URL.fullmatch(url):
        return False
    service = _apprise().Apprise()
    return bool(service.add(url)) and len(service) == 1


class PushNotifier:
    """One push URL, as a Notifier."""

    def __init__(self, url: str, timeout: float = PUSH_TIMEOUT) -> None:
        self.url = url
        self.id = channel_id(url)
        self.name = f"push {describe(url)}"
        self.timeout = timeout
        self._finished = threading.Event()

    def cancel(self) -> None:
        """Stop waiting (the daemon is stopping); the send itself is abandoned in its own thread."""
        self._finished.set()

    def send(self, title: str, body: str) -> None:
        service = _apprise().Apprise()
        if not readable(self.url) or not service.add(self.url):
            raise NotifyError(f"{self.name}: Apprise cannot read this URL as one service")
        outcome: list[Any] = []
        finished = self._finished

        def call() -> None:
            try:
                outcome.append(service.notify(body=body, title=title))
            except Exception as exc:  # noqa: BLE001 (a service plugin raises anything)
                outcome.append(exc)
            finished.set()

        finished.clear()
        threading.Thread(target=call, name="push", daemon=True).start()
        finished.wait(self.timeout)
        if not outcome:
            raise NotifyError(f"{self.name}: no answer within {self.timeout:g} s")
        result = outcome[0]
        if isinstance(result, Exception):
            raise NotifyError(f"{self.name}: {type(result).__name__}")
        # An AppriseResult is true only when every service succeeded; a partial result is a failure.
        # (Older Apprise returns a plain bool.)
        failed: int = getattr(result, "failed_count", 0)
        if not result or failed:
            status = getattr(getattr(result, "status", None), "name", "failed")
            raise NotifyError(f"{self.name}: not delivered ({status.lower()})")


def push_notifiers(urls: Sequence[str], command: Sequence[str]) -> tuple[list[PushNotifier], str | None]:
    """The push channels of `[notifications]`: the literal URLs, then those `command` prints;
    and what went wrong running `command` (the literal URLs are usable all the same)."""
    notifiers = [PushNotifier(url) for url in urls]
    if not command:
        return notifiers, None
    try:
        printed = urls_from_command(command)
    except NotifyError as exc:
        return notifiers, str(exc)
    unreadable = [index for index, url in enumerate(printed) if not readable(url)]
    if unreadable:
        return notifiers, (f"notifications.push_command: line {unreadable[0] + 1} of its output is not a URL "
                           "Apprise can send to")
    return notifiers + [PushNotifier(url) for url in printed], None


def urls_from_command(argv: Sequence[str]) -> list[str]:
    """The URLs a command prints, one a line (like a password command): the secrets stay out
    of the config file."""
    from reminderd.secret_command import CommandFailed, printed_lines

    try:
        lines = printed_lines(argv, "notifications.push_command", PUSH_TIMEOUT)
    except CommandFailed as exc:
        raise NotifyError(str(exc)) from None
    return [line.strip() for line in lines if line.strip()]
