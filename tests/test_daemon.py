"""The daemon's own logic in-process: APScheduler jobs (paused), ticks, reloads, the instance lock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock, config_text

from reminderd.daemon import Daemon
from reminderd.errors import AlreadyRunning, ConfigError, NotifyError
from reminderd.instance import acquire_instance_lock, daemon_info
from reminderd.notify import FallbackNotifier
from reminderd.state import read_state

CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nclaimed_at = 2026-02-10T12:00:00\nauto_reload = false\n'
EXPIRES = datetime(2026, 4, 11, 19, 0, tzinfo=UTC)


class Recorder:
    name = "recorder"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def send(self, title: str, body: str) -> None:
        if self.fail:
            raise NotifyError("recorder: refused")
        self.sent.append(title)


@pytest.fixture
def make_daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(now: datetime, recorder: Recorder, body: str = "[reminders]\nusage_check_every_days = 0\n"):  # type: ignore[no-untyped-def]
        config = tmp_path / "config.toml"
        config.write_text(config_text(body, credit=CREDIT))
        clock = Clock(now)
        daemon = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                        notifier_factory=lambda c: FallbackNotifier([recorder]))
        return daemon, clock, config
    return make


def test_jobs_are_armed_per_upcoming_reminder_with_no_grace_limit(make_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon, _, _ = make_daemon(EXPIRES - timedelta(days=10), Recorder())
    daemon.start(paused=True)
    try:
        daemon.tick("test")
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert set(jobs) == {"wake", "start", "sources", "sources-now", "due:2026-04-04T19:00:00+00:00",
                             "due:2026-04-10T19:00:00+00:00", "due:2026-04-11T17:00:00+00:00",
                             "due:2026-04-11T19:00:00+00:00"}
        assert jobs["sources"].executor == "sources"  # beside the ticks, never holding one back
        due = jobs["due:2026-04-04T19:00:00+00:00"]
        assert due.misfire_grace_time is None  # a late (post-suspend) run is never dropped
        assert due.trigger.run_date == EXPIRES - timedelta(days=7)
        assert jobs["wake"].trigger.interval == timedelta(seconds=60)
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_jobs_follow_the_plan_when_it_changes(make_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon, clock, config = make_daemon(EXPIRES - timedelta(days=10), Recorder())
    daemon.start(paused=True)
    try:
        daemon.tick("test")
        config.write_text(config.read_text().replace("2026-02-10T12:00:00", "2026-02-11T12:00:00"))
        daemon.tick("test")
        ids = {job.id for job in daemon.scheduler.get_jobs() if job.id.startswith("due:")}
        assert "due:2026-04-05T19:00:00+00:00" in ids
        assert "due:2026-04-04T19:00:00+00:00" not in ids
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_tick_delivers_once_and_records_it(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    daemon, clock, _ = make_daemon(EXPIRES - timedelta(days=7), recorder)
    daemon.tick("test")
    daemon.tick("test")
    clock.now += timedelta(hours=1)
    daemon.tick("test")
    assert recorder.sent == ["Claude usage credit expires in 7 days: turn usage credits off"]
    delivered = read_state(tmp_path / "state.json").state.delivered
    assert list(delivered) == ["c/expiry/-7d"]
    [record] = delivered["c/expiry/-7d"]
    assert record.due == EXPIRES - timedelta(days=7) and record.event_at == EXPIRES


def test_failed_delivery_is_not_recorded_and_is_retried(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(fail=True)
    daemon, clock, _ = make_daemon(EXPIRES - timedelta(days=7), recorder)
    daemon.tick("test")
    assert read_state(tmp_path / "state.json").state.delivered == {}
    recorder.fail = False
    daemon.tick("test")
    assert recorder.sent == []  # the desktop backs off: 1 minute after the first failure
    clock.now += timedelta(minutes=1)
    daemon.tick("test")
    assert len(recorder.sent) == 1


def test_broken_config_on_reload_keeps_the_old_schedule(make_daemon, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    daemon, clock, config = make_daemon(EXPIRES - timedelta(days=8), recorder)
    daemon.tick("test")
    config.write_text("this is [not toml")
    daemon.reload_requested = True
    clock.now = EXPIRES - timedelta(days=7)
    daemon.tick("reload")
    assert "keeping the previous schedule" in caplog.text
    assert recorder.sent == ["Claude usage credit expires in 7 days: turn usage credits off"]


def test_bad_config_at_start_is_fatal(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('timezone = "Nowhere"\n[[credit]]\n')
    with pytest.raises(ConfigError):
        Daemon(config, tmp_path / "s.json", tmp_path / "lock", Clock(EXPIRES))


def test_corrupt_state_is_copied_aside_and_the_daemon_carries_on(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    daemon, _, _ = make_daemon(EXPIRES - timedelta(days=7), recorder)
    (tmp_path / "state.json").write_text("{ garbage")
    daemon.tick("test")
    assert len(recorder.sent) == 1
    aside = list(tmp_path.glob("state.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ garbage"


def test_instance_lock_and_daemon_info(tmp_path: Path) -> None:
    lock = tmp_path / "reminderd.lock"
    assert daemon_info(lock).running is False
    fd = acquire_instance_lock(lock)
    try:
        info = daemon_info(lock)
        assert info.running and info.pid == os.getpid() and info.last_wake is not None
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            acquire_instance_lock(lock)
    finally:
        os.close(fd)
    assert daemon_info(lock).running is False


def test_live_calendar_is_rewritten_only_when_the_timeline_changes(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    ics = tmp_path / "live.ics"
    config.write_text(f'ics_path = "{ics}"\n' + config_text(credit=CREDIT))  # a top-level key: first
    clock = Clock(EXPIRES - timedelta(days=10))
    daemon = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                    notifier_factory=lambda c: FallbackNotifier([Recorder()]))
    daemon.tick("test")
    daemon.publish_timeline()  # its job, after each tick
    first = ics.stat().st_mtime_ns
    clock.now += timedelta(minutes=5)
    daemon.tick("test")
    daemon.publish_timeline()
    assert ics.stat().st_mtime_ns == first  # nothing changed: not rewritten
    config.write_text(config.read_text().replace("2026-02-10T12:00:00", "2026-02-11T12:00:00"))
    daemon.tick("test")
    daemon.publish_timeline()
    assert b"SEQUENCE:1" in ics.read_bytes()


def test_the_daemon_keeps_the_usage_ledger_current(tmp_path: Path) -> None:
    import json as json_module

    from reminderd.ledger import load

    transcripts = tmp_path / "claude" / "projects" / "p"
    transcripts.mkdir(parents=True)
    config = tmp_path / "config.toml"
    usage = f'[credit.usage]\nclaude_code_logs = true\nclaude_code_dirs = ["{tmp_path / "claude"}"]\n'
    config.write_text(config_text(usage, credit=CREDIT))

    def spend(name: str, day: int, output_tokens: int) -> None:
        record = {"timestamp": f"2026-02-{day:02d}T12:00:00Z", "requestId": name, "message": {
            "id": name, "model": "claude-opus-4-6", "usage": {"output_tokens": output_tokens}}}
        (transcripts / f"{name}.jsonl").write_text(json_module.dumps(record) + "\n")

    spend("a", 12, 400_000)  # USD 10 on 02-12
    clock = Clock(datetime(2026, 2, 15, 12, tzinfo=UTC))
    daemon = Daemon(config, tmp_path / "state.json", tmp_path / "lock", clock,
                    notifier_factory=lambda c: FallbackNotifier([Recorder()]))
    assert daemon.refresh_sources()  # the sources job, beside the ticks
    daemon.tick("start")
    assert sum(t.output for models in load(tmp_path, "c").hours.values() for t in models.values()) == 400_000
    assert daemon.facts.usage["c"] == load(tmp_path, "c")
    spend("b", 14, 800_000)  # USD 20 on 02-14: not read until the next ledger round
    clock.now += timedelta(minutes=5)
    assert not daemon.refresh_sources()
    assert len(load(tmp_path, "c").hours) == 1
    clock.now += timedelta(minutes=8)
    assert daemon.refresh_sources()
    daemon.tick("wake")
    assert len(load(tmp_path, "c").hours) == 2
    exhaustion = [j for j in daemon.scheduler.get_jobs() if j.id.startswith("due:")]
    assert exhaustion  # replanned with the new pace


class _Failing:
    """A source that always fails, as a reader meeting a file it cannot make sense of would."""

    name, field, every = "toy source", "usage", timedelta(minutes=1)
    calls = 0

    def refresh(self, config, state_dir, now, deadline):  # type: ignore[no-untyped-def]
        _Failing.calls += 1
        raise OverflowError("date value out of range")


def test_a_failing_source_fails_alone(make_daemon, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """Review M2, security H1: one odd transcript made every tick fail, so no reminder was sent."""
    import logging

    monkeypatch.setattr("reminderd.sources.build", lambda config: [_Failing()])
    recorder = Recorder()
    daemon, clock, _ = make_daemon(EXPIRES - timedelta(days=7), recorder)
    with caplog.at_level(logging.ERROR, logger="reminderd"):
        for _ in range(5):
            daemon.refresh_sources()
            daemon.tick("wake")
            clock.now += timedelta(minutes=1)
    assert recorder.sent == ["Claude usage credit expires in 7 days: turn usage credits off"]
    assert _Failing.calls == 3  # at 0, then after 1 and 2 minutes: it backs off
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["toy source: date value out of range; keeping what was known, trying again after "
                      "1, 2, 4 ... minutes (at most an hour apart)"]


def test_the_daemons_log_times_are_in_the_configs_zone() -> None:
    """newuser-43ba1b3: the log said 09:28 where status said 10:28 CET."""
    import logging
    from zoneinfo import ZoneInfo

    from reminderd.process import ZonedFormatter

    record = logging.LogRecord("reminderd", logging.INFO, __file__, 1, "delivered", None, None)
    record.created = datetime(2026, 3, 1, 9, 28, 18, tzinfo=UTC).timestamp()
    formatter = ZonedFormatter("%(asctime)s %(message)s")
    formatter.zone = ZoneInfo("Europe/Berlin")
    assert formatter.format(record) == "2026-03-01 10:28:18 CET delivered"
