"""The usage ledger: what Claude Code's transcripts showed, kept after they are deleted.

One ledger per credit that reads the logs, in the state directory (usage/<credit>.sqlite, the
standard library's SQLite): tokens per UTC hour and per model (not dollars: prices and the
configured zone may change later, and daily_usd() applies them when asked), and for each
transcript file how far it was read and which lines it skipped. Transcripts are deleted 30
days after their last activity, a credit lasts 60: the ledger keeps the counts.

Incremental: a file is re-read only when its size, mtime or inode changed, from its saved
offset; a last line without its newline is read again next time; a file that shrank or was
replaced is read whole. A response already counted is recognised by its key (usage_logs.Call)
in the `seen` table, which keeps the keys of the last KEEP_SEEN_DAYS days, so nothing is
counted twice. Memory stays bounded by one transcript's usage lines, whatever the tree's size,
and one transaction commits the counts, the offsets and the keys together.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from reminderd.errors import StateError
from reminderd.offers import Price
from reminderd.usage_logs import HOUR_FORMAT, USAGE_MARK, Skip, Tokens, price_tokens

SCHEMA = 1
KEEP_SEEN_DAYS = 40
RACY_NS = 2_000_000_000  # a file changed this close to a scan may change again unseen by stat: look again
TAIL = 256  # bytes before the saved offset, fingerprinted: a file rewritten in place is read whole
COUNTS = ("input", "output", "write_5m", "write_1h", "cache_read", "web_searches")
REASONS = ("malformed", "synthetic")
BATCH = 500  # keys looked up in one query


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


def ledger_path(state_dir: Path, credit_id: str) -> Path:
    return state_dir / "usage" / f"{credit_id}.sqlite"


_TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hours (hour TEXT, model TEXT, {', '.join(f'{c} INTEGER' for c in COUNTS)},
                                  PRIMARY KEY (hour, model)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER,
                                  offset INTEGER, tail TEXT, racy INTEGER,
                                  {', '.join(f'{r} INTEGER' for r in REASONS)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, hour TEXT, model TEXT,
                                 {', '.join(f'{c} INTEGER' for c in COUNTS)}, sidechain INTEGER) WITHOUT ROWID;
"""


@contextlib.contextmanager
def _open(path: Path, write: bool) -> Iterator[Any]:
    """The ledger's database; for a write, inside one transaction that holds the write lock.

    A file that is not a database is put aside (path.damaged-<time>) and the ledger rebuilt
    from the transcripts that still exist.
    """
    import sqlite3

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"{path}: cannot open the usage ledger: {exc}") from None
    try:
        if write:
            try:
                db.executescript(_TABLES)  # before BEGIN: executescript commits what is open
            except sqlite3.DatabaseError as exc:
                if "locked" in str(exc):
                    raise
                db.close()
                os.replace(path, path.with_name(f"{path.name}.damaged-{int(time.time())}"))
                with _open(path, write) as fresh:
                    yield fresh
                return
            db.execute("BEGIN IMMEDIATE")  # one writer at a time; readers go on
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        yield db
        if write:
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StateError(f"{path}: the usage ledger failed: {exc}") from None
    finally:
        db.close()
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)


def load(state_dir: Path, credit_id: str) -> Ledger:
    """The ledger as last saved (what status needs); an absent one is empty."""
    path = ledger_path(state_dir, credit_id)
    if not path.exists():
        return EMPTY
    try:
        with _open(path, write=False) as db:
            return _ledger(db)
    except StateError:
        return EMPTY
    except Exception as exc:  # noqa: BLE001 (sqlite3's errors, raised while reading: status must not crash)
        if type(exc).__module__ == "sqlite3":
            return EMPTY
        raise


def _ledger(db: Any) -> Ledger:
    hours: dict[str, dict[str, Tokens]] = {}
    for hour, model, *counts in db.execute(f"SELECT hour, model, {', '.join(COUNTS)} FROM hours"):
        hours.setdefault(hour, {})[model] = Tokens(*counts)
    row = db.execute(f"SELECT count(*), {', '.join(f'total({r})' for r in REASONS)} FROM files").fetchone()
    skipped = {reason: int(n) for reason, n in zip(REASONS, row[1:], strict=True) if n}
    scanned = db.execute("SELECT value FROM meta WHERE name = 'scanned_at'").fetchone()
    return Ledger(hours, skipped, row[0], datetime.fromisoformat(scanned[0]) if scanned else None)


