"""What every command shares: the Context (config, state, logs), the clock, how a value given on
the command line is read, and the options several commands take.

Values are read here, and a bad one raises errors.UsageError; cli.py alone turns errors into
output and exit codes. This module imports no command module, so they can all import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click

from reminderd import paths
from reminderd.config import load_config
from reminderd.errors import UsageError, one_line
from reminderd.facts import Facts
from reminderd.settings import Config, Credit
from reminderd.state import State
from reminderd.timeutil import RANGE_TEXT, OutOfRange, parse_moment

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def now_utc() -> datetime:
    """The clock: read here (and by the daemon) only."""
    return datetime.now(UTC)


def warn(line: str) -> None:
    click.echo(f"warning: {one_line(line)}", err=True)


class Context(NamedTuple):
    config_path: Path
    verbose: bool
    explicit_config: bool = False  # given with --config or $REMINDERD_CONFIG, not the default

    def config(self) -> Config:
        config = load_config(self.config_path)
        for warning in config.warnings:
            warn(warning)
        return config

    @property
    def state_path(self) -> Path:
        return paths.state_file()

    def state(self) -> State:
        """The state as read, for commands that only read it: damage is reported, not repaired."""
        from reminderd.state import describe_damage, read_state

        loaded = read_state(self.state_path)
        if loaded.damaged:
            warn(describe_damage(self.state_path, loaded))
        return loaded.state

    def facts(self, config: Config, now: datetime) -> Facts:
        """What the sources know: the usage ledgers of the credits that read Claude Code's logs,
        brought up to date, the plan's quota as Claude Code's status line saw it, and the account
        ([account]) as last read, or read now within 5 s when that is older than its interval;
        nothing is imported or read that is not asked for."""
        from reminderd.quota_record import load_samples

        facts = Facts(quota=load_samples(paths.state_dir()))
        if any(c.usage.claude_code_logs for c in config.credits):
            from reminderd.ledger import current

            facts = facts._replace(usage=current(config, paths.state_dir(), now, report=warn))
        if config.account is not None:
            import os

            from reminderd.account import current_account

            facts = facts._replace(account=current_account(config.account, paths.state_dir(), os.environ,
                                                           Path(os.path.expanduser("~")), now))
        return facts

    def update_state(self, change: Callable[[State], State]) -> State:
        from reminderd.state import update_state

        return update_state(self.state_path, change, report=warn)

    def command_prefix(self) -> str:
        """`reminderd` as the user must type it to reach this same config."""
        if not self.explicit_config or self.config_path == paths.default_config_path():
            return "reminderd"
        path = str(self.config_path)
        if not path or not all(c.isascii() and c.isalnum() or c in "@%+=:,./-_" for c in path):  # as shlex.quote
            import shlex

            path = shlex.quote(path)
        return f"reminderd --config {path}"


# -- values from the command line ----------------------------------------------------------------

AT_FORMS = ("a date or date-time such as 2026-02-06T09:30, or now, today, yesterday, tomorrow "
            "(optionally with a time: \"today 14:00\")")


def parse_at(value: str | None, config: Config, option: str = "--at") -> datetime:
    """--at DATETIME (and other moments): now when not given; naive values in the config's zone."""
    now = now_utc()
    if value is None:
        return now
    try:
        instant, warning = parse_moment(value, config.timezone, now)
    except OutOfRange:
        raise UsageError(f"{option}: expected {RANGE_TEXT}, got {value!r}") from None
    except ValueError as exc:
        if "out of range" in str(exc):  # the form is right, the calendar has no such day or time: say which
            raise UsageError(f"{option}: expected a day and time the calendar has, got {value!r} ({exc})") from None
        raise UsageError(f"{option}: expected {AT_FORMS} (in {config.timezone.key} unless it has an offset), "
                         f"got {value!r}") from None
    if warning:
        warn(f"{option}: {warning}")
    return instant


def pick_credit(config: Config, credit_id: str | None, among: Iterable[Credit] | None = None,
                why: str = "the config has several credits") -> Credit:
    """The credit --credit names; without it the only candidate. `among` narrows the candidates
    (the credits that read the logs, say), and `why` says why it must be named."""
    candidates = list(config.credits if among is None else among)
    names = ", ".join(c.id for c in candidates)
    if credit_id is None:
        if len(candidates) > 1:
            raise UsageError(f"--credit: expected one of {names} ({why})")
        return candidates[0]
    found = next((c for c in candidates if c.id == credit_id), None)
    if found is None:
        raise UsageError(f"--credit: expected one of {names}, got {credit_id!r}")
    return found


