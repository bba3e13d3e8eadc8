"""A source: what Claude Code's status line saw of the plan's quota, kept in `quota.json` in the state
directory. The status line records (record_seen, at most once a minute, atomically); `status`,
`usage` and the daemon read (load_samples) and hand the samples to plan() as Facts.quota.

The status-line input carries `rate_limits.five_hour` and `.seven_day` ({used_percentage 0-100,
resets_at unix seconds}) with a subscription login only. Each row keeps both limits, a missing one as
null, so "below 100 %", "at 100 %" and "unknown" stay apart (quota.py says what each proves).
Recording is on the status line's path: it imports nothing heavy, and rows are plain numbers
[at, five_used, five_resets, seven_used, seven_resets].

Pruned to what a credit's life needs: rows older than KEEP go, and of the rows that say the same
about one window of one limit only the one that proves the most stays (the latest below 100 %, the
earliest at 100 %), which keeps what quota.history() derives and bounds the file.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from reminderd import lightjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path
    from typing import Any

    from reminderd.quota import Limit, QuotaSample
    from reminderd.settings import Config

NAME = "quota.json"
LOCK = ".quota.lock"
SCHEMA_VERSION = 1
EVERY = 60.0  # seconds: at most one write a minute, whatever runs the status line
KEEP = 400 * 86400  # seconds of history kept: longer than any credit's life
MAX_ROWS = 20_000
MAX_BYTES = 8 << 20
FIVE_HOURS, SEVEN_DAYS = 5 * 3600, 7 * 86400
FIRST_TIME, LAST_TIME = 1e9, 1e11  # plausible unix seconds (2001 to 5138): anything else is not a time

Row = tuple[float, float | None, float | None, float | None, float | None]


def _limit(value: object) -> tuple[float, float] | None:
    """(used %, resets_at) of one `rate_limits` entry, or None when it does not say both plainly."""
    if not isinstance(value, dict):
        return None
    used, resets = value.get("used_percentage"), value.get("resets_at")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (used, resets)):
        return None
    assert isinstance(used, int | float) and isinstance(resets, int | float)
    if not (0 <= used <= 1000 and FIRST_TIME <= resets <= LAST_TIME):  # also NaN
        return None
    return float(used), float(resets)


def row_from_statusline(data: dict[str, Any], at: float) -> Row | None:
    """The row a status-line input gives at `at` (unix seconds); None when it says nothing of the quota."""
    limits = data.get("rate_limits")
    if not isinstance(limits, dict):
        return None
    five, seven = _limit(limits.get("five_hour")), _limit(limits.get("seven_day"))
    if five is None and seven is None:
        return None
    return (float(int(at)), *(five or (None, None)), *(seven or (None, None)))


def record_seen(state_dir: str, data: dict[str, Any], at: float) -> bool:
    """Record what a status-line input says of the quota, unless a row was written less than EVERY
    seconds ago (by the wall clock) or another run is writing. True when a row was written."""
    row = row_from_statusline(data, at)
    if row is None:
        return False
    path = os.path.join(state_dir, NAME)
    try:
        if 0 <= time.time() - os.stat(path).st_mtime < EVERY:
            return False
    except FileNotFoundError:
        pass
    import fcntl

    from reminderd.files import write_atomically

    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another status line is recording this minute
        rows = pruned([*_read_rows(path), row], at)
        write_atomically(path, _encode(rows))
        return True
    finally:
        os.close(fd)


def _encode(rows: list[Row]) -> bytes:
    def number(value: float | None) -> float | int | None:
        return int(value) if value is not None and value == int(value) else value

    return lightjson.dumps({"schema_version": SCHEMA_VERSION, "samples": [[number(v) for v in r] for r in rows]},
                           compact=True).encode()


def _read_rows(path: str) -> list[Row]:
    """The rows of the file; nothing of a missing, damaged or newer file, and no malformed row."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        document = lightjson.loads(data) if len(data) <= MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        return []
    rows: list[Row] = []
    samples = document.get("samples")
    for raw in samples if isinstance(samples, list) else []:
        if not isinstance(raw, list) or len(raw) != 5:
            continue
        at = raw[0]
        if not isinstance(at, int | float) or isinstance(at, bool) or not FIRST_TIME <= at <= LAST_TIME:
            continue
        five, seven = _limit({"used_percentage": raw[1], "resets_at": raw[2]}), \
            _limit({"used_percentage": raw[3], "resets_at": raw[4]})
        if five is not None or seven is not None:
            rows.append((float(at), *(five or (None, None)), *(seven or (None, None))))
    return rows


def pruned(rows: list[Row], now: float) -> list[Row]:
    """Rows younger than KEEP, oldest first; of those telling the same of one window of one limit,
    the one that proves the most (see the module's doc)."""
    best: dict[tuple[int, float, bool], Row] = {}
    for row in rows:
        if row[0] < now - KEEP:
            continue
        for index in (1, 3):
            used, resets = row[index], row[index + 1]
            if used is None or resets is None or resets <= row[0]:
                continue  # a reset already past says nothing about this window
            key = (index, round(resets / 60), used >= 100)
            kept = best.get(key)
            if kept is None or (row[0] < kept[0] if used >= 100 else row[0] > kept[0]):
                best[key] = row
    return sorted(set(best.values()), key=_order)[-MAX_ROWS:]


def _order(row: Row) -> tuple[float, ...]:
    return tuple(-1.0 if v is None else v for v in row)


def load_samples(state_dir: Path | str) -> tuple[QuotaSample, ...]:
    """Every recorded sample, oldest first; none from a missing or damaged file."""
    from datetime import UTC, datetime

    from reminderd.quota import Limit, QuotaSample

    def limit(used: float | None, resets: float | None) -> Limit | None:
        if used is None or resets is None:
            return None
        return Limit(used, datetime.fromtimestamp(resets, UTC))

    return tuple(QuotaSample(datetime.fromtimestamp(r[0], UTC), limit(r[1], r[2]), limit(r[3], r[4]))
                 for r in sorted(_read_rows(os.path.join(state_dir, NAME)), key=_order))


class QuotaSource:
    """The samples as a source (seams.Source): facts.Facts.quota, read again every minute (a small file)."""

    name = "Claude Code's status line"
    field = "quota"
    every = timedelta(minutes=1)

    def refresh(self, config: Config, state_dir: Path, now: datetime, deadline: float) -> tuple[QuotaSample, ...]:
        return load_samples(state_dir)