# -- bringing it up to date -----------------------------------------------------------------------


class _Counter:
    """Applies calls to hour buckets, replacing an earlier copy of the same response.

    Over a large tree this runs once per usage line: plain tuples and dicts. `hours` collects
    the changes of one refresh; `seen` holds the keys met in the current file, looked up in
    the database in batches before it is counted (see _prefetch).
    """

    def __init__(self) -> None:
        self.hours: dict[tuple[str, str], list[int]] = {}
        self.seen: dict[str, tuple[Any, ...]] = {}
        self.changed: set[str] = set()

    def add(self, key: str, hour: str, model: str, tokens: tuple[int, ...], sidechain: bool) -> None:
        old = self.seen.get(key)
        if old is not None:
            # keep the copy with more tokens (a streaming partial comes first), else the main one
            if (old[2] + old[3] + old[4] + old[5] + old[6], not old[8]) >= (
                    tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4], not sidechain):
                return
            self._bucket(old[0], old[1], old[2:8], -1)
        self._bucket(hour, model, tokens, 1)
        self.seen[key] = (hour, model, *tokens, sidechain)
        self.changed.add(key)

    def _bucket(self, hour: str, model: str, tokens: Any, sign: int) -> None:
        counts = self.hours.get((hour, model))
        if counts is None:
            counts = self.hours[(hour, model)] = [0, 0, 0, 0, 0, 0]
        a, b, c, d, e, f = tokens
        counts[0] += sign * a
        counts[1] += sign * b
        counts[2] += sign * c
        counts[3] += sign * d
        counts[4] += sign * e
        counts[5] += sign * f


