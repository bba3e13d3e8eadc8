"""Secrets kept out of the config: a command that prints them (`pass show ...`, like vdirsyncer's
`fetch` and khal's password commands), for push URLs and the CalDAV password."""

from __future__ import annotations

from collections.abc import Sequence


class CommandFailed(Exception):
    """The command could not run, failed or hung; the message names the config key."""


def printed_lines(argv: Sequence[str], key: str, timeout: float) -> list[str]:
    """The lines `argv` prints, as printed. It runs in its own process group, killed whole after
    `timeout` seconds; its stderr is dropped and nothing it prints is ever logged."""
    import subprocess

    from reminderd.notify import kill_group

    try:
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise CommandFailed(f"{key}: cannot run {argv[0]}: {exc.strerror}") from None
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        process.communicate()
        raise CommandFailed(f"{key}: no answer within {timeout:g} s") from None
    if process.returncode != 0:
        raise CommandFailed(f"{key}: exit {process.returncode}")
    return out.decode("utf-8", "replace").splitlines()
