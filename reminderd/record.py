"""What reminderd remembers, as an immutable value: what was delivered on which channel, what
the user acknowledged, the balance readings, and sections other modules own. state.py keeps it
in a file; plan() and the catch-up read it as it is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from reminderd.forecast import Observation
from reminderd.offers import EMPTY_MAPPING

KEEP_DELIVERIES = 20  # per reminder: the events it was shown for, on each channel, so a forecast moving back is
# not news
ICS_SECTION = "ics"  # extra section: what export-ics published (uid -> sequence, fingerprint, ...)
ICS_WRITTEN_SECTION = "ics_written"  # extra section: live calendar path -> digest of what it holds
SERVICE_SECTION = "service"  # extra section: service file path -> sha256 of what we wrote
CALDAV_SECTION = "caldav"  # extra section: calendar URL -> uid -> {"href", "etag", "synced"} (caldav_sync.py)
INSTALLATION_SECTION = "installation"  # extra section: {"namespace": UUID of this installation's calendar UIDs}
SNOOZED_SECTION = "snoozed"  # extra section: reminder id -> {"until": when it comes once more} (snooze.py)
# extra section: credit id -> the claim times `reminderd claim` replaced, oldest first, for `claim --undo`:
# [{"claimed_at": the replaced time (null: there was none), "replaced_by": the new time, "at": when}]
REPLACED_CLAIMS_SECTION = "replaced_claims"
KEEP_REPLACED_CLAIMS = 20


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


DESKTOP = "desktop"  # the channel of desktop notifications; push channels are "push:<hash of the URL>"


class Delivery(NamedTuple):
    """A reminder shown to the user, on one channel."""

    due: datetime
    event_at: datetime | None  # what it warned about; None: unknown (migrated from format 1)
    at: datetime  # when it was shown
    channel: str = DESKTOP


class State(NamedTuple):
    # reminder id -> its deliveries, oldest first (at most KEEP_DELIVERIES)
    delivered: Mapping[str, tuple[Delivery, ...]] = EMPTY_MAPPING
    # credit id -> action (offers.Offer.actions, e.g. "extra-usage-off") -> when the user said they did it
    acknowledged: Mapping[str, Mapping[str, datetime]] = EMPTY_MAPPING
    # credit id -> balance observations, oldest first
    observations: Mapping[str, tuple[Observation, ...]] = EMPTY_MAPPING
    # sections owned by one module each (e.g. "ics" for SEQUENCE numbers)
    extra: Mapping[str, Any] = EMPTY_MAPPING

    def with_observation(self, credit_id: str, observation: Observation) -> State:
        kept = [o for o in self.observations.get(credit_id, ()) if o.at != observation.at]
        merged = tuple(sorted([*kept, observation], key=lambda o: o.at))
        return self._replace(observations=_frozen({**self.observations, credit_id: merged}))

    def without_observation(self, credit_id: str, at: datetime) -> State:
        kept = tuple(o for o in self.observations.get(credit_id, ()) if o.at != at)
        return self._replace(observations=_frozen({**self.observations, credit_id: kept}))

    def with_acknowledged(self, credit_id: str, action: str, at: datetime) -> State:
        actions = {**self.acknowledged.get(credit_id, {}), action: at}
        return self._replace(acknowledged=_frozen({**self.acknowledged, credit_id: _frozen(actions)}))

    def without_acknowledged(self, credit_id: str, action: str) -> State:
        actions = {a: t for a, t in self.acknowledged.get(credit_id, {}).items() if a != action}
        return self._replace(acknowledged=_frozen({**self.acknowledged, credit_id: _frozen(actions)}))

    def with_delivered(self, reminder_id: str, delivery: Delivery) -> State:
        history = (*(d for d in self.delivered.get(reminder_id, ()) if d != delivery), delivery)
        return self._replace(delivered=_frozen({**self.delivered, reminder_id: history[-KEEP_DELIVERIES:]}))

    def with_extra(self, section: str, value: Any) -> State:
        return self._replace(extra=_frozen({**self.extra, section: value}))

    def as_of(self, now: datetime) -> State:
        """What was known at `now`: records made later are not yet (status --at an earlier time)."""
        return self._replace(
            delivered=_frozen({k: kept for k, ds in self.delivered.items()
                               if (kept := tuple(d for d in ds if d.at <= now))}),
            acknowledged=_frozen({c: _frozen({a: t for a, t in acts.items() if t <= now})
                                  for c, acts in self.acknowledged.items()}),
            observations=_frozen({c: tuple(o for o in obs if o.at <= now) for c, obs in self.observations.items()}),
        )
