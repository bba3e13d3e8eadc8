"""What each reminder says, in the offer's own words (offers.Offer's wording fields). Every text
says what to switch off and where. With several credits, each title names its credit (and
account), so two "expires in 1 day" are never alike."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from reminderd.forecast import BalanceDrop
from reminderd.reminder import LEFT, CreditTimeline, credit_label, done_command
from reminderd.rules import ELIGIBLE
from reminderd.timeutil import format_local

# How texts name each source of a forecast (forecast.Forecast.sources).
SOURCE_NAMES = {"profile": "your usage profile", "observations": "your balance readings",
                "claude-code-logs": "Claude Code's logs", "account": "your account"}


def sources_text(sources: tuple[str, ...]) -> str:
    """('profile', 'observations') -> 'your usage profile and your balance readings'."""
    *rest, last = [SOURCE_NAMES.get(source, source) for source in sources]
    return f"{', '.join(rest)} and {last}" if rest else last


class Texts:
    """The titles and bodies of one credit's reminders."""

    def __init__(self, ct: CreditTimeline, zone: ZoneInfo, labelled: bool, several: bool) -> None:
        """`labelled`: titles name their credit (several shown together); `several`: the config has
        several credits, so `done` names its own."""
        self.ct, self.zone = ct, zone
        self.offer = offer = ct.credit.offer
        self.amount = f"{offer.currency} {offer.amount_usd:g}"
        self.where = offer.where
        self.label = f"{credit_label(ct.credit)}: " if labelled else ""
        self.done = done_command(offer.actions[0], ct.credit.id, ct.discovered, several)

    def at(self, instant: datetime | None) -> str:
        return format_local(instant, self.zone) if instant else "after the credit expires"

    def claim_title(self) -> str:
        return f"{self.label}Claim your {self.amount} {self.offer.credit_name}: {LEFT} left"

    def claim_body(self) -> str:
        who = "You are eligible" if self.ct.eligibility.status == ELIGIBLE else "You may be eligible"
        top_up = self.offer.top_up_switch
        after = f" Right after claiming, check that {top_up} is off." if top_up else ""
        return (f"{who} for the {self.offer.name}. Claim it by {self.at(self.ct.claim_deadline)} in "
                f"{self.where}: {self.offer.claim_how}. No late claims.{after}")

    def auto_reload_title(self) -> str:
        return f"{self.label}Credit claimed: check that {self.offer.top_up_switch} is off"

    def auto_reload_body(self) -> str:
        top_up = self.offer.top_up_switch
        return (f"{top_up} tops the balance up from your card once the {self.amount} credit is "
                f"spent. Turn {top_up} off in {self.where}. The credit expires "
                f"{self.at(self.ct.expires_at)}.")

    def check_title(self) -> str:
        where = f" {self.offer.balance_where}" if self.offer.balance_where else ""
        return f"{self.label}Check your {self.offer.credit_name} balance{where}"

    def check_body(self, due: datetime) -> str:
        fc, offer = self.ct.forecast, self.offer
        expected = f" Expected balance about USD {fc.balance_at(due):.2f}." if fc else ""
        return (f"Look at your {offer.credit_name} balance in {self.where}.{expected} Record it with "
                "`reminderd balance AMOUNT` to sharpen the forecast. Once the credit is spent or "
                f"expires ({self.at(self.ct.expires_at)}), {offer.setting} bills your card at {offer.billed_at}: "
                f"turn {offer.all_switches} off there when the credit is gone.")

    def low_balance_title(self, threshold: float) -> str:
        return f"{self.label}{self.offer.credit_name} may be down to USD {threshold:g}"

    def low_balance_body(self) -> str:
        fc, offer = self.ct.forecast, self.offer
        assert fc is not None
        return (f"At your pace the {self.amount} credit may be spent as early as "
                f"{self.at(fc.earliest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}). "
                f"After that {offer.setting} bills your card at {offer.billed_at}: turn {offer.all_switches} "
                f"off in {self.where} before then.")

    def exhaustion_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} may be spent: turn {self.offer.switch_short} off now"

    def exhaustion_body(self) -> str:
        fc, offer = self.ct.forecast, self.offer
        assert fc is not None
        return (f"Forecast: the {self.amount} credit runs out between {self.at(fc.earliest_exhaustion)} "
                f"and {self.at(fc.latest_exhaustion)} (expected {self.at(fc.expected_exhaustion)}), "
                f"at USD {fc.rate.low:.2f}-{fc.rate.high:.2f} a day. From then on {offer.setting} bills "
                f"your card at {offer.billed_at}. Turn {offer.all_switches} off in {self.where}.")

    def logged_spend_title(self) -> str:
        bound = self.ct.forecast.bound if self.ct.forecast else None
        assert bound is not None
        return (f"{self.label}{self.offer.credit_name} may be spent: your Claude Code use since "
                f"{self.day(bound.since)} came to USD {bound.logged_usd:.2f}")

    def logged_spend_body(self) -> str:
        fc, offer = self.ct.forecast, self.offer
        assert fc is not None and fc.bound is not None
        bound = fc.bound
        known = (f"the whole {self.amount} credit" if bound.since == self.ct.claimed_at else
                 f"all of the USD {bound.balance_usd:.2f} left at your reading of {self.at(bound.since)}")
        return (f"Your Claude Code use on this machine since {self.at(bound.since)}, USD {bound.logged_usd:.2f} at "
                f"API prices, could have used {known} (the logs cannot tell what your plan's own usage paid). "
                f"Once it is gone, {offer.setting} bills your card at {offer.billed_at}. Check the balance in "
                f"{self.where} and record it with `reminderd balance AMOUNT`, or turn {offer.all_switches} off there.")

    def balance_drop_title(self, unexplained_usd: float) -> str:
        return (f"{self.label}Your {self.offer.credit_name} balance fell by USD {unexplained_usd:.2f} more than "
                "your use explains")

    def balance_drop_body(self, drop: BalanceDrop) -> str:
        return (f"Between {self.at(drop.since)} and {self.at(drop.at)} the balance fell from USD {drop.from_usd:.2f} "
                f"to USD {drop.to_usd:.2f}; your logged use and your usual pace explain at most USD "
                f"{drop.explained_usd:.2f}. Credit can vanish at a plan change or a renewal: check {self.where}.")

    def card_paying_title(self) -> str:
        return f"{self.label}Credit gone, {self.offer.switch_short} still on: your card is paying now"

    def card_paying_body(self) -> str:
        ct, offer = self.ct, self.offer
        assert ct.gone_at is not None and ct.switch_read_at is not None
        how = (f"expired {self.at(ct.expires_at)}" if ct.expires_at is not None and ct.gone_at >= ct.expires_at
               else f"was used up by {self.at(ct.gone_at)} (your account's balance)")
        top_up = f", and {offer.top_up_switch} may top the balance up from your card" if offer.top_up_switch else ""
        return (f"Your {self.amount} credit {how}, and your account said at {self.at(ct.switch_read_at)} that "
                f"{offer.setting} is still on: every request now bills your card at {offer.billed_at}{top_up}. "
                f"Turn {offer.all_switches} off in {self.where}, then run `{self.done}`.")

    def day(self, instant: datetime) -> str:
        """'Feb 6': a short date in the configured zone."""
        local = instant.astimezone(self.zone)
        return f"{local:%b} {local.day}"

    def unused_title(self, expected_usd: float) -> str:
        return f"{self.label}About USD {math.floor(expected_usd + 0.5)} of your credit will go unused"

    def unused_body(self, low: float, high: float) -> str:
        return (f"At your pace USD {low:.0f}-{high:.0f} of the {self.amount} credit will be left when "
                f"it expires {self.at(self.ct.expires_at)}; unused credit is not refunded. Use it "
                f"before then. When you are done, turn {self.offer.switch} off in {self.where}.")

    def expiry_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} expires in {LEFT}: turn {self.offer.switch_short} off"

    def expiry_body(self) -> str:
        offer = self.offer
        return (f"Your {self.amount} credit expires {self.at(self.ct.expires_at)}. The {offer.switch} setting stays "
                f"on after that and bills your card at {offer.billed_at}. Turn {offer.all_switches} off "
                f"in {self.where} before then.")

    def expired_title(self) -> str:
        return f"{self.label}{self.offer.credit_name} expired: turn {self.offer.switch_short} off"

    def expired_body(self) -> str:
        offer = self.offer
        top_up = f" (and {offer.top_up_switch} tops it up)" if offer.top_up_switch else ""
        them = {1: "it", 2: "both"}.get(len(offer.switches), "them all")
        return (f"Your {self.amount} credit expired {self.at(self.ct.expires_at)}. If {offer.setting} is "
                f"still on, it bills your card at {offer.billed_at}{top_up}. Turn {them} off in {self.where}, "
                f"then run `{self.done}`.")
