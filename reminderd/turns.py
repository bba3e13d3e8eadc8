"""What the daemon keeps beside the state file: each seam's turn (a channel or a source, with
its backoff), each ongoing problem (logged once), and deliveries not yet written."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.seams import Backoff
from reminderd.snooze import without_snooze
from reminderd.state import Delivery, State

log = logging.getLogger("reminderd")


def config_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the config file is edited or replaced."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Problems:
    """Logs each ongoing problem once, and once more when it is over."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}

    def report(self, key: str, message: str) -> None:
        if self.active.get(key) != message:
            self.active[key] = message
            log.error("%s", message)

    def resolved(self, key: str, message: str) -> None:
        if self.active.pop(key, None) is not None:
            log.info("%s", message)


class Turn:
    """A channel or a source, with its backoff (and when a source last succeeded)."""

    def __init__(self, seam: Any) -> None:
        self.seam = seam
        self.backoff = Backoff()
        self.last: datetime | None = None
        self.kept: Any = None  # a source's value last kept in the state (Source.keep)

    def due(self, now: datetime) -> bool:
        """A source's turn: its backoff is over and its interval has passed."""
        return self.backoff.ready(now) and (self.last is None or abs(now - self.last) >= self.seam.every)


class Pending(NamedTuple):
    """A delivery not yet in the state file."""

    reminder_id: str
    delivery: Delivery
    ends_snooze: bool = False

    def apply(self, state: State) -> State:
        state = state.with_delivered(self.reminder_id, self.delivery)
        return without_snooze(state, self.reminder_id) if self.ends_snooze else state


def with_channels_renamed(state: State, moves: Mapping[str, str]) -> State:
    """`state` with each delivery record of a channel in `moves` (old id -> new id) under its new id."""
    for reminder_id, records in state.delivered.items():
        if any(d.channel in moves for d in records):
            state = state._replace(delivered={**state.delivered, reminder_id: tuple(
                d._replace(channel=moves.get(d.channel, d.channel)) for d in records)})
    return state
