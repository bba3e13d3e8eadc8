"""`reminderd run`'s daemon: deliver each reminder once, on time, across restarts, reloads and
sleep, on every channel, whatever one channel or source does (ARCHITECTURE.md, "The tick").

Every job that sends runs the same idempotent tick(): reload a changed config, read the state,
plan() with the facts the sources last learned, deliver on each channel what to_deliver() picks,
record each delivery, re-arm one date job per wake time. A wake job every 60 s re-reads the wall
clock after a suspend (misfire_grace_time=None: nothing is dropped). Sources and the TIMELINE
channels (a calendar) run in jobs of their own; each channel and source fails alone, logged
once, backing off 1, 2, 4 ... minutes (at most an hour). A delivery is kept in memory the
moment a channel accepted it and written to the state right after; while the file cannot be
written, the write is retried at every tick and the problem logged once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reminderd.actions import DONE, Watcher, actions_for, done_action
from reminderd.catchup import snoozed, to_deliver, wake_times
from reminderd.config import load_config
from reminderd.errors import ConfigError, ReminderdError, StateError, one_line
from reminderd.facts import Facts
from reminderd.notify import FallbackNotifier, make_notifier
from reminderd.seams import BUTTONS, RETRIES, TIMELINE, Backoff, Outgoing
from reminderd.settings import Config
from reminderd.snooze import SNOOZE_FOR, with_snooze, without_snooze
from reminderd.sourcing import Sourcing
from reminderd.state import Delivery, State, read_state, update_state
from reminderd.timeline import Reminder, Timeline, plan
from reminderd.turns import Pending, Problems, Turn, config_signature, with_channels_renamed

log = logging.getLogger("reminderd")
WAKE_SECONDS = 60
STOP_WITHIN = 1.5  # seconds a tick in progress gets to finish on SIGTERM; then the process exits
WAKE_JOB = "wake"
SOURCES_JOB = "sources"
PUBLISH_JOB = "publish"
SOURCES_EVERY = 60  # seconds between looks at which source is due
CHANNELS_SECTION = "channels"  # state section: the channels that could not be built, for `status`


class Daemon:
    def __init__(self, config_path: Path, state_path: Path, lock_path: Path,
                 clock: Callable[[], datetime], wake_seconds: float = WAKE_SECONDS,
                 notifier_factory: Callable[[Config], FallbackNotifier] | None = None,
                 channels_factory: Callable[[Config], tuple[list[Any], list[str]]] | None = None) -> None:
        self.config_path, self.state_path, self.lock_path = config_path, state_path, lock_path
        self.clock = clock
        self.wake_seconds = wake_seconds
        self.notifier_factory = notifier_factory or (
            lambda c: make_notifier(c.notifications.backend, c.notifications.command))
        self.channels_factory = channels_factory or self._build_channels
        self.config = self._load()  # a bad config at start is fatal (exit 78)
        self.config_signature = config_signature(config_path)
        self.reload_requested = False
        self.tick_lock = threading.Lock()
        self.stopping = threading.Event()
        self.sending: Any = None  # the channel delivering now, to cancel it on a stop
        self.pending: list[Pending] = []  # delivered, not yet in the state file, in order
        self.problems = Problems()
        self.summary_problem: str | None = None
        self.sourcing = Sourcing(clock, self.stopping, self.problems, self._update_state)
        self.sourcing.build(self.config)
        self.channels: list[Turn] | None = None  # built at the first tick, again after a reload
        self.rebuild_at: datetime | None = None  # when to build the channels again (push_command failed)
        self.build_backoff = Backoff()
        self.scheduler = self._make_scheduler()

    @staticmethod
    def _make_scheduler() -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        return BackgroundScheduler(
            timezone=UTC,
            # ticks never overlap; sources and calendars run beside them, never holding one back
            executors={"default": ThreadPoolExecutor(1), SOURCES_JOB: ThreadPoolExecutor(1),
                       PUBLISH_JOB: ThreadPoolExecutor(1)},
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
        """Stop scheduling, cancel a delivery in progress, and wait up to STOP_WITHIN for the
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
        turns = self._channel_turns(now)  # first: building one may move its records in the state
        state = self._read_state()
        if state is None:
            return  # without the record of what was sent, sending could repeat it
        timeline = plan(self.config, state, now, self.facts)
        log.debug("tick (%s) at %s: %d upcoming", reason, now.isoformat(), len(timeline.upcoming()))
        self._write_summary(timeline, state, now)
        for turn in turns:  # the desktop first, so a slow push never delays it
            if TIMELINE not in turn.seam.capabilities and not self.stopping.is_set():
                self._deliver_on(turn, timeline, state, now)
        self._deliver_snoozed(timeline, state, now, turns)
        if self.stopping.is_set():
            return
        self.schedule(timeline)
        self._heartbeat()
        if any(TIMELINE in turn.seam.capabilities for turn in turns):
            self._run_publish_now()

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

    # -- channels: reminders and the timeline out -------------------------------------------------

    def _build_channels(self, config: Config) -> tuple[list[Any], list[str]]:
        from reminderd.channels import build

        built = build(config, self.state_path, lambda: self.notifier_factory(self.config))
        return built.channels, built.problems

    def _channel_turns(self, now: datetime) -> list[Turn]:
        """The channels, built at the first tick, after a reload, and again (backing off) after
        one could not be built or a push_command channel failed: a rotated token is read anew."""
        if self.channels is not None and (self.rebuild_at is None or now < self.rebuild_at):
            return self.channels
        try:
            channels, problems = self.channels_factory(self.config)
        except Exception as exc:  # noqa: BLE001 (building runs push_command, reads the state)
            channels, problems = [], [f"the channels could not be built: {one_line(str(exc))}"]
        old = {turn.seam.id: turn for turn in self.channels or ()}
        self.channels = [old[c.id] if c.id in old and old[c.id].seam == c else Turn(c) for c in channels]
        for turn in self.channels:  # a rebuilt channel keeps its backoff
            if turn.seam.id in old:
                turn.backoff = old[turn.seam.id].backoff
        self._move_legacy_records(channels)
        self._report_channel_problems(problems)
        self.rebuild_at = now + self.build_backoff.failed(now) if problems else None
        if not problems:
            self.build_backoff.succeeded()
        return self.channels

    def _report_channel_problems(self, problems: list[str]) -> None:
        """Each channel that could not be built: logged once, and kept in the state for `status`."""
        for line in problems:
            self.problems.report(f"build:{line.split(':', 1)[0]}", f"{line}; that channel is off, the others work")
        for key in [k for k in self.problems.active if k.startswith("build:")]:
            if not any(f"build:{line.split(':', 1)[0]}" == key for line in problems):
                self.problems.resolved(key, f"{key.removeprefix('build:')}: works again")
        with contextlib.suppress(StateError):
            read = read_state(self.state_path).state
            if read.extra.get(CHANNELS_SECTION, {}).get("disabled", []) != problems:
                update_state(self.state_path, lambda s: s.with_extra(CHANNELS_SECTION, {"disabled": problems}))

    def _move_legacy_records(self, channels: list[Any]) -> None:
        """Deliveries recorded under a push channel's old name (an unkeyed hash of its URL) move to
        its name now, so nothing is sent again (issue 19 part 2)."""
        moves = {old: c.id for c in channels if (old := getattr(c, "legacy_id", None)) and old != c.id}
        if not moves:
            return

        with contextlib.suppress(StateError):
            if any(d.channel in moves for ds in read_state(self.state_path).state.delivered.values() for d in ds):
                update_state(self.state_path, functools.partial(with_channels_renamed, moves=moves))

    def _deliver_on(self, turn: Turn, timeline: Timeline, state: State, now: datetime) -> None:
        if not turn.backoff.ready(now):
            return
        for reminder in to_deliver(timeline, state, turn.seam.id):
            if self.stopping.is_set() or not self._deliver(reminder, now, turn):
                return

    def _deliver_snoozed(self, timeline: Timeline, state: State, now: datetime, turns: list[Turn]) -> None:
        """A snoozed reminder comes once more, where its buttons were, when its snooze ends."""
        again, forget = snoozed(timeline, state)
        if forget:
            self._update_state(lambda s: functools.reduce(without_snooze, forget, s), "snooze")
        for turn in turns:
            if BUTTONS in turn.seam.capabilities and turn.backoff.ready(now):
                for reminder in again:
                    if self.stopping.is_set() or not self._deliver(reminder, now, turn, ends_snooze=True):
                        return

    def _deliver(self, reminder: Reminder, now: datetime, turn: Turn, ends_snooze: bool = False) -> bool:
        channel = turn.seam
        actions = actions_for(reminder, self.config, functools.partial(self._on_action, reminder))
        self.sending = channel
        try:
            how = channel.deliver(Outgoing(reminder, reminder.title_at(now), reminder.body, actions))
        except Exception as exc:  # noqa: BLE001 (a channel fails alone, whatever it raises)
            turn.backoff.failed(now)
            self.problems.report(f"channel:{channel.id}", f"{reminder.id} not delivered on {channel.name}, will "
                                                          f"retry after {RETRIES}: {one_line(str(exc))}")
            if getattr(channel, "from_command", False):  # a token push_command printed may have rotated
                self.rebuild_at = turn.backoff.retry_at
            return False
        finally:
            self.sending = None
        turn.backoff.succeeded()
        self.problems.resolved(f"channel:{channel.id}", f"{channel.name} delivers again")
        delivery = Delivery(reminder.due, reminder.event_at, self.clock(), channel.id)
        self.pending.append(Pending(reminder.id, delivery, ends_snooze))
        log.info("delivered %s (due %s) via %s%s", reminder.id, reminder.due.isoformat(), how,
                 " after a snooze" if ends_snooze else "")
        self._write_pending()
        return True

    def _run_publish_now(self) -> None:
        with contextlib.suppress(Exception):  # the scheduler is shut down: the daemon is stopping
            self.scheduler.add_job(self.publish_timeline, id=PUBLISH_JOB, executor=PUBLISH_JOB,
                                   replace_existing=True)

    def publish_timeline(self) -> None:
        """Bring each TIMELINE channel (a calendar) in step, each within its deadline, each failing
        alone; beside the ticks. Never raises."""
        for turn in list(self.channels or ()):
            channel = turn.seam
            now = self.clock()
            if TIMELINE not in channel.capabilities or self.stopping.is_set() or not turn.backoff.ready(now):
                continue
            try:
                note = channel.publish(self.config, self.state_path, now, self.facts)
            except Exception as exc:  # noqa: BLE001 (a channel fails alone, whatever it raises)
                turn.backoff.failed(now)
                self.problems.report(f"channel:{channel.id}", f"{channel.name}: {one_line(str(exc))}; trying "
                                                              f"again after {RETRIES}")
                continue
            turn.backoff.succeeded()
            self.problems.resolved(f"channel:{channel.id}", f"{channel.name} written again")
            if note:
                log.info("%s", note)

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

    def _write_summary(self, timeline: Timeline, state: State, now: datetime) -> None:
        """What Claude Code's status line and hook read (summary_file.py), kept current."""
        from reminderd.summary_file import write_summary

        problem = write_summary(self.state_path.parent, timeline, state, now)
        if problem is not None and problem != self.summary_problem:  # a cache: the status line then says
            log.debug("%s", problem)  # "summary not ready", and the state's own write problem is the error
        self.summary_problem = problem

    def _heartbeat(self) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.lock_path)

    # -- sources: facts in, in a job of their own -------------------------------------------------

    @property
    def facts(self) -> Facts:
        return self.sourcing.facts

    def refresh_sources(self) -> bool:
        """Refresh each source whose turn it is (sourcing.py); True when the facts changed."""
        return self.sourcing.refresh(self.config, self.state_path.parent)

    def _run_sources_now(self) -> None:
        with contextlib.suppress(Exception):  # the scheduler is shut down: the daemon is stopping
            self.scheduler.add_job(self._sources_job, id=f"{SOURCES_JOB}-now", executor=SOURCES_JOB,
                                   replace_existing=True)

    def _sources_job(self) -> None:
        if self.refresh_sources():
            self._tick_at(None, "sources")

    def _maybe_reload(self, forced: bool) -> None:
        signature = config_signature(self.config_path)
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
        self.sourcing.build(self.config)  # the sources the config asks for may have changed
        self._run_sources_now()
        self.rebuild_at = self.clock()  # and the channels
        log.info("config reloaded from %s", self.config_path)

