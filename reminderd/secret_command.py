"""Secrets kept out of the config: a command that prints them (`pass show ...`, like vdirsyncer's
`fetch` and khal's password commands), for push URLs and the CalDAV password."""

from __future__ import annotations

from collections.abc import Sequence


class CommandFailed(Exception):
    """The command could not run, failed or hung; the message names the config key."""


def printed_lines(argv: Sequence[str], key: str, timeout: float) -> list[str]:
    """The lines `argv` prints, as printed, within `timeout` seconds (bounded.run: its whole
    process group is killed then); its stderr is dropped and nothing it prints is ever logged."""
    from reminderd.bounded import CannotRun, run

    try:
        done = run(argv, timeout)
    except CannotRun as exc:
        raise CommandFailed(f"{key}: cannot run {argv[0]}: {exc.strerror}") from None
    if done.timed_out:
        raise CommandFailed(f"{key}: no answer within {timeout:g} s")
    if done.returncode != 0:
        raise CommandFailed(f"{key}: exit {done.returncode}")
    return done.stdout.decode("utf-8", "replace").splitlines()
