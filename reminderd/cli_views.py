"""Commands that only look: `status`, `usage` and `offers`."""

from __future__ import annotations

import click

from reminderd import paths
from reminderd.cli_common import (
    Context,
    WholeNumber,
    at_option,
    command,
    credit_option,
    json_option,
    lock_file,
    now_utc,
    parse_at,
    pick_credit,
    print_json,
    warn,
)
from reminderd.errors import ConfigError
from reminderd.record import State
from reminderd.settings import Config


def channels_off(config: Config, state: State) -> tuple[str, ...]:
    """The channels the daemon could not build (it keeps them in the state), and push without its
    extra, known without importing it (`status` stays light)."""
    off = list(state.extra.get("channels", {}).get("disabled", []))
    if (config.notifications.push or config.notifications.push_command) and \
            not any(line.startswith("push:") for line in off):
        from reminderd.extras import installed, missing

        if not installed("apprise"):
            off.append(f"push: {missing('push')}")
    return tuple(str(line) for line in off)


@command()
@json_option()
@at_option("Show the status as of another moment.")
@click.pass_obj
def status(obj: Context, as_json: bool, at: str | None) -> None:
    """Show eligibility, claim deadline, expiry, forecast and upcoming reminders.

    \b
    Example:
      reminderd status --at 2026-03-01T09:00 --json
    """
    from reminderd.instance import daemon_info
    from reminderd.report import status_json, status_text
    from reminderd.summary_file import write_summary
    from reminderd.timeline import plan

    config = obj.config()
    state = obj.state()
    read_at = now_utc()  # before `now`: facts read after the moment shown would be ignored as future ones
    now = parse_at(at, config)
    timeline = plan(config, state, now, obj.facts(config, read_at))
    if at is None and (problem := write_summary(paths.state_dir(), timeline, state, now)):  # for Claude Code
        warn(problem)
    daemon = daemon_info(lock_file())
    from reminderd.instance import other_daemon_warning

    mismatch = other_daemon_warning(daemon, paths.runtime_dir(), obj.config_path, paths.state_dir())
    if mismatch:
        warn(mismatch)
    if as_json:
        print_json(status_json(timeline, state, daemon, channels_off(config, state)))
    else:
        click.echo(status_text(timeline, state, daemon, channels_off(config, state), obj.command_prefix()), nl=False)


@command()
@json_option()
@click.option("--since", metavar="DATE", help="First day to show.")
@click.option("--until", metavar="DATE", help="Last day to show (default: today).")
@click.option("--days", metavar="N", type=WholeNumber(1, 400),
              help="How many days to show (default: 14, ending --until or today).")
@credit_option("Which credit, if several read the logs.")
@click.pass_obj
def usage(obj: Context, as_json: bool, since: str | None, until: str | None, days: int | None,
          credit_id: str | None) -> None:
    """Show what Claude Code's logs on this machine cost per day, at the offer's prices.

    Reads the transcripts into the usage ledger first (`claude_code_logs = true` in the
    credit's [credit.usage]). Any two of --since, --until and --days give the range.

    \b
    Example:
      reminderd usage --since 2026-02-06 --days 30
    """
    import os
    import sys
    from datetime import date
    from pathlib import Path

    from reminderd.ledger import current, roots_for
    from reminderd.quota_record import load_samples
    from reminderd.report import plan_limit, plan_limit_json, plan_limit_text
    from reminderd.usage_report import day_range, usage_json, usage_text, usage_view

    config = obj.config()
    readers = [c for c in config.credits if c.usage.claude_code_logs]
    if not readers:
        raise ConfigError([f"{obj.config_path}: no credit reads Claude Code's logs: set claude_code_logs = true "
                           "in its [credit.usage]"])
    credit = pick_credit(config, credit_id, readers, "several read the logs")
    now, zone = now_utc(), config.timezone

    def day(value: str | None, option: str) -> date | None:
        return parse_at(value, config, option).astimezone(zone).date() if value is not None else None

    first, last = day_range(now.astimezone(zone).date(), day(since, "--since"), day(until, "--until"), days)
    ledger = current(config._replace(credits=(credit,)), paths.state_dir(), now, report=warn)[credit.id]
    roots = tuple(roots_for(credit.usage.claude_code_dirs, os.environ, Path.home()))
    view = usage_view(credit, ledger, zone, now, first, last, roots)
    limit = plan_limit(load_samples(paths.state_dir()), now)  # what Claude Code's status line saw
    if as_json:
        print_json(usage_json(view) | {"plan_limit": plan_limit_json(limit, zone)})
    else:
        fancy = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(usage_text(view, fancy), nl=False)
        if line := plan_limit_text(limit, now, zone):
            click.echo(f"  {line}")


@command()
@json_option()
@click.pass_obj
def offers(obj: Context, as_json: bool) -> None:
    """List the offers reminderd knows: built in and from your config, with their sources.

    \b
    Example:
      reminderd offers --json
    """
    from reminderd.catalog import offers_json, offers_text
    from reminderd.offers import BUILTIN_OFFERS

    try:
        known = obj.config().offers
    except ConfigError as error:
        if obj.config_path.exists():
            raise
        known = BUILTIN_OFFERS
        warn(f"{error.problems[0]}; showing the built-in offers only")
    if as_json:
        print_json(offers_json(known))
    else:
        click.echo(offers_text(known), nl=False)

