"""Claude Code's local transcripts: where they are, what each usage line holds, what it costs.

The rules (../shared/CLAUDE_CODE_LOGS.md, each one a bug another tool shipped):
- roots: $CLAUDE_CONFIG_DIR (comma-separated) alone if set, else ${XDG_CONFIG_HOME:-~/.config}/claude
  and ~/.claude; every *.jsonl below <root>/projects that is a regular file (a link to one is
  followed; a FIFO, a device or a directory is not read); a file reached twice is read once;
- a line counts when it has message.usage; "<synthetic>" is not a model call; a line that is
  truncated, malformed, not UTF-8 (anywhere in it, as ccusage has it), or holds an impossible
  value (a count below 0 or over MAX_COUNT, a time outside the years MIN_YEAR to MAX_YEAR, an
  id or model name over a length, a model name with control characters) is counted as
  skipped, never fatal: whatever a line holds, parse() returns;
- one response can appear in several files (resumed sessions, sidechains, worktrees) and
  first as a streaming partial: key on (message.id, requestId) and keep the best copy
  (rank(): the largest token total, then the main chain over a sidechain, then the rest of
  the row, so the best copy never depends on the order files are read in); a line with no id
  is keyed on its bytes;
- each row is keyed by prices.ledger_key(): the model's id ("claude-opus-4-6-20260205" ->
  "claude-opus-4-6"), "@long" for a tiered model's long prompt, "@us" for inference kept in
  the US (usage.inference_geo), "@fast" in fast mode (any usage.speed but "standard"); what it
  costs is prices.py's and spend.py's business, applied when asked.

Most of a transcript's bytes are long `content` that carries no cost, so the scan never looks
at it in Python: stringzilla finds the usage key with SIMD (about 4x bytes.find), and msgspec
decodes each line that holds it into a small typed structure, skipping the content in C (the
standard library's json.loads builds every string of it; benchmarks/usage_logs).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from reminderd.prices import LONG_PROMPT, ledger_key, normalise_model

SYNTHETIC = "<synthetic>"
# A line without the usage key carries no cost and is not even decoded. The mark ends on ':',
# so it matches compact JSON (Claude Code's) and JSON written with spaces alike.
USAGE_MARK = b'"usage":'
MAX_COUNT = 2**40  # tokens of one kind in one request: a million times a context window
MIN_YEAR, MAX_YEAR = 1971, 9998  # an hour in these years is a local day in every zone
MAX_ID = 1024  # characters of message.id and requestId (Claude Code's are about 30)
MAX_MODEL = 256  # characters of a model's name: normalising a longer one is not worth its time
MAX_DEPTH = 32  # directories below projects/ (Claude Code uses 3): deeper ones are not walked


# One model response as a usage line reports it, flat (the ledger's `seen` row): key (what
# identifies the response across files), the UTC hour it was written in (spend.HOUR_FORMAT),
# the model key (prices.ledger_key), the six prices.Tokens counts, and 1 if it comes from a
# sidechain. Of two copies of a response, outranks() says which one counts.
Row = tuple[str, str, str, int, int, int, int, int, int, int]


def rank(row: Row) -> tuple[Any, ...]:
    """What makes one copy of a response better than another: more tokens (a streaming
    partial comes first), then the main chain over a sidechain; the rest of the row breaks
    ties, so that of any copies one is the best whatever the order they are met in."""
    return (row[3] + row[4] + row[5] + row[6] + row[7], not row[9], row[3], row[4], row[5], row[6], row[7],
            row[8], row[1], row[2])


def outranks(row: Row, counted: Row) -> bool:
    """Whether a copy of a response replaces the one counted."""
    return rank(row) > rank(counted)


class Skip(NamedTuple):
    reason: str  # one of REASONS


MALFORMED, SYNTHETIC_SKIP, TOO_LONG, TOO_OLD = (Skip("malformed"), Skip("synthetic"), Skip("too-long"),
                                                Skip("too-old"))
REASONS = (MALFORMED.reason, SYNTHETIC_SKIP.reason, TOO_LONG.reason, TOO_OLD.reason)


# -- where -------------------------------------------------------------------------------------


def default_roots(environ: Mapping[str, str], home: Path) -> list[Path]:
    configured = environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return [Path(part).expanduser() for part in configured.split(",") if part.strip()]
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg / "claude", home / ".claude"]


def transcript_files(roots: list[Path]) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular *.jsonl below <root>/projects with its stat, each real file once (by device
    and inode: a file reached through a link or two roots counts once), in a stable order.

    Iterative, MAX_DEPTH deep at most; links to directories are not followed (no loops).
    Paths are strings as the OS gives them (a name that is not UTF-8 keeps its bytes as
    surrogates: os.fsencode() gives them back): an unchanged re-scan of a large tree costs
    little more than its stat calls."""
    seen: set[tuple[int, int]] = set()
    for root in roots:
        stack = [(str(root / "projects"), 0)]
        while stack:
            directory, depth = stack.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError:
                continue
            below = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if depth < MAX_DEPTH:
                            below.append((entry.path, depth + 1))
                    elif entry.name.endswith(".jsonl"):
                        st = entry.stat()  # follows a link: what it points at is what is read
                        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                            seen.add((st.st_dev, st.st_ino))
                            yield entry.path, st
                except OSError:
                    continue  # vanished, unreadable, or a dangling link
            stack.extend(reversed(below))


