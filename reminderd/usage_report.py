"""`reminderd usage`: what Claude Code's logs show, per day, in a table (with a small bar chart)
for people and a stable JSON document for scripts.

The figures are API-equivalent costs of Claude Code use on this machine, at the offer's
prices: more than the credit pays (the plan's own usage comes first), less than all use
(claude.ai, the apps and other machines are not in the logs). Every output says so.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from reminderd.errors import UsageError
from reminderd.settings import Credit
from reminderd.spend import LoggedUsage, Priced
from reminderd.timeutil import format_local

NOT_A_BILL = ("API-equivalent cost of Claude Code use on this machine: not a bill (your plan's own usage "
              "comes first; claude.ai, the apps and other machines are not in the logs)")
BAR_WIDTH = 24
DEFAULT_DAYS = 14


class UsageView(NamedTuple):
    credit_id: str
    zone: ZoneInfo
    since: date
    until: date
    priced: Priced  # the days shown
    since_claim: Priced | None  # every day from the claim on, for the total
    claimed_at: datetime | None
    ledger: LoggedUsage
    expired_at: datetime | None = None  # when the credit expired, if it has: the since-claim total stops there
    roots: tuple[Path, ...] = ()  # where the transcripts were looked for

    def unknown_models(self) -> dict[str, str]:
        """Models with no price row, in the days shown or since the claim: what each was priced as."""
        return dict(sorted({**self.priced.unknown, **(self.since_claim.unknown if self.since_claim else {})}.items()))

    def warnings(self) -> list[str]:
        out = [f"model {model} has no row in the price table: counted at the price of {priced_as}"
               for model, priced_as in self.unknown_models().items()]
        return out + ledger_warnings(self.ledger, self.roots)


def day_range(today: date, since: date | None, until: date | None, days: int | None) -> tuple[date, date]:
    """The first and last day `usage` shows, as ccusage reads --since and --until: any two of
    since, until and days give the range; since alone runs to today; until or days alone take
    DEFAULT_DAYS or `days` back from it (or from today). A range never ends after today."""
    if since is not None and until is not None and days is not None:
        raise UsageError("--days: expected at most two of --since, --until and --days, got all three")
    if until is not None and until > today:
        raise UsageError(f"--until: expected a day no later than today ({today}), got {until}")
    if since is not None:
        last = until if until is not None else since + timedelta(days=days - 1) if days is not None else today
        last = min(last, today)
        if since > last:
            which = "--until" if until is not None else "today"
            raise UsageError(f"--since: expected a day no later than {which} ({last}), got {since}")
        return since, last
    last = until if until is not None else today
    return last - timedelta(days=(days or DEFAULT_DAYS) - 1), last


def usage_view(credit: Credit, ledger: LoggedUsage, zone: ZoneInfo, now: datetime, first: date,
               last: date, roots: tuple[Path, ...] = ()) -> UsageView:
    """What `usage` shows for `credit`: the days from `first` to `last`, and the total since the
    claim, which ends at the credit's expiry (use after it was not paid from the credit);
    `roots`: where the transcripts were looked for."""
    from reminderd.rules import expiry
    from reminderd.spend import daily_usd

    offer = credit.offer
    claimed = credit.claimed_at if credit.claimed_at is not None and credit.claimed_at <= now else None
    since_claim = expired = None
    if claimed is not None:
        expires = expiry(offer, claimed)
        expired = expires if expires <= now else None
        since_claim = daily_usd(ledger, zone, offer.prices, offer.web_search_usd, claimed.astimezone(zone).date(),
                                min(now, expires).astimezone(zone).date())
    return UsageView(credit.id, zone, first, last,
                     daily_usd(ledger, zone, offer.prices, offer.web_search_usd, first, last),
                     since_claim, claimed, ledger, expired, roots)


def usage_json(view: UsageView) -> dict[str, Any]:
    def usd(value: float) -> float:
        return round(value, 2)

    return {
        "schema_version": 1,
        "credit": view.credit_id,
        "timezone": view.zone.key,
        "since": view.since.isoformat(),
        "until": view.until.isoformat(),
        "days": [{"date": d.day.isoformat(), "usd": usd(d.usd), "by_model": {m: usd(v) for m, v in d.by_model.items()}}
                 for d in view.priced.days],
        "total_usd": usd(math.fsum(d.usd for d in view.priced.days)),
        "since_claim_usd": usd(math.fsum(d.usd for d in view.since_claim.days)) if view.since_claim else None,
        "claimed_at": view.claimed_at.astimezone(view.zone).isoformat(timespec="seconds") if view.claimed_at else None,
        "expired_at": view.expired_at.astimezone(view.zone).isoformat(timespec="seconds") if view.expired_at else None,
        "skipped_lines": dict(sorted(view.ledger.skipped.items())),
        "skipped_in": {path: dict(sorted(reasons.items())) for path, reasons in sorted(view.ledger.skipped_in.items())},
        "unknown_models": view.unknown_models(),
        "transcripts": view.ledger.files,
        "scanned_at": view.ledger.scanned_at.isoformat(timespec="seconds") if view.ledger.scanned_at else None,
        "note": NOT_A_BILL,
        "warnings": view.warnings(),
    }


def usage_text(view: UsageView, fancy: bool) -> str:
    """The table; `fancy` (a terminal, no NO_COLOR) draws the bars with block characters."""
    days = view.priced.days
    top = max((d.usd for d in days), default=0.0)
    lines = [f"Claude Code usage for {view.credit_id}, per day in {view.zone.key}, at the offer's prices.",
             NOT_A_BILL + ".", ""]
    for d in days:
        filled = 0 if top <= 0 else max(1 if d.usd > 0 else 0, round(d.usd / top * BAR_WIDTH))
        bar = ("█" if fancy else "#") * filled + ("·" if fancy else ".") * (BAR_WIDTH - filled)
        models = ", ".join(f"{m} {v:.2f}" for m, v in sorted(d.by_model.items(), key=lambda kv: -kv[1]) if v >= 0.005)
        lines.append(f"  {d.day:%a %Y-%m-%d}  USD {d.usd:8.2f}  {bar}  {models}".rstrip())
    total = math.fsum(d.usd for d in days)
    lines += ["", f"  {'Shown':<14}  USD {total:8.2f}  ({view.since} to {view.until})"]
    if view.since_claim is not None and view.claimed_at is not None:
        claimed = math.fsum(d.usd for d in view.since_claim.days)
        claim = format_local(view.claimed_at, view.zone)
        expired = view.expired_at
        end = "" if expired is None else f", to the day of its expiry, {format_local(expired, view.zone)}"
        lines.append(f"  {'Since claim':<14}  USD {claimed:8.2f}  (from the day of the claim, {claim}{end})")
    scanned = f"; ledger brought up to date {format_local(view.ledger.scanned_at, view.zone)}" \
        if view.ledger.scanned_at else "; the ledger has not been brought up to date yet"
    lines.append(f"  {'Transcripts':<14}  {view.ledger.files} read{scanned}")
    lines += [f"  ! {w}" for w in view.warnings()]
    return "\n".join(lines) + "\n"


SKIPPED = {  # reason -> what the lines were
    "malformed": "line(s) skipped as malformed (truncated, not JSON, not UTF-8, or a value out of range)",
    "too-long": "line(s) skipped as longer than {cap} MiB",
    "too-old": "response(s) skipped as older than the ledger's memory (a copy of one counted before, maybe)",
}
NAMED = 3  # files named per reason in a warning; `usage --json` lists them all


def ledger_warnings(ledger: LoggedUsage, roots: tuple[Path, ...]) -> list[str]:
    """What the ledger could not count, naming the transcripts; where it looked if it found none."""
    out = []
    for reason, what in SKIPPED.items():
        files = {path: reasons[reason] for path, reasons in ledger.skipped_in.items() if reasons.get(reason)}
        if not files:
            continue
        if reason == "too-long":
            from reminderd.transcripts import LINE_CAP

            what = what.format(cap=LINE_CAP // 2**20)
        named = ", ".join(f"{path} ({n})" for path, n in sorted(files.items())[:NAMED])
        more = f" and {len(files) - NAMED} other file(s)" if len(files) > NAMED else ""
        out.append(f"{sum(files.values())} {what} in {named}{more}")
    if ledger.pending:
        out.append(f"{ledger.pending} transcript(s) not read yet: the ledger is still being brought up to date")
    if ledger.files == 0:
        where = " or ".join(str(root / "projects") for root in roots)
        out.append("no Claude Code transcript found" + (f" (looked for *.jsonl below {where})" if where else ""))
    return out
