"""The command that prints a secret (push URLs, the CalDAV password): bounded, never fatal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reminderd.secret_command import CommandFailed, printed_lines


def test_the_lines_come_back_as_printed() -> None:
    assert printed_lines(["printf", "%s\\n", "  pass word ", "ntfy://x/y"], "k", 5) == ["  pass word ", "ntfy://x/y"]


@pytest.mark.parametrize(("argv", "message"), [
    (["sh", "-c", "echo secret; exit 3"], "calendar.password_command: exit 3"),
    (["/nonexistent/pass", "show"],
     "calendar.password_command: cannot run /nonexistent/pass: No such file or directory"),
])
def test_a_failing_command_is_one_line_naming_the_key_and_never_its_output(argv: list[str], message: str) -> None:
    with pytest.raises(CommandFailed) as raised:
        printed_lines(argv, "calendar.password_command", 5)
    assert str(raised.value) == message


def test_a_hanging_command_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]
    start = time.monotonic()
    with pytest.raises(CommandFailed, match=r"^notifications.push_command: no answer within 0.5 s$"):
        printed_lines(argv, "notifications.push_command", 0.5)
    assert time.monotonic() - start < 3
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the command's child outlived it"


def alive(pid: int) -> bool:
    """Running, not a zombie (in a container nobody may reap an orphan)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_helper_that_keeps_stdout_open_does_not_hold_the_answer_back() -> None:
    """Review M5: the command printed its URL and exited; a helper it started in a session of
    its own kept stdout open for 20 s, and the deadline did not hold."""
    start = time.monotonic()
    lines = printed_lines(["sh", "-c", "echo ntfy://ntfy.sh/topic; setsid sleep 20 &"], "k", 2.0)
    assert lines == ["ntfy://ntfy.sh/topic"] and time.monotonic() - start < 1.5


def test_a_hanging_helper_that_keeps_stdout_open_is_cut_at_the_deadline() -> None:
    start = time.monotonic()
    with pytest.raises(CommandFailed, match="no answer within 1 s"):
        printed_lines(["sh", "-c", "setsid sleep 20 & sleep 20"], "k", 1.0)
    assert time.monotonic() - start < 2
