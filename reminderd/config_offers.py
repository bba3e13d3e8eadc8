"""The config's [offers.NAME] tables (an offer of the user's own) and [prices] rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from reminderd.config_values import MAX_DAYS, MAX_USD, ValueReader
from reminderd.offers import WORDING_KEYS, ActivityCost, Offer, action_for
from reminderd.prices import Price, PriceTable

PRICE_ROW_KEYS = frozenset({"cache_read", "fast", "credits_only", "from"})  # besides input and output


class OfferReader(ValueReader):
    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.invalid_offers: set[str] = set()  # [offers.NAME] tables described wrongly: reported already

    def custom_offer(self, key: str, raw: Any, config_zone: ZoneInfo, prices: PriceTable) -> Offer | None:
        path = f"offers.{key}"
        if not isinstance(raw, dict):
            self.problem(path, "a table describing an offer", raw)
            return None
        known = {"name", "amount_usd", "eligible_plans", "subscribed_by", "claim_opens",
                 "claim_closes", "validity_days", "timezone", "switch_location", "prices",
                 "prices_source", "activity_costs", "web_search_usd", "settings_url", *WORDING_KEYS}
        self.unknown_keys(raw, known, f"{path}.")
        before = len(self.problems)
        zone = self.zone(raw.get("timezone"), f"{path}.timezone", config_zone)
        for required in ("amount_usd", "claim_opens", "claim_closes", "validity_days", "switches",
                         "switch_location"):
            if required not in raw:
                self.problems.append(f"{self.source}: {path}.{required}: expected a value, got nothing")
        amount = self.number(raw.get("amount_usd"), f"{path}.amount_usd", minimum=0.01)
        opens = self.instant(raw.get("claim_opens"), f"{path}.claim_opens", zone)
        closes = self.instant(raw.get("claim_closes"), f"{path}.claim_closes", zone)
        subscribed_by = self.instant(raw.get("subscribed_by"), f"{path}.subscribed_by", zone)
        validity = raw.get("validity_days")
        if validity is not None:
            validity = self.whole(validity, f"{path}.validity_days", 1, MAX_DAYS, "days", 0) or None
        plans = raw.get("eligible_plans", [])
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            self.problem(f"{path}.eligible_plans", "a list of plan names", plans)
            plans = []
        if opens and closes and closes <= opens:
            self.problem(f"{path}.claim_closes", "an instant after claim_opens", raw.get("claim_closes"))
        prices = prices.with_rows(self.price_rows(raw.get("prices"), f"{path}.prices"))
        activities = self.activity_costs(raw.get("activity_costs"), f"{path}.activity_costs", {})
        wording = self.wording(raw, path)
        location = self.text(raw.get("switch_location"), f"{path}.switch_location", "")
        settings_url = self.page_url(raw.get("settings_url"), f"{path}.settings_url")
        name = self.text(raw.get("name"), f"{path}.name", key)
        prices_source = self.text(raw.get("prices_source"), f"{path}.prices_source", "")
        if len(self.problems) > before or amount is None or opens is None or closes is None or validity is None:
            return None
        assert isinstance(validity, int)
        return Offer(
            key=key,
            name=name,
            amount_usd=amount,
            eligible_plans=tuple(plans),
            subscribed_by=subscribed_by or closes,
            claim_opens=opens,
            claim_closes=closes,
            validity_days=validity,
            zone=zone,
            switch_location=location,
            web_search_usd=self.number(raw.get("web_search_usd"), f"{path}.web_search_usd", default=0.01) or 0.0,
            prices=prices,
            prices_source=prices_source,
            activities=MappingProxyType(activities),
            settings_url=settings_url,
            **wording,
        )

    def wording(self, raw: dict[str, Any], path: str) -> dict[str, Any]:
        """The words a custom offer's reminders use (see offers.Offer)."""
        switches = self.texts(raw.get("switches"), f"{path}.switches", 1)
        if len({action_for(s) for s in switches}) < len(switches):
            self.problem(f"{path}.switches", "names that differ in more than case and punctuation", raw["switches"])
        top_up = raw.get("top_up_switch")
        if top_up is not None and top_up not in switches:
            self.problem(f"{path}.top_up_switch", "one of the names in switches", top_up)
            top_up = None
        first = switches[0] if switches else "it"
        return {
            "product": self.text(raw.get("product"), f"{path}.product", ""),
            "credit_name": self.text(raw.get("credit_name"), f"{path}.credit_name", f"{first} credit"),
            "switches": switches or ("it",),
            "top_up_switch": top_up,
            "caveats": self.texts(raw.get("caveats"), f"{path}.caveats", 0),
            "how_to_claim": self.text(raw.get("how_to_claim"), f"{path}.how_to_claim", ""),
            "billed_at": self.text(raw.get("billed_at"), f"{path}.billed_at", "its usual rates"),
            "balance_where": self.text(raw.get("balance_where"), f"{path}.balance_where", ""),
            "source": self.text(raw.get("source"), f"{path}.source", ""),
        }

    def price_rows(self, raw: Any, path: str) -> dict[str, Price]:
        """[prices."MODEL"] rows: `input`, `output` (USD per million tokens), optional `cache_read`,
        `fast` (fast mode's multiplier), `credits_only`, `from` (the first day it holds)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(path, "a table of models", raw)
            return {}
        rows = {}
        for model, row in raw.items():
            where = f"{path}.{model}"
            before = len(self.problems)
            pair = self.pair(row, where, "USD per million tokens", PRICE_ROW_KEYS)
            if not isinstance(row, dict):
                continue
            credits_only = row.get("credits_only", False)
            if not isinstance(credits_only, bool):
                self.problem(f"{where}.credits_only", "true or false", credits_only)
            since = row.get("from")
            if since is not None and (isinstance(since, datetime) or not isinstance(since, date)):
                self.problem(f"{where}.from", "a date such as 2026-06-01 (the first day the price holds)", since)
            read = self.number(row.get("cache_read"), f"{where}.cache_read")
            fast = self.number(row.get("fast"), f"{where}.fast", minimum=1.0, maximum=100.0)
            if pair is not None and len(self.problems) == before:
                rows[model] = Price(*pair, cache_read=read, fast=fast, credits_only=credits_only is True,
                                    source=f"your config ({where})", since=since)
        return rows

    def activity_costs(self, raw: Any, path: str, base: Mapping[str, ActivityCost]) -> dict[str, ActivityCost]:
        costs = dict(base)
        if raw is None:
            return costs
        if not isinstance(raw, dict):
            self.problem(path, "a table of activities", raw)
            return costs
        for name, pair in raw.items():
            expected = "[low, high] in USD per unit, low <= high"
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_USD
                               for v in pair)
                    or pair[0] > pair[1]):
                self.problem(f"{path}.{name}", expected, pair)
                continue
            costs[name] = ActivityCost(float(pair[0]), float(pair[1]))
        return costs
