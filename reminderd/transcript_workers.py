"""Reading many transcripts at once: worker processes read and parse while this one counts.

A large first scan is CPU work (decoding a GB of JSON): workers read transcripts from one end
of the list while this process counts their results into the ledger and reads from the other
end when no result is waiting, so each does what it has time for; the results come in any
order (the ledger's counting does not depend on it). A worker is forked when this process has
one thread (cheap: it has the modules already), else started afresh from the same Python
(forking a process with threads can copy a lock another thread holds), and then only for
more bytes, since it takes about 60 ms to start. If none can start, or one dies, the rest is
read here.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from reminderd.transcripts import Read, line_reader, read_transcript

FORK_BYTES = 32 * 1024 * 1024  # more new bytes than this are shared with a forked worker
SPAWN_BYTES = 256 * 1024 * 1024  # ... or with a worker started afresh (about 60 ms to start)
WORKERS = 3  # at most, and one fewer than the CPUs this process may use
AHEAD = 64  # transcripts handed to a worker and not yet answered: bounds the memory
AHEAD_BYTES = 32 * 1024  # ... and their paths' bytes, within a pipe's buffer: sending never blocks
AHEAD_WORK = 8 * 1024 * 1024  # ... and the bytes they have to read (about 10 ms): at the end, no
# worker is left with much to do while this process waits
_WORKER = "from reminderd.transcript_workers import serve_reads; serve_reads()"


def read_all(jobs: list[tuple[str, int]], sizes: list[int],
             deadline: float | None = None) -> Iterator[tuple[int, Read | None]]:
    """(index, read_transcript()) of each job, in no particular order; past `deadline` (a
    time.monotonic() value) no new job is started, and what was started may be dropped."""
    done: set[int] = set()
    count = _spare_cpus()
    if len(jobs) > 1 and count and sum(sizes) > (FORK_BYTES if _can_fork() else SPAWN_BYTES):
        try:
            for index, read in _with_workers(jobs, sizes, deadline, count):
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


def _spare_cpus() -> int:
    """How many workers: one per CPU this process may use beyond its own that the load average
    leaves idle (rounded up), at most WORKERS. A worker on a CPU another program keeps busy
    costs more than it brings (measured on two CPUs at a load of 1.7: 1 GB in 1.01 s with a
    worker, 0.88 s without; at a load under 1, 0.18 s against 0.27 s for 267 MB)."""
    import math

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = 0.0
    return max(0, min(WORKERS, cpus - 1, math.ceil(cpus - load - 1)))


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
            line_reader()  # its modules, loaded once for both processes
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
            self.process = subprocess.Popen([sys.executable, "-P", "-c", _WORKER], stdin=subprocess.PIPE,
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
