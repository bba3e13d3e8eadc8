"""The usage ledger: what Claude Code's transcripts showed, kept after they are deleted.

One ledger per credit that reads the logs, in the state directory (usage/<credit>.sqlite, the
standard library's SQLite): tokens per UTC hour and per model (not dollars: prices and the
configured zone may change later: spend.py applies them when asked), and for each
transcript file how far it was read and which lines it skipped. Transcripts are deleted 30
days after their last activity, a credit lasts 60: the ledger keeps the counts.

Incremental: a file is re-read only when its size, mtime or inode changed, from its saved
offset; a last line without its newline is read again next time; a file that shrank or was
replaced is read whole. Each response is a row of the `seen` table (usage_logs.Row): a copy
met again replaces it only if it is better (usage_logs.outranks), and then moves its counts in `hours`
(what load() reads), so nothing is counted twice. `seen` keeps the last KEEP_SEEN_DAYS days;
`hours` keeps everything. Memory stays bounded by one transcript's usage lines, SQLite's page
cache and the (hour, model) pairs, whatever the tree's size, and one transaction commits the
counts, the offsets and the keys together.

A large first scan has a worker process read and parse most transcripts while this one counts
(_read_all): benchmarks/usage_logs has the figures.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.errors import StateError
from reminderd.prices import Tokens
from reminderd.spend import HOUR_FORMAT, NO_USAGE, LoggedUsage
from reminderd.usage_logs import USAGE_MARK, outranks

SCHEMA = 1
KEEP_SEEN_DAYS = 40
WRITE_CACHE_KB = 16 * 1024  # SQLite's page cache when writing (its default, 2 MB, spills a large scan)
RACY_NS = 2_000_000_000  # a file changed this close to a scan may change again unseen by stat: look again
TAIL = 256  # bytes before the saved offset, fingerprinted: a file rewritten in place is read whole
COUNTS = ("input", "output", "write_5m", "write_1h", "cache_read", "web_searches")
REASONS = ("malformed", "synthetic")


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
    """Refuse a ledger of a newer reminderd; mark a new one. No write otherwise: a re-scan of an
    unchanged tree stays cheap."""
    row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    if row is None:
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
    elif str(row[0]).isdigit() and int(row[0]) > SCHEMA:
        raise StateError(f"{path}: the usage ledger was written by a newer reminderd (schema {row[0]})")


def load(state_dir: Path, credit_id: str) -> LoggedUsage:
    """The ledger as last saved (what status needs); an absent one is empty."""
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
    for hour, model, *counts in db.execute(f"SELECT hour, model, {', '.join(COUNTS)} FROM hours"):
        hours.setdefault(hour, {})[model] = Tokens(*counts)
    row = db.execute(f"SELECT count(*), {', '.join(f'total({r})' for r in REASONS)} FROM files").fetchone()
    skipped = {reason: int(n) for reason, n in zip(REASONS, row[1:], strict=True) if n}
    scanned = db.execute("SELECT value FROM meta WHERE name = 'scanned_at'").fetchone()
    return LoggedUsage(hours, skipped, row[0], datetime.fromisoformat(scanned[0]) if scanned else None)


# -- bringing it up to date -----------------------------------------------------------------------

_ROW = f"key, hour, model, {', '.join(COUNTS)}, sidechain"
_LOOKUP = 500  # keys looked up in one query
_ADD_HOURS = (f"INSERT INTO hours VALUES (?, ?, {', '.join('?' * len(COUNTS))}) ON CONFLICT (hour, model) "
              f"DO UPDATE SET {', '.join(f'{c} = {c} + excluded.{c}' for c in COUNTS)}")


class _Hours:
    """What this refresh adds to `hours`, per (hour, model): a replaced copy's counts move."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[str, str], list[int]] = {}

    def add(self, row: Any, sign: int) -> None:
        counts = self.deltas.get((row[1], row[2]))
        if counts is None:
            counts = self.deltas[(row[1], row[2])] = [0, 0, 0, 0, 0, 0]
        _, _, _, a, b, c, d, e, f, _ = row  # once per usage line of a first scan: no loop
        counts[0] += sign * a
        counts[1] += sign * b
        counts[2] += sign * c
        counts[3] += sign * d
        counts[4] += sign * e
        counts[5] += sign * f

    def save(self, db: Any) -> None:
        db.executemany(_ADD_HOURS, [(hour, model, *counts) for (hour, model), counts in self.deltas.items()
                                    if any(counts)])
        db.execute(f"DELETE FROM hours WHERE {' AND '.join(f'{c} = 0' for c in COUNTS)}")


