"""`reminderd hook`: the contract with Claude Code's SessionStart hook, through the installed console
script: one JSON object with a systemMessage, or nothing; exit 0 and a silent stderr whatever happens;
the same reminder once per session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import GOLDEN
from test_statusline import SCRIPT, THREE_DAYS, TOMORROW, Run, write

from reminderd import hook as hook_module

STARTUP = json.loads((GOLDEN / "claude_code_hook_input.json").read_text())
RESUME = json.loads((GOLDEN / "claude_code_hook_input_resume.json").read_text())


def said(done: subprocess.CompletedProcess[bytes]) -> str | None:
    """The systemMessage, checking the contract: exit 0, nothing on stderr, stdout one JSON object or nothing."""
    assert (done.returncode, done.stderr) == (0, b"")
    if not done.stdout:
        return None
    document = json.loads(done.stdout)
    assert list(document) == ["systemMessage"] and done.stdout.endswith(b"}\n") and done.stdout.count(b"\n") == 1
    return str(document["systemMessage"])


def session(value: dict[str, object], session_id: str | None = None, **more: object) -> bytes:
    return json.dumps(value | ({"session_id": session_id} if session_id else {}) | more).encode()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    def go(*args: str, stdin: bytes = session(STARTUP), now: datetime = TOMORROW,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        environ = {"PATH": os.environ.get("PATH", ""), "REMINDERD_STATE_DIR": str(tmp_path / "state"),
                   "REMINDERD_NOW": now.isoformat(), **(env or {})}
        return subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, env=environ, timeout=10)
    return go


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_a_credit_expiring_tomorrow_is_named_once_per_session(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    message = said(run("hook"))
    assert message == (
        "reminderd (c): Claude usage credit expires in 23 hours 30 minutes: turn usage credits off. Your USD 50 credit "
        "expires Tue 2026-04-07 09:30 PDT. The usage credits (formerly Extra Usage) setting stays on after that and "
        "bills your card at API rates. Turn usage credits (formerly Extra Usage) and Auto-Reload off in the Claude "
        "web app, Settings > Usage (the mobile apps cannot change it) before then. Once it is off, run "
        "`reminderd done extra-usage-off`.")
    assert said(run("hook", stdin=session(RESUME))) is None  # resumed: the same session was told
    assert said(run("hook", stdin=session(STARTUP, source="compact"))) is None
    assert said(run("hook", stdin=session(STARTUP, "another-session"))) == message
    later = TOMORROW + timedelta(hours=22)  # the 2-hour reminder is news, in the same session too
    assert "expires in 1 hour 30 minutes" in (said(run("hook", now=later)) or "")


def test_nothing_for_an_acknowledged_credit_a_quiet_one_or_no_summary(run: Run, state: Path) -> None:
    assert said(run("hook")) is None  # no summary
    write(state, THREE_DAYS)
    assert said(run("hook", now=THREE_DAYS)) is None  # three days left: nothing urgent
    write(state, TOMORROW, acknowledged=True, on=False)
    assert said(run("hook")) is None


@pytest.mark.parametrize("stdin", [
    b"", b"{", session(STARTUP)[:30], b"[" * 100_000, b"\xff", b"null", b'"SessionStart"',
    session(STARTUP, hook_event_name="Stop"), session(STARTUP, hook_event_name=["SessionStart"]),
    b'{"hook_event_name": "SessionStart", "session_id": "' + b"x" * (3 << 20) + b'"}',
], ids=["empty", "brace", "truncated", "deep", "not-utf8", "null", "string", "other-event", "event-list", "huge"])
def test_bad_or_other_input_says_nothing(run: Run, state: Path, stdin: bytes) -> None:
    write(state, TOMORROW)
    assert said(run("hook", stdin=stdin)) is None


def test_a_hostile_session_id_still_gets_the_warning_and_is_not_remembered(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    for value in (None, 12, "", "x" * 500, {"a": 1}):
        stdin = json.dumps({"hook_event_name": "SessionStart", "session_id": value}).encode()
        assert said(run("hook", stdin=stdin)) is not None
    assert not (state / hook_module.SESSIONS).exists()


def test_debug_says_why_on_stderr(run: Run, state: Path) -> None:
    done = run("hook", "--debug")
    assert done.returncode == 0 and done.stdout == b"" and b"no summary ready" in done.stderr
    write(state, TOMORROW)
    run("hook")
    done = run("hook", "--debug")
    assert done.stdout == b"" and b"was shown in session" in done.stderr


def test_a_failure_after_the_message_is_silent_and_exits_0(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    (state / hook_module.SESSIONS).mkdir()  # remembering the session cannot work
    assert said(run("hook")) is not None
    assert said(run("hook")) is not None  # so it is said again: never an error
    done = run("hook", "--debug")
    assert done.returncode == 0 and b"Traceback" in done.stderr  # --debug shows what went wrong


def test_a_damaged_session_memory_is_forgotten(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    state.joinpath(hook_module.SESSIONS).write_text('{"sessions": {"s": [1, 2]}, "x"')
    assert said(run("hook")) is not None
    assert said(run("hook")) is None


def test_sessions_are_remembered_briefly(run: Run, state: Path) -> None:
    write(state, TOMORROW)
    said(run("hook", stdin=session(STARTUP, "old")))
    write(state, TOMORROW + timedelta(days=1, hours=-1))
    said(run("hook", stdin=session(STARTUP, "new"), now=TOMORROW + timedelta(days=1, hours=-1)))
    remembered = json.loads((state / hook_module.SESSIONS).read_text())["sessions"]
    assert set(remembered) == {"old", "new"}
    write(state, TOMORROW + timedelta(days=2, minutes=1))
    said(run("hook", stdin=session(STARTUP, "newest"), now=TOMORROW + timedelta(days=2, minutes=1)))
    assert "old" not in json.loads((state / hook_module.SESSIONS).read_text())["sessions"]


def test_ctrl_c_and_a_closed_pipe_exit_0_silently(state: Path) -> None:
    write(state, TOMORROW)
    environ = {"PATH": os.environ.get("PATH", ""), "REMINDERD_STATE_DIR": str(state),
               "REMINDERD_NOW": TOMORROW.isoformat()}
    with subprocess.Popen([SCRIPT, "hook"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=environ) as process:
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert (process.returncode, out, err) == (0, b"", b"")
    read, write_end = os.pipe()
    os.close(read)
    done = subprocess.run([SCRIPT, "hook"], input=session(STARTUP), stdout=write_end, stderr=subprocess.PIPE,
                          env=environ, timeout=10)
    os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")


def test_the_click_cli_knows_both_commands(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    help_text = cli("--help").stdout
    assert "statusline" in help_text and "hook" in help_text and "install-hook" in help_text
    done = subprocess.run([SCRIPT, "hook", "--help"], capture_output=True, timeout=30)
    assert done.returncode == 0 and b"SessionStart" in done.stdout  # an option it does not take: click answers


def test_the_session_memory_is_written_without_waiting_for_the_disk(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    hook_module._remember(str(tmp_path), {}, "s1", "expiry/-1d", 1775000000.0)
    assert synced == [] and hook_module._shown(str(tmp_path)) == {"s1": {"expiry/-1d": 1775000000.0}}


def test_the_command_to_run_once_it_is_off_is_said_once() -> None:
    document = {"credits": [{"id": "c", "label": "c"}]}
    reminder = {"id": "c/gone", "credit": "c", "words": "c is gone: turn usage credits off", "done": "reminderd done x"}
    ends_with_it = {"message": "Turn them off, then run `reminderd done x`."}
    told = hook_module.message(document, reminder | ends_with_it, TOMORROW)
    assert told == "reminderd: c is gone: turn usage credits off. Turn them off, then run `reminderd done x`."
    added = hook_module.message(document, reminder | {"message": "Turn them off."}, TOMORROW)
    assert added.endswith("Turn them off. Once it is off, run `reminderd done x`.")
