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


def lock_file() -> Path:
    return state_dir() / "reminderd.lock"
