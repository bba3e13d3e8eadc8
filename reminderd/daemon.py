"""`reminderd run`: deliver each reminder once, on time, across restarts, reloads and sleep.

Every job does the same idempotent tick(): reload the config if it changed, read the state,
plan(), deliver what catchup.to_deliver() picks, record each delivery, and re-arm one
APScheduler date job per upcoming reminder. Besides those, a wake job runs every 60 s: after a
suspend APScheduler's monotonic wait comes back late, and the wake job re-reads the wall clock,
so a reminder is at most a minute late and never dropped (jobs have misfire_grace_time=None).

Signals: SIGTERM/SIGINT stop, SIGHUP reloads. No Python code runs in a signal handler: the
C-level handler writes the signal number to a socket (signal.set_wakeup_fd) and the main
thread, which does nothing else, reads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reminderd.catchup import to_deliver
from reminderd.config import Config, load_config
from reminderd.errors import ConfigError, ReminderdError
from reminderd.instance import acquire_instance_lock
from reminderd.notify import FallbackNotifier, NotifyError, make_notifier
from reminderd.state import delivery_key, load_state, update_state, write_atomically
from reminderd.timeline import Reminder, Timeline, plan

log = logging.getLogger("reminderd")
WAKE_SECONDS = 60
STOP_WITHIN = 1.5  # seconds to let a tick in progress finish on SIGTERM
WAKE_JOB = "wake"


def configure_logging(verbose: bool) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) the journal adds timestamps itself."""
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# -- the daemon ----------------------------------------------------------------------------------


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Daemon:
    def __init__(self, config_path: Path, state_path: Path, lock_path: Path,
                 clock: Callable[[], datetime], wake_seconds: float = WAKE_SECONDS,
                 notifier_factory: Callable[[Config], FallbackNotifier] | None = None) -> None:
        self.config_path, self.state_path, self.lock_path = config_path, state_path, lock_path
        self.clock = clock
        self.wake_seconds = wake_seconds
        self.notifier_factory = notifier_factory or (
            lambda c: make_notifier(c.notifications.backend, c.notifications.command))
        self.config = self._load()  # a bad config at start is fatal (exit 78)
        self.config_signature = _signature(config_path)
        self.reload_requested = False
        self.tick_lock = threading.Lock()
        self.scheduler = self._make_scheduler()

    @staticmethod
    def _make_scheduler() -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        return BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},  # ticks never overlap
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _load(self) -> Config:
        config = load_config(self.config_path)
        for warning in config.warnings:
            log.warning("%s", warning)
        return config

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=self.wake_seconds, timezone=UTC),
                               id=WAKE_JOB, args=["wake"], replace_existing=True)
        self.scheduler.add_job(self.tick, id="start", args=["start"])  # no trigger: run now
        self.scheduler.start(paused=paused)
        log.info("reminderd running with %s; waking at least every %g s", self.config_path, self.wake_seconds)

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self.tick_lock.acquire(timeout=STOP_WITHIN):
            self.tick_lock.release()

    def request_reload(self) -> None:
        self.reload_requested = True
        self.scheduler.add_job(self.tick, args=["reload"])

    # -- the tick ------------------------------------------------------------------------------

    def tick(self, reason: str) -> None:
        """Never raises: a daemon that runs for months logs and carries on."""
        with self.tick_lock:
            try:
                self._tick(reason)
            except ReminderdError as exc:
                log.error("%s", exc)
            except Exception:
                log.exception("unexpected error during %s; carrying on", reason)

    def _tick(self, reason: str) -> None:
        self._maybe_reload(forced=self.reload_requested)
        now = self.clock()
        state = load_state(self.state_path)
        timeline = plan(self.config, state, now)
        log.debug("tick (%s) at %s: %d upcoming", reason, now.isoformat(), len(timeline.upcoming()))
        for reminder in to_deliver(timeline, state):
            self._deliver(reminder)
        self.schedule(timeline)
        self._heartbeat()
        if self.config.ics_path is not None:
            self._write_live_calendar(self.config.ics_path, now)

    def _maybe_reload(self, forced: bool) -> None:
        signature = _signature(self.config_path)
        if not forced and signature == self.config_signature:
            return
        self.reload_requested = False
        self.config_signature = signature
        try:
            self.config = self._load()
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("%s", problem)
            log.error("config not reloaded: keeping the previous schedule")
            return
        log.info("config reloaded from %s", self.config_path)

    def _deliver(self, reminder: Reminder) -> None:
        notifier = self.notifier_factory(self.config)
        try:
            notifier.send(reminder.title, reminder.body)
        except NotifyError as exc:
            log.warning("%s not delivered, will retry: %s", reminder.id, exc)
            return
        key = delivery_key(reminder.id, reminder.due)
        update_state(self.state_path, lambda s: s.with_delivered(key, self.clock()))
        log.info("delivered %s (due %s) via %s", reminder.id, reminder.due.isoformat(), notifier.used)

    def schedule(self, timeline: Timeline) -> None:
        """One date job per upcoming reminder; jobs for reminders that went away are removed."""
        from apscheduler.triggers.date import DateTrigger

        wanted = {f"due:{delivery_key(r.id, r.due)}": r.due for r in timeline.upcoming()}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("due:") and job.id not in wanted:
                job.remove()
        for job_id, due in wanted.items():
            if self.scheduler.get_job(job_id) is None:
                self.scheduler.add_job(self.tick, DateTrigger(run_date=due, timezone=UTC), id=job_id,
                                       args=["due"], replace_existing=True)

    def _heartbeat(self) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.lock_path)

    def _write_live_calendar(self, path: Path, now: datetime) -> None:
        from reminderd.errors import OutputError
        from reminderd.ics import publish

        target = path.expanduser()
        try:
            events = publish(self.config, self.state_path, now,
                             lambda data: write_atomically(target, data, error=OutputError),
                             only_if_changed=target.exists())
        except OutputError as exc:
            log.error("%s", exc)
            return
        if events is not None:
            log.info("calendar %s updated (%d events)", target, events)


def run(config_path: Path, state_path: Path, lock_path: Path, clock: Callable[[], datetime],
        wake_seconds: float = WAKE_SECONDS) -> int:
    """Run in the foreground until SIGTERM/SIGINT; return the exit code."""
    lock_fd = acquire_instance_lock(lock_path)
    daemon = Daemon(config_path, state_path, lock_path, clock, wake_seconds)
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(handled, lambda *_: None)  # the wakeup fd carries the signal number
    daemon.start()
    try:
        while True:
            for signum in receiver.recv(64):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("stopping on %s", signal.Signals(signum).name)
                    return 0
                if signum == signal.SIGHUP:
                    log.info("reloading on SIGHUP")
                    daemon.request_reload()
    finally:
        daemon.stop()
        signal.set_wakeup_fd(previous_fd)
        os.close(lock_fd)

