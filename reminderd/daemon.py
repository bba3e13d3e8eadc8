"""`reminderd run`: deliver each reminder once, on time, across restarts, reloads and sleep.

Every job does the same idempotent tick(): reload the config if it changed, read the state,
plan(), deliver what catchup.to_deliver() picks, record each delivery, and re-arm one
APScheduler date job per upcoming reminder. Besides those, a wake job runs every 60 s: after a
suspend APScheduler's monotonic wait comes back late, and the wake job re-reads the wall clock,
so a reminder is at most a minute late and never dropped (jobs have misfire_grace_time=None).

A delivery is remembered in memory the moment the notification is accepted, and written to the
state file right after; while the file cannot be written (disk full, read-only) the record
stays in memory, the write is retried at every tick, and the problem is logged once.

Signals: SIGTERM/SIGINT stop, SIGHUP reloads. No Python code runs in a signal handler: the
C-level handler writes the signal number to a socket (signal.set_wakeup_fd) and the main
thread, which does nothing else, reads it. The handlers are in place before the pid is
published in the lock file. A stop cancels a notification in progress and exits within
STOP_WITHIN seconds whatever the notifier does.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from reminderd.actions import DONE, Watcher, actions_for, done_action
from reminderd.catchup import snoozed, to_deliver, wake_times
from reminderd.config import load_config
from reminderd.errors import ConfigError, ReminderdError, StateError, one_line
from reminderd.facts import Facts
from reminderd.instance import acquire_instance_lock
from reminderd.notify import FallbackNotifier, NotifyError, make_notifier
from reminderd.seams import RETRIES, Backoff
from reminderd.settings import Config
from reminderd.snooze import SNOOZE_FOR, with_snooze, without_snooze
from reminderd.state import DESKTOP, Delivery, State, read_state, update_state
from reminderd.timeline import Reminder, Timeline, plan

if TYPE_CHECKING:
    from reminderd.push import PushNotifier

log = logging.getLogger("reminderd")
WAKE_SECONDS = 60
STOP_WITHIN = 1.5  # seconds a tick in progress gets to finish on SIGTERM; then the process exits
WAKE_JOB = "wake"
SOURCES_JOB = "sources"
SOURCES_EVERY = 60  # seconds between looks at which source is due
SOURCE_WITHIN = 120.0  # seconds one source's refresh may take; the rest waits for its next turn
CALENDAR_CHECK_EVERY = timedelta(hours=1)  # a sync with no local change: repairs what was deleted on the server
CALENDAR_RETRY_MAX = timedelta(hours=1)  # while the server is unreachable: 1, 2, 4 ... minutes, at most this


def configure_logging(verbose: bool) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) the journal adds timestamps itself."""
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, force=True)
    # a wake skipped while a tick still runs (a slow notification) is expected, not a warning
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class _Problems:
    """Logs each ongoing problem once, and once more when it is over."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}

    def report(self, key: str, message: str) -> None:
        if self.active.get(key) != message:
            self.active[key] = message
            log.error("%s", message)

    def resolved(self, key: str, message: str) -> None:
        if self.active.pop(key, None) is not None:
            log.info("%s", message)


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
        self.stopping = threading.Event()
        self.sending: FallbackNotifier | None = None
        self.pushes: list[PushNotifier] | None = None  # the push channels, once push_command ran
        self.pending: list[Pending] = []  # delivered, not yet in the state file, in order
        self.problems = _Problems()
        self.facts = Facts()  # what the sources last learned (each field: its source's last good value)
        self.sources: list[_SourceTurn] = []
        self._build_sources()
        self.calendar = _CalendarSync()
        self.scheduler = self._make_scheduler()

    @staticmethod
    def _make_scheduler() -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        return BackgroundScheduler(
            timezone=UTC,
            # ticks never overlap; sources run beside them, so a long scan never holds a reminder back
            executors={"default": ThreadPoolExecutor(1), SOURCES_JOB: ThreadPoolExecutor(1)},
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
        self.scheduler.add_job(self._sources_job, IntervalTrigger(seconds=SOURCES_EVERY, timezone=UTC),
                               id=SOURCES_JOB, executor=SOURCES_JOB, replace_existing=True)
        self._run_sources_now()
        self.scheduler.start(paused=paused)
        log.info("reminderd running with %s; waking at least every %g s", self.config_path, self.wake_seconds)

    def stop(self) -> bool:
        """Stop scheduling, cancel a notification in progress, and wait up to STOP_WITHIN for the
        tick to end; True if it did (then every record is written, or logged as not)."""
        self.stopping.set()
        self.scheduler.shutdown(wait=False)
        sending = self.sending
        if sending is not None:
            sending.cancel()
        Watcher.close_all()
        if self.tick_lock.acquire(timeout=STOP_WITHIN):
            self.tick_lock.release()
            return True
        return False

    def request_reload(self) -> None:
        self.reload_requested = True
        self.scheduler.add_job(self.tick, args=["reload"])

    # -- the tick ------------------------------------------------------------------------------

    def tick(self, reason: str) -> None:
        """Never raises: a daemon that runs for months logs and carries on."""
        with self.tick_lock:
            if self.stopping.is_set():
                return
            try:
                self._tick(reason)
            except ReminderdError as exc:
                self.problems.report("tick", str(exc))
            except Exception:
                log.exception("unexpected error during %s; carrying on", reason)

    def _tick(self, reason: str) -> None:
        self._maybe_reload(forced=self.reload_requested)
        now = self.clock()
        self._write_pending()
        state = self._read_state()
        if state is None:
            return  # without the record of what was sent, sending could repeat it
        timeline = plan(self.config, state, now, self.facts)
        log.debug("tick (%s) at %s: %d upcoming", reason, now.isoformat(), len(timeline.upcoming()))
        # the desktop first, so a slow push (or push_command) never delays it
        self._deliver_all(timeline, state, now, DESKTOP, lambda: self.notifier_factory(self.config))
        self._deliver_snoozed(timeline, state, now)
        for channel, make_notifier_for in self._push_channels():
            self._deliver_all(timeline, state, now, channel, make_notifier_for)
        if self.stopping.is_set():
            return
        self.schedule(timeline)
        self._heartbeat()
        if self.config.ics_path is not None:
            self._write_live_calendar(self.config.ics_path, now)
        if self.config.calendar is not None:
            self._sync_calendar(now)

    def _read_state(self) -> State | None:
        try:
            loaded = read_state(self.state_path)
            if loaded.damaged:  # the daemon writes: keep a copy of the damaged file, save what is valid
                update_state(self.state_path, lambda s: s, report=lambda line: log.warning("%s", line))
                loaded = read_state(self.state_path)
        except StateError as exc:
            self.problems.report("read", f"{exc}; delivering nothing until it can be read")
            return None
        self.problems.resolved("read", f"{self.state_path}: readable again")
        state = loaded.state
        for record in self.pending:
            state = record.apply(state)
        return state

    # -- sources: facts in, in a job of their own -------------------------------------------------

    def _build_sources(self) -> None:
        from reminderd.sources import build

        fields = {field for field in Facts._fields}
        self.sources = [_SourceTurn(source) for source in build(self.config)]
        kept = {turn.source.field for turn in self.sources}
        self.facts = self.facts._replace(**{f: Facts._field_defaults[f] for f in fields - kept})

    def refresh_sources(self) -> bool:
        """Refresh each source whose turn it is, within SOURCE_WITHIN each; never raises. A failure
        is logged once, the source's last good value kept, and its next try backs off. True when
        the facts changed (the caller plans again)."""
        import time

        changed = False
        for turn in list(self.sources):
            now = self.clock()
            if self.stopping.is_set() or not turn.due(now):
                continue
            source = turn.source
            try:
                value = source.refresh(self.config, self.state_path.parent, now, time.monotonic() + SOURCE_WITHIN)
            except Exception as exc:  # noqa: BLE001 (a source fails alone, whatever it raises)
                turn.backoff.failed(now)
                why = one_line(str(exc) or type(exc).__name__)
                self.problems.report(f"source:{source.name}", f"{source.name}: {why}; keeping what was known, "
                                                              f"trying again after {RETRIES}")
                continue
            turn.backoff.succeeded()
            turn.last = now
            self.problems.resolved(f"source:{source.name}", f"{source.name}: read again")
            if getattr(self.facts, source.field) != value:
                self.facts = self.facts._replace(**{source.field: value})
                changed = True
        return changed

    def _run_sources_now(self) -> None:
        with contextlib.suppress(Exception):  # the scheduler is shut down: the daemon is stopping
            self.scheduler.add_job(self._sources_job, id=f"{SOURCES_JOB}-now", executor=SOURCES_JOB,
                                   replace_existing=True)

    def _sources_job(self) -> None:
        if self.refresh_sources():
            self._tick_at(None, "sources")

    def _sync_calendar(self, now: datetime) -> None:
        """Sync the CalDAV calendar when what it should hold changed (no request is made to know
        that), every CALENDAR_CHECK_EVERY anyway, and after a failure with growing pauses."""
        from reminderd.caldav_sync import CalendarAuthError, CalendarError, password_for, sync, wanted_versions

        sync_state = self.calendar
        if sync_state.retry_at is not None and now < sync_state.retry_at:
            return
        try:
            versions = wanted_versions(self.config, self.state_path, now, facts=self.facts)[0]
            if versions == sync_state.versions and sync_state.next_check is not None and now < sync_state.next_check:
                return
            if not sync_state.have_password:
                sync_state.password, sync_state.have_password = password_for(self.config.calendar), True
            outcome, _ = sync(self.config, self.state_path, now, sync_state.password,
                              report=lambda line: log.warning("%s", line), facts=self.facts)
        except (CalendarError, StateError) as exc:
            if isinstance(exc, CalendarAuthError):
                sync_state.have_password = False  # ask again next time: it may have been changed
            sync_state.failures += 1
            pause = min(CALENDAR_RETRY_MAX, timedelta(minutes=2 ** (sync_state.failures - 1)))
            sync_state.retry_at = now + pause
            self.problems.report("calendar-sync", f"{exc}; trying again in {int(pause.total_seconds() // 60)} min")
            return
        self.problems.resolved("calendar-sync", "calendar synced again")
        sync_state.versions, sync_state.failures, sync_state.retry_at = versions, 0, None
        sync_state.next_check = now + CALENDAR_CHECK_EVERY
        for line in outcome.conflicts:
            log.warning("calendar: %s", line)
        if outcome.created or outcome.updated or outcome.deleted:
            log.info("calendar synced: %s", outcome.summary())

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
        self._build_sources()  # the sources the config asks for may have changed
        self._run_sources_now()
        self.pushes = None
        log.info("config reloaded from %s", self.config_path)

    def _push_channels(self) -> list[tuple[str, Callable[[], FallbackNotifier]]]:
        """Each push URL (push.py) is a channel with its own delivery records."""
        settings = self.config.notifications
        if not (settings.push or settings.push_command) or self.stopping.is_set():
            return []
        pushes = self.pushes
        if pushes is None:  # push_command runs once, again after a reload or a failed push
            from reminderd.push import push_notifiers

            pushes, problem = push_notifiers(settings.push, settings.push_command)
            if problem is None:
                self.problems.resolved("push-command", "notifications.push_command works again")
                self.pushes = pushes
            else:  # the literal URLs work all the same
                self.problems.report("push-command", f"{problem}; its channels wait")
        return [(push.id, functools.partial(FallbackNotifier, [push])) for push in pushes]

    def _deliver_all(self, timeline: Timeline, state: State, now: datetime, channel: str,
                     make_notifier: Callable[[], FallbackNotifier]) -> None:
        for reminder in to_deliver(timeline, state, channel):
            if self.stopping.is_set():
                return
            if not self._deliver(reminder, now, channel, make_notifier()):
                if channel != DESKTOP:
                    self.pushes = None  # the URL may have changed (a rotated token)
                return  # this channel fails now; its other reminders wait for the next wake

    def _deliver_snoozed(self, timeline: Timeline, state: State, now: datetime) -> None:
        """A snoozed reminder comes once more on the desktop when its snooze ends."""
        again, forget = snoozed(timeline, state)
        if forget:
            self._update_state(lambda s: functools.reduce(without_snooze, forget, s), "snooze")
        for reminder in again:
            if self.stopping.is_set() or not self._deliver(
                    reminder, now, DESKTOP, self.notifier_factory(self.config), ends_snooze=True):
                return

    def _deliver(self, reminder: Reminder, now: datetime, channel: str, notifier: FallbackNotifier,
                 ends_snooze: bool = False) -> bool:
        self.sending = notifier
        actions = actions_for(reminder, self.config, functools.partial(self._on_action, reminder))
        try:
            notifier.send(reminder.title_at(now), reminder.body, actions)
        except NotifyError as exc:
            log.warning("%s not delivered on %s, will retry: %s", reminder.id, channel, exc)
            return False
        finally:
            self.sending = None
        delivery = Delivery(reminder.due, reminder.event_at, self.clock(), channel)
        self.pending.append(Pending(reminder.id, delivery, ends_snooze))
        log.info("delivered %s (due %s) via %s%s", reminder.id, reminder.due.isoformat(), notifier.used,
                 " after a snooze" if ends_snooze else "")
        self._write_pending()
        return True

    def _on_action(self, reminder: Reminder, key: str) -> None:
        """A button clicked on the notification of `reminder` (called from its watcher thread)."""
        now = self.clock()
        action = done_action(reminder, self.config)
        if key == DONE and action is not None:
            if self._update_state(lambda s: s.with_acknowledged(reminder.credit_id, action, now), "action"):
                log.info("recorded %s for %s from the notification", action, reminder.credit_id)
        elif key != DONE:
            until = now + SNOOZE_FOR
            if self._update_state(lambda s: with_snooze(s, reminder.id, until), "action"):
                log.info("%s snoozed until %s", reminder.id, until.isoformat())
                self._tick_at(until, f"snooze:{reminder.id}")
        self._tick_at(None, "action")

    def _tick_at(self, when: datetime | None, job_id: str) -> None:
        from apscheduler.triggers.date import DateTrigger

        with contextlib.suppress(Exception):  # the scheduler is shut down: the daemon is stopping
            self.scheduler.add_job(self.tick, None if when is None else DateTrigger(run_date=when, timezone=UTC),
                                   id=job_id, args=[job_id.partition(":")[0]], replace_existing=True)

    def _update_state(self, change: Callable[[State], State], what: str) -> bool:
        try:
            update_state(self.state_path, change, report=lambda line: log.warning("%s", line))
        except StateError as exc:
            self.problems.report(what, str(exc))
            return False
        self.problems.resolved(what, f"{self.state_path}: written again")
        return True

    def _write_pending(self) -> None:
        if not self.pending:
            return
        pending = list(self.pending)

        def record(state: State) -> State:
            for entry in pending:
                state = entry.apply(state)
            return state

        try:
            update_state(self.state_path, record, report=lambda line: log.warning("%s", line))
        except StateError as exc:
            self.problems.report("write", f"{exc}; keeping {len(self.pending)} delivery record(s) in memory "
                                          "(nothing is sent twice) and retrying at every wake")
            return
        del self.pending[:len(pending)]
        self.problems.resolved("write", f"{self.state_path}: delivery records written")

    def schedule(self, timeline: Timeline) -> None:
        """One date job per wake time (each upcoming due time, the end of quiet hours); jobs for
        times no longer wanted are removed."""
        from apscheduler.triggers.date import DateTrigger

        wanted = {f"due:{at.astimezone(UTC).isoformat()}": at for at in wake_times(timeline)}
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
        from reminderd.files import write_atomically
        from reminderd.ics import publish

        target = path.expanduser()
        try:
            events = publish(self.config, self.state_path, now,
                             lambda data: write_atomically(target, data, error=OutputError), destination=target,
                             report=lambda line: log.warning("%s", line), facts=self.facts)
        except (OutputError, StateError) as exc:
            self.problems.report("calendar", str(exc))
            return
        self.problems.resolved("calendar", f"calendar {target} written again")
        if events is not None:
            log.info("calendar %s updated (%s)", target, events)


class _SourceTurn:
    """A source, when it last succeeded, and its backoff."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.last: datetime | None = None
        self.backoff = Backoff()

    def due(self, now: datetime) -> bool:
        return self.backoff.ready(now) and (self.last is None or abs(now - self.last) >= self.source.every)


