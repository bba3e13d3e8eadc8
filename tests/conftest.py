"""Factory fixtures shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from daemon_process import RUNNING, TOOLS
from hypothesis import HealthCheck, settings
from integration import require

from reminderd.cli import main
from reminderd.config import parse_config
from reminderd.settings import Config

# Hypothesis: "ci" (the default) runs enough examples to find the review's C1 and C2 from scratch;
# HYPOTHESIS_PROFILE=thorough runs ten times as many for a local soak.
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
LA = ZoneInfo("America/Los_Angeles")

class Clock:
    """A settable clock for Daemon(..., clock): tests move `now` by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


BASE_CREDIT = """
[[credit]]
id = "c"
plan = "pro"
subscribed_at = 2025-09-01
"""


def config_text(body: str = "", *, timezone: str = "America/Los_Angeles", credit: str = BASE_CREDIT) -> str:
    return f'timezone = "{timezone}"\n' + textwrap.dedent(credit) + textwrap.dedent(body)


def make_config(body: str = "", **kwargs: str) -> Config:
    """A Config from a small TOML snippet appended to one Pro credit in Los Angeles."""
    return parse_config(config_text(body, **kwargs), "test.toml")


def la(*args: int) -> datetime:
    """An instant given as Los Angeles wall time."""
    return datetime(*args, tzinfo=LA)  # type: ignore[misc]


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it (then review the diff)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_bytes().decode("utf-8")  # bytes: CRLF line ends are part of it


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv("REMINDERD_STATE_DIR", str(directory))
    return directory


@pytest.fixture
def cli(state_dir: Path) -> Callable[..., Result]:
    """Run the CLI in-process with a private state dir; stderr kept apart from stdout."""
    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, list(args), env={"REMINDERD_STATE_DIR": str(state_dir), **(env or {})},
                             catch_exceptions=False)
    return run


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path
    return write


# -- a private session bus, a recording notification server, daemons stopped after each test ----


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    dbus_daemon = require("dbus-daemon")
    socket_path = tmp_path / "run" / "bus"
    socket_path.parent.mkdir(mode=0o700)  # as $XDG_RUNTIME_DIR must be: tests use it as one
    proc = subprocess.Popen([dbus_daemon, "--session", "--nofork", "--print-address=1",
                             f"--address=unix:path={socket_path}"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    yield address
    proc.terminate()
    proc.wait(5)
    proc.stdout.close()


def _notification_server(session_bus: str, record: Path, *flags: str) -> Iterator[Path]:
    record.touch()
    proc = subprocess.Popen([sys.executable, str(TOOLS / "notify_server.py"), str(record), *flags],
                            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield record
    proc.kill()
    proc.wait(5)
    proc.stdout.close()


@pytest.fixture
def recorder(session_bus: str, tmp_path: Path) -> Iterator[Path]:
    """A notification server recording each Notify; without the "actions" capability."""
    yield from _notification_server(session_bus, tmp_path / "received.jsonl")


@pytest.fixture
def clickable(session_bus: str, tmp_path: Path) -> Iterator[Path]:
    """The recording server with the "actions" capability; tests click with click_button()."""
    yield from _notification_server(session_bus, tmp_path / "received.jsonl", "--actions")


@pytest.fixture(autouse=True)
def no_daemon_left_behind() -> Iterator[None]:
    yield
    while RUNNING:
        proc = RUNNING.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def env(session_bus: str) -> dict[str, str]:
    return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus}


