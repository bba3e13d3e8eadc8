"""Edits to the user's config file that keep their comments and layout (tomlkit)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reminderd.errors import ConfigError, UsageError
from reminderd.offers import DEFAULT_OFFER
from reminderd.state import write_atomically


def set_claimed_at(path: Path, credit_id: str | None, claimed_at: datetime, zone: ZoneInfo) -> str:
    """Write `claimed_at` (as a date-time with its offset) into one [[credit]] table.

    Returns the id of the credit that was changed. The caller has already validated the file.
    """
    import tomlkit

    text = path.read_text(encoding="utf-8")
    document = tomlkit.parse(text)
    tables = document.get("credit")
    if tables is None:
        raise ConfigError([f"{path}: credit: expected at least one [[credit]] table, got none"])
    ids = [str(t.get("id", t.get("offer", DEFAULT_OFFER))) for t in tables]
    if credit_id is None:
        if len(ids) > 1:
            raise UsageError(f"--credit: expected one of {', '.join(ids)} (the config has several credits)")
        index = 0
    elif credit_id in ids:
        index = ids.index(credit_id)
    else:
        raise UsageError(f"--credit: expected one of {', '.join(ids)}, got {credit_id!r}")
    local = claimed_at.astimezone(zone).replace(microsecond=0)
    tables[index]["claimed_at"] = local
    mode = os.stat(path).st_mode & 0o777
    write_atomically(path, tomlkit.dumps(document).encode("utf-8"), mode=mode)
    return ids[index]
