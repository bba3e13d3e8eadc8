"""Calendar sync against a real CalDAV server: Radicale on 127.0.0.1, started here, with and
without htpasswd authentication."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
import vobject
from click.testing import Result
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from reminderd.caldav_channel import sync
from reminderd.caldav_sync import plan_sync, resource_name
from reminderd.config import load_config
from reminderd.errors import CalendarAuthError, CalendarError
from reminderd.facts import Facts
from reminderd.state import read_state

Cli = Callable[..., Result]
NOW = datetime(2026, 2, 20, 18, tzinfo=UTC)
PASSWORD = "s3cret-pa55"


class Server(NamedTuple):
    url: str  # the calendar collection
    username: str
    password: str | None
    port: int
    config: Path
    storage: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_radicale(server: Server) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(server.config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", server.port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("Radicale did not start")


@pytest.fixture(params=["no-auth", "htpasswd"])
def radicale(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    port, storage = _free_port(), tmp_path / "collections"
    lines = [f"[server]\nhosts = 127.0.0.1:{port}\n", f"[storage]\nfilesystem_folder = {storage}\n",
             "[logging]\nlevel = warning\n"]
    if request.param == "htpasswd":
        (tmp_path / "users").write_text(f"me:{PASSWORD}\n")
        users = tmp_path / "users"
        lines.append(f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n")
        password: str | None = PASSWORD
    else:  # anyone may do anything
        (tmp_path / "rights").write_text("[all]\nuser: .*\ncollection: .*\npermissions: RrWw\n")
        lines.append(f"[auth]\ntype = none\n[rights]\ntype = from_file\nfile = {tmp_path / 'rights'}\n")
        password = None
    (tmp_path / "radicale.conf").write_text("".join(lines))
    server = Server(f"http://127.0.0.1:{port}/me/reminders/", "me", password, port, tmp_path / "radicale.conf", storage)
    proc = start_radicale(server)
    from caldav import DAVClient

    client = DAVClient(server.url, username="me", password=password, enable_rfc6764=False, timeout=10)
    propfind = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
    if client.request(f"http://127.0.0.1:{port}/me/", "PROPFIND", propfind, {"Depth": "0"}).status == 404:
        client.request(f"http://127.0.0.1:{port}/me/", "MKCOL", "", {})  # no login made it: make it
    assert client.request(server.url, "MKCALENDAR", "", {}).status == 201
    try:
        yield server
    finally:
        proc.terminate()
        proc.wait(10)


def events_on(server: Server) -> dict[str, vobject.base.Component]:
    """The server's calendar, read with caldav and vobject: href -> VEVENT."""
    from caldav import DAVClient

    client = DAVClient(server.url, username=server.username, password=server.password, enable_rfc6764=False)
    propfind = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
    import xml.etree.ElementTree as ElementTree

    listing = client.request(server.url, "PROPFIND", propfind, {"Depth": "1"})
    hrefs = [h.text for h in ElementTree.fromstring(listing.raw).iter("{DAV:}href") if not h.text.endswith("/")]
    out = {}
    for href in hrefs:
        body = client.request(f"http://127.0.0.1:{server.port}{href}", "GET").raw
        calendar = vobject.readOne(body if isinstance(body, str) else body.decode())
        assert "method" not in calendar.contents  # RFC 4791 4.1
        [event] = calendar.vevent_list  # one event per resource
        assert "dtend" in event.contents  # iCloud refuses events without it
        out[href] = event
    return out


CONFIG = """timezone = "America/Los_Angeles"
[calendar]
caldav_url = "{url}"
username = "me"
{password}
[[credit]]
id = "c"
plan = "pro"
subscribed_at = 2025-09-01
claimed_at = 2026-02-06T09:30:00
[credit.usage]
daily_spend_usd = 1.5
"""
SECOND_CREDIT = """
[[credit]]
id = "work"
account = "me@work"
plan = "max-5x"
subscribed_at = 2025-10-01
claimed_at = 2026-02-16T22:00:00
"""


@pytest.fixture
def config_for(tmp_path: Path) -> Callable[..., Path]:
    def write(server: Server, extra: str = "", password_line: str | None = None) -> Path:
        if password_line is None:
            password_line = f'password_command = ["printf", "%s", "{server.password}"]' if server.password else ""
        path = tmp_path / "config.toml"
        path.write_text(CONFIG.format(url=server.url, password=password_line) + extra)
        return path
    return write