# -- one line ----------------------------------------------------------------------------------


def _decoder() -> Any:
    """A msgspec decoder for the fields we need; every other field (the long `content`) is
    skipped without being built. defstruct, not class syntax: the types must be objects here.
    gc=False: they hold no cycles, and a scan makes hundreds of thousands of them. The bounds
    are checked in C: a value out of them makes the line malformed."""
    from typing import Annotated

    import msgspec

    def struct(name: str, fields: list[tuple[str, Any, Any]]) -> Any:
        return msgspec.defstruct(name, fields, gc=False)

    count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
    ident = Annotated[str, msgspec.Meta(max_length=MAX_ID)]
    cache_creation = struct("CacheCreation", [("ephemeral_5m_input_tokens", count, 0),
                                              ("ephemeral_1h_input_tokens", count, 0)])
    server_tool_use = struct("ServerToolUse", [("web_search_requests", count, 0)])
    usage = struct("Usage", [("input_tokens", count, 0), ("output_tokens", count, 0),
                             ("cache_creation_input_tokens", count, 0), ("cache_read_input_tokens", count, 0),
                             ("cache_creation", cache_creation | None, None),
                             ("server_tool_use", server_tool_use | None, None), ("speed", str | None, None),
                             ("inference_geo", str | None, None)])
    message = struct("Message", [("id", ident | None, None),
                                 ("model", Annotated[str, msgspec.Meta(max_length=MAX_MODEL)] | None, None),
                                 ("usage", usage | None, None)])
    line = struct("Line", [("timestamp", Annotated[str, msgspec.Meta(max_length=64)] | None, None),
                           ("requestId", ident | None, None), ("isSidechain", bool, False),
                           ("message", message | None, None)])
    return msgspec.json.Decoder(line).decode


