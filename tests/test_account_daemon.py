"""The account as one of the daemon's sources (sources.build, seams.Source), against the fake server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock, config_text
from test_account import write_login
from test_daemon import Recorder
from tools.fake_claude_account import ORG, SHAPES, FakeAccount, Json, Status

from reminderd.account import AccountSource
from reminderd.daemon import Daemon
from reminderd.notify import FallbackNotifier
from reminderd.sources import build

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'


@pytest.fixture
def api() -> Iterator[FakeAccount]:
    with FakeAccount() as fake:
        yield fake


@pytest.fixture
def daemon(api: FakeAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Daemon, Clock]:
    home = tmp_path / "home"
    write_login(home)
    (home / ".claude.json").write_text(json.dumps({"oauthAccount": {"organizationUuid": ORG}}))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(config_text(f'[account]\nclaude = true\napi_base = "{api.url}"\n', credit=CREDIT))
    clock = Clock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    made = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                  notifier_factory=lambda c: FallbackNotifier([Recorder()]))
    return made, clock


def test_the_config_asks_for_the_source(daemon: tuple[Daemon, Clock]) -> None:
    built = [source for source in build(daemon[0].config) if source.field == "account"]
    assert [type(s) for s in built] == [AccountSource]


def test_the_daemon_keeps_the_account_current(api: FakeAccount, daemon: tuple[Daemon, Clock],
                                              caplog: pytest.LogCaptureFixture) -> None:
    running, clock = daemon
    assert running.refresh_sources()
    facts = running.facts.account
    assert facts is not None and facts.usage_credits_on is True and facts.read_at == clock.now
    clock.now += timedelta(minutes=5)
    assert not running.refresh_sources() and len(api.requests) == 3  # nothing due: nothing asked
    api.set("usage", Json(SHAPES["usage-off"]))
    clock.now += timedelta(minutes=10)
    assert running.refresh_sources()  # a change in the facts: the daemon plans again
    assert running.facts.account is not None and running.facts.account.usage_credits_on is False
    api.set("usage", Status(503))
    clock.now += timedelta(minutes=15)
    with caplog.at_level(logging.WARNING, logger="reminderd"):
        running.refresh_sources()
        for _ in range(3):
            clock.now += timedelta(minutes=1)
            running.refresh_sources()
    assert running.facts.account.usage_credits_on is False  # the last good facts kept
    assert [r.getMessage() for r in caplog.records] == [
        "the Claude account: usage: the server answered HTTP 503"]  # once


def test_an_expired_login_is_said_once(tmp_path: Path, daemon: tuple[Daemon, Clock],
                                       caplog: pytest.LogCaptureFixture) -> None:
    running, clock = daemon
    running.refresh_sources()
    write_login(tmp_path / "home", expires=1000)
    clock.now += timedelta(minutes=15)
    with caplog.at_level(logging.WARNING, logger="reminderd"):
        for _ in range(4):
            running.refresh_sources()
            clock.now += timedelta(minutes=1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith(
        "the Claude account: the Claude login has expired: run `claude` once to log in again; keeping what was known")
    assert running.facts.account is not None and running.facts.account.usage_credits_on is True
