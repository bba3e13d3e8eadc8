"""The machine-owned state file: what was delivered, what the user acknowledged, what they saw.

State is an immutable value; changes return a new State. Files are written atomically
(temp file in the same directory, fsync, rename, fsync of the directory) with mode 0600, and
read-modify-write cycles hold an fcntl lock so `reminderd balance` and the daemon cannot lose
each other's updates. A corrupt file is moved aside with a warning, never silently discarded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from reminderd.errors import ReminderdError, StateError
from reminderd.forecast import Observation
from reminderd.offers import EMPTY_MAPPING

FORMAT_VERSION = 1
# What the user can acknowledge with `reminderd done`; reminders name the ones that stop them.
EXTRA_USAGE_OFF = "extra-usage-off"
AUTO_RELOAD_OFF = "auto-reload-off"
ACTIONS = (EXTRA_USAGE_OFF, AUTO_RELOAD_OFF)
ICS_SECTION = "ics"  # extra section: what export-ics published (uid -> sequence, fingerprint)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


class State(NamedTuple):
    # "<reminder id>@<due, ISO UTC>" -> when it was delivered
    delivered: Mapping[str, datetime] = EMPTY_MAPPING
    # credit id -> action (see ACTIONS) -> when the user said they did it
    acknowledged: Mapping[str, Mapping[str, datetime]] = EMPTY_MAPPING
    # credit id -> balance observations, oldest first
    observations: Mapping[str, tuple[Observation, ...]] = EMPTY_MAPPING
    # free-form sections owned by one module each (e.g. "ics" for SEQUENCE numbers)
    extra: Mapping[str, Any] = EMPTY_MAPPING

    def with_observation(self, credit_id: str, observation: Observation) -> State:
        kept = [o for o in self.observations.get(credit_id, ()) if o.at != observation.at]
        merged = tuple(sorted([*kept, observation], key=lambda o: o.at))
        return self._replace(observations=_frozen({**self.observations, credit_id: merged}))

    def with_acknowledged(self, credit_id: str, action: str, at: datetime) -> State:
        actions = {**self.acknowledged.get(credit_id, {}), action: at}
        return self._replace(acknowledged=_frozen({**self.acknowledged, credit_id: _frozen(actions)}))

    def with_delivered(self, key: str, at: datetime) -> State:
        return self._replace(delivered=_frozen({**self.delivered, key: at}))

    def with_extra(self, section: str, value: Any) -> State:
        return self._replace(extra=_frozen({**self.extra, section: value}))


def delivery_key(reminder_id: str, due: datetime) -> str:
    """The same instant gives the same key, whatever its tzinfo."""
    return f"{reminder_id}@{due.astimezone(UTC).isoformat()}"


def to_json(state: State) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "delivered": {k: v.isoformat() for k, v in sorted(state.delivered.items())},
        "acknowledged": {c: {a: t.isoformat() for a, t in sorted(acts.items())}
                         for c, acts in sorted(state.acknowledged.items())},
        "observations": {c: [{"at": o.at.isoformat(), "remaining_usd": o.remaining_usd} for o in obs]
                         for c, obs in sorted(state.observations.items())},
        **{k: v for k, v in sorted(state.extra.items())},
    }


def from_json(data: Any) -> State:
    """Raise ValueError/TypeError/KeyError on anything that is not a state document."""
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("not a reminderd state document of version 1")

    def instant(text: Any) -> datetime:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError("naive time in state")
        return value

    return State(
        delivered=_frozen({str(k): instant(v) for k, v in data.get("delivered", {}).items()}),
        acknowledged=_frozen({str(c): _frozen({str(a): instant(t) for a, t in acts.items()})
                              for c, acts in data.get("acknowledged", {}).items()}),
        observations=_frozen({str(c): tuple(Observation(instant(o["at"]), float(o["remaining_usd"]))
                                            for o in obs)
                              for c, obs in data.get("observations", {}).items()}),
        extra=_frozen({k: v for k, v in data.items()
                       if k not in ("version", "delivered", "acknowledged", "observations")}),
    )


def load_state(path: Path) -> State:
    """Read the state; a missing file is an empty state, a corrupt one is moved aside."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file: {exc.strerror}") from None
    import json

    try:
        return from_json(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError):
        aside = path.with_name(f"{path.name}.corrupt-{os.getpid()}")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        import logging

        logging.getLogger(__name__).warning("%s: state file was corrupt; moved aside to %s and starting afresh "
                    "(a reminder may repeat once)", path, aside.name)
        return State()


def save_state(path: Path, state: State) -> None:
    """Write atomically: a reader sees the old file or the new one, never a mix."""
    import json

    text = json.dumps(to_json(state), indent=2, sort_keys=False) + "\n"
    write_atomically(path, text.encode("utf-8"), mode=0o600)


def write_atomically(path: Path, data: bytes, mode: int = 0o644,
                     error: type[ReminderdError] = StateError) -> None:
    """Temp file beside `path`, fsync, rename over it, fsync the directory.

    On failure nothing is left behind and `error` is raised with a one-line reason.
    """
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise error(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise error(f"{path}: cannot write: {exc.strerror}") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on `<path>.lock` for a read-modify-write cycle."""
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(f"{lock_path}: cannot open the lock file: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_state(path: Path, change: Callable[[State], State]) -> State:
    """Apply `change(State) -> State` under the lock and save; return the new state."""
    with locked(path):
        new = change(load_state(path))
        save_state(path, new)
        return new
