"""The command line: parsing, wiring and formatting only. The only place that reads the clock."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import click

from reminderd import __version__, paths
from reminderd.config import load_config
from reminderd.errors import ConfigError, OutputError, ReminderdError, StateError, UsageError, one_line
from reminderd.facts import Facts
from reminderd.settings import Config
from reminderd.state import MAX_BALANCE_USD, SERVICE_SECTION, State
from reminderd.timeutil import RANGE_TEXT, OutOfRange, format_local, parse_instant


def now_utc() -> datetime:
    return datetime.now(UTC)


class Context(NamedTuple):
    config_path: Path
    verbose: bool

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
        brought up to date; nothing is imported or read when none does."""
        if not any(c.usage.claude_code_logs for c in config.credits):
            return Facts()
        from reminderd.ledger import current

        return Facts(usage=current(config, paths.state_dir(), now, report=warn))

    def update_state(self, change: Callable[[State], State]) -> State:
        from reminderd.state import update_state

        return update_state(self.state_path, change, report=warn)


def warn(line: str) -> None:
    click.echo(f"warning: {one_line(line)}", err=True)


def fail(error: ReminderdError) -> NoReturn:
    """The one place an error becomes output and an exit code."""
    lines = error.problems if isinstance(error, ConfigError) else [str(error) or type(error).__name__]
    for line in lines:
        click.echo(f"reminderd: {one_line(line)}", err=True)
    sys.exit(error.exit_code)


class Group(click.Group):
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


def parse_at(value: str | None, config: Config, option: str = "--at") -> datetime:
    if value is None:
        return now_utc()
    try:
        instant, warning = parse_instant(value, config.timezone)
    except OutOfRange:
        raise UsageError(f"{option}: expected {RANGE_TEXT}, got {value!r}") from None
    except ValueError:
        raise UsageError(f"{option}: expected a date or date-time such as 2026-02-06T09:30 "
                         f"(in {config.timezone.key} unless it has an offset), got {value!r}") from None
    if warning:
        warn(f"{option}: {warning}")
    return instant


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


def pick_credit(config: Config, credit_id: str | None) -> str:
    if credit_id is None:
        if len(config.credits) > 1:
            raise UsageError("--credit: expected one of " + ", ".join(c.id for c in config.credits)
                             + " (the config has several credits)")
        return config.credits[0].id
    if config.credit(credit_id) is None:
        raise UsageError("--credit: expected one of " + ", ".join(c.id for c in config.credits)
                         + f", got {credit_id!r}")
    return credit_id


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              envvar=paths.CONFIG_ENV, help="Config file (default: the user config dir; "
              f"${paths.CONFIG_ENV} works too).")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
