"""What the account said last, kept in `account.json` in the state directory (account.py's own file).

Per part of the account (usage, prepaid, grant): when it was last read and what it said, how
many attempts in a row failed, and until when not to ask (a backoff, a server's Retry-After, or
a day after 403/404: "this account has no such data"). Also the problems of the last attempt, the
`expiresAt` of a login the server refused (not asked again until the login changes), and the
organization read from ~/.claude.json with that file's size and time. Never the token.

It is a cache: a file that cannot be read is an empty one, rewritten at the next attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.account_shapes import PrepaidPart, UsagePart
from reminderd.facts import AccountFacts, ClaimableCredit, GrantedCredit, Money
from reminderd.files import PRIVATE, write_atomically

FILE_NAME = "account.json"
VERSION = 1
USAGE, PREPAID, GRANT = "usage", "prepaid", "grant"
PARTS = (USAGE, PREPAID, GRANT)
STALE = timedelta(days=1)  # a part read this much before the newest is left out of the facts


class PartRecord(NamedTuple):
    read_at: datetime | None = None  # the last good answer
    value: Any = None  # UsagePart, PrepaidPart, or ClaimableCredit | None (grant)
    failures: int = 0  # failed attempts in a row
    retry_at: datetime | None = None  # not asked before (backoff after a failure)
    limited_until: datetime | None = None  # the server asked to wait (429 Retry-After): not even `account` asks
    absent_until: datetime | None = None  # 403/404: the account has no such data; asked again after a day


class Stored(NamedTuple):
    parts: Mapping[str, PartRecord]
    problems: tuple[str, ...] = ()  # of the last attempt
    refused_login: int | None = None  # expiresAt (ms) of a login the server refused with 401
    organization: tuple[int, int, str] | None = None  # (mtime_ns, size, id) of ~/.claude.json when read
    tried_at: datetime | None = None


EMPTY = Stored({})


def merged(stored: Stored) -> AccountFacts | None:
    """The facts of the parts last read, as one value; None if nothing was ever read.

    `read_at` is the oldest read of the usage and prepaid parts included (each fact was true at
    that moment or later); a part read more than STALE before the newest is left out."""
    read = {name: r for name, r in stored.parts.items() if r.read_at is not None}
    if not read:
        return None
    newest = max(r.read_at for r in read.values() if r.read_at is not None)
    kept = {name: r for name, r in read.items() if r.read_at is not None and r.read_at >= newest - STALE}
    times = [r.read_at for name, r in kept.items() if name != GRANT and r.read_at is not None]
    usage = kept[USAGE].value if USAGE in kept else None
    prepaid = kept[PREPAID].value if PREPAID in kept else None
    return AccountFacts(
        read_at=min(times) if times else newest,
        usage_credits_on=usage.on if usage else None,
        disabled_reason=usage.disabled_reason if usage else None,
        monthly_limit=usage.monthly_limit if usage else None,
        month_spend=usage.month_spend if usage else None,
        balance=(prepaid.balance if prepaid else None) or (usage.balance if usage else None),
        credits=prepaid.credits if prepaid else (),
        claimable=kept[GRANT].value if GRANT in kept else None,
        problems=stored.problems,
    )


def load(state_dir: Path) -> Stored:
    try:
        raw = json.loads((state_dir / FILE_NAME).read_bytes())
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            return EMPTY
        parts = {name: _part(name, record) for name, record in raw.get("parts", {}).items() if name in PARTS}
        org = raw.get("organization")
        return Stored(parts=parts, problems=tuple(str(p) for p in raw.get("problems", [])),
                      refused_login=raw.get("refused_login") if isinstance(raw.get("refused_login"), int) else None,
                      organization=(int(org[0]), int(org[1]), str(org[2])) if org else None,
                      tried_at=_instant(raw.get("tried_at")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return EMPTY


def save(state_dir: Path, stored: Stored) -> None:
    """Raises StateError when the file cannot be written."""
    raw = {
        "version": VERSION,
        "tried_at": _iso(stored.tried_at),
        "problems": list(stored.problems),
        "refused_login": stored.refused_login,
        "organization": list(stored.organization) if stored.organization else None,
        "parts": {name: {"read_at": _iso(r.read_at), "value": _encode(name, r.value), "failures": r.failures,
                         "retry_at": _iso(r.retry_at), "limited_until": _iso(r.limited_until),
                         "absent_until": _iso(r.absent_until)}
                  for name, r in stored.parts.items()},
    }
    write_atomically(state_dir / FILE_NAME, json.dumps(raw, indent=1, sort_keys=True).encode(), mode=PRIVATE)


def _part(name: str, raw: dict[str, Any]) -> PartRecord:
    read_at = _instant(raw.get("read_at"))
    return PartRecord(read_at=read_at, value=_decode(name, raw.get("value")) if read_at else None,
                      failures=int(raw.get("failures", 0)), retry_at=_instant(raw.get("retry_at")),
                      limited_until=_instant(raw.get("limited_until")), absent_until=_instant(raw.get("absent_until")))


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == USAGE:
        return {"on": value.on, "disabled_reason": value.disabled_reason, "monthly_limit": _money(value.monthly_limit),
                "month_spend": _money(value.month_spend), "balance": _money(value.balance)}
    if name == PREPAID:
        return {"balance": _money(value.balance), "credits": [
            {"remaining": _money(c.remaining), "expires_at": _iso(c.expires_at), "granted": _money(c.granted),
             "granted_at": _iso(c.granted_at), "name": c.name} for c in value.credits]}
    return {"amount": _money(value.amount), "expires_at": _iso(value.expires_at), "eligible": value.eligible}


def _decode(name: str, raw: Any) -> Any:
    if raw is None:
        return None
    if name == USAGE:
        return UsagePart(raw["on"], raw["disabled_reason"], _to_money(raw["monthly_limit"]),
                         _to_money(raw["month_spend"]), _to_money(raw["balance"]))
    if name == PREPAID:
        credits = tuple(GrantedCredit(_need(_to_money(c["remaining"])), _instant(c["expires_at"]),
                                      _to_money(c["granted"]), _instant(c["granted_at"]), c["name"])
                        for c in raw["credits"])
        return PrepaidPart(_to_money(raw["balance"]), credits)
    return ClaimableCredit(_to_money(raw["amount"]), _instant(raw["expires_at"]), raw["eligible"])


def _money(money: Money | None) -> list[Any] | None:
    return None if money is None else [money.minor, money.currency, money.exponent]


def _to_money(raw: Any) -> Money | None:
    return None if raw is None else Money(int(raw[0]), str(raw[1]), int(raw[2]))


def _need(money: Money | None) -> Money:
    if money is None:
        raise ValueError("a credit without its amount")
    return money


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def _instant(raw: Any) -> datetime | None:
    if raw is None:
        return None
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        raise ValueError("a time without its offset")
    return parsed
