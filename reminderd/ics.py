"""The Timeline as an .ics calendar: build_calendar(timeline, known, now) is pure; publish()
runs it against the state file for `export-ics` and the daemon's live calendar.

One event per key moment: the reminders of one series become one event (the expiry, with an
alarm for each of its reminders); each weekly usage check is its own event. Every alarm is an
absolute trigger at a reminder's own due instant, so the calendar and the daemon agree.

Times are written in UTC. That needs no VTIMEZONE, so no client can misread the summer-time
offset (icalendar's generated VTIMEZONE is misread by ical.js and vobject), and an event at
10:00 PST and one at 10:00 PDT are both 10:00 local in any calendar.

`known` is what earlier exports published (kept in the state file under "ics"): an event whose
time or text changed gets a higher SEQUENCE, and an event that no longer applies (the claim
deadline once claimed) is published as CANCELLED so subscribed calendars drop it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from reminderd import __version__
from reminderd.facts import Facts
from reminderd.seams import TIMELINE, ChannelError
from reminderd.settings import Config
from reminderd.timeline import NO_FACTS, CreditTimeline, Reminder, Timeline, credit_label
from reminderd.wording import sources_text

PRODID = f"-//reminderd//reminderd {__version__}//EN"
CALENDAR_NAME = "reminderd: usage credit reminders"
EVENT_LENGTH = timedelta(minutes=15)
UID_DOMAIN = "reminderd"
# Series whose event sits at the moment it warns about (alarms before it); the others sit at
# their first reminder.
EXPIRY = "expiry"
ANCHORED_ON_EVENT = frozenset({"claim-deadline", EXPIRY})


class CalendarEvent(NamedTuple):
    uid: str
    start: datetime
    summary: str
    description: str
    alarms: tuple[tuple[datetime, str], ...]  # (trigger instant, text)

    def fingerprint(self) -> str:
        text = repr((self.start.isoformat(), self.summary, self.description,
                     tuple((t.isoformat(), s) for t, s in self.alarms)))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def event_uid(namespace: uuid.UUID, key: str) -> str:
    """A UID no other installation writes (RFC 5545 3.8.4.7: globally unique), the same every
    time this one does: a name-based UUID in this installation's random namespace. Safe as a
    CalDAV resource name (no '/')."""
    return f"{uuid.uuid5(namespace, key)}@{UID_DOMAIN}"


def events(timeline: Timeline, namespace: uuid.UUID) -> list[CalendarEvent]:
    """The calendar's events, from the Timeline's reminders, ordered by start then uid.

    A claimed credit's expiry is always an event: once its reminders are acknowledged (`done`),
    it stays without alarms, since the date is still worth knowing."""
    groups: dict[str, list[Reminder]] = {}
    checks: dict[str, int] = {}
    for reminder in timeline.reminders:  # by due time
        key = reminder.series
        if reminder.kind == "check-usage":  # one event each, keyed by its rank: a corrected claim moves it
            checks[key] = checks.get(key, 0) + 1
            key = f"{key}/{checks[key]}"
        groups.setdefault(key, []).append(reminder)
    out = []
    for key, members in groups.items():
        members.sort(key=lambda r: r.due)
        first, last = members[0], members[-1]
        anchored = first.kind in ANCHORED_ON_EVENT and first.event_at is not None
        start = first.event_at if anchored and first.event_at else first.due
        # the last reminder of an anchored series speaks closest to the event: its words name it
        headline = last if anchored else first
        description = headline.body + _assumptions(timeline, first)
        out.append(CalendarEvent(
            uid=event_uid(namespace, key),
            start=start,
            summary=headline.title,
            description=description,
            alarms=tuple((r.due, r.title) for r in members),
        ))
    out += [_quiet_expiry(timeline, ct, namespace) for ct in timeline.credits
            if ct.expires_at is not None and f"{ct.credit.id}/{EXPIRY}" not in groups]
    out.sort(key=lambda e: (e.start, e.uid))
    return out


def _quiet_expiry(timeline: Timeline, ct: CreditTimeline, namespace: uuid.UUID) -> CalendarEvent:
    """The expiry of a credit whose expiry reminders are all acknowledged: the same event (same
    UID), without alarms."""
    assert ct.expires_at is not None
    offer = ct.credit.offer
    label = f"{credit_label(ct.credit)}: " if len(timeline.credits) > 1 else ""
    done = ", ".join(sorted(ct.acknowledged)) or "what its reminders asked for"
    return CalendarEvent(
        uid=event_uid(namespace, f"{ct.credit.id}/{EXPIRY}"),
        start=ct.expires_at,
        summary=f"{label}{offer.credit_name} expires",
        description=(f"Your USD {offer.amount_usd:g} credit expires at this time. No alarm: you recorded "
                     f"{done} (`reminderd done`)."),
        alarms=(),
    )


def _assumptions(timeline: Timeline, reminder: Reminder) -> str:
    if reminder.kind not in ("exhaustion", "low-balance", "unused-credit"):
        return ""
    ct = next(c for c in timeline.credits if c.credit.id == reminder.credit_id)
    fc = ct.forecast
    if fc is None:
        return ""
    basis = (f"your recorded balance of USD {fc.reference_balance_usd:.2f}" if fc.basis == "observations"
             else sources_text(fc.sources))
    return (f"\n\nAssumes spending USD {fc.rate.low:.2f}-{fc.rate.high:.2f} a day "
            f"(expected {fc.rate.expected:.2f}), from {basis}. "
            "Record the balance you see with `reminderd balance AMOUNT` and re-export.")


class Published(NamedTuple):
    """How many events a calendar holds: live ones, and cancellations of earlier ones."""

    live: int
    cancelled: int

    def __str__(self) -> str:
        cancelled = f" and {self.cancelled} cancelled" if self.cancelled else ""
        return f"{self.live} live event{'s' if self.live != 1 else ''}{cancelled}"


def publish(config: Config, state_path: Path, now: datetime, write: Callable[[bytes], None],
            destination: Path | None = None, report: Callable[[str], None] | None = None,
            facts: Facts = NO_FACTS) -> Published | None:
    """Plan, build the calendar, hand the bytes to `write`, then record what was published.

    The SEQUENCE record in the state is shared by every export, so it only ever rises. For a
    `destination` the daemon keeps current (ics_path), the state also remembers what that file
    holds: when nothing changed for it (and it exists), nothing is rendered (icalendar is not
    even imported) and None is returned. The SEQUENCE record is saved before `write` runs (a
    number once published is never reused for other content), and the state lock is not held
    while it runs, so a slow reader of stdout blocks no one.
    Returns how many live and cancelled events were written.
    """
    from reminderd.state import ICS_SECTION, ICS_WRITTEN_SECTION, update_state

    state, current, record = to_publish(config, state_path, now, report, facts)
    known = state.extra.get(ICS_SECTION, {})
    key = str(destination) if destination is not None else None
    if key is not None and destination is not None and destination.exists() \
            and record == known and state.extra.get(ICS_WRITTEN_SECTION, {}).get(key) == record_digest(record):
        return None
    # The record first: a SEQUENCE number, once in a file, is never reused for other content.
    if record != known:
        update_state(state_path, lambda latest: latest.with_extra(
            ICS_SECTION, merge_records(latest.extra.get(ICS_SECTION, {}), record)), report)
    write(render(current, record, now))
    if key is not None:
        update_state(state_path, lambda latest: latest.with_extra(ICS_WRITTEN_SECTION, {
            **latest.extra.get(ICS_WRITTEN_SECTION, {}), key: record_digest(record)}), report)
    cancelled = sum(1 for entry in record.values() if entry.get("cancelled"))
    return Published(len(record) - cancelled, cancelled)


class ToPublish(NamedTuple):
    state: Any  # the state it was planned from
    events: list[CalendarEvent]
    record: dict[str, Any]  # published_record() of the events against the state's record


def to_publish(config: Config, state_path: Path, now: datetime, report: Callable[[str], None] | None = None,
               facts: Facts = NO_FACTS) -> ToPublish:
    """What a calendar (a file or a CalDAV collection) should hold at `now`: one read of the
    state, one plan."""
    from reminderd.state import ICS_SECTION, read_state
    from reminderd.timeline import plan

    state = read_state(state_path).state
    namespace = installation_namespace(state_path, report, state)
    current = events(plan(config, state, now, facts), namespace)
    return ToPublish(state, current, published_record(current, state.extra.get(ICS_SECTION, {})))


def installation_namespace(state_path: Path, report: Callable[[str], None] | None = None,
                           state: Any = None) -> uuid.UUID:
    """This installation's UID namespace: random, made once and kept in the state (`state`,
    when the caller has just read it)."""
    from reminderd.state import INSTALLATION_SECTION, read_state, update_state

    def namespace_in(state: Any) -> str | None:
        value = state.extra.get(INSTALLATION_SECTION, {}).get("namespace")
        return value if isinstance(value, str) else None

    found = namespace_in(state if state is not None else read_state(state_path).state)
    if found is None:
        def create(state: Any) -> Any:  # under the lock: another writer may have made it meanwhile
            if namespace_in(state) is not None:
                return state
            return state.with_extra(INSTALLATION_SECTION, {**state.extra.get(INSTALLATION_SECTION, {}),
                                                           "namespace": str(uuid.uuid4())})
        found = namespace_in(update_state(state_path, create, report))
    assert found is not None
    return uuid.UUID(found)


def record_digest(record: Mapping[str, Any]) -> str:
    import json

    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def merge_records(stored: Mapping[str, Any], published: Mapping[str, Any]) -> dict[str, Any]:
    """What was just published, unless another export stored a higher SEQUENCE meanwhile."""
    merged = dict(stored)
    for uid, entry in published.items():
        if uid not in merged or int(merged[uid]["sequence"]) <= int(entry["sequence"]):
            merged[uid] = entry
    return merged


def build_calendar(timeline: Timeline, known: Mapping[str, Any], now: datetime,
                   namespace: uuid.UUID) -> tuple[bytes, dict[str, Any]]:
    """The .ics bytes and the updated record of published events (for the state file)."""
    current = events(timeline, namespace)
    record = published_record(current, known)
    return render(current, record, now), record


def published_record(current: list[CalendarEvent], known: Mapping[str, Any]) -> dict[str, Any]:
    """What this export publishes, per UID: SEQUENCE (raised when an event changed or comes
    back), a fingerprint, and, for events that no longer apply, `cancelled` with their last
    start and summary so the cancellation can still be written."""
    record: dict[str, Any] = {}
    for event in current:
        fingerprint = event.fingerprint()
        previous = known.get(event.uid)
        sequence = 0
        if previous is not None:
            sequence = int(previous["sequence"])
            if previous["fingerprint"] != fingerprint or previous.get("cancelled"):
                sequence += 1
        record[event.uid] = {"sequence": sequence, "fingerprint": fingerprint,
                             "start": event.start.isoformat(), "summary": event.summary}
    for uid in sorted(set(known) - set(record)):
        previous = known[uid]
        sequence = int(previous["sequence"]) + (0 if previous.get("cancelled") else 1)
        record[uid] = {**previous, "sequence": sequence, "cancelled": True}
    return record


def render(current: list[CalendarEvent], record: Mapping[str, Any], now: datetime) -> bytes:
    """The VCALENDAR for `current`, plus a CANCELLED event for each cancelled UID in `record`."""
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    # no METHOD: that would make the file an iTIP message needing ORGANIZER (RFC 5546 3.2.1), and
    # RFC 4791 4.1 forbids it in CalDAV resources; libical rejects every event with it
    calendar.add("name", CALENDAR_NAME)
    calendar.add("x-wr-calname", CALENDAR_NAME)
    for event in current:
        calendar.add_component(_vevent(icalendar, event, record[event.uid]["sequence"], now))
    for uid, entry in sorted(record.items()):
        if not entry.get("cancelled"):
            continue
        gone = CalendarEvent(uid, datetime.fromisoformat(entry["start"]), entry["summary"], "No longer applies.", ())
        component = _vevent(icalendar, gone, entry["sequence"], now)
        component.add("status", "CANCELLED")
        calendar.add_component(component)
    return b"\r\n".join(fold(line).encode() for line in calendar.content_lines() if line) + b"\r\n"


FOLD_AT = 74  # octets of a physical line before its fold (a continuation adds a space: 75)


def fold(line: str) -> str:
    """RFC 5545 section 3.1 folding, exactly as icalendar folds (never right after a backslash or
    a caret, which would split an escape across lines). icalendar 7 folds one character at a time,
    which took a third of a 50-credit export; an ASCII line here is sliced."""
    if not line.isascii():
        return _fold_octets(line)
    chunks, start = [], 0
    while len(line) - start > FOLD_AT:
        end = start + FOLD_AT
        if line[end - 1] in "\\^":
            end -= 1
        chunks.append(line[start:end])
        start = end
    chunks.append(line[start:])
    return "\r\n ".join(chunks)


def _fold_octets(line: str) -> str:
    """fold() for a line with multi-byte characters: counted in UTF-8 octets, never inside one."""
    chunks: list[str] = []
    current: list[str] = []
    octets = 0
    for char in line:
        size = len(char.encode())
        if current and octets + size > FOLD_AT:
            carry = current.pop() if len(current) > 1 and current[-1] in "\\^" else None
            chunks.append("".join(current))
            current = [carry] if carry else []
            octets = len(carry.encode()) if carry else 0
        current.append(char)
        octets += size
    chunks.append("".join(current))
    return "\r\n ".join(chunks)


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


def _vevent(icalendar: Any, event: CalendarEvent, sequence: int, now: datetime) -> Any:
    component = icalendar.Event()
    component.add("uid", event.uid)
    component.add("dtstamp", _utc(now))
    component.add("dtstart", _utc(event.start))
    component.add("dtend", _utc(event.start + EVENT_LENGTH))
    component.add("summary", event.summary)
    component.add("description", event.description)
    component.add("sequence", sequence)
    component.add("transp", "TRANSPARENT")
    for trigger, text in event.alarms:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", text)
        # an absolute trigger must say VALUE=DATE-TIME (icalendar omits it; ical.js rejects that)
        alarm.add("trigger", _utc(trigger), parameters={"VALUE": "DATE-TIME"})
        component.add_component(alarm)
    return component


class CalendarFile:
    """The live .ics file of `ics_path`, as a TIMELINE channel (seams.Channel): rewritten
    (atomically) whenever what it should hold changed."""

    capabilities = frozenset({TIMELINE})
    timeout = 10.0

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self.id = f"ics:{self.path}"
        self.name = f"calendar {self.path}"

    def publish(self, config: Config, state_path: Path, now: datetime, facts: Facts) -> str | None:
        from reminderd.errors import OutputError, StateError
        from reminderd.files import write_atomically

        try:
            published = publish(config, state_path, now, lambda data: write_atomically(self.path, data,
                                                                                         error=OutputError),
                                 destination=self.path, facts=facts)
        except (OutputError, StateError) as exc:
            raise ChannelError(str(exc)) from None
        return None if published is None else f"{self.name} updated ({published})"

    def deliver(self, item: Any) -> str:
        raise NotImplementedError  # a TIMELINE channel

    def cancel(self) -> None:
        pass  # a local write: it ends by itself
