"""Push channels through Apprise, delivering to a real HTTP server on 127.0.0.1 (Apprise's
json:// service): a success, an HTTP 500, a closed port, a server that never answers, a
partial result; per-channel delivery records in the daemon; config errors; notify-test."""

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
from reminderd.notify import FallbackNotifier, NotifyError
from reminderd.push import PushNotifier, channel_id, describe, push_notifiers, readable
from reminderd.state import DESKTOP, read_state

pytest.importorskip("apprise")

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)
HANG_LIMIT = 30.0  # a handler that "never answers" gives up after this, so the server stops by itself


class Hook:
    """An HTTP endpoint on 127.0.0.1 answering as `mode` says: "ok" (200), "error" (500) or
    "hang" (reads the request and never answers)."""

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

def test_a_push_reaches_the_server_with_title_and_body(hook: Hook) -> None:
    PushNotifier(hook.url).send("Turn Extra Usage off", "It expires tomorrow.")
    assert hook.received == [{"version": "1.0", "title": "Turn Extra Usage off", "message": "It expires tomorrow.",
                              "attachments": [], "type": "info"}]


@pytest.mark.parametrize("failure", ["error", "closed port"])
def test_a_refused_or_unreachable_push_is_a_failure(hook: Hook, failure: str) -> None:
    hook.mode = "error"
    url = hook.url if failure == "error" else closed_port_url()
    with pytest.raises(NotifyError, match=r"push json://…: not delivered \(failure\)"):
        PushNotifier(url).send("t", "b")


@pytest.mark.parametrize("entry", ["{url}, {other}", "{url} {other}", "SECRETLINE1 {url}"])
def test_an_entry_apprise_reads_as_more_or_other_than_one_service_is_refused(hook: Hook, entry: str) -> None:
    # security L8: Apprise splits an entry at spaces and commas and skips what is not a URL, so one
    # entry could be two channels (one delivery record), or show a token in front of its scheme
    url = entry.format(url=hook.url, other=closed_port_url())
    assert not readable(url)
    with pytest.raises(NotifyError, match=r"^push \?://…: Apprise cannot read this URL as one service$"
                       if entry.startswith("SECRET") else r"^push json://…: Apprise cannot read this URL as one"):
        PushNotifier(url).send("t", "b")
    assert hook.titles() == []


@pytest.mark.parametrize(("url", "shown"), [("ntfy://ntfy.sh/topic", "ntfy://…"), ("SECRETLINE1 json://x", "?://…"),
                                            ("tok3n", "?://…"), ("a b://x", "?://…"), ("Json://x", "?://…"),
                                            ("mailto://me:pw@example.com", "mailto://…")])
def test_describe_shows_only_a_scheme(url: str, shown: str) -> None:
    assert describe(url) == shown


def test_a_server_that_never_answers_is_abandoned_at_the_deadline(hook: Hook) -> None:
    hook.mode = "hang"
    start = time.monotonic()
    with pytest.raises(NotifyError, match=r"no answer within 0.5 s"):
        PushNotifier(hook.url, timeout=0.5).send("t", "b")
    assert time.monotonic() - start < 2


def test_cancel_stops_the_wait_at_once(hook: Hook) -> None:
    hook.mode = "hang"
    push = PushNotifier(hook.url)
    threading.Timer(0.2, push.cancel).start()
    start = time.monotonic()
    with pytest.raises(NotifyError):
        push.send("t", "b")
    assert time.monotonic() - start < 2


def test_apprise_never_logs_the_url_or_its_secret(hook: Hook, caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    secret = hook.url.replace("/hook", "/hook-s3cret")
    PushNotifier(secret).send("t", "b")
    with pytest.raises(NotifyError):
        PushNotifier(closed_port_url().replace("/hook", "/hook-s3cret")).send("t", "b")
    assert hook.titles() == ["t"]
    assert "s3cret" not in caplog.text + "".join(capfd.readouterr())


def test_the_state_names_a_channel_by_a_hash_never_the_url() -> None:
    url = "ntfy://user:s3cret@ntfy.example/topic"
    assert channel_id(url).startswith("push:") and "s3cret" not in channel_id(url)
    assert channel_id(url) == channel_id(url) != channel_id(url + "2")


# -- the daemon: every channel exactly once, none blocking another ---------------------------------

class Desktop:
    name = "desktop-recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []

    def cancel(self) -> None:
        pass

    def send(self, title: str, body: str) -> None:
        self.sent.append((time.monotonic(), title))


def make_daemon(tmp_path: Path, urls: list[str], desktop: Desktop, now: datetime,
                extra: str = "") -> tuple[Daemon, Clock]:
    config = tmp_path / "config.toml"
    config.write_text(config_text("[reminders]\nusage_check_every_days = 0\n[notifications]\nbackend = \"log\"\n"
                                  f"push = {json.dumps(urls)}\n" + extra, credit=CREDIT))
    config.chmod(0o600)
    clock = Clock(now)
    daemon = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                    notifier_factory=lambda c: FallbackNotifier([desktop]))
    daemon.start(paused=True)
    return daemon, clock


