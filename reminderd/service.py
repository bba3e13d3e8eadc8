"""The user service: a systemd user unit (Linux) or a launchd agent (macOS).

This module is the one source of both files; systemd/reminderd.service and
launchd/io.github.reminderd.plist in the repository are what it renders for a pipx install
(tests keep them equal). install() writes the file with the absolute path of the running
executable, remembers a hash of what it wrote, and refuses to overwrite a file the user changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.errors import AlreadyRunning, ConfigError, OutputError, ServiceError

SYSTEMD, LAUNCHD = "systemd", "launchd"
UNIT_NAME = "reminderd.service"
LABEL = "io.github.reminderd"
CONFIG_ERROR_EXIT = ConfigError.exit_code  # restarting will not fix it
ALREADY_RUNNING_EXIT = AlreadyRunning.exit_code


class ServiceFile(NamedTuple):
    kind: str
    path: Path
    content: bytes
    enable: tuple[str, ...]  # the commands that start it
    disable: tuple[str, ...]  # the commands that stop it


def default_kind(platform: str = sys.platform) -> str:
    return LAUNCHD if platform == "darwin" else SYSTEMD


def command_line(argv0: str = sys.argv[0], config: Path | None = None) -> list[str]:
    """How to run this reminderd again: the console script if that is what runs, else the module."""
    script = Path(argv0)
    if script.name == "reminderd" and script.exists():
        base = [str(script.absolute())]
    else:
        base = [sys.executable, "-m", "reminderd"]
    return base + (["--config", str(config.absolute())] if config else []) + ["run"]


def _refuse_control_characters(text: str, what: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ServiceError(f"{what} {json.dumps(text)} holds a control character (a line break?), which a service "
                           "file cannot hold: use a path without it")


def systemd_word(word: str, executable: bool = False) -> str:
    """One word of ExecStart= as systemd reads it (systemd.service(5), "Command lines"), not as a
    shell would: `%` starts a specifier (%% is a %), `$` a variable in arguments ($$ is a $),
    and inside double quotes a backslash escapes. systemd expands no variable in the
    executable's own path, and refuses quotes and backslashes in it."""
    _refuse_control_characters(word, "the path")
    if executable and any(c in word for c in "\"'\\"):
        raise ServiceError(f"{word}: systemd cannot run a program whose path holds a quote or a backslash; "
                           "install reminderd in a folder without one")
    text = word.replace("%", "%%") if executable else word.replace("%", "%%").replace("$", "$$")
    if word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_environment(name: str, value: str) -> str:
    """An Environment= line: quoted, backslashes escaped, `%` doubled; `$` means nothing there."""
    _refuse_control_characters(value, f"{name}")
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{name}={text}"\n'


def systemd_unit(command: list[str], environment: Mapping[str, str] | None = None) -> str:
    """The unit that runs `command` with `environment`, each quoted for systemd."""
    exec_start = " ".join(systemd_word(part, executable=index == 0) for index, part in enumerate(command))
    return _unit(exec_start, "".join(systemd_environment(k, v) for k, v in sorted((environment or {}).items())))


SHIPPED_EXEC_START = "%h/.local/bin/reminderd run"  # systemd/reminderd.service: where pipx puts it


def shipped_systemd_unit() -> str:
    """systemd/reminderd.service in the repository: for any user (%h is their home)."""
    return _unit(SHIPPED_EXEC_START, "")


def _unit(exec_start: str, environment: str) -> str:
    return f"""\
# reminderd: a systemd user unit. Install with `reminderd install-service`.
[Unit]
Description=reminderd: reminders to switch a usage credit off before it bills you
# Notifications need the desktop's notification server: start and stop with the graphical
# session, not at a text-only login (see the README for desktops without this target).
PartOf=graphical-session.target
After=graphical-session.target

[Service]
# reminderd says READY=1 once its signal handlers are in place, so a reload (SIGHUP) never
# reaches a daemon still starting
Type=notify
NotifyAccess=main
{environment}ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=30
# A broken config ({CONFIG_ERROR_EXIT}) or a second instance ({ALREADY_RUNNING_EXIT}) is not fixed by
# restarting: fix it, then `systemctl --user restart reminderd`.
RestartPreventExitStatus={ALREADY_RUNNING_EXIT} {CONFIG_ERROR_EXIT}

[Install]
WantedBy=graphical-session.target
"""


def launchd_plist(command: list[str], home: Path, environment: Mapping[str, str] | None = None) -> bytes:
    log = str(home / "Library" / "Logs" / "reminderd.log")  # launchd does not expand ~
    for text in (*command, *(environment or {}).values()):
        _refuse_control_characters(text, "the path")  # XML cannot hold most of them
    plist: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a failure only
        "ProcessType": "Interactive",
        "ThrottleInterval": 30,
        "StandardOutPath": log,
        "StandardErrorPath": log,
    }
    if environment:
        plist["EnvironmentVariables"] = dict(environment)
    return plistlib.dumps(plist, sort_keys=True)


def service_file(kind: str, command: list[str], home: Path, config_home: Path,
                 environment: Mapping[str, str] | None = None) -> ServiceFile:
    """The service file that runs `command` with `environment` (the state directory in use)."""
    if kind == SYSTEMD:
        return ServiceFile(
            kind, config_home / "systemd" / "user" / UNIT_NAME, systemd_unit(command, environment).encode(),
            enable=("systemctl --user daemon-reload", f"systemctl --user enable --now {UNIT_NAME}"),
            disable=(f"systemctl --user disable --now {UNIT_NAME}",),
        )
    path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    return ServiceFile(
        kind, path, launchd_plist(command, home, environment),
        enable=(f"launchctl bootstrap gui/$(id -u) {path}",),
        disable=(f"launchctl bootout gui/$(id -u)/{LABEL}",),
    )


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def install(service: ServiceFile, written_before: str | None, force: bool) -> bool:
    """Write the service file; False if it was already exactly that. Refuse to replace a file
    the user changed (its hash is not the one we recorded) unless `force`."""
    try:
        existing = service.path.read_bytes()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise ServiceError(f"{service.path}: cannot read: {exc.strerror}") from None
    if existing == service.content:
        return False
    if existing is not None and digest(existing) != written_before and not force:
        raise ServiceError(f"{service.path}: exists and was changed since reminderd wrote it; "
                           "keep your changes, or pass --force to replace it")
    from reminderd.files import write_atomically

    write_atomically(service.path, service.content, mode=0o644, error=OutputError)
    return True


def uninstall(service: ServiceFile, written_before: str | None, force: bool) -> bool:
    """Remove the service file; False if there was none. Refuses while systemd has it enabled
    (the enable link would dangle), or if the user changed it, unless `force`."""
    if not service.path.exists():
        return False
    if service.kind == SYSTEMD and not force:
        wants = service.path.parent / "graphical-session.target.wants" / UNIT_NAME
        if wants.is_symlink() or wants.exists():
            raise ServiceError(f"{service.path}: still enabled; first run: {service.disable[0]}")
    if digest(service.path.read_bytes()) != written_before and not force:
        raise ServiceError(f"{service.path}: was changed since reminderd wrote it; pass --force to remove it")
    try:
        os.unlink(service.path)
    except OSError as exc:
        raise ServiceError(f"{service.path}: cannot remove: {exc.strerror}") from None
    return True
