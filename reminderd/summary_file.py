"""The summary file, `summary.json` in the state directory: what matters now (summary.py), written
atomically by the daemon and `status`; read by Claude Code's status line and session hook.

Those two run often and Claude Code waits for them, so reading imports nothing beyond os, datetime
and lightjson (not even json): no config, no plan. A file that is missing, damaged, of another schema
version, or written more than MAX_AGE from the reader's `now` is "not ready" (None).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from reminderd import lightjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from reminderd.record import State
    from reminderd.reminder import Timeline

NAME = "summary.json"
SCHEMA_VERSION = 1
MAX_AGE = timedelta(days=1)
MAX_BYTES = 1 << 20  # a summary is a few KB; anything bigger is not ours
REWRITE_AFTER = timedelta(minutes=10)  # an unchanged summary is written again only this often
RECENT = timedelta(days=7)  # summary.RECENT: a reminder with no end stays urgent this long


def write_summary(state_dir: Path | str, timeline: Timeline, state: State, now: datetime) -> str | None:
    """Write the summary for `now` (skipped when the file already says the same and is recent).
    Returns None, or one line saying why the file could not be written; never raises for that."""
    from reminderd.errors import StateError
    from reminderd.files import write_atomically
    from reminderd.summary import summarize

    path = os.path.join(state_dir, NAME)
    content = summarize(timeline, state, now)
    old = read_summary(state_dir, now)
    if old is not None and {k: v for k, v in old.items() if k not in ("schema_version", "written_at")} == content \
            and now - written_at(old) < REWRITE_AFTER:
        return None
    document = {"schema_version": SCHEMA_VERSION, "written_at": now.isoformat(timespec="seconds"), **content}
    try:
        write_atomically(path, lightjson.dumps(document, sort_keys=True).encode("utf-8"))  # status imports no json
    except StateError as error:
        return str(error)
    return None


def read_summary(state_dir: Path | str, now: datetime) -> dict[str, Any] | None:
    """The summary as written, if it is ready at `now`; None if not."""
    try:
        with open(os.path.join(state_dir, NAME), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return None
        document = lightjson.loads(data)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION \
            or type(document.get("schema_version")) is not int:
        return None
    written = _instant(document.get("written_at"))
    if written is None or abs(now - written) > MAX_AGE:
        return None
    if not isinstance(document.get("credits"), list) or not isinstance(document.get("reminders"), list):
        return None
    return document


def _instant(value: object) -> datetime | None:
    """An ISO 8601 time with an offset, or None."""
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and value == value and abs(value) < 1e15 else None  # not NaN, not absurd


# -- what a reader at `now` takes from it ---------------------------------------------------------


def credits(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The credits in play, each entry checked: the fields a reader uses have their types."""
    out = []
    for entry in document["credits"]:
        if isinstance(entry, dict) and _text(entry.get("id")) and _text(entry.get("phase")):
            out.append(entry)
    return out


def urgent(document: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The most urgent reminder live at `now` (due, not past its end, not snoozed), if any: by rank,
    then the nearest event; of one series (credit and kind) the latest due, which speaks closest to it."""
    live: list[tuple[tuple[float, float, float], int, dict[str, Any]]] = []
    for entry in document["reminders"]:
        if not isinstance(entry, dict) or not _text(entry.get("id")) or not _text(entry.get("words")):
            continue
        due, until = _instant(entry.get("due")), _instant(entry.get("until"))
        snoozed, rank = _instant(entry.get("snoozed_until")), _number(entry.get("rank"))
        if due is None or rank is None or due > now or (snoozed is not None and snoozed > now):
            continue
        if (until is not None and until <= now) or (until is None and now - due > RECENT):
            continue
        event = _instant(entry.get("event_at")) or due
        live.append(((rank, event.timestamp(), -due.timestamp()), len(live), entry))
    return min(live, key=lambda item: item[:2])[2] if live else None


def words_at(entry: dict[str, Any], now: datetime) -> str:
    """A reminder's few words at `now`: a warning before its event says the time really left."""
    template, event = _text(entry.get("template")), _instant(entry.get("event_at"))
    if template and "{left}" in template and event is not None and event > now:
        return template.replace("{left}", span_words(event - now, units=2))
    return str(entry["words"])


def expires_at(entry: dict[str, Any]) -> datetime | None:
    return _instant(entry.get("expires_at"))


def claim_deadline(entry: dict[str, Any]) -> datetime | None:
    return _instant(entry.get("claim_deadline"))


def balance_at(entry: dict[str, Any], written: datetime, now: datetime) -> float | None:
    """The balance estimate carried forward from the summary's time at its expected pace."""
    balance, per_day = _number(entry.get("balance")), _number(entry.get("per_day")) or 0.0
    if balance is None:
        return None
    return max(0.0, balance - max(0.0, per_day) * max(0.0, (now - written) / timedelta(days=1)))


def written_at(document: dict[str, Any]) -> datetime:
    instant = _instant(document["written_at"])
    assert instant is not None
    return instant


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def span_words(delta: timedelta, units: int = 1) -> str:
    """timeutil.format_span, without its imports: '6 days 23 hours', rounded down."""
    seconds = int(abs(delta.total_seconds()))
    for index, (_, size) in enumerate(_UNITS):
        if seconds >= size:
            parts = []
            for unit, unit_size in _UNITS[index:index + units]:
                count = seconds // unit_size
                seconds -= count * unit_size
                if count:
                    parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
            return " ".join(parts)
    return "less than a minute"