def channels_of(tmp_path: Path, reminder_id: str) -> list[str]:
    return sorted(d.channel for d in read_state(tmp_path / "state.json").state.delivered.get(reminder_id, ()))


def test_each_channel_gets_a_reminder_once_and_a_failing_one_neither_blocks_nor_repeats(
        tmp_path: Path, hook: Hook) -> None:
    broken = Hook()
    broken.mode = "error"
    desktop = Desktop()
    now = EXPIRES - timedelta(days=6)  # the 7-day warning is due
    daemon, clock = make_daemon(tmp_path, [broken.url, hook.url], desktop, now)
    try:
        daemon.tick("test")
        assert len(desktop.sent) == 1 and len(hook.received) == 1
        reminder_id = next(iter(read_state(tmp_path / "state.json").state.delivered))
        assert channels_of(tmp_path, reminder_id) == sorted([DESKTOP, channel_id(hook.url)])

        clock.now += timedelta(minutes=1)
        daemon.tick("wake")  # retried on the broken channel only
        assert len(desktop.sent) == 1 and len(hook.received) == 1

        broken.mode = "ok"
        clock.now += timedelta(minutes=1)
        daemon.tick("wake")
        clock.now += timedelta(minutes=1)
        daemon.tick("wake")
        assert len(desktop.sent) == 1 and len(hook.received) == 1 and len(broken.received) == 1
        assert channels_of(tmp_path, reminder_id) == sorted([DESKTOP, channel_id(hook.url), channel_id(broken.url)])
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
    while not (daemon.sending and isinstance(daemon.sending.backends[0], PushNotifier)):
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


def test_push_command_urls_are_channels_and_run_once(tmp_path: Path, hook: Hook) -> None:
    count = tmp_path / "runs"
    script = tmp_path / "urls.sh"
    script.write_text(f"#!/bin/sh\necho run >> {count}\necho '{hook.url}'\n")
    script.chmod(0o700)
    desktop = Desktop()
    daemon, clock = make_daemon(tmp_path, [], desktop, EXPIRES - timedelta(days=6),
                                extra=f'push_command = ["{script}"]\n')
    try:
        for _ in range(3):
            daemon.tick("wake")
            clock.now += timedelta(minutes=1)
        assert len(hook.received) == 1 and len(desktop.sent) == 1
        assert count.read_text() == "run\n"
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_push_notifiers_report_a_failing_command_and_keep_the_literal_urls(tmp_path: Path) -> None:
    pushes, problem = push_notifiers(["json://127.0.0.1:9/x"], ["false"])
    assert [p.url for p in pushes] == ["json://127.0.0.1:9/x"]
    assert problem == "notifications.push_command: exit 1"
    pushes, problem = push_notifiers([], ["echo", "not a url"])
    assert pushes == [] and problem is not None and "line 1" in problem and "not a url" not in problem
    # security L8: a token in front of a URL on one line is not one channel, and is never shown
    pushes, problem = push_notifiers([], ["echo", "SECRETLINE1 json://127.0.0.1:9/x"])
    assert pushes == [] and problem is not None and "line 1" in problem and "SECRET" not in problem


# -- config -------------------------------------------------------------------------------------

def test_a_url_apprise_cannot_read_is_a_config_error_naming_the_key_not_the_secret() -> None:
    text = config_text('[notifications]\npush = ["json://127.0.0.1/ok", "nosuch://tok3n@host"]\n')
    with pytest.raises(ConfigError) as error:
        parse_config(text, "c.toml")
    assert error.value.problems == [
        "c.toml: notifications.push[1]: expected a URL Apprise can send to (see its list of services), got nosuch://…"]
    assert "tok3n" not in str(error.value)
    with pytest.raises(ConfigError) as two:
        parse_config(config_text('[notifications]\npush = ["tok3n json://127.0.0.1/ok"]\n'), "c.toml")
    assert two.value.problems == [
        "c.toml: notifications.push[0]: expected a URL Apprise can send to (see its list of services), got ?://…"]


def test_the_cli_exits_78_on_an_unreadable_push_url(tmp_path: Path, cli: Callable[..., Result]) -> None:
    (tmp_path / "c.toml").write_text(config_text('[notifications]\npush = ["nosuch://tok3n@host"]\n'))
    result = cli("--config", str(tmp_path / "c.toml"), "status")
    assert result.exit_code == 78 and "notifications.push[0]" in result.stderr
    assert "tok3n" not in result.stderr + result.stdout


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
        "push json://…: not delivered (failure)",
        "reminderd: not delivered on: push json://…"]
    assert hook.titles() == ["reminderd: test notification"]
