"""Edits to the user's config file that keep their comments and layout (tomlkit)."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reminderd.errors import ConfigError, OutputError

PLACEHOLDER = re.compile(r"^#\s*claimed_at\s*=")  # what `reminderd init` leaves: "# claimed_at = 2026-..."


def set_claimed_at(path: Path, index: int, claimed_at: datetime | None, zone: ZoneInfo,
                   as_date: bool = False) -> datetime | None:
    """Write `claimed_at` (a date-time with its offset; with `as_date`, the date alone, as the
    user may have written it) into the index-th [[credit]] table, or remove it (None). Returns
    the instant written (to the second), as the config now reads.

    A new value goes where the table's `# claimed_at = ...` placeholder comment is, replacing
    it, when there is one; a removed value leaves such a placeholder in its place. The caller
    has parsed the file, so `index` is the position of the credit it chose. The new text is
    parsed again before it is written: a value that would not read back as the same instant is
    never written. A symlinked config is written through the link.
    """
    import tomlkit

    from reminderd.config import parse_config
    from reminderd.files import write_atomically

    text = path.read_text(encoding="utf-8")
    document = tomlkit.parse(text)
    tables = document.get("credit")
    if tables is None or index >= len(tables):
        raise ConfigError([f"{path}: credit: expected at least {index + 1} [[credit]] table(s)"])
    local = None
    if claimed_at is None:
        _to_placeholder(tables[index])
    else:
        local = claimed_at.astimezone(zone).replace(microsecond=0)
        offset = local.utcoffset()
        if offset is None or offset.total_seconds() % 60:  # TOML offsets are whole minutes
            local = claimed_at.astimezone(UTC).replace(microsecond=0)
        value: date | datetime = local.date() if as_date else local
        if "claimed_at" in tables[index] or not _replace_placeholder(tables[index], value):
            tables[index]["claimed_at"] = value
    new_text = tomlkit.dumps(document)
    try:
        written: datetime | None | str = parse_config(new_text, str(path)).credits[index].claimed_at
    except (ConfigError, IndexError):
        written = "unreadable"
    if written != local:
        shown = local.isoformat() if local is not None else "no claim"
        raise OutputError(f"{path}: claimed_at: would not read back as {shown}; left unchanged")
    mode = os.stat(path).st_mode & 0o777
    write_atomically(path, new_text.encode("utf-8"), mode=mode, error=OutputError)
    return local


def _replace_placeholder(table: Any, value: date | datetime) -> bool:
    """Put `claimed_at = value` in place of the table's placeholder comment; False when it has none.

    tomlkit has no public call to insert a key at a position; its container's _insert_at is
    what its own Table.add uses. Should it change, the key is added at the table's end instead
    (the caller's fallback), and the read-back check still guards the file.
    """
    from tomlkit.items import Comment, Null

    try:
        container = table.value
        body = container.body
        found = next((i for i, (key, item) in enumerate(body)
                      if key is None and isinstance(item, Comment) and PLACEHOLDER.match(item.as_string().strip())),
                     None)
        if found is None:
            return False
        body[found] = (None, Null())
        container._insert_at(found, "claimed_at", value)
    except Exception:  # noqa: BLE001 (a tomlkit internal that moved: fall back to adding the key)
        return False
    return True


def _to_placeholder(table: Any) -> None:
    """Remove `claimed_at`, leaving `# claimed_at = <its value>` where it was."""
    import tomlkit

    if "claimed_at" not in table:
        return
    old = table["claimed_at"]
    text = old.as_string() if hasattr(old, "as_string") else str(old)
    try:
        body = table.value.body
        found = next(i for i, (key, _) in enumerate(body) if key is not None and key.key == "claimed_at")
        table.remove("claimed_at")
        body[found] = (None, tomlkit.comment(f"claimed_at = {text}"))
    except Exception:  # noqa: BLE001 (a tomlkit internal that moved: remove the key only)
        table.pop("claimed_at", None)
