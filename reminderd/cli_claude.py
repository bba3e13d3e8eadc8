"""The Claude Code commands of the click CLI: `statusline` and `hook` (here for --help and
`python -m reminderd`; the console script runs them without click, see entry.py) and `install-hook`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from reminderd.cli_common import command
from reminderd.summary_file import NAME


def _light(main: Any, options: list[str]) -> None:
    try:
        main(options)
    except Exception:  # as through the console script: a status line or hook never fails the session
        if "--debug" in options:
            import traceback

            traceback.print_exc()


@command()
@click.option("--color", is_flag=True, help="Colour the line (ANSI), unless $NO_COLOR is set.")
def statusline(color: bool) -> None:
    """Print one short line for Claude Code's status line: the credit's balance and expiry, or an urgent reminder.

    Reads Claude Code's status-line JSON on stdin, and the summary that `status` and the daemon keep;
    records what the input says of the plan's quota. Width: $COLUMNS. Always exits 0.

    \b
    Example:
      echo '{}' | reminderd statusline --color
    """
    from reminderd.statusline import main

    _light(main, ["--color"] if color else [])


@command()
@click.option("--debug", is_flag=True, help="Say on stderr why nothing was shown.")
def hook(debug: bool) -> None:
    """Claude Code's SessionStart hook: a warning when a credit needs action now, once per session.

    Reads the hook's JSON on stdin; prints {"systemMessage": ...} or nothing. Always exits 0.

    \b
    Example:
      echo '{"hook_event_name": "SessionStart", "session_id": "s1"}' | reminderd hook --debug
    """
    from reminderd.hook import main

    _light(main, ["--debug"] if debug else [])


@command("install-hook")
@click.option("--statusline", "with_status_line", is_flag=True,
              help="Also make `reminderd statusline` Claude Code's status line.")
@click.option("--force", is_flag=True, help="With --statusline: replace the status line you have (it is kept).")
@click.option("--dry-run", is_flag=True, help="Print the change; write nothing.")
@click.option("--uninstall", is_flag=True, help="Take out what install-hook added, and only that.")
@click.option("--settings", "settings_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Claude Code's settings file (default: $CLAUDE_CONFIG_DIR/settings.json, else "
                   "~/.claude/settings.json).")
@click.pass_obj
def install_hook(obj: Any, with_status_line: bool, force: bool, dry_run: bool, uninstall: bool,
                 settings_file: Path | None) -> None:
    """Put reminderd's session hook (and status line) into Claude Code's settings, keeping the rest.

    \b
    Example:
      reminderd install-hook --statusline --dry-run
    """
    from reminderd import install_hook as ih
    from reminderd import paths

    path = (settings_file or ih.settings_path(os.environ)).expanduser()
    key = str(path.absolute())
    old_text, settings = ih.read_settings(path)
    record = obj.state().extra.get(ih.STATE_SECTION, {}).get(key, {})
    state_dir = paths.state_dir().absolute()
    if uninstall:
        change = ih.uninstall(settings, record)
    else:
        launch, config = ih.this_launch(), obj.config_path.absolute()
        if not config.exists():
            click.echo(f"warning: {config} does not exist yet; the commands name it (`reminderd init` writes one)",
                       err=True)
        change = ih.install(settings, ih.command("hook", launch, state_dir, config),
                            ih.command("statusline", launch, state_dir, config) if with_status_line else None,
                            force, record, path)
    if not change.notes:
        what = "Nothing of reminderd's in" if uninstall else "Already installed in"
        click.echo(f"{what} {path}; nothing written.")
        return
    if dry_run:
        click.echo(f"Would change {path}: {'; '.join(change.notes)}.")
        click.echo(ih.diff(path, old_text, change.settings), nl=False)
        return
    backup = ih.write_settings(path, old_text, change.settings)
    obj.update_state(lambda s: s.with_extra(ih.STATE_SECTION, {
        **{k: v for k, v in s.extra.get(ih.STATE_SECTION, {}).items() if k != key},
        **({key: change.record} if change.record else {})}))
    click.echo(f"{path}: {'; '.join(change.notes)}.")
    if backup is not None:
        click.echo(f"The file as it was: {backup}")
    summary = state_dir / NAME
    if not uninstall and not summary.exists():
        click.echo(f"The hook and the status line read {summary}, which `reminderd status` and the daemon keep "
                   "current: run `reminderd status` once now.")
