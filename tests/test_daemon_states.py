"""The daemon's tick as a state machine (Hypothesis): a fake clock, its channels (the desktop
through a recording notifier, a toy push channel named "phone" whose token rotates, the live
.ics file, and a CalDAV calendar on an in-memory server that can cut a sync off between two
requests), a source that fails, and random wakes, suspends, restarts, kills between acceptance
and record, a full disk, config edits, acknowledgements, button clicks and balance readings.
None of it is wired into the daemon by hand: the channels come through its channels_factory
and the source through sources.build, as real ones do.

After every step:
- each reminder is shown at most once per channel for the event it warns about, except in the
  documented window (killed, or restarted with the disk full, after the channel accepted it and
  before the record was written), and whatever the push channel's token;
- nothing is shown in quiet hours unless waiting for their end would be too late;
- nothing is shown that an acknowledgement made before it stops;
- after a tick with a writable disk, a channel that works and was not backing off has nothing
  due left unsent, whatever the other channels and the source do;
- the live calendar equals a fresh export at the same moment, and the CalDAV calendar holds
  every event at its current version with none taken for a user's edit, even after a cut sync.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from strategies import WINDOW_OPENS, Scenario, scenarios

import reminderd.state as state_module
from reminderd.account import AccountSource
from reminderd.actions import DONE, SNOOZE, done_action
from reminderd.caldav_channel import CalendarChannel, run_in_process
from reminderd.catchup import REARM_AFTER, snoozed, to_deliver
from reminderd.config import load_config
from reminderd.daemon import Daemon
from reminderd.errors import CalendarError, NotifyError, StateError
from reminderd.facts import AccountFacts, Facts, GrantedCredit, Money
from reminderd.forecast import Observation
from reminderd.ics import CalendarFile, events, render
from reminderd.notify import DesktopChannel, FallbackNotifier
from reminderd.quiet import quiet_period
from reminderd.rules import expiry
from reminderd.seams import ChannelError, Outgoing
from reminderd.settings import Config
from reminderd.snooze import SNOOZE_FOR
from reminderd.sources import build as REAL_SOURCES
from reminderd.state import DESKTOP, ICS_SECTION, State, read_state, update_state
from reminderd.timeline import Reminder, plan

SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # no fsync cost where there is tmpfs


class Killed(BaseException):
    """The process died right after the notification server accepted a notification."""


class Shown:
    def __init__(self, at: datetime, reminder: Reminder) -> None:
        self.at, self.reminder = at, reminder


PUSH = "push:phone"  # the machine's push channel, by its name (push.channel_id)
CALENDAR_URL = "https://calendar.example/me/reminders/"


class RecordingDaemon(Daemon):
    """The real Daemon, telling the test which reminder each desktop notification is."""

    current: Reminder | None = None

    def _deliver(self, reminder: Reminder, now: datetime, turn: Any, ends_snooze: bool = False) -> bool:
        self.current = reminder
        return super()._deliver(reminder, now, turn, ends_snooze)


class ToyPush:
    """A push channel named "phone": its id stays when its token rotates (push.py's Apprise part
    is proven against HTTP in test_push)."""

    capabilities: frozenset[str] = frozenset()
    timeout = 10.0
    id, name = PUSH, "push phone"

    def __init__(self, machine: DaemonMachine, token: int) -> None:
        self.machine, self.token = machine, token

    def deliver(self, item: Outgoing) -> str:
        m = self.machine
        if m.push_fails:
            raise ChannelError("push phone: refused")
        assert item.title == item.reminder.title_at(m.now)
        m.pushed.append(Shown(m.now, item.reminder))
        return f"{self.name} (token {self.token})"

    def publish(self, *args: Any) -> str | None:
        raise NotImplementedError

    def cancel(self) -> None:
        pass


class ToySource:
    """A source of the plan's quota that fails while the machine says so (a reader meeting a
    file it cannot make sense of)."""

    name, field, every = "toy source", "quota", timedelta(minutes=1)

    def __init__(self, machine: DaemonMachine) -> None:
        self.machine = machine

    def refresh(self, config: Config, state_dir: Path, now: datetime, deadline: float) -> Any:
        if self.machine.source_fails:
            raise OverflowError("date value out of range")
        return ()


class ToyAccount:
    """The account as a source: what the machine last made it say (its switch and what is left)."""

    name, field, every = "toy account", "account", timedelta(minutes=1)

    def __init__(self, machine: DaemonMachine) -> None:
        self.machine = machine

    def refresh(self, config: Config, state_dir: Path, now: datetime, deadline: float) -> Any:
        return self.machine.account

    keep = staticmethod(AccountSource.keep)  # as the real source: what it said, kept in the state


class FakeCalendar:
    """A CalDAV collection in memory, with conditional writes, that cuts off a sync after
    `cut_after` more requests (a network gone between two requests)."""

    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, bytes]] = {}
        self.cut_after: int | None = None
        self.was_cut = False  # a sync was cut off since the machine last cleared this
        self.etags = 0

    def session(self, url: str, username: str | None, password: str | None) -> Any:
        calendar = self

        class Session:
            collection, counts = url, {"requests": 0}

            def request(self) -> None:
                self.counts["requests"] += 1
                if calendar.cut_after is not None:
                    if calendar.cut_after <= 0:
                        calendar.was_cut = True
                        raise CalendarError(f"{url}: cannot reach the calendar server: cut off")
                    calendar.cut_after -= 1

            def listing(self) -> dict[str, str]:
                self.request()
                return {href: etag for href, (etag, _) in calendar.resources.items()}

            def put(self, href: str, body: bytes, etag: str | None) -> tuple[int, str | None]:
                self.request()
                held = calendar.resources.get(href)
                if (etag is None and held is not None) or (etag is not None and (held is None or held[0] != etag)):
                    return 412, None
                calendar.etags += 1
                calendar.resources[href] = (f'"{calendar.etags}"', body)
                return 201, f'"{calendar.etags}"'

            def get(self, href: str) -> bytes | None:
                self.request()
                held = calendar.resources.get(href)
                return held[1] if held is not None else None

            def delete(self, href: str, etag: str) -> int:
                self.request()
                held = calendar.resources.get(href)
                if held is None:
                    return 404
                if held[0] != etag:
                    return 412
                del calendar.resources[href]
                return 204

        return Session()


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
        # (credit id, action) -> when acknowledged; credit "*": the account's switch, for every credit
        self.acks: dict[tuple[str, str], datetime] = {}
        self.snoozed_at: dict[str, list[datetime]] = {}  # reminder id -> when its notification was snoozed
        self.notifier_fails = False
        self.push_fails = False
        self.source_fails = False
        self.kill_next = False
        self.disk_full = False
        self.token = 1
        self.calendar = FakeCalendar()
        self.ready_before: set[str] = set()  # the channels not backing off when the tick began
        self.calendar_lost: set[str] = set()  # events written while the disk was full, the process then gone
        self.account: AccountFacts | None = None  # what the account says (the toy account source)

    def teardown(self) -> None:
        import reminderd.sources

        reminderd.sources.build = REAL_SOURCES  # type: ignore[assignment]
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- set-up --------------------------------------------------------------------------------

    @initialize(scenario=scenarios(), start=st.integers(-3 * 24, 20 * 24), disk_full=st.booleans(),
                push_fails=st.booleans())
    def setup(self, scenario: Scenario, start: int, disk_full: bool, push_fails: bool) -> None:
        self.disk_full, self.push_fails = disk_full, push_fails
        self.config_path.write_text(f'ics_path = "{self.live}"\n' + scenario.text
                                    + f'[calendar]\ncaldav_url = "{CALENDAR_URL}"\n')
        self.now = (scenario.claimed_at or WINDOW_OPENS) + timedelta(hours=start)
        self.daemon = self.new_daemon()
        self.tick()

    def new_daemon(self) -> RecordingDaemon:
        import reminderd.sources

        reminderd.sources.build = lambda config: [ToySource(self), ToyAccount(self)]  # type: ignore[assignment]
        daemon = RecordingDaemon(self.config_path, self.state_path, self.dir / "lock", lambda: self.now,
                                 notifier_factory=lambda c: FallbackNotifier(
                                     [Recorder(self, "recorder", self.shown, "notifier_fails", killable=True)]),
                                 channels_factory=self.channels)
        return daemon

    def channels(self, config: Config) -> tuple[list[Any], list[str]]:
        """What channels.build() makes of the machine's config, with a toy push channel and the
        calendar on the in-memory server."""
        assert config.ics_path is not None and config.calendar is not None
        desktop = DesktopChannel(lambda: self.daemon.notifier_factory(config))
        calendar = CalendarChannel(config.calendar, runner=run_in_process(self.calendar.session))
        return [desktop, ToyPush(self, self.token), CalendarFile(config.ics_path), calendar], []

    def lose_pending(self) -> None:
        """Records kept only in memory are lost with the process: each may come once more, and
        a calendar event written meanwhile may later be taken for the user's (the same window)."""
        self.may_repeat.update((record.delivery.channel, record.reminder_id) for record in self.daemon.pending)
        for turn in self.daemon.channels or ():
            held = getattr(turn.seam, "held", None)
            if held:
                self.calendar_lost.update(held)
        account = next(t for t in self.daemon.sourcing.turns if t.seam.field == "account")
        if account.kept != self.daemon.facts.account:  # the switch as read, not yet written
            self.acks.pop(("*", "extra-usage-off"), None)

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

    @rule()
    def rotate_the_push_token(self) -> None:
        """A new token under the same name: the channel is built anew, and re-sends nothing."""
        self.token += 1
        self.daemon.rebuild_at = self.now
        self.tick()

    @rule(fails=st.booleans())
    def source_works_or_not(self, fails: bool) -> None:
        self.source_fails = fails

    @rule(on=st.booleans(), left=st.floats(0, 60).map(lambda x: round(x, 2)))
    def the_account_says(self, on: bool, left: float) -> None:
        """The account is read: usage credits on or off, and what is left of the credit (a granted
        credit expiring when reminderd computes it does). Off acknowledges the reminders to turn it
        off; on again takes back an acknowledgement made before."""
        config = load_config(self.config_path)
        claimed = config.credits[0].claimed_at
        expires = expiry(config.credits[0].offer, claimed) if claimed is not None else None
        credits = (GrantedCredit(Money(round(left * 100), "USD"), expires),) if expires is not None else ()
        self.account = AccountFacts(self.now, on, credits=credits)
        for key in [k for k in self.acks if k[1] == "extra-usage-off"] if on else [("*", "extra-usage-off")]:
            if on and self.acks[key] < self.now:
                del self.acks[key]
            elif not on:
                self.acks.setdefault(key, self.now)
        self.now += ToyAccount.every  # its turn comes
        self.tick()
        if not self.disk_full and credits and claimed is not None and claimed < self.account.read_at < expires:
            from reminderd.matching import RECORD_AGAIN_AFTER

            kept = [o for o in read_state(self.state_path).state.observations.get("c", ()) if o.source == "account"]
            assert kept and kept[-1].remaining_usd == left and \
                self.account.read_at - RECORD_AGAIN_AFTER < kept[-1].at <= self.account.read_at, \
                f"the account's figure ({left}) was not kept as a reading: {kept[-1:]}"

    @rule(after=st.integers(0, 12))
    def cut_the_next_sync_off(self, after: int) -> None:
        """The network goes away after `after` more requests to the calendar server."""
        self.calendar.cut_after = after
        self.now += timedelta(minutes=1)
        self.tick()
        self.calendar.cut_after = None

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
        self.acks.setdefault(("c", action), self.now)
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
                self.acks.setdefault((reminder.credit_id, action), self.now)
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
        self.calendar.was_cut = False
        try:
            self.ready_before = {turn.seam.id for turn in self.daemon.channels or () if turn.backoff.ready(self.now)}
            if self.daemon.channels is None:
                self.ready_before = {DESKTOP, PUSH, "ics", "caldav"}
            try:
                self.daemon.refresh_sources()  # its job, beside the ticks
                self.daemon.tick("test")
            except Killed:  # it died; records only in its memory are lost; the supervisor restarts it
                self.lose_pending()
                self.daemon = self.new_daemon()
                self.daemon.tick("start")
            self.daemon.publish_timeline()  # its job, after the tick
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
            for (credit_id, action), at in self.acks.items():
                assert not (credit_id in ("*", r.credit_id) and action in r.stops_on and at <= shown.at), \
                    f"{r.id} sent after {action} ({credit_id})"

    def check_nothing_left_behind(self) -> None:
        """Each channel that works has everything due, whatever the other one does."""
        if self.disk_full:
            return
        config = load_config(self.config_path)
        state = read_state(self.state_path).state
        facts = self.daemon.facts  # what the sources last said: the input, as the daemon knows it
        timeline = plan(config, state, self.now, facts)
        ready = {self._kind(channel) for channel in self.ready_before}
        if not self.push_fails and PUSH in ready:
            assert to_deliver(timeline, state, PUSH) == [], "something due was not pushed"
        if not self.notifier_fails and DESKTOP in ready:
            assert to_deliver(timeline, state) == [], "something due was not sent"
            assert snoozed(timeline, state) == ([], []), "a snooze that ended was not acted on"
        if "ics" in ready:
            assert _without_stamps(self.live.read_bytes()) == fresh_export(config, state, self.now, facts)
        if "caldav" in ready:  # complete once a sync was not cut off: at the next one after a cut (review M3)
            self.check_the_calendar_server(config, state, facts, complete=not self.calendar.was_cut)

    @staticmethod
    def _kind(channel: str) -> str:
        return channel.partition(":")[0] if channel.startswith(("ics:", "caldav:")) else channel

    def check_the_calendar_server(self, config: Config, state: State, facts: Facts, complete: bool) -> None:
        """Every event it should hold is there at its current version (when `complete`), each the
        resource reminderd recorded (none taken for a user's edit after a cut sync: review M3)."""
        from reminderd.caldav_channel import wanted_versions

        wanted = wanted_versions(config, self.state_path, self.now, facts=facts)[0]
        synced = state.extra.get("caldav", {}).get(CALENDAR_URL, {})
        for uid, version in wanted.items():
            if uid in self.calendar_lost:
                continue  # the documented window: written, and its record lost with the process
            if not complete and uid not in synced:
                continue
            if complete:
                assert uid in synced and synced[uid]["synced"] == version, f"{uid} not synced at {version}"
            held = self.calendar.resources.get(synced[uid]["href"])
            assert held is not None and held[0] == synced[uid]["etag"], f"{uid}: the server holds another version"


_RENDERED: dict[str, list[bytes]] = {}


def fresh_export(config: Config, state: State, now: datetime, facts: Facts) -> list[bytes]:
    """What `export-ics` would write now, without DTSTAMP (memoized: icalendar renders slowly)."""
    namespace = uuid.UUID(state.extra["installation"]["namespace"])
    current = events(plan(config, state, now, facts), namespace)
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

