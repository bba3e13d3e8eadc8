"""One daemon per state directory: an fcntl lock on a file that also says who holds it (pid and
host) and, by its mtime, when the daemon last woke. `status` reads it without disturbing it.

The lock file lives in the runtime directory ($XDG_RUNTIME_DIR): local to this machine and
emptied at boot, so a home directory shared over NFS never makes one host trust another's pid.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from reminderd.errors import AlreadyRunning, StateError

# `status` holds a shared lock for a few microseconds to see whether the daemon runs; a daemon
# starting at that instant retries for this long before it believes another one runs.
ACQUIRE_FOR = 2.0


class DaemonInfo(NamedTuple):
    running: bool
    pid: int | None
    last_wake: datetime | None
    host: str | None = None

    @property
    def here(self) -> bool:
        """Whether the holder is a daemon on this machine, so its pid means something here. A
        lock file without a host was not written by a reminderd that may be signalled (an older
        one notices a change within its wake; anything else must never get a SIGHUP)."""
        return self.host is not None and self.host == _hostname()


def _hostname() -> str:
    import socket  # only when the lock is taken or a pid is signalled: `status` stays light

    return socket.gethostname()


def _owner(fd: int) -> tuple[int | None, str | None]:
    words = os.pread(fd, 300, 0).decode(errors="replace").split()
    pid = int(words[0]) if words and words[0].isdigit() else None
    return pid, (words[1] if len(words) > 1 else None)


def acquire_instance_lock(path: Path) -> int:
    """Hold an exclusive lock on `path` for the life of the process; write our pid and host."""
    import fcntl

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(f"{path}: cannot open the lock file: {exc.strerror}") from None
    deadline = time.monotonic() + ACQUIRE_FOR
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            pid, host = _owner(fd)
            os.close(fd)
            who = f"pid {pid if pid is not None else '?'}" + (f" on {host}" if host else "")
            raise AlreadyRunning(f"another reminderd run is already running ({who}; lock {path})") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_hostname()}\n".encode(), 0)
    except OSError:
        pass  # the lock is what counts; without the pid `status` just cannot name it
    return fd


def daemon_info(path: Path) -> DaemonInfo:
    """Whether a daemon holds the lock, who, and when it last woke (the lock file's mtime)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return DaemonInfo(False, None, None)
    try:
        last = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, host = _owner(fd)
            return DaemonInfo(True, pid, last, host)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return DaemonInfo(False, None, last)
    finally:
        os.close(fd)
