"""Finding the real programs integration tests use.

Missing programs skip a test on a developer's machine; CI sets REMINDERD_REQUIRE_INTEGRATION=1
so that a missing program fails instead, and nothing real goes unproven there.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str) -> str:
    path = _python3_gi() if program == "python3-gi" else shutil.which(program)
    if path is None:
        message = f"{program} is not installed (.ci/run installs it)"
        if os.environ.get("REMINDERD_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value or not os.path.exists(value):
        message = f"${name} does not point at {what} (.ci/run installs it)"
        if os.environ.get("REMINDERD_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return value


def _python3_gi() -> str | None:
    """Debian's python3 when it has libical's GObject bindings (python3-gi, gir1.2-ical-3.0)."""
    import subprocess

    python = "/usr/bin/python3"
    if not os.path.exists(python):
        return None
    check = subprocess.run([python, "-c", "import gi; gi.require_version('ICalGLib', '3.0'); "
                                          "from gi.repository import ICalGLib"], capture_output=True)
    return python if check.returncode == 0 else None
