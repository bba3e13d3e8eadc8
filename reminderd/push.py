"""Push channels: reminders to a phone or a mailbox through Apprise (ntfy, Pushover, Telegram,
e-mail, Matrix, Gotify and 100 more), the `reminderd[push]` extra, imported only where a push
channel is built (never to parse the config).

Each URL is a channel of its own (seams.Channel), with its own delivery records, so one that
fails never blocks or repeats the others. Its identity is its name ([[notifications.push]]
name = "phone"): a new URL or token under the same name re-sends nothing. An unnamed one is
named by a hash of its URL keyed with this installation's secret, never a plain hash of the
secret it carries (security I3). A send runs in a child process ended at PUSH_TIMEOUT, whatever
the service does (an endless answer is read by nobody: security L3), and is a success only
when Apprise says the one service it had succeeded. URLs are never logged or shown whole, only
their scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from reminderd.bounded import CannotRun, Stoppable, child_argv
from reminderd.errors import NotifyError, one_line
from reminderd.seams import ChannelError, Outgoing
from reminderd.settings import Notifications, PushTarget
from reminderd.urls import describe, is_one_url

PUSH_TIMEOUT = 10.0


def channel_id(target: PushTarget, key: bytes) -> str:
    """How the state names a push channel: "push:<name>", or for an unnamed one a hash of its
    URL keyed with this installation's secret `key`."""
    if target.name:
        return f"push:{target.name}"
    return "push:" + hmac.new(key, target.url.encode(), hashlib.sha256).hexdigest()[:16]


def legacy_id(url: str) -> str:
    """How versions before named channels named one (an unkeyed hash of its URL): its records move."""
    return "push:" + hashlib.sha256(url.encode()).hexdigest()[:12]



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
    if not is_one_url(url):
        return False
    service = _apprise().Apprise()
    return bool(service.add(url)) and len(service) == 1


class PushChannel:
    """One push URL, as a channel."""

    capabilities: frozenset[str] = frozenset()

    def __init__(self, target: PushTarget, channel: str, from_command: bool = False,
                 timeout: float = PUSH_TIMEOUT) -> None:
        self.target, self.id, self.timeout = target, channel, timeout
        self.name = f"push {target.name}" if target.name else f"push {describe(target.url)}"
        self.from_command = from_command  # printed by push_command: run it again after a failure
        self.legacy_id = legacy_id(target.url)  # its records under an older version's name move here
        self.runner = Stoppable()

    def cancel(self) -> None:
        self.runner.cancel()

    def deliver(self, item: Outgoing) -> str:
        job = json.dumps({"url": self.target.url, "title": item.title, "body": item.text_without_buttons()})
        try:
            done = self.runner.run(child_argv("push", "serve_send"), self.timeout, stdin=job.encode(), max_output=65536)
        except CannotRun as exc:
            raise ChannelError(f"{self.name}: cannot start a process to send it: {exc.strerror}") from None
        if done is None:
            raise ChannelError(f"{self.name}: stopped")
        if done.timed_out:
            raise ChannelError(f"{self.name}: no answer within {self.timeout:g} s")
        try:
            answer = json.loads(done.stdout)
            delivered, status = answer["delivered"] is True, str(answer["status"])
        except (ValueError, KeyError, TypeError):
            delivered, status = False, f"the sending process ended with {done.returncode}"
        if not delivered:
            raise ChannelError(f"{self.name}: not delivered ({status})")
        return self.name

    def publish(self, *args: Any) -> str | None:
        raise NotImplementedError  # not a TIMELINE channel


def serve_send() -> None:
    """The child process of PushChannel.deliver: one send, its job on stdin, its outcome on stdout."""
    try:
        job = json.loads(sys.stdin.buffer.read())
        url, title, body = job["url"], job["title"], job["body"]
    except (ValueError, KeyError, TypeError):
        return _answer(False, "a job it could not read")
    try:
        service = _apprise().Apprise()
    except NotifyError as exc:
        return _answer(False, str(exc))
    if not readable(url) or not service.add(url):
        return _answer(False, "Apprise cannot read this URL as one service")
    said = _apprise_says()
    try:
        result = service.notify(body=body, title=title)
    except Exception as exc:  # noqa: BLE001 (a service plugin raises anything)
        return _answer(False, type(exc).__name__)
    # An AppriseResult is true only when every service succeeded; a partial result is a failure.
    # (Older Apprise returns a plain bool.)
    failed: int = getattr(result, "failed_count", 0)
    status = getattr(getattr(result, "status", None), "name", "success" if result else "failed").lower()
    delivered = bool(result) and not failed
    _answer(delivered, status if delivered or not said else f"{status}: {said[-1]}")


def _apprise_says() -> list[str]:
    """What Apprise logs while it sends (why a send failed: "Internal Server Error - error=500", "A
    Connection error occurred ..."), each line without any address in it (one may hold a token)."""
    import logging
    import re

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = re.sub(r"\S+://\S+", "<address>", record.getMessage().strip())
            lines.append(one_line(text)[:200])

    apprise_log = logging.getLogger("apprise")
    apprise_log.addHandler(Keep(logging.WARNING))
    apprise_log.setLevel(logging.WARNING)
    return lines


def _answer(delivered: bool, status: str) -> None:
    sys.stdout.write(json.dumps({"delivered": delivered, "status": status}))
    sys.stdout.flush()


def build(settings: Notifications, key: bytes) -> tuple[list[PushChannel], list[str]]:
    """The push channels of [notifications]: the configured ones, then those push_command prints;
    and one line for each that cannot be built, which is left out (the others work)."""
    if not settings.push and not settings.push_command:
        return [], []
    try:
        _apprise()
    except NotifyError as exc:
        return [], [f"push: {exc}"]
    targets = [(target, False) for target in settings.push]
    problems = []
    if settings.push_command:
        try:
            targets += [(target, True) for target in targets_from_command(settings.push_command)]
        except NotifyError as exc:
            problems.append(f"{exc}; its channels wait")
    channels = []
    for target, from_command in targets:
        channel = PushChannel(target, channel_id(target, key), from_command)
        if not readable(target.url):
            problems.append(f"{channel.name}: expected a URL Apprise can send to (see its list of services)")
            continue
        channels.append(channel)
    return channels, problems


def targets_from_command(argv: Sequence[str]) -> list[PushTarget]:
    """The channels a command prints, one a line: "URL", or "NAME URL" to name it (like a password
    command: the secrets stay out of the config file)."""
    from reminderd.secret_command import CommandFailed, printed_lines

    try:
        lines = printed_lines(argv, "notifications.push_command", PUSH_TIMEOUT)
    except CommandFailed as exc:
        raise NotifyError(str(exc)) from None
    targets = []
    for number, line in enumerate((line.strip() for line in lines), 1):
        if not line:
            continue
        name, _, url = line.rpartition(" ")
        if not is_one_url(url) or (name and not name.replace("-", "").replace("_", "").replace(".", "").isalnum()):
            raise NotifyError(f"notifications.push_command: line {number} of its output is not a URL Apprise can "
                              "send to (or a name and one)")
        targets.append(PushTarget(url, name.strip().lower() or None))
    return targets
