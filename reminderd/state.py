"""The machine-owned state file: what was delivered, what the user acknowledged, what they saw.

State is an immutable value; changes return a new State. The file is written atomically with
mode 0600, and read-modify-write cycles hold an fcntl lock so `reminderd balance` and the
daemon cannot lose each other's updates.

Reading never loses a record that is still valid. A damaged file is salvaged entry by entry:
what is valid is kept, what is not is named. Read-only commands only say so; the next write
first copies the whole damaged file aside, then writes the salvaged state. A file of an older
format is migrated; one of a newer format is refused (exit 74) and left untouched.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.errors import NewerStateError, StateError
from reminderd.files import PRIVATE, make_private_dirs, write_atomically
from reminderd.forecast import MANUAL, Observation
from reminderd.record import (
    CALDAV_SECTION,
    DESKTOP,
    ICS_SECTION,
    ICS_WRITTEN_SECTION,
    INSTALLATION_SECTION,
    KEEP_DELIVERIES,
    KEEP_REPLACED_CLAIMS,
    REPLACED_CLAIMS_SECTION,
    SERVICE_SECTION,
    SNOOZED_SECTION,
    Delivery,
    State,
    _frozen,
)

# The value lives in record.py; these names are read from here by the modules that keep the file.
__all__ = ["CALDAV_SECTION", "DESKTOP", "FORMAT_VERSION", "ICS_SECTION", "ICS_WRITTEN_SECTION",
           "INSTALLATION_SECTION", "KEEP_DELIVERIES", "KEEP_REPLACED_CLAIMS", "MAX_BALANCE_USD",
           "REPLACED_CLAIMS_SECTION", "SERVICE_SECTION", "SNOOZED_SECTION", "Delivery", "Loaded", "NewerStateError",
           "State", "describe_damage", "keep_damaged_copy", "locked", "parse_state", "read_state", "save_state",
           "to_json", "update_state"]

FORMAT_VERSION = 2
MAX_BALANCE_USD = 1_000_000.0
# -- to and from JSON ----------------------------------------------------------------------------


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def to_json(state: State) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "delivered": {k: [{"due": _iso(d.due), "event_at": _iso(d.event_at), "at": _iso(d.at),
                           **({"channel": d.channel} if d.channel != DESKTOP else {})} for d in ds]
                      for k, ds in sorted(state.delivered.items())},
        "acknowledged": {c: {a: t.isoformat() for a, t in sorted(acts.items())}
                         for c, acts in sorted(state.acknowledged.items())},
        "observations": {c: [{"at": o.at.isoformat(), "remaining_usd": o.remaining_usd,
                              **({"source": o.source} if o.source != MANUAL else {})} for o in obs]
                         for c, obs in sorted(state.observations.items())},
        **{k: v for k, v in sorted(state.extra.items())},
    }


class Loaded(NamedTuple):
    """A state file as read: the state, and what could not be kept."""

    state: State
    damaged: tuple[str, ...] = ()  # one line per entry that was not valid, naming it
    migrated_from: int | None = None

    def summary(self) -> str:
        s = self.state
        acks = sum(len(a) for a in s.acknowledged.values())
        readings = sum(len(o) for o in s.observations.values())
        return (f"kept {len(s.delivered)} deliveries, {acks} acknowledgements, {readings} balance readings")


class _Invalid(ValueError):
    pass


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Invalid("expected an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid("expected an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise _Invalid("expected a time with an offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _Invalid("expected a time within the years 1-9999") from None


def _balance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_BALANCE_USD:
        raise _Invalid(f"expected a number of USD from 0 to {MAX_BALANCE_USD:,.0f}")
    return float(value)


def _ics_entry(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("expected a table")
    sequence = value.get("sequence")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence < 2**31:
        raise _Invalid("sequence: expected a whole number >= 0")
    for key in ("fingerprint", "summary"):
        if not isinstance(value.get(key), str):
            raise _Invalid(f"{key}: expected a string")
    _instant(value.get("start"))
    if not isinstance(value.get("cancelled", False), bool):
        raise _Invalid("cancelled: expected true or false")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("expected a string")
    return value


def _caldav_calendar(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not all(
            isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("href", "etag", "synced"))
            for entry in value.values()):
        raise _Invalid("expected uid -> {href, etag, synced}")
    return value


def _snooze(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("expected a table")
    _instant(value.get("until"))
    return value


def _installation(value: Any) -> str:
    """The calendar UIDs' namespace (a UUID) or the channels' key (64 hex digits)."""
    import uuid

    text = _string(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text
    try:
        uuid.UUID(text)
    except ValueError:
        raise _Invalid("expected a UUID or 64 hex digits") from None
    return text


def _delivery(value: Any) -> Delivery:
    event, channel = value.get("event_at"), value.get("channel", DESKTOP)
    return Delivery(_instant(value["due"]), None if event is None else _instant(event), _instant(value["at"]),
                    _string(channel))


def _delivery_v1(key_and_value: tuple[str, Any]) -> Delivery:
    due, at = key_and_value
    return Delivery(_instant(due), None, _instant(at))


def _observation(value: Any) -> Observation:
    return Observation(_instant(value["at"]), _balance(value["remaining_usd"]), _string(value.get("source", MANUAL)))


def _replaced_claims(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid("expected a list")
    for entry in value:
        if not isinstance(entry, dict):
            raise _Invalid("expected a list of tables")
        if entry.get("claimed_at") is not None:
            _instant(entry["claimed_at"])
        _instant(entry.get("replaced_by"))
        _instant(entry.get("at"))
    return value


# The sections other modules own: each entry is checked on its own, so one bad entry costs only itself.
_EXTRA_ENTRIES: dict[str, Callable[[Any], Any]] = {
    ICS_SECTION: _ics_entry, ICS_WRITTEN_SECTION: _string, SERVICE_SECTION: _string,
    INSTALLATION_SECTION: _installation, CALDAV_SECTION: _caldav_calendar, SNOOZED_SECTION: _snooze,
    REPLACED_CLAIMS_SECTION: _replaced_claims,
}


class _Salvage:
    """Reads a state document entry by entry, keeping what is valid and naming what is not."""

    def __init__(self) -> None:
        self.damaged: list[str] = []

    def table(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.damaged.append(f"{where}: expected a table")
            return {}
        return value

    def entry(self, where: str, read: Callable[[Any], Any], value: Any) -> Any:
        """read(value), or None (and `where` named as damaged) when it is not valid."""
        try:
            return read(value)
        except (_Invalid, KeyError, TypeError, ValueError, AttributeError) as exc:
            self.damaged.append(f"{where}: {exc}" if isinstance(exc, _Invalid) else f"{where}: not valid")
            return None

    def delivered(self, raw: Any, version: int) -> dict[str, tuple[Delivery, ...]]:
        out: dict[str, list[Delivery]] = {}
        for key, value in self.table(raw, "delivered").items():
            if version == 1:  # "<id>@<due>" -> when; the event it warned about was not recorded
                reminder_id, _, due_text = key.rpartition("@")
                found = [self.entry(f"delivered.{key}", _delivery_v1, (due_text, value))]
            elif isinstance(value, list):
                reminder_id = key
                found = [self.entry(f"delivered.{key}[{i}]", _delivery, item) for i, item in enumerate(value)]
            else:
                self.damaged.append(f"delivered.{key}: expected a list")
                continue
            if reminder_id:
                out.setdefault(reminder_id, []).extend(d for d in found if d is not None)
        return {k: tuple(sorted(ds, key=lambda d: d.at)[-KEEP_DELIVERIES:]) for k, ds in out.items() if ds}

    def acknowledged(self, raw: Any) -> dict[str, Mapping[str, datetime]]:
        out: dict[str, Mapping[str, datetime]] = {}
        for credit, actions in self.table(raw, "acknowledged").items():
            kept = {}
            for action, when in self.table(actions, f"acknowledged.{credit}").items():
                instant = self.entry(f"acknowledged.{credit}.{action}", _instant, when)
                if instant is not None:
                    kept[action] = instant
            out[credit] = _frozen(kept)
        return out

    def observations(self, raw: Any) -> dict[str, tuple[Observation, ...]]:
        out: dict[str, tuple[Observation, ...]] = {}
        for credit, items in self.table(raw, "observations").items():
            if not isinstance(items, list):
                self.damaged.append(f"observations.{credit}: expected a list")
                continue
            kept = [self.entry(f"observations.{credit}[{i}]", _observation, item) for i, item in enumerate(items)]
            by_instant = {o.at: o for o in kept if o is not None}  # one reading per instant
            out[credit] = tuple(sorted(by_instant.values(), key=lambda o: o.at))
        return out

    def extra(self, data: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for section, value in data.items():
            if section in ("version", "delivered", "acknowledged", "observations"):
                continue
            check = _EXTRA_ENTRIES.get(section)
            if check is None:
                out[section] = value  # a section this version does not know: kept as it is
                continue
            entries = {}
            for key, entry in self.table(value, section).items():
                if self.entry(f"{section}.{key}", check, entry) is not None:
                    entries[key] = entry
            out[section] = entries
        return out


def parse_state(text: str, source: str) -> Loaded:
    """Salvage a state document. Raise NewerStateError for a format this version cannot read."""
    from reminderd.lightjson import loads  # json's own result, without importing json (`status` stays light)

    salvage = _Salvage()
    try:
        data = loads(text)
    except (ValueError, RecursionError):
        return Loaded(State(), ("the whole file: not a JSON document",))
    if not isinstance(data, dict):
        return Loaded(State(), ("the whole file: expected a JSON object",))
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise NewerStateError(f"{source}: written by a newer reminderd (state format {version}; this one reads "
                              f"1 to {FORMAT_VERSION}): upgrade reminderd; the file was left as it is")
    if version not in (1, FORMAT_VERSION) or isinstance(version, bool):
        salvage.damaged.append(f"version: expected 1 or {FORMAT_VERSION}")
        version = FORMAT_VERSION
    state = State(
        delivered=_frozen(salvage.delivered(data.get("delivered"), version)),
        acknowledged=_frozen(salvage.acknowledged(data.get("acknowledged"))),
        observations=_frozen(salvage.observations(data.get("observations"))),
        extra=_frozen(salvage.extra(data)),
    )
    return Loaded(state, tuple(salvage.damaged), 1 if version == 1 else None)


# -- files ----------------------------------------------------------------------------------------


def read_state(path: Path) -> Loaded:
    """Read and salvage the state file without changing anything; a missing file is empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(State())
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Loaded(State(), ("the whole file: not UTF-8 text",))
    return parse_state(text, str(path))


