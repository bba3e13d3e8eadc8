"""The built-in offer(s) and their price tables, as data.

Every fact and figure of an offer lives here and nowhere else in the code; the config can
override prices and activity costs, or describe a whole other offer in the same shape.
Source of the figures: ../shared/PROMO.md (the February 2026 announcement and the provider's
model page, read 2026-02).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float


class ActivityCost(NamedTuple):
    """USD for one unit of work, as a low-high range."""

    low: float
    high: float


class Offer(NamedTuple):
    """A time-limited usage credit.

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
    switch_location: str
    prices: Mapping[str, Price] = EMPTY_MAPPING
    prices_source: str = ""
    activities: Mapping[str, ActivityCost] = EMPTY_MAPPING


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
    name='Claude "Extra Usage" credit (Opus 4.6 launch, Feb 2026)',
    amount_usd=50.0,
    eligible_plans=("pro", "max-5x", "max-20x"),
    subscribed_by=datetime(2026, 2, 4, 23, 59, 59, tzinfo=PACIFIC),
    claim_opens=datetime(2026, 2, 5, 10, 0, 0, tzinfo=PACIFIC),
    claim_closes=datetime(2026, 2, 16, 23, 59, 59, tzinfo=PACIFIC),
    validity_days=60,
    zone=PACIFIC,
    switch_location=(
        "the Claude web app, Settings > Usage (the mobile apps cannot change it)"
    ),
    prices=MappingProxyType(
        {
            "opus-4.6": Price(5.0, 25.0),
            "opus-4.6-fast": Price(30.0, 150.0),
            "sonnet-4.5": Price(3.0, 15.0),
            "haiku-4.5": Price(1.0, 5.0),
        }
    ),
    prices_source="provider's model page, read February 2026 (the announcement said Opus 15/75)",
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
)

BUILTIN_OFFERS: Mapping[str, Offer] = MappingProxyType(
    {CLAUDE_EXTRA_USAGE_2026_02.key: CLAUDE_EXTRA_USAGE_2026_02}
)
DEFAULT_OFFER = CLAUDE_EXTRA_USAGE_2026_02.key
