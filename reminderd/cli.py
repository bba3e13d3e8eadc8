"""The command line's entry point: the `reminderd` group, its global options, and the one place
where an error becomes a line on stderr and an exit code.

The commands live in cli_records (claim, done), cli_balance (balance), cli_views (status, usage, offers),
cli_calendar (export-ics, sync-calendar) and cli_service (run, notify-test, init and the user
service); what they share is in cli_common.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from reminderd import __version__, paths
from reminderd.cli_common import CONFIG_HELP, CONFIG_PATH, CONTEXT_SETTINGS, VERBOSE_HELP, Context
from reminderd.errors import ConfigError, ReminderdError, StateError, one_line

INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
# Each command and the module that defines it: a run imports only the one it runs (`status`
# need not load the calendar, the service or Claude Code's commands).
COMMANDS = {
    "status": "cli_views", "usage": "cli_views", "offers": "cli_views",
    "claim": "cli_records", "done": "cli_records", "balance": "cli_balance", "account": "cli_account",
    "export-ics": "cli_calendar", "sync-calendar": "cli_calendar",
    "run": "cli_service", "notify-test": "cli_service", "init": "cli_service", "install-service": "cli_service",
    "uninstall-service": "cli_service",
    "statusline": "cli_claude", "hook": "cli_claude", "install-hook": "cli_claude",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands, each imported from its module when first asked for."""

    def __init__(self) -> None:
        self.loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded:
            module = importlib.import_module(f"reminderd.{COMMANDS[name]}")
            self.loaded[name] = getattr(module, name.replace("-", "_"))
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self.loaded]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self.loaded))


def fail(error: ReminderdError) -> NoReturn:
    """The one place an error becomes output and an exit code."""
    lines = error.problems if isinstance(error, ConfigError) else [str(error) or type(error).__name__]
    for line in lines:
        click.echo(f"reminderd: {one_line(line)}", err=True)
    sys.exit(error.exit_code)


def command_line_problem(error: click.UsageError) -> str:
    """click's complaint about the command line, as one line naming the value (no usage block)."""
    # the command as typed (click's own path starts with the function's name under a test runner)
    hint = "" if error.ctx is None else \
        f" (`{' '.join(['reminderd', *error.ctx.command_path.split()[1:]])} --help` lists what it takes)"
    if isinstance(error, click.BadParameter) and error.param is not None:
        param = error.param
        name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        if isinstance(error, click.MissingParameter):
            return f"{name}: expected a value, got none{hint}"
        return f"{name}: {error.message}"
    message = error.format_message().replace(". (Did you mean", " (did you mean").replace(". Did you", "; did you")
    return f"{message[:1].lower()}{message[1:].rstrip('.')}{hint}"


class Group(click.Group):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands()

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            value = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:  # plain `reminderd`: the help, as click shows it
            error.show()
            sys.exit(error.exit_code)
        except click.UsageError as error:
            fail(_UsageProblem(command_line_problem(error)))
        except click.ClickException as error:
            fail(_ClickProblem(error.format_message(), error.exit_code))
        except (click.Abort, KeyboardInterrupt):  # Ctrl-C: click has closed the `^C` line already
            sys.exit(INTERRUPTED)
        if not standalone_mode:
            return value
        sys.exit(value if isinstance(value, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReminderdError as error:
            fail(error)
        except BrokenPipeError:
            # the reader went away (`| head`): stop quietly, as shell tools do on SIGPIPE
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except OSError as error:  # a last resort: never a traceback
            fail(StateError(f"{getattr(error, 'filename', '') or 'I/O'}: {error.strerror or error}"))


class _UsageProblem(ReminderdError):
    exit_code = 2


class _ClickProblem(ReminderdError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from reminderd.extras import version_text

    click.echo(version_text(__version__), nl=False)
    ctx.exit()


@click.group(cls=Group, context_settings=CONTEXT_SETTINGS)
@click.option("--config", "config_path", metavar="PATH", type=CONFIG_PATH,
              envvar=paths.CONFIG_ENV, help=CONFIG_HELP)
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and which optional extras are installed, then exit.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Reminds you to switch a time-limited usage credit off before it bills you.

    The global options --config and -v also work after the command. A DATETIME (--at) is a date
    or date-time in the config's zone (2026-03-01, "2026-03-01 09:00", or with an offset), or
    now, today, yesterday or tomorrow, with a time if you like ("yesterday 09:30").

    \b
    Example:
      reminderd init && reminderd status
    """
    ctx.obj = Context(config_path or paths.default_config_path(), verbose, explicit_config=config_path is not None)

