"""Faults against the real `reminderd run` process: a wedged bus, a stopped notification server,
a full file system, a slow pipe, signals at start-up and during a slow channel.

Each test is the repro of a finding in ../shared/findings (faults-e83b993.md, review M1, M3, m1,
m2, m11, m12), made into a check that fails if the fault comes back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_process import ROOT, RUNNING, TOOLS, Daemon, dunst_on_xvfb, received, soon_config, wait_for

from reminderd.dbus_notify import DBusNotifier
from reminderd.errors import NotifyError
from reminderd.notify import FallbackNotifier, LogNotifier
from reminderd.state import read_state

STOP_LIMIT = 2.0  # seconds: the README's promise for SIGTERM


# -- a session bus that authenticates, then never answers ------------------------------------------


class WedgedBus:
    """tools/wedged_bus.py in its own process: authenticates clients, then never answers."""

    def __init__(self, tmp_path: Path) -> None:
        path = tmp_path / "wedged-bus"
        self.address = f"unix:path={path}"
        self.proc = subprocess.Popen([sys.executable, str(TOOLS / "wedged_bus.py"), str(path)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def wait_for_a_client(self) -> None:
        """Until a client has authenticated and waits for an answer that never comes."""
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "waiting"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def wedged_bus(tmp_path: Path) -> Iterator[WedgedBus]:
    bus = WedgedBus(tmp_path)
    yield bus
    bus.close()


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reminderd", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def stop_within(daemon: Daemon, limit: float = STOP_LIMIT) -> float:
    start = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    rc = daemon.proc.wait(limit + 3)
    took = time.monotonic() - start
    assert rc == 0 and took <= limit, f"exit {rc} after {took:.2f} s"
    return took


def test_a_wedged_bus_fails_the_send_within_its_deadline_and_the_next_backend_is_tried(
        wedged_bus: WedgedBus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", wedged_bus.address)
    start = time.monotonic()
    with pytest.raises(NotifyError, match="no answer within 1 s"):
        DBusNotifier(timeout=1).send("t", "b")
    assert time.monotonic() - start < 2
    fallback = FallbackNotifier([DBusNotifier(timeout=1), LogNotifier()])
    fallback.send("t", "b")
    assert fallback.used == "log"


def test_a_wedged_bus_leaks_no_file_descriptor(wedged_bus: WedgedBus, monkeypatch: pytest.MonkeyPatch) -> None:
    # the socket was left open when Hello never came back: one fd lost per attempt, every minute
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", wedged_bus.address)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(NotifyError):
            DBusNotifier(timeout=0.3).send("t", "b")
    assert len(os.listdir("/proc/self/fd")) == before


def test_notify_test_on_a_wedged_bus_exits_69_within_the_deadline(wedged_bus: WedgedBus, tmp_path: Path) -> None:
    address = wedged_bus.address
    (tmp_path / "c.toml").write_text(soon_config(3600, ["1m"]) + '[notifications]\nbackend = "dbus"\n')
    start = time.monotonic()
    result = run_cli(["--config", str(tmp_path / "c.toml"), "notify-test"],
                     {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}, timeout=30)
    assert result.returncode == 69 and "no answer within 10 s" in result.stderr
    assert time.monotonic() - start < 13


def test_sigterm_while_the_bus_is_wedged(wedged_bus: WedgedBus, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(soon_config(30, ["1m"]) + '[notifications]\nbackend = "dbus"\n')
    daemon = Daemon(tmp_path, {**os.environ, "DBUS_SESSION_BUS_ADDRESS": wedged_bus.address})
    wedged_bus.wait_for_a_client()
    time.sleep(0.3)  # well inside the wait for Hello's reply
    stop_within(daemon)
    assert read_state(tmp_path / "state" / "state.json").state.delivered == {}


def test_a_stopped_notification_server(session_bus: str, tmp_path: Path) -> None:
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus, "HOME": str(tmp_path)}
    with dunst_on_xvfb(env) as server:
        server.send_signal(signal.SIGSTOP)  # the server hangs: calls to it are never answered
        (tmp_path / "config.toml").write_text(soon_config(40, ["1m"]) + '[notifications]\nbackend = "dbus"\n')
        daemon = Daemon(tmp_path, env)
        # bounded: the attempt fails at its deadline, is logged, and the daemon goes on
        wait_for(lambda: "not delivered on desktop, will retry" in daemon.text(), timeout=14, what="the failed attempt")
        assert "no answer within 10 s" in daemon.text()
        time.sleep(1.5)  # the next wake (every second) has started the next attempt, which waits
        stop_within(daemon)


# -- a full file system ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs, filled up: writing a new file there fails with ENOSPC."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        message = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        if os.environ.get("REMINDERD_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        (mount_point / "state").mkdir()
        with contextlib.suppress(OSError), open(mount_point / "filler", "wb", buffering=0) as out:
            while True:
                out.write(b"\0" * 4096)
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_sends_each_reminder_once_and_says_so_once(full_disk: Path, tmp_path: Path) -> None:
    log = tmp_path / "shown.log"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    script.chmod(0o755)
    config = soon_config(30, ["1m"]) + f'[notifications]\nbackend = "command"\ncommand = ["{script}"]\n'
    (tmp_path / "config.toml").write_text(config)
    state = full_disk / "state"
    env = {**os.environ, "REMINDERD_WAKE_SECONDS": "0.2", "XDG_RUNTIME_DIR": str(tmp_path)}
    daemon = Daemon(tmp_path, env, state_dir=state)
    wait_for(lambda: log.exists(), what="the notification")
    wait_for(lambda: daemon.ticks() >= 15, what="fifteen wake-ups on the full disk")
    assert log.read_text().splitlines() == ["Claim your USD 10 Extra Usage credit: less than a minute left"]
    errors = [line for line in daemon.text().splitlines() if "No space left on device" in line and "DEBUG" not in line]
    assert len(errors) == 1 and f"{state}/state.json: cannot write" in errors[0], errors
    (full_disk / "filler").unlink()  # space again: the record kept in memory is written
    wait_for(lambda: read_state(state / "state.json").state.delivered, what="the record on disk")
    assert "delivery records written" in daemon.text()
    assert len(log.read_text().splitlines()) == 1
    stop_within(daemon)


# -- locks, pipes and signals ------------------------------------------------------------------------


def test_export_to_a_slow_pipe_blocks_no_one(tmp_path: Path) -> None:
    example = (ROOT / "config.example.toml").read_text()
    credit = example[example.index("\n[[credit]]"):example.index("# Override")]
    extra = "".join(credit.replace('"claude-feb-2026"', f'"c{i}"') for i in range(1, 9))
    (tmp_path / "many.toml").write_text(example + extra)
    env = {**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state")}
    slow = subprocess.Popen([sys.executable, "-m", "reminderd", "--config", str(tmp_path / "many.toml"), "export-ics"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        time.sleep(1.5)  # it has filled the pipe (the calendar is over 64 KiB) and waits for a reader
        assert slow.poll() is None
        start = time.monotonic()
        result = run_cli(["--config", str(tmp_path / "many.toml"), "balance", "30", "--credit", "c1",
                          "--at", "2026-02-20T09:00"], env, timeout=20)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - start < 3
    finally:
        out, _ = slow.communicate(timeout=30)
    assert slow.returncode == 0 and len(out) > 65536


def test_sighup_at_start_up_reloads_and_never_kills(recorder: Path, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(soon_config(3600, ["1m"]))
    notify_socket = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_socket))
    listener.settimeout(15)
    lock_dir = tmp_path / "runtime"
    lock_dir.mkdir(mode=0o700)
    try:
        for attempt in range(8):
            state = tmp_path / f"state{attempt}"
            proc = subprocess.Popen(
                [sys.executable, "-m", "reminderd", "--config", str(tmp_path / "config.toml"), "run"],
                env={**env, "REMINDERD_STATE_DIR": str(state), "XDG_RUNTIME_DIR": str(lock_dir),
                     "NOTIFY_SOCKET": str(notify_socket)},
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            RUNNING.append(proc)
            # what `claim`/`balance`/`done` do: signal the pid as soon as the lock file names it
            wait_for(lambda p=proc: any(f.read_text().startswith(f"{p.pid} ")
                                        for f in lock_dir.glob("reminderd/*.lock")), timeout=20, what="the pid")
            proc.send_signal(signal.SIGHUP)
            assert listener.recv(64) == b"READY=1"  # systemd's Type=notify: ready after the handlers
            time.sleep(0.3)
            assert proc.poll() is None, f"attempt {attempt}: killed by an early SIGHUP ({proc.returncode})"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(5) == 0
            assert listener.recv(64) == b"STOPPING=1"
            assert proc.stderr is not None
            proc.stderr.close()
    finally:
        listener.close()


def hanging_program(tmp_path: Path, config: Path, close_in: int) -> Path:
    """A notification program that starts a child and hangs; it writes its process group to the
    returned file. `config` is written to use it."""
    pid_file = tmp_path / "group"
    script = tmp_path / "slow.sh"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nsleep 300 &\nsleep 300\n")
    script.chmod(0o755)
    config.write_text(soon_config(close_in, ["1m"]) + f'[notifications]\nbackend = "command"\ncommand = ["{script}"]\n')
    return pid_file


def test_sigterm_during_a_slow_command_kills_its_whole_process_group(tmp_path: Path) -> None:
    pid_file = hanging_program(tmp_path, tmp_path / "config.toml", close_in=30)
    daemon = Daemon(tmp_path, dict(os.environ))
    wait_for(pid_file.exists, what="the notification program")
    group = int(pid_file.read_text())
    time.sleep(0.2)
    stop_within(daemon)
    wait_for(lambda: not running_in_group(group), timeout=3, what="the group to be gone")  # script and `sleep &`


def test_a_notification_program_that_hangs_is_killed_whole(tmp_path: Path) -> None:
    # review m11: the timeout killed only the direct child; grandchildren leaked at every retry
    pid_file = hanging_program(tmp_path, tmp_path / "c.toml", close_in=3600)
    start = time.monotonic()
    result = run_cli(["--config", str(tmp_path / "c.toml"), "notify-test"], dict(os.environ), timeout=30)
    assert result.returncode == 69 and "no answer within 10 s; stopped it" in result.stderr
    assert time.monotonic() - start < 13
    assert not running_in_group(int(pid_file.read_text()))


def running_in_group(group: int) -> list[int]:
    """Live (not zombie) processes of a process group. Killed orphans can linger as zombies
    where pid 1 does not reap them (some containers); they run nothing."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                alive.append(int(stat.parent.name))
    return alive


