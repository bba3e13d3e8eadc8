"""What the timeline is made of: reminders, each credit's key dates and forecast, the whole
plan. Values only (timeline.plan() makes them; status, the calendar and the daemon read them)."""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.forecast import Forecast
from reminderd.offers import Offer
from reminderd.rules import Eligibility
from reminderd.settings import Credit, QuietHours
from reminderd.timeutil import format_span

# Phases of a credit, as `status` and --json name them.
NOT_OPEN_YET = "claim-not-open-yet"
CLAIMABLE = "claimable"
MISSED = "claim-missed"
NOT_ELIGIBLE_PHASE = "not-eligible"
ACTIVE = "active"
EXPIRED = "expired"



class Reminder(NamedTuple):
    id: str
    credit_id: str
    kind: str
    due: datetime
    until: datetime | None  # None: worth sending until the user acknowledges
    event_at: datetime | None  # the moment it warns about, if any
    title: str
    body: str
    stops_on: frozenset[str]
    lead_title: str = ""  # a lead reminder's title with "{left}" for the time left before its event

    @property
    def series(self) -> str:
        return f"{self.credit_id}/{self.kind}"

    def is_live(self, now: datetime) -> bool:
        """Due, and still worth sending."""
        return self.due <= now and (self.until is None or now < self.until)

    def title_at(self, now: datetime) -> str:
        """The title as shown at `now`: a lead reminder sent late (after a suspend, a catch-up)
        says the time really left, to the nearest minute."""
        if not self.lead_title or self.event_at is None or now <= self.due:
            return self.title
        left = self.event_at - now
        return self.lead_title.replace(LEFT, format_span(timedelta(minutes=round(left / timedelta(minutes=1))),
                                                         units=2))


LEFT = "{left}"
COMPUTED = "computed"  # an expiry reminderd worked out from the claim
ACCOUNT = "account"  # an expiry, a reading or a credit the account gave


class CreditTimeline(NamedTuple):
    credit: Credit
    eligibility: Eligibility
    phase: str
    claimed_at: datetime | None  # None also when the recorded claim is after `now`
    claim_in_window: bool | None
    expires_at: datetime | None
    forecast: Forecast | None
    acknowledged: Mapping[str, datetime]
    warnings: tuple[str, ...]
    expiry_source: str = COMPUTED  # COMPUTED, or ACCOUNT: the date the account gave
    usage_credits_on: bool | None = None  # what the account said of the switch; None: not read, or not this login's
    discovered: bool = False  # found in the account, in no config
    gone_at: datetime | None = None  # when the credit was known to be gone (expired, or the account read 0)
    switch_read_at: datetime | None = None  # when the account said what usage_credits_on says

    @property
    def claim_opens(self) -> datetime:
        return self.credit.offer.claim_opens

    @property
    def claim_deadline(self) -> datetime:
        return self.credit.offer.claim_closes


class Timeline(NamedTuple):
    now: datetime
    zone: ZoneInfo
    credits: tuple[CreditTimeline, ...]
    reminders: tuple[Reminder, ...]  # ordered by due, then id
    quiet_hours: QuietHours | None = None
    plan_limit: tuple[datetime, datetime] | None = None  # the plan's quota at 100 %: from, until (quota.py)

    def upcoming(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.due > self.now)

    def live(self) -> tuple[Reminder, ...]:
        return tuple(r for r in self.reminders if r.is_live(self.now))


def credit_label(credit: Credit) -> str:
    """How a credit is named where several are shown together: its id, and its account if set."""
    return f"{credit.id} ({credit.account})" if credit.account else credit.id


def done_command(action: str, credit_id: str, discovered: bool, several: bool) -> str:
    """What the user runs once the switch is off: `done` names its credit when the config has
    `several` (several_configured). A credit found in the account has no config table to record
    `done` in: reading the account again (`reminderd account`) sees the switch off."""
    if discovered:
        return "reminderd account"
    return f"reminderd done {action}" + (f" --credit {credit_id}" if several else "")


def several_configured(credits: Iterable[CreditTimeline]) -> bool:
    """Whether the config has several credits (those found in the account are in none)."""
    return sum(not ct.discovered for ct in credits) > 1


def top_up_advice(offer: Offer) -> str:
    """What to do about money added to the balance, in the offer's words."""
    if offer.top_up_switch:
        return (f"perhaps by {offer.top_up_switch} charging your card; turn {offer.top_up_switch} off in "
                f"{offer.where} unless you meant to")
    return f"perhaps charged to your card; check in {offer.where}"