def describe_damage(path: Path, loaded: Loaded, moved_to: Path | None = None) -> str:
    """One line: what was wrong in the state file, what was kept, and where the rest went."""
    first = loaded.damaged[0]
    more = f" (and {len(loaded.damaged) - 1} more)" if len(loaded.damaged) > 1 else ""
    where = (f"the damaged file was copied to {moved_to.name}" if moved_to is not None
             else "nothing was changed; the next command that records something keeps a copy and repairs it")
    return f"{path}: damaged entry ignored: {first}{more}; {loaded.summary()}; {where}"


def save_state(path: Path, state: State) -> None:
    """Write atomically: a reader sees the old file or the new one, never a mix."""
    import json

    text = json.dumps(to_json(state), indent=2, sort_keys=False) + "\n"
    write_atomically(path, text.encode("utf-8"), mode=PRIVATE)


def keep_damaged_copy(path: Path) -> Path:
    """Copy a damaged state file aside before it is repaired; return the copy's path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}-{os.getpid()}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file: {exc.strerror}") from None
    write_atomically(aside, data, mode=PRIVATE)
    return aside


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on `<path>.lock` for a read-modify-write cycle."""
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    try:
        make_private_dirs(path.parent)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE)
    except OSError as exc:
        raise StateError(f"{lock_path}: cannot open the lock file: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_state(path: Path, change: Callable[[State], State],
                 report: Callable[[str], None] | None = None) -> State:
    """Apply `change(State) -> State` under the lock and save; return the new state.

    A damaged file is copied aside first (so nothing is lost), then the salvaged state is
    changed and saved; `report` gets one line saying what was kept.
    """
    with locked(path):
        loaded = read_state(path)
        if loaded.damaged:
            aside = keep_damaged_copy(path)
            if report is not None:
                report(describe_damage(path, loaded, aside))
        new = change(loaded.state)
        save_state(path, new)
        return new