WHOLE_FILE = 64 * 1024 * 1024  # read in one piece up to this size (no joins); larger files in blocks
CHUNK = 16 * 1024 * 1024


def _read_new_lines(path: Path, start: int, reader: Any, rows: list[Any],
                    skipped: dict[str, int]) -> tuple[int, str]:
    """Parse the complete usage lines from `start` into `rows`; return the offset to resume
    from next time, and the fingerprint of the bytes before it (from what was read, when it
    holds them). A last line without its newline is left for next time unless it is a whole
    usage line."""
    from reminderd.usage_logs import find_usage_lines

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
            find_usage_lines(data, end, reader.parse, rows, skipped)
            if at_end:
                end = data.rfind(b"\n") + 1
                last = data[end:]
                if USAGE_MARK in last:
                    row = reader.parse(last.rstrip(b"\r"))
                    if type(row) is tuple:  # whole, it only lacks its newline
                        rows.append(row)
                        end = len(data)
                if end >= TAIL or offset == 0:
                    return offset + end, _fingerprint(data[max(0, end - TAIL):end])
                return offset + end, _tail(handle, offset + end)
            offset += end
            data = data[end:]


def refresh(state_dir: Path, credit_id: str, roots: list[Path], now: datetime) -> LoggedUsage:
    """Read what is new in the transcripts below `roots` into the credit's ledger."""
    from reminderd.usage_logs import transcript_files

    with _open(ledger_path(state_dir, credit_id), write=True) as db:
        looked = {row[0]: row[1:] for row in db.execute("SELECT path, ino, size, mtime_ns, racy FROM files")}
        current = dict(transcript_files(roots))
        changed = [p for p, st in current.items() if _changed(looked.get(p), st)]
        gone = set(looked) - set(current)
        if changed or gone:
            known = {row[0]: row[1:] for row in db.execute(
                f"SELECT path, ino, size, mtime_ns, offset, tail, racy, {', '.join(REASONS)} FROM files")}
            scan_ns = time.time_ns()  # the file system's clock, which wrote the mtimes (not the plan's `now`)
            jobs = [(name, _resume_at(Path(name), known.get(name), current[name])) for name in changed]
            hours = _Hours()
            for (name, resume), read in zip(jobs, _read_all(jobs, current), strict=True):
                if read is not None:  # None: vanished or unreadable now, tried again next time
                    _count(db, name, current[name], known.get(name), resume, read, scan_ns, hours)
            hours.save(db)
            db.executemany("DELETE FROM files WHERE path = ?", [(name,) for name in gone])  # counts stay
            horizon = (now - timedelta(days=KEEP_SEEN_DAYS)).strftime(HOUR_FORMAT)
            db.execute("DELETE FROM seen WHERE hour < ?", (horizon,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('scanned_at', ?)", (now.isoformat(),))
        return _ledger(db)


class Read(NamedTuple):
    """What is new in one transcript: the best copy of each response in it, the lines skipped
    (by reason), the offset to resume at next time, and the fingerprint of the bytes before it."""

    rows: list[Any]
    skipped: dict[str, int]
    offset: int
    tail: str


_reader: Any = None  # one LineReader per process


def read_transcript(job: tuple[str, int]) -> Read | None:
    """Read one transcript from an offset (job: path, offset), here or in a worker process;
    None if it vanished or cannot be read now."""
    global _reader
    from reminderd.usage_logs import LineReader

    if _reader is None:
        _reader = LineReader()
    name, resume = job
    rows: list[Any] = []
    skipped: dict[str, int] = {}
    try:
        offset, tail = _read_new_lines(Path(name), resume, _reader, rows, skipped)
    except OSError:
        return None
    best: dict[str, Any] = {}
    for row in rows:
        old = best.get(row[0])
        if old is None or outranks(row, old):
            best[row[0]] = row
    return Read(list(best.values()), skipped, offset, tail)


PARALLEL_BYTES = 256 * 1024 * 1024  # more new bytes than this (a first scan) are read with a worker process
HERE_SHARE = 0.25  # of those bytes, what this process reads itself between counting: the worker reads the rest
AHEAD = 64  # transcripts handed to the worker ahead of the one being counted: bounds the memory
_WORKER = "from reminderd.ledger import serve_reads; serve_reads()"


def _read_all(jobs: list[tuple[str, int]], current: Mapping[str, os.stat_result]) -> Iterator[Read | None]:
    """read_transcript() of each job, in order. A large first scan is CPU work (decoding a GB of
    JSON), and most machines have a core to spare: a worker process reads and parses most
    transcripts while this one counts into SQLite and reads the others. If the worker cannot
    start or dies, the rest is read here."""
    sizes = [current[name].st_size - resume for name, resume in jobs]
    done = 0
    if sum(sizes) > PARALLEL_BYTES and (os.cpu_count() or 1) > 1:
        try:
            for read in _with_worker(jobs, sizes):
                yield read
                done += 1
        except (OSError, EOFError, ValueError) as exc:
            import logging

            logging.getLogger(__name__).warning("reading the transcripts in one process: the worker failed (%r)", exc)
    for job in jobs[done:]:
        yield read_transcript(job)


def _with_worker(jobs: list[tuple[str, int]], sizes: list[int]) -> Iterator[Read | None]:
    """Each job is read here or by the worker, HERE_SHARE of the bytes here, and the results
    come in the jobs' order. A plain process and marshal over pipes, not multiprocessing: its
    spawn method imports the caller's __main__ again, and fork copies the daemon's threads' locks."""
    import subprocess
    import sys

    here, assigned_here, assigned = [], 0, 0
    for size in sizes:
        here.append(assigned_here < HERE_SHARE * (assigned + size))
        assigned_here += size if here[-1] else 0
        assigned += size
    theirs = [job for job, mine in zip(jobs, here, strict=True) if not mine]
    # a session of its own: Ctrl-C in a terminal reaches this process only, which stops it
    worker = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              start_new_session=True)
    sent, received, finished = 0, 0, False
    try:
        for job, mine in zip(jobs, here, strict=True):
            while sent < min(len(theirs), received + AHEAD):
                _send(worker.stdin, theirs[sent])
                sent += 1
            if mine:
                yield read_transcript(job)
                continue
            read = _receive(worker.stdout)
            received += 1
            yield None if read is None else Read(*read)
        finished = True
    finally:
        if not finished:  # stopped early: the worker may be blocked writing what nobody will read
            worker.kill()
        with contextlib.suppress(OSError):
            worker.stdin.close()  # type: ignore[union-attr]
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()  # type: ignore[union-attr]


def serve_reads() -> None:
    """A worker process: read_transcript() for each job on stdin, each result on stdout."""
    import sys

    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            job = _receive(jobs)
        except EOFError:
            return
        read = read_transcript(job)
        _send(results, None if read is None else tuple(read))


def _send(pipe: Any, value: Any) -> None:
    """One value, marshalled, behind its length: marshal.load() on a pipe reads it a field at a time."""
    import marshal

    data = marshal.dumps(value)
    pipe.write(len(data).to_bytes(8, "little") + data)
    pipe.flush()


def _receive(pipe: Any) -> Any:
    import marshal

    size = pipe.read(8)
    if len(size) < 8:
        raise EOFError("the pipe closed")
    data = pipe.read(int.from_bytes(size, "little"))
    if len(data) < int.from_bytes(size, "little"):
        raise EOFError("the pipe closed mid-value")
    return marshal.loads(data)


def _count(db: Any, name: str, st: os.stat_result, entry: Any, resume: int, read: Read, scan_ns: int,
           hours: _Hours) -> None:
    """Count what was new in one transcript against the copies `seen` holds, and where it stopped."""
    skipped = dict(read.skipped)
    if resume and entry is not None:
        for reason, before in zip(REASONS, entry[6:], strict=True):
            skipped[reason] = skipped.get(reason, 0) + (before or 0)
    keys = [row[0] for row in read.rows]
    counted: dict[str, Any] = {}
    for i in range(0, len(keys), _LOOKUP):
        batch = keys[i:i + _LOOKUP]
        counted.update((row[0], row) for row in db.execute(
            f"SELECT {_ROW} FROM seen WHERE key IN ({', '.join('?' * len(batch))})", batch))
    new, better = [], []
    for row in read.rows:
        old = counted.get(row[0])
        if old is None:
            new.append(row)
        elif outranks(row, old):
            better.append(row)
            hours.add(old, -1)
        else:
            continue
        hours.add(row, 1)
    db.executemany(f"INSERT INTO seen VALUES (?, ?, ?, {', '.join('?' * len(COUNTS))}, ?)", new)
    db.executemany(f"INSERT OR REPLACE INTO seen VALUES (?, ?, ?, {', '.join('?' * len(COUNTS))}, ?)", better)
    db.execute(f"INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, {', '.join('?' * len(REASONS))})",
               (name, st.st_ino, st.st_size, st.st_mtime_ns, read.offset, read.tail,
                int(st.st_mtime_ns > scan_ns - RACY_NS), *(skipped.get(reason, 0) for reason in REASONS)))


def _changed(looked: Any, st: os.stat_result) -> bool:
    """looked: (ino, size, mtime_ns, racy) as last read, or None."""
    if looked is None or looked[3]:  # unknown, or racy: changed within RACY_NS of the last look
        return True
    return (looked[0], looked[1], looked[2]) != (st.st_ino, st.st_size, st.st_mtime_ns)


def _tail(handle: Any, offset: int) -> str:
    """The fingerprint of the TAIL bytes before `offset` in an open file."""
    handle.seek(max(0, offset - TAIL))
    return _fingerprint(handle.read(min(offset, TAIL)))


def _fingerprint(before: bytes) -> str:
    import hashlib

    return hashlib.sha1(before, usedforsecurity=False).hexdigest()


def _resume_at(path: Path, entry: Any, st: os.stat_result) -> int:
    """Where to go on reading: the saved offset if the file is the one read up to there (same
    inode, not shorter, same bytes before the offset); else 0, the whole file again (the
    responses already counted are recognised, so nothing counts twice)."""
    if entry is None:
        return 0
    ino, _, _, offset, tail = entry[:5]
    if not offset or ino != st.st_ino or st.st_size < offset:
        return 0
    try:
        with open(path, "rb") as handle:
            return int(offset) if _tail(handle, offset) == tail else 0
    except OSError:
        return 0  # vanished or unreadable now: read_transcript() will say so


# -- for the commands and the daemon ---------------------------------------------------------------


def roots_for(usage_dirs: tuple[Path, ...], environ: Mapping[str, str], home: Path) -> list[Path]:
    from reminderd.usage_logs import default_roots

    return list(usage_dirs) or default_roots(environ, home)


def current(config: Any, state_dir: Path, now: datetime, report: Any = None) -> dict[str, LoggedUsage]:
    """The up-to-date ledger of every credit that reads Claude Code's logs (refresh() each);
    a ledger that cannot be written is used as last saved, and `report` is told why."""
    out: dict[str, LoggedUsage] = {}
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
