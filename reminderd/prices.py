"""What a model's tokens cost: Claude Code's list prices as data, and the rules that apply them. Pure.

Model ids are Claude Code's own, without their date or context suffixes: "claude-opus-4-6",
"claude-haiku-5-5". normalise_model() turns what transcripts, configs and older versions wrote
("claude-opus-4-6-20260205", "claude-opus-4-6[1m]", "anthropic/claude-4.6-opus", "opus-4.6")
into that id. A ledger key adds what changes the price of one request: "@long" for a prompt
over a tiered model's threshold (Haiku 5.5), "@us" for inference kept in the US (1.1x, as
Claude Code charges it), "@fast" for fast mode.

A model is priced at the row of the longest known id that ends at a separator
("claude-opus-4-5-…" never lands on "claude-opus-4"); a model with no such row at the dearest
row of its family, or of the whole table when its family is unknown, never below Opus 4's
15/75, and it is named in a warning: an unknown model never counts as free or cheap.

Cost = input x in + output x out + 5-minute cache writes x 1.25 in + 1-hour cache writes x 2 in
+ cache reads x the row's read price (0.1 x in unless the row says otherwise), per million
tokens; fast mode multiplies every token rate by the row's fast multiplier; web searches cost
a fixed price each.
"""

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date
from types import MappingProxyType
from typing import NamedTuple

CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1
FAST = "@fast"  # a ledger key's mark: fast mode
LONG = "@long"  # a ledger key's mark: a prompt over the model's LONG_PROMPT threshold
US = "@us"  # a ledger key's mark: inference kept in the US (usage.inference_geo "us")
US_MULTIPLIER = 1.1
# Models priced by the prompt's size (input, cache reads and cache writes counted together):
# over this many tokens a request is priced at the "<id>@long" row.
LONG_PROMPT: Mapping[str, int] = MappingProxyType({"claude-haiku-5-5": 100_000})
FAMILIES = ("opus", "sonnet", "haiku", "fable", "mythos")
TAKEN_ON = date(2026, 12, 6)
CLAUDE_CODE_SOURCE = "Claude Code 2.1.332's own cost figures, measured against a local fake API"


