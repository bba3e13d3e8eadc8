"""Where reminderd keeps its files (platformdirs, honouring XDG variables)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "reminderd"
CONFIG_ENV = "REMINDERD_CONFIG"
STATE_ENV = "REMINDERD_STATE_DIR"


def default_config_path() -> Path:
    """The config file: $REMINDERD_CONFIG, else <user config dir>/reminderd/config.toml."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"


def state_dir() -> Path:
    """The machine-owned state directory: $REMINDERD_STATE_DIR, else the platform's state dir."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def state_file() -> Path:
    return state_dir() / "state.json"


def runtime_dir() -> Path | None:
    """The per-user runtime directory ($XDG_RUNTIME_DIR, else /run/user/UID), if there is one."""
    env = os.environ.get("XDG_RUNTIME_DIR")
    candidate = Path(env) if env else Path(f"/run/user/{os.getuid()}")
    return candidate if candidate.is_dir() else None


def lock_file() -> Path:
    """The daemon's instance lock: one per state directory, in the runtime directory when there
    is one (local to this machine), else in the state directory."""
    runtime = runtime_dir()
    if runtime is None:
        return state_dir() / "reminderd.lock"
    import hashlib

    key = hashlib.sha256(str(state_dir().absolute()).encode()).hexdigest()[:16]
    return runtime / APP / f"{key}.lock"
