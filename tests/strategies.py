"""Hypothesis strategies for configs, states and moments, shared by the property, stateful and fuzz tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

from hypothesis import strategies as st

from reminderd.forecast import Observation
from reminderd.prices import Tokens
from reminderd.spend import LoggedUsage
from reminderd.state import State

# Zones with half-hour and 45-minute offsets, DST in the southern hemisphere, a 30-minute DST
# shift (Lord Howe), none at all, and the offer's own.
ZONES = ("America/Los_Angeles", "Asia/Kolkata", "Australia/Adelaide", "Australia/Lord_Howe", "America/St_Johns",
         "Pacific/Chatham", "Asia/Kathmandu", "Europe/London", "America/Santiago", "Pacific/Auckland", "UTC",
         "Asia/Tokyo")
WINDOW_OPENS = datetime(2026, 2, 5, 18, 0, tzinfo=UTC)  # 10:00 PST
WINDOW_CLOSES = datetime(2026, 2, 17, 7, 59, 59, tzinfo=UTC)  # 23:59:59 PST


class Scenario(NamedTuple):
    text: str  # the config file
    claimed_at: datetime | None
    quiet: tuple[time, time] | None
    has_profile: bool
    reads_logs: bool = False


def clock_times() -> st.SearchStrategy[time]:
    return st.builds(time, st.integers(0, 23), st.integers(0, 59))


def quiet_hours() -> st.SearchStrategy[tuple[time, time] | None]:
    # crossing midnight or not, one minute long or 23 h 59 min
    return st.none() | st.tuples(clock_times(), clock_times()).filter(lambda p: p[0] != p[1])


def leads() -> st.SearchStrategy[list[str]]:
    lead = st.one_of(st.integers(1, 20).map(lambda d: f"{d}d"), st.integers(1, 47).map(lambda h: f"{h}h"),
                     st.integers(1, 600).map(lambda m: f"{m}m"),
                     st.tuples(st.integers(1, 3), st.integers(1, 23)).map(lambda p: f"{p[0]}d{p[1]}h"))
    return st.lists(lead, min_size=0, max_size=4)


def claims() -> st.SearchStrategy[datetime]:
    """Claim instants across the window and just outside it, at any second."""
    return st.integers(-3 * 86400, 15 * 86400).map(lambda s: (WINDOW_OPENS + timedelta(seconds=s)).replace(
        microsecond=0))


def _toml_time(t: time) -> str:
    return f'"{t:%H:%M}"'


@st.composite
def scenarios(draw: st.DrawFn, claimed: bool | None = None, logs: bool | None = None) -> Scenario:
    zone = draw(st.sampled_from(ZONES))
    claim = draw(claims()) if (claimed if claimed is not None else draw(st.booleans())) else None
    quiet = draw(quiet_hours())
    daily = draw(st.none() | st.floats(0, 12, allow_nan=False).map(lambda x: round(x, 2)))
    chats = draw(st.none() | st.integers(0, 60))
    sessions = draw(st.none() | st.floats(0, 4).map(lambda x: round(x, 1)))
    uncertainty = draw(st.sampled_from([0, 0.1, 0.2, 0.5]))
    lines = [f'timezone = "{zone}"', "[[credit]]", 'id = "c"', 'plan = "pro"', "subscribed_at = 2025-09-01"]
    if claim is not None:
        lines.append(f"claimed_at = {claim.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    auto_reload = draw(st.sampled_from(["true", "false", '"unknown"']))
    lines.append(f"auto_reload = {auto_reload}")
    reads_logs = draw(st.booleans()) if logs is None else logs
    lines += ["[credit.usage]", f"uncertainty = {uncertainty}"] + (["claude_code_logs = true"] if reads_logs else [])
    if daily is not None:
        lines.append(f"daily_spend_usd = {daily}")
    per_day = {k: v for k, v in (("chat_rounds", chats), ("claude_code_sessions", sessions)) if v is not None}
    if per_day:
        lines.append("[credit.usage.per_day]")
        lines += [f"{k} = {v}" for k, v in per_day.items()]
    lines += ["[reminders]",
              f"claim_deadline = {draw(leads())!r}".replace("'", '"'),
              f"expiry = {draw(leads())!r}".replace("'", '"'),
              f"unused_credit = {draw(leads())!r}".replace("'", '"'),
              f"low_balance_usd = {draw(st.sampled_from([0, 5, 10, 25]))}",
              f"unused_min_usd = {draw(st.sampled_from([0, 0.5, 1, 5]))}",
              f"usage_check_every_days = {draw(st.sampled_from([0, 1, 3, 7]))}",
              f"usage_check_time = {_toml_time(draw(clock_times()))}"]
    if quiet is not None:
        lines += ["[quiet_hours]", f"start = {_toml_time(quiet[0])}", f"end = {_toml_time(quiet[1])}"]
    has_profile = daily is not None or bool(per_day)
    return Scenario("\n".join(lines) + "\n", claim, quiet, has_profile, reads_logs)


@st.composite
def readings(draw: st.DrawFn, around: datetime) -> tuple[Observation, ...]:
    """Balance readings from before the claim to after expiry: rises, drops, equal instants."""
    hours = draw(st.lists(st.integers(-48, 70 * 24), max_size=6))
    out = []
    for h in hours:
        at = around + timedelta(hours=h, minutes=draw(st.sampled_from([0, 0, 1, 30])))
        out.append(Observation(at, draw(st.floats(0, 80).map(lambda x: round(x, 2)))))
        if draw(st.booleans()) and draw(st.booleans()):  # the same instant once more, another offset
            out.append(Observation(at.astimezone(UTC) + timedelta(0), draw(st.floats(0, 80))))
    return tuple(out)


MODELS = ("claude-opus-4-6", "claude-opus-4-6@fast", "claude-haiku-4-5", "claude-mystery-9")


@st.composite
def logged_usage(draw: st.DrawFn, around: datetime, heavy: bool = False) -> LoggedUsage:
    """A ledger: use in hours around `around` (from quiet to far over any credit), scanned at
    some moment (before or after the plan's `now`); `heavy`: at least one hour of USD 50 or more."""
    hours: dict[str, dict[str, Tokens]] = {}
    if heavy:
        hour = (around + timedelta(hours=draw(st.integers(0, 40 * 24)))).astimezone(UTC)
        hours[f"{hour:%Y-%m-%dT%H}"] = {"claude-opus-4-6": Tokens(output=draw(st.integers(2_000_000, 4_000_000)))}
    for offset in draw(st.lists(st.integers(-48, 70 * 24), max_size=12)):
        hour = (around + timedelta(hours=offset)).astimezone(UTC)
        model = draw(st.sampled_from(MODELS))
        tokens = Tokens(output=draw(st.integers(0, 2_000_000)), cache_read=draw(st.integers(0, 5_000_000)))
        hours.setdefault(f"{hour:%Y-%m-%dT%H}", {})[model] = tokens
    scanned = around + timedelta(hours=draw(st.integers(-24, 80 * 24)))
    return LoggedUsage(hours, {}, draw(st.integers(0, 3)), scanned)


def state_with(observations: tuple[Observation, ...], acks: dict[str, datetime] | None = None) -> State:
    state = State()
    for o in observations:
        state = state.with_observation("c", o)
    for action, at in (acks or {}).items():
        state = state.with_acknowledged("c", action, at)
    return state