class LineReader:
    """Turns one transcript line into a Row, a Skip, or None (a line that carries no cost)."""

    def __init__(self) -> None:
        self.decode = _decoder()
        self.hours: dict[str, str] = {}  # hours already checked: most lines share one
        # model -> its ledger key, per speed and place (fast + 2 x in the US; "" for a name that
        # is not one; None for a model priced by the prompt's size, keyed line by line): a scan
        # meets a handful of models
        self.keys: list[dict[str, str | None]] = [{}, {}, {}, {}]

    def parse(self, raw: bytes | bytearray | memoryview, known_ascii: bool = False) -> Row | Skip | None:
        """One line (that holds the usage key): the scan's hot path, once per usage line.

        Anything a line can hold ends here: msgspec raises DecodeError or ValidationError for
        most damage, RecursionError for deep nesting; none of it may stop a scan. msgspec
        checks the UTF-8 of the fields it reads only: the rest is checked here, unless the
        caller knows the line is ASCII (a whole buffer is checked at 20 GB/s)."""
        try:
            if not known_ascii:
                str(raw, "utf-8")
            line = self.decode(raw)
            message = line.message
            if message is None or message.usage is None:
                return None
            model = message.model
            if model == SYNTHETIC:
                return SYNTHETIC_SKIP
            stamp = line.timestamp
            # Claude Code writes "2026-02-09T01:03:35.960Z": its hour is its first 13 characters
            hour = stamp[:13] if stamp and len(stamp) in (20, 24) and stamp[-1] == "Z" and stamp[13] == ":" \
                else None
            known = self.hours.get(hour)  # type: ignore[arg-type]
            if known is None:
                hour = self._checked(hour) if hour is not None else _utc_hour(stamp)
                if hour is None:
                    return MALFORMED
            else:
                hour = known  # one string per hour: rows share it, and a worker sends it once
            usage = message.usage
            split = usage.cache_creation
            if split is not None and (split.ephemeral_5m_input_tokens or split.ephemeral_1h_input_tokens):
                write_5m, write_1h = split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens
            else:  # older lines: every cache write counts as a 5-minute write
                write_5m, write_1h = usage.cache_creation_input_tokens, 0
            fast, us = usage.speed not in (None, "", "standard"), usage.inference_geo == "us"
            keys = self.keys[fast + 2 * us]
            model_key = keys.get(model) if model else ""
            if model_key is None and model not in keys:
                model_key = keys[model] = self._model_key(model, fast, us)
            if not model_key:
                if model_key == "":
                    return MALFORMED
                model_key = ledger_key(model, usage.input_tokens + usage.cache_read_input_tokens + write_5m
                                       + write_1h, usage.speed, usage.inference_geo)
            if message.id:
                key = message.id + ":" + line.requestId if line.requestId else message.id
            else:  # no id: the line's own bytes identify it (hashlib only here: its start-up is slow)
                import hashlib

                key = "line:" + hashlib.sha1(bytes(raw).strip(), usedforsecurity=False).hexdigest()
            tool = usage.server_tool_use
            return (key, hour, model_key, usage.input_tokens, usage.output_tokens, write_5m, write_1h,
                    usage.cache_read_input_tokens, tool.web_search_requests if tool is not None else 0,
                    1 if line.isSidechain else 0)
        except Exception:  # noqa: BLE001 (whatever the bytes: one line, one skip)
            return MALFORMED

    def _model_key(self, model: str, fast: bool, us: bool) -> str | None:
        """The ledger key of every request of `model` at this speed and place; "" for a name
        that is not a model's (it is shown: no control codes); None when the prompt's size decides."""
        keys = self.keys[fast + 2 * us]
        if len(keys) > 10_000:  # a damaged file of many names: memory stays bounded
            keys.clear()
        if not model.isprintable():
            return ""
        if normalise_model(model) in LONG_PROMPT:
            return None
        return ledger_key(model, 0, "fast" if fast else None, "us" if us else None)

    def _checked(self, hour: str) -> str | None:
        if _hour_start(hour) is None:
            return None
        if len(self.hours) > 100_000:  # a damaged file of many distinct hours: memory stays bounded
            self.hours.clear()
        self.hours[hour] = hour
        return hour


def find_usage_lines(data: bytes | bytearray, start: int, end: int, parse: Any, rows: list[Row],
                     skipped: dict[str, int]) -> None:
    """Parse the newline-terminated lines of data[start:end] (start is a line's start) that hold
    the usage key into `rows`, counting the skipped ones by reason.

    Only the lines that hold the key are looked at, each decoded from a memoryview without a
    copy: the many long lines without it cost no Python work.
    """
    from stringzilla import find

    find_line_end, find_line_start = data.find, data.rfind
    position = start
    known_ascii = data.isascii()  # then every line is UTF-8: most transcripts, checked at memory speed
    with memoryview(data) as view:
        while (hit := find(data, USAGE_MARK, position, end)) >= 0:
            line_start = find_line_start(b"\n", position, hit) + 1 or position
            stop = find_line_end(b"\n", hit, end)
            if stop < 0:
                return
            position = stop + 1
            if data[stop - 1] == 13:  # CRLF
                stop -= 1
            row = parse(view[line_start:stop], known_ascii)
            if type(row) is tuple:  # the common case first; a Skip is a NamedTuple, not a tuple exactly
                rows.append(row)
            elif row is not None:
                skipped[row.reason] = skipped.get(row.reason, 0) + 1


def _hour_start(hour: str) -> datetime | None:
    """The start of an hour written "2026-02-09T01", if it is one in MIN_YEAR to MAX_YEAR."""
    digits = hour[:4] + hour[5:7] + hour[8:10] + hour[11:]
    if len(hour) != 13 or hour[4] + hour[7] + hour[10] != "--T" or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        at = datetime(int(hour[:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:]), tzinfo=UTC)
    except ValueError:
        return None
    return at if MIN_YEAR <= at.year <= MAX_YEAR else None


def _utc_hour(text: str | None) -> str | None:
    """The UTC hour of a timestamp with a zone (any ISO 8601 form Python reads), in range."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            return None
        hour = at.astimezone(UTC).strftime("%Y-%m-%dT%H")  # spend.HOUR_FORMAT; OverflowError near year 1, 9999
    except (ValueError, OverflowError):
        return None
    return hour if _hour_start(hour) is not None else None
