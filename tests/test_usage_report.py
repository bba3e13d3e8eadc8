"""`reminderd usage`: the range of days (any two of --since, --until, --days, as ccusage reads
them) and the total since the claim, which ends at the credit's expiry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from reminderd.errors import UsageError
from reminderd.usage_report import DEFAULT_DAYS, day_range

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize("since,until,days,expected", [
    (None, None, None, (date(2026, 11, 23), TODAY)),  # the last 14 days
    (None, None, 3, (date(2026, 12, 4), TODAY)),  # --days alone counts back from today
    (date(2026, 2, 5), None, 45, (date(2026, 2, 5), date(2026, 3, 21))),  # newuser 6: it printed 305 days
    (date(2026, 2, 5), date(2026, 2, 7), None, (date(2026, 2, 5), date(2026, 2, 7))),
    (None, date(2026, 2, 7), 3, (date(2026, 2, 5), date(2026, 2, 7))),
    (None, date(2026, 2, 7), None, (date(2026, 1, 25), date(2026, 2, 7))),
    (date(2026, 2, 5), None, None, (date(2026, 2, 5), TODAY)),  # --since alone runs to today
    (date(2026, 12, 1), None, 30, (date(2026, 12, 1), TODAY)),  # never past today
])
def test_ranges_by_hand(since: date | None, until: date | None, days: int | None, expected: tuple[date, date]) -> None:
    assert day_range(TODAY, since, until, days) == expected


@pytest.mark.parametrize("since,until,days,message", [
    (date(2026, 2, 5), date(2026, 2, 7), 3, "--days: expected at most two of --since, --until and --days"),
    (date(2026, 2, 8), date(2026, 2, 7), None, "--since: expected a day no later than --until (2026-02-07)"),
    (date(2026, 12, 7), None, None, "--since: expected a day no later than today (2026-12-06)"),
    (None, date(2026, 12, 7), None, "--until: expected a day no later than today (2026-12-06)"),
])
def test_impossible_ranges_say_which_option(since: date | None, until: date | None, days: int | None,
                                            message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        day_range(TODAY, since, until, days)


days_ = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1))


@given(days_, st.none() | days_, st.none() | days_, st.none() | st.integers(1, 400))
def test_any_two_define_the_range(today: date, since: date | None, until: date | None, days: int | None) -> None:
    try:
        first, last = day_range(today, since, until, days)
    except UsageError:
        return
    assert first <= last <= today
    if since is not None:
        assert first == since
    if until is not None:
        assert last == until
    if days is not None and last < today:
        assert (last - first).days + 1 == days
    if since is None and days is None:
        assert (last - first).days + 1 == DEFAULT_DAYS


# -- the command, on transcripts written here -----------------------------------------------------

def _line(msg: str, at: str, out: int) -> str:
    """One Claude Code response of Opus 4.6: `out` output tokens at USD 25 per million."""
    return json.dumps({"type": "assistant", "timestamp": at, "requestId": f"req_{msg}", "message": {
        "id": msg, "model": "claude-opus-4-6", "usage": {"input_tokens": 0, "output_tokens": out}}})


@pytest.fixture
def logs_config(tmp_path: Path, write_config: Callable[[str], Path]) -> Path:
    projects = tmp_path / "claude" / "projects" / "p"
    projects.mkdir(parents=True)
    (projects / "a.jsonl").write_text("\n".join([
        _line("m1", "2026-02-08T10:00:00Z", 40_000),  # 1.00
        _line("m2", "2026-02-09T10:00:00Z", 80_000),  # 2.00
        _line("m3", "2026-04-06T10:00:00Z", 40_000),  # 1.00, the day before the expiry
        _line("m4", "2026-04-20T10:00:00Z", 400_000),  # 10.00, after the credit expired
    ]) + "\n")
    return write_config(f'timezone = "UTC"\n[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n'
                        f'claimed_at = 2026-02-06T09:30:00Z\n[credit.usage]\nclaude_code_logs = true\n'
                        f'claude_code_dirs = ["{tmp_path / "claude"}"]\n')


def test_since_with_days_and_until(cli: Callable[..., Result], logs_config: Path) -> None:
    with freeze_time("2026-05-01T12:00:00Z"):
        window = json.loads(cli("--config", str(logs_config), "usage", "--json", "--since", "2026-02-08",
                                "--days", "2").stdout)
        until = json.loads(cli("--config", str(logs_config), "usage", "--json", "--until", "2026-02-09",
                               "--days", "3").stdout)
        both = cli("--config", str(logs_config), "usage", "--since", "2026-02-08", "--until", "2026-02-09")
    assert [(d["date"], d["usd"]) for d in window["days"]] == [("2026-02-08", 1.0), ("2026-02-09", 2.0)]
    assert [(d["date"], d["usd"]) for d in until["days"]] == [("2026-02-07", 0.0), ("2026-02-08", 1.0),
                                                              ("2026-02-09", 2.0)]
    assert both.exit_code == 0 and "Shown           USD     3.00  (2026-02-08 to 2026-02-09)" in both.stdout


def test_since_the_claim_stops_at_the_expiry(cli: Callable[..., Result], logs_config: Path) -> None:
    # newuser 6: "Since claim USD 56.87" on a USD 50 credit, counting months after it expired
    with freeze_time("2026-05-01T12:00:00Z"):
        data = json.loads(cli("--config", str(logs_config), "usage", "--json").stdout)
        text = cli("--config", str(logs_config), "usage").stdout
    assert data["since_claim_usd"] == 4.0 and data["expired_at"] == "2026-04-07T08:30:00+00:00"
    assert "Since claim     USD     4.00  (from the day of the claim, Fri 2026-02-06 09:30 UTC, to the day of " \
           "its expiry, Tue 2026-04-07 08:30 UTC)" in text
    with freeze_time("2026-03-01T12:00:00Z"):  # before the expiry: every day up to today
        assert json.loads(cli("--config", str(logs_config), "usage", "--json").stdout)["expired_at"] is None


def test_the_ledgers_warnings_name_a_few_files_and_what_waits() -> None:
    from reminderd.spend import LoggedUsage
    from reminderd.usage_report import ledger_warnings

    skipped_in = {f"/t/{i}.jsonl": {"too-long": 1} for i in range(5)} | {"/t/9.jsonl": {"malformed": 2}}
    ledger = LoggedUsage({}, {"too-long": 5, "malformed": 2}, 6, None, skipped_in, pending=4)
    assert ledger_warnings(ledger, (Path("/r"),)) == [
        "2 line(s) skipped as malformed (truncated, not JSON, not UTF-8, or a value out of range) in /t/9.jsonl (2)",
        "5 line(s) skipped as longer than 64 MiB in /t/0.jsonl (1), /t/1.jsonl (1), /t/2.jsonl (1) "
        "and 2 other file(s)",
        "4 transcript(s) not read yet: the ledger is still being brought up to date",
    ]


def test_every_reason_the_ledger_names_a_file_for_has_its_words() -> None:
    """ledger.PROBLEMS and usage_report.SKIPPED list the same reasons: a new one needs both."""
    from reminderd.ledger import PROBLEMS
    from reminderd.usage_report import SKIPPED

    assert set(SKIPPED) == set(PROBLEMS)
