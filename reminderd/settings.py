"""What a config says, as frozen, typed values (config.py parses the file into them).

Values only: the pure rules (forecast, quiet hours, eligibility) read these types without
depending on the parser.
"""

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.offers import BUILTIN_OFFERS, EMPTY_MAPPING, Offer


class TokenCounts(NamedTuple):
    """Tokens a day of one model, in a usage profile."""

    input: float
    output: float


class QuietHours(NamedTuple):
    start: time
    end: time


class ReminderSettings(NamedTuple):
    claim_deadline: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1), timedelta(hours=2))
    expiry: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1), timedelta(hours=2))
    low_balance_usd: float = 10.0
    unused_credit: tuple[timedelta, ...] = (timedelta(days=14), timedelta(days=3))
    unused_min_usd: float = 1.0
    usage_check_every_days: int = 7
    usage_check_time: time = time(10, 0)


class UsageProfile(NamedTuple):
    """What the user spends beyond the plan's included usage, i.e. what the credit pays for."""

    daily_spend_usd: float | None = None
    per_day: Mapping[str, float] = EMPTY_MAPPING
    tokens_per_day: Mapping[str, TokenCounts] = EMPTY_MAPPING  # model id -> tokens a day
    uncertainty: float = 0.2
    claude_code_logs: bool = False  # read Claude Code's transcripts on this machine (usage_logs.py)
    claude_code_dirs: tuple[Path, ...] = ()  # instead of the default roots

    @property
    def is_empty(self) -> bool:
        return self.daily_spend_usd is None and not self.per_day and not self.tokens_per_day


class Credit(NamedTuple):
    id: str
    offer: Offer
    plan: str | None
    subscribed_at: datetime | None
    claimed_at: datetime | None
    auto_reload: bool | None
    usage: UsageProfile
    claimed_on_date: bool = False  # claimed_at was a date without a time: the claim was that day
    account: str | None = None  # which account it belongs to, when several are tracked


class PushTarget(NamedTuple):
    """One push channel: an Apprise URL (it carries secrets), under a name of the user's."""

    url: str
    name: str | None = None  # the channel's identity: a new URL or token under it re-sends nothing


class Notifications(NamedTuple):
    backend: str = "auto"
    command: tuple[str, ...] = ()
    push: tuple[PushTarget, ...] = ()  # push.py
    push_command: tuple[str, ...] = ()  # prints more push URLs, one a line ("NAME URL" names it)


class CalendarSettings(NamedTuple):
    """[calendar]: a CalDAV calendar kept in step with the timeline (caldav_sync.py)."""

    url: str
    username: str | None = None
    password_command: tuple[str, ...] = ()  # prints the password; else the system keyring, else none


class AccountSettings(NamedTuple):
    """[account]: read the balance, the credits' expiry and the switch from the provider (account.py)."""

    claude: bool = False
    credentials_file: Path | None = None  # None: Claude Code's own (ACCOUNT_API.md)
    api_base: str = "https://api.anthropic.com"
    organization: str | None = None  # None: from ~/.claude.json
    label: str | None = None  # the `account` label of the credits this login covers; None: those without one
    poll_minutes: int = 15


class Config(NamedTuple):
    source: str
    timezone: ZoneInfo
    credits: tuple[Credit, ...]
    reminders: ReminderSettings = ReminderSettings()
    quiet_hours: QuietHours | None = None
    notifications: Notifications = Notifications()
    ics_path: Path | None = None
    warnings: tuple[str, ...] = ()
    offers: Mapping[str, Offer] = BUILTIN_OFFERS  # built in, and described in [offers.NAME]
    calendar: CalendarSettings | None = None
    account: AccountSettings | None = None  # None: the account is not read

    def credit(self, credit_id: str) -> Credit | None:
        return next((c for c in self.credits if c.id == credit_id), None)
