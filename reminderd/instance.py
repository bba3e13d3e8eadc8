"""One daemon per user: an fcntl lock on a file that also carries its pid and, by its mtime,
when it last woke. `status` reads it without disturbing the daemon."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from reminderd.errors import AlreadyRunning


class DaemonInfo(NamedTuple):
    running: bool
    pid: int | None
    last_wake: datetime | None


def acquire_instance_lock(path: Path) -> int:
    """Hold an exclusive lock on `path` for the life of the process; write our pid into it."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(f"another reminderd run is already running (pid {other}; lock {path})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def daemon_info(path: Path) -> DaemonInfo:
    """Whether a daemon holds the lock, its pid, and when it last woke (the lock file's mtime)."""
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
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return DaemonInfo(True, int(text) if text.isdigit() else None, last)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return DaemonInfo(False, None, last)
    finally:
        os.close(fd)
