"""The usage ledger: what Claude Code's transcripts showed, kept after they are deleted.

One ledger per credit that reads the logs, in the state directory (usage/<credit>.json):
tokens per UTC hour and per model (not dollars: prices and the configured zone may change
later, and daily_usd() applies them when asked), the skipped lines, and for each transcript
file how far it was read. Transcripts are deleted 30 days after their last activity, a credit
lasts 60: the ledger keeps the counts.

Incremental: a file is re-read only when its size, mtime or inode changed, from its saved
offset; a last line without its newline is read again next time; a file that shrank or was
replaced is read whole. A response already counted is recognised by its key (usage_logs.Call)
in usage/<credit>.seen.json, which keeps the keys of the last KEEP_SEEN_DAYS days, so
nothing is counted twice; that index is read only when there is something new to count.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from reminderd.errors import StateError
from reminderd.files import PRIVATE, write_atomically
from reminderd.offers import Price
from reminderd.usage_logs import HOUR_FORMAT, USAGE_MARK, Skip, Tokens, price_tokens

VERSION = 1
KEEP_SEEN_DAYS = 40
RACY_NS = 2_000_000_000  # a file changed this close to a scan may change again unseen by stat: look again
TAIL = 256  # bytes before the saved offset, fingerprinted: a file rewritten in place is read whole


class Ledger(NamedTuple):
    hours: Mapping[str, Mapping[str, Tokens]]  # "2026-02-09T01" (UTC) -> model -> tokens
    skipped: Mapping[str, int]  # reason -> lines
    files: int  # transcript files it has read
    scanned_at: datetime | None


EMPTY = Ledger({}, {}, 0, None)


class DaySpend(NamedTuple):
    day: date
    usd: float
    by_model: Mapping[str, float]


class Priced(NamedTuple):
    days: tuple[DaySpend, ...]
    unknown: Mapping[str, str]  # model -> what it was priced as


def _paths(state_dir: Path, credit_id: str) -> tuple[Path, Path, Path]:
    base = state_dir / "usage"
    return base / f"{credit_id}.json", base / f"{credit_id}.seen.json", base / f"{credit_id}.lock"


# -- reading the ledger (cheap: what status needs) ----------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        return None  # damaged: rebuilt from the transcripts that still exist


def _summary(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        return {"version": VERSION, "hours": {}, "files": {}, "scanned_at": None}
    return raw


def load(state_dir: Path, credit_id: str) -> Ledger:
    raw = _summary(_read_json(_paths(state_dir, credit_id)[0]))
    return _ledger(raw)


def _ledger(raw: dict[str, Any]) -> Ledger:
    hours: dict[str, dict[str, Tokens]] = {}
    for hour, models in raw.get("hours", {}).items():
        with contextlib.suppress(TypeError, ValueError):
            hours[hour] = {model: Tokens(*map(int, counts)) for model, counts in models.items()}
    skipped: dict[str, int] = {}
    for entry in raw.get("files", {}).values():
        for reason, count in entry.get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + int(count)
    scanned = raw.get("scanned_at")
    return Ledger(hours, skipped, len(raw.get("files", {})), datetime.fromisoformat(scanned) if scanned else None)


# -- bringing it up to date -----------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE)
    except OSError as exc:
        raise StateError(f"{path}: cannot open the lock file: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _Counter:
    """Applies calls to hour buckets, replacing an earlier copy of the same response.

    Over a large tree this runs once per usage line: plain tuples and lists, the six counts
    updated in place.
    """

    def __init__(self, hours: dict[str, dict[str, list[int]]], seen: dict[str, list[Any]]) -> None:
        self.hours, self.seen = hours, seen

    def add(self, key: str, hour: str, model: str, tokens: tuple[int, ...], sidechain: bool) -> None:
        old = self.seen.get(key)
        if old is not None:
            # keep the copy with more tokens (a streaming partial comes first), else the main one
            if (old[2] + old[3] + old[4] + old[5] + old[6], not old[8]) >= (
                    tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4], not sidechain):
                return
            self._bucket(old[0], old[1], old[2:8], -1)
        self._bucket(hour, model, tokens, 1)
        self.seen[key] = (sys.intern(hour), model, *tokens, sidechain)  # compact: hours shared, a tuple

    def _bucket(self, hour: str, model: str, tokens: Any, sign: int) -> None:
        models = self.hours.get(hour)
        if models is None:
            models = self.hours[hour] = {}
        counts = models.get(model)
        if counts is None:
            models[model] = [sign * value for value in tokens]
            return
        a, b, c, d, e, f = tokens
        counts[0] += sign * a
        counts[1] += sign * b
        counts[2] += sign * c
        counts[3] += sign * d
        counts[4] += sign * e
        counts[5] += sign * f


WHOLE_FILE = 64 * 1024 * 1024  # read in one piece up to this size (no joins); larger files in blocks
CHUNK = 16 * 1024 * 1024


def _read_new_lines(path: Path, start: int, reader: Any, counter: _Counter, skipped: dict[str, int]) -> int:
    """Count the complete lines from `start`; return the offset to resume from next time.

    Only the lines that hold the usage key are looked at (found with bytes.find and decoded
    from a memoryview, without a copy): the many long lines without it cost no Python work.
    A last line without its newline is left for next time unless it is a whole usage line.
    """
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start  # where `data` begins in the file
        whole = os.fstat(handle.fileno()).st_size - start <= WHOLE_FILE
        data = handle.read() if whole else handle.read(CHUNK)  # read(): sized from fstat, no big empty buffer
        while True:
            block = b"" if whole else handle.read(CHUNK)
            at_end = not block
            if block:
                data += block
            end = len(data) if at_end else data.rfind(b"\n") + 1  # whole lines only, unless at the end
            _count_block(data, end, reader, counter, skipped)
            if at_end:
                last_newline = data.rfind(b"\n") + 1
                tail = data[last_newline:]
                if USAGE_MARK in tail:
                    fields = reader.parse(tail.rstrip(b"\r"))
                    if fields is not None and not isinstance(fields, Skip):  # whole, it only lacks its newline
                        counter.add(*fields)
                        return offset + len(data)
                return offset + last_newline
            offset += end
            data = data[end:]


def _count_block(data: bytes, end: int, reader: Any, counter: _Counter, skipped: dict[str, int]) -> None:
    """Count the newline-terminated lines of data[:end] that hold the usage key."""
    view, find, rfind, parse, add = memoryview(data), data.find, data.rfind, reader.parse, counter.add
    position = 0
    while (hit := find(USAGE_MARK, position, end)) >= 0:
        line_start = rfind(b"\n", position, hit) + 1 or position
        line_end = find(b"\n", hit, end)
        if line_end < 0:
            return
        position = line_end + 1
        if data[line_end - 1] == 13:  # CRLF
            line_end -= 1
        fields = parse(view[line_start:line_end])
        if type(fields) is tuple:  # the common case first; a Skip is a NamedTuple, not a tuple exactly
            add(*fields)
        elif fields is not None:
            skipped[fields.reason] = skipped.get(fields.reason, 0) + 1


def refresh(state_dir: Path, credit_id: str, roots: list[Path], now: datetime) -> Ledger:
    """Read what is new in the transcripts below `roots` into the credit's ledger."""
    from reminderd.usage_logs import LineReader, transcript_files

    summary_path, seen_path, lock_path = _paths(state_dir, credit_id)
    with _locked(lock_path):
        raw = _summary(_read_json(summary_path))
        known: dict[str, Any] = raw["files"]
        current: dict[str, os.stat_result] = {}
        for path in transcript_files(roots):
            with contextlib.suppress(OSError):
                current[str(path)] = path.stat()
        changed = [p for p, st in current.items() if _changed(known.get(p), st)]
        gone = set(known) - set(current)
        if not changed and not gone:
            return _ledger(raw)
        seen = _read_json(seen_path) if changed else None
        seen = seen if isinstance(seen, dict) else {}
        hours = raw["hours"]
        counter, reader = _Counter(hours, seen), LineReader() if changed else None
        scan_ns = time.time_ns()  # the file system's clock, which wrote the mtimes (not the plan's `now`)
        for name in changed:
            st, entry = current[name], known.get(name) or {}
            try:
                resume = _resume_at(Path(name), entry, st)
                skipped = dict(entry.get("skipped", {})) if resume else {}
                offset = _read_new_lines(Path(name), resume, reader, counter, skipped)
                tail = _tail(Path(name), offset)
            except OSError:
                continue  # vanished or unreadable now: tried again next time
            known[name] = {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "offset": offset,
                           "tail": tail, "racy": st.st_mtime_ns > scan_ns - RACY_NS, "skipped": skipped}
        for name in gone:
            del known[name]  # its counts stay: that is what the ledger is for
        horizon = (now - timedelta(days=KEEP_SEEN_DAYS)).strftime(HOUR_FORMAT)
        seen = {k: v for k, v in seen.items() if v[0] >= horizon}
        raw["hours"] = {h: {m: c for m, c in models.items() if any(c)} for h, models in hours.items()}
        raw["scanned_at"] = now.isoformat()
        if changed:
            write_atomically(seen_path, json.dumps(seen, separators=(",", ":")).encode(), mode=PRIVATE)
        write_atomically(summary_path, json.dumps(raw, separators=(",", ":"), sort_keys=True).encode(),
                         mode=PRIVATE)
        return _ledger(raw)