def nudge_daemon() -> None:
    """Tell a running daemon to replan now rather than at its next wake-up (within a minute)."""
    import contextlib
    import os
    import signal

    from reminderd.instance import daemon_info, is_our_daemon

    info = daemon_info(lock_file())
    # the pid is trusted only while its process holds the lock, only on the host it names, and
    # only if that process is ours and runs reminderd
    if info.running and info.pid and info.here and is_our_daemon(info.pid):
        with contextlib.suppress(OSError):
            os.kill(info.pid, signal.SIGHUP)


def lock_file() -> Path:
    """The daemon's lock (paths.lock_file), saying so when $XDG_RUNTIME_DIR cannot be trusted."""
    problem = paths.runtime_dir_problem()
    if problem:
        warn(problem)
    return paths.lock_file()


class WholeNumber(click.ParamType):  # type: ignore[type-arg]
    """A whole number in a range, refused in the words every other value is."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = self.low - 1
        if not self.low <= number <= self.high:
            self.fail(f"expected a whole number from {self.low} to {self.high}, got {value!r}", param, ctx)
        return number


class OneOf(click.Choice):  # type: ignore[type-arg]
    """click.Choice, refused in the words every other value is."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value not in self.choices:
            self.fail(f"expected one of {', '.join(map(str, self.choices))}, got {value!r}", param, ctx)
        return value


# -- shell completion: cheap guesses from the config, never an error ------------------------------


def _config_for_completion(ctx: click.Context) -> Config | None:
    import os

    path: Any = None
    node: click.Context | None = ctx
    while node is not None and path is None:
        path = node.params.get("config_path")
        node = node.parent
    try:
        chosen = Path(path or os.environ.get(paths.CONFIG_ENV) or paths.default_config_path())
        return load_config(chosen)
    except Exception:  # noqa: BLE001 (a completion must never print an error into the shell)
        return None


def complete_credit(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    config = _config_for_completion(ctx)
    return [c.id for c in config.credits if c.id.startswith(incomplete)] if config else []


def complete_action(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    config = _config_for_completion(ctx)
    if config is None:
        return []
    actions = dict.fromkeys(a for c in config.credits for a in (*c.offer.actions, *c.offer.action_aliases))
    return [a for a in actions if a.startswith(incomplete)]


# -- options shared by several commands -------------------------------------------------------------


def _set_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None and isinstance(ctx.obj, Context):
        ctx.obj = ctx.obj._replace(config_path=value, explicit_config=True)


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and isinstance(ctx.obj, Context):
        ctx.obj = ctx.obj._replace(verbose=True)


CONFIG_HELP = f"Config file (default: the user config dir; ${paths.CONFIG_ENV} works too)."


class PathValue(click.ParamType):  # type: ignore[type-arg]
    """A path, taken as given (click.Path without its checks: making one looks its words up with
    gettext, which loads `locale` and searches the disk for translations, 2 ms of every start)."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        return value if isinstance(value, Path) else Path(value)


CONFIG_PATH = PathValue()
VERBOSE_HELP = "Log more detail to stderr."


def command(name: str | None = None, cls: type[click.Command] | None = None,
            **settings: Any) -> Callable[[F], click.Command]:
    """A command that also takes the global options after its name (`reminderd status --config X -v`).

    They are listed after the command's own options, and set what the group's options set.
    """
    def decorate(function: F) -> click.Command:
        config = click.Option(["--config", "config_here"], metavar="PATH", expose_value=False, callback=_set_config,
                              type=CONFIG_PATH,
                              help="Config file (as before the command).")
        verbose = click.Option(["-v", "--verbose", "verbose_here"], is_flag=True, expose_value=False,
                               callback=_set_verbose, help=VERBOSE_HELP)
        # click reverses the decorators' list: the first ones here come last in --help
        function.__click_params__ = [verbose, config, *getattr(function, "__click_params__", [])]  # type: ignore[attr-defined]
        return click.command(name, cls=cls, context_settings={**CONTEXT_SETTINGS, **settings})(function)
    return decorate


def at_option(help_text: str) -> Callable[[F], F]:
    return click.option("--at", "at", metavar="DATETIME", help=help_text)


def credit_option(help_text: str = "Which credit, if the config has several.") -> Callable[[F], F]:
    return click.option("--credit", "credit_id", metavar="ID", help=help_text, shell_complete=complete_credit)


def json_option() -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document instead.")


def print_json(document: Any) -> None:
    import json  # only here: the text outputs do without it

    click.echo(json.dumps(document, indent=2, sort_keys=True))
