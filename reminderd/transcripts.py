"""Reading transcripts for the ledger: what is new in one file since an offset, here or in a
worker process.

Only regular files are read: a path is opened without blocking (a FIFO named *.jsonl would
wait for a writer) and checked with fstat after opening, so a link to /dev/zero, a FIFO or a
directory is refused even if it replaced the file after the walk looked at it. A link to a
regular file is followed (people link their dotfiles).

Lines are read in linear time: a file of up to WHOLE_FILE new bytes in one read, a larger one
in blocks, where only the start of a line that spans blocks is kept (in one buffer that grows in
place). A line longer than LINE_CAP is skipped ("too-long") and named, and reading goes on
after its newline; a file that ends inside such a line is read on from its end next time,
and the rest of that line is passed over.

A large first scan is CPU work (decoding a GB of JSON): a worker process reads and parses
transcripts from one end of the list while this process counts them into the ledger and reads
from the other end, so each does what it has time for. It is forked when this process has one
thread (cheap: it has the modules already), else started afresh (forking a process with
threads can copy a lock another thread holds). If it cannot start or dies, the rest is read
here.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections import deque
from collections.abc import Iterator
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


def _line_reader() -> Any:
    global _reader
    if _reader is None:
        import stringzilla  # noqa: F401 (imported here, before a worker is forked, not in each process)

        from reminderd.usage_logs import LineReader

        _reader = LineReader()
    return _reader


def read_transcript(job: tuple[str, int]) -> Read | None:
    """Read one transcript from an offset (job: path, offset); None if it vanished, is not a
    regular file, or cannot be read now (it is tried again next time)."""
    reader = _line_reader()
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


# -- reading many ---------------------------------------------------------------------------------

FORK_BYTES = 32 * 1024 * 1024  # more new bytes than this are shared with a forked worker
SPAWN_BYTES = 256 * 1024 * 1024  # ... or with a worker started afresh (about 60 ms to start)
WORKERS = 3  # at most, and one fewer than the CPUs this process may use
AHEAD = 64  # transcripts handed to a worker and not yet answered: bounds the memory
AHEAD_BYTES = 32 * 1024  # ... and their paths' bytes, within a pipe's buffer: sending never blocks
AHEAD_WORK = 8 * 1024 * 1024  # ... and the bytes they have to read (about 10 ms): at the end, no
# worker is left with much to do while this process waits
_WORKER = "from reminderd.transcripts import serve_reads; serve_reads()"


def read_all(jobs: list[tuple[str, int]], sizes: list[int],
             deadline: float | None = None) -> Iterator[tuple[int, Read | None]]:
    """(index, read_transcript()) of each job, in no particular order; past `deadline` (a
    time.monotonic() value) no new job is started, and what was started may be dropped."""
    done: set[int] = set()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(jobs) > 1 and cpus > 1 and sum(sizes) > (FORK_BYTES if _can_fork() else SPAWN_BYTES):
        try:
            for index, read in _with_workers(jobs, sizes, deadline, min(WORKERS, cpus - 1)):
                done.add(index)
                yield index, read
        except (OSError, EOFError, ValueError) as exc:
            import logging

            logging.getLogger(__name__).warning("reading the transcripts in one process: the worker failed (%r)", exc)
    for index, job in enumerate(jobs):
        if index not in done:
            if deadline is not None and time.monotonic() >= deadline:
                return
            yield index, read_transcript(job)


def _can_fork() -> bool:
    import sys
    import threading

    return sys.platform == "linux" and threading.active_count() == 1


def _with_workers(jobs: list[tuple[str, int]], sizes: list[int], deadline: float | None,
                  count: int = 1) -> Iterator[tuple[int, Read | None]]:
    """The workers take jobs from the front, this process from the back; the results that
    are waiting are counted before the next job here."""
    import select

    workers: list[_Worker] = []
    front, back = 0, len(jobs)
    finished = False
    try:
        for _ in range(count):
            workers.append(_Worker(workers))
        while True:
            late = deadline is not None and time.monotonic() >= deadline
            for worker in workers:
                while not late and front < back and (not worker.sent or len(worker.sent) < AHEAD and
                                                     worker.in_pipe < AHEAD_BYTES and worker.work < AHEAD_WORK):
                    size = _send(worker.jobs, jobs[front])
                    worker.sent.append((front, size))
                    worker.in_pipe += size
                    worker.work += sizes[front]
                    front += 1
            busy = [worker for worker in workers if worker.sent]
            if late or not busy and front >= back:
                finished = not busy
                return
            ready = select.select([w.results for w in busy], [], [], None if front >= back else 0)[0]
            if not ready:
                back -= 1
                yield back, read_transcript(jobs[back])
            for worker in busy:
                if worker.results in ready:
                    index, size = worker.sent.popleft()
                    worker.in_pipe -= size
                    worker.work -= sizes[index]
                    read = _receive(worker.results)
                    yield index, None if read is None else Read(*read)
    finally:
        for worker in workers:
            worker.stop(finished)


class _Worker:
    """A process that runs serve() on two pipes: jobs in, results out."""

    def __init__(self, others: list[_Worker]) -> None:
        self.sent: deque[tuple[int, int]] = deque()  # (index, bytes) of the jobs it has, not answered yet
        self.in_pipe = self.work = 0
        if _can_fork():
            _line_reader()  # its modules, loaded once for both processes
            jobs_in, self.jobs = os.pipe()
            self.results, results_out = os.pipe()
            _widen(self.results)
            self.pid = os.fork()
            if self.pid == 0:  # the worker: never returns
                code = 1
                try:
                    import signal

                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops this process's parent, which ends it
                    for fd in (self.jobs, self.results, *(fd for w in others for fd in (w.jobs, w.results))):
                        os.close(fd)  # a worker holding another's pipe would keep it from seeing its end
                    serve(jobs_in, results_out)
                    code = 0
                finally:
                    os._exit(code)
            os.close(jobs_in)
            os.close(results_out)
            self.process = None
        else:
            import subprocess
            import sys

            # a session of its own: Ctrl-C in a terminal reaches this process only, which ends it
            self.process = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
            self.jobs = self.process.stdin.fileno()  # type: ignore[union-attr]
            self.results = self.process.stdout.fileno()  # type: ignore[union-attr]
            _widen(self.results)

    def stop(self, finished: bool) -> None:
        """End it: at once when stopped early (it may be blocked writing what nobody will
        read), else once it has seen the end of its jobs."""
        import signal

        if self.process is None:
            os.close(self.jobs)
            if not finished:
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.results)
            return
        import subprocess

        if not finished:
            self.process.kill()
        self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()  # type: ignore[union-attr]


def _widen(fd: int) -> None:
    """A larger pipe buffer (Linux): the worker writes several results ahead of this process."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1024 * 1024)


