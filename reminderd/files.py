"""Writing files so that a reader sees the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from reminderd.errors import ReminderdError, StateError

PRIVATE = 0o600  # the state, calendars (they hold usage and spend) and configs we create


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE,
                     error: type[ReminderdError] = StateError) -> None:
    """Temp file beside the target, fsync, rename over it, fsync the directory.

    A symlink is followed: the file it points at is replaced and the link stays (dotfile
    managers link configs). On failure nothing is left behind and `error` is raised with a
    one-line reason naming the file.
    """
    import tempfile

    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise error(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise error(f"{path}: cannot write: {exc.strerror}") from None