class _Collector:
    """Gathers a file's parsed usage lines, so their keys are looked up in one go."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, tuple[int, ...], bool]] = []

    def add(self, *fields: Any) -> None:
        self.calls.append(fields)


WHOLE_FILE = 64 * 1024 * 1024  # read in one piece up to this size (no joins); larger files in blocks
CHUNK = 16 * 1024 * 1024


def _read_new_lines(path: Path, start: int, reader: Any, counter: Any, skipped: dict[str, int]) -> int:
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


def _count_block(data: bytes, end: int, reader: Any, counter: Any, skipped: dict[str, int]) -> None:
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

    with _open(ledger_path(state_dir, credit_id), write=True) as db:
        known = {row[0]: row[1:] for row in db.execute(
            f"SELECT path, ino, size, mtime_ns, offset, tail, racy, {', '.join(REASONS)} FROM files")}
        current = {str(path): st for path, st in transcript_files(roots)}
        changed = [p for p, st in current.items() if _changed(known.get(p), st)]
        gone = set(known) - set(current)
        if changed or gone:
            reader, counter = LineReader() if changed else None, _Counter()
            scan_ns = time.time_ns()  # the file system's clock, which wrote the mtimes (not the plan's `now`)
            for name in changed:
                _read_file(db, name, current[name], known.get(name), reader, counter, scan_ns)
            db.executemany("DELETE FROM files WHERE path = ?", [(name,) for name in gone])  # counts stay
            _save_hours(db, counter.hours)
            horizon = (now - timedelta(days=KEEP_SEEN_DAYS)).strftime(HOUR_FORMAT)
            db.execute("DELETE FROM seen WHERE hour < ?", (horizon,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('scanned_at', ?)", (now.isoformat(),))
        return _ledger(db)


def _read_file(db: Any, name: str, st: os.stat_result, entry: Any, reader: Any, counter: _Counter,
               scan_ns: int) -> None:
    """Count what is new in one transcript, against the keys the ledger has already seen."""
    path, collector = Path(name), _Collector()
    skipped: dict[str, int] = {}
    try:
        resume = _resume_at(path, entry, st)
        offset = _read_new_lines(path, resume, reader, collector, skipped)
        tail = _tail(path, offset)
    except OSError:
        return  # vanished or unreadable now: tried again next time
    if resume and entry is not None:
        for reason, before in zip(REASONS, entry[6:], strict=True):
            skipped[reason] = skipped.get(reason, 0) + (before or 0)
    keys = list({call[0] for call in collector.calls} - counter.seen.keys())
    for i in range(0, len(keys), BATCH):
        batch = keys[i:i + BATCH]
        for key, *row in db.execute(f"SELECT key, hour, model, {', '.join(COUNTS)}, sidechain FROM seen "
                                    f"WHERE key IN ({', '.join('?' * len(batch))})", batch):
            counter.seen[key] = (*row[:8], bool(row[8]))
    for call in collector.calls:
        counter.add(*call)
    db.executemany(f"INSERT OR REPLACE INTO seen VALUES (?, ?, ?, {', '.join('?' * len(COUNTS))}, ?)",
                   [(key, *counter.seen[key][:8], int(counter.seen[key][8])) for key in counter.changed])
    counter.seen.clear()  # memory stays bounded by one file's lines
    counter.changed.clear()
    db.execute(f"INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, {', '.join('?' * len(REASONS))})",
               (name, st.st_ino, st.st_size, st.st_mtime_ns, offset, tail, int(st.st_mtime_ns > scan_ns - RACY_NS),
                *(skipped.get(reason, 0) for reason in REASONS)))


def _save_hours(db: Any, changes: dict[tuple[str, str], list[int]]) -> None:
    db.executemany(
        f"INSERT INTO hours VALUES (?, ?, {', '.join('?' * len(COUNTS))}) ON CONFLICT (hour, model) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTS),
        [(hour, model, *counts) for (hour, model), counts in changes.items() if any(counts)])
    db.execute(f"DELETE FROM hours WHERE {' AND '.join(f'{c} = 0' for c in COUNTS)}")


def _changed(entry: Any, st: os.stat_result) -> bool:
    if entry is None or entry[5]:  # unknown, or racy: changed within RACY_NS of the last look
        return True
    return (entry[0], entry[1], entry[2]) != (st.st_ino, st.st_size, st.st_mtime_ns)


def _tail(path: Path, offset: int) -> str:
    """A fingerprint of the TAIL bytes before `offset`."""
    import hashlib

    with open(path, "rb") as handle:
        handle.seek(max(0, offset - TAIL))
        return hashlib.sha1(handle.read(min(offset, TAIL)), usedforsecurity=False).hexdigest()


def _resume_at(path: Path, entry: Any, st: os.stat_result) -> int:
    """Where to go on reading: the saved offset if the file is the one read up to there (same
    inode, not shorter, same bytes before the offset); else 0, the whole file again (the
    responses already counted are recognised, so nothing counts twice)."""
    if entry is None:
        return 0
    ino, _, _, offset, tail = entry[:5]
    if not offset or ino != st.st_ino or st.st_size < offset:
        return 0
    return int(offset) if _tail(path, offset) == tail else 0


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
        shares = _local_days(begin, zone)
        if start is not None and all(day < start for day, _ in shares) or \
                end is not None and all(day > end for day, _ in shares):
            continue
        for model, tokens in models.items():
            priced = price_tokens(model, tokens, prices, web_search_usd)
            if not priced.known:
                unknown[model] = priced.priced_as
            for day, share in shares:
                day_models = by_day.setdefault(day, {})
                day_models[model] = day_models.get(model, 0.0) + priced.usd * share
    if not by_day and (start is None or end is None):
        return Priced((), unknown)
    first = start or min(by_day)
    last = end or max(by_day)
    by_day = {day: models for day, models in by_day.items() if first <= day <= last}
    days = []
    day = first
    while day <= last:
        usd_by_model = by_day.get(day, {})
        days.append(DaySpend(day, math.fsum(usd_by_model.values()), dict(sorted(usd_by_model.items()))))
        day += timedelta(days=1)
    return Priced(tuple(days), unknown)


def _local_days(begin: datetime, zone: ZoneInfo) -> list[tuple[date, float]]:
    """The local day(s) of the UTC hour starting at `begin`, with each one's share of it: an
    hour starting at hh:30 local (a half-hour zone) at 23:30 spans midnight and is split."""
    local = begin.astimezone(zone)
    if local.minute == 0 or local.hour != 23:
        return [(local.date(), 1.0)]
    before = (60 - local.minute) / 60
    return [(local.date(), before), (local.date() + timedelta(days=1), 1.0 - before)]


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
