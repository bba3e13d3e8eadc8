"""Notifier backends: our own logic, with programs we control standing in for the desktop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reminderd.dbus_notify import DBusNotifier, session_bus_address
from reminderd.errors import NotifyError
from reminderd.notifier import escape_markup
from reminderd.notify import (
    CommandNotifier,
    FallbackNotifier,
    LogNotifier,
    PlyerNotifier,
    auto_backends,
    make_notifier,
)

AWKWARD_TITLE = "-w \"quoted\" $(touch /tmp/reminderd-pwned) <b>x</b>"


def argv_recorder(tmp_path: Path, exit_code: int = 0) -> list[str]:
    out = tmp_path / "argv.json"
    script = tmp_path / "record.py"
    script.write_text(f"import json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
                      f"sys.exit({exit_code})\n")
    return [sys.executable, str(script)]


def test_command_backend_passes_text_as_arguments(tmp_path: Path) -> None:
    CommandNotifier([*argv_recorder(tmp_path), "--topic", "me"]).send(AWKWARD_TITLE, "body $HOME")
    assert json.loads((tmp_path / "argv.json").read_text()) == ["--topic", "me", AWKWARD_TITLE, "body $HOME"]
    assert not Path("/tmp/reminderd-pwned").exists()


def test_command_backend_failure_raises(tmp_path: Path) -> None:
    with pytest.raises(NotifyError, match="exit 3"):
        CommandNotifier(argv_recorder(tmp_path, exit_code=3)).send("t", "b")
    with pytest.raises(NotifyError, match="not found"):
        CommandNotifier(["/nonexistent/notifier"]).send("t", "b")


class Failing:
    name = "failing"

    def send(self, title: str, body: str) -> None:
        raise NotifyError("failing: no")


class Working:
    name = "working"

    def __init__(self) -> None:
        self.got: list[str] = []

    def send(self, title: str, body: str) -> None:
        self.got.append(title)


def test_fallback_tries_the_next_and_remembers_which_delivered() -> None:
    working = Working()
    chain = FallbackNotifier([Failing(), working])
    chain.send("t", "b")
    assert chain.used == "working" and working.got == ["t"]
    with pytest.raises(NotifyError, match="failing: no"):
        FallbackNotifier([Failing()]).send("t", "b")


def test_auto_order_per_platform() -> None:
    assert [b.name for b in auto_backends("darwin")] == ["osascript", "plyer"]
    assert [b.name for b in auto_backends("win32")] == ["plyer"]
    linux = [b.name for b in auto_backends("linux")]
    assert linux[:2] == ["dbus", "notify-send"]


def test_make_notifier_for_each_setting(tmp_path: Path) -> None:
    for backend, first in [("dbus", "dbus"), ("notify-send", "notify-send"), ("osascript", "osascript"),
                           ("plyer", "plyer"), ("log", "log")]:
        assert make_notifier(backend).backends[0].name == first
    assert make_notifier("command", ["x"]).backends[0].name == "command"


def test_log_backend_writes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    LogNotifier().send("Title", "Body")
    assert "Title: Body" in caplog.text


def test_bus_address_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert session_bus_address()[0] is None
    (tmp_path / "bus").touch()
    assert session_bus_address()[0] == f"unix:path={tmp_path}/bus"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x")
    assert session_bus_address() == ("unix:path=/x", "DBUS_SESSION_BUS_ADDRESS")


def test_dbus_without_a_bus_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(NotifyError, match="no bus at"):
        DBusNotifier().send("t", "b")


def test_markup_escaping() -> None:
    assert escape_markup("a < b & c > d") == "a &lt; b &amp; c &gt; d"


def test_plyer_errors_become_notify_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from plyer import notification

    def broken(**kwargs: object) -> None:
        raise RuntimeError("no backend")

    monkeypatch.setattr(notification, "notify", broken)
    with pytest.raises(NotifyError, match="plyer: RuntimeError"):
        PlyerNotifier().send("t", "b")


def test_a_bus_in_a_runtime_directory_not_ours_alone_is_not_used(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    # security M3: a bus socket another user put in a shared $XDG_RUNTIME_DIR would read every
    # reminder, and could click its buttons
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "bus").touch()
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    address, how = session_bus_address()
    assert address is None and "is not yours alone" in how
