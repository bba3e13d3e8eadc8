"""The `reminderd` console script, and what the commands install-hook writes call (`python -I -S -c`,
install_hook.START: without `site`, so main() must keep needing nothing but the standard library and
this package). `statusline` and `hook` run from light modules: Claude Code runs them after every
answer and at every session start, and waits for them, so they never import click
(benchmarks/statusline measures them). Everything else, and any option these two do not take
(`--help`), goes to the click CLI (cli.py), which knows them too.

The light commands always exit 0 and print nothing more than their line when something goes wrong
(an exception, Ctrl-C, a closed pipe): a status line or hook that fails would disturb the session.
"""

from __future__ import annotations

import os
import sys

LIGHT = {"statusline": frozenset({"--color"}), "hook": frozenset({"--debug"})}
GLOBAL_FLAGS = frozenset({"-v", "--verbose"})


def light_command(args: list[str]) -> tuple[str, list[str]] | None:
    """(command, its options) when `args` run a light command the light way; None for the CLI."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--config":
            index += 2
        elif arg.startswith("--config=") or arg in GLOBAL_FLAGS:
            index += 1
        else:
            break
    if index >= len(args) or args[index] not in LIGHT:
        return None
    command, rest = args[index], args[index + 1:]
    return (command, rest) if set(rest) <= LIGHT[command] else None


def run_light(command: str, options: list[str]) -> None:
    """Run a light command and leave at once with 0 (no interpreter teardown: it is time Claude Code waits)."""
    debug = "--debug" in options
    try:
        if command == "statusline":
            from reminderd.statusline import main as light_main
        else:
            from reminderd.hook import main as light_main
        light_main(options)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException as error:  # Ctrl-C, a closed pipe, a bug: never the session's problem
        try:
            if debug and not isinstance(error, BrokenPipeError):
                import traceback

                traceback.print_exc()
                sys.stderr.flush()
        finally:
            _silence()
    os._exit(0)


def _silence() -> None:
    """stdout and stderr to /dev/null: nothing half-written is flushed at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    except OSError:
        pass


def main() -> None:
    light = light_command(sys.argv[1:])
    if light is not None:
        run_light(*light)
    from reminderd.cli import main as cli

    cli()