def run_sync(path: Path, state: Path, server: Server, now: datetime = NOW, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return sync(load_config(path), state / "state.json", now, server.password, dry_run=dry_run)


def test_first_sync_then_a_resync_that_writes_nothing(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = config_for(radicale)
    outcome, _ = run_sync(path, tmp_path, radicale)
    on_server = events_on(radicale)
    assert outcome.created == len(on_server) == 12 and not outcome.conflicts
    assert outcome.requests == {"PROPFIND": 1, "PUT": 12}
    summaries = sorted(e.summary.value for e in on_server.values())
    assert "Claude usage credit expired: turn usage credits off" in summaries
    again, _ = run_sync(path, tmp_path, radicale)
    assert again.requests == {"PROPFIND": 1} and again.unchanged == 12  # no PUT, no DELETE


def test_a_claim_correction_moves_events_without_duplicates(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    before = {e.uid.value: e for e in events_on(radicale).values()}
    path.write_text(path.read_text().replace("claimed_at = 2026-02-06T09:30:00", "claimed_at = 2026-02-05T12:00:00"))
    outcome, _ = run_sync(path, tmp_path, radicale)
    after = {e.uid.value: e for e in events_on(radicale).values()}
    assert outcome.updated > 0 and outcome.created == 0 and outcome.deleted == 0  # moved, not re-made
    assert set(after) == set(before) and len(events_on(radicale)) == len(after)  # one resource per UID
    expiry = next(e for e in after.values() if e.summary.value.startswith("Claude usage credit expired"))
    assert expiry.dtstart.value == datetime(2026, 4, 6, 19, 0, tzinfo=UTC)  # 12:00 PDT, 60 days after 02-05
    assert int(expiry.sequence.value) == int(before[expiry.uid.value].sequence.value) + 1


def test_a_removed_credit_takes_its_events_with_it(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = config_for(radicale, SECOND_CREDIT)
    run_sync(path, tmp_path, radicale)
    assert any(e.summary.value.startswith("work (me@work): ") for e in events_on(radicale).values())
    config_for(radicale)  # the second credit is gone from the config
    outcome, _ = run_sync(path, tmp_path, radicale)
    assert outcome.deleted > 0
    assert not any(e.summary.value.startswith("work") for e in events_on(radicale).values())


def test_an_unreachable_server_loses_nothing(radicale: Server, config_for, tmp_path: Path, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    down = Server(radicale.url.replace(str(radicale.port), str(_free_port())), *radicale[1:])
    with pytest.raises(CalendarError, match="cannot reach the calendar server"):
        sync(load_config(config_for(down)), tmp_path / "state.json", NOW, down.password)
    synced = read_state(tmp_path / "state.json").state.extra["caldav"][radicale.url]
    assert len(synced) == 12  # the record of what the server holds is untouched
    result = cli("--config", str(config_for(down)), "sync-calendar", env={"REMINDERD_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 69 and result.stderr.count("\n") == 1 and "cannot reach" in result.stderr
    config_for(radicale)
    again, _ = run_sync(path, tmp_path, radicale)
    assert again.requests == {"PROPFIND": 1} and len(events_on(radicale)) == 12


def test_an_event_edited_on_the_server_is_left_alone(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from caldav import DAVClient

    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    href = next(h for h, e in events_on(radicale).items() if e.summary.value.startswith("Claude usage credit exp"))
    client = DAVClient(radicale.url, username="me", password=radicale.password, enable_rfc6764=False)
    body = client.request(f"http://127.0.0.1:{radicale.port}{href}", "GET").raw
    body = (body if isinstance(body, str) else body.decode()).replace("SUMMARY:", "SUMMARY:[mine] ", 1)
    assert client.request(f"http://127.0.0.1:{radicale.port}{href}", "PUT", body,
                          {"Content-Type": "text/calendar"}).status in (200, 201, 204)
    path.write_text(path.read_text().replace("claimed_at = 2026-02-06T09:30:00", "claimed_at = 2026-02-05T12:00:00"))
    outcome, _ = run_sync(path, tmp_path, radicale)
    assert any(href in line and "your version is kept" in line for line in outcome.conflicts)
    assert events_on(radicale)[href].summary.value.startswith("[mine] ")  # 412 on the conditional write


def test_a_resource_reminderd_did_not_write_is_never_touched(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from caldav import DAVClient

    client = DAVClient(radicale.url, username="me", password=radicale.password, enable_rfc6764=False)
    theirs = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//me//me//EN\r\nBEGIN:VEVENT\r\nUID:dentist@me\r\n"
              "DTSTAMP:20260301T000000Z\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
              "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    client.request(radicale.url + "dentist.ics", "PUT", theirs, {"Content-Type": "text/calendar"})
    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    path.write_text(path.read_text().replace("claimed_at = 2026-02-06T09:30:00\n", ""))  # everything changes
    run_sync(path, tmp_path, radicale, now=datetime(2026, 2, 10, tzinfo=UTC))
    assert "Dentist" in [e.summary.value for e in events_on(radicale).values()]


def test_a_wrong_password_is_one_line_and_exit_77(radicale: Server, config_for, tmp_path: Path, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    if radicale.password is None:
        pytest.skip("this server asks for no password")
    path = config_for(radicale, password_line='password_command = ["printf", "%s", "wrong"]')
    result = cli("--config", str(path), "sync-calendar", env={"REMINDERD_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 77
    assert result.stderr.count("\n") == 1 and "refused the user name or password" in result.stderr
    with pytest.raises(CalendarAuthError):
        sync(load_config(path), tmp_path / "state.json", NOW, "wrong")


def test_the_password_is_written_nowhere(radicale: Server, config_for, tmp_path: Path, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    if radicale.password is None:
        pytest.skip("this server asks for no password")
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")  # what `pass show caldav` would print
    path = config_for(radicale, password_line=f'password_command = "cat {secret}"')
    state = tmp_path / "state"
    result = cli("-v", "--config", str(path), "sync-calendar", env={"REMINDERD_STATE_DIR": str(state)})
    assert result.exit_code == 0, result.stderr
    assert "12 created" in result.stdout
    for written in [path, *state.rglob("*")]:
        if written.is_file():
            assert PASSWORD.encode() not in written.read_bytes(), written
    assert PASSWORD not in result.output


def test_dry_run_writes_nothing(radicale: Server, config_for, tmp_path: Path, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    path = config_for(radicale)
    result = cli("--config", str(path), "sync-calendar", "--dry-run", env={"REMINDERD_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("would create ") == 12 and events_on(radicale) == {}
    # newuser 10: each change named only by its hashed resource name
    assert ("would create  Tue 2026-04-07 09:30 PDT  Claude usage credit expired: turn usage credits off  "
            "(/me/reminders/") in result.stdout


def test_the_daemon_keeps_the_calendar_current(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from reminderd.daemon import Daemon
    from reminderd.notify import FallbackNotifier, LogNotifier

    path = config_for(radicale)
    now = [NOW]
    daemon = Daemon(path, tmp_path / "state.json", tmp_path / "lock", lambda: now[0],
                    notifier_factory=lambda c: FallbackNotifier([LogNotifier()]))
    daemon.tick("start")
    daemon.publish_timeline()  # its job, after each tick
    assert len(events_on(radicale)) == 12
    path.write_text(path.read_text().replace("claimed_at = 2026-02-06T09:30:00", "claimed_at = 2026-02-05T12:00:00"))
    now[0] += timedelta(minutes=1)
    daemon.tick("wake")  # the edit is seen at the next wake, and the calendar follows
    daemon.publish_timeline()
    expired = [e for e in events_on(radicale).values() if e.summary.value.startswith("Claude usage credit expired")]
    assert len(expired) == 1 and expired[0].dtstart.value == datetime(2026, 4, 6, 19, 0, tzinfo=UTC)


def test_plan_sync_by_hand() -> None:
    collection = "http://x/cal/"
    synced = {"a": {"href": "/cal/a.ics", "etag": '"1"', "synced": "0:f"},
              "b": {"href": "/cal/b.ics", "etag": '"2"', "synced": "0:f"},
              "gone": {"href": "/cal/g.ics", "etag": '"3"', "synced": "0:f"}}
    listing = {"/cal/a.ics": '"1"', "/cal/b.ics": '"9"', "/cal/g.ics": '"3"', "/cal/theirs.ics": '"5"'}
    actions = {a.uid: (a.kind, a.etag) for a in plan_sync(collection, {"a": "1:g", "b": "0:f", "new": "0:n"},
                                                          synced, listing)}
    assert actions == {"a": ("update", '"1"'), "b": ("keep-theirs", '"9"'), "new": ("create", None),
                       "gone": ("delete", '"3"')}
    assert "/cal/theirs.ics" not in {a.href for a in plan_sync(collection, {}, synced, listing)}  # not ours


def test_a_plain_http_address_is_refused_unless_local(cli: Cli, write_config: Callable[[str], Path]) -> None:
    path = write_config('[calendar]\ncaldav_url = "http://cloud.example.com/dav/me/cal/"\n[[credit]]\n')
    result = cli("--config", str(path), "status")
    assert result.exit_code == 78 and "calendar.caldav_url: expected an https:// address" in result.stderr


def test_readme_documents_the_sync(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Calendar sync (CalDAV)" in readme and "reminderd sync-calendar" in readme


# -- plan_sync over generated histories --------------------------------------------------------

COLLECTION = "http://x/cal/"
UIDS = ("a", "b", "c", "d")
versions = st.sampled_from(["0:f", "1:g", "2:h"])


@st.composite
def sync_situations(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str], set[str]]:
    """What reminderd wants, what it wrote before, and the server now: some of its resources
    deleted there, some edited there (a new ETag), and resources of other programs."""
    wanted = draw(st.dictionaries(st.sampled_from(UIDS), versions))
    synced = {uid: {"href": f"/cal/{resource_name(uid)}", "etag": f'"{uid}0"', "synced": version}
              for uid, version in draw(st.dictionaries(st.sampled_from(UIDS), versions)).items()}
    listing, edited = {}, set()
    for uid, mine in synced.items():
        fate = draw(st.sampled_from(["kept", "kept", "deleted", "edited"]))
        if fate != "deleted":
            listing[mine["href"]] = mine["etag"] if fate == "kept" else f'"{uid}-theirs"'
        if fate == "edited":
            edited.add(uid)
    for n in range(draw(st.integers(0, 2))):
        listing[f"/cal/foreign-{n}.ics"] = f'"f{n}"'
    return wanted, synced, listing, edited


def apply(actions: list, synced: dict[str, dict[str, str]], server: dict[str, str]) -> None:  # type: ignore[type-arg]
    """A CalDAV server's conditional writes: If-None-Match: * for a create, If-Match otherwise (412: nothing)."""
    for n, action in enumerate(actions):
        if action.kind == "forget":
            del synced[action.uid]
        elif action.kind == "delete" and server.get(action.href) == action.etag:
            del server[action.href]
            del synced[action.uid]
        elif action.kind in ("create", "update") and server.get(action.href) == action.etag:
            server[action.href] = f'"w{n}"'
            synced[action.uid] = {"href": action.href, "etag": f'"w{n}"', "synced": action.synced}


@given(sync_situations())
def test_plan_sync_converges_and_never_touches_what_is_not_its_own(situation) -> None:  # type: ignore[no-untyped-def]
    wanted, synced, listing, edited = situation
    actions = plan_sync(COLLECTION, wanted, synced, listing)
    ours = {mine["href"] for mine in synced.values()} | {f"/cal/{resource_name(uid)}" for uid in wanted}
    assert {a.href for a in actions} <= ours  # other programs' resources are never named
    server, after = dict(listing), {uid: dict(mine) for uid, mine in synced.items()}
    apply(actions, after, server)
    for uid in edited:  # an event edited in the calendar app is never overwritten nor deleted
        assert server[synced[uid]["href"]] == listing[synced[uid]["href"]]
    for uid, version in wanted.items():
        if uid not in edited:
            assert after[uid]["synced"] == version and server[after[uid]["href"]] == after[uid]["etag"]
    assert not set(after) - set(wanted) - edited  # what no longer applies is gone, unless edited there
    again = plan_sync(COLLECTION, wanted, after, server)
    assert all(a.uid in edited for a in again)  # converged: only the conflicts remain to report


def test_a_state_key_with_a_password_in_it_is_re_keyed_and_the_password_dropped(  # type: ignore[no-untyped-def]
        radicale: Server, config_for, tmp_path: Path) -> None:
    # security M1: an older reminderd keyed the records by the address as written, password and all
    import json

    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    state_file = tmp_path / "state.json"
    raw = json.loads(state_file.read_text())
    with_password = radicale.url.replace("http://", "http://me:0ld-Passw0rd@")
    raw["caldav"] = {with_password: raw["caldav"].pop(radicale.url)}
    state_file.write_text(json.dumps(raw))
    outcome, _ = run_sync(path, tmp_path, radicale)
    assert outcome.requests == {"PROPFIND": 1} and outcome.unchanged == 12  # its records, recognised
    assert b"0ld-Passw0rd" not in state_file.read_bytes()
    assert list(read_state(state_file).state.extra["caldav"]) == [radicale.url]


# -- a sync cut off, a server that trickles, an endless answer -----------------------------------

def test_a_sync_cut_off_between_two_requests_converges(radicale: Server, config_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Review M3: the events written before the cut were taken for the user's edits for good."""
    from reminderd.caldav_channel import run_in_process
    from reminderd.caldav_sync import CalDAVSession
    from reminderd.forecast import Observation
    from reminderd.state import update_state

    path = config_for(radicale)
    run_sync(path, tmp_path, radicale)
    update_state(tmp_path / "state.json", lambda s: s.with_observation("c", Observation(NOW - timedelta(hours=1), 20)))

    class CutOff(CalDAVSession):  # the network goes away after two writes
        puts = 0

        def put(self, href: str, body: bytes, etag: str | None) -> tuple[int, str | None]:
            CutOff.puts += 1
            if CutOff.puts > 2:
                raise CalendarError("cannot reach the calendar server: ConnectionError")
            return super().put(href, body, etag)

    with pytest.raises(CalendarError, match="cannot reach"):
        sync(load_config(path), tmp_path / "state.json", NOW, radicale.password, runner=run_in_process(CutOff))
    assert CutOff.puts == 3
    # the events change again before the next sync: only what was recorded of the cut one helps
    update_state(tmp_path / "state.json", lambda s: s.with_observation("c", Observation(NOW - timedelta(minutes=5), 5)))
    outcome, _ = run_sync(path, tmp_path, radicale)  # the next sync, through the child process
    assert outcome.conflicts == () and outcome.updated > 0
    again, _ = run_sync(path, tmp_path, radicale)
    assert (again.created, again.updated, again.conflicts) == (0, 0, ())  # everything current


class _Slow:
    """A CalDAV address on 127.0.0.1 that answers a valid status line, then one byte every 0.2 s
    ("trickle"), or 200 and a body that never ends ("endless"). It stops by itself."""

    def __init__(self, mode: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_PROPFIND(self) -> None:
                end = time.monotonic() + 30
                self.send_response(207)
                if mode == "trickle":
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    while time.monotonic() < end:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<x>" * 100_000
                while time.monotonic() < end:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

            def log_message(self, *args: object) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(OSError):
                    super().handle()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/cal/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["trickle", "endless"])
def test_a_server_that_trickles_or_never_ends_its_answer_is_cut_at_the_deadline(mode: str, tmp_path: Path) -> None:
    """Security H2 and L1: a per-read timeout never fired against a trickle, and an endless body
    was read into memory until the system ran out."""
    import functools
    import resource

    from reminderd.caldav_channel import run_in_child

    pytest.importorskip("caldav")
    slow = _Slow(mode)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=slow.url, password=""))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    try:
        with pytest.raises(CalendarError):
            sync(load_config(path), tmp_path / "state.json", NOW, None,
                 runner=functools.partial(run_in_child, within=3))
    finally:
        slow.close()
    assert time.monotonic() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: the child read it, and ended


def test_the_daemon_names_the_calendar_once_in_its_error(tmp_path: Path) -> None:
    """The log line is "<channel name>: <problem>"; the name already holds the (redacted) address."""
    from reminderd.caldav_channel import CalendarChannel
    from reminderd.seams import ChannelError
    from reminderd.urls import redact

    url = "http://127.0.0.1:9/cal/"
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=url, password=""))
    config = load_config(path)
    assert config.calendar is not None

    def cut_off(job: dict) -> list[dict]:  # type: ignore[type-arg]
        return [{"error": f"{redact(job['url'])}: no answer within 3 s; what was done is kept", "exit_code": 75}]

    channel = CalendarChannel(config.calendar, runner=cut_off)
    with pytest.raises(ChannelError) as caught:
        channel.publish(config, tmp_path / "state.json", NOW, Facts())
    line = f"{channel.name}: {caught.value}"
    assert line == "calendar http://127.0.0.1:9/cal/: no answer within 3 s; what was done is kept", line