@click.version_option(__version__, prog_name="reminderd")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Reminds you to switch a time-limited usage credit off before it bills you.

    \b
    Example:
      reminderd --config config.example.toml status
    """
    ctx.obj = Context(config_path or paths.default_config_path(), verbose)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document instead.")
@click.option("--at", "at", metavar="DATETIME", help="Show the status as of another moment.")
@click.pass_obj
def status(obj: Context, as_json: bool, at: str | None) -> None:
    """Show eligibility, claim deadline, expiry, forecast and upcoming reminders.

    \b
    Example:
      reminderd status --at 2026-03-01T09:00 --json
    """
    from reminderd.instance import daemon_info
    from reminderd.report import status_json, status_text
    from reminderd.timeline import plan

    config = obj.config()
    state = obj.state()
    now = parse_at(at, config)
    timeline = plan(config, state, now, obj.facts(config, now_utc()))
    daemon = daemon_info(lock_file())
    from reminderd.instance import other_daemon_warning

    mismatch = other_daemon_warning(daemon, paths.runtime_dir(), obj.config_path, paths.state_dir())
    if mismatch:
        warn(mismatch)
    if as_json:
        import json  # only here: the text summary does without it

        click.echo(json.dumps(status_json(timeline, state, daemon), indent=2, sort_keys=True))
    else:
        click.echo(status_text(timeline, state, daemon), nl=False)


@main.command()
@click.option("--at", "at", metavar="DATETIME", help="When you claimed (default: now).")
@click.option("--credit", "credit_id", metavar="ID", help="Which credit, if the config has several.")
@click.pass_obj
def claim(obj: Context, at: str | None, credit_id: str | None) -> None:
    """Record in the config that you claimed the credit (keeps your comments).

    \b
    Example:
      reminderd claim --at "2026-02-06 09:30"
    """
    from reminderd.config_edit import set_claimed_at
    from reminderd.timeline import plan

    config = obj.config()
    instant = parse_at(at, config)
    chosen = pick_credit(config, credit_id)
    set_claimed_at(obj.config_path, [c.id for c in config.credits].index(chosen), instant, config.timezone)
    updated = load_config(obj.config_path)
    timeline = plan(updated, obj.state(), max(instant, now_utc()))
    ct = next(c for c in timeline.credits if c.credit.id == chosen)
    nudge_daemon()
    click.echo(f"Recorded claim of {chosen} at {format_local(instant, config.timezone)} in {obj.config_path}.")
    if ct.expires_at is not None:
        click.echo(f"It expires {format_local(ct.expires_at, config.timezone)}.")
    for warning in ct.warnings:
        warn(warning)


@main.command()
@click.argument("amount", type=float)
@click.option("--at", "at", metavar="DATETIME", help="When you saw this balance (default: now).")
@click.option("--credit", "credit_id", metavar="ID", help="Which credit, if the config has several.")
@click.pass_obj
def balance(obj: Context, amount: float, at: str | None, credit_id: str | None) -> None:
    """Record the remaining balance you saw in the web app; the forecast uses it from then on.

    \b
    Example:
      reminderd balance 31.40
    """
    from reminderd.forecast import Observation
    from reminderd.rules import expiry

    config = obj.config()
    if not 0 <= amount <= MAX_BALANCE_USD:  # also NaN
        raise UsageError(f"AMOUNT: expected a remaining balance in USD from 0 to {MAX_BALANCE_USD:,.0f}, "
                         f"got {amount:g}")
    amount = abs(amount)  # -0.0 is 0
    chosen = pick_credit(config, credit_id)
    instant = parse_at(at, config)
    credit = config.credit(chosen)
    assert credit is not None
    zone = config.timezone
    if credit.claimed_at is not None and instant <= credit.claimed_at:
        raise UsageError(f"--at: expected a moment after the claim ({format_local(credit.claimed_at, zone)}), "
                         f"got {format_local(instant, zone)}: before it the balance is the full credit")
    if credit.claimed_at is not None and instant >= (expires := expiry(credit.offer, credit.claimed_at)):
        raise UsageError(f"--at: expected a moment before the expiry ({format_local(expires, zone)}), "
                         f"got {format_local(instant, zone)}: after it the credit is gone")
    previous = [o for o in obj.state().observations.get(chosen, ()) if o.at < instant]
    obj.update_state(lambda s: s.with_observation(chosen, Observation(instant, amount)))
    nudge_daemon()
    click.echo(f"Recorded a balance of USD {amount:.2f} for {chosen} at "
               f"{format_local(instant, zone)} in {obj.state_path}.")
    before = previous[-1].remaining_usd if previous else credit.offer.amount_usd
    if credit.claimed_at is None:
        warn("no claim is recorded yet; the forecast uses this once `reminderd claim` is run")
    elif amount > before:
        from reminderd.timeline import top_up_advice

        warn(f"more than the USD {before:.2f} before it: money was added (a top-up), {top_up_advice(credit.offer)}")
    if instant > now_utc():
        warn("--at is in the future: the reading counts from then")


@main.command()
@click.argument("action", metavar="ACTION")
@click.option("--at", "at", metavar="DATETIME", help="When you did it (default: now).")
@click.option("--credit", "credit_id", metavar="ID", help="Which credit, if the config has several.")
@click.option("--undo", is_flag=True, help="Take it back (you switched it on again): its reminders return.")
@click.pass_obj
def done(obj: Context, action: str, at: str | None, credit_id: str | None, undo: bool) -> None:
    """Record that you switched something off; reminders asking for it stop.

    ACTION is one of the offer's switches, e.g. extra-usage-off or auto-reload-off for the
    built-in offer (`reminderd offers` lists them).

    \b
    Example:
      reminderd done extra-usage-off
    """
    config = obj.config()
    chosen = pick_credit(config, credit_id)
    credit = config.credit(chosen)
    assert credit is not None
    if action not in credit.offer.actions:
        raise UsageError(f"ACTION: expected one of {', '.join(credit.offer.actions)} for {chosen}, got {action!r}")
    if undo:
        obj.update_state(lambda s: s.without_acknowledged(chosen, action))
        nudge_daemon()
        click.echo(f"Took back {action} for {chosen}; reminders asking for it are back.")
        return
    instant = parse_at(at, config)
    obj.update_state(lambda s: s.with_acknowledged(chosen, action, instant))
    nudge_daemon()
    click.echo(f"Recorded {action} for {chosen} at {format_local(instant, config.timezone)}; "
               "reminders asking for it will stop.")
    if instant > now_utc():
        warn("--at is in the future: it counts from then")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document instead.")
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
        import json

        click.echo(json.dumps(offers_json(known), indent=2, sort_keys=True))
    else:
        click.echo(offers_text(known), nl=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document instead.")
@click.option("--since", metavar="DATE", help="First day to show (default: --days ago).")
@click.option("--days", type=click.IntRange(1, 400), default=14, show_default=True, help="How many days to show.")
@click.option("--credit", "credit_id", metavar="ID", help="Which credit, if several read the logs.")
@click.pass_obj
def usage(obj: Context, as_json: bool, since: str | None, days: int, credit_id: str | None) -> None:
    """Show what Claude Code's logs on this machine cost per day, at the offer's prices.

    Reads the transcripts into the usage ledger first (`claude_code_logs = true` in the
    credit's [credit.usage]).

    \b
    Example:
      reminderd usage --days 7
    """
    import os
    from datetime import timedelta

    from reminderd.ledger import current
    from reminderd.spend import daily_usd
    from reminderd.usage_report import UsageView, usage_json, usage_text

    config = obj.config()
    readers = [c for c in config.credits if c.usage.claude_code_logs]
    if not readers:
        raise UsageError("no credit reads Claude Code's logs: set claude_code_logs = true in its [credit.usage]")
    if credit_id is None and len(readers) > 1:
        raise UsageError("--credit: expected one of " + ", ".join(c.id for c in readers) + " (several read the logs)")
    credit = next((c for c in readers if c.id == (credit_id or readers[0].id)), None)
    if credit is None:
        raise UsageError("--credit: expected one of " + ", ".join(c.id for c in readers) + f", got {credit_id!r}")
    now, zone = now_utc(), config.timezone
    ledger = current(config._replace(credits=(credit,)), paths.state_dir(), now, report=warn)[credit.id]
    until = now.astimezone(zone).date()
    first = parse_at(since, config, "--since").astimezone(zone).date() if since else until - timedelta(days=days - 1)
    if first > until:
        raise UsageError(f"--since: expected a day no later than today ({until}), got {since!r}")
    offer = credit.offer
    claimed = credit.claimed_at if credit.claimed_at is not None and credit.claimed_at <= now else None
    view = UsageView(
        credit.id, zone, first, until, daily_usd(ledger, zone, offer.prices, offer.web_search_usd, first, until),
        daily_usd(ledger, zone, offer.prices, offer.web_search_usd, claimed.astimezone(zone).date(), until)
        if claimed else None, claimed, ledger)
    if as_json:
        import json

        click.echo(json.dumps(usage_json(view), indent=2, sort_keys=True))
    else:
        fancy = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(usage_text(view, fancy), nl=False)


@main.command("sync-calendar")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.pass_obj
def sync_calendar(obj: Context, dry_run: bool) -> None:
    """Bring the CalDAV calendar of [calendar] in step with the reminders.

    \b
    Example:
      reminderd sync-calendar --dry-run
    """
    from reminderd.caldav_sync import password_for, sync

    config = obj.config()
    if config.calendar is None:
        raise ConfigError([f"{obj.config_path}: calendar.caldav_url: expected the address of a CalDAV calendar "
                           "in a [calendar] table, got nothing"])
    now = now_utc()
    outcome, actions = sync(config, obj.state_path, now, password_for(config.calendar), dry_run=dry_run,
                            report=warn, facts=obj.facts(config, now))
    if dry_run:
        changes = [a for a in actions if a.kind in ("create", "update", "delete")]
        for action in changes:
            click.echo(f"would {action.kind} {action.href}")
        click.echo(f"{config.calendar.url}: {len(changes)} change(s) to make, {outcome.unchanged} unchanged "
                   f"(dry run; {outcome.summary().rsplit('(', 1)[1]}")
        return
    for line in outcome.conflicts:
        warn(line)
    click.echo(f"{config.calendar.url}: {outcome.summary()}")


@main.command("export-ics")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (atomically) instead of stdout.")
@click.pass_obj
def export_ics(obj: Context, output: Path | None) -> None:
    """Write the reminders as an .ics calendar with alarms, for any calendar app.

    Re-exporting updates the same events (same UIDs, higher SEQUENCE) instead of duplicating them.

    \b
    Example:
      reminderd export-ics -o ~/reminderd.ics
    """
    from reminderd.files import PRIVATE, write_atomically
    from reminderd.ics import publish

    def write(data: bytes) -> None:
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            write_atomically(output.expanduser(), data, mode=PRIVATE, error=OutputError)

    config, now = obj.config(), now_utc()
    events = publish(config, obj.state_path, now, write, report=warn, facts=obj.facts(config, now))
    if output is not None:
        click.echo(f"Wrote {events} events to {output}.", err=True)


@main.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run in the foreground and send each reminder as a desktop notification, once.

    Meant for systemd or launchd; SIGHUP reloads the config, SIGTERM stops.

    \b
    Example:
      reminderd run
    """
    import os

    from reminderd.daemon import configure_logging
    from reminderd.daemon import run as run_daemon

    configure_logging(obj.verbose)
    sys.exit(run_daemon(obj.config_path, obj.state_path, lock_file(), now_utc, wake_seconds(os.environ)))


def wake_seconds(environ: Any) -> float:
    """$REMINDERD_WAKE_SECONDS (a test hook): how often the daemon re-reads the clock, 0.1-60 s."""
    from reminderd.daemon import WAKE_SECONDS

    text = environ.get("REMINDERD_WAKE_SECONDS")
    if text is None:
        return WAKE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= WAKE_SECONDS:
        raise UsageError(f"REMINDERD_WAKE_SECONDS: expected seconds from 0.1 to {WAKE_SECONDS}, got {text!r}")
    return value


@main.command("notify-test")
@click.pass_obj
def notify_test(obj: Context) -> None:
    """Send one notification now to the desktop and to each push URL, and say which delivered it.

    Exit 69 when any channel did not deliver.

    \b
    Example:
      reminderd notify-test
    """
    import logging

    from reminderd.notify import NotifyError, make_notifier

    logging.basicConfig(level=logging.DEBUG if obj.verbose else logging.WARNING, format="%(message)s")
    config = obj.config()
    settings = config.notifications
    offer = config.credits[0].offer
    verb = "are" if len(offer.switches) > 1 else "is"
    title = "reminderd: test notification"
    body = f"Reminders will look like this. {offer.all_switches} {verb} switched in {offer.where}."
    failed = []
    desktop = make_notifier(settings.backend, settings.command)
    try:
        desktop.send(title, body)
        click.echo(f"desktop: delivered through {desktop.used} (backend setting: {settings.backend}); "
                   "the notification server accepted it.")
    except NotifyError as exc:
        click.echo(f"desktop: failed: {exc}", err=True)
        failed.append("desktop")
    pushes: list[Any] = []
    if settings.push or settings.push_command:
        from reminderd.push import push_notifiers

        pushes, problem = push_notifiers(settings.push, settings.push_command)
        if problem is not None:
            click.echo(one_line(problem), err=True)
            failed.append("push_command")
    for push in pushes:
        try:
            push.send(title, body)
            click.echo(f"{push.name}: delivered; the service accepted it.")
        except NotifyError as exc:
            click.echo(one_line(str(exc)), err=True)
            failed.append(push.name)
    if failed:
        fail(NotifyError(f"not delivered on: {', '.join(failed)}"))


def _service_for(obj: Context, kind: str | None) -> Any:
    """The service runs what this command runs: its config file and state directory, written in
    as absolute paths (the service manager's environment may differ from this shell's)."""
    import os

    from reminderd.service import command_line, default_kind, service_file

    home = Path(os.path.expanduser("~"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")  # where systemd looks
    environment = {paths.STATE_ENV: os.path.abspath(paths.state_dir())}
    return service_file(kind or default_kind(), command_line(config=obj.config_path), home, config_home, environment)


@main.command("install-service")
@click.option("--for", "kind", type=click.Choice(["systemd", "launchd"]),
              help="Which service manager (default: this OS's).")
@click.option("--dry-run", is_flag=True, help="Print what would be written, and where; write nothing.")
@click.option("--force", is_flag=True, help="Replace a service file you changed.")
@click.pass_obj
def install_service(obj: Context, kind: str | None, dry_run: bool, force: bool) -> None:
    """Install reminderd as a user service that starts with your desktop session.

    \b
    Example:
      reminderd install-service --dry-run
    """
    from reminderd.service import digest, install

    service = _service_for(obj, kind)
    if dry_run:
        click.echo(f"Would write {service.path}:\n")
        click.echo(service.content.decode(), nl=False)
        click.echo("\nThen start it with:\n" + "\n".join(f"  {c}" for c in service.enable))
        return
    recorded = obj.state().extra.get(SERVICE_SECTION, {}).get(str(service.path))
    changed = install(service, recorded, force)
    obj.update_state(lambda s: s.with_extra(
        SERVICE_SECTION, {**s.extra.get(SERVICE_SECTION, {}), str(service.path): digest(service.content)}))
    click.echo(f"{'Wrote' if changed else 'Already up to date:'} {service.path}")
    click.echo("Start it now and at every login with:\n" + "\n".join(f"  {c}" for c in service.enable))


@main.command("uninstall-service")
@click.option("--for", "kind", type=click.Choice(["systemd", "launchd"]),
              help="Which service manager (default: this OS's).")
@click.option("--force", is_flag=True, help="Remove it even if you changed it or it is still enabled.")
@click.pass_obj
def uninstall_service(obj: Context, kind: str | None, force: bool) -> None:
    """Remove the user service that install-service wrote.

    \b
    Example:
      reminderd uninstall-service
    """
    from reminderd.service import uninstall

    service = _service_for(obj, kind)
    recorded = obj.state().extra.get(SERVICE_SECTION, {}).get(str(service.path))
    if service.kind == "launchd":
        click.echo("Stop it first if it runs:\n" + "\n".join(f"  {c}" for c in service.disable))
    if not uninstall(service, recorded, force):
        click.echo(f"Nothing to remove: {service.path} does not exist.")
        return
    obj.update_state(lambda s: s.with_extra(
        SERVICE_SECTION, {k: v for k, v in s.extra.get(SERVICE_SECTION, {}).items() if k != str(service.path)}))
    click.echo(f"Removed {service.path}")


@main.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Write a starter config (never overwrites one that exists).

    \b
    Example:
      reminderd init && reminderd status
    """
    from importlib.resources import files

    from reminderd.config import UnknownSystemZone, system_timezone
    from reminderd.files import PRIVATE, write_atomically

    target = obj.config_path
    if target.exists():
        raise OutputError(f"{target}: a config already exists; left unchanged")
    try:
        zone = system_timezone().key
    except UnknownSystemZone as exc:
        zone = "UTC"
        warn(f"{exc}: wrote timezone = \"UTC\"; edit it to your zone, e.g. \"Europe/Berlin\"")
    text = files("reminderd").joinpath("config.example.toml").read_text(encoding="utf-8")
    text = text.replace('timezone = "America/Los_Angeles"', f'timezone = "{zone}"', 1)
    text = text.replace("\nclaimed_at = ", "\n# claimed_at = ", 1)
    write_atomically(target, text.encode("utf-8"), mode=PRIVATE, error=OutputError)
    click.echo(f"Wrote {target}. Edit plan, subscribed_at and [credit.usage], then run `reminderd status`;\n"
               "after claiming, run `reminderd claim`. If you use Claude Code here, set claude_code_logs = true\n"
               "in [credit.usage] to forecast from what it really spends (`reminderd usage`).")
