"""reminderd inside Claude Code 2.1.332 itself (tests/claude_code.py, against the fake API): after
`install-hook`, `claude -p` runs the hook and shows the person which credit expires tomorrow; the status
line, with a subscription login at the 5-hour limit, records the limit, which `status` then shows."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from claude_code import ClaudeCode
from test_statusline import SCRIPT
from tools.fake_anthropic import FakeAnthropic, Reply

from reminderd import quota_record
from reminderd.config import load_config
from reminderd.state import State
from reminderd.summary_file import write_summary
from reminderd.timeline import plan

NOW = datetime(2026, 7, 14, 9, 0, tzinfo=UTC)  # the hook's clock (REMINDERD_NOW)


def config_text(now: datetime) -> str:
    """A credit of a custom offer, claimed so that it expires 20 hours after `now`."""
    def local(instant: datetime) -> str:
        return instant.strftime("%Y-%m-%dT%H:%M:%S")

    return f"""timezone = "UTC"

[offers.acme]
name = "ACME summer credit"
amount_usd = 40
eligible_plans = ["pro"]
claim_opens = {local(now - timedelta(days=40))}
claim_closes = {local(now + timedelta(days=10))}
validity_days = 30
timezone = "UTC"
switches = ["Overage", "Auto top-up"]
top_up_switch = "Auto top-up"
switch_location = "the ACME console, Billing > Overage"

[[credit]]
id = "acme-summer"
offer = "acme"
plan = "pro"
subscribed_at = 2026-01-01
claimed_at = {local(now - timedelta(days=29, hours=4))}
"""


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def reminderd(home: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "REMINDERD_STATE_DIR": str(state), "LANG": "C.UTF-8"}
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=60)


def test_claude_code_runs_the_hook_and_shows_the_credit_expiring_tomorrow(tmp_path: Path, api: FakeAnthropic) -> None:
    home, state, config = tmp_path / "home", tmp_path / "state", tmp_path / "config.toml"
    config.write_text(config_text(NOW))
    assert write_summary(state, plan(load_config(config), State(), NOW), State(), NOW) is None
    claude = ClaudeCode(home, api, env={"REMINDERD_NOW": (NOW + timedelta(minutes=1)).isoformat()})
    other = home / "other-hook-ran"
    claude.write_settings({"model": "claude-opus-4-6", "hooks": {
        "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": f"touch '{other}'"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}})
    installed = reminderd(home, state, "--config", str(config), "install-hook", "--statusline")
    assert installed.returncode == 0, installed.stderr
    run = claude.run(stream_json=True)
    assert run.returncode == 0, run.stderr
    shown = [line["attachment"]["content"] for line in run.lines("attachment")
             if line["attachment"]["type"] == "hook_system_message"]
    assert shown == ["reminderd (acme-summer): Overage credit expires in 19 hours 59 minutes: turn Overage off. Your "
                     "USD 40 credit expires Wed 2026-07-15 05:00 UTC. The Overage setting stays on after that and "
                     "bills your card at its usual rates. Turn Overage and Auto top-up off in the ACME console, "
                     "Billing > Overage before then. Once it is off, run `reminderd done overage-off`."]
    ours = [e for e in run.stream_json() if e.get("subtype") == "hook_response" and e.get("stdout")]
    assert [(json.loads(e["stdout"]), e["exit_code"]) for e in ours] == [({"systemMessage": shown[0]}, 0)]
    assert other.exists()  # the user's own hook ran too
    assert shown[0] not in json.dumps(run.requests[-1].body)  # shown to the person, not sent to the model
    again = claude.run(session_id=run.session_id, resume=True)  # the same session: not shown twice
    assert again.returncode == 0, again.stderr
    assert [line for line in again.lines("attachment") if line["attachment"]["type"] == "hook_system_message"] \
        == [line for line in run.lines("attachment") if line["attachment"]["type"] == "hook_system_message"]


def test_the_status_line_records_the_plan_limit_that_status_then_shows(tmp_path: Path, api: FakeAnthropic) -> None:
    home, state, config = tmp_path / "home", tmp_path / "state", tmp_path / "config.toml"
    now = datetime.now(UTC)  # the status line runs on the real clock here: the config is made for it
    config.write_text(config_text(now))
    assert reminderd(home, state, "--config", str(config), "status").returncode == 0  # writes the summary
    resets = int(time.time()) + 3600
    api.reply = Reply(headers={"anthropic-ratelimit-unified-status": "allowed",
                               "anthropic-ratelimit-unified-5h-utilization": "1.0",
                               "anthropic-ratelimit-unified-5h-reset": str(resets)})
    claude = ClaudeCode(home, api, subscription=True)
    assert reminderd(home, state, "--config", str(config), "install-hook", "--statusline").returncode == 0
    command = json.loads(claude.settings_path.read_text())["statusLine"]["command"]
    inputs = claude.statusline_inputs(command=command, pane_shows="plan limit reached")
    assert inputs[-1]["rate_limits"] == {"five_hour": {"used_percentage": 100, "resets_at": resets}}
    assert "plan limit reached: usage credits pay for 59 min · Overage credit expires in 19 hours" in claude.pane
    (sample,) = quota_record.load_samples(state)
    assert sample.five_hour is not None and sample.seven_day is None
    assert (sample.five_hour.used_percent, sample.five_hour.resets_at.timestamp()) == (100, resets)
    status = reminderd(home, state, "--config", str(config), "status")
    assert "Plan limit reached at " in status.stdout and "(usage credits paying until " in status.stdout
