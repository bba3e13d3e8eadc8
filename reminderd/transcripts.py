"""Reading one transcript for the ledger: what is new in it since an offset.

Only regular files are read: a path is opened without blocking (a FIFO named *.jsonl would
wait for a writer) and checked with fstat after opening, so a link to /dev/zero, a FIFO or a
directory is refused even if it replaced the file after the walk looked at it. A link to a
regular file is followed (people link their dotfiles).

Lines are read in linear time: a file of up to WHOLE_FILE new bytes in one read, a larger one
in blocks, where only the start of a line that spans blocks is kept (in one buffer that grows in
place). A line longer than LINE_CAP is skipped ("too-long") and named, and reading goes on
after its newline; a file that ends inside such a line is read on from its end next time,
and the rest of that line is passed over. transcript_workers.py reads many at once.
"""

from __future__ import annotations

import os
import stat
from typing import Any, NamedTuple

from reminderd.usage_logs import TOO_LONG, USAGE_MARK, Row, find_usage_lines, outranks

LINE_CAP = 64 * 1024 * 1024  # a longer line is skipped: no usage line is within a thousandth of it
WHOLE_FILE = 64 * 1024 * 1024  # new bytes read in one piece up to this size; more in blocks
CHUNK = 16 * 1024 * 1024
TAIL = 256  # bytes before the saved offset, fingerprinted: a file rewritten in place is read whole


class Read(NamedTuple):
    """What is new in one transcript: the best copy of each response in it, the lines skipped
    (by reason), the offset to resume at next time and the fingerprint of the bytes before it,
    the rows' counts added up per (hour, model) (so that counting a first scan, where almost
    every row is new, costs little per row), and the oldest hour among the rows."""

    rows: list[Row]
    skipped: dict[str, int]
    offset: int
    tail: str
    sums: dict[tuple[str, str], list[int]]
    oldest: str | None


def open_regular(path: str | bytes) -> int:
    """A descriptor to read a regular file; OSError for anything else (nothing waits on a FIFO)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.fsdecode(path)}: not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def fingerprint(fd: int, offset: int) -> str:
    """The fingerprint of the TAIL bytes before `offset`."""
    import hashlib

    before = os.pread(fd, min(offset, TAIL), max(0, offset - TAIL))
    return hashlib.sha1(before, usedforsecurity=False).hexdigest()


def same_tail(path: str, offset: int, tail: str) -> bool:
    """Whether the bytes before `offset` are still the ones read up to there."""
    try:
        fd = open_regular(path)
    except OSError:
        return False
    try:
        return fingerprint(fd, offset) == tail
    except OSError:
        return False
    finally:
        os.close(fd)


def read_new_lines(fd: int, start: int, parse: Any, rows: list[Row], skipped: dict[str, int]) -> int:
    """Parse the complete usage lines from `start` into `rows`; return the offset to resume
    from next time. A last line without its newline is left for next time unless it is a
    whole usage line. `start` inside a line (one that was too long) passes over its rest."""
    size = os.fstat(fd).st_size
    inside = start > 0 and os.pread(fd, 1, start - 1) != b"\n"
    if size - start <= min(WHOLE_FILE, LINE_CAP):  # every line in it is within the cap
        os.lseek(fd, start, os.SEEK_SET)
        with open(fd, "rb", buffering=0, closefd=False) as handle:
            data = handle.readall()  # sized from fstat: one buffer, no copy
        begin = 0
        if inside:
            begin = data.find(b"\n") + 1
            if not begin:
                return start + len(data)
        end = data.rfind(b"\n", begin) + 1 or begin
        find_usage_lines(data, begin, end, parse, rows, skipped)
        return start + (len(data) if _whole_last_line(data, end, parse, rows) else end)
    return _read_in_blocks(fd, start, inside, parse, rows, skipped)


def _read_in_blocks(fd: int, start: int, inside: bool, parse: Any, rows: list[Row], skipped: dict[str, int]) -> int:
    block_size = min(CHUNK, LINE_CAP)  # a line within one block is within the cap
    position = start  # the file offset of the next block
    pending = bytearray()  # the start of a line that goes on in the next block
    passing = inside  # within a line that is not kept (too long, or begun before `start`)
    too_long = False  # ... and that one is too long and not yet counted
    os.lseek(fd, start, os.SEEK_SET)
    with open(fd, "rb", buffering=0, closefd=False) as handle:
        while block := handle.read(block_size):
            position += len(block)
            last = block.rfind(b"\n")
            if last < 0:
                if not passing:
                    pending += block
                    if len(pending) > LINE_CAP:
                        pending, passing, too_long = bytearray(), True, True
                continue
            first = block.find(b"\n")
            if passing:
                if too_long:
                    skipped[TOO_LONG.reason] = skipped.get(TOO_LONG.reason, 0) + 1
                passing = too_long = False
            elif pending:
                if len(pending) + first > LINE_CAP:
                    skipped[TOO_LONG.reason] = skipped.get(TOO_LONG.reason, 0) + 1
                else:
                    pending += memoryview(block)[:first + 1]
                    find_usage_lines(pending, 0, len(pending), parse, rows, skipped)
            else:
                first = -1  # the block starts a line
            find_usage_lines(block, first + 1, last + 1, parse, rows, skipped)
            pending = bytearray(memoryview(block)[last + 1:])
    if passing:
        if too_long:  # named now; the rest of it is passed over when it is read
            skipped[TOO_LONG.reason] = skipped.get(TOO_LONG.reason, 0) + 1
        return position
    return position if _whole_last_line(pending, 0, parse, rows) else position - len(pending)


def _whole_last_line(data: bytes | bytearray, start: int, parse: Any, rows: list[Row]) -> bool:
    """Whether data[start:], a last line without its newline, is a whole usage line (then counted)."""
    stop = len(data) - (1 if data[-1:] == b"\r" else 0)
    if stop <= start or data.find(USAGE_MARK, start) < 0:
        return False
    with memoryview(data) as view:
        row = parse(view[start:stop])
    if type(row) is tuple:
        rows.append(row)
        return True
    return False


_reader: Any = None  # one LineReader per process


def line_reader() -> Any:
    """This process's LineReader, with the modules reading needs (loaded before a fork)."""
    global _reader
    if _reader is None:
        import stringzilla  # noqa: F401 (imported here, before a worker is forked, not in each process)

        from reminderd.usage_logs import LineReader

        _reader = LineReader()
    return _reader


def read_transcript(job: tuple[str, int]) -> Read | None:
    """Read one transcript from an offset (job: path, offset); None if it vanished, is not a
    regular file, or cannot be read now (it is tried again next time)."""
    reader = line_reader()
    name, resume = job
    rows: list[Row] = []
    skipped: dict[str, int] = {}
    try:
        fd = open_regular(name)
        try:
            offset = read_new_lines(fd, resume, reader.parse, rows, skipped)
            tail = fingerprint(fd, offset)
        finally:
            os.close(fd)
    except (OSError, MemoryError):
        return None
    best: dict[str, Row] = {}
    for row in rows:
        old = best.get(row[0])
        if old is None or outranks(row, old):
            best[row[0]] = row
    sums: dict[tuple[str, str], list[int]] = {}
    for _, hour, model, a, b, c, d, e, f, _ in best.values():
        counts = sums.get((hour, model))
        if counts is None:
            sums[(hour, model)] = [a, b, c, d, e, f]
        else:
            counts[0] += a
            counts[1] += b
            counts[2] += c
            counts[3] += d
            counts[4] += e
            counts[5] += f
    return Read(list(best.values()), skipped, offset, tail, sums, min((hour for hour, _ in sums), default=None))
