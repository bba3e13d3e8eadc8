"""What the account's facts change in the timeline (issue 20): which configured credit each credit
the account holds is, the readings it gives, the credits nobody configured, and whether usage
credits are on. Pure.

- A login covers the credits whose `account` label is unset, or equals `[account] label`.
- A granted credit is a configured, claimed credit when its expiry is within MATCH_WITHIN of the
  one reminderd computed (the closest first, each used once); its expiry then replaces the
  computed one, and what is left of it is a reading (source "account"), in USD only: the
  forecast counts in USD, and a balance in another currency is shown, never converted.
- The account's whole balance (which may hold money the user added) is a reading only when the
  account lists no credit of its own and the login covers exactly one credit that is running.
- A granted credit that matches none is a discovered credit: shown, with its own expiry
  reminders, with no config needed.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

from reminderd.facts import AccountFacts, GrantedCredit
from reminderd.forecast import ACCOUNT, Observation
from reminderd.offers import CLAUDE_EXTRA_USAGE_2026_02, Offer
from reminderd.record import State
from reminderd.rules import expiry
from reminderd.settings import Config, Credit, UsageProfile

MATCH_WITHIN = timedelta(days=3)
DISCOVERED = "account"  # the offer key prefix and the `source` of a credit found in the account


class AccountView(NamedTuple):
    """The account's facts, laid over the config."""

    expires: Mapping[str, datetime]  # configured credit id -> expiry the account gave
    readings: Mapping[str, Observation]  # credit id -> what the account says is left of it
    discovered: tuple[Credit, ...]  # credits the account holds that no config describes
    covered: frozenset[str]  # ids of the credits this login covers (discovered ones included)
    switch_on: bool | None  # usage credits on or off, as read; None: unknown
    read_at: datetime | None
    matched: Mapping[int, str]  # index in facts.credits -> the credit id it is


NO_VIEW = AccountView(MappingProxyType({}), MappingProxyType({}), (), frozenset(), None, None, MappingProxyType({}))


def covers(credit: Credit, label: str | None) -> bool:
    return credit.account == label or (credit.account is None and label is None)


def account_view(config: Config, facts: AccountFacts | None, label: str | None, now: datetime) -> AccountView:
    if facts is None or facts.read_at > now:
        return NO_VIEW
    covered = [c for c in config.credits if covers(c, label)]
    computed = {c.id: expiry(c.offer, c.claimed_at) for c in covered
                if c.claimed_at is not None and c.claimed_at <= now}
    pairs = sorted(((abs(g.expires_at - at), i, cid) for i, g in enumerate(facts.credits) if g.expires_at is not None
                    for cid, at in computed.items() if abs(g.expires_at - at) <= MATCH_WITHIN), key=lambda p: p[:2])
    matched: dict[int, str] = {}
    for _, index, credit_id in pairs:
        if index not in matched and credit_id not in matched.values():
            matched[index] = credit_id
    expires = {cid: at for index, cid in matched.items() if (at := facts.credits[index].expires_at) is not None}
    readings = {cid: Observation(facts.read_at, facts.credits[i].remaining.major, ACCOUNT)
                for i, cid in matched.items() if facts.credits[i].remaining.currency == "USD"}
    running = [cid for cid, at in computed.items() if now < expires.get(cid, at)]
    if not facts.credits and facts.balance is not None and facts.balance.currency == "USD" and len(running) == 1:
        readings[running[0]] = Observation(facts.read_at, facts.balance.major, ACCOUNT)
    found = [(i, _discovered(g, i, facts.read_at, config.timezone, label))
             for i, g in enumerate(facts.credits) if i not in matched and g.expires_at is not None]
    discovered = tuple(credit for _, credit in found)
    for i, credit in found:  # in its own currency: the forecast of a discovered credit counts in it
        readings[credit.id] = Observation(facts.read_at, facts.credits[i].remaining.major, ACCOUNT)
    return AccountView(MappingProxyType(expires), MappingProxyType(readings), discovered,
                       frozenset([c.id for c in covered] + [c.id for c in discovered]), facts.usage_credits_on,
                       facts.read_at, MappingProxyType(matched))


RECORD_AGAIN_AFTER = timedelta(days=1)  # an unchanged figure is recorded once a day: a pace needs no more


def with_account_facts(state: State, config: Config, facts: AccountFacts | None, now: datetime) -> State:
    """`state` with what the account said, kept so that a restart does not forget it:
    - what is left of each configured credit it covers, as a reading (source "account"), when that
      is news: a new figure, or a day since the last;
    - the switch, for every credit the login covers: off acknowledges the reminders to turn it off
      (as of the reading), on takes back an acknowledgement older than the reading."""
    label = config.account.label if config.account is not None else None
    view = account_view(config, facts, label, now)
    for credit_id, reading in view.readings.items():
        if config.credit(credit_id) is None:
            continue  # a discovered credit: shown from the account itself
        last = next((o for o in reversed(state.observations.get(credit_id, ())) if o.source == ACCOUNT), None)
        if last is None or abs(last.remaining_usd - reading.remaining_usd) >= 0.005 or \
                reading.at - last.at >= RECORD_AGAIN_AFTER:
            state = state.with_observation(credit_id, reading)
    if view.switch_on is None or view.read_at is None:
        return state
    for credit in (*[c for c in config.credits if c.id in view.covered], *view.discovered):
        action = credit.offer.actions[0]
        said = state.acknowledged.get(credit.id, {}).get(action)
        if view.switch_on is False and (said is None or said > view.read_at):
            state = state.with_acknowledged(credit.id, action, view.read_at)
        elif view.switch_on is True and said is not None and said < view.read_at:
            state = state.without_acknowledged(credit.id, action)
    return state


def offer_of(config: Config, credit_id: str) -> Offer | None:
    """The offer of a configured credit, or of one found in the account (the built-in Claude
    offer's switches: what its reminders ask to turn off)."""
    credit = config.credit(credit_id)
    if credit is not None:
        return credit.offer
    return CLAUDE_EXTRA_USAGE_2026_02 if credit_id.startswith(f"{DISCOVERED}-") else None


def _discovered(granted: GrantedCredit, index: int, read_at: datetime, zone: ZoneInfo, label: str | None) -> Credit:
    """A credit the account holds that no config describes, with the built-in Claude offer's
    words and switches, its own amount, currency and expiry."""
    assert granted.expires_at is not None
    # when it was granted; unsaid, as if a day before it was read or expired (never zero-long)
    since = granted.granted_at or min(read_at, granted.expires_at) - timedelta(days=1)
    base = CLAUDE_EXTRA_USAGE_2026_02
    amount = granted.granted or granted.remaining
    days = max(1, round((granted.expires_at - since) / timedelta(days=1)))
    offer: Offer = base._replace(
        key=f"{DISCOVERED}-{index + 1}", name=granted.name or f"a credit found in your account ({amount})",
        amount_usd=amount.major, currency=amount.currency, eligible_plans=(), subscribed_by=since,
        claim_opens=since, claim_closes=since, validity_days=days, zone=zone, source="your account",
        fixed_expiry=granted.expires_at)
    credit_id = f"{DISCOVERED}-{granted.expires_at.astimezone(zone):%Y-%m-%d}" + (f"-{index + 1}" if index else "")
    # subscribed_at: when it was granted, if the account said (status shows it; `since` may be a guess)
    return Credit(id=credit_id, offer=offer, plan=None, subscribed_at=granted.granted_at, claimed_at=since,
                  auto_reload=None, usage=UsageProfile(), account=label)
