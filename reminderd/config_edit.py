"""Edits to the user's config file that keep their comments and layout (tomlkit)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reminderd.errors import ConfigError, OutputError


def set_claimed_at(path: Path, index: int, claimed_at: datetime, zone: ZoneInfo) -> None:
    """Write `claimed_at` (a date-time with its offset) into the index-th [[credit]] table.

    The caller has parsed the file, so `index` is the position of the credit it chose. The new
    text is parsed again before it is written: a value that would not read back as the same
    instant is never written. A symlinked config is written through the link.
    """
    import tomlkit

    from reminderd.config import parse_config
    from reminderd.files import write_atomically

    text = path.read_text(encoding="utf-8")
    document = tomlkit.parse(text)
    tables = document.get("credit")
    if tables is None or index >= len(tables):
        raise ConfigError([f"{path}: credit: expected at least {index + 1} [[credit]] table(s)"])
    local = claimed_at.astimezone(zone).replace(microsecond=0)
    offset = local.utcoffset()
    if offset is None or offset.total_seconds() % 60:  # TOML offsets are whole minutes
        local = claimed_at.astimezone(UTC).replace(microsecond=0)
    tables[index]["claimed_at"] = local
    new_text = tomlkit.dumps(document)
    try:
        written = parse_config(new_text, str(path)).credits[index].claimed_at
    except (ConfigError, IndexError):
        written = None
    if written != local:
        raise OutputError(f"{path}: claimed_at: would not read back as {local.isoformat()}; left unchanged")
    mode = os.stat(path).st_mode & 0o777
    write_atomically(path, new_text.encode("utf-8"), mode=mode, error=OutputError)
