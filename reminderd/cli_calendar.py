"""Commands that put the reminders in a calendar: `export-ics` (a file or stdout) and
`sync-calendar` (a CalDAV collection)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from reminderd.cli_common import Context, command, now_utc, warn
from reminderd.errors import ConfigError, OutputError
from reminderd.settings import Config
from reminderd.timeutil import format_local


@command("sync-calendar")
@click.option("--dry-run", is_flag=True, help="Say what would change, with titles and dates; write nothing.")
@click.pass_obj
def sync_calendar(obj: Context, dry_run: bool) -> None:
    """Bring the CalDAV calendar of [calendar] in step with the reminders.

    \b
    Example:
      reminderd sync-calendar --dry-run
    """
    from reminderd.caldav_channel import password_for, sync

    config = obj.config()
    if config.calendar is None:
        raise ConfigError([f"{obj.config_path}: calendar.caldav_url: expected the address of a CalDAV calendar "
                           "in a [calendar] table, got nothing"])
    now = now_utc()
    facts = obj.facts(config, now)
    outcome, actions = sync(config, obj.state_path, now, password_for(config.calendar), dry_run=dry_run,
                            report=warn, facts=facts)
    if dry_run:
        changes = [a for a in actions if a.kind in ("create", "update", "delete")]
        described = _described(config, obj.state_path, now, facts)
        for action in changes:
            start, title = described.get(action.uid, (None, None))
            when = format_local(start, config.timezone) if start is not None else "(not known here)"
            click.echo(f"would {action.kind:<6}  {when}  {title or action.uid}  ({action.href})")
        click.echo(f"{config.calendar.url}: {len(changes)} change(s) to make, {outcome.unchanged} unchanged "
                   f"(dry run; {outcome.summary().rsplit('(', 1)[1]}")
        return
    for line in outcome.conflicts:
        warn(line)
    click.echo(f"{config.calendar.url}: {outcome.summary()}")


def _described(config: Config, state_path: Path, now: datetime, facts: Any) -> dict[str, tuple[datetime, str]]:
    """uid -> (start, title) of every event the calendar holds or held: what a dry run names."""
    from reminderd.ics import to_publish

    published = to_publish(config, state_path, now, warn, facts)
    out = {uid: (datetime.fromisoformat(entry["start"]), f"{entry['summary']} (no longer applies)")
           for uid, entry in published.record.items() if entry.get("cancelled")}
    out.update({event.uid: (event.start, event.summary) for event in published.events})
    return out


@command("export-ics")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write to this file (atomically) instead of stdout; - is stdout. Its folder must exist.")
@click.pass_obj
def export_ics(obj: Context, output: Path | None) -> None:
    """Write the reminders as an .ics calendar with alarms, for any calendar app.

    Re-exporting updates the same events (same UIDs, higher SEQUENCE) instead of duplicating them;
    an event that no longer applies is written as cancelled, so calendars drop it.

    \b
    Example:
      reminderd export-ics -o ~/reminderd.ics
    """
    from reminderd.files import PRIVATE, write_atomically
    from reminderd.ics import publish

    target = None if output is None or str(output) == "-" else output.expanduser()
    if target is not None:
        folder = target.parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist (export-ics creates no folders)"
            raise OutputError(f"{folder}: {what}")

    def write(data: bytes) -> None:
        if target is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            write_atomically(target, data, mode=PRIVATE, error=OutputError)

    config, now = obj.config(), now_utc()
    published = publish(config, obj.state_path, now, write, report=warn, facts=obj.facts(config, now))
    if target is not None and published is not None:
        click.echo(f"Wrote {published} to {output}.", err=True)
