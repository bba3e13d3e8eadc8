"""Claude Code's local transcripts: where they are, what each usage line holds, what it costs.

The rules (../shared/CLAUDE_CODE_LOGS.md, each one a bug another tool shipped):
- roots: $CLAUDE_CONFIG_DIR (comma-separated) alone if set, else ${XDG_CONFIG_HOME:-~/.config}/claude
  and ~/.claude; every *.jsonl below <root>/projects; a file reached twice is read once;
- a line counts when it has message.usage; "<synthetic>" is not a model call; a line that is
  truncated, malformed or not UTF-8 is counted as skipped, never fatal;
- one response can appear in several files (resumed sessions, sidechains, worktrees) and
  first as a streaming partial: key on (message.id, requestId) and keep the copy with the
  largest token total, preferring isSidechain false; a line with no id is keyed on its bytes;
- each row is keyed by prices.ledger_key(): the model's id ("claude-opus-4-6-20260205" ->
  "claude-opus-4-6"), "@long" for a tiered model's long prompt, "@fast" in fast mode; what it
  costs is prices.py's and spend.py's business, applied when asked.

Most of a transcript's bytes are long `content` that carries no cost, so the scan never looks
at it in Python: stringzilla finds the usage key with SIMD (about 4x bytes.find), and msgspec
decodes each line that holds it into a small typed structure, skipping the content in C (the
standard library's json.loads builds every string of it; benchmarks/usage_logs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.prices import ledger_key
from reminderd.spend import HOUR_FORMAT

SYNTHETIC = "<synthetic>"
# A line without the usage key carries no cost and is not even decoded. The mark ends on ':',
# so it matches compact JSON (Claude Code's) and JSON written with spaces alike.
USAGE_MARK = b'"usage":'


# One model response as a usage line reports it, flat (the ledger's `seen` row): key (what
# identifies the response across files), the UTC hour it was written in (HOUR_FORMAT), the
# model key (prices.ledger_key), the six prices.Tokens counts, and 1 if it comes
# from a sidechain. Of two copies of a response, outranks() says which one counts.
Row = tuple[str, str, str, int, int, int, int, int, int, int]


def outranks(row: Row, counted: Row) -> bool:
    """Whether a copy of a response replaces the one counted: more tokens (a streaming partial
    comes first), or as many and not from a sidechain; else the first one met stays."""
    return (row[3] + row[4] + row[5] + row[6] + row[7], not row[9]) > (
        counted[3] + counted[4] + counted[5] + counted[6] + counted[7], not counted[9])


class Skip(NamedTuple):
    reason: str  # "malformed", "synthetic"


# -- where -------------------------------------------------------------------------------------


def default_roots(environ: Mapping[str, str], home: Path) -> list[Path]:
    configured = environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return [Path(part).expanduser() for part in configured.split(",") if part.strip()]
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg / "claude", home / ".claude"]


def transcript_files(roots: list[Path]) -> Iterator[tuple[str, os.stat_result]]:
    """Every *.jsonl below <root>/projects with its stat, each real file once (by device and
    inode: a file reached through a link or two roots counts once), in a stable order. Paths
    are strings: an unchanged re-scan of a large tree costs little more than its stat calls."""
    seen: set[tuple[int, int]] = set()

    def walk(directory: str) -> Iterator[tuple[str, os.stat_result]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(entry.path)
                elif entry.name.endswith(".jsonl"):
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        yield entry.path, st
            except OSError:
                continue  # vanished or unreadable now

    for root in roots:
        yield from walk(str(root / "projects"))


# -- one line ----------------------------------------------------------------------------------


def _decoder() -> Any:
    """A msgspec decoder for the fields we need; every other field (the long `content`) is
    skipped without being built. defstruct, not class syntax: the types must be objects here.
    gc=False: they hold no cycles, and a scan makes hundreds of thousands of them."""
    from typing import Annotated

    import msgspec

    def struct(name: str, fields: list[tuple[str, Any, Any]]) -> Any:
        return msgspec.defstruct(name, fields, gc=False)

    count = Annotated[int, msgspec.Meta(ge=0)]  # a negative count is a malformed line, checked in C
    cache_creation = struct("CacheCreation", [("ephemeral_5m_input_tokens", count, 0),
                                              ("ephemeral_1h_input_tokens", count, 0)])
    server_tool_use = struct("ServerToolUse", [("web_search_requests", count, 0)])
    usage = struct("Usage", [("input_tokens", count, 0), ("output_tokens", count, 0),
                             ("cache_creation_input_tokens", count, 0), ("cache_read_input_tokens", count, 0),
                             ("cache_creation", cache_creation | None, None),
                             ("server_tool_use", server_tool_use | None, None), ("speed", str | None, None)])
    message = struct("Message", [("id", str | None, None), ("model", str | None, None),
                                 ("usage", usage | None, None)])
    line = struct("Line", [("timestamp", str | None, None), ("requestId", str | None, None),
                           ("isSidechain", bool, False), ("message", message | None, None)])
    return msgspec.json.Decoder(line).decode, (msgspec.DecodeError, msgspec.ValidationError)


class LineReader:
    """Turns one transcript line into a Row, a Skip, or None (a line that carries no cost)."""

    def __init__(self) -> None:
        self.decode, self.decode_error = _decoder()

    def parse(self, raw: bytes | memoryview) -> Row | Skip | None:
        """One line (that holds the usage key): the scan's hot path, once per usage line."""
        try:
            line = self.decode(raw)
        except self.decode_error:
            return MALFORMED
        message = line.message
        if message is None or message.usage is None:
            return None
        model = message.model
        if model == SYNTHETIC:
            return SYNTHETIC_SKIP
        stamp = line.timestamp
        # Claude Code writes "2026-02-09T01:03:35.960Z": its hour is its first 13 characters
        hour = stamp[:13] if stamp and len(stamp) in (20, 24) and stamp[10] == "T" and stamp[-1] == "Z" \
            else _utc_hour(stamp)
        if hour is None or not model:
            return MALFORMED
        usage = message.usage
        split = usage.cache_creation
        if split is not None and (split.ephemeral_5m_input_tokens or split.ephemeral_1h_input_tokens):
            write_5m, write_1h = split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens
        else:  # older lines: every cache write counts as a 5-minute write
            write_5m, write_1h = usage.cache_creation_input_tokens, 0
        tool = usage.server_tool_use
        model = ledger_key(model, usage.input_tokens + usage.cache_read_input_tokens + write_5m + write_1h,
                           usage.speed)
        if message.id:
            key = message.id + ":" + line.requestId if line.requestId else message.id
        else:  # no id: the line's own bytes identify it (hashlib only here: its start-up is slow)
            import hashlib

            key = "line:" + hashlib.sha1(bytes(raw).strip(), usedforsecurity=False).hexdigest()
        return (key, hour, model, usage.input_tokens, usage.output_tokens, write_5m, write_1h,
                usage.cache_read_input_tokens, tool.web_search_requests if tool is not None else 0,
                1 if line.isSidechain else 0)


