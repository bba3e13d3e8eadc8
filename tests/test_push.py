"""Push channels through Apprise, delivering to a real HTTP server on 127.0.0.1 (Apprise's
json:// service): a success, an HTTP 500, a closed port, a server that never answers or never
stops answering; named channels and their delivery records in the daemon (review M4, m1, m2;
security L3, I3); config errors; notify-test."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from conftest import Clock, config_text

from reminderd.config import load_config, parse_config
from reminderd.daemon import Daemon
from reminderd.errors import ConfigError
from reminderd.notify import FallbackNotifier
from reminderd.push import PushChannel, build, channel_id, legacy_id, readable
from reminderd.reminder import Reminder
from reminderd.seams import ChannelError, Outgoing
from reminderd.settings import Notifications, PushTarget
from reminderd.state import DESKTOP, Delivery, State, read_state, save_state
from reminderd.urls import describe

pytest.importorskip("apprise")

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)
HANG_LIMIT = 30.0  # a handler that "never answers" gives up after this, so the server stops by itself


class Hook:
    """An HTTP endpoint on 127.0.0.1 answering as `mode` says: "ok" (200), "error" (500), "hang"
    (reads the request and never answers) or "endless" (200, then a body that never ends)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[dict[str, str]] = []
        self.released = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.mode == "hang":
                    hook.released.wait(HANG_LIMIT)
                    return
                if hook.mode == "endless":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 65536
                    deadline = time.monotonic() + HANG_LIMIT
                    while not hook.released.is_set() and time.monotonic() < deadline:
                        try:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        except OSError:
                            return
                    return
                if hook.mode == "ok":
                    hook.received.append(json.loads(body))
                self.send_response(200 if hook.mode == "ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        # rto: Apprise's own read timeout, longer than ours, so the "hang" case proves our bound
        return f"json://127.0.0.1:{self.server.server_port}/hook?rto=30"

    def titles(self) -> list[str]:
        return [message["title"] for message in self.received]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"json://127.0.0.1:{port}/hook"


# -- one channel -----------------------------------------------------------------------------

def a_reminder() -> Reminder:
    now = datetime(2026, 4, 4, 12, tzinfo=UTC)
    return Reminder("c/expiry/-7d", "c", "expiry", now, None, None, "Turn Extra Usage off", "It expires.", frozenset())


def send(url: str, title: str = "Turn Extra Usage off", body: str = "It expires tomorrow.",
         timeout: float = 10.0) -> str:
    channel = PushChannel(PushTarget(url), "push:test", timeout=timeout)
    return channel.deliver(Outgoing(a_reminder(), title, body))


def test_a_push_reaches_the_server_with_title_and_body(hook: Hook) -> None:
    send(hook.url)
    assert [(m["title"], m["message"]) for m in hook.received] == [("Turn Extra Usage off", "It expires tomorrow.")]


@pytest.mark.parametrize(("failure", "why"), [("error", "error=500"), ("closed", "Connection error")])
def test_a_refused_or_unreachable_push_is_a_failure_that_says_why(hook: Hook, failure: str, why: str) -> None:
    hook.mode = "error"
    with pytest.raises(ChannelError, match="not delivered") as failed:
        send(hook.url if failure == "error" else closed_port_url())
    assert why in str(failed.value) and "://" not in str(failed.value).split("not delivered", 1)[1]  # no address


@pytest.mark.parametrize("entry", ["tok3n {url}", "{url} {url}", "{url},{url}"])
def test_an_entry_apprise_reads_as_more_or_other_than_one_service_is_left_out(hook: Hook, entry: str) -> None:
    url = entry.format(url=hook.url)
    assert not readable(url)
    channels, problems = build(Notifications(push=(PushTarget(url, "phone"),)), b"k" * 32)
    assert channels == [] and problems == ["push phone: expected a URL Apprise can send to (see its list of services)"]


@pytest.mark.parametrize(("url", "shown"), [("ntfy://ntfy.sh/topic", "ntfy://…"), ("SECRET json://x", "?://…"),
                                            ("json://u:p@host/x", "json://…"), ("no scheme", "?://…")])
def test_describe_shows_only_a_scheme(url: str, shown: str) -> None:
    assert describe(url) == shown


def test_a_server_that_never_answers_is_abandoned_at_the_deadline(hook: Hook) -> None:
    hook.mode = "hang"
    start = time.monotonic()
    with pytest.raises(ChannelError, match="no answer within 3 s"):
        send(hook.url, timeout=3.0)
    assert time.monotonic() - start < 4


def test_an_endless_answer_is_read_by_nobody(hook: Hook) -> None:
    """Security L3: the abandoned send thread read an endless body (3.4 GB in 10 s)."""
    import resource

    hook.mode = "endless"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(ChannelError, match="no answer within 3 s|not delivered"):
        send(hook.url, timeout=3.0)
    assert time.monotonic() - start < 4
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: the child read it, and died


def test_cancel_stops_a_send_at_once(hook: Hook) -> None:
    hook.mode = "hang"
    channel = PushChannel(PushTarget(hook.url), "push:test")
    threading.Timer(1.0, channel.cancel).start()
    start = time.monotonic()
    with pytest.raises(ChannelError, match="stopped"):
        channel.deliver(Outgoing(a_reminder(), "t", "b"))
    assert time.monotonic() - start < 2.5


def test_no_secret_reaches_the_log_or_the_output(hook: Hook, caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    send(hook.url.replace("/hook", "/hook-s3cret"))
    with pytest.raises(ChannelError) as failed:
        send(closed_port_url().replace("/hook", "/hook-s3cret"))
    out, err = capfd.readouterr()
    assert "s3cret" not in caplog.text + out + err + str(failed.value)


def test_a_channel_is_its_name_and_an_unnamed_one_a_keyed_hash() -> None:
    """Security I3: an unkeyed hash of a guessable ntfy topic could be confirmed offline."""
    url = "ntfy://ntfy.sh/s3cret-topic"
    assert channel_id(PushTarget(url, "phone"), b"k") == "push:phone"
    unnamed = channel_id(PushTarget(url), b"k" * 32)
    assert unnamed.startswith("push:") and "s3cret" not in unnamed and unnamed != legacy_id(url)
    assert unnamed == channel_id(PushTarget(url), b"k" * 32) != channel_id(PushTarget(url), b"j" * 32)


# -- the daemon: every channel exactly once, none blocking another ---------------------------------

class Desktop:
    name = "desktop-recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []

    def cancel(self) -> None:
        pass

    def send(self, title: str, body: str) -> None:
        self.sent.append((time.monotonic(), title))


def write_config(tmp_path: Path, push: str, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(config_text("[reminders]\nusage_check_every_days = 0\n[notifications]\nbackend = \"log\"\n"
                                  + push + extra, credit=CREDIT))
    config.chmod(0o600)
    return config


def make_daemon(tmp_path: Path, urls: list[str], desktop: Desktop, now: datetime,
                extra: str = "", push: str | None = None) -> tuple[Daemon, Clock]:
    config = write_config(tmp_path, f"push = {json.dumps(urls)}\n" if push is None else push, extra)
    clock = Clock(now)
    daemon = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                    notifier_factory=lambda c: FallbackNotifier([desktop]))
    daemon.start(paused=True)
    return daemon, clock


def channels_of(tmp_path: Path, reminder_id: str) -> list[str]:
    return sorted(d.channel for d in read_state(tmp_path / "state.json").state.delivered.get(reminder_id, ()))


def ids(daemon: Daemon) -> list[str]:
    return [turn.seam.id for turn in daemon.channels or ()]


def test_each_channel_gets_a_reminder_once_and_a_failing_one_neither_blocks_nor_repeats(
        tmp_path: Path, hook: Hook) -> None:
    broken = Hook()
    broken.mode = "error"
    desktop = Desktop()
    now = EXPIRES - timedelta(days=6)  # the 7-day warning is due
    daemon, clock = make_daemon(tmp_path, [], desktop, now, push=(
        f'[[notifications.push]]\nname = "broken"\nurl = "{broken.url}"\n'
        f'[[notifications.push]]\nname = "phone"\nurl = "{hook.url}"\n'))
    try:
        daemon.tick("test")
        assert len(desktop.sent) == 1 and len(hook.received) == 1
        reminder_id = next(iter(read_state(tmp_path / "state.json").state.delivered))
        assert channels_of(tmp_path, reminder_id) == [DESKTOP, "push:phone"]

        clock.now += timedelta(minutes=1)
        daemon.tick("wake")  # retried on the broken channel only
        assert len(desktop.sent) == 1 and len(hook.received) == 1

        broken.mode = "ok"
        clock.now += timedelta(minutes=2)  # after its backoff (1, then 2 minutes)
        daemon.tick("wake")
        clock.now += timedelta(minutes=1)
        daemon.tick("wake")
        assert len(desktop.sent) == 1 and len(hook.received) == 1 and len(broken.received) == 1
        assert channels_of(tmp_path, reminder_id) == [DESKTOP, "push:broken", "push:phone"]
    finally:
        daemon.scheduler.shutdown(wait=False)
        broken.close()


def test_a_hung_push_never_delays_the_desktop_and_sigterm_is_not_held(tmp_path: Path, hook: Hook) -> None:
    hook.mode = "hang"
    desktop = Desktop()
    daemon, _ = make_daemon(tmp_path, [hook.url], desktop, EXPIRES - timedelta(days=6))
    ticking = threading.Thread(target=daemon.tick, args=["test"])
    start = time.monotonic()
    ticking.start()
    deadline = time.monotonic() + 5
    while not isinstance(daemon.sending, PushChannel):
        assert time.monotonic() < deadline, "the push was never tried"
        time.sleep(0.01)
    assert len(desktop.sent) == 1 and desktop.sent[0][0] - start < 1  # sent before the push
    time.sleep(0.2)  # the push now waits on the server
    stop_started = time.monotonic()
    daemon.stop()
    ticking.join(5)
    assert not ticking.is_alive() and time.monotonic() - stop_started < 2
    state = read_state(tmp_path / "state.json").state
    assert all(d.channel == DESKTOP for ds in state.delivered.values() for d in ds)  # the push was not recorded


def script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "urls.sh"
    path.write_text(f"#!/bin/sh\necho run >> {tmp_path / 'runs'}\n{text}\n")
    path.chmod(0o700)
    return path


def test_push_command_channels_run_it_once(tmp_path: Path, hook: Hook) -> None:
    command = script(tmp_path, f"echo 'phone {hook.url}'")
    desktop = Desktop()
    daemon, clock = make_daemon(tmp_path, [], desktop, EXPIRES - timedelta(days=6),
                                extra=f'push_command = ["{command}"]\n')
    try:
        for _ in range(3):
            daemon.tick("wake")
            clock.now += timedelta(minutes=1)
        assert len(hook.received) == 1 and len(desktop.sent) == 1 and ids(daemon) == [DESKTOP, "push:phone"]
        assert (tmp_path / "runs").read_text() == "run\n"
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_a_failing_push_command_backs_off_like_any_channel(tmp_path: Path, hook: Hook,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Review m1: a failing push re-ran push_command at every wake and logged a warning a minute."""
    hook.mode = "error"
    command = script(tmp_path, f"echo '{hook.url}'")
    daemon, clock = make_daemon(tmp_path, [], Desktop(), EXPIRES - timedelta(days=6),
                                extra=f'push_command = ["{command}"]\n')
    caplog.set_level(logging.WARNING, logger="reminderd")
    try:
        for _ in range(5):
            daemon.tick("wake")
            clock.now += timedelta(minutes=1)
    finally:
        daemon.scheduler.shutdown(wait=False)
    assert (tmp_path / "runs").read_text().count("run") == 3  # at 0, then after 1 and 2 more minutes
    assert len([r for r in caplog.records if "not delivered on push" in r.getMessage()]) == 1


def test_a_new_token_under_the_same_name_sends_nothing_again(tmp_path: Path, hook: Hook) -> None:
    """Review M4: a rotated token re-sent every live reminder, weeks-old ones included."""
    desktop = Desktop()
    (tmp_path / "url").write_text(f"phone {hook.url.replace('/hook', '/token-1')}\n")
    command = script(tmp_path, f"cat {tmp_path / 'url'}")
    daemon, clock = make_daemon(tmp_path, [], desktop, EXPIRES - timedelta(days=6),
                                extra=f'push_command = ["{command}"]\n')
    try:
        daemon.tick("wake")
        assert len(hook.received) == 1
        (tmp_path / "url").write_text(f"phone {hook.url.replace('/hook', '/token-2')}\n")
        daemon.request_reload()  # any reload runs push_command again
        for _ in range(3):
            clock.now += timedelta(minutes=1)
            daemon.tick("wake")
        assert len(hook.received) == 1 and ids(daemon) == [DESKTOP, "push:phone"]
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_records_under_an_old_channel_name_move_without_a_repeat(tmp_path: Path, hook: Hook) -> None:
    now = EXPIRES - timedelta(days=6)
    due = EXPIRES - timedelta(days=7)
    old = State().with_delivered("c/expiry/-7d", Delivery(due, EXPIRES, now, legacy_id(hook.url)))
    save_state(tmp_path / "state.json", old.with_delivered("c/expiry/-7d", Delivery(due, EXPIRES, now, DESKTOP)))
    daemon, _ = make_daemon(tmp_path, [hook.url], Desktop(), now)
    try:
        daemon.tick("wake")
    finally:
        daemon.scheduler.shutdown(wait=False)
    assert hook.received == []
    assert channels_of(tmp_path, "c/expiry/-7d") == sorted([DESKTOP, ids(daemon)[1]])


def test_without_apprise_push_is_off_and_the_desktop_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          cli: Callable[..., Result]) -> None:
    """Review m2: push URLs without the extra rejected the whole config, so the desktop stopped too."""
    import sys

    monkeypatch.setitem(sys.modules, "apprise", None)  # as without the [push] extra
    desktop = Desktop()
    daemon, _ = make_daemon(tmp_path, ["ntfy://ntfy.sh/my-topic"], desktop, EXPIRES - timedelta(days=6))
    try:
        daemon.tick("wake")
    finally:
        daemon.scheduler.shutdown(wait=False)
    assert len(desktop.sent) == 1 and ids(daemon) == [DESKTOP]
    disabled = read_state(tmp_path / "state.json").state.extra["channels"]["disabled"]
    assert len(disabled) == 1 and disabled[0].startswith(
        "push: push notifications: the push extra (apprise) is not installed")
    status = cli("--config", str(tmp_path / "config.toml"), "status")
    assert status.exit_code == 0 and "the push extra (apprise) is not installed" in status.stdout
    result = cli("--config", str(tmp_path / "config.toml"), "notify-test")
    assert result.exit_code == 69 and "the push extra (apprise) is not installed" in result.stderr


def test_status_with_push_configured_never_imports_apprise(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = write_config(tmp_path, 'push = ["ntfy://ntfy.sh/my-topic"]\n')
    code = ("import sys; from reminderd.cli import main\n"
            "try:\n    main(['--config', sys.argv[1], 'status'])\nexcept SystemExit:\n    pass\n"
            "print('apprise' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=30,
                          env={"REMINDERD_STATE_DIR": str(tmp_path / "s"), "PATH": "/usr/bin:/bin"})
    assert done.stderr.splitlines()[-1] == "False", done.stderr


# -- config -------------------------------------------------------------------------------------

def test_a_push_entry_of_another_shape_is_a_config_error_naming_the_key_not_the_secret() -> None:
    text = config_text('[notifications]\npush = ["json://127.0.0.1/ok", "tok3n json://127.0.0.1/ok", "x,y://z"]\n')
    with pytest.raises(ConfigError) as error:
        parse_config(text, "c.toml")
    assert error.value.problems == [
        "c.toml: notifications.push[1]: expected one Apprise URL such as ntfy://ntfy.sh/my-topic, got ?://…",
        "c.toml: notifications.push[2]: expected one Apprise URL such as ntfy://ntfy.sh/my-topic, got ?://…"]
    assert "tok3n" not in str(error.value)


def test_named_push_channels_in_tables() -> None:
    config = parse_config(config_text('[[notifications.push]]\nname = "phone"\nurl = "ntfy://ntfy.sh/a"\n'
                                      '[[notifications.push]]\nurl = "json://127.0.0.1/x"\n'), "c.toml")
    assert config.notifications.push == (PushTarget("ntfy://ntfy.sh/a", "phone"), PushTarget("json://127.0.0.1/x"))
    with pytest.raises(ConfigError) as twice:
        parse_config(config_text('[[notifications.push]]\nname = "phone"\nurl = "ntfy://ntfy.sh/a"\n'
                                 '[[notifications.push]]\nname = "phone"\nurl = "ntfy://ntfy.sh/b"\n'), "c.toml")
    assert twice.value.problems == ['c.toml: notifications.push[1].name: expected a name no other push channel has, '
                                    'got "phone"']


def test_push_command_lines_are_urls_or_names_and_urls(tmp_path: Path) -> None:
    channels, problems = build(Notifications(push=(PushTarget("json://127.0.0.1:9/x"),), push_command=("false",)),
                               b"k" * 32)
    assert [c.target.url for c in channels] == ["json://127.0.0.1:9/x"]
    assert problems == ["notifications.push_command: exit 1; its channels wait"]
    _, problems = build(Notifications(push_command=("echo", "not a url")), b"k" * 32)
    assert len(problems) == 1 and "line 1" in problems[0] and "not a url" not in problems[0]
    # security L8: a token in front of a URL on one line is not a name, and is never shown
    _, problems = build(Notifications(push_command=("echo", "SECRET/LINE1 json://127.0.0.1:9/x")), b"k" * 32)
    assert len(problems) == 1 and "line 1" in problems[0] and "SECRET" not in problems[0]
    channels, _ = build(Notifications(push_command=("echo", "phone json://127.0.0.1:9/x")), b"k" * 32)
    assert [(c.id, c.name) for c in channels] == [("push:phone", "push phone")]


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False)])
def test_push_urls_in_a_file_others_can_read_are_warned_about(tmp_path: Path, mode: int, warned: bool) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text('[notifications]\npush = ["json://127.0.0.1/x"]\n'))
    path.chmod(mode)
    warnings = load_config(path).warnings
    assert any("push URLs carry secrets" in w for w in warnings) == warned


# -- notify-test ------------------------------------------------------------------------------

def test_notify_test_reports_each_channel(tmp_path: Path, hook: Hook, cli: Callable[..., Result]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text(f'[notifications]\nbackend = "log"\npush = ["{hook.url}", "{closed_port_url()}"]\n'))
    path.chmod(0o600)
    result = cli("--config", str(path), "notify-test")
    assert result.exit_code == 69
    assert result.stdout.splitlines() == [
        "desktop: delivered through log (backend setting: log); the notification server accepted it.",
        "push json://…: delivered; the service accepted it."]
    assert result.stderr.splitlines()[-2:] == [
        "push json://…: failed: not delivered (failure: A Connection error occurred sending JSON notification to "
        "127.0.0.1.)",
        "reminderd: not delivered on: push json://…"]
    assert hook.titles() == ["reminderd: test notification"]
