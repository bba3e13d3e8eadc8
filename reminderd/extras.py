"""The optional extras (pyproject's [project.optional-dependencies]) and how to add one to the
reminderd that is running, the way it was installed: pipx, a virtual environment, or plain pip.

`install_command` is pure: it decides from the interpreter's prefixes. `missing` and
`version_text` look at this process (which packages import, where Python lives).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path, PurePath
from typing import NamedTuple


class Extra(NamedTuple):
    name: str  # pip install 'reminderd[NAME]'
    package: str  # what it installs and what is imported
    needed_for: str


EXTRAS = {
    "push": Extra("push", "apprise", "push notifications"),
    "caldav": Extra("caldav", "caldav", "calendar sync"),
    "keyring": Extra("keyring", "keyring", "the calendar password from the system keyring"),
}


def is_pipx_venv(prefix: PurePath) -> bool:
    """pipx keeps each application in PIPX_HOME/venvs/NAME (PIPX_HOME is ~/.local/share/pipx,
    ~/.local/pipx on older versions, or wherever $PIPX_HOME points, usually with "pipx" in it)."""
    return prefix.parent.name == "venvs" and any("pipx" in part.lower() for part in prefix.parent.parent.parts)


def install_command(extra: str, prefix: str, base_prefix: str, executable: str, pipx_marker: bool = False) -> str:
    """The command that adds `extra` to the reminderd of this interpreter.

    `prefix`/`base_prefix` are sys.prefix and sys.base_prefix (they differ in a venv),
    `executable` sys.executable, and `pipx_marker` whether pipx's metadata file sits in the
    prefix (for a PIPX_HOME whose path does not say pipx).
    """
    spec = f"reminderd[{extra}]"
    if pipx_marker or is_pipx_venv(PurePath(prefix)):
        return f"pipx inject reminderd {EXTRAS[extra].package}"
    if prefix != base_prefix:
        return f"{shlex.quote(executable)} -m pip install {shlex.quote(spec)}"
    return f"pip install {shlex.quote(spec)}"


def this_install_command(extra: str) -> str:
    """install_command() for the running interpreter."""
    marker = (Path(sys.prefix) / "pipx_metadata.json").exists()
    return install_command(extra, sys.prefix, sys.base_prefix, sys.executable, marker)


def missing(extra: str) -> str:
    """The one line that says an extra is not installed, and how to add it here."""
    info = EXTRAS[extra]
    return f"{info.needed_for}: the {info.name} extra ({info.package}) is not installed here: " \
           f"{this_install_command(extra)}"


def installed(package: str) -> bool:
    """Whether `package` (top level) can be imported, without importing it: as importlib.util.find_spec
    asks the import system, without loading importlib.util (`status` stays light)."""
    if package in sys.modules:
        return sys.modules[package] is not None  # None: its import was blocked
    return any(finder.find_spec(package, None) is not None for finder in sys.meta_path if hasattr(finder, "find_spec"))


def installed_version(extra: str) -> str | None:
    """The installed version of the extra's package, None when it cannot be imported."""
    from importlib import metadata

    package = EXTRAS[extra].package
    if not installed(package):
        return None
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown version"


def version_text(version: str) -> str:
    """`reminderd --version`: the version, the Python it runs on, and the extras present."""
    lines = [f"reminderd, version {version}", f"Python {sys.version.split()[0]} at {sys.executable}", "Extras:"]
    for name, info in EXTRAS.items():
        found = installed_version(name)
        state = f"installed ({info.package} {found})" if found else f"not installed: {this_install_command(name)}"
        lines.append(f"  {name:<8} {info.needed_for}: {state}")
    return "\n".join(lines) + "\n"
