"""Keeping a CalDAV calendar in step with the timeline: `reminderd sync-calendar` and the daemon.

Semantics (README, "Calendar sync"):
- one resource per event, named from a hash of its UID (UIDs are per installation, ics.py);
- a resource reminderd has not written is never touched: the href and ETag of every resource
  it wrote are kept in the state file, per calendar;
- writes are conditional: a new resource with If-None-Match: *, a change with If-Match: <the
  ETag reminderd last saw>. A 412 means someone else changed it (you, in your calendar app):
  reminderd leaves your version alone and says so; delete the event to get reminderd's back;
- an event is written only when it changed (its SEQUENCE and fingerprint, shared with
  export-ics): a re-sync with no change makes one listing request and no write;
- an event that no longer applies (the claim deadline once claimed, a removed credit) is
  deleted; one deleted on the server while it still applies is written again;
- no METHOD in a resource (RFC 4791 4.1); every event has a DTEND.

plan_sync() is pure; CalDAVSession is the only part that talks to the server, through
python-caldav (the `reminderd[caldav]` extra), imported only here.
"""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

from reminderd.errors import ReminderdError
from reminderd.state import CALDAV_SECTION
from reminderd.urls import redact, redact_text

REQUEST_TIMEOUT = 10  # seconds for one request
SYNC_WITHIN = 30  # seconds for a whole sync; what is left waits for the next one


class CalendarError(ReminderdError):
    """The calendar server cannot be reached or refused what reminderd sent."""

    exit_code = 69  # EX_UNAVAILABLE


class CalendarAuthError(CalendarError):
    """The calendar server refused the user name or password."""

    exit_code = 77  # EX_NOPERM


class Action(NamedTuple):
    kind: str  # "create", "update", "delete", "keep-theirs" (changed on the server), "forget"
    uid: str
    href: str
    etag: str | None  # what the write is conditional on (If-Match), None for If-None-Match: *
    synced: str | None  # the version written (SEQUENCE and fingerprint); None for a delete


class Outcome(NamedTuple):
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    conflicts: tuple[str, ...] = ()  # one line each: what was left alone, and why
    requests: Mapping[str, int] = {}  # HTTP method -> count

    def summary(self) -> str:
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.requests.items())) or "no request"
        return (f"{self.created} created, {self.updated} updated, {self.deleted} deleted, {self.unchanged} "
                f"unchanged ({counts})")


def resource_name(uid: str) -> str:
    """A resource name no other program picks and any server accepts: a hash of the UID."""
    return hashlib.sha256(uid.encode()).hexdigest()[:32] + ".ics"


def plan_sync(collection: str, wanted: Mapping[str, str], synced: Mapping[str, Mapping[str, str]],
              listing: Mapping[str, str]) -> list[Action]:
    """What to do so the calendar holds `wanted` (uid -> version), given what reminderd wrote
    before (`synced`: uid -> {href, etag, synced}) and what the server lists (href -> etag)."""
    actions: list[Action] = []
    for uid, version in sorted(wanted.items()):
        mine = synced.get(uid)
        href = mine["href"] if mine else _path(urljoin(collection, resource_name(uid)))
        listed = listing.get(href)
        if mine is None or listed is None:
            # new, or gone from the server although it still applies; a resource already there
            # under our name is ours from a run that stopped before it could record it
            actions.append(Action("create" if listed is None else "update", uid, href, listed, version))
        elif listed != mine["etag"]:
            actions.append(Action("keep-theirs", uid, href, listed, None) if mine["synced"] == version
                           else Action("update", uid, href, mine["etag"], version))
        elif mine["synced"] != version:
            actions.append(Action("update", uid, href, mine["etag"], version))
    for uid, mine in sorted(synced.items()):
        if uid not in wanted:
            listed = listing.get(mine["href"])
            actions.append(Action("forget", uid, mine["href"], None, None) if listed is None
                           else Action("delete", uid, mine["href"], mine["etag"], None))
    return actions