def test_status_polling_never_makes_a_starting_daemon_exit_75(tmp_path: Path) -> None:
    # review m2: a status probe holds the lock for microseconds; a daemon starting then exited 75
    (tmp_path / "config.toml").write_text(soon_config(3600, ["1m"]) + '[notifications]\nbackend = "log"\n')
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state"), "XDG_RUNTIME_DIR": str(runtime)}
    probe = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom reminderd import paths\nfrom reminderd.instance import daemon_info\n"
        "end = time.monotonic() + 60\nwhile time.monotonic() < end: daemon_info(paths.lock_file())\n")],
        env=env, cwd=ROOT)
    try:
        for _ in range(12):
            proc = subprocess.Popen([sys.executable, "-m", "reminderd", "--config", str(tmp_path / "config.toml"),
                                     "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    cwd=ROOT)
            RUNNING.append(proc)
            wait_for(lambda p=proc: p.poll() is not None or any(
                f.read_text().startswith(f"{p.pid} ") for f in runtime.glob("reminderd/*.lock")), what="the lock")
            assert proc.poll() is None, proc.communicate()[1]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(5) == 0
            assert proc.stderr is not None
            proc.stderr.close()
    finally:
        probe.kill()
        probe.wait(5)


@pytest.mark.parametrize("holder_host", [" some-other-host", ""])
def test_a_lock_held_on_another_host_never_signals_a_local_pid(tmp_path: Path, holder_host: str) -> None:
    # review m12: on an NFS home the holder is another host's daemon; its pid means nothing here.
    # A lock naming no host (the review's own repro) was not written by this reminderd either.
    victim = subprocess.Popen(["sleep", "30"])
    runtime = tmp_path / "runtime"
    env = {**os.environ, "REMINDERD_STATE_DIR": str(tmp_path / "state"), "XDG_RUNTIME_DIR": str(runtime)}
    lock = Path(subprocess.run([sys.executable, "-c", "from reminderd import paths; print(paths.lock_file())"],
                               env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip())
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{victim.pid}{holder_host}\n")
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               "fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(30)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_cli(["--config", str(ROOT / "config.example.toml"), "done", "auto-reload-off"], env)
        assert result.returncode == 0, result.stderr
        time.sleep(0.3)
        assert victim.poll() is None, "an unrelated local process was sent SIGHUP"
        status = run_cli(["--config", str(ROOT / "config.example.toml"), "status"], env)
        assert f"pid {victim.pid}" in status.stdout
    finally:
        for proc in (victim, holder):
            proc.kill()
            proc.wait(5)
        if holder.stdout is not None:
            holder.stdout.close()


def test_delivered_through_the_real_bus_after_the_faults(recorder: Path, env: dict[str, str], tmp_path: Path) -> None:
    """The same daemon, with nothing wrong, still delivers (the fault handling costs nothing)."""
    (tmp_path / "config.toml").write_text(soon_config(61, ["1m"]))
    daemon = Daemon(tmp_path, env)
    wait_for(lambda: received(recorder), what="the notification")
    assert shutil.which("dbus-daemon") is not None
    stop_within(daemon)
