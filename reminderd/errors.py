"""Every error a user can meet, each with its documented exit code.

cli.py turns them into one line on stderr; nothing else prints them.
"""

from __future__ import annotations


class ReminderdError(Exception):
    """Base class: a problem we can explain in one line."""

    exit_code = 1


class ConfigError(ReminderdError):
    """The config file is missing, unreadable or invalid (every problem listed at once)."""

    exit_code = 78  # EX_CONFIG; systemd's RestartPreventExitStatus= uses it too

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
