"""`reminderd offers`: every offer reminderd knows, built in or described in the config, with
its facts, its words and where they come from. Text for people, JSON (sorted keys) for scripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reminderd.offers import BUILTIN_OFFERS, PLAN_NAMES, Offer
from reminderd.prices import Price
from reminderd.timeutil import format_local


def offer_json(offer: Offer) -> dict[str, Any]:
    def iso(instant: Any) -> str:
        return str(instant.astimezone(offer.zone).isoformat(timespec="seconds"))

    return {
        "key": offer.key,
        "built_in": offer.key in BUILTIN_OFFERS and BUILTIN_OFFERS[offer.key] == offer,
        "name": offer.name,
        "product": offer.product or None,
        "amount_usd": round(offer.amount_usd, 2),
        "eligible_plans": list(offer.eligible_plans),
        "subscribed_by": iso(offer.subscribed_by),
        "claim": {"opens": iso(offer.claim_opens), "closes": iso(offer.claim_closes), "how": offer.claim_how},
        "validity_days": offer.validity_days,
        "timezone": offer.zone.key,
        "credit_name": offer.credit_name,
        "switches": list(offer.switches),
        "actions": list(offer.actions),
        "top_up_switch": offer.top_up_switch,
        "where": offer.where,
        "billed_at": offer.billed_at,
        "prices_usd_per_million_tokens": {model: price_json(p) for model, p in offer.prices.current().items()},
        "prices_source": offer.prices_source or None,
        "activity_costs_usd": {name: {"low": c.low, "high": c.high} for name, c in sorted(offer.activities.items())},
        "source": offer.source or None,
        "source_urls": list(offer.source_urls),
    }


def price_json(price: Price) -> dict[str, Any]:
    return {"input": price.input, "output": price.output, "cache_read": price.read, "fast": price.fast,
            "credits_only": price.credits_only, "source": price.source or None,
            "from": price.since.isoformat() if price.since else None}


def offers_json(offers: Mapping[str, Offer]) -> dict[str, Any]:
    return {"schema_version": 1, "offers": [offer_json(o) for _, o in sorted(offers.items())]}


def offers_text(offers: Mapping[str, Offer]) -> str:
    lines: list[str] = []
    for key, offer in sorted(offers.items()):
        data = offer_json(offer)

        def row(label: str, value: str) -> None:
            lines.append(f"  {label:<14}{value}")

        zone = offer.zone
        lines.append(f"{key} ({'built in' if data['built_in'] else 'from your config'}): {offer.name}")
        if offer.product:
            row("Product", offer.product)
        row("Amount", f"USD {offer.amount_usd:g}")
        plans = ", ".join(PLAN_NAMES.get(p, p) for p in offer.eligible_plans) or "any plan"
        row("Who", f"{plans}; subscribed by {format_local(offer.subscribed_by, zone)}")
        row("Claim", f"{format_local(offer.claim_opens, zone)} to {format_local(offer.claim_closes, zone)}: "
                     f"{offer.claim_how}")
        row("Valid", f"{offer.validity_days} days after claiming ({zone.key})")
        top_up = f"; {offer.top_up_switch} tops the balance up from your card" if offer.top_up_switch else ""
        row("Switches", f"{', '.join(offer.shown_as.get(s, s) for s in offer.switches)}{top_up}")
        row("Where", offer.where)
        aliases = {canonical: alias for alias, canonical in offer.action_aliases.items()}
        row("Done with", " | ".join(f"reminderd done {a}" + (f" (or {aliases[a]})" if a in aliases else "")
                                    for a in offer.actions))
        row("Afterwards", f"billed at {offer.billed_at}")
        if offer.prices.rows:
            prices = ", ".join(f"{_model_row(m)} {p.input:g}/{p.output:g}" for m, p in offer.prices.current().items())
            row("Prices", f"{prices} (USD per million tokens in/out)")
            if offer.prices_source:
                row("", f"from {offer.prices_source}")
        if offer.source:
            row("Source", offer.source)
        for index, url in enumerate(offer.source_urls):
            row("Checked at" if index == 0 else "", url)
        lines.append("")
    return "\n".join(lines)


def _model_row(key: str) -> str:
    """A price row's key, as [prices] takes it, with what an "@long" mark means."""
    from reminderd.prices import LONG, LONG_PROMPT

    model, _, mark = key.partition("@")
    if "@" + mark == LONG and model in LONG_PROMPT:
        return f"{key} (prompt over {LONG_PROMPT[model] // 1000}k tokens)"
    return key
