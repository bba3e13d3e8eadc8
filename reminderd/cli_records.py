"""Commands that record what the user did: `claim` (in the config) and `done` (in the state).

Both can be taken back with --undo; `balance` (cli_balance.py) records what the user saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from reminderd.cli_common import (
    Context,
    at_option,
    command,
    complete_action,
    credit_option,
    now_utc,
    nudge_daemon,
    parse_at,
    pick_credit,
    warn,
)
from reminderd.config import load_config
from reminderd.errors import UsageError
from reminderd.settings import Config, Credit
from reminderd.state import KEEP_REPLACED_CLAIMS, REPLACED_CLAIMS_SECTION, State
from reminderd.timeutil import format_local


@command()
@at_option("When you claimed (default: now).")
@credit_option()
@click.option("--undo", is_flag=True, help="Put back the claim time the last `claim` replaced.")
@click.pass_obj
def claim(obj: Context, at: str | None, credit_id: str | None, undo: bool) -> None:
    """Record in the config that you claimed the credit (keeps your comments).

    A claim recorded earlier is replaced, and said so; --undo puts it back.

    \b
    Example:
      reminderd claim --at "2026-02-06 09:30"
    """
    from reminderd.config_edit import set_claimed_at

    config = obj.config()
    credit = pick_credit(config, credit_id)
    index = config.credits.index(credit)
    zone = config.timezone
    if undo:
        if at is not None:
            raise UsageError("--at: expected no --at with --undo (it restores the time `claim` replaced)")
        _undo_claim(obj, config, credit, index)
        return
    instant = parse_at(at, config)
    previous = credit.claimed_at
    written = set_claimed_at(obj.config_path, index, instant, zone)
    assert written is not None
    if written != previous:  # what `claim --undo` puts back
        entry = {"claimed_at": previous.isoformat() if previous else None, "on_date": credit.claimed_on_date,
                 "replaced_by": written.isoformat(), "at": now_utc().isoformat()}
        obj.update_state(lambda s: s.with_extra(REPLACED_CLAIMS_SECTION, {
            **s.extra.get(REPLACED_CLAIMS_SECTION, {}),
            credit.id: [*s.extra.get(REPLACED_CLAIMS_SECTION, {}).get(credit.id, []), entry][-KEEP_REPLACED_CLAIMS:]}))
    nudge_daemon()
    if previous is not None and previous != written:
        click.echo(f"Replaced the claim of {credit.id} at {format_local(previous, zone)} with "
                   f"{format_local(instant, zone)} in {obj.config_path} (`reminderd claim --undo` puts it back).")
    else:
        click.echo(f"Recorded claim of {credit.id} at {format_local(instant, zone)} in {obj.config_path}.")
    _say_expiry(obj, credit.id, instant)


def _say_expiry(obj: Context, credit_id: str, instant: datetime) -> None:
    from reminderd.timeline import plan

    updated = load_config(obj.config_path)
    zone = updated.timezone
    ct = next(c for c in plan(updated, obj.state(), max(instant, now_utc())).credits if c.credit.id == credit_id)
    if ct.expires_at is not None:
        click.echo(f"It expires {format_local(ct.expires_at, zone)}.")
        offer = ct.credit.offer
        if ct.expires_at.astimezone(zone).time() != instant.astimezone(zone).replace(microsecond=0).time():
            click.echo(f"(Not the claim's time of day: {offer.validity_days} days are counted on the early side, "
                       f"the earlier of {offer.validity_days} x 24 hours and the same wall time "
                       f"{offer.validity_days} days later in {offer.zone.key}.)")
    for warning in ct.warnings:
        warn(warning)


def _undo_claim(obj: Context, config: Config, credit: Credit, index: int) -> None:
    from reminderd.config_edit import set_claimed_at

    zone = config.timezone
    history = list(obj.state().extra.get(REPLACED_CLAIMS_SECTION, {}).get(credit.id, []))
    if not history:
        click.echo(f"Nothing to take back: no `reminderd claim` of {credit.id} is recorded.")
        return
    last = history[-1]
    wrote, restored = datetime.fromisoformat(last["replaced_by"]), last["claimed_at"]
    if credit.claimed_at != wrote:
        now_in = format_local(credit.claimed_at, zone) if credit.claimed_at else "no claimed_at"
        raise UsageError(f"--undo: the config has {now_in}, not the {format_local(wrote, zone)} that "
                         f"`reminderd claim` wrote there; edit {obj.config_path} by hand")
    back = datetime.fromisoformat(restored) if restored else None
    set_claimed_at(obj.config_path, index, back, zone, as_date=bool(last.get("on_date")))

    def pop(state: State) -> State:
        section = dict(state.extra.get(REPLACED_CLAIMS_SECTION, {}))
        section[credit.id] = section.get(credit.id, [])[:-1]
        return state.with_extra(REPLACED_CLAIMS_SECTION, section)

    obj.update_state(pop)
    nudge_daemon()
    if back is None:
        click.echo(f"Took back the claim of {credit.id} at {format_local(wrote, zone)}: {obj.config_path} "
                   "records no claim again.")
    else:
        click.echo(f"Restored the claim of {credit.id} at {format_local(back, zone)} in {obj.config_path} "
                   f"(it replaces {format_local(wrote, zone)}).")


# -- done -----------------------------------------------------------------------------------------


@command()
@click.argument("action", metavar="ACTION", required=False, shell_complete=complete_action)
@at_option("When you did it (default: now).")
@credit_option()
@click.option("--undo", is_flag=True, help="Take it back (you switched it on again): its reminders return.")
@click.pass_obj
def done(obj: Context, action: str | None, at: str | None, credit_id: str | None, undo: bool) -> None:
    """Record that you switched something off; reminders asking for it stop.

    ACTION is one of the offer's switches, e.g. extra-usage-off (or usage-credits-off, its name
    since May 2026) or auto-reload-off for the built-in offer (`reminderd offers` lists them).

    \b
    Example:
      reminderd done extra-usage-off
    """
    config = obj.config()
    credit = pick_credit(config, credit_id)
    named = credit.offer.action_named(action) if action is not None else None
    if named is None:
        raise UsageError(f"ACTION: expected one of {', '.join([*credit.offer.actions, *credit.offer.action_aliases])} "
                         f"for {credit.id}, got {'nothing' if action is None else repr(action)}")
    action = named
    if undo:
        taken: dict[str, Any] = {}

        def take_back(state: State) -> State:
            taken["at"] = state.acknowledged.get(credit.id, {}).get(action)
            return state.without_acknowledged(credit.id, action) if taken["at"] is not None else state

        obj.update_state(take_back)
        if taken["at"] is None:
            click.echo(f"Nothing to take back: {action} is not recorded for {credit.id}.")
            return
        nudge_daemon()
        click.echo(f"Took back {action} for {credit.id} (recorded {format_local(taken['at'], config.timezone)}); "
                   "reminders asking for it are back.")
        return
    instant = parse_at(at, config)
    obj.update_state(lambda s: s.with_acknowledged(credit.id, action, instant))
    nudge_daemon()
    click.echo(f"Recorded {action} for {credit.id} at {format_local(instant, config.timezone)}; "
               "reminders asking for it will stop.")
    if instant > now_utc():
        warn("--at is in the future: it counts from then")
