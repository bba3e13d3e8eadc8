"""`reminderd balance`: the readings of the balance the user saw, recorded, listed and taken back.

Each reading carries its source (`manual` for these; later the account's own figures).
"""

from __future__ import annotations

from datetime import timedelta

import click

from reminderd.cli_common import (
    Context,
    at_option,
    command,
    credit_option,
    now_utc,
    nudge_daemon,
    parse_at,
    pick_credit,
    print_json,
    warn,
)
from reminderd.errors import UsageError
from reminderd.forecast import MANUAL, Observation
from reminderd.settings import Config, Credit
from reminderd.state import MAX_BALANCE_USD
from reminderd.timeutil import format_local

AMOUNT_FORMS = "an amount in USD such as 31.40, $31.40 or \"USD 31.40\" (a point before the cents)"


def parse_amount(words: tuple[str, ...]) -> float:
    """AMOUNT as typed or pasted from the web page: 31.40, $31.40, USD 31.40, 31.40 USD."""
    import re

    text = " ".join(words).strip()
    options = [w for w in words if w.startswith("--")]
    if options:
        raise UsageError(f"AMOUNT: expected {AMOUNT_FORMS}, got {text!r} (options such as {options[0]} go before "
                         "a `--`, which ends them)")
    match = re.fullmatch(r"(?i)(?:(?:US)?\$|USD)?\s*([-+\u2212]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:USD)?", text)
    if match is None:
        raise UsageError(f"AMOUNT: expected {AMOUNT_FORMS}, got {text!r}")
    amount = float(match.group(2))
    if match.group(1) in ("-", "\u2212") and amount != 0 or not 0 <= amount <= MAX_BALANCE_USD:
        raise UsageError(f"AMOUNT: expected a remaining balance in USD from 0 to {MAX_BALANCE_USD:,.0f}, "
                         f"got {match.group(1)}{match.group(2)}")
    return amount


class _AmountCommand(click.Command):
    """AMOUNT may look like an option ("-5"): read it as a (refused) amount, not a missing option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        import re

        if "--" not in args:
            numbers = [a for a in args if re.fullmatch(r"[-\u2212][\d.,]+", a)]
            if numbers:
                args = [a for a in args if a not in numbers] + ["--", *numbers]
        return super().parse_args(ctx, args)


@command(cls=_AmountCommand)
@click.argument("amount", nargs=-1, metavar="AMOUNT")
@at_option("When you saw this balance (default: now).")
@credit_option()
@click.option("--list", "listing", is_flag=True, help="List the recorded readings instead.")
@click.option("--json", "as_json", is_flag=True, help="With --list: the readings as JSON.")
@click.option("--undo", is_flag=True, help="Remove the latest reading (or the one at --at).")
@click.pass_obj
def balance(obj: Context, amount: tuple[str, ...], at: str | None, credit_id: str | None, listing: bool,
            as_json: bool, undo: bool) -> None:
    """Record the remaining balance you saw in the web app; the forecast uses it from then on.

    --list shows the readings, --undo takes one back.

    \b
    Example:
      reminderd balance 31.40
    """
    if listing and undo:
        raise UsageError("--undo: expected either --list or --undo, got both")
    if (listing or undo) and amount:
        raise UsageError(f"AMOUNT: expected none with {'--list' if listing else '--undo'}, got {' '.join(amount)!r}")
    if as_json and not listing:
        raise UsageError("--json: expected it with --list")
    config = obj.config()
    credit = pick_credit(config, credit_id)
    if listing:
        _list(obj, config, credit, as_json)
    elif undo:
        _undo(obj, config, credit, at)
    elif not amount:
        raise UsageError(f"AMOUNT: expected the balance you saw, {AMOUNT_FORMS}; or --list, or --undo")
    else:
        _record(obj, config, credit, parse_amount(amount), at)


def _record(obj: Context, config: Config, credit: Credit, amount: float, at: str | None) -> None:
    from reminderd.rules import expiry

    amount = abs(amount)  # -0.0 is 0
    instant = parse_at(at, config)
    zone = config.timezone
    if credit.claimed_at is not None and instant <= credit.claimed_at:
        raise UsageError(f"--at: expected a moment after the claim ({format_local(credit.claimed_at, zone)}), "
                         f"got {format_local(instant, zone)}: before it the balance is the full credit")
    if credit.claimed_at is not None and instant >= (expires := expiry(credit.offer, credit.claimed_at)):
        raise UsageError(f"--at: expected a moment before the expiry ({format_local(expires, zone)}), "
                         f"got {format_local(instant, zone)}: after it the credit is gone")
    previous = [o for o in obj.state().observations.get(credit.id, ()) if o.at < instant]
    obj.update_state(lambda s: s.with_observation(credit.id, Observation(instant, amount, MANUAL)))
    nudge_daemon()
    click.echo(f"Recorded a balance of USD {amount:.2f} for {credit.id} at "
               f"{format_local(instant, zone)} in {obj.state_path}.")
    before = previous[-1].remaining_usd if previous else credit.offer.amount_usd
    if credit.claimed_at is None:
        warn("no claim is recorded yet; the forecast uses this once `reminderd claim` is run")
    elif amount > before:
        from reminderd.timeline import top_up_advice

        warn(f"more than the USD {before:.2f} before it: money was added (a top-up), {top_up_advice(credit.offer)}")
    if instant > now_utc():
        warn("--at is in the future: the reading counts from then")


def _list(obj: Context, config: Config, credit: Credit, as_json: bool) -> None:
    readings = obj.state().observations.get(credit.id, ())
    zone = config.timezone
    if as_json:
        print_json({"schema_version": 1, "credit": credit.id, "timezone": zone.key, "readings": [
            {"at": o.at.astimezone(zone).isoformat(timespec="seconds"), "remaining_usd": round(o.remaining_usd, 2),
             "source": o.source} for o in readings]})
        return
    if not readings:
        click.echo(f"No balance reading is recorded for {credit.id}.")
        return
    click.echo(f"Balance readings for {credit.id}, oldest first:")
    for o in readings:
        click.echo(f"  {format_local(o.at, zone)}  USD {o.remaining_usd:9.2f}  {o.source}")


def _undo(obj: Context, config: Config, credit: Credit, at: str | None) -> None:
    readings = obj.state().observations.get(credit.id, ())
    zone = config.timezone
    if at is None:
        if not readings:
            click.echo(f"Nothing to take back: no balance reading is recorded for {credit.id}.")
            return
        chosen = max(readings, key=lambda o: o.at)
    else:
        instant = parse_at(at, config)
        # a reading typed without seconds is found by its minute, as --list shows it
        whole_minute = instant.second == 0 and instant.microsecond == 0
        found = [o for o in readings if (instant <= o.at < instant + timedelta(minutes=1) if whole_minute
                                         else o.at == instant)]
        if len(found) != 1:
            what = "no reading" if not found else f"{len(found)} readings"
            raise UsageError(f"--at: expected the time of one reading of {credit.id}, got {format_local(instant, zone)}"
                             f" ({what} then; `reminderd balance --list` shows them)")
        chosen = found[0]
    obj.update_state(lambda s: s.without_observation(credit.id, chosen.at))
    nudge_daemon()
    click.echo(f"Removed the reading of USD {chosen.remaining_usd:.2f} for {credit.id} at "
               f"{format_local(chosen.at, zone)} ({chosen.source}) from {obj.state_path}.")
