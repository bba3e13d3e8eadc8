"""Commands that set reminderd up and keep it running: `run` (the daemon), `notify-test`,
`init`, and `install-service` / `uninstall-service`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from reminderd import paths
from reminderd.cli_common import Context, OneOf, command, lock_file, now_utc, warn
from reminderd.errors import OutputError, UsageError, one_line
from reminderd.state import SERVICE_SECTION


@command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run in the foreground and send each reminder as a desktop notification, once.

    Meant for systemd or launchd; SIGHUP reloads the config, SIGTERM stops.

    \b
    Example:
      reminderd run
    """
    import os

    from reminderd.process import configure_logging
    from reminderd.process import run as run_daemon

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


@command("notify-test")
@click.pass_obj
def notify_test(obj: Context) -> None:
    """Send one notification now to the desktop and to each push URL, and say which delivered it.

    Exit 69 when any channel did not deliver.

    \b
    Example:
      reminderd notify-test
    """
    import logging

    from reminderd.channels import build
    from reminderd.errors import NotifyError
    from reminderd.notify import make_notifier
    from reminderd.reminder import Reminder
    from reminderd.seams import TIMELINE, Outgoing

    logging.basicConfig(level=logging.DEBUG if obj.verbose else logging.WARNING, format="%(message)s")
    config = obj.config()
    settings = config.notifications
    offer = config.credits[0].offer
    title = "reminderd: test notification"
    body = f"Reminders will look like this. {offer.switches_are_where}"
    now = now_utc()
    test = Reminder("notify-test", config.credits[0].id, "notify-test", now, None, None, title, body, frozenset())
    channels, problems = build(config, obj.state_path, lambda: make_notifier(settings.backend, settings.command))
    failed = []
    for channel in channels:
        if TIMELINE in channel.capabilities:
            continue
        try:
            how = channel.deliver(Outgoing(test, title, body))
        except Exception as exc:  # noqa: BLE001 (what the channel says is the message)
            why = one_line(str(exc)).removeprefix(f"{channel.name}: ")  # the channel named once
            click.echo(f"{channel.name}: failed: {why}", err=True)
            failed.append(channel.name)
            continue
        if channel.name == "desktop":
            click.echo(f"desktop: delivered through {how} (backend setting: {settings.backend}); "
                       "the notification server accepted it.")
        else:
            click.echo(f"{channel.name}: delivered; the service accepted it.")
    for problem in problems:  # channels that could not be built
        click.echo(f"{one_line(problem)}; that channel is off", err=True)
        failed.append(problem.split(":", 1)[0])
    if failed:
        raise NotifyError(f"not delivered on: {', '.join(failed)}")


def _service_for(obj: Context, kind: str | None) -> Any:
    """The service runs what this command runs: its config file and state directory, written in
    as absolute paths (the service manager's environment may differ from this shell's)."""
    import os

    from reminderd.service import command_line, default_kind, service_file

    home = Path(os.path.expanduser("~"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")  # where systemd looks
    environment = {paths.STATE_ENV: os.path.abspath(paths.state_dir())}
    return service_file(kind or default_kind(), command_line(config=obj.config_path), home, config_home, environment)


@command("install-service")
@click.option("--for", "kind", type=OneOf(["systemd", "launchd"]),
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


@command("uninstall-service")
@click.option("--for", "kind", type=OneOf(["systemd", "launchd"]),
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


@command()
@click.pass_obj
def init(obj: Context) -> None:
    """Write a starter config (never overwrites one that exists).

    \b
    Example:
      reminderd init && reminderd status
    """
    from importlib.resources import files

    from reminderd.config_values import UnknownSystemZone, system_timezone
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
    prefix = obj.command_prefix()
    click.echo(f"Wrote {target}. Edit plan, subscribed_at and [credit.usage], then run `{prefix} status`;\n"
               f"after claiming, run `{prefix} claim`. If you use Claude Code here, set claude_code_logs = true\n"
               f"in [credit.usage] to forecast from what it really spends (`{prefix} usage`).")