def find_usage_lines(data: bytes, end: int, parse: Any, rows: list[Row], skipped: dict[str, int]) -> None:
    """Parse the newline-terminated lines of data[:end] that hold the usage key into `rows`,
    counting the skipped ones by reason.

    Only the lines that hold the key are looked at, each decoded from a memoryview without a
    copy: the many long lines without it cost no Python work.
    """
    from stringzilla import find

    view, find_line_end, find_line_start = memoryview(data), data.find, data.rfind
    position = 0
    while (hit := find(data, USAGE_MARK, position, end)) >= 0:
        line_start = find_line_start(b"\n", position, hit) + 1 or position
        stop = find_line_end(b"\n", hit, end)
        if stop < 0:
            return
        position = stop + 1
        if data[stop - 1] == 13:  # CRLF
            stop -= 1
        row = parse(view[line_start:stop])
        if type(row) is tuple:  # the common case first; a Skip is a NamedTuple, not a tuple exactly
            rows.append(row)
        elif row is not None:
            skipped[row.reason] = skipped.get(row.reason, 0) + 1


MALFORMED, SYNTHETIC_SKIP = Skip("malformed"), Skip("synthetic")
_UTC_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


def _utc_hour(text: str | None) -> str | None:
    """The UTC hour of a timestamp; Claude Code writes UTC with a Z, read without a datetime."""
    if not text:
        return None
    if re.fullmatch(_UTC_STAMP, text):
        return text[:13]
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at.astimezone(UTC).strftime(HOUR_FORMAT) if at.tzinfo else None
