"""One daemon per state directory: an fcntl lock on a file that also says who holds it (pid and
host) and, by its mtime, when the daemon last woke. `status` reads it without disturbing it.

The lock file lives in the runtime directory ($XDG_RUNTIME_DIR): local to this machine and
emptied at boot, so a home directory shared over NFS never makes one host trust another's pid.
"""

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from reminderd.errors import AlreadyRunning, StateError

# `status` holds a shared lock for a few microseconds to see whether the daemon runs; a daemon
# starting at that instant retries for this long before it believes another one runs.
ACQUIRE_FOR = 2.0


class DaemonInfo(NamedTuple):
    running: bool
    pid: int | None
    last_wake: datetime | None
    host: str | None = None
    config: str | None = None  # the config file the daemon reads (absolute), if it said
    state_dir: str | None = None  # and its state directory

    @property
    def here(self) -> bool:
        """Whether the holder is a daemon on this machine, so its pid means something here. A
        lock file without a host was not written by a reminderd that may be signalled (an older
        one notices a change within its wake; anything else must never get a SIGHUP)."""
        return self.host is not None and self.host == _hostname()


def _hostname() -> str:
    import socket  # only when the lock is taken or a pid is signalled: `status` stays light

    return socket.gethostname()


# The lock file's text: "PID HOST" (all an older reminderd reads), then "config PATH" and
# "state PATH" lines, so `status` can tell a daemon that reads another config or state.
def _owner(fd: int) -> DaemonInfo:
    text = os.pread(fd, 8192, 0).decode(errors="replace")
    first, *rest = text.split("\n") if text else ("",)
    words = first.split()
    pid = int(words[0]) if words and words[0].isdigit() else None
    fields = {key: value for key, _, value in (line.partition(" ") for line in rest) if value}
    return DaemonInfo(True, pid, None, words[1] if len(words) > 1 else None, fields.get("config"),
                      fields.get("state"))


def _open_lock(path: Path, flags: int) -> int:
    """Open the lock file, never through a link, and only if it is a file of ours: in a
    directory others could write, theirs would make us truncate a file or signal a pid."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise OSError(0, f"not a file of yours (owner uid {st.st_uid}); remove it if no reminderd runs")
    return fd


def _check_dir(directory: Path) -> None:
    from reminderd.files import make_private_dirs

    make_private_dirs(directory)
    st = os.stat(directory)  # a state directory may be the user's own link (macOS keeps the lock there)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise OSError(0, f"{directory} is not a directory of yours that only you can write "
                         f"(owner uid {st.st_uid}, mode {st.st_mode & 0o777:04o})")


def acquire_instance_lock(path: Path, config: Path | None = None, state_dir: Path | None = None) -> int:
    """Hold an exclusive lock on `path` for the life of the process; write our pid and host,
    and the config and state directory we use."""
    import fcntl

    try:
        _check_dir(path.parent)
        fd = _open_lock(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise StateError(f"{path}: cannot open the lock file: {exc.strerror}") from None
    deadline = time.monotonic() + ACQUIRE_FOR
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            holder = _owner(fd)
            os.close(fd)
            who = f"pid {holder.pid if holder.pid is not None else '?'}" + (f" on {holder.host}" if holder.host
                                                                              else "")
            raise AlreadyRunning(f"another reminderd run is already running ({who}; lock {path})") from None
    text = f"{os.getpid()} {_hostname()}\n"
    for key, value in (("config", config), ("state", state_dir)):
        if value is not None and "\n" not in str(value):
            text += f"{key} {os.path.abspath(value)}\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(errors="surrogateescape"), 0)
    except OSError:
        pass  # the lock is what counts; without the pid `status` just cannot name it
    return fd


def daemon_info(path: Path) -> DaemonInfo:
    """Whether a daemon holds the lock, who, and when it last woke (the lock file's mtime)."""
    import fcntl

    try:
        fd = _open_lock(path, os.O_RDONLY)
    except OSError:
        return DaemonInfo(False, None, None)
    try:
        last = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner(fd)._replace(last_wake=last)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return DaemonInfo(False, None, last)
    finally:
        os.close(fd)


def running_daemons(directory: Path) -> list[DaemonInfo]:
    """The daemons holding a lock in `directory` (the runtime directory's, one per state dir)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = (daemon_info(directory / name) for name in names if name.endswith(".lock"))
    return [info for info in found if info.running]


def is_our_daemon(pid: int) -> bool:
    """Whether `pid` is a process of ours running reminderd: only then may it get a SIGHUP.
    Linux: /proc/PID (owner and command line); elsewhere the owner only, from ps."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if proc.stat().st_uid != os.getuid():
                return False
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return any(os.path.basename(arg) == b"reminderd" for arg in argv)
    import subprocess

    try:
        uid = subprocess.run(["ps", "-o", "uid=", "-p", str(pid)], capture_output=True, text=True,
                             timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return uid == str(os.getuid())


def other_daemon_warning(ours: DaemonInfo, runtime: Path | None, config: Path, state_dir: Path) -> str | None:
    """One line when the daemon that runs uses another config or state directory than this
    command (a service installed from another shell, with another --config or
    $REMINDERD_STATE_DIR): what the command shows is then not what the daemon does."""
    fix = ("if it is your service, run `reminderd install-service --force` as you ran this command, then "
           "restart the service; if you started it by hand, stop it and start it as you ran this command")
    if ours.running:
        if ours.config is None or _same(ours.config, config):
            return None
        return (f"the daemon running for this state directory (pid {ours.pid}) reads {ours.config}, not {config}: "
                f"{fix}")
    if runtime is None:
        return None
    from reminderd.paths import lock_dir

    others = running_daemons(lock_dir(runtime))
    known = [info for info in others if info.config is not None and info.state_dir is not None]
    if not known:
        return None
    other = next((info for info in known if _same(info.config, config)), known[0])
    if _same(other.config, config):
        return (f"a daemon (pid {other.pid}) reads this config but keeps its state in {other.state_dir}, not "
                f"{state_dir}: {fix}")
    # maybe on purpose (a second daemon for another config): a hint, not an instruction
    import shlex

    return (f"no daemon runs with this config and state directory, but one does (pid {other.pid}) with "
            f"{other.config} and {other.state_dir}; if this config is the one you meant it to read: {fix} "
            f"(or start a second one: `reminderd --config {shlex.quote(str(config))} run`)")


def _same(recorded: str | None, path: Path) -> bool:
    return recorded is not None and os.path.realpath(recorded) == os.path.realpath(path)
