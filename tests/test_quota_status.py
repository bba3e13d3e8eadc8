"""What the status line recorded of the plan's quota, in `status` and `usage`: the plan limit reached,
and the logged cost of an hour the plan paid left out of what counts against the credit; and
`status` keeping the summary for Claude Code current."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from freezegun import freeze_time
from test_usage_logs import LOGS_CONFIG, line

from reminderd import quota_record, summary_file

NOW = "2026-02-10T12:00:00Z"
H = 3600


def at(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp())


def record(state: Path, *rows: list[object]) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / quota_record.NAME).write_text(json.dumps({"schema_version": 1, "samples": [list(r) for r in rows]}))


BELOW = [at("2026-02-09T11:00:00+00:00"), 30, at("2026-02-09T14:00:00+00:00"), 20, at("2026-02-14T09:00:00+00:00")]
FULL = [at("2026-02-10T10:00:00+00:00"), 100, at("2026-02-10T14:00:00+00:00"), 25, at("2026-02-14T09:00:00+00:00")]


@pytest.fixture
def logs_config(tmp_path: Path, write_config: Callable[[str], Path]) -> Path:
    root = tmp_path / "claude"
    (root / "projects" / "p").mkdir(parents=True)
    (root / "projects" / "p" / "a.jsonl").write_text("".join(text + "\n" for text in (
        line("m1", at="2026-02-08T10:00:00Z", out=40_000),  # 1.00
        line("m2", at="2026-02-09T10:00:00Z", out=80_000),  # 2.00, in an hour the plan paid
        line("m3", at="2026-02-09T11:00:00Z", model="claude-haiku-4-5", out=100_000),  # 0.50
        line("m4", at="2026-02-10T10:00:00Z", out=120_000))))  # 3.00, at the 5-hour limit
    return write_config(LOGS_CONFIG.format(root=root))


def test_the_hour_the_plan_paid_is_left_out_and_the_limit_shows(cli, logs_config: Path,  # type: ignore[no-untyped-def]
                                                                 state_dir: Path) -> None:
    with freeze_time(NOW):
        unknown = json.loads(cli("--config", str(logs_config), "status", "--json").stdout)
    assert unknown["credits"][0]["forecast"]["logged"]["counted_usd"] == 6.5  # unknown hours all count
    assert unknown["plan_limit"] is None
    record(state_dir, BELOW, FULL)
    with freeze_time(NOW):
        known = json.loads(cli("--config", str(logs_config), "status", "--json").stdout)
        text = cli("--config", str(logs_config), "status").stdout
        usage = cli("--config", str(logs_config), "usage").stdout
        usage_json = json.loads(cli("--config", str(logs_config), "usage", "--json").stdout)
    assert known["credits"][0]["forecast"]["logged"]["counted_usd"] == 4.5
    assert known["plan_limit"] == {"reached_at": "2026-02-10T10:00:00+00:00", "until": "2026-02-10T14:00:00+00:00"}
    limit = "Plan limit reached at Tue 2026-02-10 10:00 UTC (usage credits paying until Tue 2026-02-10 14:00 UTC)"
    assert f"{limit}, as Claude Code's status line saw it" in text.splitlines()
    assert f"  {limit}" in usage.splitlines()
    assert usage_json["plan_limit"] == known["plan_limit"]
    with freeze_time("2026-02-12T12:00:00Z"):
        later = cli("--config", str(logs_config), "status").stdout
    assert "Plan limit last reached at Tue 2026-02-10 10:00 UTC (usage credits paid until" in later


def test_status_keeps_the_summary_current_unless_asked_about_another_moment(  # type: ignore[no-untyped-def]
        cli, write_config: Callable[[str], Path], state_dir: Path) -> None:
    config = write_config('timezone = "UTC"\n[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n'
                          "claimed_at = 2026-02-06T09:30:00Z\n")
    path = state_dir / summary_file.NAME
    assert cli("--config", str(config), "status", "--at", "2026-03-01").exit_code == 0
    assert not path.exists()
    with freeze_time("2026-04-06T12:00:00Z"):
        assert cli("--config", str(config), "status").exit_code == 0
    document = json.loads(path.read_text())
    assert document["written_at"] == "2026-04-06T12:00:00+00:00" and document["credits"][0]["id"] == "c"
    assert [r["id"] for r in document["reminders"]][:1] == ["c/expiry/at"]


def test_a_summary_that_cannot_be_written_is_a_warning(  # type: ignore[no-untyped-def]
        cli, write_config: Callable[[str], Path], state_dir: Path) -> None:
    config = write_config('[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n')
    (state_dir / summary_file.NAME).mkdir(parents=True)
    done = cli("--config", str(config), "status")
    assert done.exit_code == 0 and "warning:" in done.stderr and "summary.json: cannot write" in done.stderr


def test_the_plan_limit_shows_without_the_logs_too(  # type: ignore[no-untyped-def]
        cli, write_config: Callable[[str], Path], state_dir: Path) -> None:
    config = write_config('timezone = "UTC"\n[[credit]]\nid = "c"\nplan = "pro"\nsubscribed_at = 2025-09-01\n'
                          "claimed_at = 2026-02-06T09:30:00Z\n")
    record(state_dir, FULL)
    with freeze_time(NOW):
        text = cli("--config", str(config), "status").stdout
    assert "Plan limit reached at Tue 2026-02-10 10:00 UTC (usage credits paying until Tue 2026-02-10 14:00 UTC), " \
           "as Claude Code's status line saw it" in text