def _path(url: str) -> str:
    return urlsplit(url).path


# -- talking to the server ---------------------------------------------------------------------


class CalDAVSession:
    """The requests one sync makes, through python-caldav, each bounded in time and counted."""

    def __init__(self, url: str, username: str | None, password: str | None) -> None:
        try:
            import caldav
            from caldav.lib import error as caldav_errors
        except ImportError:
            from reminderd.errors import MissingExtra
            from reminderd.extras import missing

            raise MissingExtra(missing("caldav")) from None
        self.collection = url if url.endswith("/") else url + "/"
        self.shown = redact(self.collection)  # for messages: config.py refuses a password in it already
        self.auth_error: type[Exception] = caldav_errors.AuthorizationError
        client_class: Any = caldav.DAVClient
        self.client = client_class(self.collection, username=username, password=password, timeout=REQUEST_TIMEOUT,
                                   enable_rfc6764=False)
        self.counts: dict[str, int] = {}
        self.sends_password = password is not None

    def request(self, path: str, method: str, body: str = "", headers: Mapping[str, str] | None = None) -> Any:
        self.counts[method] = self.counts.get(method, 0) + 1
        url = urljoin(self.collection, path)
        try:
            return self.client.request(url, method, body, dict(headers or {}))
        except self.auth_error:
            raise CalendarAuthError(f"{self.shown}: the calendar server refused the user name or password "
                                    f"({self._auth_hint()})") from None
        except Exception as exc:  # the HTTP layer's own errors: unreachable, timed out, refused
            raise CalendarError(f"{self.shown}: cannot reach the calendar server: "
                                f"{type(exc).__name__}: {redact_text(str(exc))[:200]}") from None

    def _auth_hint(self) -> str:
        if self.sends_password:
            return "check calendar.username and calendar.password_command"
        from reminderd.extras import installed_version, this_install_command

        missing = "" if installed_version("keyring") else \
            f"; keyring is not installed here: {this_install_command('keyring')}"
        return ("no password was sent: set calendar.password_command, or put the password in the system keyring "
                f"with `keyring set reminderd USERNAME`{missing}")

    def listing(self) -> dict[str, str]:
        """href -> ETag of every resource in the collection: one PROPFIND."""
        body = ('<?xml version="1.0" encoding="utf-8"?>'
                '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>')
        response = self.request(self.collection, "PROPFIND", body, {"Depth": "1", "Content-Type": "application/xml"})
        if response.status == 404:
            raise CalendarError(f"{self.shown}: no calendar there (create it in your calendar app or on the "
                                "server first)")
        if response.status != 207:
            raise CalendarError(f"{self.shown}: listing the calendar failed: HTTP {response.status}")
        raw = response.raw if isinstance(response.raw, bytes) else str(response.raw).encode()
        found: dict[str, str] = {}
        try:
            items = list(ElementTree.fromstring(raw).iter("{DAV:}response"))
        except (ElementTree.ParseError, ValueError) as exc:  # e.g. an entity lxml let through, undefined here
            raise CalendarError(f"{self.shown}: the calendar listing is not XML reminderd can read: "
                                f"{redact_text(str(exc))[:200]}") from None
        for item in items:
            href, etag = item.findtext("{DAV:}href"), item.findtext(".//{DAV:}getetag")
            if href and etag and not href.endswith("/"):
                found[_path(urljoin(self.collection, href))] = etag
        return found

    def put(self, href: str, body: bytes, etag: str | None) -> tuple[int, str | None]:
        condition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        response = self.request(href, "PUT", body.decode("utf-8"),
                                {"Content-Type": "text/calendar; charset=utf-8", **condition})
        return response.status, response.headers.get("ETag")

    def delete(self, href: str, etag: str) -> int:
        return int(self.request(href, "DELETE", "", {"If-Match": etag}).status)