def serve_reads() -> None:
    """A worker started afresh: serve() on its standard input and output."""
    serve(0, 1)


def serve(jobs: int, results: int) -> None:
    """read_transcript() for each job read from `jobs`, each result written to `results`."""
    while True:
        try:
            job = _receive(jobs)
        except EOFError:
            return
        read = read_transcript(job)
        _send(results, None if read is None else tuple(read))


def _send(fd: int, value: Any) -> int:
    """One value, pickled, behind its length; the bytes written. Pickle, not marshal: it sends
    a row's hour and model once per result, so this process builds fewer objects (the worker is
    ours: nothing else writes to the pipe)."""
    import pickle

    payload = pickle.dumps(value, protocol=5)
    for data in (len(payload).to_bytes(8, "little"), payload):
        with memoryview(data) as view:
            while view:
                view = view[os.write(fd, view):]
    return len(payload) + 8


def _receive(fd: int) -> Any:
    import pickle

    size = int.from_bytes(_exactly(fd, 8), "little")
    return pickle.loads(_exactly(fd, size))


def _exactly(fd: int, size: int) -> bytearray:
    data = bytearray(size)
    with memoryview(data) as view:
        got = 0
        while got < size:
            n = os.readv(fd, [view[got:]])
            if n == 0:
                raise EOFError("the pipe closed")
            got += n
    return data
