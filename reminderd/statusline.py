"""`reminderd statusline [--color]`: one short line for Claude Code's status line, or for a segment of
another one: the most urgent reminder's few words, else where the most relevant credit stands
(`credit USD 12 left · expires in 3 d · usage credits on`), else nothing.

It reads the summary file (summary_file.py), never the config: Claude Code runs it after every
answer and cancels a run that is still going when the next starts. Whatever the input (empty,
truncated, huge, hostile), it prints at most one line and exits 0. What the input says of the plan's
quota is recorded after the line is out (quota_record.py).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from reminderd import light, summary_file
from reminderd.summary_file import credits, read_summary, urgent, words_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NOT_READY = "reminderd: summary not ready"
RED, YELLOW, DIM, RESET = "\x1b[1;31m", "\x1b[33m", "\x1b[2m", "\x1b[0m"
SEP = " · "
SOON = timedelta(days=2)
ORDER = {"active": 0, "expired": 1, "claimable": 2}  # which credit speaks when several are in play


def main(args: list[str]) -> int:
    color = "--color" in args and not os.environ.get("NO_COLOR")
    data = light.json_object(light.read_input()) or {}
    now = light.now()
    directory = light.state_dir()
    line = render(read_summary(directory, now), data, now, color, light.columns())
    if line:
        sys.stdout.buffer.write(line.encode("utf-8", "replace") + b"\n")
        sys.stdout.buffer.flush()
    if data:
        from reminderd.quota_record import record_seen

        record_seen(directory, data, now.timestamp())
    return 0


def render(document: dict[str, Any] | None, data: dict[str, Any], now: datetime, color: bool,
           width: int | None) -> str:
    """The line (without its newline); "" when there is nothing to say."""
    if document is None:
        return _paint(_fit(NOT_READY, width), DIM if color else None)
    entries = credits(document)
    reminder = urgent(document, now)
    credit = next((c for c in entries if reminder and c["id"] == reminder.get("credit")), None)
    tone: str | None
    if reminder is not None:
        parts, tone = [words_at(reminder, now)], RED
    elif entries:
        credit = min(entries, key=lambda c: (ORDER.get(c["phase"], 3), _sort_time(c)))
        parts, tone = _credit_parts(credit, document, now, several=len(entries) > 1)
    else:
        return ""
    limit_until = _plan_limit_until(data, now)
    if limit_until is not None and (credit is None or credit.get("usage_credits") != "off"):
        parts.insert(0, f"plan limit reached: usage credits pay for {short_span(limit_until - now)}")
        tone = tone or YELLOW
    return _paint(_fit(SEP.join(_clean(p) for p in parts), width), tone if color else None)


def _sort_time(credit: dict[str, Any]) -> float:
    when = summary_file.expires_at(credit) or summary_file.claim_deadline(credit)
    return when.timestamp() if when is not None else float("inf")


def _credit_parts(credit: dict[str, Any], document: dict[str, Any], now: datetime,
                  several: bool) -> tuple[list[str], str | None]:
    name = str(credit["id"]) if several else "credit"
    currency = str(credit.get("currency") or "USD")
    expires, state = summary_file.expires_at(credit), credit.get("usage_credits")
    usage = f"usage credits {state}" if state in ("on", "off", "unknown") else "usage credits unknown"
    if credit["phase"] == "claimable":
        deadline = summary_file.claim_deadline(credit)
        amount = credit.get("amount")
        head = f"{currency} {_money(float(amount))} {name} to claim" if isinstance(amount, int | float) \
            else f"{name} to claim"
        if deadline is None or deadline <= now:
            return [head], None
        return [head, f"claim closes in {short_span(deadline - now)}"], YELLOW if deadline - now <= SOON else None
    if expires is not None and expires <= now:
        return [f"{name} expired {short_span(now - expires)} ago", usage], YELLOW if state != "off" else None
    balance = summary_file.balance_at(credit, summary_file.written_at(document), now)
    parts = [f"{name} used up" if balance == 0 else
             f"{name} {currency} {_money(balance)} left" if balance is not None else name]
    if expires is not None:
        parts.append(f"expires in {short_span(expires - now)}")
    parts.append(usage)
    soon = expires is not None and expires - now <= SOON and state != "off"
    return parts, YELLOW if soon or (balance == 0 and state != "off") else None


def _plan_limit_until(data: dict[str, Any], now: datetime) -> datetime | None:
    """When the input's plan limits at 100 % reset (the later one), if any is at 100 % now."""
    from reminderd.quota_record import row_from_statusline

    row = row_from_statusline(data, now.timestamp())
    if row is None:
        return None
    windows = ((row[1], row[2], 5 * 3600), (row[3], row[4], 7 * 86400))
    resets = [r for used, r, window in windows  # a reset beyond its window is not this moment's (a pinned clock)
              if used is not None and r is not None and used >= 100 and 0 < r - now.timestamp() <= window]
    return datetime.fromtimestamp(max(resets), now.tzinfo) if resets else None


def _money(amount: float) -> str:
    """Rounded down: a balance estimate never says more than is left."""
    return f"{int(amount):,}" if amount >= 10 else f"{int(amount * 100) / 100:.2f}"


def short_span(delta: timedelta) -> str:
    """'3 d', '1 d 4 h', '5 h', '12 min', rounded down: a status line has no room for words."""
    seconds = max(0, int(delta.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days >= 2 or (days == 1 and hours == 0):
        return f"{days} d"
    if days == 1:
        return f"1 d {hours} h"
    if hours:
        return f"{hours} h"
    return f"{minutes} min" if minutes else "<1 min"


def _clean(text: str) -> str:
    """No control character reaches the terminal (the words come from the user's config)."""
    return "".join(c if c.isprintable() else " " for c in text)


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[:max(0, width - 1)] + "…"


def _paint(text: str, tone: str | None) -> str:
    return f"{tone}{text}{RESET}" if tone and text else text
