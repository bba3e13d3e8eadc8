"""The daemon's lock: the runtime directory is trusted only when it is ours alone, the lock is
never opened through someone else's file, a SIGHUP goes only to our own reminderd (security M3),
and `status` says when the daemon that runs reads another config or state (issue 18)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, config_text
from daemon_process import Daemon, wait_for

from reminderd import paths
from reminderd.errors import StateError
from reminderd.instance import acquire_instance_lock, daemon_info, is_our_daemon

NOBODY = 65534
EXAMPLE = str(ROOT / "config.example.toml")


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reminderd", *args], env=env, capture_output=True, text=True,
                          timeout=30, cwd=ROOT)


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "runtime"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    monkeypatch.setenv("REMINDERD_STATE_DIR", str(tmp_path / "state"))
    return directory


@pytest.mark.parametrize("how", ["0755", "shared 1777", "another owner"])
def test_a_runtime_directory_not_ours_alone_is_not_used(how: str, runtime: Path, tmp_path: Path) -> None:
    runtime.chmod({"0755": 0o755, "shared 1777": 0o1777, "another owner": 0o700}[how])
    if how == "another owner":
        os.chown(runtime, NOBODY, NOBODY)
    assert paths.runtime_dir() is None
    assert paths.lock_file() == tmp_path / "state" / "reminderd.lock"
    problem = paths.runtime_dir_problem()
    assert problem is not None and str(runtime) in problem and "mode 0700" in problem
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "REMINDERD_STATE_DIR": str(tmp_path / "state")}
    result = run_cli(["--config", EXAMPLE, "status", "--at", "2026-03-01T09:00"], env)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "runtime directory" in line] == [f"warning: {problem}"]


def test_a_planted_lock_in_a_shared_runtime_directory_truncates_nothing(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # the audit's repro (a): another user plants the lock's predictable name, linked to a file of ours
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setenv("REMINDERD_STATE_DIR", str(state))
    victim = tmp_path / "profile"
    victim.write_text("my settings\n")
    planted = shared / "reminderd" / f"{paths.lock_key(state)}.lock"
    planted.parent.mkdir(mode=0o777)
    planted.symlink_to(victim)
    fd = acquire_instance_lock(paths.lock_file())
    os.close(fd)
    assert victim.read_text() == "my settings\n"


@pytest.mark.parametrize("plant", ["a link", "a file of another user", "a folder of another user"])
def test_the_lock_is_never_opened_through_someone_elses_file(plant: str, runtime: Path, tmp_path: Path) -> None:
    lock = paths.lock_file()
    assert lock.parent.parent == runtime
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    lock.parent.mkdir(mode=0o700)
    if plant == "a link":
        lock.symlink_to(victim)
    elif plant == "a file of another user":
        lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")
        os.chown(lock, NOBODY, NOBODY)
    else:
        os.chown(lock.parent, NOBODY, NOBODY)
    with pytest.raises(StateError, match=r"cannot open the lock file: .*(not a file of yours|not a directory of "
                                         r"yours|Too many levels of symbolic links)"):
        acquire_instance_lock(lock)
    assert victim.read_text() == "keep me\n"
    assert daemon_info(lock).running is False


def test_a_state_directory_reached_through_our_own_link_holds_the_lock(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # without a runtime directory (macOS) the lock is in the state directory, which a user may link
    (tmp_path / "real-state").mkdir(mode=0o700)
    (tmp_path / "state").symlink_to(tmp_path / "real-state")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("REMINDERD_STATE_DIR", str(tmp_path / "state"))
    fd = acquire_instance_lock(paths.lock_file())
    try:
        assert daemon_info(paths.lock_file()).running is True
    finally:
        os.close(fd)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait(5)


def hold(lock: Path, text: str) -> subprocess.Popen[str]:
    """Another process holding `lock`, with `text` in it (what a daemon writes)."""
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.write_text(text)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               "fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(30)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_done_never_signals_a_process_that_is_not_reminderd(runtime: Path, tmp_path: Path,
                                                            sleeper: subprocess.Popen[bytes]) -> None:
    # the audit's repro (b): a lock naming this host and an unrelated process of ours
    holder = hold(paths.lock_file(), f"{sleeper.pid} {socket.gethostname()}\n")
    try:
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "REMINDERD_STATE_DIR": str(tmp_path / "state")}
        result = run_cli(["--config", EXAMPLE, "done", "auto-reload-off"], env)
        assert result.returncode == 0, result.stderr
        time.sleep(0.3)
        assert sleeper.poll() is None, "an unrelated process of ours was sent SIGHUP"
    finally:
        holder.kill()
        holder.wait(5)
        assert holder.stdout is not None
        holder.stdout.close()


def test_only_a_reminderd_of_ours_is_ours(sleeper: subprocess.Popen[bytes]) -> None:
    sleep = shutil.which("sleep")
    ours = subprocess.Popen(["/opt/x/bin/reminderd", "30"], executable=sleep)  # its command line names reminderd
    theirs = subprocess.Popen(["/opt/x/bin/reminderd", "30"], executable=sleep, user=NOBODY)
    try:
        assert is_our_daemon(ours.pid)
        assert not is_our_daemon(sleeper.pid)  # ours, but not reminderd
        assert not is_our_daemon(theirs.pid)  # reminderd, but not ours
        assert not is_our_daemon(2 ** 22 + 1)  # no such process
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait(5)


# -- which config and state the running daemon uses ---------------------------------------------------

def test_the_lock_says_the_config_and_state_and_older_readers_still_read_it(runtime: Path, tmp_path: Path) -> None:
    lock = paths.lock_file()
    fd = acquire_instance_lock(lock, tmp_path / "c.toml", tmp_path / "state")
    try:
        words = lock.read_text().split()
        assert words[:2] == [str(os.getpid()), socket.gethostname()]  # what an older `status` reads
        assert lock.read_text().splitlines()[1:] == [f"config {tmp_path / 'c.toml'}", f"state {tmp_path / 'state'}"]
    finally:
        os.close(fd)


@pytest.mark.parametrize(("held", "warned"), [
    ("config {tmp}/other.toml\nstate {tmp}/state\n", "reads {tmp}/other.toml, not {tmp}/c.toml"),
    ("config {tmp}/c.toml\nstate {tmp}/state\n", None),
    ("", None),  # an older daemon: it says nothing, so nothing is guessed
])
def test_status_warns_when_the_daemon_of_this_state_reads_another_config(
        runtime: Path, tmp_path: Path, held: str, warned: str | None) -> None:
    (tmp_path / "c.toml").write_text((ROOT / "config.example.toml").read_text())
    holder = hold(paths.lock_file(), f"{os.getpid()} {socket.gethostname()}\n" + held.format(tmp=tmp_path))
    try:
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "REMINDERD_STATE_DIR": str(tmp_path / "state")}
        result = run_cli(["--config", str(tmp_path / "c.toml"), "status", "--at", "2026-03-01T09:00"], env)
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stderr.splitlines() if "daemon" in line]
        if warned is None:
            assert lines == []
        else:
            assert len(lines) == 1 and warned.format(tmp=tmp_path) in lines[0]
            assert "reminderd install-service --force" in lines[0]
    finally:
        holder.kill()
        holder.wait(5)
        assert holder.stdout is not None
        holder.stdout.close()


def test_status_warns_when_the_running_daemon_keeps_another_state(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (tmp_path / "config.toml").write_text(config_text('[notifications]\nbackend = "log"\n'))
    daemon = Daemon(tmp_path, {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, state_dir=tmp_path / "service-state")
    try:
        wait_for(lambda: daemon_info(runtime / "reminderd" / f"{paths.lock_key(tmp_path / 'service-state')}.lock")
                 .config is not None, what="the daemon's lock")
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
        same = run_cli(["--config", str(daemon.config), "status"], {**env, "REMINDERD_STATE_DIR": str(tmp_path /
                                                                                                      "service-state")})
        assert same.returncode == 0 and "warning" not in same.stderr, same.stderr
        other = run_cli(["--config", str(daemon.config), "status"], {**env, "REMINDERD_STATE_DIR": str(tmp_path /
                                                                                                       "my-state")})
        assert other.returncode == 0, other.stderr
        assert other.stderr.splitlines() == [
            f"warning: a daemon (pid {daemon.proc.pid}) reads this config but keeps its state in "
            f"{tmp_path / 'service-state'}, not {tmp_path / 'my-state'}: if it is your service, run `reminderd "
            "install-service --force` as you ran this command, then restart the service; if you started it by hand, "
            "stop it and start it as you ran this command"]
        elsewhere = tmp_path / "elsewhere.toml"
        elsewhere.write_text(daemon.config.read_text())
        third = run_cli(["--config", str(elsewhere), "status"], {**env, "REMINDERD_STATE_DIR": str(tmp_path / "x")})
        assert f"one does (pid {daemon.proc.pid}) with {daemon.config} and {tmp_path / 'service-state'}" in third.stderr
        # a second daemon may be on purpose: the hint says so, and how to run one
        assert "if this config is the one you meant it to read" in third.stderr
        assert f"(or start a second one: `reminderd --config {elsewhere} run`)" in third.stderr
    finally:
        assert daemon.stop() == 0
