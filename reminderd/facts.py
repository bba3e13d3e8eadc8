"""What the sources learned, as values plan() reads: the usage ledgers of Claude Code's logs, what
the status line saw of the plan's quota, and what the account said. Sources (ledger.py, the
Claude Code status line, account.py) produce them; plan() never reads a file or the network."""

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

from reminderd.quota import QuotaSample
from reminderd.spend import LoggedUsage


class Money(NamedTuple):
    """An amount in minor units of its currency: 6034 USD with exponent 2 is USD 60.34."""

    minor: int
    currency: str  # ISO 4217: "USD", "EUR"
    exponent: int = 2

    @property
    def major(self) -> float:
        return float(self.minor) / float(10 ** self.exponent)

    def __str__(self) -> str:
        return f"{self.currency} {self.major:,.{max(0, self.exponent)}f}"


class GrantedCredit(NamedTuple):
    """A credit the account holds (a promotional tranche): what is left of it and when it expires."""

    remaining: Money
    expires_at: datetime | None
    granted: Money | None = None
    granted_at: datetime | None = None
    name: str | None = None


class ClaimableCredit(NamedTuple):
    """A credit the account offers to claim."""

    amount: Money | None
    expires_at: datetime | None
    eligible: bool | None


class AccountFacts(NamedTuple):
    """What the provider's account said at `read_at` (ACCOUNT_API.md); None: it did not say."""

    read_at: datetime
    usage_credits_on: bool | None  # the switch the reminders are about ("Extra Usage")
    disabled_reason: str | None = None
    monthly_limit: Money | None = None  # the monthly spend cap: not a balance
    month_spend: Money | None = None
    balance: Money | None = None  # the account's whole balance (may hold money the user added)
    credits: tuple[GrantedCredit, ...] = ()
    claimable: ClaimableCredit | None = None
    problems: tuple[str, ...] = ()  # what could not be read this time, one line each


class Facts(NamedTuple):
    usage: Mapping[str, LoggedUsage] = MappingProxyType({})  # credit id -> its ledger, for those that read the logs
    quota: tuple[QuotaSample, ...] = ()  # oldest first
    account: AccountFacts | None = None  # the latest good reading of the account ([account] claude = true)
