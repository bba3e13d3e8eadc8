"""The built-in offer(s) and their price tables, as data.

Every fact and figure of an offer lives here and nowhere else in the code (model prices: in
prices.py); the config can override prices and activity costs, or describe a whole other offer
in the same shape. Each offer names where its facts come from (`source`) and the pages they were
checked against (`source_urls`), which `reminderd offers` shows so a user can check before
trusting a date.
"""

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from reminderd.prices import CLAUDE_PRICES, PriceTable

PACIFIC = ZoneInfo("America/Los_Angeles")
EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


class ActivityCost(NamedTuple):
    """USD for one unit of work, as a low-high range."""

    low: float
    high: float


class Offer(NamedTuple):
    """A time-limited usage credit, and the words its reminders use.

    All instants are aware. `subscribed_by` and `claim_closes` are inclusive: an announcement
    that says "until 23:59" is stored as 23:59:59 of that minute.
    """

    key: str
    name: str
    amount_usd: float
    eligible_plans: tuple[str, ...]
    subscribed_by: datetime
    claim_opens: datetime
    claim_closes: datetime
    validity_days: int
    zone: ZoneInfo
    switch_location: str  # where the switches are: "the Claude web app, Settings > Usage"
    prices: PriceTable = CLAUDE_PRICES  # the models' list prices, this offer's own rows applied
    prices_source: str = ""
    activities: Mapping[str, ActivityCost] = EMPTY_MAPPING
    # -- wording -----------------------------------------------------------------------------
    product: str = ""  # "Claude"
    credit_name: str = "credit"  # what reminders call the credit: "Extra Usage credit"
    switches: tuple[str, ...] = ("Extra Usage",)  # the first keeps billing once the credit is gone
    top_up_switch: str | None = None  # one of `switches` that refills the balance from the card
    caveats: tuple[str, ...] = ()  # said with the location: "the mobile apps cannot change it"
    how_to_claim: str = ""  # "turn Extra Usage on (or press Claim on the banner)"
    billed_at: str = "its usual rates"  # what the card is charged at afterwards: "API rates"
    balance_where: str = ""  # where the balance is looked at, for the weekly check: "on the web"
    source: str = ""  # where the facts come from, and when they were checked
    source_urls: tuple[str, ...] = ()  # the pages the facts were checked against, for the user to read
    web_search_usd: float = 0.01  # per web search request (USD 10 per 1,000, the provider's list price)
    currency: str = "USD"  # of `amount_usd` and the balance: a credit found in an account may be in EUR
    fixed_expiry: datetime | None = None  # an expiry the provider stated (a credit found in the account)
    settings_url: str = ""  # the web page with the switches, opened by a notification's "Open Settings"
    # a switch the provider has renamed: its name in `switches` (what `done` takes) -> what it is called now
    shown_as: Mapping[str, str] = EMPTY_MAPPING

    @property
    def where(self) -> str:
        """The location of the switches, with the caveats: what every reminder says."""
        return f"{self.switch_location} ({'; '.join(self.caveats)})" if self.caveats else self.switch_location

    @property
    def switch(self) -> str:
        """The switch that bills once the credit is gone, as the provider calls it now."""
        return self.shown_as.get(self.switches[0], self.switches[0])

    @property
    def switches_are_where(self) -> str:
        """'Usage credits (formerly Extra Usage) and Auto-Reload are switched in ...': a sentence."""
        said = f"{self.all_switches} {'are' if len(self.switches) > 1 else 'is'} switched in {self.where}."
        return said[:1].upper() + said[1:]

    @property
    def switch_short(self) -> str:
        """The switch as a title names it: 'usage credits'."""
        return self.switch.split(" (")[0]

    @property
    def setting(self) -> str:
        """The switch as the subject of a sentence: 'the usage credits (formerly Extra Usage) setting'."""
        return f"the {self.switch} setting"

    @property
    def all_switches(self) -> str:
        """'usage credits (formerly Extra Usage) and Auto-Reload'."""
        *rest, last = [self.shown_as.get(name, name) for name in self.switches]
        return f"{', '.join(rest)} and {last}" if rest else last

    @property
    def action_aliases(self) -> Mapping[str, str]:
        """What `done` also takes for a renamed switch: 'usage-credits-off' -> 'extra-usage-off'."""
        return {action_for(shown.split(" (")[0]): action_for(name) for name, shown in self.shown_as.items()}

    def action_named(self, name: str) -> str | None:
        """The action `name` stands for (itself, or the one a renamed switch's new name gives), or None."""
        return name if name in self.actions else self.action_aliases.get(name)

    @property
    def actions(self) -> tuple[str, ...]:
        """What `reminderd done` takes for this offer: one '<switch>-off' per switch."""
        return tuple(action_for(name) for name in self.switches)

    @property
    def top_up_action(self) -> str | None:
        return action_for(self.top_up_switch) if self.top_up_switch else None

    @property
    def claim_how(self) -> str:
        return self.how_to_claim or f"turn {self.switch} on"


