"""bounded.py: a program's deadline holds whatever it and its helpers do, its output is capped,
and a cancel from another thread ends it at once."""

from __future__ import annotations

import threading
import time

from reminderd.bounded import MAX_OUTPUT, Running, run
from reminderd.errors import NotifyError
from reminderd.notify import CommandNotifier


def test_stdin_is_fed_and_output_collected_in_full() -> None:
    data = b"x" * 300_000  # more than a pipe buffer, both ways
    done = run(["cat"], 5, stdin=data)
    assert (done.returncode, done.stdout, done.timed_out) == (0, data, False)


def test_output_is_capped() -> None:
    start = time.monotonic()
    done = run(["sh", "-c", "yes"], 0.5)
    assert len(done.stdout) == MAX_OUTPUT and done.timed_out and time.monotonic() - start < 2


def test_cancel_from_another_thread_ends_it_at_once() -> None:
    running = Running(["sleep", "30"])
    threading.Timer(0.2, running.cancel).start()
    start = time.monotonic()
    done = running.wait(time.monotonic() + 30)
    assert done.returncode is not None and done.returncode < 0 and time.monotonic() - start < 2


def test_the_command_notifier_is_bounded_when_a_helper_holds_its_output() -> None:
    """Review M5, the command backend: it exits 0 at once; a helper keeps stdout open."""
    notifier = CommandNotifier(["sh", "-c", "setsid sleep 20 & exit 0"], timeout=2.0)
    start = time.monotonic()
    notifier.send("title", "body")
    assert time.monotonic() - start < 1.5


def test_the_command_notifier_reports_a_hang_at_its_deadline() -> None:
    notifier = CommandNotifier(["sh", "-c", "setsid sleep 20 & sleep 20"], timeout=1.0)
    start = time.monotonic()
    try:
        notifier.send("title", "body")
    except NotifyError as exc:
        assert "no answer within 1 s" in str(exc)
    else:
        raise AssertionError("a hanging command was taken as delivered")
    assert time.monotonic() - start < 2


def test_a_program_that_exits_at_once_is_never_taken_for_killed() -> None:
    # its pipes close as it exits: the group is killed only after it was seen to exit
    assert {run(["echo", "x"], 5).returncode for _ in range(50)} == {0}


def test_a_child_never_imports_a_module_from_the_working_directory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The daemon may run anywhere (a service's cwd, a user's folder): a `resource.py` there must
    not stand in for the standard library's in the child that runs a piece of reminderd."""
    from reminderd.bounded import child_argv

    (tmp_path / "resource.py").write_text("import pathlib; pathlib.Path('pwned').write_text('x')\n")
    monkeypatch.chdir(tmp_path)
    done = run(child_argv("errors", "ReminderdError"), 20)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pwned").exists()


def test_a_stopped_notifier_says_so_and_the_next_send_runs_again() -> None:
    """bounded.Stoppable, shared by the command notifier and the push channel: cancel() ends the
    program in progress at once, and does not spill onto the next send."""
    notifier = CommandNotifier(["sh", "-c", "sleep 30"], timeout=30.0)
    threading.Timer(0.2, notifier.cancel).start()
    start = time.monotonic()
    try:
        notifier.send("title", "body")
    except NotifyError as error:
        assert str(error).endswith(": stopped"), error
    else:
        raise AssertionError("a cancelled send must fail")
    assert time.monotonic() - start < 2
    quick = CommandNotifier(["true"], timeout=5.0)
    quick.runner.cancel()  # a cancel between sends is not the next send's
    quick.send("title", "body")
