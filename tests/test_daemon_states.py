"""The daemon's tick as a state machine (Hypothesis): a fake clock, a recording notifier, and
random wakes, suspends, restarts, kills between acceptance and record, a full disk, config
edits, acknowledgements and balance readings.

After every step:
- each reminder is shown at most once for the event it warns about, except in the documented
  window (killed, or restarted with the disk full, after the server accepted it and before the
  record was written);
- nothing is shown in quiet hours unless waiting for their end would be too late;
- nothing is shown that an acknowledgement made before it stops;
- after a tick with a working notifier and a writable disk, nothing due is left unsent;
- the live calendar equals a fresh export at the same moment.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from strategies import WINDOW_OPENS, Scenario, scenarios

import reminderd.state as state_module
from reminderd.actions import DONE, SNOOZE, done_action
from reminderd.catchup import REARM_AFTER, snoozed, to_deliver
from reminderd.config import load_config
from reminderd.daemon import Daemon
from reminderd.errors import StateError
from reminderd.forecast import Observation
from reminderd.ics import events, render
from reminderd.notify import FallbackNotifier, NotifyError
from reminderd.quiet import quiet_period
from reminderd.settings import Config
from reminderd.snooze import SNOOZE_FOR
from reminderd.state import DESKTOP, ICS_SECTION, State, read_state, update_state
from reminderd.timeline import Reminder, plan

SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # no fsync cost where there is tmpfs


class Killed(BaseException):
    """The process died right after the notification server accepted a notification."""


class Shown:
    def __init__(self, at: datetime, reminder: Reminder) -> None:
        self.at, self.reminder = at, reminder


PUSH = "push:phone"  # the one push channel of the machine (a channel id as push.channel_id makes them)


class RecordingDaemon(Daemon):
    """The real Daemon, telling the test which reminder each notification is, with one push
    channel besides the desktop (push.py's Apprise part is proven against HTTP in test_push)."""

    current: Reminder | None = None
    machine: DaemonMachine

    def _push_channels(self) -> list[tuple[str, Callable[[], FallbackNotifier]]]:
        m = self.machine
        return [(PUSH, lambda: FallbackNotifier([Recorder(m, "pusher", m.pushed, "push_fails", killable=False)]))]

    def _deliver(self, reminder: Reminder, now: datetime, channel: str, notifier: FallbackNotifier,
                 ends_snooze: bool = False) -> bool:
        self.current = reminder
        return super()._deliver(reminder, now, channel, notifier, ends_snooze)


class Recorder:
    """A channel's notifier: records what it shows in `log`, or fails while the machine's flag
    `fails` is set; the desktop's can also be killed between showing and recording."""

    def __init__(self, machine: DaemonMachine, name: str, log: list[Shown], fails: str, killable: bool) -> None:
        self.machine, self.name, self.log, self.fails, self.killable = machine, name, log, fails, killable

    def cancel(self) -> None:
        pass

    def send(self, title: str, body: str) -> None:
        m = self.machine
        if getattr(m, self.fails):
            raise NotifyError(f"{self.name}: refused")
        reminder = m.daemon.current
        assert reminder is not None and title == reminder.title_at(m.now)
        self.log.append(Shown(m.now, reminder))
        if self.killable and m.kill_next:
            m.kill_next = False
            m.may_repeat.add((DESKTOP, reminder.id))
            raise Killed


class DaemonMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=SCRATCH))
        self.config_path = self.dir / "config.toml"
        self.state_path = self.dir / "state.json"
        self.live = self.dir / "live.ics"
        self.shown: list[Shown] = []
        self.pushed: list[Shown] = []
        self.may_repeat: set[tuple[str, str]] = set()  # (channel, reminder id) in the documented window
        self.acks: dict[str, datetime] = {}
        self.snoozed_at: dict[str, list[datetime]] = {}  # reminder id -> when its notification was snoozed
        self.notifier_fails = False
        self.push_fails = False
        self.kill_next = False
        self.disk_full = False

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- set-up --------------------------------------------------------------------------------

    @initialize(scenario=scenarios(), start=st.integers(-3 * 24, 20 * 24), disk_full=st.booleans(),
                push_fails=st.booleans())
    def setup(self, scenario: Scenario, start: int, disk_full: bool, push_fails: bool) -> None:
        self.disk_full, self.push_fails = disk_full, push_fails
        self.config_path.write_text(f'ics_path = "{self.live}"\n' + scenario.text)
        self.now = (scenario.claimed_at or WINDOW_OPENS) + timedelta(hours=start)
        self.daemon = self.new_daemon()
        self.tick()

    def new_daemon(self) -> RecordingDaemon:
        daemon = RecordingDaemon(self.config_path, self.state_path, self.dir / "lock", lambda: self.now,
                                 notifier_factory=lambda c: FallbackNotifier(
                                     [Recorder(self, "recorder", self.shown, "notifier_fails", killable=True)]))
        daemon.machine = self
        return daemon

    def lose_pending(self) -> None:
        """Records kept only in memory are lost with the process: each may come once more."""
        self.may_repeat.update((record.delivery.channel, record.reminder_id) for record in self.daemon.pending)

    # -- what happens --------------------------------------------------------------------------

    @rule(minutes=st.integers(1, 240))
    def wake(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.tick()

    @rule(hours=st.integers(3, 24 * 25))
    def suspend_and_resume(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.tick()

    @rule()
    def restart(self) -> None:
        self.lose_pending()
        self.daemon = self.new_daemon()
        self.tick()

    @rule()
    def kill_after_the_server_accepts(self) -> None:
        self.kill_next = True
        self.now += timedelta(minutes=1)
        self.tick()
        self.kill_next = False

    @rule(fails=st.booleans())
    def notifier_works_or_not(self, fails: bool) -> None:
        self.notifier_fails = fails

    @rule(fails=st.booleans())
    def push_works_or_not(self, fails: bool) -> None:
        self.push_fails = fails

    @rule(full=st.booleans())
    def disk_fills_or_frees(self, full: bool) -> None:
        self.disk_full = full

    @rule(minutes=st.integers(-30, 30).filter(bool))
    def correct_the_claim_by_minutes(self, minutes: int) -> None:
        text = self.config_path.read_text()
        match = re.search(r"^claimed_at = (\S+)$", text, re.M)
        if match is None:
            return
        moved = datetime.fromisoformat(match.group(1)) + timedelta(minutes=minutes)
        self._edit(text.replace(match.group(0), f"claimed_at = {moved.strftime('%Y-%m-%dT%H:%M:%SZ')}"))

    @rule(hour=st.integers(0, 23))
    def move_the_weekly_check(self, hour: int) -> None:
        text = self.config_path.read_text()
        self._edit(re.sub(r'^usage_check_time = ".*"$', f'usage_check_time = "{hour:02d}:15"', text, flags=re.M))

    @rule(start=st.integers(0, 23), end=st.integers(0, 23))
    def change_quiet_hours(self, start: int, end: int) -> None:
        text = re.sub(r"^\[quiet_hours\]\nstart = .*\nend = .*\n", "", self.config_path.read_text(), flags=re.M)
        if start != end:
            text += f'[quiet_hours]\nstart = "{start:02d}:00"\nend = "{end:02d}:30"\n'
        self._edit(text)

    def _edit(self, text: str) -> None:
        self.config_path.write_text(text)
        self.daemon.reload_requested = True
        self.tick()

    @precondition(lambda self: not self.disk_full)
    @rule(action=st.sampled_from(["extra-usage-off", "auto-reload-off"]))
    def acknowledge(self, action: str) -> None:
        update_state(self.state_path, lambda s: s.with_acknowledged("c", action, self.now))
        self.acks.setdefault(action, self.now)
        self.now += timedelta(seconds=1)
        self.tick()

    @precondition(lambda self: self.shown and not self.disk_full)
    @rule(key=st.sampled_from([DONE, SNOOZE]), minutes=st.integers(0, 180))
    def click_a_button_on_the_last_notification(self, key: str, minutes: int) -> None:
        """What the notification's watcher thread does when "I turned it off" or "Remind me in 1
        hour" is clicked, `minutes` after it was shown (if the server still shows it)."""
        self.now += timedelta(minutes=minutes)
        reminder = self.shown[-1].reminder
        if key == SNOOZE:
            self.snoozed_at.setdefault(reminder.id, []).append(self.now)
        else:
            action = done_action(reminder, self.daemon.config)
            if action is not None:
                self.acks.setdefault(action, self.now)
        self.daemon._on_action(reminder, key)
        self.now += timedelta(seconds=1)
        self.tick()

    @precondition(lambda self: not self.disk_full)
    @rule(amount=st.floats(0, 70))
    def record_a_balance(self, amount: float) -> None:
        update_state(self.state_path, lambda s: s.with_observation("c", Observation(self.now, amount)))
        self.now += timedelta(seconds=1)
        self.tick()

    # -- one tick, then every invariant ---------------------------------------------------------

    def tick(self) -> None:
        before, pushed_before = len(self.shown), len(self.pushed)
        real_write = state_module.write_atomically

        def full_disk(path: Path, data: bytes, **kwargs: object) -> None:
            raise StateError(f"{path}: cannot write: No space left on device")

        if self.disk_full:
            state_module.write_atomically = full_disk  # type: ignore[assignment]
        try:
            try:
                self.daemon.tick("test")
            except Killed:  # it died; records only in its memory are lost; the supervisor restarts it
                self.lose_pending()
                self.daemon = self.new_daemon()
                self.daemon.tick("start")
        finally:
            state_module.write_atomically = real_write
        self.check(self.shown[before:], self.shown, DESKTOP)
        self.check(self.pushed[pushed_before:], self.pushed, PUSH)
        self.check_nothing_left_behind()

    def check(self, new: list[Shown], channel_log: list[Shown], channel: str) -> None:
        """Every rule for what one channel was just sent."""
        config = load_config(self.config_path)
        for shown in new:
            r = shown.reminder
            # at most once per event on each channel, outside the documented window
            earlier = [s for s in channel_log if s is not shown and s.reminder.id == r.id and s.at <= shown.at
                       and _same_event(s.reminder, r)]
            # ...and, on the desktop (where the button is), once more after each snooze that has ended
            snoozes_over = [t for t in self.snoozed_at.get(r.id, []) if t + SNOOZE_FOR <= shown.at] \
                if channel == DESKTOP else []
            assert len(earlier) <= len(snoozes_over) or (channel, r.id) in self.may_repeat, \
                f"{r.id} sent again on {channel} at {shown.at}: {[s.at for s in earlier]}, " \
                f"snoozed at {self.snoozed_at.get(r.id)}"
            # quiet hours: only when waiting for their end would be too late
            period = quiet_period(shown.at, config.quiet_hours, config.timezone)
            if period is not None:
                too_late = (r.until is not None and r.until <= period[1]) or (
                    r.event_at is not None and shown.at < r.event_at <= period[1])
                assert too_late, f"{r.id} sent in quiet hours at {shown.at}"
            # never after an acknowledgement that stops it
            for action, at in self.acks.items():
                assert not (action in r.stops_on and at <= shown.at), f"{r.id} sent after {action}"

    def check_nothing_left_behind(self) -> None:
        """Each channel that works has everything due, whatever the other one does."""
        if self.disk_full:
            return
        config = load_config(self.config_path)
        state = read_state(self.state_path).state
        timeline = plan(config, state, self.now)
        if not self.push_fails:
            assert to_deliver(timeline, state, PUSH) == [], "something due was not pushed"
        if not self.notifier_fails:
            assert to_deliver(timeline, state) == [], "something due was not sent"
            assert snoozed(timeline, state) == ([], []), "a snooze that ended was not acted on"
            assert _without_stamps(self.live.read_bytes()) == fresh_export(config, state, self.now)


_RENDERED: dict[str, list[bytes]] = {}


def fresh_export(config: Config, state: State, now: datetime) -> list[bytes]:
    """What `export-ics` would write now, without DTSTAMP (memoized: icalendar renders slowly)."""
    namespace = uuid.UUID(state.extra["installation"]["namespace"])
    current = events(plan(config, state, now), namespace)
    record = state.extra.get(ICS_SECTION, {})
    key = repr((current, sorted(record.items())))
    if key not in _RENDERED:
        _RENDERED[key] = _without_stamps(render(current, record, now))
    return _RENDERED[key]


def _same_event(a: Reminder, b: Reminder) -> bool:
    if a.event_at is None or b.event_at is None:
        return True
    return abs(a.event_at - b.event_at) <= REARM_AFTER


def _without_stamps(ics: bytes) -> list[bytes]:
    return [line for line in ics.split(b"\r\n") if not line.startswith(b"DTSTAMP")]


# a fifth of the profile's examples (each runs up to 30 ticks): 60 in CI, 600 with HYPOTHESIS_PROFILE=thorough
DaemonMachine.TestCase.settings = settings(max_examples=max(10, settings.default.max_examples // 5),
                                           stateful_step_count=30, deadline=None)
test_daemon_state_machine = DaemonMachine.TestCase

