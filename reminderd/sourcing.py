"""The daemon's sources job: each source the config asks for (sources.build()), refreshed in its
turn within SOURCE_WITHIN, failing alone. A failure is logged once, the source's last good value
kept, and its next try backs off; what a source says is worth keeping (its `keep`) is written to
the state, and tried again at each turn until it is (a full disk does not make it forget)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reminderd.errors import one_line
from reminderd.facts import Facts
from reminderd.record import State
from reminderd.seams import RETRIES
from reminderd.settings import Config
from reminderd.turns import Problems, Turn

SOURCE_WITHIN = 120.0  # seconds one source's refresh may take; the rest waits for its next turn


class Sourcing:
    def __init__(self, clock: Callable[[], datetime], stopping: threading.Event, problems: Problems,
                 update_state: Callable[[Callable[[State], State], str], bool]) -> None:
        self.clock, self.stopping, self.problems, self.update_state = clock, stopping, problems, update_state
        self.turns: list[Turn] = []
        self.facts = Facts()  # what the sources last learned (each field: its source's last good value)

    def build(self, config: Config) -> None:
        """The sources `config` asks for; a field no source fills any more goes back to its default."""
        from reminderd.sources import build

        self.turns = [Turn(source) for source in build(config)]
        filled = {turn.seam.field for turn in self.turns}
        self.facts = self.facts._replace(**{f: Facts._field_defaults[f] for f in set(Facts._fields) - filled})

    def refresh(self, config: Config, state_dir: Any) -> bool:
        """Refresh each source whose turn it is; never raises. True when the facts changed (the
        caller plans again)."""
        changed = False
        for turn in list(self.turns):
            now = self.clock()
            if self.stopping.is_set() or not turn.due(now):
                continue
            source = turn.seam
            try:
                value = source.refresh(config, state_dir, now, time.monotonic() + SOURCE_WITHIN)
            except Exception as exc:  # noqa: BLE001 (a source fails alone, whatever it raises)
                turn.backoff.failed(now)
                why = one_line(str(exc) or type(exc).__name__)
                self.problems.report(f"source:{source.name}", f"{source.name}: {why}; keeping what was known, "
                                                              f"trying again after {RETRIES}")
                continue
            turn.backoff.succeeded()
            turn.last = now
            self.problems.resolved(f"source:{source.name}", f"{source.name}: read again")
            if getattr(self.facts, source.field) != value:
                self.facts = self.facts._replace(**{source.field: value})
                changed = True
            keep = getattr(source, "keep", None)
            if keep is not None and value is not None and value != turn.kept:
                self._keep(turn, functools.partial(keep, config=config, value=value, now=now), value)
        return changed

    def _keep(self, turn: Turn, change: Callable[[State], State], value: Any) -> None:
        if self.update_state(change, f"keep:{turn.seam.name}"):
            turn.kept = value