def _changed(entry: Any, st: os.stat_result) -> bool:
    if not isinstance(entry, dict) or entry.get("racy"):
        return True
    return (entry.get("ino"), entry.get("size"), entry.get("mtime_ns")) != (st.st_ino, st.st_size, st.st_mtime_ns)


def _tail(path: Path, offset: int) -> str:
    """A fingerprint of the TAIL bytes before `offset`."""
    import hashlib

    with open(path, "rb") as handle:
        handle.seek(max(0, offset - TAIL))
        return hashlib.sha1(handle.read(min(offset, TAIL)), usedforsecurity=False).hexdigest()


def _resume_at(path: Path, entry: dict[str, Any], st: os.stat_result) -> int:
    """Where to go on reading: the saved offset if the file is the one read up to there (same
    inode, not shorter, same bytes before the offset); else 0, the whole file again (the
    responses already counted are recognised, so nothing counts twice)."""
    offset = entry.get("offset", 0)
    if not offset or entry.get("ino") != st.st_ino or st.st_size < offset:
        return 0
    return offset if _tail(path, offset) == entry.get("tail") else 0


# -- in dollars, per local day (pure) -----------------------------------------------------------------


def daily_usd(ledger: Ledger, zone: ZoneInfo, prices: Mapping[str, Price], web_search_usd: float,
              start: date | None = None, end: date | None = None) -> Priced:
    """USD per local day in `zone`, from `start` to `end` inclusive (None: the ledger's own
    extent); days without use are listed with 0. An hour that spans a local midnight (zones
    with a half-hour offset) is split between the two days in proportion."""
    by_day: dict[date, dict[str, float]] = {}
    unknown: dict[str, str] = {}
    for hour_text, models in ledger.hours.items():
        try:
            begin = datetime.strptime(hour_text, HOUR_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            continue
        for model, tokens in models.items():
            priced = price_tokens(model, tokens, prices, web_search_usd)
            if not priced.known:
                unknown[model] = priced.priced_as
            for day, share in _local_days(begin, zone):
                day_models = by_day.setdefault(day, {})
                day_models[model] = day_models.get(model, 0.0) + priced.usd * share
    if not by_day and (start is None or end is None):
        return Priced((), unknown)
    first = start or min(by_day)
    last = end or max(by_day)
    days = []
    day = first
    while day <= last:
        usd_by_model = by_day.get(day, {})
        days.append(DaySpend(day, math.fsum(usd_by_model.values()), dict(sorted(usd_by_model.items()))))
        day += timedelta(days=1)
    return Priced(tuple(days), unknown)


def _local_days(begin: datetime, zone: ZoneInfo) -> list[tuple[date, float]]:
    local_start = begin.astimezone(zone)
    local_end = (begin + timedelta(hours=1)).astimezone(zone)
    if local_start.date() == local_end.date() or local_end.time() == datetime.min.time():
        return [(local_start.date(), 1.0)]
    midnight = datetime.combine(local_end.date(), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    before = (midnight - begin) / timedelta(hours=1)
    return [(local_start.date(), before), (local_end.date(), 1.0 - before)]


# -- for the commands and the daemon ---------------------------------------------------------------


def roots_for(usage_dirs: tuple[Path, ...], environ: Mapping[str, str], home: Path) -> list[Path]:
    from reminderd.usage_logs import default_roots

    return list(usage_dirs) or default_roots(environ, home)


def current(config: Any, state_dir: Path, now: datetime, report: Any = None) -> dict[str, Ledger]:
    """The up-to-date ledger of every credit that reads Claude Code's logs (refresh() each);
    a ledger that cannot be written is used as last saved, and `report` is told why."""
    out: dict[str, Ledger] = {}
    for credit in config.credits:
        if not credit.usage.claude_code_logs:
            continue
        roots = roots_for(credit.usage.claude_code_dirs, os.environ, Path.home())
        try:
            out[credit.id] = refresh(state_dir, credit.id, roots, now)
        except StateError as exc:
            if report is not None:
                report(f"{exc}; using the usage ledger as last saved")
            out[credit.id] = load(state_dir, credit.id)
    return out
