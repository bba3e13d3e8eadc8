"""A CalDAV calendar kept in step with the timeline (README, "Calendar sync"): what `sync-calendar`
and the daemon's calendar channel run.

This side plans what the calendar should hold and keeps the record of what reminderd wrote
there; the requests go out from a child process (caldav_sync.serve_sync), ended at the deadline
whatever the server does, and each write it reports is kept here even when it is cut off half
way, so the next sync knows those events as reminderd's own (review M3). The password comes
from calendar.password_command or the keyring, is held in memory, and goes to the child on its
stdin: never in argv, the environment, a file or a log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reminderd.bounded import CannotRun, child_argv, run
from reminderd.caldav_sync import (
    REQUEST_TIMEOUT,
    SYNC_WITHIN,
    Action,
    Outcome,
)
from reminderd.errors import CalendarAuthError, CalendarError, MissingExtra, StateError, Unsaved
from reminderd.facts import Facts
from reminderd.seams import TIMELINE, ChannelError
from reminderd.settings import CalendarSettings, Config
from reminderd.state import CALDAV_SECTION, ICS_SECTION
from reminderd.urls import redact

CHILD_WITHIN = SYNC_WITHIN + 15.0  # seconds the child gets in all: its start, the listing, the writes
CHECK_EVERY = timedelta(hours=1)  # a sync with no local change: repairs what was deleted on the server
ERRORS: Mapping[int, type[CalendarError] | type[MissingExtra]] = {
    CalendarAuthError.exit_code: CalendarAuthError, MissingExtra.exit_code: MissingExtra}
Job = dict[str, Any]
Runner = Callable[[Job], list[dict[str, Any]]]


def run_in_child(job: Job, within: float = CHILD_WITHIN) -> list[dict[str, Any]]:
    """The lines the child wrote, within `within` seconds; the last is an "error" one if it was cut off."""
    try:
        done = run(child_argv("caldav_sync", "serve_sync"), within, stdin=json.dumps(job).encode())
    except CannotRun as exc:
        raise CalendarError(f"calendar sync: cannot start a process for it: {exc.strerror}") from None
    lines = []
    for raw in done.stdout.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            break  # cut off mid-line
    if done.timed_out:
        lines.append({"error": f"{redact(job['url'])}: no answer within {within:g} s; what was done is kept",
                      "exit_code": CalendarError.exit_code})
    elif not lines or "requests" not in lines[-1] and "error" not in lines[-1]:
        lines.append({"error": f"{redact(job['url'])}: the sync ended early (exit {done.returncode})",
                      "exit_code": CalendarError.exit_code})
    return lines


def run_in_process(session_factory: Callable[..., Any]) -> Runner:
    """A runner that talks to the server from this process, through `session_factory` (tests)."""
    from reminderd.caldav_sync import run_job

    def runner(job: Job) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        run_job(job, lines.append, session_factory)
        return lines

    return runner


def sync(config: Config, state_path: Path, now: datetime, password: str | None, dry_run: bool = False,
         report: Callable[[str], None] | None = None, facts: Facts | None = None,
         runner: Runner = run_in_child, held: dict[str, dict[str, str]] | None = None) -> tuple[Outcome, list[Action]]:
    """Bring the calendar at config.calendar.url in step with the timeline at `now`; `held`: what
    an earlier sync wrote and could not record (Unsaved)."""
    from reminderd.ics import merge_records, render
    from reminderd.state import update_state

    calendar = config.calendar
    assert calendar is not None
    if not _caldav_installed():  # known here: the child would only say so after its start
        from reminderd.extras import missing

        raise MissingExtra(missing("caldav"))
    wanted, current, record, state = wanted_versions(config, state_path, now, report, facts)
    key = redact(calendar.url)
    synced: dict[str, dict[str, str]] = held if held is not None else {
        uid: dict(entry) for uid, entry in _records(state.extra.get(CALDAV_SECTION, {}), key).items()}
    bodies = {} if dry_run else {uid: render([current[uid]], {uid: record[uid]}, now).decode() for uid in wanted}
    lines = runner({"url": calendar.url, "username": calendar.username, "password": password, "wanted": wanted,
                    "synced": synced, "bodies": bodies, "dry_run": dry_run})
    actions = [Action(*fields) for line in lines if "actions" in line for fields in line["actions"]]
    changed = False
    for line in lines:
        if "done" in line:
            uid, now_held = line["done"]
            changed = True
            if now_held is None:
                synced.pop(uid, None)
            else:
                synced[uid] = now_held
    if not dry_run:
        def remember(latest: Any) -> Any:
            # keyed by the address without user name or password; a key that had them is re-keyed
            records = {redact(k): v for k, v in latest.extra.get(CALDAV_SECTION, {}).items() if redact(k) != key}
            latest = latest.with_extra(CALDAV_SECTION, {**records, key: synced})
            return latest.with_extra(ICS_SECTION, merge_records(latest.extra.get(ICS_SECTION, {}), record))

        if changed or held is not None or not any("error" in line for line in lines):
            try:
                update_state(state_path, remember, report)
            except StateError as exc:
                raise Unsaved(exc, synced) from None
    for line in lines:
        if "error" in line:
            raise ERRORS.get(line["exit_code"], CalendarError)(line["error"])
    created, updated, deleted = next((line["outcome"] for line in lines if "outcome" in line), (0, 0, 0))
    conflicts = tuple(c for line in lines if "conflicts" in line for c in line["conflicts"])
    requests: dict[str, int] = next((line["requests"] for line in lines if "requests" in line), {})
    unchanged = len(wanted) - sum(1 for a in actions if a.kind in ("create", "update", "keep-theirs"))
    return Outcome(created, updated, deleted, unchanged, conflicts, requests), actions


def _caldav_installed() -> bool:
    from reminderd.extras import installed

    return installed("caldav")


def _records(section: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """What reminderd wrote to the calendar `key`, also when an older version stored it under
    the address with a user name and password in it."""
    if key in section:
        return section[key]  # type: ignore[no-any-return]
    return next((records for url, records in section.items() if redact(url) == key), {})


def wanted_versions(config: Any, state_path: Path, now: datetime, report: Callable[[str], None] | None = None,
                    facts: Any = None) -> tuple[dict[str, str], dict[str, Any], dict[str, Any], Any]:
    """What the calendar should hold at `now`: uid -> version (SEQUENCE and fingerprint), with
    the events, the SEQUENCE record and the state they come from. No request is made: the
    daemon compares versions to know whether to sync."""
    from reminderd.ics import to_publish
    from reminderd.timeline import NO_FACTS

    state, events, record = to_publish(config, state_path, now, report, facts or NO_FACTS)
    current = {event.uid: event for event in events}
    wanted = {uid: f"{record[uid]['sequence']}:{record[uid]['fingerprint']}" for uid in current}
    return wanted, current, record, state


def password_for(calendar: CalendarSettings) -> str | None:
    """The calendar password: printed by calendar.password_command, else from the system
    keyring (service "reminderd", the user name) where the `keyring` package is installed, else
    none. Never written anywhere by reminderd."""
    if calendar.password_command:
        return _run_password_command(calendar.password_command)
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password("reminderd", calendar.username or calendar.url)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 (a keyring backend raises its own errors)
        raise CalendarError(f"calendar: the system keyring failed: {type(exc).__name__}") from None


def _run_password_command(argv: tuple[str, ...]) -> str:
    """The first line the command prints."""
    from reminderd.secret_command import CommandFailed, printed_lines

    try:
        lines = printed_lines(argv, "calendar.password_command", REQUEST_TIMEOUT)
    except CommandFailed as exc:
        raise CalendarError(str(exc)) from None
    if not lines or not lines[0]:
        raise CalendarError("calendar.password_command: printed no password")
    return lines[0]


class CalendarChannel:
    """The CalDAV calendar of [calendar], as a TIMELINE channel (seams.Channel): synced when
    what it should hold changed (known without a request), every CHECK_EVERY anyway."""

    capabilities = frozenset({TIMELINE})
    timeout = CHILD_WITHIN

    def __init__(self, settings: CalendarSettings, runner: Runner = run_in_child) -> None:
        self.settings, self.runner = settings, runner
        self.id = f"caldav:{redact(settings.url)}"
        self.name = f"calendar {redact(settings.url)}"
        self.versions: dict[str, str] | None = None  # what was synced last
        self.next_check: datetime | None = None
        self.password: str | None = None  # in memory only
        self.have_password = False
        self.held: dict[str, dict[str, str]] | None = None  # written, not yet recorded (the disk was full)

    def publish(self, config: Config, state_path: Path, now: datetime, facts: Facts) -> str | None:
        try:
            versions = wanted_versions(config, state_path, now, facts=facts)[0]
            if versions == self.versions and self.next_check is not None and now < self.next_check:
                return None
            if not self.have_password:
                self.password, self.have_password = password_for(self.settings), True
            outcome, _ = sync(config, state_path, now, self.password, facts=facts, runner=self.runner,
                              held=self.held)
        except Unsaved as exc:
            self.held = exc.synced
            raise ChannelError(f"{exc}; what was written is kept in memory") from None
        except (CalendarError, MissingExtra, StateError) as exc:
            if isinstance(exc, CalendarAuthError):
                self.have_password = False  # ask again next time: it may have been changed
            # the log line already starts with this channel's name, which holds the address
            raise ChannelError(str(exc).removeprefix(f"{redact(self.settings.url)}: ")) from None
        self.versions, self.next_check, self.held = versions, now + CHECK_EVERY, None
        notes = [f"calendar: {line}" for line in outcome.conflicts]
        if outcome.created or outcome.updated or outcome.deleted:
            notes.append(f"calendar synced: {outcome.summary()}")
        return "; ".join(notes) or None

    def __eq__(self, other: object) -> bool:
        """The same calendar: a rebuilt channel (after a reload) keeps this one and what it holds."""
        return isinstance(other, CalendarChannel) and other.settings == self.settings

    __hash__ = None  # type: ignore[assignment]

    def deliver(self, item: Any) -> str:
        raise NotImplementedError  # a TIMELINE channel

    def cancel(self) -> None:
        pass  # the child is ended at its own deadline