class Price(NamedTuple):
    """One row of a price table, in USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None  # None: CACHE_READ x input
    fast: float | None = None  # fast mode's multiplier of every token rate; None: no fast price
    credits_only: bool = False  # always billed to usage credits, even while the plan's quota lasts
    source: str = ""  # where the figures come from
    since: date | None = None  # the first day (UTC) it holds; None: always

    @property
    def read(self) -> float:
        return self.input * CACHE_READ if self.cache_read is None else self.cache_read


class PriceTable(NamedTuple):
    """Model id -> its rows, oldest first (a later row holds from its `since` day on)."""

    rows: Mapping[str, tuple[Price, ...]]
    taken_on: date | None = None

    def current(self) -> dict[str, Price]:
        """The row of each model that holds now (the latest)."""
        return {model: rows[-1] for model, rows in sorted(self.rows.items())}

    def with_rows(self, overrides: Mapping[str, Price]) -> "PriceTable":
        """This table with `overrides` applied: a row without `since` replaces the model's rows,
        a row with `since` holds from that day on, after the rows before it."""
        rows = dict(self.rows)
        for model, price in overrides.items():
            key = normalise_key(model)
            if price.since is None:
                rows[key] = (price,)
            else:
                kept = tuple(r for r in rows.get(key, ()) if r.since is None or r.since < price.since)
                rows[key] = (*kept, price)
        return PriceTable(MappingProxyType(rows), self.taken_on)

    def at(self, model: str, day: date | None) -> Price:
        """The row of `model` (a key of this table) that holds on `day` (None: the latest)."""
        rows = self.rows[model]
        if day is None:
            return rows[-1]
        return next((r for r in reversed(rows) if r.since is None or r.since <= day), rows[0])


def _table(rows: Iterable[tuple[str, Price]]) -> PriceTable:
    return PriceTable(MappingProxyType({model: (price,) for model, price in rows}), TAKEN_ON)


def _row(inp: float, out: float, read: float, fast: float | None = None) -> Price:
    return Price(inp, out, read, fast, source=CLAUDE_CODE_SOURCE)


# USD per million tokens as Claude Code 2.1.332 computes them (shared/CLAUDE_CODE_LOGS.md): input,
# output, cache read, fast multiplier. Cache writes are 1.25x (5 minutes) and 2x (1 hour) of input.
CLAUDE_PRICES = _table([
    ("claude-opus-4", _row(15, 75, 1.50)),
    ("claude-opus-4-1", _row(15, 75, 1.50)),
    ("claude-opus-4-5", _row(5, 25, 0.50)),
    ("claude-opus-4-6", _row(5, 25, 0.50, fast=6)),
    ("claude-opus-4-7", _row(5, 25, 0.50, fast=6)),
    ("claude-opus-4-8", _row(5, 25, 0.50, fast=2)),
    ("claude-opus-5", _row(5, 25, 0.50, fast=2)),
    ("claude-opus-5-5", _row(4, 20, 0.20, fast=2)),
    ("claude-sonnet-4", _row(3, 15, 0.30)),
    ("claude-sonnet-4-5", _row(3, 15, 0.30)),
    ("claude-sonnet-4-6", _row(3, 15, 0.30)),
    ("claude-sonnet-5", _row(2, 10, 0.20)),
    ("claude-sonnet-5-5", _row(2, 10, 0.10)),
    ("claude-haiku-4-5", _row(1, 5, 0.10)),
    ("claude-haiku-5-5", _row(0.10, 0.50, 0.01)),
    ("claude-haiku-5-5" + LONG, _row(0.50, 2.50, 0.05)),
    ("claude-fable-5", _row(10, 50, 1)),
    ("claude-fable-5-1", _row(10, 50, 0.25)),
    ("claude-fable-5-2", _row(8, 40, 0.20, fast=2)),
    ("claude-mythos-5", _row(10, 50, 1)),
    ("claude-mythos-5-1", _row(10, 50, 0.25)),
    ("claude-mythos-5-2", _row(8, 40, 0.20, fast=2)),
    ("claude-sonnet-3-7", _row(3, 15, 0.30)),
    ("claude-haiku-3-5", _row(0.80, 4, 0.08)),
])

_FAMILY = "|".join(FAMILIES)
_VERSION = r"(\d{1,2})(?:[-.](\d{1,2}))?"
# Compiled by re's own cache at first use, not at import: `status` rarely names a model.
_NEW_STYLE = rf"^(?:claude-)?({_FAMILY})-{_VERSION}(?=$|-)"  # claude-opus-4-6, opus-4.6
_OLD_STYLE = rf"^claude-{_VERSION}-({_FAMILY})(?=$|-)"  # claude-3-5-sonnet, claude-4.6-opus
_SUFFIXES = r"(\[[^\]]*\]|-v\d+(:\d+)?|[@-]\d{8}|-latest)$"


@functools.lru_cache(maxsize=512)
def normalise_model(raw: str) -> str:
    """Claude Code's id of the model a transcript or a config names; any other id as it is,
    lower-cased (an unknown model, priced high with a warning)."""
    text = raw.strip().lower().rsplit("/", 1)[-1]
    text = re.sub(r"^(?:[a-z]{2}\.)?anthropic\.", "", text)  # Bedrock: us.anthropic.claude-…
    while (stripped := re.sub(_SUFFIXES, "", text)) != text:
        text = stripped
    match = re.match(_NEW_STYLE, text)
    if match:
        family, major, minor = match.groups()
    else:
        match = re.match(_OLD_STYLE, text)
        if not match:
            return text
        major, minor, family = match.groups()
    return f"claude-{family}-{major}" + (f"-{minor}" if minor and minor != "0" else "")  # 4-0 is 4


def normalise_key(key: str) -> str:
    """A price table's key (the config's or an older version's) as this table's: "opus-4.6" ->
    "claude-opus-4-6", "opus-4.6-fast" -> "claude-opus-4-6@fast"."""
    base, marks = split_key(key)
    if base.endswith("-fast") and FAST not in marks:
        base, marks = base.removesuffix("-fast"), (*marks, FAST)
    return normalise_model(base) + "".join(marks)


def split_key(key: str) -> tuple[str, tuple[str, ...]]:
    """'claude-haiku-5-5@long@fast' -> ('claude-haiku-5-5', ('@long', '@fast'))."""
    base, *marks = key.split("@")
    return base, tuple(f"@{mark}" for mark in marks)


def family_of(model: str) -> str | None:
    return next((f for f in FAMILIES if model.startswith(f"claude-{f}")), None)


class Rate(NamedTuple):
    """What one token of each kind (prices.Tokens order) of a ledger key costs, and how it was priced."""

    per_token: tuple[float, float, float, float, float, float]
    priced_as: str  # the table's key whose row was used
    known: bool  # False: not in the table; priced as `priced_as`, and warned about
    credits_only: bool  # billed to usage credits whatever the plan's quota (fast mode, tagged models)


def match(model: str, table: PriceTable) -> tuple[str, bool]:
    """The table key that prices `model` (a normalised id), and whether the model is known:
    the longest key that is the id or a prefix of it ending at a separator; else the dearest
    row of its family, else of the whole table."""
    if model in table.rows:
        return model, True
    prefixes = [key for key in table.rows if LONG not in key and FAST not in key and model.startswith(key + "-")]
    if prefixes:
        return max(prefixes, key=len), False
    family = family_of(model)
    plain = [key for key in table.rows if LONG not in key and FAST not in key]
    candidates = [key for key in plain if family is not None and family_of(key) == family] or plain
    if not candidates:
        return "", False
    return max(candidates, key=lambda k: (table.at(k, None).output, table.at(k, None).input, k)), False


def rate(key: str, table: PriceTable, web_search_usd: float, day: date | None = None) -> Rate:
    """USD per token of each kind for a ledger key ("claude-opus-4-6@fast") on `day`."""
    base, marks = split_key(key)
    model = normalise_model(base)
    long_row = f"{model}{LONG}" if LONG in marks and f"{model}{LONG}" in table.rows else None
    fast_row = f"{model}{FAST}" if FAST in marks and f"{model}{FAST}" in table.rows else None
    priced_as, known = (fast_row, True) if fast_row else (long_row, True) if long_row else match(model, table)
    if not priced_as:
        return Rate((0.0, 0.0, 0.0, 0.0, 0.0, web_search_usd), "", False, True)
    row = table.at(priced_as, day)
    multiplier = (row.fast or 1.0) if FAST in marks and not fast_row else 1.0
    multiplier *= US_MULTIPLIER if US in marks else 1.0
    per_in = row.input * multiplier / 1e6
    per_token = (per_in, row.output * multiplier / 1e6, per_in * CACHE_WRITE_5M, per_in * CACHE_WRITE_1H,
                 row.read * multiplier / 1e6, web_search_usd)
    return Rate(per_token, priced_as, known, row.credits_only or FAST in marks)


class Tokens(NamedTuple):
    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    web_searches: int = 0


def cost(tokens: Tokens | tuple[int, ...], per_token: tuple[float, ...]) -> float:
    a, b, c, d, e, f = tokens
    return a * per_token[0] + b * per_token[1] + c * per_token[2] + d * per_token[3] + e * per_token[4] \
        + f * per_token[5]


def ledger_key(model: str, prompt_tokens: int, speed: str | None, geo: str | None = None) -> str:
    """How the ledger names one request's model: its id, "@long" over a tiered model's threshold
    (the prompt: input, cache reads and cache writes), "@us" for US-only inference, "@fast" in
    fast mode (any speed but "standard": Claude Code charges an unknown one as fast)."""
    key = normalise_model(model)
    threshold = LONG_PROMPT.get(key)
    if threshold is not None and prompt_tokens > threshold:
        key += LONG
    if geo == "us":
        key += US
    return key + FAST if speed not in (None, "", "standard") else key
