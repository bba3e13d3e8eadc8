"""`reminderd run` as a process: logging, the lock, signals and the service manager around the
Daemon (daemon.py).

Signals: SIGTERM/SIGINT stop, SIGHUP reloads. No Python code runs in a signal handler: the
C-level handler writes the signal number to a socket (signal.set_wakeup_fd) and the main
thread, which does nothing else, reads it. The handlers are in place before the pid is
published in the lock file. A stop cancels a delivery in progress and exits within
STOP_WITHIN seconds whatever the channel does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from pathlib import Path

from reminderd.daemon import WAKE_SECONDS, Daemon
from reminderd.instance import acquire_instance_lock

log = logging.getLogger("reminderd")


class ZonedFormatter(logging.Formatter):
    """Log times in the config's zone, as `status` shows them (not the system's, which may differ)."""

    zone: tzinfo | None = None  # set once the config is read; the system's zone until then

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's)
        return datetime.fromtimestamp(record.created, self.zone).astimezone(self.zone).strftime(
            "%Y-%m-%d %H:%M:%S %Z")


def configure_logging(verbose: bool) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) the journal adds timestamps itself."""
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ZonedFormatter(fmt))
    # a wake skipped while a tick still runs (a slow notification) is expected, not a warning
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def notify_service_manager(message: str) -> None:
    """Tell systemd (Type=notify) our state, e.g. READY=1, if it started us; else do nothing."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


@contextlib.contextmanager
def signals_to_socket() -> Iterator[socket.socket]:
    """SIGTERM, SIGINT and SIGHUP arrive as bytes on the socket this yields; nothing else happens
    in the handler, so no Python code runs at an arbitrary point of the main thread."""
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in handled}
    try:
        yield receiver
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        receiver.close()
        sender.close()


def run(config_path: Path, state_path: Path, lock_path: Path, clock: Callable[[], datetime],
        wake_seconds: float = WAKE_SECONDS) -> int:
    """Run in the foreground until SIGTERM/SIGINT; return the exit code.

    The signal handlers are in place before the lock file names our pid (which is how `claim`,
    `balance` and `done` find us to send SIGHUP), so an early SIGHUP reloads, never kills.
    """
    with signals_to_socket() as signals:
        # held until the process ends: never released early; it says which config and state we use
        acquire_instance_lock(lock_path, config_path, state_path.parent)
        daemon = Daemon(config_path, state_path, lock_path, clock, wake_seconds)
        ZonedFormatter.zone = daemon.config.timezone  # kept across reloads: a log in one zone reads best
        daemon.start()
        notify_service_manager("READY=1")
        while True:
            for signum in signals.recv(64):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("stopping on %s", signal.Signals(signum).name)
                    notify_service_manager("STOPPING=1")
                    if not daemon.stop():
                        log.warning("a notification was still in progress; stopping without it "
                                    "(it is sent again at the next start if it was not shown)")
                        logging.shutdown()
                        os._exit(0)
                    return 0
                if signum == signal.SIGHUP:
                    log.info("reloading on SIGHUP")
                    daemon.request_reload()