class Pending(NamedTuple):
    """A delivery not yet in the state file."""

    reminder_id: str
    delivery: Delivery
    ends_snooze: bool = False

    def apply(self, state: State) -> State:
        state = state.with_delivered(self.reminder_id, self.delivery)
        return without_snooze(state, self.reminder_id) if self.ends_snooze else state


class _CalendarSync:
    """When the daemon last synced the CalDAV calendar, what it held then, and the retries."""

    def __init__(self) -> None:
        self.versions: dict[str, str] | None = None  # what was synced last (uid -> version)
        self.next_check: datetime | None = None
        self.failures = 0
        self.retry_at: datetime | None = None
        self.password: str | None = None  # in memory only
        self.have_password = False


def notify_service_manager(message: str) -> None:
    """Tell systemd (Type=notify) our state, e.g. READY=1, if it started us; else do nothing."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


@contextlib.contextmanager
def signals_to_socket() -> Iterator[socket.socket]:
    """SIGTERM, SIGINT and SIGHUP arrive as bytes on the socket this yields; nothing else happens
    in the handler, so no Python code runs at an arbitrary point of the main thread."""
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in handled}
    try:
        yield receiver
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        receiver.close()
        sender.close()


def run(config_path: Path, state_path: Path, lock_path: Path, clock: Callable[[], datetime],
        wake_seconds: float = WAKE_SECONDS) -> int:
    """Run in the foreground until SIGTERM/SIGINT; return the exit code.

    The signal handlers are in place before the lock file names our pid (which is how `claim`,
    `balance` and `done` find us to send SIGHUP), so an early SIGHUP reloads, never kills.
    """
    with signals_to_socket() as signals:
        # held until the process ends: never released early; it says which config and state we use
        acquire_instance_lock(lock_path, config_path, state_path.parent)
        daemon = Daemon(config_path, state_path, lock_path, clock, wake_seconds)
        daemon.start()
        notify_service_manager("READY=1")
        while True:
            for signum in signals.recv(64):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("stopping on %s", signal.Signals(signum).name)
                    notify_service_manager("STOPPING=1")
                    if not daemon.stop():
                        log.warning("a notification was still in progress; stopping without it "
                                    "(it is sent again at the next start if it was not shown)")
                        logging.shutdown()
                        os._exit(0)
                    return 0
                if signum == signal.SIGHUP:
                    log.info("reloading on SIGHUP")
                    daemon.request_reload()
