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
python-caldav (the `reminderd[caldav]` extra), imported only here, in a child process of its
own (serve_sync); caldav_channel.py runs it, plans what to write and keeps the record.
"""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

from reminderd.errors import CalendarAuthError, CalendarError, ReminderdError
from reminderd.urls import redact, redact_text

REQUEST_TIMEOUT = 10  # seconds for one request
SYNC_WITHIN = 30  # seconds for a whole sync; what is left waits for the next one


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
            actions.append(Action("keep-theirs", uid, href, listed, version) if mine["synced"] == version
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

    def get(self, href: str) -> bytes | None:
        """The resource as the server holds it; None if it cannot be read."""
        response = self.request(href, "GET")
        if response.status != 200:
            return None
        raw = response.raw if isinstance(response.raw, bytes) else str(response.raw).encode()
        return bytes(raw)

    def delete(self, href: str, etag: str) -> int:
        return int(self.request(href, "DELETE", "", {"If-Match": etag}).status)


def same_event(held: bytes | None, wanted: bytes) -> bool:
    """Whether the server holds what reminderd would write, but for its DTSTAMP (and how a
    server may fold, order or end its lines)."""
    if held is None:
        return False

    def lines(ics: bytes) -> list[str]:
        text = ics.decode("utf-8", "replace").replace("\r\n ", "").replace("\n ", "")
        return sorted(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("DTSTAMP"))

    return lines(held) == lines(wanted)


def run_actions(session: CalDAVSession, actions: list[Action], bodies: Callable[[str], bytes],
                done: Callable[[str, dict[str, str] | None], None], deadline: float) -> Outcome:
    """Carry out `actions`, calling done(uid, what reminderd now holds there, or None) as each
    succeeds, so a sync cut off between two requests keeps what it did (review M3); stop at
    `deadline` (the rest waits for the next sync)."""
    created = updated = deleted = 0
    conflicts: list[str] = []
    for action in actions:
        if time.monotonic() > deadline:
            conflicts.append(f"stopped after {SYNC_WITHIN} s; the rest is synced next time")
            break
        if action.kind == "keep-theirs":
            if same_event(session.get(action.href), bodies(action.uid)):
                # what reminderd wrote, the record of it lost (a full disk, then a restart): its own
                assert action.etag is not None and action.synced is not None
                done(action.uid, {"href": action.href, "etag": action.etag, "synced": action.synced})
            else:
                conflicts.append(f"{action.href}: changed on the server; left as it is")
            continue
        if action.kind == "forget":
            done(action.uid, None)
            continue
        if action.kind == "delete":
            assert action.etag is not None
            status = session.delete(action.href, action.etag)
            if status in (200, 204, 404):
                deleted += status != 404
                done(action.uid, None)
            elif status == 412:
                conflicts.append(f"{action.href}: changed on the server, so not deleted; delete it yourself")
                done(action.uid, None)
            else:
                raise CalendarError(f"{action.href}: delete refused: HTTP {status}")
            continue
        status, etag = session.put(action.href, bodies(action.uid), action.etag)
        if status == 412:
            held = session.get(action.href)
            if same_event(held, bodies(action.uid)):  # its own write, its record lost: adopt it
                etag = session.listing().get(action.href)
                if etag is not None and action.synced is not None:
                    done(action.uid, {"href": action.href, "etag": etag, "synced": action.synced})
                    continue
            conflicts.append(f"{action.href}: changed on the server since reminderd wrote it; your version is "
                             "kept (delete the event there to get reminderd's back)")
            continue
        if status not in (200, 201, 204):
            raise CalendarError(f"{action.href}: the server refused the event: HTTP {status}")
        if etag is None:  # some servers do not say; ask once
            etag = session.listing().get(action.href, "")
        assert action.synced is not None
        done(action.uid, {"href": action.href, "etag": etag, "synced": action.synced})
        created += action.kind == "create"
        updated += action.kind == "update"
    return Outcome(created, updated, deleted, 0, tuple(conflicts))


# -- the child process that talks to the server ----------------------------------------------------
#
# A sync runs in a process of its own (bounded.child_argv), ended at its deadline and capped in
# memory: python-caldav waits on each read but not on the whole exchange, and reads a whole
# answer however large (security H2, L1). Its job arrives as JSON on stdin; what it does goes
# out as JSON lines on stdout, each written as soon as it is done, so the parent keeps what
# was done before a cut.

def run_job(job: Mapping[str, Any], emit: Callable[[dict[str, Any]], None],
            session_factory: Callable[..., CalDAVSession] = CalDAVSession) -> None:
    """List the calendar, plan, and (unless a dry run) carry the plan out, telling `emit`."""
    try:
        session = session_factory(job["url"], job["username"], job["password"])
        listing = session.listing()
        actions = plan_sync(session.collection, job["wanted"], job["synced"], listing)
        emit({"actions": [list(action) for action in actions]})
        if not job["dry_run"]:
            outcome = run_actions(session, actions, lambda uid: job["bodies"][uid].encode("utf-8"),
                                  lambda uid, record: emit({"done": [uid, record]}),
                                  time.monotonic() + SYNC_WITHIN)
            emit({"outcome": [outcome.created, outcome.updated, outcome.deleted], "conflicts": list(outcome.conflicts)})
        emit({"requests": session.counts})
    except ReminderdError as exc:
        emit({"error": str(exc), "exit_code": exc.exit_code})


def serve_sync() -> None:
    """The child's entry point (bounded.child_argv("caldav_sync", "serve_sync"))."""
    import json
    import sys

    def emit(line: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    try:
        job = json.loads(sys.stdin.buffer.read())
    except ValueError:
        emit({"error": "calendar sync: a job it could not read", "exit_code": CalendarError.exit_code})
        return
    try:
        run_job(job, emit)
    except MemoryError:
        emit({"error": f"{redact(job.get('url', ''))}: the server's answer is too large to read",
              "exit_code": CalendarError.exit_code})
