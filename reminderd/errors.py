"""Every error a user can meet, each with its documented exit code.

cli.py turns them into one line on stderr; nothing else prints them.
"""

from __future__ import annotations

from datetime import datetime


def one_line(text: str) -> str:
    """`text` with every control character escaped, so a message is exactly one line whatever
    user text it quotes (a key or value holding a newline, a carriage return, an escape)."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class ReminderdError(Exception):
    """Base class: a problem we can explain in one line."""

    exit_code = 1


class ConfigError(ReminderdError):
    """The config file is missing, unreadable or invalid (every problem listed at once)."""

    exit_code = 78  # EX_CONFIG; systemd's RestartPreventExitStatus= uses it too

    def __init__(self, problems: list[str]) -> None:
        self.problems = [one_line(problem) for problem in problems]
        super().__init__("\n".join(self.problems))


class MissingExtra(ReminderdError):
    """What the config asks for needs an optional extra that is not installed (the message says
    how to add it, the way reminderd was installed)."""

    exit_code = 78  # EX_CONFIG: the installation does not match the config; a restart would not help


class UsageError(ReminderdError):
    """A command-line value that is not valid (a bad --at, an unknown credit id)."""

    exit_code = 2


class StateError(ReminderdError):
    """The state file or its directory cannot be read or written."""

    exit_code = 74  # EX_IOERR


class OutputError(ReminderdError):
    """An output file (e.g. export-ics -o) cannot be written."""

    exit_code = 73  # EX_CANTCREAT


class AlreadyRunning(ReminderdError):
    """Another `reminderd run` holds the lock."""

    exit_code = 75  # EX_TEMPFAIL


class AccountError(ReminderdError):
    """`reminderd account`: the account could not be read (network, server, an answer of another shape).

    `retry_at`: the earliest moment worth asking again (a server's Retry-After, or the backoff)."""

    exit_code = 69  # EX_UNAVAILABLE

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(one_line(message))
        self.retry_at = retry_at


class AccountLoginError(AccountError):
    """The Claude login on this machine is missing, expired or refused: nothing was sent."""

    exit_code = 77  # EX_NOPERM


class NotifyError(ReminderdError):
    """No backend got the notification accepted."""

    exit_code = 69  # EX_UNAVAILABLE


class NewerStateError(StateError):
    """The state file was written by a newer reminderd."""


class Unsaved(StateError):
    """A calendar server took what was written, but the state file could not record it: the
    caller keeps `synced` and gives it to the next sync (as the daemon keeps delivery records)."""

    def __init__(self, error: StateError, synced: dict[str, dict[str, str]]) -> None:
        super().__init__(str(error))
        self.synced = synced


class CalendarError(ReminderdError):
    """The calendar server cannot be reached or refused what reminderd sent."""

    exit_code = 69  # EX_UNAVAILABLE


class CalendarAuthError(CalendarError):
    """The calendar server refused the user name or password."""

    exit_code = 77  # EX_NOPERM


class ServiceError(ReminderdError):
    """A service file (systemd unit, launchd agent) cannot be written or loaded."""

    exit_code = 73  # EX_CANTCREAT


class SettingsError(OutputError):
    """Claude Code's settings.json cannot be read, is not JSON, or has a shape we must not touch."""
