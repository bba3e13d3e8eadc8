"""Running another program, or a piece of reminderd in a child process, within a deadline that
holds whatever the other side does.

A program runs in a process group of its own. Its output is read as it comes, up to a size cap,
until the deadline; then the whole group is killed and the pipes are closed without waiting for
their end: a helper the program started in a session of its own (a daemonising password agent)
may keep them open for ever (review M5). What was printed before is kept: a command that printed
its answer and exited, leaving such a helper behind, has answered.

run_child() runs a function of reminderd in a fresh Python process, with the payload on stdin
and an address-space cap, for work a thread cannot bound: a library that reads an endless
response body (security L1, L3) is ended with its process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

MAX_OUTPUT = 1024 * 1024  # bytes kept of a program's stdout or stderr
AFTER_EXIT = 0.2  # seconds to collect output after the program exited (a helper may hold the pipe)


class Completed(NamedTuple):
    returncode: int | None  # None: killed at the deadline
    stdout: bytes
    stderr: bytes
    timed_out: bool


class CannotRun(OSError):
    """The program could not be started (not found, not executable)."""


class Running:
    """One program in its own process group; cancel() from another thread kills it at once."""

    def __init__(self, argv: Sequence[str], stdin: bytes | None = None, env: dict[str, str] | None = None) -> None:
        try:
            self.process = subprocess.Popen(
                list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
        except OSError as exc:
            raise CannotRun(exc.errno, exc.strerror or str(exc), argv[0]) from None
        self.stdin = stdin
        self.cancelled = False
        self._pending = memoryview(b"")

    def cancel(self) -> None:
        self.cancelled = True
        kill_group(self.process)

    def wait(self, deadline: float, max_output: int = MAX_OUTPUT) -> Completed:
        """Read until the program exits and its pipes close, or AFTER_EXIT after it exited, or the
        deadline (time.monotonic()); then kill what is left of its group."""
        process = self.process
        out, err = bytearray(), bytearray()
        buffers = {process.stdout: out, process.stderr: err}
        timed_out = False
        with selectors.DefaultSelector() as selector:
            for pipe in buffers:
                assert pipe is not None
                os.set_blocking(pipe.fileno(), False)
                selector.register(pipe, selectors.EVENT_READ)
            self._feed(selector)
            exited_at: float | None = None
            while selector.get_map():
                now = time.monotonic()
                if process.poll() is not None and exited_at is None:
                    exited_at = now
                limit = deadline if exited_at is None else min(deadline, exited_at + AFTER_EXIT)
                if now >= limit:
                    timed_out = exited_at is None
                    break
                for key, _ in selector.select(timeout=min(0.05, limit - now)):
                    if key.fileobj is process.stdin:
                        self._write_more(selector)
                        continue
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer = buffers[key.fileobj]  # type: ignore[index]
                    buffer += chunk[:max(0, max_output - len(buffer))]
        if not timed_out:  # its output ended: it may still be running, up to the deadline
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        kill_group(process)  # whatever it left running in its group
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            returncode = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:  # killed, but not reaped yet: a zombie for the OS to collect
            returncode = None
        return Completed(None if timed_out else returncode, bytes(out), bytes(err), timed_out)

    def _feed(self, selector: selectors.BaseSelector) -> None:
        pipe = self.process.stdin
        if self.stdin is None or pipe is None:
            return
        os.set_blocking(pipe.fileno(), False)
        self._pending = memoryview(self.stdin)
        selector.register(pipe, selectors.EVENT_WRITE)

    def _write_more(self, selector: selectors.BaseSelector) -> None:
        pipe = self.process.stdin
        assert pipe is not None
        try:
            written = os.write(pipe.fileno(), self._pending[:65536])
        except (BrokenPipeError, BlockingIOError) as exc:
            written = 0 if isinstance(exc, BlockingIOError) else len(self._pending)
        self._pending = self._pending[written:]
        if not self._pending:
            selector.unregister(pipe)
            pipe.close()


class Stoppable:
    """Runs one program at a time for something another thread may stop: cancel() kills the
    program in progress (a channel or notifier whose delivery the daemon gives up)."""

    def __init__(self) -> None:
        self._running: Running | None = None
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        running = self._running
        if running is not None:
            running.cancel()

    def run(self, argv: Sequence[str], timeout: float, stdin: bytes | None = None,
            max_output: int = MAX_OUTPUT) -> Completed | None:
        """As run(); None when cancel() stopped it (raises CannotRun if it cannot start)."""
        self._cancelled = False
        running = self._running = Running(argv, stdin)
        try:
            done = running.wait(time.monotonic() + timeout, max_output)
        finally:
            self._running = None
        return None if self._cancelled else done


def run(argv: Sequence[str], timeout: float, stdin: bytes | None = None, env: dict[str, str] | None = None,
        max_output: int = MAX_OUTPUT) -> Completed:
    """Run `argv` within `timeout` seconds (raises CannotRun if it cannot start)."""
    return Running(argv, stdin, env).wait(time.monotonic() + timeout, max_output)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill a process started with start_new_session=True, and all it started; gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the group has the child's pid (start_new_session)


CHILD_MEMORY = 1024 * 1024 * 1024  # address space a child gets (bytes): far more than its work needs


def child_argv(module: str, function: str, memory: int = CHILD_MEMORY) -> list[str]:
    """The command line of a child process that runs reminderd's `module.function()` with an
    address-space cap: the function reads its payload from stdin and writes its answer to stdout."""
    code = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
            f"from reminderd.{module} import {function}; {function}()")
    return [sys.executable, "-P", "-c", code]  # -P: never a module from the working directory