# The [offers.NAME] keys that hold an offer's wording (the fields of Offer after `activities`).
WORDING_KEYS = ("product", "credit_name", "switches", "top_up_switch", "caveats", "how_to_claim", "billed_at",
                "balance_where", "source")


def action_for(switch: str) -> str:
    """'Extra Usage' -> 'extra-usage-off': the name `reminderd done` takes for a switch."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", switch.lower()).strip("-") + "-off"


PLAN_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "free": "Free",
        "pro": "Pro",
        "max-5x": "Max 5x",
        "max-20x": "Max 20x",
        "team": "Team",
        "enterprise": "Enterprise",
        "api": "API/Console only",
    }
)

# The four activities PROMO.md prices, keyed by the names used in the config's usage.per_day.
ACTIVITY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "chat_rounds": "chat rounds",
        "code_tasks": "code-generation tasks",
        "document_analyses": "analyses of a 100k-token document",
        "claude_code_sessions": "Claude Code sessions",
    }
)

CLAUDE_EXTRA_USAGE_2026_02 = Offer(
    key="claude-extra-usage-2026-02",
    name='Claude usage credit, formerly "Extra Usage" (Opus 4.6 launch, Feb 2026)',
    amount_usd=50.0,
    eligible_plans=("pro", "max-5x", "max-20x"),
    subscribed_by=datetime(2026, 2, 4, 23, 59, 59, tzinfo=PACIFIC),
    claim_opens=datetime(2026, 2, 5, 10, 0, 0, tzinfo=PACIFIC),
    claim_closes=datetime(2026, 2, 16, 23, 59, 59, tzinfo=PACIFIC),
    validity_days=60,
    zone=PACIFIC,
    switch_location="the Claude web app, Settings > Usage",
    prices=CLAUDE_PRICES,
    prices_source=("Claude Code's own cost figures (the announcement said Opus 4.6 cost 15/75, the price of "
                   "Opus 4 and 4.1; the provider's model page said 5/25)"),
    # Published with the offer, worked out at the article's higher Opus price: they err
    # towards early exhaustion, the safe side for a reminder.
    activities=MappingProxyType(
        {
            "chat_rounds": ActivityCost(0.02, 0.05),
            "code_tasks": ActivityCost(0.10, 0.30),
            "document_analyses": ActivityCost(1.50, 3.00),
            "claude_code_sessions": ActivityCost(0.50, 2.00),
        }
    ),
    product="Claude",
    credit_name="Claude usage credit",
    switches=("Extra Usage", "Auto-Reload"),
    shown_as=MappingProxyType({"Extra Usage": "usage credits (formerly Extra Usage)"}),  # renamed May 2026
    top_up_switch="Auto-Reload",
    caveats=("the mobile apps cannot change it",),
    how_to_claim="turn usage credits (formerly Extra Usage) on (or press Claim on the banner)",
    billed_at="API rates",
    balance_where="on the web",
    source=("the announcement of the Claude Opus 4.6 launch offer, February 2026 (the provider's own page was not "
            "recorded); facts checked 2026-02-05 against the pages below, which state the same terms"),
    source_urls=(
        "https://blog.wentuo.ai/en?p=1477",  # eligibility, claim window, 60 days, the billing traps
        "https://aitipsters.com/claude-opus-4-6-free-credits/",  # claim by 2026-02-16 23:59 PT; fast mode 30/150
    ),
    settings_url="https://claude.ai/settings/usage",
)

BUILTIN_OFFERS: Mapping[str, Offer] = MappingProxyType(
    {CLAUDE_EXTRA_USAGE_2026_02.key: CLAUDE_EXTRA_USAGE_2026_02}
)
DEFAULT_OFFER = CLAUDE_EXTRA_USAGE_2026_02.key
