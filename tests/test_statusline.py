"""`reminderd statusline`: the contract with Claude Code's status line, through the installed console
script (what Claude Code runs): the documented input and empty, truncated, huge and hostile ones;
one line or nothing, exit 0, nothing on stderr; and what it records of the plan's quota."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import GOLDEN, la, make_config

from reminderd import quota_record
from reminderd.facts import AccountFacts, Facts
from reminderd.quota import Limit, QuotaSample
from reminderd.state import State
from reminderd.statusline import render, short_span
from reminderd.summary import summarize
from reminderd.summary_file import write_summary
from reminderd.timeline import plan

SCRIPT = str(Path(sys.executable).parent / "reminderd")
CREDIT = '[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\nclaimed_at = 2026-02-06T09:30:00\n'
USAGE = "[credit.usage]\ndaily_spend_usd = 0.5\n"
EXPIRES = la(2026, 4, 7, 9, 30)
TOMORROW = la(2026, 4, 6, 10, 0)
THREE_DAYS = la(2026, 4, 4, 9, 0)  # no urgent reminder: the 7-day one is not urgent
INPUT = (GOLDEN / "claude_code_statusline_input.json").read_bytes()
Run = Callable[..., subprocess.CompletedProcess[bytes]]


def write(state: Path, now: datetime, body: str = USAGE, acknowledged: bool = False, on: bool = True,
          credit: str = CREDIT) -> None:
    config = make_config(body, credit=credit)
    known = State().with_acknowledged("c", "extra-usage-off", now - timedelta(days=1)) if acknowledged else State()
    facts = Facts(account=AccountFacts(read_at=now - timedelta(hours=1), usage_credits_on=True)) if on else Facts()
    assert write_summary(state, plan(config, known, now, facts), known, now) is None


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """The console script with a private state dir and a pinned clock."""
    def go(*args: str, stdin: bytes = INPUT, now: datetime = TOMORROW, env: dict[str, str] | None = None,
           timeout: float = 10) -> subprocess.CompletedProcess[bytes]:
        environ = {"PATH": os.environ.get("PATH", ""), "REMINDERD_STATE_DIR": str(tmp_path / "state"),
                   "REMINDERD_NOW": now.isoformat(), "LANG": "C.UTF-8", **(env or {})}
        return subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, env=environ, timeout=timeout)
    return go


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def line_of(done: subprocess.CompletedProcess[bytes]) -> str:
    assert (done.returncode, done.stderr) == (0, b"")
    text = done.stdout.decode()
    assert text.count("\n") <= 1 and (text == "" or text.endswith("\n"))
    return text.rstrip("\n")


def test_a_credit_with_days_left(run: Run, state: Path) -> None:
    write(state, THREE_DAYS)
    assert line_of(run("statusline", now=THREE_DAYS)) == "credit USD 21 left · expires in 3 d · usage credits on"


def test_a_credit_expiring_tomorrow_shows_the_reminder_in_red_only_with_color(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    words = "Claude usage credit expires in 23 hours 30 minutes: turn usage credits off"
    assert line_of(run("statusline")) == words
    assert line_of(run("statusline", "--color")) == f"\x1b[1;31m{words}\x1b[0m"
    assert line_of(run("statusline", "--color", env={"NO_COLOR": "1"})) == words
    later = TOMORROW + timedelta(hours=5)  # the words say the time left at the moment, not the summary's
    assert line_of(run("statusline", now=later)) == words.replace("23 hours 30 minutes", "18 hours 30 minutes")


def test_an_acknowledged_credit_shows_its_standing_not_a_warning(run: Run, state: Path) -> None:
    write(state, TOMORROW, acknowledged=True, on=False)
    assert line_of(run("statusline")) == "credit USD 20 left · expires in 23 h · usage credits off"


def test_nothing_when_no_credit_is_live_and_not_ready_without_a_summary(run: Run, state: Path) -> None:
    assert line_of(run("statusline")) == "reminderd: summary not ready"
    write(state, la(2026, 6, 1), on=False)  # expired two months ago
    assert line_of(run("statusline", now=la(2026, 6, 1))) == ""
    assert line_of(run("statusline", now=la(2026, 6, 2, 1))) == "reminderd: summary not ready"  # a day old


def test_the_width_comes_from_columns(run: Run, state: Path) -> None:
    write(state, THREE_DAYS)
    assert line_of(run("statusline", now=THREE_DAYS, env={"COLUMNS": "20"})) == "credit USD 21 left …"
    assert line_of(run("statusline", now=THREE_DAYS, env={"COLUMNS": "junk"})).endswith("usage credits on")


@pytest.mark.parametrize("stdin", [
    b"", b"{", INPUT[: len(INPUT) // 2], b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe garbage", b"null", b"[]",
    b'"a string"', b'{"rate_limits": {"five_hour": {"used_percentage": NaN, "resets_at": 1e400}}}',
    b'{"rate_limits": {"five_hour": {"used_percentage": true, "resets_at": "soon"}, "seven_day": []}}',
    b'{"rate_limits": "\\u001b[2J"}', b"\x1b[2J\x1b]0;title\x07", b" " * (2 << 20),
    b'{"a": "' + b"x" * (3 << 20) + b'"}',
], ids=["empty", "brace", "truncated", "deep", "not-utf8", "null", "array", "string", "nan", "wrong-types",
        "escape", "terminal-codes", "2mb-spaces", "3mb-json"])
def test_bad_input_never_breaks_the_line(run: Run, state: Path, stdin: bytes) -> None:
    write(state, THREE_DAYS)
    assert line_of(run("statusline", stdin=stdin, now=THREE_DAYS)) == \
        "credit USD 21 left · expires in 3 d · usage credits on"
    assert not (state / quota_record.NAME).exists()  # nothing it could read is recorded


def test_a_writer_that_never_closes_stdin_does_not_hold_the_line(state: Path) -> None:
    write(state, THREE_DAYS)
    environ = {"PATH": os.environ.get("PATH", ""), "REMINDERD_STATE_DIR": str(state),
               "REMINDERD_NOW": THREE_DAYS.isoformat()}
    start = time.monotonic()
    with subprocess.Popen([SCRIPT, "statusline"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=environ) as process:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(b'{"model": ')
        process.stdin.flush()  # and it stays open
        process.wait(timeout=5)
        out, err = process.stdout.read(), process.stderr.read()
    assert time.monotonic() - start < 5 and process.returncode == 0 and err == b""
    assert out.decode() == "credit USD 21 left · expires in 3 d · usage credits on\n"


def test_ctrl_c_and_a_closed_pipe_end_it_quietly_with_0(state: Path) -> None:
    write(state, THREE_DAYS)
    environ = {"PATH": os.environ.get("PATH", ""), "REMINDERD_STATE_DIR": str(state)}
    with subprocess.Popen([SCRIPT, "statusline"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=environ) as process:
        time.sleep(0.3)  # it waits for its input
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert (process.returncode, err) == (0, b"")
    read, write_end = os.pipe()
    os.close(read)  # nobody reads the line
    done = subprocess.run([SCRIPT, "statusline"], input=INPUT, stdout=write_end, stderr=subprocess.PIPE,
                          env=environ | {"REMINDERD_NOW": THREE_DAYS.isoformat()}, timeout=10)
    os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")


@pytest.mark.parametrize("command", ["statusline", "hook"])
def test_it_never_imports_click_config_or_zone_tables(run: Run, state: Path, command: str) -> None:
    write(state, TOMORROW)
    stdin = b'{"hook_event_name": "SessionStart"}' if command == "hook" else INPUT
    done = run(command, stdin=stdin, env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.decode().splitlines()}
    assert f"reminderd.{command}" in imported
    assert not imported & {"click", "tomllib", "zoneinfo", "platformdirs", "reminderd.config", "reminderd.timeline",
                           "typing", "json"}


# -- the plan's quota, recorded --------------------------------------------------------------------


def limits(five: float | None, seven: float | None, resets: datetime) -> bytes:
    document = json.loads(INPUT)
    document["rate_limits"] = {name: {"used_percentage": used, "resets_at": int(resets.timestamp())}
                               for name, used in (("five_hour", five), ("seven_day", seven)) if used is not None}
    return json.dumps(document).encode()


def test_it_records_both_limits_and_tells_unknown_apart(run: Run, state: Path) -> None:
    write(state, THREE_DAYS)
    resets = THREE_DAYS + timedelta(hours=2)
    line = line_of(run("statusline", stdin=limits(100, None, resets), now=THREE_DAYS))
    assert line == "plan limit reached: usage credits pay for 2 h · credit USD 21 left · expires in 3 d · " \
                   "usage credits on"
    assert quota_record.load_samples(state) == (QuotaSample(THREE_DAYS, Limit(100, resets), None),)
    os.utime(state / quota_record.NAME, (time.time() - 61, time.time() - 61))
    line_of(run("statusline", stdin=limits(None, 40, resets), now=THREE_DAYS + timedelta(minutes=1)))
    assert quota_record.load_samples(state)[-1] == \
        QuotaSample(THREE_DAYS + timedelta(minutes=1), None, Limit(40, resets))


def test_at_most_one_record_a_minute(run: Run, state: Path) -> None:
    resets = THREE_DAYS + timedelta(hours=2)
    line_of(run("statusline", stdin=limits(10, 20, resets), now=THREE_DAYS))
    line_of(run("statusline", stdin=limits(100, 20, resets), now=THREE_DAYS + timedelta(seconds=30)))
    assert len(quota_record.load_samples(state)) == 1
    os.utime(state / quota_record.NAME, (time.time() - 61, time.time() - 61))
    line_of(run("statusline", stdin=limits(100, 20, resets), now=THREE_DAYS + timedelta(seconds=90)))
    assert [s.five_hour.used_percent for s in quota_record.load_samples(state)] == [10, 100]  # type: ignore[union-attr]


def test_pruning_keeps_what_the_history_proves() -> None:
    from reminderd.quota import history

    base = 1_800_000_000.0
    reset = base + 4 * 3600
    rows = [(base + 60 * k, float(10 + k), reset, 50.0, base + 86400) for k in range(30)]  # below 100 %, rising
    rows += [(base + 3600 + 60 * k, 100.0, reset, 50.0, base + 86400) for k in range(30)]  # at 100 % until reset
    rows += [(base - 500 * 86400, 10.0, base - 499 * 86400, None, None)]  # long ago
    kept = quota_record.pruned(rows, base + 7200)
    assert len(kept) < 5

    def samples(rs: list[quota_record.Row]) -> list[QuotaSample]:
        from datetime import UTC

        def lim(u: float | None, r: float | None) -> Limit | None:
            return None if u is None or r is None else Limit(u, datetime.fromtimestamp(r, UTC))
        return [QuotaSample(datetime.fromtimestamp(r[0], UTC), lim(r[1], r[2]), lim(r[3], r[4])) for r in rs]

    now = datetime.fromtimestamp(base + 7200, tz=la(2026, 1, 1).tzinfo)
    recent = [r for r in rows if r[0] > base - 86400]
    assert history(samples(kept), now) == history(samples(recent), now)


def test_short_spans() -> None:
    assert [short_span(timedelta(seconds=s)) for s in (30, 600, 3 * 3600 + 59, 86400, 86400 + 4 * 3600,
                                                        3 * 86400 + 5)] == \
        ["<1 min", "10 min", "3 h", "1 d", "1 d 4 h", "3 d"]


def test_a_claimable_credit_and_several_credits() -> None:
    now = la(2026, 2, 15, 12, 0)
    config = make_config(credit='[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n')
    document = summarize(plan(config, State(), now), State(), now) | {"written_at": now.isoformat()}
    document["reminders"] = []
    assert render(document, {}, now, False, None) == "USD 50 credit to claim · claim closes in 1 d 11 h"
    second = dict(document["credits"][0], id="d")
    document["credits"].append(second)
    assert render(document, {}, now, False, None).startswith("USD 50 c to claim")
