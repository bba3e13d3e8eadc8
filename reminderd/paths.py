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
    """The per-user runtime directory ($XDG_RUNTIME_DIR, else /run/user/UID), if there is one
    that is ours alone (runtime_dir_problem says why not)."""
    candidate, problem = _runtime_dir()
    return None if problem else candidate


def runtime_dir_problem() -> str | None:
    """Why $XDG_RUNTIME_DIR is not used, when it is set but cannot be trusted."""
    return _runtime_dir()[1]


def _runtime_dir() -> tuple[Path | None, str | None]:
    """The XDG spec requires the runtime directory to be owned by the user with mode 0700: in
    one others can write, they could plant the daemon's lock (a link to a file of ours, a pid
    to signal)."""
    env = os.environ.get("XDG_RUNTIME_DIR")
    candidate = Path(env) if env else Path(f"/run/user/{os.getuid()}")
    try:
        st = candidate.stat()
    except OSError:
        return None, None
    import stat

    if not stat.S_ISDIR(st.st_mode):
        return None, None
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None, (f"{candidate} (the runtime directory) is not yours alone (owner uid {st.st_uid}, mode "
                      f"{st.st_mode & 0o777:04o}; expected uid {os.getuid()}, mode 0700): keeping the daemon's lock "
                      "in the state directory instead")
    return candidate, None


def lock_file() -> Path:
    """The daemon's instance lock: one per state directory, in the runtime directory when there
    is one (local to this machine), else in the state directory."""
    runtime = runtime_dir()
    if runtime is None:
        return state_dir() / "reminderd.lock"
    return lock_dir(runtime) / f"{lock_key(state_dir())}.lock"


def lock_dir(runtime: Path) -> Path:
    """Where the locks of every state directory are, in the runtime directory."""
    return runtime / APP


def lock_key(state: Path) -> str:
    import hashlib

    return hashlib.sha256(str(state.absolute()).encode()).hexdigest()[:16]
