"""`reminderd account [--json]`: read the Claude account now and show what it said (issue 20).

The command reads the clock (it is a front); account.py does the reading, matching.py says which
configured credit each of the account's credits is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from reminderd import paths
from reminderd.cli_common import Context, command, json_option, now_utc, print_json, warn
from reminderd.errors import AccountError, AccountLoginError, ConfigError, one_line
from reminderd.facts import AccountFacts, Money
from reminderd.settings import Config

BUDGET = 5.0  # seconds for the whole reading
SCHEMA_VERSION = 1


@command()
@json_option()
@click.pass_obj
def account(obj: Context, as_json: bool) -> None:
    """Read the Claude account now: usage credits on or off, balance, credits and their expiry.

    Needs `claude = true` in the config's [account] table. Read only: it sends Claude Code's
    login on this machine to api_base (https://api.anthropic.com) in three GET requests, and
    never changes anything in the account. Exit 69 if nothing could be read, 77 if the login is
    missing or expired.

    \b
    Example:
      reminderd account --json
    """
    from reminderd.account import refresh_account

    config = obj.config()
    if config.account is None:
        raise ConfigError([f"{obj.config_path}: account.claude: expected true in an [account] table "
                           "(reading the account is opt-in), got nothing"])
    now = now_utc()
    result = refresh_account(config.account, paths.state_dir(), os.environ, Path(os.path.expanduser("~")), now,
                             time.monotonic() + BUDGET, force=True)
    for line in result.warnings:
        warn(line)
    facts = result.facts
    matched, discovered = matches(config, facts, now)
    if facts is not None:  # what it said of each credit and of the switch, kept (as the daemon does)
        from reminderd.matching import with_account_facts

        before = obj.state()
        after = obj.update_state(lambda s: with_account_facts(s, config, facts, now))
        for credit_id, readings in sorted(after.observations.items()):
            for reading in readings[len(before.observations.get(credit_id, ())):]:
                warn(f"recorded a reading of USD {reading.remaining_usd:.2f} for {credit_id}, from the account")
    if as_json:
        print_json(account_json(facts, result.problems, matched, discovered, config.timezone))
    else:
        problems = [p for p in result.problems if p != result.login_problem]  # the error line below says it
        text = account_text(facts, problems, matched, discovered, config.timezone, now, bool(result.read))
        click.echo(text, nl=False)
    if result.login_problem is not None:
        raise AccountLoginError(result.login_problem)
    if result.asked and not result.read:
        first = result.problems[0] if result.problems else "no answer"
        raise AccountError(f"the account could not be read: {first}", retry_at=result.next_at)


def matches(config: Config, facts: AccountFacts | None, now: datetime) -> tuple[Mapping[int, str], Mapping[int, str]]:
    """Which configured credit each of the account's credits is (index -> credit id), and the id
    each of the others has as a discovered credit (index -> id), as `status` shows them."""
    if facts is None or config.account is None:
        return {}, {}
    from reminderd.matching import account_view

    view = account_view(config, facts, config.account.label, now)
    others = [i for i, g in enumerate(facts.credits) if i not in view.matched and g.expires_at is not None]
    return view.matched, dict(zip(others, (c.id for c in view.discovered), strict=False))


def _amount(money: Money | None) -> float | None:
    return None if money is None else round(money.major, max(0, money.exponent))


def account_json(facts: AccountFacts | None, problems: Sequence[str], matched: Mapping[int, str],
                 discovered: Mapping[int, str], zone: ZoneInfo) -> dict[str, Any]:
    def iso(instant: datetime | None) -> str | None:
        return instant.astimezone(zone).isoformat(timespec="seconds") if instant else None

    if facts is None:
        return {"schema_version": SCHEMA_VERSION, "read_at": None, "usage_credits": None, "balance": None,
                "credits": [], "claimable": None, "problems": list(problems)}
    spent = facts.month_spend or facts.monthly_limit
    claimable = facts.claimable
    return {
        "schema_version": SCHEMA_VERSION,
        "read_at": iso(facts.read_at),
        "usage_credits": {"enabled": facts.usage_credits_on, "disabled_reason": facts.disabled_reason,
                          "monthly_limit": _amount(facts.monthly_limit), "month_spend": _amount(facts.month_spend),
                          "currency": spent.currency if spent else None},
        "balance": None if facts.balance is None else {"amount": _amount(facts.balance),
                                                        "currency": facts.balance.currency},
        "credits": [{"remaining": _amount(g.remaining), "currency": g.remaining.currency,
                     "expires_at": iso(g.expires_at), "name": g.name, "granted": _amount(g.granted),
                     "granted_at": iso(g.granted_at), "matched": matched.get(i), "discovered": discovered.get(i)}
                    for i, g in enumerate(facts.credits)],
        "claimable": None if claimable is None else {
            "amount": _amount(claimable.amount), "currency": claimable.amount.currency if claimable.amount else None,
            "expires_at": iso(claimable.expires_at), "eligible": claimable.eligible},
        "problems": list(problems),
    }


def account_text(facts: AccountFacts | None, problems: Sequence[str], matched: Mapping[int, str],
                 discovered: Mapping[int, str], zone: ZoneInfo, now: datetime, fresh: bool) -> str:
    from reminderd.timeutil import format_local, format_span

    if facts is None:
        lines = ["Nothing has been read from the Claude account yet."]
    else:
        age = now - facts.read_at
        when = "just now" if fresh and age < timedelta(minutes=1) else f"{format_span(age)} ago"
        lines = [f"Claude account, as read {format_local(facts.read_at, zone)} ({when})"]
        switch = {True: "on", False: "off", None: "not said"}[facts.usage_credits_on]
        reason = f"; the account says why: {facts.disabled_reason}" if facts.disabled_reason else ""
        lines.append(f"  Usage credits     {switch} (formerly Extra Usage{reason})")
        if facts.monthly_limit or facts.month_spend:
            cap = f"monthly cap {facts.monthly_limit}" if facts.monthly_limit else "no monthly cap"
            spend = f", spent this month {facts.month_spend}" if facts.month_spend else ""
            lines.append(f"  Spend limit       {cap}{spend}")
        lines.append(f"  Balance           {facts.balance if facts.balance else 'not said'}")
        for index, granted in enumerate(facts.credits):
            at = granted.expires_at
            expires = f", expires {format_local(at, zone)}" if at else ", no expiry said"
            name = f" ({granted.name})" if granted.name else ""
            which = (f": your credit {matched[index]}" if index in matched else
                     f": in no config, shown as {discovered[index]}" if index in discovered else "")
            lines.append(f"  Credit            {granted.remaining} left{expires}{name}{which}")
        if facts.claimable is not None:
            offer = facts.claimable
            until = f", until {format_local(offer.expires_at, zone)}" if offer.expires_at else ""
            lines.append(f"  Claimable credit  {offer.amount or 'an amount not said'}{until}"
                         f"{' (eligible)' if offer.eligible else ''}")
    if problems:
        lines.append("Problems:")
        lines += [f"  {one_line(problem)}" for problem in problems]
    return "\n".join(lines) + "\n"
