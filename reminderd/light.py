"""What the light commands (`statusline`, `hook`) share: their input, the clock and the state
directory. Claude Code runs them often and waits for them, so nothing here imports more than the
interpreter has loaded at start-up and datetime (JSON is read by lightjson, not json, whose
regular expressions cost more than the work): no click, no config, no platformdirs when
$REMINDERD_STATE_DIR is set (install-hook always sets it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_INPUT = 1 << 20  # Claude Code's inputs are a few KB; a bigger one is not read at all
READ_FOR = 1.0  # seconds: a writer that never closes its end does not hold us longer
NOW_ENV = "REMINDERD_NOW"  # a test hook: the moment these commands take as now (ISO 8601 with an offset)
STATE_ENV = "REMINDERD_STATE_DIR"  # paths.STATE_ENV


def read_input(fd: int = 0, limit: int = MAX_INPUT, seconds: float = READ_FOR) -> bytes | None:
    """At most `limit` bytes of `fd` up to its end, waiting at most `seconds` in all; None when there
    is more, when it cannot be read, or when it is a terminal (nobody is piping anything)."""
    import select
    import time

    try:
        if os.isatty(fd):
            return None
        deadline = time.monotonic() + seconds
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None  # still open and silent: take it as nothing
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return None
    except (OSError, ValueError):
        return None


def json_object(data: bytes | None) -> dict[str, Any] | None:
    """The JSON object `data` holds, or None for anything else (empty, truncated, not UTF-8, too deep)."""
    if not data:
        return None
    from reminderd.lightjson import loads

    try:
        value = loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def now() -> datetime:
    """The clock, or $REMINDERD_NOW when a test pins it (ignored unless a time with an offset)."""
    pinned = os.environ.get(NOW_ENV)
    if pinned:
        try:
            instant = datetime.fromisoformat(pinned)
        except ValueError:
            instant = None
        if instant is not None and instant.tzinfo is not None:
            return instant
    return datetime.now(UTC)


def state_dir() -> str:
    """$REMINDERD_STATE_DIR, else the platform's state directory (paths.state_dir)."""
    env = os.environ.get(STATE_ENV)
    if env:
        return os.path.expanduser(env)
    from reminderd.paths import state_dir as platform_state_dir

    return str(platform_state_dir())


def columns() -> int | None:
    """The width Claude Code gives the line ($COLUMNS), if it says."""
    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return width if width > 0 else None

