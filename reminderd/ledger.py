"""The usage ledger: what Claude Code's transcripts showed, kept after they are deleted.

One ledger per credit that reads the logs, in the state directory (usage/<credit>.sqlite, the
standard library's SQLite): tokens per UTC hour and per model (not dollars: prices and the
configured zone may change later: spend.py applies them when asked), and for each
transcript file how far it was read, which lines it skipped and the oldest hour it holds.
Transcripts are deleted 30 days after their last activity, a credit lasts 60: the ledger
keeps the counts.

Incremental: a file is re-read only when its size, mtime or inode changed, from its saved
offset; a last line without its newline is read again next time; a file that shrank or was
replaced is read whole. Each response is a row of the `seen` table (usage_logs.Row): a copy
met again replaces it only if it is better (usage_logs.outranks, a total order: the totals
never depend on the order files are read in), and then moves its counts in `hours` (what
load() reads), so nothing is counted twice.

`seen` cannot keep every key for ever, and a response may come back long after it was counted
(a resumed session, a tree read again from another root). So the ledger keeps a horizon: the
keys of every hour after it are kept. It only rises, and never past the oldest hour held by a
transcript still present, nor past KEEP_SEEN_DAYS ago; below it a response that `seen` does
not know may have been counted already, so it is skipped ("too-old") and its file named,
never counted twice.

Memory stays bounded by one transcript's usage lines, SQLite's page cache and the (hour,
model) pairs, whatever the tree's size, and one transaction commits the counts, the offsets
and the keys together. A refresh may be given a deadline: past it no new transcript is
started, what was read is committed, and the rest waits for the next refresh (a first scan of
a large tree runs in slices). transcripts.py reads a file, transcript_workers.py many at
once (benchmarks/usage_logs has the figures).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reminderd.errors import StateError
from reminderd.prices import Tokens
from reminderd.spend import HOUR_FORMAT, NO_USAGE, LoggedUsage
from reminderd.usage_logs import REASONS, TOO_OLD, outranks

SCHEMA = 2
KEEP_SEEN_DAYS = 40
WRITE_CACHE_KB = 16 * 1024  # SQLite's page cache when writing (its default, 2 MB, spills a large scan)
RACY_NS = 2_000_000_000  # a file changed this close to a scan may change again unseen by stat: look again
COUNTS = ("input", "output", "write_5m", "write_1h", "cache_read", "web_searches")
SKIPS = tuple(reason.replace("-", "_") for reason in REASONS)  # the files table's columns
PROBLEMS = ("malformed", "too-long", "too-old")  # the reasons a file is named for ("synthetic" is no problem)
MAX_SUM = 2**63 - 1  # SQLite's largest integer: an hour's count stops there
FIRST_HOUR, LAST_HOUR = "1971-01-01T00", "9998-12-31T23"  # usage_logs.MIN_YEAR, MAX_YEAR


def ledger_path(state_dir: Path, credit_id: str) -> Path:
    return state_dir / "usage" / f"{credit_id}.sqlite"


_TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hours (hour TEXT, model TEXT, {', '.join(f'{c} INTEGER' for c in COUNTS)},
                                  PRIMARY KEY (hour, model)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (path BLOB PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER,
                                  offset INTEGER, tail TEXT, racy INTEGER, malformed INTEGER, synthetic INTEGER,
                                  oldest TEXT, too_long INTEGER DEFAULT 0, too_old INTEGER DEFAULT 0) WITHOUT ROWID;
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

    from reminderd.files import make_private_dirs

    try:
        make_private_dirs(path.parent)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))  # 0600 before SQLite writes a byte to it
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
            db.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KB}")  # `seen` of a first scan stays in memory
            db.execute("BEGIN IMMEDIATE")  # one writer at a time; readers go on
            _check_schema(db, path)
        yield db
        if write:
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StateError(f"{path}: the usage ledger failed: {exc}") from None
    finally:
        db.close()
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)


def _check_schema(db: Any, path: Path) -> None:
    """Refuse a ledger of a newer reminderd; bring an older one up to this schema; mark a new
    one. No write otherwise: a re-scan of an unchanged tree stays cheap."""
    row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    if row is None:
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
    elif str(row[0]).isdigit() and int(row[0]) > SCHEMA:
        raise StateError(f"{path}: the usage ledger was written by a newer reminderd (schema {row[0]})")
    elif str(row[0]) == "1":
        _migrate_from_1(db)


def _migrate_from_1(db: Any) -> None:
    """Schema 1 kept `seen` for KEEP_SEEN_DAYS before its last scan, paths as text, two reasons.
    Its files' oldest hours are unknown: they are taken as that horizon, which then holds as
    long as those files exist (the safe side: keys are kept, not lost). Counts are untouched."""
    scanned = db.execute("SELECT value FROM meta WHERE name = 'scanned_at'").fetchone()
    horizon = ""
    if scanned:
        with contextlib.suppress(ValueError, OverflowError):
            last = datetime.fromisoformat(scanned[0])
            horizon = (last.astimezone(UTC) - timedelta(days=KEEP_SEEN_DAYS)).strftime(HOUR_FORMAT)
    for column in ("oldest TEXT", "too_long INTEGER DEFAULT 0", "too_old INTEGER DEFAULT 0"):
        db.execute(f"ALTER TABLE files ADD COLUMN {column}")
    db.execute("UPDATE files SET path = CAST(path AS BLOB), oldest = ?", (horizon,))
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [("horizon", horizon), ("schema", str(SCHEMA))])


def load(state_dir: Path, credit_id: str) -> LoggedUsage:
    """The ledger as last saved (what status needs); an absent or unreadable one is empty."""
    path = ledger_path(state_dir, credit_id)
    if not path.exists():
        return NO_USAGE
    try:
        with _open(path, write=False) as db:
            return _ledger(db)
    except StateError:
        return NO_USAGE
    except Exception as exc:  # noqa: BLE001 (sqlite3's errors, raised while reading: status must not crash)
        if type(exc).__module__ == "sqlite3":
            return NO_USAGE
        raise


def _ledger(db: Any) -> LoggedUsage:
    hours: dict[str, dict[str, Tokens]] = {}
    for hour, model, *counts in db.execute(f"SELECT hour, model, {', '.join(COUNTS)} FROM hours "
                                           "WHERE hour BETWEEN ? AND ?", (FIRST_HOUR, LAST_HOUR)):
        hours.setdefault(hour, {})[model] = Tokens(*counts)
    columns = {row[1] for row in db.execute("PRAGMA table_info(files)")}  # a schema-1 ledger read as it is
    reasons = [(reason, column) for reason, column in zip(REASONS, SKIPS, strict=True) if column in columns]
    row = db.execute(f"SELECT count(*), {', '.join(f'total({c})' for _, c in reasons)} FROM files").fetchone()
    skipped = {reason: int(n) for (reason, _), n in zip(reasons, row[1:], strict=True) if n}
    named = [(reason, column) for reason, column in reasons if reason in PROBLEMS]
    skipped_in: dict[str, dict[str, int]] = {}
    for path, *counts in db.execute(f"SELECT path, {', '.join(c for _, c in named)} FROM files "
                                    f"WHERE {' OR '.join(f'{c} > 0' for _, c in named)} ORDER BY path"):
        skipped_in[_shown(path)] = {reason: n for (reason, _), n in zip(named, counts, strict=True) if n}
    meta = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('scanned_at', 'pending')"))
    scanned = datetime.fromisoformat(meta["scanned_at"]) if meta.get("scanned_at") else None
    return LoggedUsage(hours, skipped, row[0], scanned, skipped_in, int(meta.get("pending") or 0))


def _shown(path: bytes | str) -> str:
    """A path as people read it: bytes that are not UTF-8, and control characters (a name can
    hold a terminal's escape codes), shown as \\xNN."""
    text = path if isinstance(path, str) else path.decode("utf-8", "backslashreplace")
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# -- bringing it up to date -----------------------------------------------------------------------

_ROW = f"key, hour, model, {', '.join(COUNTS)}, sidechain"
_LOOKUP = 500  # keys looked up in one query
MEMO = 200_000  # keys a first scan remembers instead of looking them up (about 100 bytes each)
_FILE_COLUMNS = f"path, ino, size, mtime_ns, offset, tail, racy, oldest, {', '.join(SKIPS)}"


def refresh(state_dir: Path, credit_id: str, roots: list[Path], now: datetime,
            deadline: float | None = None) -> LoggedUsage:
    """Read what is new in the transcripts below `roots` into the credit's ledger. Past
    `deadline` (a time.monotonic() value) no new transcript is started; the result's `pending`
    says how many wait for the next refresh."""
    from reminderd.transcript_workers import read_all
    from reminderd.usage_logs import transcript_files

    with _open(ledger_path(state_dir, credit_id), write=True) as db:
        known = {row[0]: row[1:] for row in db.execute(f"SELECT {_FILE_COLUMNS} FROM files")}
        current = {os.fsencode(path): (path, st) for path, st in transcript_files(roots)}
        changed = [name for name, (_, st) in current.items() if _changed(known.get(name), st)]
        gone = set(known) - set(current)
        if changed or gone:
            changed.sort(key=lambda name: -current[name][1].st_mtime_ns)  # the latest first, if cut short
            jobs = [(current[name][0], _resume_at(current[name][0], known.get(name), current[name][1]))
                    for name in changed]
            counter = _Counter(db, _meta(db, "horizon") or "")
            scan_ns = time.time_ns()  # the file system's clock, which wrote the mtimes (not the plan's `now`)
            sizes = [current[name][1].st_size - resume for name, (_, resume) in zip(changed, jobs, strict=True)]
            unread = set(range(len(jobs)))
            for index, read in read_all(jobs, sizes, deadline):
                unread.discard(index)
                if read is not None:  # None: vanished or unreadable now, tried again next time
                    name = changed[index]
                    counter.count(name, current[name][1], known.get(name), jobs[index][1], read, scan_ns)
            counter.save()
            db.executemany("DELETE FROM files WHERE path = ?", [(name,) for name in gone])  # counts stay
            if not unread:  # the horizon moves only when every transcript present has been read
                _raise_horizon(db, counter.horizon, now)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('scanned_at', ?)", (now.isoformat(),))
            # what waits, as people count it: not a file only looked at again because it was racy
            pending = sum(1 for index in unread if _changed(known.get(changed[index]), current[changed[index]][1],
                                                            racy=False))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('pending', ?)", (str(pending),))
        return _ledger(db)


def _meta(db: Any, name: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def _raise_horizon(db: Any, horizon: str, now: datetime) -> None:
    """Forget the keys before the new horizon: the oldest hour of any transcript present, or
    KEEP_SEEN_DAYS ago if that is earlier; never lower than it was."""
    oldest = db.execute("SELECT min(oldest) FROM files").fetchone()[0]
    keep = (now.astimezone(UTC) - timedelta(days=KEEP_SEEN_DAYS)).strftime(HOUR_FORMAT)  # hours are UTC
    new = max(horizon, keep if oldest is None else min(oldest, keep))
    if new != horizon:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('horizon', ?)", (new,))
        db.execute("DELETE FROM seen WHERE hour < ?", (new,))


class _Counter:
    """Counts what was new in each transcript against the copies `seen` holds; what this
    refresh adds to `hours` (per hour and model: a replaced copy's counts move) is saved at the end."""

    def __init__(self, db: Any, horizon: str) -> None:
        self.db, self.horizon = db, horizon
        self.deltas: dict[tuple[str, str], list[int]] = {}
        # With no key in `seen` yet (a first scan), only a key this refresh put there can be
        # found: the keys met are remembered (up to MEMO) and only those are looked up.
        self.memo: set[str] | None = set() if db.execute("SELECT 1 FROM seen LIMIT 1").fetchone() is None else None

    def count(self, name: bytes, st: os.stat_result, entry: Any, resume: int, read: Any, scan_ns: int) -> None:
        skipped = dict(read.skipped)
        oldest = read.oldest
        if resume and entry is not None:  # read on from the offset: what came before still counts
            for reason, before in zip(REASONS, entry[7:], strict=True):
                skipped[reason] = skipped.get(reason, 0) + (before or 0)
            if entry[6] is not None and (oldest is None or entry[6] < oldest):
                oldest = entry[6]
        rows, sums = read.rows, read.sums  # the sums count every row as new: corrected below
        keys = [row[0] for row in rows]
        memo = self.memo
        if memo is None:
            counted = self._lookup(keys)
        else:
            counted = self._lookup([key for key in keys if key in memo])
            memo.update(keys)
            if len(memo) > MEMO:
                self.memo = None
        new, better = rows, []
        if counted or read.oldest is not None and read.oldest < self.horizon:
            new = []
            for row in rows:
                old = counted.get(row[0])
                if old is None and row[1] >= self.horizon:
                    new.append(row)
                    continue
                if old is None:  # seen forgot that hour: it may have been counted, so it is not
                    skipped[TOO_OLD.reason] = skipped.get(TOO_OLD.reason, 0) + 1
                elif outranks(row, old):
                    better.append(row)
                    _add(sums, old, -1)
                    continue
                _add(sums, row, -1)
        for key, counts in sums.items():
            total = self.deltas.get(key)
            if total is None:
                self.deltas[key] = counts
            else:
                for i in range(6):
                    total[i] += counts[i]
        self.db.executemany(f"INSERT INTO seen VALUES (?, ?, ?, {', '.join('?' * len(COUNTS))}, ?)", new)
        self.db.executemany(f"INSERT OR REPLACE INTO seen VALUES (?, ?, ?, {', '.join('?' * len(COUNTS))}, ?)",
                            better)
        self.db.execute(f"INSERT OR REPLACE INTO files ({_FILE_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                        (name, st.st_ino, st.st_size, st.st_mtime_ns, read.offset, read.tail,
                         int(st.st_mtime_ns > scan_ns - RACY_NS), oldest, *(skipped.get(r, 0) for r in REASONS)))

    def _lookup(self, keys: list[str]) -> dict[str, Any]:
        counted: dict[str, Any] = {}
        if not keys:
            return counted
        for i in range(0, len(keys), _LOOKUP):
            batch = keys[i:i + _LOOKUP]
            counted.update((row[0], row) for row in self.db.execute(
                f"SELECT {_ROW} FROM seen WHERE key IN ({', '.join('?' * len(batch))})", batch))
        return counted

    def save(self) -> None:
        """Add the deltas to `hours`, each count kept within 0 and MAX_SUM (only absurd lines
        reach either bound: a count is at most usage_logs.MAX_COUNT)."""
        changes = {key: counts for key, counts in self.deltas.items() if any(counts)}
        if not changes:
            return
        before: dict[tuple[str, str], list[int]] = {}
        touched = sorted({hour for hour, _ in changes})
        for i in range(0, len(touched), _LOOKUP):
            batch = touched[i:i + _LOOKUP]
            for hour, model, *counts in self.db.execute(
                    f"SELECT hour, model, {', '.join(COUNTS)} FROM hours WHERE hour IN ({', '.join('?' * len(batch))})",
                    batch):
                before[(hour, model)] = counts
        rows: list[tuple[Any, ...]] = []
        empty: list[tuple[Any, ...]] = []
        for (hour, model), delta in changes.items():
            old = before.get((hour, model))
            if old is None and min(delta) >= 0 and max(delta) <= MAX_SUM:  # a new hour: most of a first scan
                rows.append((hour, model, *delta))
                continue
            counts = [max(0, min(MAX_SUM, (a or 0) + b)) for a, b in zip(old or [0] * 6, delta, strict=True)]
            (rows if any(counts) else empty).append((hour, model, *counts))
        self.db.executemany(f"INSERT OR REPLACE INTO hours VALUES (?, ?, {', '.join('?' * len(COUNTS))})", rows)
        self.db.executemany("DELETE FROM hours WHERE hour = ? AND model = ?", [row[:2] for row in empty])


def _add(sums: dict[tuple[str, str], list[int]], row: Any, sign: int) -> None:
    counts = sums.setdefault((row[1], row[2]), [0] * 6)
    for i in range(6):
        counts[i] += sign * row[3 + i]


def _changed(entry: Any, st: os.stat_result, racy: bool = True) -> bool:
    """entry: the file's row as last read (_FILE_COLUMNS after the path), or None."""
    if entry is None or racy and entry[5]:  # unknown, or racy: changed within RACY_NS of the last look
        return True
    return (entry[0], entry[1], entry[2]) != (st.st_ino, st.st_size, st.st_mtime_ns)


def _resume_at(path: str, entry: Any, st: os.stat_result) -> int:
    """Where to go on reading: the saved offset if the file is the one read up to there (same
    inode, not shorter, same bytes before the offset); else 0, the whole file again (the
    responses already counted are recognised, so nothing counts twice)."""
    from reminderd.transcripts import same_tail

    if entry is None:
        return 0
    ino, _, _, offset, tail = entry[:5]
    if not offset or ino != st.st_ino or st.st_size < offset:
        return 0
    return int(offset) if same_tail(path, offset, tail) else 0


# -- for the commands and the daemon ---------------------------------------------------------------


def roots_for(usage_dirs: tuple[Path, ...], environ: Mapping[str, str], home: Path) -> list[Path]:
    from reminderd.usage_logs import default_roots

    return list(usage_dirs) or default_roots(environ, home)


def current(config: Any, state_dir: Path, now: datetime, report: Any = None,
            deadline: float | None = None) -> dict[str, LoggedUsage]:
    """The up-to-date ledger of every credit that reads Claude Code's logs (refresh() each);
    a ledger that cannot be brought up to date, for whatever reason, is used as last saved,
    and `report` is told why."""
    out: dict[str, LoggedUsage] = {}
    for credit in config.credits:
        if not credit.usage.claude_code_logs:
            continue
        roots = roots_for(credit.usage.claude_code_dirs, os.environ, Path.home())
        try:
            out[credit.id] = refresh(state_dir, credit.id, roots, now, deadline)
        except Exception as exc:  # noqa: BLE001 (no transcript, and no bug in reading one, may stop a command)
            if report is not None:
                reason = str(exc) if isinstance(exc, StateError) else f"reading the transcripts failed: {exc!r}"
                report(f"{reason}; using the usage ledger as last saved")
            out[credit.id] = load(state_dir, credit.id)
    return out
