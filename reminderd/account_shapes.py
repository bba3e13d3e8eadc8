"""The account's answers (ACCOUNT_API.md), read into plain values. Pure.

The endpoints are undocumented, so every field is optional and every answer may have changed:
what cannot be read is one line in `problems` naming the endpoint and the field, never an
exception. Money comes in two shapes, minor units beside a currency (`amount` + `currency`,
`monthly_limit` + `currency`) or an object `{amount_minor, currency, exponent}`; an explicit
`exponent` or `decimal_places` wins over the currency's usual one. A currency is kept as said
(EUR stays EUR); one left unsaid is USD, the only currency of the answers that had none.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from reminderd.errors import one_line
from reminderd.facts import ClaimableCredit, GrantedCredit, Money

USAGE, PREPAID, GRANT = "usage", "prepaid/credits", "overage_credit_grant"  # how problems name the endpoints
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# ISO 4217 currencies whose minor unit is not a hundredth (the rest have exponent 2)
_EXPONENTS = {**dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                               "VND", "VUV", "XAF", "XOF", "XPF"], 0),
              **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3)}
_INSTANT = "a date-time such as 2026-09-19T00:00:00Z"
MAX_MINOR = 10**15  # larger is not an amount of money


class UsagePart(NamedTuple):
    """What /api/oauth/usage said of usage credits (formerly Extra Usage)."""

    on: bool | None
    disabled_reason: str | None
    monthly_limit: Money | None
    month_spend: Money | None
    balance: Money | None  # the `spend` object's balance, where it has one


class PrepaidPart(NamedTuple):
    balance: Money | None
    credits: tuple[GrantedCredit, ...]


class _Reader:
    """Reads one answer, collecting a line for each field it cannot read."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.problems: list[str] = []

    def problem(self, where: str, expected: str, got: Any) -> None:
        self.problems.append(f"{self.endpoint}: {where}: expected {expected}, got {_show(got)}")

    def table(self, parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(where, "an object", value)
            return None
        return value

    def flag(self, value: Any, where: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.problem(where, "true or false", value)
        return None

    def text(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(where, "a string", value)
            return None
        return one_line(value.strip())[:200] or None

    def minor(self, value: Any, where: str, *, negative: bool = False) -> int | None:
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_MINOR \
                or (value < 0 and not negative):
            self.problem(where, "a whole amount in minor units (cents)", value)
            return None
        return value

    def currency(self, value: Any, where: str) -> str | None:
        if value is None:
            return "USD"
        if isinstance(value, str) and _CURRENCY.match(value.strip().upper()):
            return value.strip().upper()
        self.problem(where, "a currency code such as USD or EUR", value)
        return None

    def exponent(self, table: dict[str, Any], where: str, currency: str) -> int | None:
        for key in ("exponent", "decimal_places"):
            value = table.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
                self.problem(f"{where}{key}", "a number of decimal places from 0 to 6", value)
                return None
            return value
        return _EXPONENTS.get(currency, 2)

    def money(self, table: dict[str, Any], amount_key: str, where: str, *, negative: bool = False) -> Money | None:
        """`table[amount_key]` in minor units, with the table's currency and exponent."""
        amount = self.minor(table.get(amount_key), where + amount_key, negative=negative)
        if amount is None:
            return None
        currency = self.currency(table.get("currency"), where + "currency")
        exponent = self.exponent(table, where, currency) if currency else None
        if currency is None or exponent is None:
            return None
        return Money(amount, currency, exponent)

    def money_object(self, value: Any, where: str, *, negative: bool = False) -> Money | None:
        """`{amount_minor, currency, exponent}`, or null."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(where, "an amount {amount_minor, currency, exponent}", value)
            return None
        return self.money(value, "amount_minor", f"{where}.", negative=negative)

    def instant(self, value: Any, where: str) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            if parsed is not None:
                return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 with an offset
            pass
        self.problem(where, _INSTANT, value)
        return None


def read_usage(document: Any) -> tuple[UsagePart, list[str]]:
    """The usage credits part of /api/oauth/usage: the switch, the monthly cap and this month's spend."""
    reader = _Reader(USAGE)
    if not isinstance(document, dict):
        reader.problem("the answer", "a JSON object", document)
        return UsagePart(None, None, None, None, None), reader.problems
    extra = reader.table(document, "extra_usage", "extra_usage") or {}
    spend = reader.table(document, "spend", "spend") or {}
    if not extra and not spend:
        reader.problems.append(f"{USAGE}: the answer says nothing of usage credits (no extra_usage, no spend)")
    on = reader.flag(extra.get("is_enabled"), "extra_usage.is_enabled")
    reason = reader.text(extra.get("disabled_reason"), "extra_usage.disabled_reason")
    if reason is not None and on is None:
        on = False
    limit = reader.money_object(spend.get("limit"), "spend.limit") or reader.money_object(spend.get("cap"), "spend.cap")
    used = reader.money_object(spend.get("used"), "spend.used")
    balance = reader.money_object(spend.get("balance"), "spend.balance", negative=True)
    if limit is None:
        limit = reader.money(extra, "monthly_limit", "extra_usage.")
    if used is None:
        used = reader.money(extra, "used_credits", "extra_usage.")
    return UsagePart(on, reason, limit, used, balance), reader.problems


def read_prepaid(document: Any) -> tuple[PrepaidPart, list[str]]:
    """prepaid/credits: the balance, and each granted (promotional) credit with its expiry."""
    reader = _Reader(PREPAID)
    if not isinstance(document, dict):
        reader.problem("the answer", "a JSON object", document)
        return PrepaidPart(None, ()), reader.problems
    balance = None
    nested = reader.table(document, "balance", "balance")
    if nested is not None:  # {"balance": {"money": {...}}}, or the amount itself
        inner = "money" in nested
        balance = reader.money_object(nested["money"] if inner else nested, "balance.money" if inner else "balance",
                                      negative=True)
    if balance is None and "amount" in document:
        balance = reader.money(document, "amount", "", negative=True)
    tranches = document.get("promo_tranches")
    credits: list[GrantedCredit] = []
    if tranches is not None and not isinstance(tranches, list):
        reader.problem("promo_tranches", "a list", tranches)
    for index, tranche in enumerate(tranches if isinstance(tranches, list) else []):
        where = f"promo_tranches[{index}]"
        if not isinstance(tranche, dict):
            reader.problem(where, "an object", tranche)
            continue
        remaining = reader.money(tranche, "remaining_amount_minor_units", f"{where}.")
        if remaining is None:
            if "remaining_amount_minor_units" not in tranche:
                reader.problems.append(f"{PREPAID}: {where}.remaining_amount_minor_units: expected an amount, "
                                       "got nothing")
            continue
        granted = reader.money(tranche, "granted_amount_minor_units", f"{where}.") \
            if tranche.get("granted_amount_minor_units") is not None else None
        credits.append(GrantedCredit(
            remaining=remaining, expires_at=reader.instant(tranche.get("expires_at"), f"{where}.expires_at"),
            granted=granted, granted_at=reader.instant(tranche.get("granted_at"), f"{where}.granted_at"),
            name=reader.text(tranche.get("name"), f"{where}.name")))
    if balance is None and tranches is None:
        reader.problems.append(f"{PREPAID}: the answer has neither a balance nor promo_tranches")
    return PrepaidPart(balance, tuple(credits)), reader.problems


def read_grant(document: Any) -> tuple[ClaimableCredit | None, list[str]]:
    """overage_credit_grant: a credit offered to claim (available and not granted yet), or None."""
    reader = _Reader(GRANT)
    if not isinstance(document, dict):
        reader.problem("the answer", "a JSON object", document)
        return None, reader.problems
    available = reader.flag(document.get("available"), "available")
    granted = reader.flag(document.get("granted"), "granted")
    eligible = reader.flag(document.get("eligible"), "eligible")
    amount = reader.money(document, "amount_minor_units", "")
    expires = reader.instant(document.get("expires_at"), "expires_at")
    if available is not True or granted is True:
        return None, reader.problems
    return ClaimableCredit(amount, expires, eligible), reader.problems


def _show(value: Any) -> str:
    """A server's value as a problem line may quote it: one line, short."""
    import json

    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    text = one_line(text)
    return text if len(text) <= 60 else text[:57] + "..."