def run_actions(session: CalDAVSession, actions: list[Action], bodies: Callable[[str], bytes],
                synced: dict[str, dict[str, str]], deadline: float) -> Outcome:
    """Carry out `actions`, updating `synced` as each succeeds; stop at `deadline` (the rest
    waits for the next sync)."""
    created = updated = deleted = 0
    conflicts: list[str] = []
    for action in actions:
        if time.monotonic() > deadline:
            conflicts.append(f"stopped after {SYNC_WITHIN} s; the rest is synced next time")
            break
        if action.kind == "keep-theirs":
            conflicts.append(f"{action.href}: changed on the server; left as it is")
            continue
        if action.kind == "forget":
            synced.pop(action.uid, None)
            continue
        if action.kind == "delete":
            assert action.etag is not None
            status = session.delete(action.href, action.etag)
            if status in (200, 204, 404):
                deleted += status != 404
                synced.pop(action.uid, None)
            elif status == 412:
                conflicts.append(f"{action.href}: changed on the server, so not deleted; delete it yourself")
                synced.pop(action.uid, None)
            else:
                raise CalendarError(f"{action.href}: delete refused: HTTP {status}")
            continue
        status, etag = session.put(action.href, bodies(action.uid), action.etag)
        if status == 412:
            conflicts.append(f"{action.href}: changed on the server since reminderd wrote it; your version is "
                             "kept (delete the event there to get reminderd's back)")
            continue
        if status not in (200, 201, 204):
            raise CalendarError(f"{action.href}: the server refused the event: HTTP {status}")
        if etag is None:  # some servers do not say; ask once
            etag = session.listing().get(action.href, "")
        assert action.synced is not None
        synced[action.uid] = {"href": action.href, "etag": etag, "synced": action.synced}
        created += action.kind == "create"
        updated += action.kind == "update"
    return Outcome(created, updated, deleted, 0, tuple(conflicts))


# -- the whole sync ---------------------------------------------------------------------------------


def sync(config: Any, state_path: Path, now: datetime, password: str | None, dry_run: bool = False,
         report: Callable[[str], None] | None = None, facts: Any = None,
         session_factory: Callable[..., CalDAVSession] = CalDAVSession) -> tuple[Outcome, list[Action]]:
    """Bring the calendar at config.calendar.url in step with the timeline at `now`."""
    from reminderd.ics import merge_records, render
    from reminderd.state import ICS_SECTION, update_state

    calendar = config.calendar
    wanted, current, record, state = wanted_versions(config, state_path, now, report, facts)
    key = redact(calendar.url)
    synced: dict[str, dict[str, str]] = {uid: dict(entry) for uid, entry in
                                          _records(state.extra.get(CALDAV_SECTION, {}), key).items()}
    session = session_factory(calendar.url, calendar.username, password)
    listing = session.listing()
    actions = plan_sync(session.collection, wanted, synced, listing)
    unchanged = len(wanted) - sum(1 for a in actions if a.kind in ("create", "update", "keep-theirs"))
    if dry_run:
        return Outcome(unchanged=unchanged, requests=dict(session.counts)), actions

    def body(uid: str) -> bytes:
        return render([current[uid]], {uid: record[uid]}, now)

    outcome = run_actions(session, actions, body, synced, time.monotonic() + SYNC_WITHIN)

    def remember(latest: Any) -> Any:
        # keyed by the address without user name or password; a key that had them is re-keyed
        records = {redact(k): v for k, v in latest.extra.get(CALDAV_SECTION, {}).items() if redact(k) != key}
        latest = latest.with_extra(CALDAV_SECTION, {**records, key: synced})
        return latest.with_extra(ICS_SECTION, merge_records(latest.extra.get(ICS_SECTION, {}), record))

    update_state(state_path, remember, report)
    return outcome._replace(unchanged=unchanged, requests=dict(session.counts)), actions


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


def password_for(calendar: Any) -> str | None:
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
